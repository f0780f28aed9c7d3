"""From the archive to level 1.5 in one call: `prep_jsoc` finds level-1 records at the JSOC, downloads them
and preps them, the downloads overlapped with the prep so that the slower of the two sets the pace."""

import asyncio
import dataclasses
import logging
import sys
import time
from pathlib import Path

from astropy.io import fits

from aiapy.net.config import get_settings
from aiapy.pipeline._archive import (
    ArchiveOptions,
    Downloads,
    Fetched,
    check_reachable,
    exports,
    fetch_record,
    parse_channels,
    parse_time_range,
    prepare_folder,
    query_records,
)
from aiapy.pipeline._output import check_output
from aiapy.pipeline._report import FileResult, PrepReport
from aiapy.pipeline._run import (
    _dask_client,
    _Progress,
    _report_settings,
    _validate_executor,
    make_config,
    plan_outputs,
    prepare_out_dir,
)
from aiapy.pipeline._shared import build_shared
from aiapy.pipeline._steps import process_file
from aiapy.utils.constants import DETECTOR_SHAPE
from aiapy.utils.quality import check_quality_flag

__all__ = ["prep_jsoc"]

log = logging.getLogger(__name__)

_LEVEL1_DIR = ".level1"


def _configs(config, options):
    """The prep's `PrepConfig` and the `ArchiveOptions` from ``prep_jsoc``'s keywords."""
    archive_names = {f.name for f in ArchiveOptions.fields()}
    archive = ArchiveOptions(**{k: v for k, v in options.items() if k in archive_names})
    prep = make_config(config, **{k: v for k, v in options.items() if k not in archive_names})
    if prep.respike.spikes_dir is not None:
        raise ValueError(
            f"spikes_dir={prep.respike.spikes_dir!r} is not used by prep_jsoc: the spikes files come in the export."
        )
    return prep, archive


class _ArchiveProgress(_Progress):
    """The prep's progress bar (or log lines), with the downloaded count and rate in its postfix."""

    def __init__(self, total, show):
        super().__init__(total, show)
        self.downloaded, self.nbytes, self.start = 0, 0, time.perf_counter()

    def fetched(self, item):
        if item.paths is None:
            return
        self.downloaded += 1
        self.nbytes += item.nbytes
        rate = self.nbytes / 2**20 / max(time.perf_counter() - self.start, 1e-9)
        text = f"downloaded {self.downloaded}/{self.total} ({rate:.1f} MiB/s)"
        if self.bar is not None:
            self.bar.set_postfix_str(text)
        log.log(logging.DEBUG if self.bar is not None else logging.INFO, "%s: %s", item.record.name, text)


def _failed(record, output, error, seconds=0.0):
    return FileResult(record.name, str(output), "failed", seconds=seconds, error=error)


def _as_record_result(result, item):
    """The prep's result, named by the record, with the download's time."""
    result.input = item.record.name
    result.timings["download"] = item.seconds
    return result


def _prep_fetched(item, output, config, shared, keep):
    """A record's result: its download's failure, or the prep of its files (then deleted, unless kept)."""
    if item.error is not None:
        return _failed(item.record, output, item.error, item.seconds)
    result = process_file(item.paths[0], output, config, shared)
    if not keep:
        Downloads.remove(item.paths)
    return _as_record_result(result, item)


def _fetch_and_prep(record, source, output, config, shared, *, folder, segments, keep, settings):
    """A Dask task: download one record's files into ``folder`` (see `fetch_record`) and prep them."""
    item = asyncio.run(fetch_record(record, source, folder, segments, settings=settings))
    return item, _prep_fetched(item, output, config, shared, keep)


class _Prep:
    """Preps the records as their files arrive (here, or downloaded and prepped on Dask) and collects the results."""

    def __init__(self, outputs, config, shared, progress, keep):
        self.outputs, self.config, self.shared = outputs, config, shared
        self.progress, self.keep, self.results = progress, keep, {}

    def _record(self, item, result):
        self.results[item.record] = result
        self.progress.update(result)

    def run_serial(self, downloads):
        """Prep each record in this thread as the download thread hands it over."""
        for item in downloads:
            self.progress.fetched(item)
            self._record(item, _prep_fetched(item, self.outputs[item.record], self.config, self.shared, self.keep))
            if item.error is None:
                downloads.release()

    def run_dask(self, client, batches, **fetch):
        """
        One task per record, submitted as its export (``batches``, from `exports`) is ready: the worker
        downloads the files and preps them. Dask runs one task per worker thread, so at most that many records'
        files are on disk (unless kept).
        """
        from distributed import as_completed

        [shared] = client.scatter([self.shared], broadcast=True, hash=False)
        # one task per worker thread: register inside a task stays single-threaded (its prefilter too)
        config = self.config.replace(register=self.config.register.replace(workers=1))
        futures = {}
        try:
            for sources in batches:
                for record, source in sources.items():
                    task = client.submit(_fetch_and_prep, record, source, self.outputs[record], config, shared,
                                         keep=self.keep, pure=False, **fetch)  # fmt: skip
                    futures[task] = record
                self._collect(futures, [f for f in futures if f.done()])
            self._collect(futures, as_completed(list(futures)))
        finally:
            client.cancel(list(futures))

    def _collect(self, futures, done):
        for future in done:
            record = futures.pop(future)
            try:
                item, result = future.result()
            except Exception as error:  # a worker died (memory limit, killed): that record failed
                message = f"{type(error).__name__}: {error}"
                item, result = Fetched(record), _failed(record, self.outputs[record], message)
            self.progress.fetched(item)
            self._record(item, result)


def _complete(records, outputs, config, shared):
    """
    The records whose output is complete and valid (same settings, same pointing table, made from that
    record: its FSN), skipped without a download.
    """
    if config.output.overwrite:
        return {}
    identity = {"AIAPYPNT": shared.pointing_id} if shared.pointing_id is not None else None
    complete = {}
    for record in records:
        output = outputs[record]
        valid, _ = check_output(
            output, config_id=config.config_id, uncertainty=config.uncertainty.enabled, identity=identity
        )
        if valid and _fsn(output) == record.fsn:
            complete[record] = FileResult(record.name, str(output), "skipped")
    return complete


def _fsn(path):
    with fits.open(path) as hdulist:
        return next((h.header["FSN"] for h in hdulist if "FSN" in h.header), None)


def _settings(config, archive, start, end, channels, out_dir, executor, skipped):
    archive_settings = {k: v for k, v in archive.as_dict().items() if k != "email"}
    return _report_settings(config, executor, out_dir) | archive_settings | {
        "source": "jsoc", "time_range": [start.isot, end.isot], "channels": channels,
        "quality_skipped": [
            {"record": r.name, "quality": f"0x{r.quality:08x}", "flags": check_quality_flag(r.quality)} for r in skipped
        ],
    }  # fmt: skip


def prep_jsoc(
    time_range,
    channels,
    out_dir,
    *,
    cadence=None,
    email=None,
    config=None,
    workers=None,
    scheduler=None,
    client=None,
    memory_limit="auto",
    progress=None,
    **options,
):
    """
    Find level-1 AIA images at the JSOC, download them and promote them to level 1.5, downloads overlapped
    with the prep; return the same report as `prep_files`.

    Records come from ``aia.lev1_euv_12s`` (94-335 A), ``aia.lev1_uv_24s`` (1600, 1700 A) and
    ``aia.lev1_vis_1h`` (4500 A). Their
    image files are exported (``url_quick``, ``as-is``: the JSOC's own Rice-compressed files) and
    downloaded through `parfive`, each to a temporary name, checked (complete, FITS DATASUM/CHECKSUM, the
    WAVELNTH and FSN of the record), prepped and deleted (unless ``keep_level1``). Without Dask, a background
    thread downloads over ``in_flight`` connections while this one preps: where the server serves byte ranges
    (the JSOC does), one file at a time in ``in_flight`` parts, in record order, so that the first file is
    there after one file's transfer time and the others follow at an even pace (files fetched together
    would all arrive together, late, while the prep waits); otherwise ``in_flight`` files at once. At most
    ``2 * in_flight`` records' files are on disk or in flight at once. With Dask (``workers``, ``scheduler``
    or ``client``), this process queries and exports, and each record is one task that downloads its files
    (over one connection each) and preps them on a worker: Dask runs one task per worker thread, so at most
    that many records' files are on disk at once.

    Parameters
    ----------
    time_range : `sunpy.time.TimeRange`, str or (start, end)
        Records with T_REC in [start, end); a string is ``"START/END"``, e.g.
        ``"2011-02-15T00:00/2011-02-15T06:00"``.
    channels : int, `~astropy.units.Quantity`, str or iterable of them
        AIA channels in Angstrom, e.g. ``[171, 193]`` or ``"171,193"``.
    out_dir : path-like
        Output folder (created if needed); one ``<series>.<T_REC>.<channel>.image_lev1_lev1.5.fits`` per
        record.
    cadence : `~astropy.units.Quantity` or str, optional
        Keep, per channel, the first record of each interval (e.g. ``"1min"``, ``2 * u.h``); default: every
        record (12 s EUV, 24 s UV).
    email : str
        An address registered for JSOC exports (required).
    config : `PrepConfig`, optional
        The prep's steps and options, as for `prep_files` (keywords in ``**options`` change it). With the
        ``respike`` step, each record's spikes file comes in the same export; a ``"jsoc"``/``"lmsal"``
        pointing table is fetched once for the whole range.
    workers, scheduler, client, memory_limit, progress
        As for `prep_files`: the downloads and the prep run on the Dask workers (``in_flight`` does not
        apply; the output and level-1 folders must be on a file system the workers share, and the workers
        need to reach the JSOC). The progress counts records downloaded and prepped as their tasks end.
    **options
        The archive options (`ArchiveOptions`):

        - ``quality`` (``"good"``, ``"any"``): ``"good"`` (default) skips records with QUALITY != 0,
          listed with their decoded flags in ``report.settings["quality_skipped"]``; ``"any"`` preps them.
        - ``in_flight`` (int, default 4): connections downloading at once (without Dask): one file in that
          many byte ranges where the server serves them, else that many files.
        - ``keep_level1`` (path-like): keep the level-1 (and spikes) files in this folder, reused by later
          runs; default: a hidden ``.level1`` folder in ``out_dir``, emptied as the prep goes.
        - ``export_timeout`` (seconds, default 600): how long to wait for an export the JSOC has not
          finished (files staged from tape); the records of an export still pending then fail, saying so.

        and the prep options of `prep_files` (``steps``, ``pointing``, ``method``, ``iterations``,
        ``uncertainty``, ``dtype``, ``compress``, ``overwrite``, ...; see `KEYWORDS`).

    Returns
    -------
    `PrepReport`
        One `FileResult` per record (``input`` is the record, e.g. ``aia.lev1_euv_12s[2011-02-15T00:00:02Z][171]``;
        ``timings["download"]`` its download time). A record whose output is already complete is
        ``skipped`` without any download, so rerunning the same call resumes an interrupted run. A record
        that cannot be exported or downloaded intact after the configured retries, or has no image at the
        JSOC, is ``failed`` with the reason; it never stops the others.

    Raises
    ------
    TypeError, ValueError
        For invalid options, before any network access (``email`` missing included).
    aiapy.net.RemoteUnavailableError
        If the JSOC cannot be reached; the message names ``--email``/the network and the file-based
        ``aiapy prep`` alternative.
    aiapy.net.NoDataError
        If no record matches.
    """
    started = time.perf_counter()
    start, end = parse_time_range(time_range)
    channels = parse_channels(channels)
    config, archive = _configs(config, {"cadence": cadence, "email": email, **options})
    executor = _validate_executor(workers, scheduler, client)
    settings = get_settings()
    check_reachable(settings)
    records = query_records(start, end, channels, cadence=archive.cadence_seconds, settings=settings)
    skipped = [r for r in records if r.quality != 0] if archive.quality == "good" else []
    records = [r for r in records if r not in skipped]
    out_dir = Path(out_dir).expanduser().resolve()
    keep = archive.keep_level1 is not None
    folder = Path(archive.keep_level1).expanduser().resolve() if keep else out_dir / _LEVEL1_DIR
    outputs = dict(zip(records, plan_outputs([r.files(folder, ["image"])[0] for r in records], out_dir), strict=True))
    prepare_out_dir(out_dir)
    segments = ("image", "spikes") if "respike" in config.active_steps else ("image",)
    results, interrupted, prep, downloads, bar, shared = {}, False, None, None, None, None
    try:
        headers = [{"channel": r.channel, "shape": DETECTOR_SHAPE, "time": r.t_obs} for r in records]
        shared = build_shared(config, headers)  # a remote pointing table: once for the whole range
        results = _complete(records, outputs, config, shared)
        todo = [r for r in records if r not in results]
        log.info("aiapy prep --jsoc: %d record(s), %d to fetch, %d with QUALITY != 0 skipped, steps %s, %s",
                 len(records), len(todo), len(skipped), ", ".join(config.active_steps) or "none", executor)  # fmt: skip
        bar = _ArchiveProgress(len(todo), sys.stderr.isatty() if progress is None else bool(progress))
        prep = _Prep(outputs, config, shared, bar, keep)
        export = {"email": archive.email, "export_timeout": float(archive.export_timeout), "settings": settings}
        if executor == "serial":
            downloads = Downloads(todo, folder, segments=segments, in_flight=archive.in_flight,
                                  slots=None if keep else 2 * archive.in_flight, **export)  # fmt: skip
            prep.run_serial(downloads.start())
        else:
            prepare_folder(folder)
            with _dask_client(workers, scheduler, client, memory_limit, config) as dask_client:
                batches = exports(todo, folder, segments, **export)
                prep.run_dask(dask_client, batches, folder=folder, segments=segments, settings=settings)
    except KeyboardInterrupt:
        interrupted = True
        log.warning("Interrupted: finished outputs are kept; rerun the same command to resume.")
    finally:
        if downloads is not None:
            downloads.stop()
        if bar is not None:
            bar.close()
    results.update(prep.results if prep is not None else {})
    if interrupted and shared is not None:  # outputs the prep finished meanwhile (Dask workers) are on disk
        for record, result in _complete([r for r in records if r not in results], outputs, config, shared).items():
            note = ["finished when the run was interrupted"]
            results[record] = dataclasses.replace(result, status="done", steps=note)
    ordered = [results.get(r) or FileResult(r.name, str(outputs[r]), "cancelled") for r in records]
    report_settings = _settings(config, archive, start, end, channels, out_dir, executor, skipped)
    report = PrepReport(ordered, report_settings, time.perf_counter() - started, interrupted)
    log.info("%s", report.summary())
    return report
