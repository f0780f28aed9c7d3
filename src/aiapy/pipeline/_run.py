"""Running the pipeline over many files: serially, on a local Dask cluster, or on a running scheduler."""

import contextlib
import importlib
import logging
import os
import sys
import time
import uuid
from pathlib import Path

from tqdm.auto import tqdm

from aiapy.pipeline._config import PrepConfig
from aiapy.pipeline._inputs import expand_inputs, output_path, remove_stale_temporaries
from aiapy.pipeline._output import check_output, is_aiapy_output
from aiapy.pipeline._report import FileResult, PrepReport
from aiapy.pipeline._shared import build_shared, needs_headers, scan_header
from aiapy.pipeline._steps import identity_of, load_kernels, process_file

__all__ = ["prep_files", "make_config", "plan_outputs", "prepare_out_dir"]

log = logging.getLogger(__name__)

# Dask config for local worker processes. Dask's default sets MALLOC_TRIM_THRESHOLD_ in the workers, which
# turns off glibc's adaptive mmap threshold, so more temporaries are mmap'd and page-faulted afresh:
# register ran slower (the tap engine itself allocates nothing per tile, so it is not affected). None leaves
# it out (single-threaded BLAS/OpenMP stay); `_without_environ` also keeps out the copy that an earlier
# default Dask cluster leaves in this process's environment.
# The statistical profiler samples every thread's stack every 10 ms, taking the GIL from a task that makes
# many short numpy calls per image: it is off (the gain is measured by benchmarks/bench_pipeline.py).
_MALLOC_TRIM = "MALLOC_TRIM_THRESHOLD_"
#: What every worker must import to run a task.
_WORKER_MODULE = "aiapy.pipeline._steps"
_WORKER_CONFIG = {
    f"distributed.nanny.pre-spawn-environ.{_MALLOC_TRIM}": None,
    "distributed.worker.profile.enabled": False,
}


def make_config(config=None, **keywords):
    """
    The `PrepConfig` of a run: ``config`` (default: the defaults) changed by today's flat keywords
    (``steps=``, ``method=``, ``iterations=``, ...; see `KEYWORDS`), validated.
    """
    if config is None:
        return PrepConfig(**keywords)
    if not isinstance(config, PrepConfig):
        raise TypeError(f"config must be a PrepConfig, not {type(config).__name__}.")
    if not keywords:
        return config
    groups = {f.name: getattr(config, f.name) for f in config.fields()}
    return PrepConfig(**(groups | keywords))


def _validate_executor(workers, scheduler, client):
    """Check the executor options; return ``"serial"`` or ``"dask"``."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be None (serial) or a positive int, not {workers!r}.")
    if sum(x is not None for x in (workers, scheduler, client)) > 1:
        raise ValueError("give at most one of workers, scheduler and client.")
    return "serial" if workers is None and scheduler is None and client is None else "dask"


def _report_settings(config, executor, out_dir):
    """The settings every run reports: each option by its keyword, the executor, ``config_id``, ``out_dir``."""
    return config.keywords() | {"executor": executor, "config_id": config.config_id, "out_dir": str(out_dir)}


def plan_outputs(paths, out_dir):
    """
    The output path of each input, checked before any work: refused (`FileExistsError`, naming the file)
    when an output would replace an input or a file that is not an aiapy output, and (`ValueError`) when
    two inputs share an output name.
    """
    outputs = [output_path(path, Path(out_dir).expanduser().resolve()) for path in paths]
    inputs, seen = set(paths), {}
    for path, output in zip(paths, outputs, strict=True):
        if output in seen:
            raise ValueError(f"inputs {seen[output]} and {path} would both be written to {output}; rename one.")
        seen[output] = path
        if output in inputs:
            raise FileExistsError(f"the output of {path} would replace the input {output}; choose another --out.")
        if output.exists() and not is_aiapy_output(output):
            raise FileExistsError(
                f"{output} exists and is not an aiapy output; it would be replaced by the output of {path}. "
                "Move it or choose another --out."
            )
    return outputs


def prepare_out_dir(out_dir):
    """Create the output folder if needed and remove the temporary files killed runs of this host left there."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out_dir)


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
        if result.replaced:
            text += f" [{result.steps[0]}]"
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
def _dask_client(workers, scheduler, client, memory_limit, config):
    """
    The client of a run: ``client`` as it is; or one of a running ``scheduler``, or of a new local cluster
    of ``workers`` processes, whose workers import the pipeline and load the compiled code of the run's
    ``config`` before any task.
    """
    if client is not None:
        yield client
        return
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as remote:
            _load_on_workers(remote, config)
            yield remote
        return
    with dask.config.set(_WORKER_CONFIG), _without_environ(_MALLOC_TRIM):
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory_limit, dashboard_address=":0"
        )
    with cluster, Client(cluster) as local:
        log.info("Local Dask cluster: %d worker process(es), dashboard %s", workers, local.dashboard_link)
        _load_on_workers(local, config)
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


def _load_on_workers(client, config):
    """
    Import the pipeline on every worker now, as part of starting or joining the cluster (seconds of
    imports per worker, sunpy's mostly), and load the compiled code of ``config``'s steps, rather than in
    each worker's first task; a cluster whose workers cannot import it is refused here, before any task.
    """
    try:
        client.run(importlib.import_module, _WORKER_MODULE)
        client.run(load_kernels, config)
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
            _collect(future, futures[future], progress, results)
    except KeyboardInterrupt:
        for future, task in futures.items():  # files the workers finished meanwhile are on disk: count them
            if future.status == "finished" and task[0] not in results:
                _collect(future, task, progress, results)
        raise
    finally:
        client.cancel(list(futures))


def _collect(future, task, progress, results):
    path, output = task
    try:
        result = future.result()
    except Exception as error:  # a worker died (memory limit, killed): that file failed
        result = FileResult(str(path), str(output), "failed", error=f"{type(error).__name__}: {error}")
    results[path] = result
    progress.update(result)


def _on_disk(path, output, config, shared, since):
    """After Ctrl-C: the result of a file not reported, from its output if this run wrote a valid one."""
    try:
        written = shared is not None and os.stat(output).st_mtime >= since
        identity = identity_of(path, shared) if written else None
        valid = written and check_output(
            output, config_id=config.config_id, uncertainty=config.uncertainty.enabled, identity=identity
        )[0]
    except (OSError, ValueError, KeyError, TypeError):
        valid = False
    if valid:
        return FileResult(str(path), str(output), "done", steps=["finished when the run was interrupted"])
    return FileResult(str(path), str(output), "cancelled")


def prep_files(
    inputs,
    out_dir,
    *,
    config=None,
    workers=None,
    scheduler=None,
    client=None,
    memory_limit="auto",
    progress=None,
    **options,
):
    """
    Promote many level-1 AIA files to level 1.5, writing one FITS file per input; return a report.

    Parameters
    ----------
    inputs : str, path-like, or iterable of them
        Files, directories (their FITS files) or glob patterns of level-1 FITS files, Rice-compressed or not.
        Directories and patterns never yield aiapy's own outputs.
    out_dir : path-like
        Output folder, created if needed. Output names are the input names with ``_lev1.5.fits``.
    config : `PrepConfig`, optional
        The steps and their options; default ``PrepConfig()`` (the standard prep: update_pointing with the
        header pointing, i.e. skipped, register, degradation, exposure; float32 outputs).
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
    **options
        Today's keywords, each one option of ``config`` (see `KEYWORDS`): ``steps`` (iterable or
        comma-separated str from `STEP_ORDER`), ``pointing`` (`POINTING_SOURCES` name or table path),
        ``spikes_dir``; register's ``method``, ``order``, ``missing``, ``cubic``...; deconvolve's
        ``iterations``, ``acceleration``...; ``uncertainty`` (bool: write the 1-sigma uncertainty as a
        second HDU, estimated on the counts after the geometric steps and scaled by degradation and
        exposure; the correlation interpolation introduces between pixels is not propagated, as in
        SolarSoft); ``dtype`` (``"float32"``/``"float64"``), ``compress`` (None, ``"rice"``: lossy
        quantisation to 1/16 of the noise as fpack, ``"gzip"``: lossless) and ``overwrite`` (redo valid
        outputs too).

    Returns
    -------
    `PrepReport`
        Per file: status, output path, timings, error; ``report.ok`` is True when every input has a
        complete output. Ctrl-C stops the run cleanly: finished outputs are kept and counted (those this
        run wrote are ``done``, read back from the disk), no partial file is left under an output name, the
        rest are reported ``cancelled`` and ``report.interrupted`` is set.

    Raises
    ------
    TypeError, ValueError
        For invalid options (checked before any file is read), or two inputs with one output name.
    FileNotFoundError
        If an input matches nothing.
    FileExistsError
        If an output would replace an input, or an existing file that is not an aiapy output (checked
        before any work).

    Notes
    -----
    **Resume.** An existing output is skipped only when it is complete (its checksums verify) and was made
    from the same input (size, modification time, and T_OBS, WAVELNTH, FSN, EXPTIME of its header), by
    the same aiapy version, with the same settings of the steps that run (`PrepConfig.config_id`: options
    of steps that do not run are left out) and the same pointing table content; otherwise it is redone
    and the reason noted in its `FileResult`. Outputs are written under a temporary name unique to the
    writing process and renamed, so concurrent runs into one folder never collide (the last one wins).

    **Execution.** The calibration tables and PSFs are computed once in this process and, with Dask,
    scattered to every worker once (``client.scatter(..., broadcast=True)``); each file is one task that
    reads its input and writes its own output, so only small reports travel back. Memory is bounded per
    task, not per batch: a worker holds one image at a time. For the standard prep of a 4096 x 4096 frame
    the peak resident memory of a worker process is about 0.6 GiB (about 0.3 GiB of it the imported
    libraries; measured by ``benchmarks/bench_pipeline.py`` and reported per file in
    ``FileResult.peak_memory_mib``); deconvolution adds the FFT buffers (several 4096 x 4096 complex
    arrays). Each local worker is limited to ``memory_limit``; Dask restarts a worker that exceeds it, and
    its file is reported failed.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from aiapy.data.sample import AIA_171_CUTOUT
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     report = prep_files(AIA_171_CUTOUT, Path(folder) / "lev15")
    ...     rerun = prep_files(AIA_171_CUTOUT, Path(folder) / "lev15")  # the valid output is skipped
    ...     names = [path.name for path in (Path(folder) / "lev15").iterdir()]
    >>> report.ok, report.settings["steps"], rerun.counts["skipped"]
    (True, ['register', 'degradation', 'exposure'], 1)
    >>> names
    ['aia_171_level1_cutout_769x705_2013-03-10_lev1.5.fits']
    """
    start, since = time.perf_counter(), time.time()
    config = make_config(config, **options)
    executor = _validate_executor(workers, scheduler, client)
    paths = expand_inputs(inputs)
    out_dir = Path(out_dir).expanduser().resolve()
    outputs = plan_outputs(paths, out_dir)
    prepare_out_dir(out_dir)
    settings = _report_settings(config, executor, out_dir) | {"workers": workers, "scheduler": scheduler}
    log.info("aiapy prep: %d file(s), steps %s, %s", len(paths), ", ".join(config.active_steps) or "none", executor)
    progress = _Progress(len(paths), sys.stderr.isatty() if progress is None else bool(progress))
    results, interrupted, shared = {}, False, None
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
            config = config.replace(register=config.register.replace(workers=1))
            with _dask_client(workers, scheduler, client, memory_limit, config) as dask_client:
                _run_dask(tasks, config, shared, progress, dask_client, results)
    except KeyboardInterrupt:
        interrupted = True
        log.warning("Interrupted: finished outputs are kept; rerun the same command to resume.")
    finally:
        progress.close()
    ordered = [
        results.get(path) or _on_disk(path, output, config, shared, since)
        for path, output in zip(paths, outputs, strict=True)
    ]
    report = PrepReport(ordered, settings, time.perf_counter() - start, interrupted)
    log.info("%s", report.summary())
    return report
