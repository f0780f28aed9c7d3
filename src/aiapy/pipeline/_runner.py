"""
The batch runner: every front end (`prep_files`, `prep_jsoc`, ...) is a source and a sink handed to `run`, which
has one serial loop and one Dask loop (a local cluster or a running scheduler), one progress bar, one report,
one resume rule (the sink's `~aiapy.pipeline._product.Sink.is_complete`) and one Ctrl-C rule.
"""

import contextlib
import dataclasses
import importlib
import logging
import os
import sys
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm.auto import tqdm

from aiapy.pipeline._preflight import cap_workers
from aiapy.pipeline._product import StageError
from aiapy.pipeline._report import REDONE, FileResult, PrepReport
from aiapy.pipeline._shared import build_shared
from aiapy.pipeline._steps import (
    find_spikes_file,
    identity_of,
    load_kernels,
    prep_map,
    read_level1,
    short_exposure_note,
)

__all__ = ["run", "Executor", "Progress", "Work", "dask_client", "prep_item", "INTERRUPTED_NOTE"]

log = logging.getLogger(__name__)

#: The step noted for an output found complete on disk after Ctrl-C, its result not come back.
INTERRUPTED_NOTE = "finished when the run was interrupted"
# Dask config for local worker processes. Dask's default sets MALLOC_TRIM_THRESHOLD_ in the workers, which
# turns off glibc's adaptive mmap threshold, so more temporaries are mmap'd and page-faulted afresh:
# register ran slower (the tap engine itself allocates nothing per tile, so it is not affected). None leaves
# it out (single-threaded BLAS/OpenMP stay); `_without_environ` also keeps out the copy that an earlier
# default Dask cluster leaves in this process's environment.
# The statistical profiler samples every thread's stack every 10 ms, taking the GIL from a task that makes
# many short numpy calls per image: it is off (the gain is measured by benchmarks/bench_pipeline.py).
_MALLOC_TRIM = "MALLOC_TRIM_THRESHOLD_"
#: What every worker must import to run a task.
WORKER_MODULE = "aiapy.pipeline._runner"
_WORKER_CONFIG = {
    f"distributed.nanny.pre-spawn-environ.{_MALLOC_TRIM}": None,
    "distributed.worker.profile.enabled": False,
}


@dataclasses.dataclass(frozen=True)
class Executor:
    """
    Where a run's items are prepped: in this process (the default), on a local Dask cluster of ``workers``
    single-threaded processes (each limited to ``memory_limit``), on a running ``scheduler``, or on an existing
    ``client`` (not closed afterwards). At most one of ``workers``, ``scheduler`` and ``client``.
    """

    workers: int | None = None
    scheduler: str | None = None
    client: object = None
    memory_limit: object = "auto"

    def __post_init__(self):
        workers = self.workers
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ValueError(f"workers must be None (serial) or a positive int, not {workers!r}.")
        if sum(x is not None for x in (workers, self.scheduler, self.client)) > 1:
            raise ValueError("give at most one of workers, scheduler and client.")

    @property
    def kind(self):
        """``"serial"`` or ``"dask"``."""
        return "serial" if self.workers is None and self.scheduler is None and self.client is None else "dask"


class Progress:
    """A progress bar on a terminal, otherwise one log line per item; the downloaded count and rate where the
    source downloads."""

    def __init__(self, total, show):
        self.total, self.count, self.downloaded, self.nbytes = total, 0, 0, 0
        self.start = time.perf_counter()
        self.bar = tqdm(total=total, unit="img", file=sys.stderr, dynamic_ncols=True) if show else None

    def update(self, result, nbytes=0):
        self.count += 1
        quiet = logging.DEBUG if self.bar is not None else logging.INFO
        text = f"[{self.count}/{self.total}] {result.status} {result.input}"
        text += f": {result.error}" if result.error else f" -> {result.output} ({result.seconds:.1f} s)"
        if result.replaced:
            text += f" [{result.steps[0]}]"
        postfix = result.status
        if nbytes:
            self.downloaded += 1
            self.nbytes += nbytes
            rate = self.nbytes / 2**20 / max(time.perf_counter() - self.start, 1e-9)
            postfix = f"downloaded {self.downloaded} ({rate:.1f} MiB/s)"
            log.log(quiet, "%s: %s", result.input, postfix)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(postfix, refresh=False)
        log.log(logging.WARNING if result.status == "failed" else quiet, text)
        for message in result.warnings:
            log.debug("%s: %s", result.input, message)

    def close(self):
        if self.bar is not None:
            self.bar.close()


@dataclasses.dataclass(frozen=True)
class Work:
    """What every task of a run needs, sent to each Dask worker once: the source, sink, settings and tables."""

    source: object
    sink: object
    config: object
    shared: object


_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _reset_peak_memory():
    """Reset the kernel's peak-RSS mark of this process (Linux >= 4.0), so the next reading is per item."""
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


def prep_item(work, unit):
    """
    A task, on the worker: stage one item's file, read it, prep it (`prep_map`) and hand the product to the
    sink. Never raises for a bad item (only for KeyboardInterrupt/SystemExit): errors become a ``failed``
    `FileResult`; warnings are collected into it, not raised.

    Returns
    -------
    result : `FileResult`
    nbytes : int
        Bytes the staging downloaded.
    """
    _reset_peak_memory()
    start = time.perf_counter()
    item = work.source.item_of(unit)
    result = FileResult(item.name, str(work.sink.target(item)), "failed")
    notes, nbytes, config = {"steps": result.steps, "timings": result.timings}, 0, work.config
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with work.source.stage(unit) as staged:
                result.timings.update(staged.timings)
                nbytes = staged.nbytes
                smap = read_level1(staged.path, result.timings, level15=work.sink.accepts_level15)
                short = short_exposure_note(smap)
                if short is not None:
                    result.steps.append(short)
                    if config.output.skip_short_exposures:
                        result.status, result.output = "skipped", None
                        return _finished(result, caught, start), nbytes
                respiking = "respike" in config.active_steps
                spikes = find_spikes_file(staged.path, config.respike.spikes_dir) if respiking else None
                product = prep_map(smap, config, work.shared, spikes=spikes, notes=notes)
                product.provenance = identity_of(staged.path, work.shared)
                start_write = time.perf_counter()
                work.sink.write(item, product, config)
                result.timings["write"] = time.perf_counter() - start_write
                result.status = "done"
        except StageError as error:  # its message is the report's error (a download's, an export's)
            result.error = str(error)
        except Exception as error:  # one bad file must not stop the batch; the report carries the error
            result.error = f"{type(error).__name__}: {error}"
    return _finished(result, caught, start), nbytes


def _finished(result, caught, start):
    """``result`` with the warnings ``caught``, the seconds since ``start`` and the peak memory."""
    result.warnings = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    result.seconds = time.perf_counter() - start
    result.peak_memory_mib = _peak_memory_mib()
    return result


@contextlib.contextmanager
def dask_client(executor, config):
    """
    The Dask client of a run: ``executor.client`` as it is; or one of a running scheduler, or of a new local
    cluster, whose workers import the pipeline and load the compiled code of the run's ``config`` before any
    task.
    """
    if executor.client is not None:
        yield executor.client
        return
    import dask
    from distributed import Client, LocalCluster

    if executor.scheduler is not None:
        with Client(executor.scheduler) as remote:
            _load_on_workers(remote, config)
            yield remote
        return
    with dask.config.set(_WORKER_CONFIG), _without_environ(_MALLOC_TRIM):
        cluster = LocalCluster(n_workers=executor.workers, threads_per_worker=1, processes=True,
                               memory_limit=executor.memory_limit, dashboard_address=":0")  # fmt: skip
    with cluster, Client(cluster) as local:
        log.info("Local Dask cluster: %d worker process(es), dashboard %s", executor.workers, local.dashboard_link)
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
        client.run(importlib.import_module, WORKER_MODULE)
        client.run(load_kernels, config)
    except ImportError as error:
        raise RuntimeError(
            f"The Dask workers cannot import {WORKER_MODULE} ({type(error).__name__}: {error}); install the"
            " same aiapy in the workers' environment."
        ) from error


class _Collector:
    """The results of a run by item name, each counted on the progress bar as it comes."""

    def __init__(self, source, sink, progress, redone):
        self.source, self.sink, self.progress, self.redone = source, sink, progress, redone
        self.results = {}

    def add(self, result, nbytes=0):
        reason = self.redone.get(result.input)
        if reason is not None and result.status != "skipped":
            result.steps.insert(0, f"{REDONE} ({reason})")
        self.results[result.input] = result
        self.progress.update(result, nbytes)

    def future(self, future, unit):
        item = self.source.item_of(unit)
        try:
            result, nbytes = future.result()
        except Exception as error:  # a worker died (memory limit, killed): that item failed
            result = FileResult(
                item.name, str(self.sink.target(item)), "failed", error=f"{type(error).__name__}: {error}"
            )
            nbytes = 0
        self.add(result, nbytes)


def _run_serial(work, feed, collector):
    for batch in feed:
        for unit in batch:
            collector.add(*prep_item(work, unit))


def _run_dask(work, feed, collector, client):
    from distributed import as_completed

    # The tables, PSFs, source and sink go to every worker once; each task receives a reference, not a copy.
    [work_future] = client.scatter([work], broadcast=True, hash=False)
    token = uuid.uuid4().hex[:8]  # task keys unique to this run, even when runs share a client
    futures, pending = {}, set()
    try:
        for batch in feed:  # each batch as the source has it ready (an export done), its tasks at once
            for unit in batch:
                future = client.submit(prep_item, work_future, unit, key=f"prep-{token}-{len(futures)}")
                futures[future] = unit
                pending.add(future)
            for future in [f for f in pending if f.done()]:
                pending.discard(future)
                collector.future(future, futures[future])
        for future in as_completed(list(pending)):
            pending.discard(future)
            collector.future(future, futures[future])
    except KeyboardInterrupt:
        for future in pending:  # items the workers finished meanwhile are written: count them
            if future.status == "finished":
                collector.future(future, futures[future])
        raise
    finally:
        client.cancel(list(futures))


#: Threads that check existing outputs before a run (`_resume_states`): the checks mostly read files, so more
#: threads than cores (the standard library's default for I/O).
RESUME_CHECK_THREADS = min(32, (os.cpu_count() or 1) + 4)


def _resume_states(sink, items, config):
    """
    ``(complete, reason redone)`` of each item's existing output, by the sink's resume rule, in a pool of
    `RESUME_CHECK_THREADS` threads: a rerun over a day of outputs verifies each file's checksums (reads and
    numpy sums that release the interpreter lock), which one thread would do one file after the other.
    """
    if config.output.overwrite:
        return [(False, None)] * len(items)
    with ThreadPoolExecutor(max_workers=RESUME_CHECK_THREADS) as pool:
        return list(pool.map(lambda item: sink.resume_state(item, config), items))


def _interrupted(item, sink, config, since):
    """After Ctrl-C: the result of an item not reported, done if this run wrote its complete output."""
    try:
        done = sink.written_since(item, since) and sink.is_complete(item, config)
    except (OSError, ValueError, KeyError, TypeError):
        done = False
    return FileResult(item.name, str(sink.target(item)), "done" if done else "cancelled",
                      steps=[INTERRUPTED_NOTE] if done else [])  # fmt: skip


def run(source, sink, config, *, executor, progress=None, settings=None):
    """
    Prep every item of ``source`` into ``sink``; return the run's report.

    The source plans the items; the sink checks its destination before any work (`Sink.open`); the tables
    and PSFs are computed once here (`build_shared`); items whose output is already complete (`Sink.is_complete`,
    the one resume rule; not with ``config.output.overwrite``) are skipped, the others staged, prepped and
    written by `prep_item`, here or on the Dask workers, as the source has them ready.

    Parameters
    ----------
    source : `~aiapy.pipeline._product.Source`
    sink : `~aiapy.pipeline._product.Sink`
    config : `PrepConfig`
    executor : `Executor`
    progress : bool, optional
        Show a progress bar; default: when stderr is a terminal. Otherwise a log line per item (INFO).
    settings : dict, optional
        What the front end adds to the report's settings.

    Returns
    -------
    `PrepReport`
        One `FileResult` per item, in the source's order. Ctrl-C stops the run: finished outputs are kept and
        counted (the results that came back; and outputs this run wrote that are complete on disk, noted
        `INTERRUPTED_NOTE`), the rest are ``cancelled``, ``report.interrupted`` is set and the sink is closed.
    """
    start, since = time.perf_counter(), time.time()
    items, failed = source.plan(config)
    sink.open(items, config)
    run_settings = {"executor": executor.kind, "config_id": config.config_id, "out_dir": str(sink),
                    "workers": executor.workers, "scheduler": executor.scheduler}  # fmt: skip
    report_settings = config.keywords() | run_settings | source.settings() | (settings or {})
    show = sys.stderr.isatty() if progress is None else bool(progress)
    bar = Progress(len(items), show)
    collector, interrupted, todo = _Collector(source, sink, bar, {}), False, []
    try:
        for item in items:
            if item.name in failed:
                collector.add(FileResult(item.name, str(sink.target(item)), "failed", error=failed[item.name]))
        shared = build_shared(config, [item.facts for item in items if item.name not in failed])
        pointing = {} if shared.pointing_id is None else {"AIAPYPNT": shared.pointing_id}
        items = [dataclasses.replace(item, identity=item.identity | pointing) for item in items]
        candidates = [item for item in items if item.name not in failed]
        for item, (complete, reason) in zip(candidates, _resume_states(sink, candidates, config), strict=True):
            if complete:
                collector.add(FileResult(item.name, str(sink.target(item)), "skipped"))
                continue
            if reason is not None:
                collector.redone[item.name] = reason
            todo.append(item)
        log.info("%s: %d item(s), %d to prep, steps %s, %s", source.label, len(items), len(todo),
                 ", ".join(config.active_steps) or "none", executor.kind)  # fmt: skip
        if executor.kind == "serial":
            with source.feed(todo, serial=True) as feed:
                _run_serial(Work(source, sink, config, shared), feed, collector)
        else:
            # one task per worker thread: register inside a task stays single-threaded (its prefilter too)
            config = config.replace(register=config.register.replace(workers=1))
            if executor.workers is not None:  # a local cluster: no more processes than items and cores
                executor = dataclasses.replace(executor, workers=cap_workers(executor.workers, len(todo)))
            with dask_client(executor, config) as client, source.feed(todo, serial=False) as feed:
                _run_dask(Work(source, sink, config, shared), feed, collector, client)
    except KeyboardInterrupt:
        interrupted = True
        log.warning("Interrupted: finished outputs are kept; rerun the same command to resume.")
    finally:
        bar.close()
    results = [collector.results.get(item.name) or _interrupted(item, sink, config, since) for item in items]
    sink.close(results)
    report = PrepReport(results, report_settings, time.perf_counter() - start, interrupted)
    log.info("%s", report.summary())
    return report
