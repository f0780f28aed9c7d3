"""The archive side of `aiapy.pipeline.prep_jsoc`: which level-1 records to fetch from the JSOC, their exports,
and a download queue that hands verified files to the prep, bounded so that neither side runs far ahead.

Records come from ``aia.lev1_euv_12s`` (EUV), ``aia.lev1_uv_24s`` (UV) and ``aia.lev1_vis_1h`` (4500 A, hourly);
their keywords
decide what is fetched (QUALITY, the cadence) and check that each downloaded file is the record asked
for (WAVELNTH, FSN). Exports are made in time-ordered chunks of at most `EXPORT_CHUNK` records, so a
resumed run exports only what it still needs and one failed export costs only its chunk.
"""

import asyncio
import contextlib
import dataclasses
import logging
import os
import queue
import re
import socket
import threading
import time
import urllib.parse
from pathlib import Path

import astropy.units as u
from astropy.io import fits
from astropy.time import Time
from sunpy.time import TimeRange

from aiapy.net import jsoc
from aiapy.net.exceptions import NoDataError, RemoteUnavailableError
from aiapy.net.export import (
    CorruptDownloadError,
    accepts_ranges,
    export_files,
    fetch_verified,
    temporary_path,
    verify_fits,
)
from aiapy.pipeline._inputs import remove_stale_temporaries
from aiapy.utils.options import Options, option
from aiapy.utils.times import parse_time_text

__all__ = [
    "SERIES", "EXPORT_CHUNK", "KEYWORDS", "QUALITY_CHOICES", "ArchiveOptions", "Record", "query_records", "Downloads",
    "check_reachable", "prepare_folder", "exports", "fetch_record",
]  # fmt: skip

log = logging.getLogger(__name__)

#: The level-1 series of each channel (Angstrom).
SERIES = {
    **{channel: "aia.lev1_euv_12s" for channel in (94, 131, 171, 193, 211, 304, 335)},
    **{channel: "aia.lev1_uv_24s" for channel in (1600, 1700)},
    4500: "aia.lev1_vis_1h",
}
#: The keywords read for each record.
KEYWORDS = ("T_REC", "T_OBS", "WAVELNTH", "QUALITY", "EXPTIME", "FSN")
#: ``good``: records with QUALITY != 0 are not fetched (they are listed in the report); ``any``: all are.
QUALITY_CHOICES = ("good", "any")
#: Most records in one export request.
EXPORT_CHUNK = 500
#: What to use instead of the archive path when the JSOC cannot be reached.
OFFLINE_HINT = (
    "prep_jsoc (aiapy prep --jsoc) needs the network and an address registered for JSOC exports (--email). "
    "Offline, download the level-1 files another way and run the file-based `aiapy prep FILES -o DIR` "
    "(aiapy.pipeline.prep_files)."
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ArchiveOptions(Options):
    """The options of the archive part of `aiapy.pipeline.prep_jsoc` (``aiapy prep --jsoc``)."""

    email: str | None = option(None, help="an address registered for JSOC exports (required with --jsoc)")
    cadence: str | None = option(None, help="keep one record per channel and interval, e.g. 12s, 1min, 1h")
    quality: str = option("good", help="good: skip records with QUALITY != 0 (listed in the report); any: keep them",
                          choices=QUALITY_CHOICES)  # fmt: skip
    in_flight: int = option(4, help="connections downloading at once: where the server serves byte ranges (the JSOC "
                                    "does), one file at a time in that many parts, in record order; else that many "
                                    "files at once")  # fmt: skip
    keep_level1: str | None = option(None, help="keep the level-1 files in this folder (reused by later runs)")
    export_timeout: float = option(600.0, help="seconds to wait for a pending JSOC export (files staged from tape)")

    def _validate(self):
        if not isinstance(self.email, str) or "@" not in self.email:
            raise ValueError(
                f"email={self.email!r}: prep_jsoc (aiapy prep --jsoc ... --email ADDRESS) needs an address registered "
                "for JSOC exports (register at http://jsoc.stanford.edu/ajax/register_email.html). Without the "
                "network, use the file-based `aiapy prep FILES -o DIR` (aiapy.pipeline.prep_files)."
            )
        parse_cadence(self.cadence)
        if self.quality not in QUALITY_CHOICES:
            raise ValueError(f"quality={self.quality!r} is not known; choose from {QUALITY_CHOICES}.")
        if isinstance(self.in_flight, bool) or not isinstance(self.in_flight, int) or self.in_flight < 1:
            raise ValueError(f"in_flight must be a positive int, not {self.in_flight!r}.")
        if isinstance(self.export_timeout, bool) or not isinstance(self.export_timeout, int | float):
            raise TypeError(f"export_timeout must be a number of seconds, not {self.export_timeout!r}.")
        if not self.export_timeout > 0:
            raise ValueError(f"export_timeout must be positive, not {self.export_timeout!r}.")
        if self.keep_level1 is not None:
            object.__setattr__(self, "keep_level1", str(self.keep_level1))

    @property
    def cadence_seconds(self):
        """Seconds between selected records; None: every record."""
        return parse_cadence(self.cadence)


@dataclasses.dataclass(frozen=True)
class Record:
    """One level-1 record: its prime keys and the keywords that decide whether and how it is prepped."""

    series: str
    t_rec: str
    channel: int
    t_obs: str
    quality: int
    exptime: float
    fsn: int

    @property
    def name(self):
        """The DRMS record specification, e.g. ``aia.lev1_euv_12s[2011-02-15T01:44:02Z][171]``."""
        return f"{self.series}[{self.t_rec}][{self.channel}]"

    @property
    def stem(self):
        """The base of the local file names: series, T_REC (no colons) and channel."""
        return f"{self.series}.{self.t_rec.replace(':', '')}.{self.channel}"

    def files(self, folder, segments):
        """Local paths of the record's segments: ``<stem>.image_lev1.fits`` and ``<stem>.spikes.fits``."""
        names = {"image": f"{self.stem}.image_lev1.fits", "spikes": f"{self.stem}.spikes.fits"}
        return [Path(folder) / names[segment] for segment in segments]


def parse_time_range(time_range):
    """
    ``(start, end)`` Times of a `sunpy.time.TimeRange`, a ``"START/END"`` string or a 2-sequence (ISO or JSOC
    forms, `aiapy.utils.times.parse_time_text`). An end before the start is refused, never swapped.
    """
    if isinstance(time_range, TimeRange):
        return time_range.start.utc, time_range.end.utc
    given = time_range
    if isinstance(time_range, str):
        time_range = time_range.split("/")
        if len(time_range) != 2:
            raise ValueError(f"time_range {given!r} must be 'START/END', e.g. '2011-02-15T00:00/2011-02-15T06:00'.")
    try:
        start, end = (value if isinstance(value, Time) else parse_time_text(value) for value in time_range)
    except (TypeError, ValueError) as error:
        raise ValueError(f"time_range {given!r} is not a time range: {error}") from None
    if not (start.isscalar and end.isscalar):
        raise ValueError(f"time_range {given!r} must be two single times.")
    if end <= start:
        raise ValueError(
            f"time_range {given!r} ends ({end.utc.isot}) before it starts ({start.utc.isot}); give START/END in order."
        )
    return start.utc, end.utc


def parse_cadence(cadence):
    """Seconds between selected records (None: every record) from a Quantity or a string like ``"1min"``."""
    if cadence is None:
        return None
    try:
        seconds = u.Quantity(cadence).to_value(u.s)
    except (TypeError, ValueError, u.UnitsError) as error:
        raise ValueError(f"cadence {cadence!r} is not a time interval (e.g. '12s', '1min', 2*u.h): {error}") from None
    if not seconds > 0:
        raise ValueError(f"cadence must be positive, not {cadence!r}.")
    return float(seconds)


def parse_channels(channels):
    """Channels (Angstrom) as sorted ints from ints, Quantities or a comma-separated string."""
    if isinstance(channels, str):
        channels = [c for c in channels.split(",") if c.strip()]
    elif isinstance(channels, int | u.Quantity) and not (isinstance(channels, u.Quantity) and channels.ndim):
        channels = [channels]
    parsed = set()
    for channel in channels:
        value = channel.to_value(u.AA) if isinstance(channel, u.Quantity) else float(str(channel).strip())
        if value not in SERIES:
            raise ValueError(f"channel {channel!r} is not an AIA channel; choose from {sorted(SERIES)}.")
        parsed.add(int(value))
    if not parsed:
        raise ValueError("channels is empty; give at least one AIA channel, e.g. [171, 193].")
    return sorted(parsed)


def _jsoc_time(time):
    return time.utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def check_reachable(settings):
    """
    Raise `RemoteUnavailableError` at once (no retries) if nothing answers at the JSOC's host and port: a
    machine without network refuses or fails to resolve immediately.
    """
    url = urllib.parse.urlsplit(settings.jsoc_url)
    try:
        with socket.create_connection((url.hostname, url.port or 80), timeout=settings.timeout):
            pass
    except OSError as error:
        raise RemoteUnavailableError(
            f"Cannot reach the JSOC at {settings.jsoc_url} ({type(error).__name__}: {error}). {OFFLINE_HINT}"
        ) from error


def _records(table, series):
    return [
        Record(series, str(row["T_REC"]), int(row["WAVELNTH"]), str(row["T_OBS"]), int(row["QUALITY"]),
               float(row["EXPTIME"]), int(row["FSN"]))
        for row in table
    ]  # fmt: skip


def _select_cadence(records, start, seconds):
    """Per channel, the first record of each ``seconds`` interval counted from ``start``."""
    chosen, seen = [], set()
    for record in records:
        slot = (record.channel, int((Time(record.t_rec.rstrip("Z"), scale="utc") - start).to_value(u.s) // seconds))
        if slot not in seen:
            seen.add(slot)
            chosen.append(record)
    return chosen


def query_records(start, end, channels, *, cadence=None, settings):
    """
    The level-1 records of ``channels`` with T_REC in [start, end), time-ordered, at most one per channel
    and ``cadence`` seconds.

    Raises
    ------
    NoDataError
        If no record matches.
    RemoteUnavailableError
        If the JSOC cannot be reached (the message names the file-based alternative).
    """
    records = []
    for series in sorted({SERIES[c] for c in channels}):
        wanted = ",".join(str(c) for c in channels if SERIES[c] == series)
        ds = f"{series}[{_jsoc_time(start)}-{_jsoc_time(end - 1 * u.ms)}][{wanted}]"
        try:
            table = jsoc.query(ds, key=",".join(KEYWORDS), offline_hint=OFFLINE_HINT, settings=settings)
        except NoDataError:
            continue
        records += _records(table, series)
    if not records:
        raise NoDataError(f"The JSOC has no level-1 record of channels {channels} from {start.isot} to {end.isot}.")
    records.sort(key=lambda r: (r.t_rec, r.channel))
    return records if cadence is None else _select_cadence(records, start, cadence)


_RECORD = re.compile(r"^(?P<series>[\w.]+)\[(?P<t_rec>[^\]]+)\]\[(?P<channel>\d+)\](?:\{(?P<segment>\w+)\})?$")


def _time_key(text):
    """T_REC to whole seconds, whichever DRMS time format it is written in (for matching export records)."""
    return Time(jsoc.jsoc_time_to_isot(text).rstrip("Z"), scale="utc").strftime("%Y-%m-%dT%H:%M:%S")


def _chunks(records):
    """Time-ordered chunks of at most `EXPORT_CHUNK` records of one series each."""
    for series in sorted({r.series for r in records}):
        mine = [r for r in records if r.series == series]
        for i in range(0, len(mine), EXPORT_CHUNK):
            yield mine[i : i + EXPORT_CHUNK]


def _export_spec(chunk, segments):
    first, last = chunk[0].t_rec, chunk[-1].t_rec
    channels = ",".join(str(c) for c in sorted({r.channel for r in chunk}))
    return f"{chunk[0].series}[{first}-{last}][{channels}]{{{','.join(segments)}}}"


def _urls_by_record(files):
    urls = {}
    for file in files:
        match = _RECORD.match(file.record.replace(" ", ""))
        if match:
            # the segment from the record, else from the file name (image_lev1.fits, spikes.fits)
            segment = match["segment"] or ("spikes" if "spikes" in (file.url or "").rsplit("/", 1)[-1] else "image")
            urls.setdefault((_time_key(match["t_rec"]), int(match["channel"])), {})[segment] = file.url
    return urls


def _check_record(record):
    """A verifier that a downloaded image is the record asked for (WAVELNTH and FSN of its header)."""

    def verify(target, temporary):
        if not target.name.endswith(".image_lev1.fits"):
            return
        with fits.open(temporary) as hdulist:
            header = next(h.header for h in hdulist if h.header.get("NAXIS") == 2)
        wavelength, fsn = header.get("WAVELNTH"), header.get("FSN")
        wrong_channel = wavelength is not None and int(wavelength) != record.channel
        if wrong_channel or (fsn is not None and int(fsn) != record.fsn):
            raise CorruptDownloadError(
                f"{target.name}: got the image of WAVELNTH={wavelength}, FSN={fsn}, not that of {record.name} "
                f"(FSN={record.fsn})"
            )

    return verify


def _stamp(paths, record):
    """
    Set the files' modification time to the record's T_REC: a file downloaded again is then the same input
    to the prep (whose outputs carry the input's size, time and keys), so outputs are identical across runs.
    """
    stamp = Time(record.t_rec.rstrip("Z"), scale="utc").unix
    for path in paths:
        os.utime(path, (stamp, stamp))


def _verified_local(paths, record):
    """True when every path exists and passes the download checks (a file kept from an earlier run)."""
    try:
        for path in paths:
            verify_fits(path)
            _check_record(record)(path, path)
    except (OSError, StopIteration):
        return False
    return True


def prepare_folder(folder):
    """
    Create the level-1 folder; remove the partial downloads that killed runs of this host left there (they
    restart), never those of a live run sharing the folder (`remove_stale_temporaries`).
    """
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(folder)


def _export(chunk, segments, *, email, export_timeout, settings):
    """The URLs of the chunk's records (``{(t_rec, channel): {segment: url}}``), or the export's error."""
    if not chunk:
        return {}
    try:
        _, files = export_files(_export_spec(chunk, segments), email=email, timeout=export_timeout, settings=settings)
    except RemoteUnavailableError as error:
        return f"{type(error).__name__}: {error}"
    return _urls_by_record(files)


def exports(records, folder, segments, *, email, export_timeout, settings):
    """
    Export ``records`` chunk by chunk; yield, per chunk, each record's source for `fetch_record`: None when
    its files are already in ``folder`` (verified, left by an earlier run; not exported), else its
    ``{segment: url}`` or the export's error (a str).
    """
    for chunk in _chunks(records):
        local = {r for r in chunk if _verified_local(r.files(folder, segments), r)}
        urls = _export([r for r in chunk if r not in local], segments, email=email, export_timeout=export_timeout,
                       settings=settings)  # fmt: skip
        yield {
            r: None if r in local else urls if isinstance(urls, str) else urls.get((_time_key(r.t_rec), r.channel), {})
            for r in chunk
        }


@dataclasses.dataclass
class Fetched:
    """A record's download: its local files (the image first) or the error; seconds and bytes spent."""

    record: Record
    paths: list | None = None
    error: str | None = None
    seconds: float = 0.0
    nbytes: int = 0


async def fetch_record(record, source, folder, segments, *, settings, flying=None, splits=1, connector=None):
    """
    Download one record's files (``segments``) into ``folder`` from its ``source`` (from `exports`: None, the
    files are there already; a dict of URLs; or an export's error) with `fetch_verified` (temporary names,
    each file over up to ``splits`` connections, verified, retried; over the shared ``connector`` if given),
    holding the ``flying`` semaphore (optional) while the bytes are transferred; return its `Fetched`, with
    the error of a record that could not be downloaded intact.
    """
    start = time.perf_counter()
    targets = record.files(folder, segments)
    result = Fetched(record)
    if source is None:
        result.paths = targets  # downloaded (and verified) by an earlier, interrupted run
    elif isinstance(source, str):
        result.error = source
    else:
        missing = [s for s in segments if not source.get(s)]
        if "image" in missing:
            result.error = f"NoDataError: the JSOC has no image file for {record.name} (missing image)"
        else:
            # a record without spikes is prepped without respike (noted in the report)
            files = [(source[s], t) for s, t in zip(segments, targets, strict=True) if s not in missing]
            try:
                result.paths = await fetch_verified(files, settings=settings, verify=_check_record(record),
                                                    splits=splits, flying=flying, connector=connector)  # fmt: skip
            except (RemoteUnavailableError, CorruptDownloadError) as error:
                result.error = f"{type(error).__name__}: {error}"
            if result.paths:
                result.nbytes = sum(p.stat().st_size for p in result.paths)
                _stamp(result.paths, record)
    result.seconds = time.perf_counter() - start
    return result


class Downloads:
    """
    Exports and downloads ``records`` in a background thread (an asyncio loop, parfive) and yields each
    record's `Fetched` as it completes, in completion order.

    ``in_flight`` connections transfer at once. Where the server serves byte ranges (`accepts_ranges`, asked
    once, of the first file), the files are fetched one after the other in record order, each over
    ``in_flight`` connections (one byte range each): the first file arrives after one file's transfer time
    and the next ones follow at an even pace, while the prep works on the earlier ones. Otherwise
    ``in_flight`` files are fetched at once, one connection each. All transfers share one
    ``aiohttp.TCPConnector``, so each file reuses the connections the server kept alive after the ones
    before it (no new TCP and TLS handshakes per file: several round trips each to a far server); it is
    closed when the queue ends or is stopped.

    At most ``slots`` records are on disk or in flight at once: a slot is taken before a download starts
    and given back by `release` once the prep is done with the files (``slots=None``: unbounded).
    """

    _DONE = object()

    def __init__(self, records, folder, *, segments, email, in_flight, slots, export_timeout, settings):
        self.records, self.folder, self.segments = records, Path(folder), tuple(segments)
        self.email, self.in_flight, self.export_timeout, self.settings = email, in_flight, export_timeout, settings
        self.slots, self.splits = slots, None
        self.results = queue.Queue()
        self._loop = self._main = None
        self._slots = self._connector = None
        self._thread = threading.Thread(target=self._run, name="aiapy-jsoc-downloads", daemon=True)

    def start(self):
        prepare_folder(self.folder)
        self._thread.start()
        return self

    def __iter__(self):
        while (item := self.results.get()) is not self._DONE:
            yield item

    def _call(self, callback):
        with contextlib.suppress(AttributeError, RuntimeError):  # the loop has not started or has ended
            self._loop.call_soon_threadsafe(callback)

    def release(self):
        """Give back the disk slot of one record whose files are no longer needed."""
        if self.slots:
            self._call(lambda: self._slots.release())

    def stop(self):
        """Cancel the downloads in flight (their temporary files are removed) and wait for the thread."""
        self._call(lambda: self._main.cancel())
        if self._thread.is_alive():
            self._thread.join(timeout=self.settings.timeout + 5)

    def _run(self):
        loop = asyncio.new_event_loop()
        try:
            self._main = loop.create_task(self._download_all())
            self._loop = loop
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(self._main)
        except Exception:  # not expected: the records left are reported cancelled
            log.exception("The JSOC download queue stopped")
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            self.results.put(self._DONE)

    async def _download_all(self):
        import aiohttp

        self._slots = asyncio.Semaphore(self.slots) if self.slots else None
        flying = None
        batches = exports(self.records, self.folder, self.segments, email=self.email,
                          export_timeout=self.export_timeout, settings=self.settings)  # fmt: skip
        tasks = []
        self._connector = aiohttp.TCPConnector()
        try:
            while (sources := await asyncio.to_thread(next, batches, None)) is not None:
                urls = [s["image"] for s in sources.values() if isinstance(s, dict) and s.get("image")]
                if flying is None and urls:  # the first files to transfer: split them, or fetch several at once
                    ranges = self.in_flight > 1 and await accepts_ranges(urls[0], settings=self.settings,
                                                                         connector=self._connector)  # fmt: skip
                    self.splits = self.in_flight if ranges else 1
                    flying = asyncio.Semaphore(self.in_flight // self.splits)
                    log.debug("Downloads: %d file(s) at once, %d connection(s) each", self.in_flight // self.splits,
                              self.splits)  # fmt: skip
                for record, source in sources.items():
                    if self._slots is not None:
                        await self._slots.acquire()
                    tasks.append(asyncio.create_task(self._fetch(record, source, flying)))
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._connector.close()

    async def _fetch(self, record, source, flying):
        result = await fetch_record(record, source, self.folder, self.segments, settings=self.settings, flying=flying,
                                    splits=self.splits or 1, connector=self._connector)  # fmt: skip
        if result.error is not None:
            self.release()
        self.results.put(result)

    @staticmethod
    def remove(paths):
        """Delete a record's level-1 files (after its prep)."""
        for path in paths or ():
            Path(path).unlink(missing_ok=True)
            temporary_path(path).unlink(missing_ok=True)
