"""JSOC data exports through `drms`, and verified parallel downloads of the exported files through `parfive`.

An export is the JSOC's way to hand out segment files: ``jsoc_fetch?op=exp_request`` with method
``url_quick`` and protocol ``as-is`` answers at once (status 0) with the files' paths when they are online,
or with a request id and a pending status (1, 2; 6 while the request is not yet registered) when they must
come back from tape; ``op=exp_status`` is then polled until the export succeeds or fails. `drms` builds the
requests and parses the answers (`drms.Client.export`, `drms.ExportRequest`); aiapy adds a timeout to each
request, bounded retries of each status poll and a deadline for the whole export.

The files themselves are fetched by `parfive` (the downloader of sunpy's ``Fido``): each to a temporary
name beside its target, checked (complete, FITS structure, DATASUM/CHECKSUM where the file carries them),
and only then renamed, so that no partial or corrupt file ever lies under a final name. Where the server
serves byte ranges (`accepts_ranges`; the JSOC's web server does), parfive can fetch one file over several
connections at once (HTTP ``Range`` requests, one per part). A caller that downloads many files in turn can
pass one ``aiohttp.TCPConnector`` to every call, so that each file reuses the kept-alive connections of the
ones before it rather than paying new TCP and TLS handshakes (several round trips to a far server).
"""

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiapy.net.config import get_settings
from aiapy.net.download import USER_AGENT
from aiapy.net.exceptions import RemoteUnavailableError
from aiapy.net.jsoc import _client
from aiapy.net.retry import with_retries

__all__ = [
    "ExportedFile",
    "ExportPendingError",
    "CorruptDownloadError",
    "export_files",
    "accepts_ranges",
    "fetch_verified",
    "verify_fits",
    "temporary_path",
]

log = logging.getLogger(__name__)

#: What the JSOC puts in place of a file that a record does not have.
NO_DATA_FILE = "NoDataFile"
_BLOCK = 2880
_PART = ".part"
_TOKENS = {}
_CHUNK = 1 << 16


class ExportPendingError(RemoteUnavailableError):
    """A JSOC export was still pending when its deadline passed."""


class CorruptDownloadError(OSError):
    """A downloaded file is incomplete or does not match its own DATASUM/CHECKSUM."""


@dataclass(frozen=True)
class ExportedFile:
    """One file of an export: the DRMS record with its segment (``series[...][...]{segment}``) and its URL
    (None when the record has no such file at the JSOC)."""

    record: str
    url: str | None


def _poll(request, *, what, settings):
    return with_retries(lambda: request.has_finished(), what=f"Status of {what}", settings=settings)


def export_files(ds, *, email, timeout=600.0, poll=None, settings=None):
    """
    Export the segment files of the DRMS record set ``ds`` (method ``url_quick``, protocol ``as-is``).

    Parameters
    ----------
    ds : str
        Record set with its segments, e.g. ``"aia.lev1_euv_12s[2011-02-15T00:00:00Z/1h][171]{image}"``.
    email : str
        An address registered for JSOC exports.
    timeout : float
        Seconds to wait for a pending export (files staged from tape) before giving up.
    poll : float, optional
        Seconds between status polls; default: the wait the JSOC suggests in each answer.
    settings : `~aiapy.net.config.NetSettings`, optional

    Returns
    -------
    request_id : str or None
        The export request id (None for an export answered at once).
    files : list of `ExportedFile`
        Every file of the export, in the JSOC's order; ``url`` is None for a record without that file.

    Raises
    ------
    RemoteUnavailableError
        If the JSOC cannot be reached or rejects the export (bad address, bad record set), after retries.
    ExportPendingError
        If the export is still pending after ``timeout`` seconds.
    """
    from drms import DrmsError

    settings = settings or get_settings()
    client = _client(settings)
    what = f"the JSOC export of {ds!r}"
    try:
        request = with_retries(
            lambda: client.export(ds, method="url_quick", protocol="as-is", email=email, filenamefmt=False),
            what=f"Requesting {what}", settings=settings,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not _poll(request, what=what, settings=settings):
            wait = float(request._d.get("wait") or 1.0) if poll is None else poll  # the JSOC's suggested wait
            if time.monotonic() + wait > deadline:
                raise ExportPendingError(
                    f"{what} (request {request.id}) is still pending after {timeout:g} s (status {request.status});"
                    " the JSOC may be staging the files from tape: rerun later (finished outputs are kept)."
                )
            log.info("JSOC export %s pending (status %s); next poll in %.1f s", request.id, request.status, wait)
            time.sleep(wait)
        listed, present = request.data, request.urls
    except DrmsError as error:
        raise RemoteUnavailableError(f"{what} failed: {error}") from error
    urls = dict(zip(present.record, present.url, strict=True))
    files = [
        ExportedFile(record, None if filename == NO_DATA_FILE else urls.get(record))
        for record, filename in zip(listed.record, listed.filename, strict=True)
    ]
    return request.id, files


def temporary_path(path):
    """
    The hidden name a file is downloaded under before it is verified and renamed, unique to this process:
    ``.<name>.<pid>@<host>@<token>.part``, so that concurrent runs downloading into one folder (a shared
    ``keep_level1``) never write, or remove, each other's partial files.
    """
    path = Path(path)
    pid = os.getpid()
    token = _TOKENS.setdefault(pid, uuid.uuid4().hex[:12])  # one per process (a forked child has its own pid)
    return path.with_name(f".{path.name}.{pid}@{socket.gethostname()}@{token}{_PART}")


def verify_fits(path):
    """
    Check that ``path`` is a complete FITS file whose HDUs match their DATASUM and CHECKSUM (where given).

    Complete means: a whole number of 2880-byte blocks, and the last HDU's data end exactly at the end of
    the file.

    Raises
    ------
    CorruptDownloadError
        Naming what does not match.
    """
    from astropy.io import fits

    size = os.path.getsize(path)
    if size == 0 or size % _BLOCK:
        raise CorruptDownloadError(f"{path}: {size} bytes, not a whole number of {_BLOCK}-byte FITS blocks")
    try:
        with fits.open(path, disable_image_compression=True, lazy_load_hdus=False) as hdulist:
            info = hdulist.fileinfo(len(hdulist) - 1)
            end = info["datLoc"] + info["datSpan"]
            if end != size:
                raise CorruptDownloadError(f"{path}: its HDUs end at byte {end}, the file has {size}")
            for index, hdu in enumerate(hdulist):
                if "DATASUM" in hdu.header and hdu.verify_datasum() != 1:
                    raise CorruptDownloadError(f"{path}: DATASUM of HDU {index} does not match its data")
                if "CHECKSUM" in hdu.header and hdu.verify_checksum() != 1:
                    raise CorruptDownloadError(f"{path}: CHECKSUM of HDU {index} does not match")
    except (OSError, ValueError, KeyError, TypeError) as error:
        if isinstance(error, CorruptDownloadError):
            raise
        raise CorruptDownloadError(f"{path}: not a readable FITS file ({type(error).__name__}: {error})") from error


def _describe(error):
    status = getattr(error, "status", None)  # parfive reports an HTTP error as the response itself
    if status is not None and not isinstance(error, BaseException):
        return f"HTTP {status}"
    return f"{type(error).__name__}: {error}".rstrip(": ")


def _session(headers, connector=None):
    """An ``aiohttp.ClientSession`` with ``headers``, over ``connector`` (shared, not closed with the session)
    if given, else over a connector of its own."""
    import aiohttp

    return aiohttp.ClientSession(connector=connector, connector_owner=connector is None, headers=headers,
                                 requote_redirect_url=False)  # fmt: skip


async def accepts_ranges(url, *, settings=None, connector=None):
    """
    Whether the server of ``url`` serves byte ranges of it: a HEAD request answered 200 with
    ``Accept-Ranges: bytes`` and a Content-Length (what `parfive` needs to split a download). False for any
    other answer or error (nothing is retried: a file is then fetched over one connection), and when
    parfive's ``PARFIVE_DISABLE_RANGE`` is set. ``connector``: as in `fetch_verified`.
    """
    import aiohttp

    if "PARFIVE_DISABLE_RANGE" in os.environ:
        return False
    settings = settings or get_settings()
    timeout = aiohttp.ClientTimeout(total=settings.timeout)
    try:
        async with _session({"User-Agent": USER_AGENT}, connector) as session:
            async with session.head(url, allow_redirects=True, timeout=timeout) as response:
                headers = response.headers
                ranges = headers.get("Accept-Ranges") == "bytes" and "Content-Length" in headers
                return response.status == 200 and ranges
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        log.debug("HEAD %s: %s; downloads will not be split", url, _describe(error))
        return False


async def _fetch_once(files, settings, splits, connector):
    import aiohttp
    import parfive

    timeouts = aiohttp.ClientTimeout(total=None, sock_connect=settings.timeout, sock_read=settings.timeout)
    config = parfive.SessionConfig(
        timeouts=timeouts,
        file_progress=False,
        headers={"User-Agent": USER_AGENT},
        aiohttp_session_generator=lambda config: _session(config.headers, connector),
    )
    downloader = parfive.Downloader(max_conn=len(files), max_splits=splits, progress=False, overwrite=True,
                                    config=config)  # fmt: skip
    for url, target in files:
        part = temporary_path(target)
        # 64 KiB reads: parfive's default 1 KiB chunks take CPU time (and the GIL) from the prep beside it
        downloader.enqueue_file(url, path=part.parent, filename=part.name, chunksize=_CHUNK)
    results = await downloader.run_download()
    if results.errors:
        raise RemoteUnavailableError("; ".join(f"{e.url}: {_describe(e.exception)}" for e in results.errors))


async def fetch_verified(files, *, settings=None, verify=None, splits=1, flying=None, connector=None):
    """
    Download ``files`` (``[(url, target path), ...]``, e.g. a record's image and spikes) together, verify each
    and move them to their targets; retry the whole set on a failure.

    Each file is written under its `temporary_path` beside its target (restarted from the beginning by a later
    call), checked with `verify_fits` and ``verify(target, temporary)`` (optional, e.g. that the file is the
    record asked for), then renamed. Each file is fetched over up to ``splits`` connections at once (byte
    ranges, where the server serves them: see `accepts_ranges`); after a split attempt that does not verify,
    the next ones fetch each file whole (a server may announce byte ranges and answer with the whole file,
    or a part may be corrupt). ``flying`` (optional, e.g. an
    `asyncio.Semaphore`) is held while the bytes are transferred, not while they are verified or between
    attempts. Every attempt has the configured per-read timeout, so a stalled transfer fails rather than
    hangs; ``1 + settings.retries`` attempts are made with the configured back-off. On cancellation the
    temporary files are removed.

    ``connector`` (optional, an ``aiohttp.TCPConnector`` of the running loop, owned and closed by the caller)
    carries the transfers: connections kept alive by the server after earlier calls are reused, and a
    connection whose transfer failed or was cut short is closed, never reused (aiohttp keeps only those
    whose answer was read to its end). By default each call opens its own connections and closes them.

    Raises
    ------
    RemoteUnavailableError
        If the files could not be downloaded (HTTP errors, stalls, truncations) in any attempt.
    CorruptDownloadError
        If the last attempt downloaded files that failed verification.
    """
    settings = settings or get_settings()
    for attempt in range(settings.retries + 1):
        try:
            async with flying or contextlib.nullcontext():
                await _fetch_once(files, settings, splits, connector)
            for _, target in files:
                verify_fits(temporary_path(target))
                if verify is not None:
                    verify(target, temporary_path(target))
            for _, target in files:
                os.replace(temporary_path(target), target)
            return [target for _, target in files]
        except (RemoteUnavailableError, CorruptDownloadError) as error:
            log.debug("Download of %s, attempt %d failed: %s", files[0][0], attempt + 1, error)
            last = error
            if isinstance(error, CorruptDownloadError):
                splits = 1
            _remove_parts(files)
            if attempt < settings.retries:
                await asyncio.sleep(settings.backoff * 2**attempt)
        except BaseException:
            _remove_parts(files)
            raise
    raise type(last)(f"after {settings.retries + 1} attempt(s): {last}") from last


def _remove_parts(files):
    for _, target in files:
        with contextlib.suppress(OSError):
            os.remove(temporary_path(target))
