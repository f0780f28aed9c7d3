"""Downloads into aiapy's cache: mirrors in order, atomic writes, SHA-256 checks on every use.

A cached file is only ever created by `os.replace` of a completely downloaded and verified temporary file
in the same directory, so an interrupted download never leaves a partial file under the final name.
Each cached file has a sidecar ``<name>.sha256``: the expected hash where the registry knows it, else the
hash measured at download. A cached file whose content no longer matches (corrupted, truncated, edited)
is downloaded again.
"""

import logging
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from aiapy._version import __version__
from aiapy.data._registry import DataIntegrityError, sha256sum
from aiapy.net import budget as _budget
from aiapy.net.config import get_settings
from aiapy.net.exceptions import RemoteUnavailableError
from aiapy.net.retry import TruncatedError, with_retries
from aiapy.utils.exceptions import warn_user

__all__ = ["cached_file", "download", "http_get", "store_file"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 16
USER_AGENT = f"aiapy/{__version__} python/{sys.version_info.major}.{sys.version_info.minor}"


def http_get(url, *, timeout):
    """Open ``url`` (no transparent compression, aiapy user agent) with a per-operation ``timeout``."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "identity", "User-Agent": USER_AGENT})
    return urllib.request.urlopen(request, timeout=timeout)  # http(s) URLs from the settings only


def _sidecar(path):
    return path.with_name(path.name + ".sha256")


def _atomic_write_text(path, text):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
    os.replace(tmp, path)


def cached_file(relpath, *, sha256=None, settings=None):
    """
    The verified cached copy of ``relpath`` (relative to the cache directory), or None.

    A copy that fails its check (against ``sha256`` if given, else its sidecar) is deleted.
    """
    settings = settings or get_settings()
    path = settings.cache_dir / relpath
    if not path.is_file():
        return None
    sidecar = _sidecar(path)
    expected = sha256 or (sidecar.read_text(encoding="ascii").strip() if sidecar.is_file() else None)
    if expected is not None and sha256sum(path) == expected:
        return path
    log.warning("Cached %s is corrupt or unverified; it will be downloaded again.", path)
    path.unlink(missing_ok=True)
    sidecar.unlink(missing_ok=True)
    return None


def store_file(relpath, content, *, settings=None):
    """
    Write ``content`` (bytes) atomically to ``relpath`` in the cache directory, with its hash sidecar, so
    that `cached_file` returns it until it is corrupted; return its path.
    """
    settings = settings or get_settings()
    target = settings.cache_dir / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    _atomic_write_text(_sidecar(target), sha256sum(target) + "\n")
    return target


def _fetch(url, target, *, sha256, settings):
    """Download ``url`` to a temporary file beside ``target``; verify; move it into place."""
    limits = _budget.current(settings)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle, http_get(url, timeout=limits.timeout()) as response:
            expected_size = response.headers.get("Content-Length")
            size = 0
            while chunk := response.read1(_CHUNK):  # what has arrived, so the budget is checked as it comes
                handle.write(chunk)
                size += len(chunk)
                limits.check()  # a server trickling bytes cannot outlast the budget
        if expected_size is not None and size != int(expected_size):
            raise TruncatedError(f"{url} sent {size} bytes of the {expected_size} announced.")
        actual = sha256sum(tmp)
        if sha256 is not None and actual != sha256:
            raise DataIntegrityError(
                f"{url} has SHA-256 {actual}, not the expected {sha256}: the remote file changed or is corrupt."
            )
        os.replace(tmp, target)
        _atomic_write_text(_sidecar(target), actual + "\n")
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def download(urls, relpath, *, what, offline_hint, sha256=None, max_age=None, settings=None):
    """
    A verified local copy of a remote file, from the cache or downloaded from the first working URL.

    Parameters
    ----------
    urls : list of str
        Copies of the same file, tried in order.
    relpath : str
        Where the file lives in the cache directory.
    what : str
        Description of the file for messages, e.g. ``"the SSW error table"``.
    offline_hint : str
        The alternative to name when no copy can be downloaded.
    sha256 : str, optional
        The known SHA-256; without it, the hash measured at download guards the cached copy.
    max_age : float, optional
        Seconds after which a cached copy is refreshed (for files that change, e.g. the daily pointing
        table). If the refresh fails, the stale copy is used with a warning.
    settings : `~aiapy.net.config.NetSettings`, optional

    Raises
    ------
    RemoteUnavailableError
        If no URL delivered the file (after retries on transient errors, within the time budgets of
        `aiapy.net.budget`) and nothing usable is cached.
    aiapy.data.DataIntegrityError
        If every copy that could be downloaded failed its SHA-256 check.
    """
    settings = settings or get_settings()
    cached = cached_file(relpath, sha256=sha256, settings=settings)
    stale = cached is not None and max_age is not None and time.time() - cached.stat().st_mtime > max_age
    if cached is not None and not stale:
        return cached
    target = settings.cache_dir / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    with _budget.budget(settings) as limits:
        for i, url in enumerate(urls):
            if limits.exhausted():
                spent = f"{url} not tried: the {settings.total_budget:g} s budget is spent"
                errors.append(_budget.BudgetExceededError(spent))
                break
            log.debug("Downloading %s from %s", what, url)
            try:
                with limits.source(len(urls) - i):
                    return with_retries(
                        lambda url=url: _fetch(url, target, sha256=sha256, settings=settings),
                        what=f"Downloading {url}", settings=settings,
                    )  # fmt: skip
            except (OSError, urllib.error.URLError) as error:
                errors.append(error)
    if stale:
        warn_user(
            f"Could not refresh {what}; using the cached copy {cached} ({errors[-1]})."
        )
        return cached
    details = "; ".join(f"{type(e).__name__}: {e}" for e in errors)
    error_type = (
        DataIntegrityError
        if errors and all(isinstance(e, DataIntegrityError) for e in errors)
        else (RemoteUnavailableError)
    )
    raise error_type(f"Could not download {what} from {list(urls)}: {details}. {offline_hint}")
