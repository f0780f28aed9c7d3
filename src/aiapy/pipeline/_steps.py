"""The per-file work of the batch pipeline: read, apply the steps in SolarSoft order, write."""

import contextlib
import logging
import time
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np

from aiapy.calibrate.degradation import degradation_division
from aiapy.calibrate.exposure import exposure_division
from aiapy.calibrate.pointing import update_pointing
from aiapy.calibrate.register import register
from aiapy.calibrate.spikes import respike
from aiapy.calibrate.uncertainty import estimate_error
from aiapy.pipeline._header import output_header
from aiapy.pipeline._output import CONFIG_KEY, check_output, write_output
from aiapy.pipeline._report import FileResult
from aiapy.psf import deconvolve
from aiapy.utils.io import read_map
from aiapy.utils.maps import add_history, check_aia_map, check_level1, divide_map

__all__ = ["process_file", "find_spikes_file"]

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


def _respike(smap, config, shared, context):
    spikes_path = find_spikes_file(context["input"], config.spikes_dir)
    if spikes_path is None:
        context["skipped"] = "no spikes file"
        return smap
    return respike(smap, spikes=spikes_path)


def _update_pointing(smap, config, shared, context):
    return update_pointing(smap, pointing_table=shared["pointing_table"])


def _deconvolve(smap, config, shared, context):
    kernel = shared["psfs"].get((int(round(smap.wavelength.to_value(u.AA))), smap.data.shape))
    return deconvolve(smap, psf=kernel, iterations=config.iterations, acceleration=config.acceleration)


def _register(smap, config, shared, context):
    return register(
        smap, method=config.method, order=config.order, dtype=np.dtype(config.dtype), workers=config.threads
    )


_STEP_FUNCTIONS = {
    "respike": _respike,
    "update_pointing": _update_pointing,
    "deconvolve": _deconvolve,
    "register": _register,
}
#: The scalar steps, last in SolarSoft's order: each gives the `Division` its public function applies.
_DIVISIONS = {
    "degradation": lambda smap, shared: degradation_division(smap, correction_table=shared["correction_table"]),
    "exposure": lambda smap, shared: exposure_division(smap),
}


def _uncertainty_map(smap, shared):
    unit = smap.unit if smap.unit is not None else u.DN
    errors = estimate_error(u.Quantity(smap.data, unit / u.pix), smap.wavelength, error_table=shared["error_table"])
    meta = smap.meta.copy()
    add_history(meta, "estimate_error: 1-sigma uncertainty (shot, read, dark, quantisation, compression)")
    return smap._new_instance(errors.to_value(unit / u.pix), meta)


def _run_steps(smap, config, shared, context):
    """
    Apply the active steps. The scalar steps (degradation, exposure) come last and divide the image
    together, in one pass in place: the data are this task's own (read from the file, or new from a step).
    The uncertainty is estimated on the counts before them and divided the same way.
    """
    timings = context["timings"]
    scalar = [step for step in config.active_steps if step in _DIVISIONS]
    for step in config.active_steps:
        if step in _DIVISIONS:
            continue
        smap = _timed(timings, step, _STEP_FUNCTIONS[step], smap, config, shared, context)
        reason = context.pop("skipped", None)
        context["notes"].append(f"{step} skipped ({reason})" if reason else step)
    errors = _timed(timings, "uncertainty", _uncertainty_map, smap, shared) if config.uncertainty else None
    if scalar:
        divisions = [_timed(timings, step, _DIVISIONS[step], smap, shared) for step in scalar]
        # the one pass over the data is timed under the last scalar step
        smap = _timed(timings, scalar[-1], divide_map, smap, *divisions, in_place=True)
        if errors is not None:
            errors = divide_map(errors, *divisions, in_place=True)
        context["notes"].extend(scalar)
    return smap, errors


def _timed(timings, name, function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    timings[name] = timings.get(name, 0.0) + time.perf_counter() - start
    return result


def _write(smap, errors, output, config):
    dtype = np.dtype(config.dtype)
    meta = smap.meta.copy()  # every step keeps DATAMIN/DATAMAX/DATAMEAN true: no pass over the data here
    add_history(meta, f"pipeline: {', '.join(config.active_steps) or 'no steps'} (settings {config.config_id})")
    extra = [(CONFIG_KEY, config.config_id, "aiapy pipeline settings identifier")]
    write_output(
        output,
        np.asarray(smap.data, dtype=dtype),
        output_header(meta, extra),
        compress=config.compress,
        uncertainty=None if errors is None else np.asarray(errors.data, dtype=dtype),
    )


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
    shared : dict
        From `build_shared`.

    Returns
    -------
    `FileResult`
    """
    _reset_peak_memory()
    start = time.perf_counter()
    result = FileResult(input=str(input_path), output=str(output_path), status="failed")
    context = {"input": str(input_path), "timings": result.timings, "notes": result.steps}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if not config.overwrite:
                valid, reason = check_output(output_path, config_id=config.config_id, uncertainty=config.uncertainty)
                if valid:
                    result.status = "skipped"
                elif reason != "missing":
                    result.steps.append(f"existing output redone ({reason})")
            if result.status != "skipped":
                smap = _timed(result.timings, "read", read_map, input_path)
                _check_level1(smap)
                smap, errors = _run_steps(smap, config, shared, context)
                _timed(result.timings, "write", _write, smap, errors, output_path, config)
                result.status = "done"
        except Exception as error:  # one bad file must not stop the batch; the report carries the error
            result.error = f"{type(error).__name__}: {error}"
    result.warnings = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    result.seconds = time.perf_counter() - start
    result.peak_memory_mib = _peak_memory_mib()
    return result
