"""From the archive to level 1.5 in one call: `prep_jsoc` finds level-1 records at the JSOC, downloads them
and preps them, the downloads overlapped with the prep so that the slower of the two sets the pace."""

import dataclasses
import logging
import os
import time
from pathlib import Path

from aiapy.net.config import get_settings
from aiapy.pipeline._archive import (
    Downloads,
    check_reachable,
    parse_cadence,
    parse_channels,
    parse_time_range,
    query_records,
)
from aiapy.pipeline._config import PrepConfig
from aiapy.pipeline._inputs import output_path
from aiapy.pipeline._output import check_output
from aiapy.pipeline._report import FileResult, PrepReport
from aiapy.pipeline._run import _dask_client, _Progress, _validate
from aiapy.pipeline._shared import build_shared
from aiapy.pipeline._steps import process_file
from aiapy.utils.constants import DETECTOR_SHAPE
from aiapy.utils.quality import check_quality_flag

__all__ = ["prep_jsoc", "QUALITY_CHOICES"]

log = logging.getLogger(__name__)

#: ``good``: records with QUALITY != 0 are not fetched (they are listed in the report); ``any``: all are.
QUALITY_CHOICES = ("good", "any")
#: The options of `prep_files` that `prep_jsoc` passes on to the prep, with their defaults.
_PREP_OPTIONS = {
    "steps": PrepConfig.steps, "pointing": "header", "dtype": "float32", "compress": None, "uncertainty": False,
    "overwrite": False, "iterations": 25, "acceleration": None, "method": "spline", "order": 3,
}  # fmt: skip
_LEVEL1_DIR = ".level1"


def _prep_config(config, options, workers, scheduler, client):
    unknown = sorted(set(options) - set(_PREP_OPTIONS))
    if unknown:
        raise TypeError(f"prep_jsoc got unknown option(s) {unknown}; prep options are {sorted(_PREP_OPTIONS)}.")
    if config is not None:
        if options:
            raise TypeError(f"give either config or the prep options {sorted(options)}, not both.")
        if not isinstance(config, PrepConfig):
            raise TypeError(f"config must be a PrepConfig, not {type(config).__name__}.")
        options = {name: getattr(config, name) for name in _PREP_OPTIONS}
    values = {**_PREP_OPTIONS, **options}
    steps, pointing, dtype = _validate(
        values["steps"], values["pointing"], values["dtype"], values["compress"], values["iterations"],
        values["acceleration"], values["method"], values["order"], workers, scheduler, client,
    )  # fmt: skip
    values.update(steps=steps, pointing=pointing, dtype=dtype, uncertainty=bool(values["uncertainty"]),
                  overwrite=bool(values["overwrite"]))  # fmt: skip
    return PrepConfig(**values)


def _validate_archive(email, quality, in_flight, export_timeout):
    if not isinstance(email, str) or "@" not in email:
        raise ValueError(
            f"email={email!r}: prep_jsoc (aiapy prep --jsoc ... --email ADDRESS) needs an address registered for "
            "JSOC exports (register at http://jsoc.stanford.edu/ajax/register_email.html). Without the network, "
            "use the file-based `aiapy prep FILES -o DIR` (aiapy.pipeline.prep_files)."
        )
    if quality not in QUALITY_CHOICES:
        raise ValueError(f"quality={quality!r} is not known; choose from {QUALITY_CHOICES}.")
    if isinstance(in_flight, bool) or not isinstance(in_flight, int) or in_flight < 1:
        raise ValueError(f"in_flight must be a positive int, not {in_flight!r}.")
    if not isinstance(export_timeout, int | float) or not export_timeout > 0:
        raise ValueError(f"export_timeout must be a positive number of seconds, not {export_timeout!r}.")


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
        log.debug("%s: %s", item.record.name, text)


def _failed(record, output, error, seconds=0.0):
    return FileResult(record.name, str(output), "failed", seconds=seconds, error=error)


def _as_record_result(result, item):
    """The prep's result, named by the record, with the download's time."""
    result.input = item.record.name
    result.timings["download"] = item.seconds
    return result


class _Prep:
    """Hands downloaded records to the prep (here or on Dask) and collects the results."""

    def __init__(self, downloads, outputs, config, shared, progress, keep):
        self.downloads, self.outputs, self.config, self.shared = downloads, outputs, config, shared
        self.progress, self.keep, self.results = progress, keep, {}

    def _done(self, item, result):
        if not self.keep:
            Downloads.remove(item.paths)
        self.downloads.release()
        self._record(item.record, _as_record_result(result, item))

    def _record(self, record, result):
        self.results[record] = result
        self.progress.update(result)

    def _arrived(self, item):
        self.progress.fetched(item)
        if item.error is not None:
            self._record(item.record, _failed(item.record, self.outputs[item.record], item.error, item.seconds))
            return False
        return True

    def run_serial(self):
        for item in self.downloads:
            if self._arrived(item):
                self._done(item, process_file(item.paths[0], self.outputs[item.record], self.config, self.shared))

    def run_dask(self, client):
        [shared] = client.scatter([self.shared], broadcast=True, hash=False)
        config = dataclasses.replace(self.config, threads=1)
        futures, finished = {}, False
        try:
            while not finished or futures:
                # wait for a download; while tasks run, look at them every 50 ms
                for item in self.downloads.ready(timeout=0.05 if futures else None):
                    if item is None:
                        finished = True
                    elif self._arrived(item):
                        output = self.outputs[item.record]
                        futures[client.submit(process_file, item.paths[0], output, config, shared, pure=False)] = item
                for future in [f for f in futures if f.done()]:
                    item = futures.pop(future)
                    self._done(item, self._future_result(future, item))
        finally:
            client.cancel(list(futures))

    def _future_result(self, future, item):
        try:
            return future.result()
        except Exception as error:  # a worker died (memory limit, killed): that file failed
            return FileResult(str(item.paths[0]), str(self.outputs[item.record]), "failed", error=f"{type(error).__name__}: {error}")


def _settings(config, start, end, channels, cadence, quality, in_flight, keep, out_dir, executor, skipped):
    return {
        "source": "jsoc", "time_range": [start.isot, end.isot], "channels": channels, "cadence_s": cadence,
        "quality": quality, "in_flight": in_flight, "keep_level1": keep, "steps": list(config.active_steps),
        "pointing": config.pointing, "dtype": config.dtype, "compress": config.compress,
        "uncertainty": config.uncertainty, "overwrite": config.overwrite, "executor": executor,
        "config_id": config.config_id, "out_dir": str(out_dir),
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
    quality="good",
    in_flight=4,
    keep_level1=None,
    export_timeout=600.0,
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

    Records come from ``aia.lev1_euv_12s`` (94-335 A) and ``aia.lev1_uv_24s`` (1600, 1700, 4500 A). Their
    image files are exported (``url_quick``, ``as-is``: the JSOC's own Rice-compressed files) and
    downloaded ``in_flight`` at a time through `parfive`, each to a temporary name, checked (complete,
    FITS DATASUM/CHECKSUM, the WAVELNTH and FSN of the record) and handed to the prep, which runs here or on
    Dask while the next files download. At most ``2 * in_flight`` records' files are on disk at once
    (unless ``keep_level1``); each is deleted once prepped.

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
        The prep's settings as one object; or give them as keywords (``**options``), not both.
    quality : {"good", "any"}
        ``"good"`` (default) skips records with QUALITY != 0 (listed, with their decoded flags, in
        ``report.settings["quality_skipped"]``); ``"any"`` preps them too.
    in_flight : int
        Files downloaded at once.
    keep_level1 : path-like, optional
        Keep the level-1 files (and spikes files) in this folder; they are reused by later runs. Default:
        a hidden ``.level1`` folder in ``out_dir``, emptied as the prep goes.
    export_timeout : float
        Seconds to wait for an export the JSOC has not finished (files staged from tape); the records of
        an export still pending then fail with a message saying so.
    workers, scheduler, client, memory_limit, progress
        As for `prep_files`: the prep runs on Dask workers (downloads stay in this process; the output and
        level-1 folders must be on a file system the workers share).
    **options
        The prep options of `prep_files`: ``steps``, ``pointing``, ``dtype``, ``compress``,
        ``uncertainty``, ``overwrite``, ``iterations``, ``acceleration``, ``method``, ``order``. With the
        ``respike`` step, each record's spikes file comes in the same export. A ``"jsoc"``/``"lmsal"``
        pointing table is fetched once for the whole range.

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
    seconds = parse_cadence(cadence)
    _validate_archive(email, quality, in_flight, export_timeout)
    config = _prep_config(config, options, workers, scheduler, client)
    settings = get_settings()
    check_reachable(settings)
    records = query_records(start, end, channels, cadence=seconds, settings=settings)
    skipped = [r for r in records if r.quality != 0] if quality == "good" else []
    records = [r for r in records if r not in skipped]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(keep_level1) if keep_level1 is not None else out_dir / _LEVEL1_DIR
    outputs = {r: output_path(r.files(folder, ["image"])[0], out_dir) for r in records}
    results = {}
    for record in records:
        if not config.overwrite and check_output(outputs[record], config_id=config.config_id, uncertainty=config.uncertainty)[0]:
            results[record] = FileResult(record.name, str(outputs[record]), "skipped")
    todo = [r for r in records if r not in results]
    executor = "serial" if workers is None and scheduler is None and client is None else "dask"
    log.info("aiapy prep --jsoc: %d record(s), %d to fetch, %d with QUALITY != 0 skipped, steps %s, %s",
             len(records), len(todo), len(skipped), ", ".join(config.active_steps) or "none", executor)  # fmt: skip
    segments = ("image", "spikes") if "respike" in config.active_steps else ("image",)
    downloads = Downloads(
        todo, folder, segments=segments, email=email, in_flight=in_flight,
        slots=None if keep_level1 is not None else 2 * in_flight, export_timeout=float(export_timeout),
        settings=settings,
    )  # fmt: skip
    progress = _ArchiveProgress(len(todo), (os.isatty(2) if progress is None else bool(progress)))
    interrupted, prep = False, None
    try:
        headers = [{"channel": r.channel, "shape": DETECTOR_SHAPE, "time": r.t_obs} for r in records]
        shared = build_shared(config, headers)  # a remote pointing table: once for the whole range
        prep = _Prep(downloads.start(), outputs, config, shared, progress, keep_level1 is not None)
        if executor == "serial":
            prep.run_serial()
        else:
            with _dask_client(workers, scheduler, client, memory_limit) as dask_client:
                prep.run_dask(dask_client)
    except KeyboardInterrupt:
        interrupted = True
        log.warning("Interrupted: finished outputs are kept; rerun the same command to resume.")
    finally:
        downloads.stop()
        progress.close()
    results.update(prep.results if prep is not None else {})
    ordered = [results.get(r) or FileResult(r.name, str(outputs[r]), "cancelled") for r in records]
    settings_out = _settings(config, start, end, channels, seconds, quality, in_flight,
                             None if keep_level1 is None else str(keep_level1), out_dir, executor, skipped)  # fmt: skip
    report = PrepReport(ordered, settings_out, time.perf_counter() - started, interrupted)
    log.info("%s", report.summary())
    return report
