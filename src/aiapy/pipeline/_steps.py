"""The per-frame work of the batch pipeline: the steps, applied in SolarSoft order to a map by `prep_map`."""

import logging
import time
from pathlib import Path

import astropy.units as u
import numpy as np
import sunpy.map

from aiapy.calibrate.degradation import degradation_division, has_calibration
from aiapy.calibrate.exposure import exposure_division
from aiapy.calibrate.pointing import update_pointing
from aiapy.calibrate.register import register
from aiapy.calibrate.saturation import flag_saturation
from aiapy.calibrate.spikes import respike
from aiapy.calibrate.uncertainty import estimate_error
from aiapy.pipeline._inputs import input_identity
from aiapy.pipeline._product import Product
from aiapy.pipeline._report import SHORT_EXPOSURE
from aiapy.psf import deconvolve, desaturate
from aiapy.utils.constants import LEVEL1, LEVEL15
from aiapy.utils.exceptions import warn_user
from aiapy.utils.exposure import NOMINAL_EXPOSURE, SHORT_FRACTION, is_short_exposure
from aiapy.utils.io import read_map
from aiapy.utils.maps import add_history, check_aia_map, check_level1, divide_map
from aiapy.utils.pixelflags import pixel_flags

__all__ = ["prep_map", "read_level1", "is_level15", "find_spikes_file", "identity_of", "load_kernels", "STEPS",
           "LEVEL1_STEPS"]  # fmt: skip

log = logging.getLogger(__name__)

_SPIKES_NAMES = tuple(
    pattern + gz for pattern in ("{stem}.spikes.fits", "{stem}_spikes.fits", "{lev1}.spikes.fits") for gz in ("", ".gz")
)


def find_spikes_file(input_path, spikes_dir=None):
    """
    The spikes file of a level-1 image, as JSOC exports them (``<name>.spikes.fits`` beside
    ``<name>.image_lev1.fits``; also ``<name>_spikes.fits``, optionally gzipped), looked for in
    ``spikes_dir`` (or the image's own directory); None if absent.
    """
    path = Path(input_path)
    stem = path.name.split(".fits")[0]
    folder = Path(spikes_dir) if spikes_dir is not None else path.parent
    lev1 = stem.removesuffix(".image_lev1").removesuffix(".image")
    for pattern in _SPIKES_NAMES:
        candidate = folder / pattern.format(stem=stem, lev1=lev1)
        if candidate.is_file():
            return candidate
    return None


def _respike(smap, config, shared, frame):
    if frame.get("spikes") is None:
        return smap, "skipped (no spikes file)"
    return respike(smap, spikes=frame["spikes"]), None


def _update_pointing(smap, config, shared, frame):
    return update_pointing(smap, pointing_table=shared.pointing_table), None


def _desaturate(smap, config, shared, frame):
    """Rebuild a saturated flare core from its fringes; the flags of the rebuilt pixels go on in the mask."""
    flags = flag_saturation(smap, function="aiapy prep --desaturate")
    if not flags.any():
        return smap, "skipped (no saturated pixels)"
    flagged = smap._new_instance(smap.data, smap.meta, plot_settings=smap.plot_settings, mask=pixel_flags(smap) | flags)
    try:
        result = desaturate(flagged, **config.desaturate.as_dict())
    except ValueError as error:  # a frame it cannot work on (cutout too small...): noted, the others go on
        return smap, f"skipped ({error})"
    meta = result.meta
    return result, (
        f"({meta['desatnco'] + meta['desatnbl']} saturated/bloomed px, {meta['desatflx']:.4g} DN restored to the core, "
        f"C-stat {meta['desatcst']:.3g})"
    )


def _deconvolve(smap, config, shared, frame):
    return deconvolve(smap, psf=shared.psf(smap), **config.deconvolve.as_dict()), None


def _register(smap, config, shared, frame):
    return register(smap, **config.register_options().as_dict()), None


# The scalar steps divide in place: the data are this task's own (read from its file, or new from a step).
def _degradation(smap, config, shared, frame):
    if not has_calibration(smap.wavelength, shared.correction_table):  # 4500 A in the bundled tables
        reason = f"the correction table has no {smap.wavelength.to_value(u.AA):.0f} A calibration"
        warn_user(f"degradation skipped: {reason}; the data are not corrected for degradation (HISTORY says so).")
        meta = add_history(smap.meta.copy(), f"pipeline: degradation skipped: {reason}")
        return smap._new_instance(smap.data, meta, plot_settings=smap.plot_settings, mask=smap.mask), f"skipped ({reason})"
    return divide_map(smap, degradation_division(smap, correction_table=shared.correction_table), in_place=True), None


def _exposure(smap, config, shared, frame):
    return divide_map(smap, exposure_division(smap), in_place=True), None


#: Each step, in the order they run: ``function(smap, config, shared, frame) -> (new map, note or None)``, where
#: ``frame`` holds the frame's own extra inputs (``spikes``: its spikes file or None).
STEPS = {
    "respike": _respike,
    "update_pointing": _update_pointing,
    "desaturate": _desaturate,
    "deconvolve": _deconvolve,
    "register": _register,
    "degradation": _degradation,
    "exposure": _exposure,
}
#: The steps that act on the level-1 CCD grid: skipped (noted) for an input already at level 1.5.
LEVEL1_STEPS = ("respike", "update_pointing", "desaturate", "deconvolve", "register")
#: The steps that scale the image by a number (last in SolarSoft's order): the uncertainty, estimated on the
#: counts before the first of them, goes through them too.
_SCALING = ("degradation", "exposure")


def _uncertainty_map(smap, shared):
    unit = smap.unit if smap.unit is not None else u.DN
    counts = u.Quantity(smap.data, unit / u.pix)
    # flagged pixels (saturated, bloomed, missing) are no measurement: their uncertainty is NaN
    errors = estimate_error(counts, smap.wavelength, error_table=shared.error_table, flags=smap.mask)
    meta = smap.meta.copy()
    add_history(meta, "estimate_error: 1-sigma uncertainty (shot, read, dark, quantisation, compression)")
    return smap._new_instance(errors.to_value(unit / u.pix), meta)


def _timed(timings, name, function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    timings[name] = timings.get(name, 0.0) + time.perf_counter() - start
    return result


def _check_result(smap):
    """Refuse a result with no pixel or no finite pixel: it must fail, not be written as done."""
    data = smap.data
    if data.size == 0:
        raise ValueError(f"the result has no pixels (shape {data.shape}); the input's geometry is degenerate.")
    if not np.isfinite(data.flat[data.size // 2]) and not np.isfinite(data).any():
        raise ValueError(f"every pixel of the result is NaN or infinite (shape {data.shape}).")


def short_exposure_note(smap):
    """
    The report's note for a level-1 frame shortened by the automatic exposure control
    (`aiapy.utils.is_short_exposure`), or None: also where that cannot be told (a channel without a known
    nominal exposure, no valid EXPTIME), which the steps that need EXPTIME refuse themselves.
    """
    try:
        channel = round(float(smap.meta.get("wavelnth", 0)))
        exptime = float(smap.meta.get("exptime", np.nan))
    except (TypeError, ValueError):
        return None
    if channel not in NOMINAL_EXPOSURE or not exptime > 0 or not is_short_exposure(smap):
        return None
    nominal = NOMINAL_EXPOSURE[channel]
    return f"{SHORT_EXPOSURE}: EXPTIME {smap.exposure_time.to_value(u.s):.4g} s < {SHORT_FRACTION} x {nominal} s"


def read_level1(path, timings=None, *, level15=False):
    """
    Read a level-1 AIA file (refused, naming the reason, if it is not one), timed in ``timings["read"]``;
    ``level15``: a level-1.5 file is taken too (`prep_map` skips its level-1 steps).
    """
    smap = _timed({} if timings is None else timings, "read", read_map, path)
    check_aia_map(smap, function="aiapy prep")
    if not (level15 and is_level15(smap)):
        check_level1(smap, function="aiapy prep")
    image_type = smap.meta.get("img_type")
    if image_type is not None and str(image_type).strip().upper() != "LIGHT":
        raise ValueError(f"IMG_TYPE = {image_type!r}: a calibration frame, not a science (LIGHT) image; not prepped.")
    return smap


def is_level15(smap):
    """Whether a map is at level 1.5 (LVL_NUM 1.5): registered already."""
    level = smap.meta.get("lvl_num")
    return level is not None and float(level) == LEVEL15


def prep_map(smap, config, shared, *, spikes=None, notes=None):
    """
    Apply the active steps of ``config`` to a level-1 map, in the SolarSoft order; no file is read or written.

    Parameters
    ----------
    smap : `~sunpy.map.sources.AIAMap`
        A level-1 map (its data may be divided in place by the scalar steps: pass a map of the caller's own);
        or a level-1.5 one, whose `LEVEL1_STEPS` are skipped and noted ``"<step> skipped (input at level 1.5)"``.
    config : `PrepConfig`
    shared : `SharedData`
        The run's tables and PSFs (`build_shared`).
    spikes : path-like, optional
        The frame's spikes file, for the respike step (without it, respike is skipped and noted).
    notes : dict, optional
        Where to note the steps run (``steps``) and their seconds (``timings``); a new dict by default. The
        notes of a step that fails are kept in it.

    Returns
    -------
    `Product`
        The level-1.5 map; its uncertainty (``config.uncertainty``: estimated on the counts before the
        scaling steps, then scaled like the image); its `aiapy.utils.pixel_flags` where any pixel is flagged.

    Raises
    ------
    ValueError
        If the result has no pixel, or no finite pixel.
    """
    notes = {"steps": [], "timings": {}} if notes is None else notes
    notes.setdefault("steps", [])
    timings = notes.setdefault("timings", {})
    frame = {"spikes": spikes}
    wanted = config.uncertainty.enabled
    errors = None
    level15 = is_level15(smap)
    for step in config.active_steps:
        if level15 and step in LEVEL1_STEPS:
            notes["steps"].append(f"{step} skipped (input at level 1.5)")
            continue
        if wanted and errors is None and step in _SCALING:
            errors = _timed(timings, "uncertainty", _uncertainty_map, smap, shared)
        smap, note = _timed(timings, step, STEPS[step], smap, config, shared, frame)
        if errors is not None:
            errors, _ = STEPS[step](errors, config, shared, frame)
        notes["steps"].append(f"{step} {note}" if note else step)
    if wanted and errors is None:
        errors = _timed(timings, "uncertainty", _uncertainty_map, smap, shared)
    _check_result(smap)
    flags = pixel_flags(smap)
    return Product(smap, None if errors is None else errors.data, flags if flags.any() else None, notes)


def identity_of(input_path, shared):
    """The `IDENTITY_KEYS` values an output of ``input_path`` must carry in this run."""
    identity = {"AIAPYINP": input_identity(input_path)}
    if shared.pointing_id is not None:
        identity["AIAPYPNT"] = shared.pointing_id
    return identity


#: The header of `load_kernels`' level-1 map: the 64 x 64 corner of a 171 Å frame (2013-03-10T12:00:11, the
#: pointing of the bundled sample cutout), as much as makes an `AIAMap` that `register` takes without a warning.
_WARM_UP_HEADER = {
    "telescop": "SDO/AIA",
    "instrume": "AIA_3",
    "wavelnth": 171,
    "waveunit": "angstrom",
    "lvl_num": LEVEL1,
    "date-obs": "2013-03-10T12:00:11.341",
    "t_obs": "2013-03-10T12:00:12.341",
    "exptime": 1.999605,
    "ctype1": "HPLN-TAN",
    "ctype2": "HPLT-TAN",
    "cunit1": "arcsec",
    "cunit2": "arcsec",
    "crpix1": 128.850098,
    "crpix2": 770.569946,
    "crval1": 0.0,
    "crval2": 0.0,
    "cdelt1": 0.599488974,
    "cdelt2": 0.599488974,
    "crota2": 0.0191973317,
    "dsun_obs": 148604654620.95764,
    "rsun_obs": 966.0587709802244,
    "rsun_ref": 696000000.0,
    "hgln_obs": 0.0,
    "hglt_obs": -7.21935034,
}


def load_kernels(config):
    """
    Load in this process the compiled code ``register`` runs with ``config``'s options, which numba reads
    from its disk cache on the first call (about 0.3 s): a Dask worker does it once as it joins the
    cluster, with its imports, rather than in its first file. Registers a 64 x 64 int16 level-1 image of
    zeros (the dtype of level-1 files) made in memory: no file is read.
    """
    if "register" not in config.active_steps:
        return
    corner = sunpy.map.Map(np.zeros((64, 64), np.int16), _WARM_UP_HEADER)
    register(corner, **config.register_options(workers=1).as_dict())
