"""Inputs computed once per run and shared by every file: calibration tables and PSFs."""

import dataclasses
import hashlib
import logging
import time

import astropy.units as u
import numpy as np
from astropy.time import Time

from aiapy.calibrate.utils import get_correction_table, get_error_table, get_pointing_table
from aiapy.pipeline._fitsfile import open_images
from aiapy.psf import calculate_psf
from aiapy.psf._deconvolve import on_psf_grid
from aiapy.utils.channels import EUV_CHANNELS
from aiapy.utils.io import aia_image_hdu
from aiapy.utils.times import parse_time_text

__all__ = ["SharedData", "scan_header", "build_shared", "needs_headers", "table_digest"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SharedData:
    """
    What every file of a run needs, computed once (and with Dask sent to each worker once).

    Attributes
    ----------
    correction_table : `~astropy.table.QTable` or None
        The degradation table (when ``degradation`` runs).
    error_table : `~astropy.table.QTable` or None
        The error table of `~aiapy.calibrate.estimate_error` (when the uncertainty is written).
    pointing_table : `~astropy.table.QTable` or None
        The master pointing table (when ``update_pointing`` runs).
    pointing_id : str or None
        `table_digest` of ``pointing_table``, stored in each output (``AIAPYPNT``) so that a changed table
        makes existing outputs stale.
    psfs : dict
        ``{(channel, (rows, columns)): PSF array}`` for ``deconvolve``.
    """

    correction_table: object = None
    error_table: object = None
    pointing_table: object = None
    pointing_id: str | None = None
    psfs: dict = dataclasses.field(default_factory=dict)

    def psf(self, smap):
        """
        The PSF of ``smap``'s channel and shape; None if not computed or if the map's pixels are not those the PSF
        is made for (binned data): `deconvolve` then computes it, or refuses the map with the reason.
        """
        if not on_psf_grid(smap):
            return None
        return self.psfs.get((int(round(smap.wavelength.to_value(u.AA))), smap.data.shape))


def table_digest(table):
    """A short hash of a table's column names and values (Time columns as ISO strings)."""
    digest = hashlib.sha256()
    for name in table.colnames:
        column = table[name]
        values = column.isot if isinstance(column, Time) else np.asarray(getattr(column, "value", column))
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()[:16]


def scan_header(path):
    """
    Read the facts the client needs from one input's header, without its data.

    Returns
    -------
    dict
        ``channel`` (int, Angstrom), ``shape`` (ny, nx) and ``time`` (DATE-OBS string).

    Raises
    ------
    OSError, ValueError, KeyError
        If the file is not FITS or has no 2-D image with WAVELNTH and DATE-OBS (or T_OBS).
    """
    with open_images(path) as (_, images):
        header = aia_image_hdu(images, path).header
        return {
            "channel": int(round(float(header["WAVELNTH"]))),
            "shape": (int(header["NAXIS2"]), int(header["NAXIS1"])),
            "time": header.get("DATE-OBS") or header["T_OBS"],
        }


def _pointing_table(config, headers):
    source = config.pointing.source
    if source == "bundled":
        return get_pointing_table(None)
    if source in ("jsoc", "lmsal"):
        times = Time([parse_time_text(h["time"]).utc for h in headers])
        # The 3-hourly table rows bracket each image; pad by one row each side.
        time_range = (times.min() - 3 * u.h, times.max() + 3 * u.h)
        return get_pointing_table(source, time_range=time_range)
    return get_pointing_table(source)


def build_shared(config, headers):
    """
    Compute, once per run, the inputs every file needs: calibration tables and the PSFs.

    Parameters
    ----------
    config : `PrepConfig`
    headers : list of dict
        `scan_header` results of the inputs (used for the PSF channels and shapes and the pointing
        time range); may be empty when neither deconvolution nor a remote pointing table is needed.

    Returns
    -------
    `SharedData`
    """
    steps = config.active_steps
    pointing_table = _pointing_table(config, headers) if "update_pointing" in steps else None
    psfs = {}
    if "deconvolve" in steps:
        euv = {round(channel.to_value(u.AA)) for channel in EUV_CHANNELS}
        # other channels have no PSF model: their files fail one by one (deconvolve says why), the others run
        for key in sorted({(h["channel"], h["shape"]) for h in headers if h["channel"] in euv}):
            start = time.perf_counter()
            psfs[key] = calculate_psf(key[0] * u.AA, shape=key[1])
            log.info("PSF of %d A on a %d x %d grid in %.1f s", key[0], *key[1], time.perf_counter() - start)
    return SharedData(
        correction_table=get_correction_table() if "degradation" in steps else None,
        error_table=get_error_table() if config.uncertainty.enabled else None,
        pointing_table=pointing_table,
        pointing_id=None if pointing_table is None else table_digest(pointing_table),
        psfs=psfs,
    )


def needs_headers(config):
    """Whether `build_shared` needs the inputs' headers for these settings."""
    steps = config.active_steps
    return "deconvolve" in steps or ("update_pointing" in steps and config.pointing.source in ("jsoc", "lmsal"))
