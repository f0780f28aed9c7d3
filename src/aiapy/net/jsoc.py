"""Queries of the JSOC DRMS through `drms`, with timeouts, retries and a configurable server.

`drms` is used as the JSON client (its ``jsoc_info`` ``op=rs_list`` and ``op=series_struct`` calls and
its parsing), on a `drms.ServerConfig` built from the configured JSOC URL, so that a mirror or a local
test server is reached through the same code path as the JSOC. `drms` 0.9 opens every URL with a fixed
60 s timeout unless the process-wide socket default is set, and leaves the connection for the garbage
collector to close; aiapy gives its client a JSON layer that applies the configured timeout, cut to the
time budget left (`aiapy.net.budget`), to each request and closes each connection after reading,
leaving the global socket default alone.
"""

import json
import logging
import re

import numpy as np
from astropy.table import Table

from aiapy.net import budget as _budget
from aiapy.net.config import get_settings
from aiapy.net.download import download, http_get
from aiapy.net.exceptions import NoDataError, RemoteUnavailableError
from aiapy.net.retry import with_retries
from aiapy.utils.times import JSOC_TIME, parse_time_text

__all__ = ["jsoc_time_to_isot", "query", "segment_file"]

log = logging.getLogger(__name__)

def jsoc_time_to_isot(text):
    """
    Convert a DRMS time string (``2010.05.13_00:00:00_TAI``, ``_UTC``, ``_Z`` or ``Z``; see
    `aiapy.utils.times.JSOC_TIME`) to ISO UTC (``2010-05-13T00:00:00.000``); other strings are returned unchanged.
    """
    if JSOC_TIME.match(str(text).strip()) is None:
        return text
    return parse_time_text(text).utc.isot


class _Answer:
    """What `drms` expects back from a JSON request: an object with ``.data``."""

    def __init__(self, data):
        self.data = data


def _client(settings):
    # drms (and pandas) load only when the JSOC is actually queried.
    import drms
    from drms.json import HttpJsonClient

    class _TimedJsonClient(HttpJsonClient):
        def _json_request(self, url):
            log.debug("JSOC request %s", url)
            with http_get(url, timeout=_budget.current(settings).timeout()) as response:
                raw = response.read()
            return _Answer(json.loads(raw.decode(self._server.encoding)))

    server = drms.ServerConfig(
        name="aiapy",
        cgi_baseurl=f"{settings.jsoc_url}cgi-bin/ajax/",
        cgi_jsoc_info="jsoc_info",
        cgi_jsoc_fetch="jsoc_fetch",
        cgi_show_series="show_series",
        http_download_baseurl=settings.jsoc_url,
    )
    client = drms.Client(server=server)
    client._json = _TimedJsonClient(server)  # drms has no public way to set the request timeout
    return client


def _to_table(frame):
    table = Table.from_pandas(frame) if len(frame.columns) else Table()
    for name in table.colnames:
        if table[name].dtype.kind in "OU":
            table[name] = [jsoc_time_to_isot(value) for value in table[name]]
    return table


def query(ds, *, key=None, seg=None, offline_hint="", settings=None):
    """
    Query the JSOC for the record set ``ds``.

    Parameters
    ----------
    ds : str
        A DRMS record-set specification, e.g. ``"aia.master_pointing3h[2021-01-01T00:00Z/1d]"``.
    key : str, optional
        Comma-separated keywords, or ``"**ALL**"``.
    seg : str, optional
        Comma-separated segment names; their columns hold each record's file path on the server.
    offline_hint : str
        What to use instead, appended to the message if the JSOC cannot be reached.
    settings : `~aiapy.net.config.NetSettings`, optional

    Returns
    -------
    `~astropy.table.Table`
        One row per record: the keyword columns (numbers as numbers, DRMS times as ISO UTC strings) then
        the segment columns.

    Raises
    ------
    RemoteUnavailableError
        If the JSOC cannot be reached, times out, keeps failing or rejects the query.
    NoDataError
        If the query matched no record.
    """
    from drms import DrmsError

    settings = settings or get_settings()
    client = _client(settings)

    def attempt():
        result = client.query(ds, key=key, seg=seg)
        return result if isinstance(result, tuple) else (result,)

    what = f"The JSOC query {ds!r} at {settings.jsoc_url}"
    try:
        frames = with_retries(attempt, what=what, settings=settings)
    except RemoteUnavailableError as error:
        raise RemoteUnavailableError(f"{error}. {offline_hint}".strip()) from error.__cause__
    except (DrmsError, OSError) as error:
        raise RemoteUnavailableError(f"{what} failed: {error}. {offline_hint}".strip()) from error
    tables = [_to_table(frame) for frame in frames]
    rows = max(len(table) for table in tables)
    if rows == 0:
        raise NoDataError(f"No data found for this query: {ds}, key: {key}, seg: {seg} (server {settings.jsoc_url}).")
    result = Table()
    for table in tables:
        for name in table.colnames:
            result[name] = table[name]
    return result


def segment_file(path, *, what, offline_hint, settings=None):
    """
    Download (or reuse from the cache) the segment file at ``path`` on the JSOC web server.

    ``path`` is a value of a segment column of `query` (``/SUM.../S00000/spikes.fits``). Segment files of
    a record never change, so the cached copy is guarded by the hash measured at download.
    """
    settings = settings or get_settings()
    path = str(path)
    if not path.startswith("/") or ".." in path:
        raise ValueError(f"A JSOC segment path must be absolute on the server; got {path!r}.")
    relpath = "jsoc/" + re.sub(r"[^A-Za-z0-9_./-]", "_", path.lstrip("/"))
    url = settings.jsoc_url + path.lstrip("/")
    return download([url], relpath, what=what, offline_hint=offline_hint, settings=settings)


def nearest_rows(record_times, times, *, tolerance):
    """
    For each of ``times`` (Time), the index of the nearest of ``record_times`` (Time), or -1 if none lies
    within ``tolerance`` seconds.
    """
    if len(record_times) == 0:
        return np.full(len(times), -1)
    delta = np.abs((times[:, None] - record_times[None, :]).to_value("s"))
    best = np.argmin(delta, axis=1)
    return np.where(delta[np.arange(len(times)), best] <= tolerance, best, -1)
