"""Running the pipeline over many files: serially, on a local Dask cluster, or on a running scheduler."""

import contextlib
import dataclasses
import importlib
import logging
import os
import sys
import time
import uuid
from pathlib import Path

from tqdm.auto import tqdm

from aiapy.pipeline._config import (
    DECONVOLVE_ACCELERATIONS,
    DEFAULT_STEPS,
    POINTING_SOURCES,
    REGISTER_METHODS,
    STEP_ORDER,
    PrepConfig,
)
from aiapy.pipeline._inputs import expand_inputs, output_path
from aiapy.pipeline._output import COMPRESSIONS
from aiapy.pipeline._report import FileResult, PrepReport
from aiapy.pipeline._shared import build_shared, needs_headers, scan_header
from aiapy.pipeline._steps import process_file

__all__ = ["prep_files"]

log = logging.getLogger(__name__)

_DTYPES = ("float32", "float64")
# Dask config for local worker processes. Dask's default sets MALLOC_TRIM_THRESHOLD_ in the workers, which
# turns off glibc's adaptive mmap threshold, so more temporaries are mmap'd and page-faulted afresh:
# register ran ~7 % slower (measured; the tap engine itself allocates nothing per tile, so it is not
# affected). None leaves it out (single-threaded BLAS/OpenMP stay); `_without_environ` also keeps out the
# copy that an earlier default Dask cluster leaves in this process's environment.
# The statistical profiler samples every thread's stack every 10 ms, taking the GIL from a task that makes
# ~10^4 short numpy calls per image: off, a batch ran ~4 % faster (benchmarks/bench_pipeline.py, A/B).
_MALLOC_TRIM = "MALLOC_TRIM_THRESHOLD_"
#: What every worker must import to run a task.
_WORKER_MODULE = "aiapy.pipeline._steps"
_WORKER_CONFIG = {
    f"distributed.nanny.pre-spawn-environ.{_MALLOC_TRIM}": None,
    "distributed.worker.profile.enabled": False,
}


def _validate_steps(steps):
    if isinstance(steps, str):
        steps = [s.strip() for s in steps.split(",") if s.strip()]
    steps = list(steps)
    unknown = [s for s in steps if s not in STEP_ORDER]
    if unknown:
        raise ValueError(f"steps {unknown} are not known; choose from {', '.join(STEP_ORDER)}.")
    return tuple(s for s in STEP_ORDER if s in steps)


def _validate(steps, pointing, dtype, compress, iterations, acceleration, method, order, workers, scheduler, client):
    steps = _validate_steps(steps)
    if method not in REGISTER_METHODS:
        raise ValueError(f"method={method!r} is not a register method; choose from {REGISTER_METHODS}.")
    if acceleration not in DECONVOLVE_ACCELERATIONS:
        raise ValueError(f"acceleration={acceleration!r} is not known; choose from {DECONVOLVE_ACCELERATIONS}.")
    if not isinstance(pointing, str | os.PathLike):
        raise TypeError(f"pointing must be a source name or a path, not {type(pointing).__name__}.")
    pointing = str(pointing)
    if pointing not in POINTING_SOURCES and not Path(pointing).is_file():
        raise ValueError(f"pointing={pointing!r} is neither one of {POINTING_SOURCES} nor an existing table file.")
    if str(dtype) not in _DTYPES:
        raise ValueError(f"dtype={dtype!r} is not supported; choose from {_DTYPES}.")
    if compress not in COMPRESSIONS:
        raise ValueError(f"compress={compress!r} is not supported; choose from {list(COMPRESSIONS)}.")
    for name, value, low, high in (("iterations", iterations, 1, None), ("order", order, 0, 5)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, not {value!r}.")
        if value < low or (high is not None and value > high):
            raise ValueError(f"{name}={value} is out of range [{low}, {high if high is not None else 'inf'}].")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be None (serial) or a positive int, not {workers!r}.")
    if sum(x is not None for x in (workers, scheduler, client)) > 1:
        raise ValueError("give at most one of workers, scheduler and client.")
    return steps, pointing, str(dtype)


def _plan(paths, out_dir):
    outputs = [output_path(path, out_dir) for path in paths]
    seen = {}
    for path, output in zip(paths, outputs, strict=True):
        if output in seen:
            raise ValueError(f"inputs {seen[output]} and {path} would both be written to {output}; rename one.")
        seen[output] = path
    return outputs


def _scan(paths, outputs, config):
    """Headers for the shared inputs; files whose header cannot be read fail here, before any work."""
    headers, early = {}, {}
    if not needs_headers(config):
        return headers, early
    for path, output in zip(paths, outputs, strict=True):
        try:
            headers[path] = scan_header(path)
        except (OSError, ValueError, KeyError, TypeError) as error:
            early[path] = FileResult(str(path), str(output), "failed", error=f"{type(error).__name__}: {error}")
    return headers, early


class _Progress:
    """A progress bar on a terminal, otherwise one log line per file."""

    def __init__(self, total, show):
        self.total, self.count = total, 0
        self.bar = tqdm(total=total, unit="img", file=sys.stderr, dynamic_ncols=True) if show else None

    def update(self, result):
        self.count += 1
        text = f"[{self.count}/{self.total}] {result.status} {result.input}"
        text += f": {result.error}" if result.error else f" -> {result.output} ({result.seconds:.1f} s)"
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(result.status, refresh=False)
        quiet = logging.DEBUG if self.bar is not None else logging.INFO
        log.log(logging.WARNING if result.status == "failed" else quiet, text)
        for message in result.warnings:
            log.debug("%s: %s", result.input, message)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _run_serial(tasks, config, shared, progress, results):
    for path, output in tasks:
        results[path] = process_file(path, output, config, shared)
        progress.update(results[path])


@contextlib.contextmanager
def _dask_client(workers, scheduler, client, memory_limit):
    if client is not None:
        yield client
        return
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as remote:
            _load_on_workers(remote)
            yield remote
        return
    with dask.config.set(_WORKER_CONFIG), _without_environ(_MALLOC_TRIM):
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory_limit, dashboard_address=":0"
        )
    with cluster, Client(cluster) as local:
        log.info("Local Dask cluster: %d worker process(es), dashboard %s", workers, local.dashboard_link)
        _load_on_workers(local)
        yield local


@contextlib.contextmanager
def _without_environ(name):
    """Leave ``name`` out of this process's environment (which worker processes inherit), then restore it."""
    value = os.environ.pop(name, None)
    try:
        yield
    finally:
        if value is not None:
            os.environ[name] = value


def _load_on_workers(client):
    """
    Import the pipeline on every worker now, as part of starting or joining the cluster (~2 s of imports
    per worker, sunpy's mostly), rather than in each worker's first task; a cluster whose workers cannot
    import it is refused here, before any task.
    """
    try:
        client.run(importlib.import_module, _WORKER_MODULE)
    except ImportError as error:
        raise RuntimeError(
            f"The Dask workers cannot import {_WORKER_MODULE} ({type(error).__name__}: {error}); install the"
            " same aiapy in the workers' environment."
        ) from error


def _run_dask(tasks, config, shared, progress, client, results):
    from distributed import as_completed

    # The tables and PSFs go to every worker once; each task receives a reference, not a copy.
    [shared_future] = client.scatter([shared], broadcast=True, hash=False)
    token = uuid.uuid4().hex[:8]  # task keys unique to this run, even when runs share a client
    futures = {}
    for index, (path, output) in enumerate(tasks):
        future = client.submit(process_file, path, output, config, shared_future, key=f"prep-{token}-{index}")
        futures[future] = (path, output)
    try:
        for future in as_completed(futures):
            path, output = futures[future]
            try:
                result = future.result()
            except Exception as error:  # a worker died (memory limit, killed): that file failed
                result = FileResult(str(path), str(output), "failed", error=f"{type(error).__name__}: {error}")
            results[path] = result
            progress.update(result)
    finally:
        client.cancel(list(futures))


def prep_files(
    inputs,
    out_dir,
    *,
    steps=DEFAULT_STEPS,
    pointing="header",
    dtype="float32",
    compress=None,
    uncertainty=False,
    overwrite=False,
    spikes_dir=None,
    iterations=25,
    acceleration=None,
    method="spline",
    order=3,
    workers=None,
    scheduler=None,
    client=None,
    memory_limit="auto",
    progress=None,
):
    """
    Promote many level-1 AIA files to level 1.5, writing one FITS file per input; return a report.

    Parameters
    ----------
    inputs : str, path-like, or iterable of them
        Files, directories (their FITS files) or glob patterns of level-1 FITS files, Rice-compressed or not.
    out_dir : path-like
        Output folder, created if needed. Output names are the input names with ``_lev1.5.fits``.
    steps : iterable of str or comma-separated str
        Steps to apply, from ``respike, update_pointing, deconvolve, register, degradation, exposure``.
        They always run in that (SolarSoft) order. Default: update_pointing, register, degradation,
        exposure.
    pointing : {"header", "bundled", "jsoc", "lmsal"} or path-like
        Source of the master pointing table for update_pointing. ``"header"`` (default) keeps the pointing
        in the level-1 header, like SolarSoft ``aia_prep, /use_hdr_pnt``, and skips update_pointing; it
        needs no network. ``"jsoc"``/``"lmsal"`` fetch the table once (in this process) for the time span
        of the inputs; a path reads a table file; ``"bundled"`` is the 2010-05-13 sample table.
    dtype : {"float32", "float64"}
        Output data type (float32 halves the size; the level-1 data have 16 bits).
    compress : {None, "rice", "gzip"}
        Output tile compression: None (plain), "rice" (lossy quantisation to 1/16 of the noise, as fpack)
        or "gzip" (lossless).
    uncertainty : bool
        Also write the 1-sigma uncertainty (`aiapy.calibrate.estimate_error`) as a second HDU named
        ``UNCERTAINTY``. It is estimated on the counts after the geometric steps (before degradation and
        exposure) and then scaled by those same two steps; the correlation that interpolation introduces
        between neighbouring pixels is not propagated (as in SolarSoft).
    overwrite : bool
        Redo outputs that are already complete and valid. Otherwise they are skipped (status ``skipped``);
        missing, partial, corrupt outputs or outputs made with other settings are always redone.
    spikes_dir : path-like, optional
        Where to look for the JSOC spikes files (``<name>.spikes.fits``) used by ``respike``; default: next
        to each image. Files without one are not respiked (noted in the report).
    iterations : int
        Richardson-Lucy iterations for ``deconvolve``.
    acceleration : {None, "biggs-andrews"}
        Richardson-Lucy variant for ``deconvolve``: plain (as SolarSoft) or Biggs-Andrews accelerated,
        which reaches the residual of 25 plain iterations in about 15.
    method : str
        Interpolation kernel of ``register``: ``"spline"`` (B-spline of ``order``, as the earlier aiapy),
        ``"cubic-convolution"`` (IDL ``ROT`` with ``CUBIC=-0.5``, as SolarSoft ``aia_prep``), ``"linear"``
        or ``"nearest"``.
    order : int
        B-spline order of ``register`` (0-5) for ``method="spline"``.
    workers : int, optional
        Run on a local Dask cluster of this many single-threaded worker processes.
    scheduler : str, optional
        Address of a running ``dask.distributed`` scheduler (e.g. ``"tcp://10.0.0.1:8786"``). Inputs and
        ``out_dir`` must be visible at the same paths on the workers (a shared file system).
    client : `distributed.Client`, optional
        An existing client to run on (not closed afterwards).
    memory_limit : str or int
        Memory limit per local worker (Dask syntax, e.g. ``"4GiB"``); ``"auto"`` divides the machine's memory.
    progress : bool, optional
        Show a progress bar; default: when stderr is a terminal. Otherwise a log line per file (INFO).

    Returns
    -------
    `PrepReport`
        Per file: status, output path, timings, error; ``report.ok`` is True when every input has a
        complete output. Ctrl-C stops the run cleanly: finished outputs are kept, no partial file is left
        under an output name, the rest are reported ``cancelled`` and ``report.interrupted`` is set.

    Raises
    ------
    TypeError, ValueError
        For invalid options (checked before any file is read).
    FileNotFoundError
        If an input matches nothing.

    Notes
    -----
    The calibration tables and PSFs are computed once in this process and, with Dask, scattered to every
    worker once (``client.scatter(..., broadcast=True)``); each file is one task that reads its input and
    writes its own output, so only small reports travel back. Memory is bounded per task, not per batch:
    a worker holds one image at a time. For the standard prep of a 4096 x 4096 frame the peak resident
    memory of a worker process is about 0.45 GiB (about 0.3 GiB of it the imported libraries; measured by
    ``benchmarks/bench_pipeline.py`` and reported per file in ``FileResult.peak_memory_mib``);
    deconvolution adds the FFT buffers (several 4096 x 4096 complex arrays). Each local worker is limited
    to ``memory_limit``; Dask restarts a worker that exceeds it, and its file is reported failed.
    """
    start = time.perf_counter()
    steps, pointing, dtype = _validate(
        steps, pointing, dtype, compress, iterations, acceleration, method, order, workers, scheduler, client
    )
    config = PrepConfig(
        steps=steps, pointing=pointing, dtype=dtype, compress=compress, uncertainty=bool(uncertainty),
        overwrite=bool(overwrite), spikes_dir=None if spikes_dir is None else str(spikes_dir),
        iterations=iterations, acceleration=acceleration, method=method, order=order,
    )  # fmt: skip
    paths = expand_inputs(inputs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = _plan(paths, out_dir)
    executor = "serial" if workers is None and scheduler is None and client is None else "dask"
    settings = {
        "steps": list(config.active_steps), "pointing": pointing, "dtype": dtype, "compress": compress,
        "uncertainty": config.uncertainty, "overwrite": config.overwrite, "executor": executor,
        "workers": workers, "scheduler": scheduler, "config_id": config.config_id, "out_dir": str(out_dir),
    }  # fmt: skip
    log.info("aiapy prep: %d file(s), steps %s, %s", len(paths), ", ".join(config.active_steps) or "none", executor)
    progress = _Progress(len(paths), sys.stderr.isatty() if progress is None else bool(progress))
    results, interrupted = {}, False
    try:
        headers, early = _scan(paths, outputs, config)
        results.update(early)
        for result in early.values():
            progress.update(result)
        shared = build_shared(config, list(headers.values()))
        tasks = [(p, o) for p, o in zip(paths, outputs, strict=True) if p not in results]
        if executor == "serial":
            _run_serial(tasks, config, shared, progress, results)
        else:
            # one task per worker thread: register inside a task stays single-threaded (its prefilter too)
            config = dataclasses.replace(config, threads=1)
            with _dask_client(workers, scheduler, client, memory_limit) as dask_client:
                _run_dask(tasks, config, shared, progress, dask_client, results)
    except KeyboardInterrupt:
        interrupted = True
        log.warning("Interrupted: finished outputs are kept; rerun the same command to resume.")
    finally:
        progress.close()
    ordered = [
        results.get(path) or FileResult(str(path), str(output), "cancelled")
        for path, output in zip(paths, outputs, strict=True)
    ]
    report = PrepReport(ordered, settings, time.perf_counter() - start, interrupted)
    log.info("%s", report.summary())
    return report
