"""Inputs computed once per run and shared by every file: calibration tables and PSFs."""

import logging
import time

import astropy.units as u
from astropy.time import Time

from aiapy.calibrate.utils import get_correction_table, get_error_table, get_pointing_table
from aiapy.pipeline._fitsfile import open_images
from aiapy.psf import calculate_psf

__all__ = ["scan_header", "build_shared", "needs_headers"]

log = logging.getLogger(__name__)


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
        header = images[0].header
        return {
            "channel": int(round(float(header["WAVELNTH"]))),
            "shape": (int(header["NAXIS2"]), int(header["NAXIS1"])),
            "time": header.get("DATE-OBS") or header["T_OBS"],
        }


def _pointing_table(config, headers):
    if config.pointing == "bundled":
        return get_pointing_table(None)
    if config.pointing in ("jsoc", "lmsal"):
        times = Time([h["time"].rstrip("Z") for h in headers], scale="utc")
        # The 3-hourly table rows bracket each image; pad by one row each side.
        time_range = (times.min() - 3 * u.h, times.max() + 3 * u.h)
        return get_pointing_table(config.pointing, time_range=time_range)
    return get_pointing_table(config.pointing)


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
    dict
        ``correction_table``, ``error_table``, ``pointing_table`` (each None when unused) and ``psfs``
        (``{(channel, shape): array}``).
    """
    steps = config.active_steps
    shared = {
        "correction_table": get_correction_table() if "degradation" in steps else None,
        "error_table": get_error_table() if config.uncertainty else None,
        "pointing_table": _pointing_table(config, headers) if "update_pointing" in steps else None,
        "psfs": {},
    }
    if "deconvolve" in steps:
        for key in sorted({(h["channel"], h["shape"]) for h in headers}):
            start = time.perf_counter()
            shared["psfs"][key] = calculate_psf(key[0] * u.AA, shape=key[1])
            log.info("PSF of %d A on a %d x %d grid in %.1f s", key[0], *key[1], time.perf_counter() - start)
    return shared


def needs_headers(config):
    """Whether `build_shared` needs the inputs' headers for these settings."""
    steps = config.active_steps
    return "deconvolve" in steps or ("update_pointing" in steps and config.pointing in ("jsoc", "lmsal"))
