"""Checks of a batch's arguments against each other and against the file system, before any work.

Each refuses what would otherwise be found only after every file was computed (a folder that cannot be
written), or would lose a file (a report path that names an input), or would hang (a thousand worker
processes for one file).
"""

import logging
import math
import os
import tempfile
from pathlib import Path

from aiapy.pipeline._inputs import FITS_SUFFIXES
from aiapy.pipeline._report import is_report

__all__ = [
    "check_report_path", "check_writable_folder", "cap_workers", "check_memory_limit", "frame_memory", "MAX_WORKERS"
]

log = logging.getLogger(__name__)

#: More local worker processes than any machine has cores: refused (a typo, or a hang spawning them).
MAX_WORKERS = 1024


def check_writable_folder(folder, *, what, create=False):
    """
    Refuse (`PermissionError`, `NotADirectoryError`, `FileNotFoundError`) a folder that cannot be written.

    The test is a file created and removed there (``os.access`` answers yes to root even on read-only mounts).
    With ``create``, a folder that does not exist yet is checked through its nearest existing parent (the run
    creates it); without, it must exist.
    """
    folder = Path(folder)
    probe = folder
    if not folder.exists():
        if not create:
            raise FileNotFoundError(f"the {what} {folder} does not exist; create it first.")
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
    if not probe.is_dir():
        raise NotADirectoryError(f"the {what} {folder} cannot be made: {probe} is not a folder.")
    try:
        with tempfile.NamedTemporaryFile(dir=probe, prefix=".aiapy-write-test-"):
            pass
    except OSError as error:
        raise PermissionError(
            f"the {what} {folder} is not writable ({type(error).__name__}: {error.strerror or error}); "
            "nothing was computed."
        ) from None


def check_report_path(report, inputs):
    """
    Refuse a report path that would replace a file the report did not write, before any work.

    Refused: a name ending like a FITS file (as when a shell puts the first input right after ``--report``);
    a path that is one of ``inputs`` (resolved, so a link to an input too); an existing file that is not an aiapy
    JSON report; a folder that does not exist or cannot be written.

    Raises
    ------
    ValueError, FileExistsError, FileNotFoundError, PermissionError
    """
    path = Path(report)
    if path.name.lower().endswith(FITS_SUFFIXES):
        raise ValueError(
            f"--report {report} names a FITS file; the report is JSON (e.g. --report run.json). Did the shell put "
            "an input there (--report in/*.fits)?"
        )
    resolved = path.resolve()
    if any(resolved == Path(item).resolve() for item in inputs):
        raise ValueError(f"--report {report} is one of the inputs; it would be replaced by the report.")
    if path.is_dir():
        raise IsADirectoryError(f"--report {report} is a folder; give a file name, e.g. {path / 'report.json'}.")
    if path.exists() and not is_report(path):
        raise FileExistsError(
            f"--report {report} exists and is not an aiapy report; it would be replaced. Move it or choose another "
            "name."
        )
    check_writable_folder(path.parent if str(path.parent) else Path("."), what="folder of --report")


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def cap_workers(workers, n_inputs):
    """
    The number of local worker processes to start: ``workers`` capped at the inputs and the cores (logged).

    Raises
    ------
    ValueError
        For a number that is not a positive integer, or more than `MAX_WORKERS`.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive number of processes; got {workers!r}.")
    if workers > MAX_WORKERS:
        raise ValueError(
            f"workers = {workers} is more processes than any machine has cores (at most {MAX_WORKERS}); this one "
            f"has {_cores()}."
        )
    cores = _cores()
    capped = max(1, min(workers, n_inputs, cores))
    if capped < workers:
        log.warning(
            "workers %d capped to %d: %d input(s), %d core(s); more processes would only wait.",
            workers, capped, n_inputs, cores,
        )  # fmt: skip
    return capped


#: Peak resident memory of prepping one 4096 x 4096 frame, measured (`FileResult.peak_memory_mib`): in this
#: process 538 MiB (register, degradation, exposure) and 825 MiB (deconvolve, register) from 261 MiB before the
#: file, i.e. about 17 and 34 bytes per pixel (rounded up here to 20 and 40); in a Dask worker 979 MiB with
#: deconvolve, so a worker holds about 415 MiB before the file (450 here). A worker dies at 95 % of its limit
#: (Dask's ``distributed.worker.memory.terminate``): with 941 MiB the deconvolving worker was killed, with
#: 1100 MiB it finished.
_BASE_BYTES = 450 * 2**20
_BYTES_PER_PIXEL = {"default": 20, "deconvolve": 40}
_TERMINATE_FRACTION = 0.95


def frame_memory(pixels, steps):
    """The memory limit (bytes) a Dask worker needs to prep a frame of ``pixels`` pixels with ``steps``."""
    per_pixel = _BYTES_PER_PIXEL["deconvolve" if "deconvolve" in steps else "default"]
    return (_BASE_BYTES + per_pixel * pixels) / _TERMINATE_FRACTION


def check_memory_limit(memory_limit, steps, shapes, *, workers=1, total_memory=None):
    """
    Refuse (`MemoryError`) a memory limit per local worker too small for the largest of ``shapes``.

    Without this, Dask kills the worker mid-file and the run ends in ``CommClosedError: Stream is closed`` with
    no per-file report. ``"auto"`` is Dask's share of the machine's memory (``total_memory``, by default the
    machine's) per worker: too many ``workers`` for the memory are refused too.
    """
    if memory_limit is None or not shapes:
        return
    from dask.utils import parse_bytes  # noqa: PLC0415 (dask loads only for a Dask run)

    if memory_limit == "auto":
        if total_memory is None:
            import psutil  # noqa: PLC0415 (a dependency of dask.distributed)

            total_memory = psutil.virtual_memory().total
        limit = total_memory / workers
    else:
        try:
            limit = parse_bytes(memory_limit) if isinstance(memory_limit, str) else int(memory_limit)
        except (ValueError, TypeError):
            raise ValueError(f"--memory-limit {memory_limit!r} is not a size (e.g. 2GB, 800MiB or auto).") from None
    rows, columns = max(shapes, key=lambda shape: shape[0] * shape[1])
    needed = frame_memory(rows * columns, steps)
    if limit < needed:
        mib = math.ceil(needed / 2**20)
        what = (
            f"--memory-limit {memory_limit}" if memory_limit != "auto"
            else f"{workers} workers sharing {math.floor(total_memory / 2**20)} MiB (--memory-limit auto)"
        )  # fmt: skip
        remedy = (
            f"Give --memory-limit {mib}MiB or more (or auto)" if memory_limit != "auto"
            else f"Use at most {max(1, int(total_memory // needed))} worker(s)"
        )  # fmt: skip
        raise MemoryError(
            f"{what} is too small for a {rows} x {columns} frame: a worker needs about {mib} MiB to prep it with "
            f"the steps {', '.join(steps)}. {remedy}."
        )
