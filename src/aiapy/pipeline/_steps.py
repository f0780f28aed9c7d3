"""The per-file work of the batch pipeline: read, apply the steps in SolarSoft order, write."""

import contextlib
import logging
import time
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import sunpy.map

from aiapy._version import __version__
from aiapy.calibrate.degradation import degradation_division
from aiapy.calibrate.exposure import exposure_division
from aiapy.calibrate.pointing import update_pointing
from aiapy.calibrate.register import register
from aiapy.calibrate.spikes import respike
from aiapy.calibrate.uncertainty import estimate_error
from aiapy.pipeline._header import output_header
from aiapy.pipeline._inputs import input_identity
from aiapy.pipeline._output import CONFIG_KEY, check_output, write_output
from aiapy.pipeline._report import REDONE, FileResult
from aiapy.psf import deconvolve
from aiapy.utils.constants import LEVEL1
from aiapy.utils.io import read_map
from aiapy.utils.maps import add_history, check_aia_map, check_level1, divide_map

__all__ = ["process_file", "find_spikes_file", "identity_of", "load_kernels", "STEPS"]

log = logging.getLogger(__name__)

_SPIKES_NAMES = tuple(
    pattern + gz for pattern in ("{stem}.spikes.fits", "{stem}_spikes.fits", "{lev1}.spikes.fits") for gz in ("", ".gz")
)


def _check_level1(smap):
    check_aia_map(smap, function="aiapy prep")
    check_level1(smap, function="aiapy prep")


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


def _respike(smap, config, shared, path):
    spikes_path = find_spikes_file(path, config.respike.spikes_dir)
    if spikes_path is None:
        return smap, "skipped (no spikes file)"
    return respike(smap, spikes=spikes_path), None


def _update_pointing(smap, config, shared, path):
    return update_pointing(smap, pointing_table=shared.pointing_table), None


def _deconvolve(smap, config, shared, path):
    return deconvolve(smap, psf=shared.psf(smap), **config.deconvolve.as_dict()), None


def _register(smap, config, shared, path):
    return register(smap, **config.register_options().as_dict()), None


# The scalar steps divide in place: the data are this task's own (read from its file, or new from a step).
def _degradation(smap, config, shared, path):
    return divide_map(smap, degradation_division(smap, correction_table=shared.correction_table), in_place=True), None


def _exposure(smap, config, shared, path):
    return divide_map(smap, exposure_division(smap), in_place=True), None


#: Each step, in the order they run: ``function(smap, config, shared, input_path) -> (new map, note or None)``.
STEPS = {
    "respike": _respike,
    "update_pointing": _update_pointing,
    "deconvolve": _deconvolve,
    "register": _register,
    "degradation": _degradation,
    "exposure": _exposure,
}
#: The steps that scale the image by a number (last in SolarSoft's order): the uncertainty, estimated on the
#: counts before the first of them, goes through them too.
_SCALING = ("degradation", "exposure")


def _uncertainty_map(smap, shared):
    unit = smap.unit if smap.unit is not None else u.DN
    errors = estimate_error(u.Quantity(smap.data, unit / u.pix), smap.wavelength, error_table=shared.error_table)
    meta = smap.meta.copy()
    add_history(meta, "estimate_error: 1-sigma uncertainty (shot, read, dark, quantisation, compression)")
    return smap._new_instance(errors.to_value(unit / u.pix), meta)


def _run_steps(smap, config, shared, path, result):
    """Apply the active steps, noting each in ``result.steps``; return the map and its uncertainty (or None)."""
    wanted = config.uncertainty.enabled
    errors = None
    for step in config.active_steps:
        if wanted and errors is None and step in _SCALING:
            errors = _timed(result.timings, "uncertainty", _uncertainty_map, smap, shared)
        smap, note = _timed(result.timings, step, STEPS[step], smap, config, shared, path)
        if errors is not None:
            errors, _ = STEPS[step](errors, config, shared, path)
        result.steps.append(f"{step} {note}" if note else step)
    if wanted and errors is None:
        errors = _timed(result.timings, "uncertainty", _uncertainty_map, smap, shared)
    return smap, errors


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


def _write(smap, errors, output, config, config_id, identity):
    dtype = np.dtype(config.output.dtype)
    meta = smap.meta.copy()  # every step keeps DATAMIN/DATAMAX/DATAMEAN true: no pass over the data here
    add_history(meta, f"pipeline: {', '.join(config.active_steps) or 'no steps'} (settings {config_id})")
    extra = [
        (CONFIG_KEY, config_id, "aiapy pipeline settings identifier"),
        ("AIAPYVER", __version__, "aiapy version that wrote this file"),
        ("AIAPYINP", identity["AIAPYINP"], "identity of the input (size, mtime, T_OBS, FSN...)"),
    ]
    if "AIAPYPNT" in identity:
        extra.append(("AIAPYPNT", identity["AIAPYPNT"], "digest of the master pointing table used"))
    write_output(
        output,
        np.asarray(smap.data, dtype=dtype),
        output_header(meta, extra),
        compress=config.output.compress,
        uncertainty=None if errors is None else np.asarray(errors.data, dtype=dtype),
    )


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


_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _reset_peak_memory():
    """Reset the kernel's peak-RSS mark of this process (Linux >= 4.0), so the next reading is per file."""
    with contextlib.suppress(OSError):
        _CLEAR_REFS.write_text("5")


def _peak_memory_mib():
    """Peak resident memory of this process since the last reset, in MiB (None where unknown)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def process_file(input_path, output_path, config, shared):
    """
    Prepare one file: skip it if a complete valid output exists, else read, apply the steps, write.

    Never raises for a bad file (only for KeyboardInterrupt/SystemExit): errors become a ``failed``
    `FileResult`. Warnings are collected into the result and logged, not raised.

    Parameters
    ----------
    input_path, output_path : str or path-like
    config : `PrepConfig`
    shared : `SharedData`
        From `build_shared`.

    Returns
    -------
    `FileResult`
        ``done`` only for a written output with finite pixels: a result with no pixel, or none finite,
        is ``failed``.
    """
    _reset_peak_memory()
    start = time.perf_counter()
    result = FileResult(input=str(input_path), output=str(output_path), status="failed")
    config_id = config.config_id
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            identity = identity_of(input_path, shared)
            if not config.output.overwrite:
                valid, reason = check_output(
                    output_path, config_id=config_id, uncertainty=config.uncertainty.enabled, identity=identity
                )
                if valid:
                    result.status = "skipped"
                elif reason != "missing":
                    result.steps.append(f"{REDONE} ({reason})")
            if result.status != "skipped":
                smap = _timed(result.timings, "read", read_map, input_path)
                _check_level1(smap)
                smap, errors = _run_steps(smap, config, shared, input_path, result)
                _check_result(smap)
                _timed(result.timings, "write", _write, smap, errors, output_path, config, config_id, identity)
                result.status = "done"
        except Exception as error:  # one bad file must not stop the batch; the report carries the error
            result.error = f"{type(error).__name__}: {error}"
    result.warnings = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    result.seconds = time.perf_counter() - start
    result.peak_memory_mib = _peak_memory_mib()
    return result
