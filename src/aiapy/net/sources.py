"""The remote calibration sources aiapy knows: SSW mirror files, the JSOC series, the LMSAL pointing CSV.

Functions returning a path give a verified local copy (cache or download); functions returning a table
give the raw JSOC answer, which `aiapy.calibrate.utils` turns into the documented table. Each failure
message names the offline alternative.
"""

import io

import astropy.units as u
from astropy.time import Time
from sunpy.time import TimeRange

from aiapy.data._registry import get_entry
from aiapy.net import jsoc
from aiapy.net.config import get_settings
from aiapy.net.download import cached_file, download, store_file

__all__ = [
    "INSTRUMENT_FILES",
    "OFFLINE_HINTS",
    "POINTING_OFFLINE_HINT",
    "correction_table_jsoc",
    "correction_table_ssw",
    "error_table_ssw",
    "instrument_file",
    "pointing_table_jsoc",
    "pointing_table_jsoc_day",
    "pointing_table_lmsal",
    "ssw_file",
    "time_range_bounds",
]

#: SSW instrument (effective-area) files, by kind: the name of their entry in the data registry (which
#: holds the path under a mirror root and the pinned SHA-256).
INSTRUMENT_FILES = {"euv": "instrument_file_euv_v8", "fuv": "instrument_file_fuv_v8"}

#: What to do without the pointing servers (used by `update_pointing` and `get_pointing_table`).
POINTING_OFFLINE_HINT = (
    "Offline, pass a pointing table you have (update_pointing(smap, pointing_table=table), e.g. "
    "get_pointing_table('/path/to/aia_pointing_table.csv') read from a saved copy of the LMSAL mirror's CSV), "
    "or keep the header's pointing (skip update_pointing; the level-1 header values are the MPT values in "
    "force when the file was made). get_pointing_table() gives the bundled rows (2010-05-13 only)."
)

#: What to use instead of each remote source when offline.
OFFLINE_HINTS = {
    "correction": "Offline, use get_correction_table() (the bundled V10 and V8 tables) or pass a file path, "
    "e.g. get_correction_table('aia_V10_20201119_190000_response_table.txt').",
    "error": "Offline, use get_error_table() (the bundled V3 table) or pass a file path.",
    "pointing": POINTING_OFFLINE_HINT,
    "instrument": "Offline, download {filename} ({ssw_path} under any SolarSoft mirror) yourself and pass "
    "instrument_file='/path/to/{filename}'; Channel(instrument_file=None) uses the bundled V9 data for the "
    "EUV channels.",
}

#: Seconds after which the cached LMSAL pointing CSV (regenerated daily) is refreshed.
POINTING_MAX_AGE = 86400.0
#: Cadence of ``aia.master_pointing3h``: a query starts this much earlier so that the row in force at the
#: start of the requested range is included.
POINTING_CADENCE = 3 * u.h


def ssw_file(ssw_path, *, sha256, what, offline_hint, settings=None):
    """A verified copy of the file at ``ssw_path`` under a SolarSoft mirror root (mirrors tried in order)."""
    settings = settings or get_settings()
    urls = [mirror + ssw_path for mirror in settings.ssw_mirrors]
    return download(urls, f"ssw/{ssw_path}", sha256=sha256, what=what, offline_hint=offline_hint, settings=settings)


def _registered_ssw_file(name, kind):
    entry = get_entry(name)
    return ssw_file(
        entry.ssw_path, sha256=entry.sha256, what=f"{entry.filename} (SSW)", offline_hint=OFFLINE_HINTS[kind]
    )


def correction_table_ssw():
    """Path of the newest SSW degradation table (V10, 2020-11-19), from the cache or a mirror."""
    return _registered_ssw_file("correction_table_v10", "correction")


def error_table_ssw():
    """Path of the SSW error table V3, from the cache or a mirror."""
    return _registered_ssw_file("error_table_v3", "error")


def instrument_file(kind="euv"):
    """
    Path of the SSW V8 instrument file (``aia_V8_all_fullinst.genx`` for ``"euv"``,
    ``aia_V8_fuv_fullinst.genx`` for ``"fuv"``), from the cache or a mirror, checked against the SHA-256
    pinned in the data registry.
    """
    if kind not in INSTRUMENT_FILES:
        raise ValueError(f"kind must be one of {sorted(INSTRUMENT_FILES)}; got {kind!r}.")
    entry = get_entry(INSTRUMENT_FILES[kind])
    hint = OFFLINE_HINTS["instrument"].format(filename=entry.filename, ssw_path=entry.ssw_path)
    return ssw_file(
        entry.ssw_path, sha256=entry.sha256, what=f"the {kind.upper()} instrument file {entry.filename}",
        offline_hint=hint,
    )  # fmt: skip


def correction_table_jsoc():
    """Every record of the JSOC ``aia.response`` series (all calibration versions), as a raw table."""
    return jsoc.query("aia.response[][!1=1!]", key="**ALL**", offline_hint=OFFLINE_HINTS["correction"])


def time_range_bounds(time_range):
    """
    ``(start, end)`` (UTC Times) of ``time_range``: a sunpy ``TimeRange``, a Time with at least 2 elements,
    or a list or tuple of at least 2 times or strings.

    Raises
    ------
    TypeError
        For anything else.
    """
    if isinstance(time_range, TimeRange):
        return time_range.start.utc, time_range.end.utc
    if isinstance(time_range, Time) and time_range.ndim == 1 and len(time_range) >= 2:
        return time_range.min().utc, time_range.max().utc
    if isinstance(time_range, list | tuple) and len(time_range) >= 2:
        times = Time([Time(t).utc.isot for t in time_range], scale="utc")
        return times.min(), times.max()
    raise TypeError(
        "time_range must be a sunpy TimeRange, an astropy Time with at least 2 elements, a list or a tuple; "
        f"got {time_range!r}."
    )


def pointing_table_jsoc(time_range, *, offline_hint=POINTING_OFFLINE_HINT):
    """
    The ``aia.master_pointing3h`` records covering ``time_range``, as a raw table.

    The query starts one cadence (3 h) before the range, so the row in force at its start is included.
    """
    start, end = time_range_bounds(time_range)
    start = (start - POINTING_CADENCE).utc
    ds = f"aia.master_pointing3h[{start.isot}Z-{end.utc.isot}Z]"
    return jsoc.query(ds, key="**ALL**", offline_hint=offline_hint)


def _utc_day(time):
    return Time(time.utc.isot[:10] + "T00:00:00", scale="utc")


def _covers(table, start, end):
    """Whether the rows of a raw pointing table cover ``[start, end)`` (their times are ISO UTC strings)."""
    t_start = Time([str(t).rstrip("Z") for t in table["T_START"]], scale="utc")
    t_stop = Time([str(t).rstrip("Z") for t in table["T_STOP"]], scale="utc")
    return bool(t_start.min() <= start and t_stop.max() >= end)


def pointing_table_jsoc_day(time, *, offline_hint=POINTING_OFFLINE_HINT):
    """
    Path of a CSV holding the ``aia.master_pointing3h`` records in force during the UTC day of ``time``.

    One JSOC query per day: the answer is cached on disk, keyed by the day
    (``jsoc/aia.master_pointing3h/<YYYY-MM-DD>.csv`` in the cache directory), so a batch of maps of one
    day makes one query. An answer that does not cover the whole day (a day the JSOC is still filling)
    is stored under ``<YYYY-MM-DD>.partial.csv`` and asked for again next time. A complete day is kept
    until the file is deleted (or fails its hash check).
    """
    settings = get_settings()
    start = _utc_day(Time(time))
    end = start + 1 * u.day
    relpath = f"jsoc/aia.master_pointing3h/{start.isot[:10]}.csv"
    cached = cached_file(relpath, settings=settings)
    if cached is not None:
        return cached
    table = pointing_table_jsoc((start, end), offline_hint=offline_hint)
    if not _covers(table, start, end):
        relpath = relpath.replace(".csv", ".partial.csv")
    buffer = io.StringIO()
    table.write(buffer, format="ascii.csv")
    return store_file(relpath, buffer.getvalue().encode("utf-8"), settings=settings)


def pointing_table_lmsal(*, offline_hint=POINTING_OFFLINE_HINT):
    """
    Path of the LMSAL daily CSV mirror of the master pointing table (no published hash; refreshed once a
    day, the cached copy being used with a warning when a refresh fails). The mirror lacks 131 A.
    """
    settings = get_settings()
    return download(
        [settings.pointing_url], "lmsal/aia_pointing_table.csv", max_age=POINTING_MAX_AGE,
        what=f"the LMSAL pointing table ({settings.pointing_url})", offline_hint=offline_hint, settings=settings,
    )  # fmt: skip
