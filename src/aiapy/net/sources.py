"""The remote calibration sources aiapy knows: SSW mirror files, the JSOC series, the LMSAL pointing CSV.

Functions returning a path give a verified local copy (cache or download); functions returning a table
give the raw JSOC answer, which `aiapy.calibrate.utils` turns into the documented table. Each failure
message names the offline alternative.
"""

import astropy.units as u
from astropy.time import Time
from sunpy.time import TimeRange

from aiapy.data._registry import get_entry
from aiapy.net import jsoc
from aiapy.net.config import get_settings
from aiapy.net.download import download

__all__ = [
    "INSTRUMENT_FILES",
    "OFFLINE_HINTS",
    "correction_table_jsoc",
    "correction_table_ssw",
    "error_table_ssw",
    "instrument_file",
    "pointing_table_jsoc",
    "pointing_table_lmsal",
    "ssw_file",
]

#: SSW instrument (effective-area) files, by kind: (path under a mirror root, SHA-256).
INSTRUMENT_FILES = {
    "euv": (
        "sdo/aia/response/aia_V8_all_fullinst.genx",
        "3940648e6b02876c45a9893f40806bbcc50baa994ae3fa2d95148916988426dd",
    ),
    "fuv": (
        "sdo/aia/response/aia_V8_fuv_fullinst.genx",
        "8635166d8f6dde48da4f135925f4e8f48a0574f129c2c2ca24da6628550f5430",
    ),
}

#: What to use instead of each remote source when offline.
OFFLINE_HINTS = {
    "correction": "Offline, use get_correction_table() (the bundled V10 and V8 tables) or pass a file path, "
    "e.g. get_correction_table('aia_V10_20201119_190000_response_table.txt').",
    "error": "Offline, use get_error_table() (the bundled V3 table) or pass a file path.",
    "pointing": "Offline, pass a pointing table you have (update_pointing(smap, pointing_table=table)), "
    "read a saved one with get_pointing_table('/path/to/aia_pointing_table.csv'), or use "
    "get_pointing_table() (bundled rows, 2010-05-13 only).",
    "instrument": "Offline, pass instrument_file='/path/to/aia_V8_all_fullinst.genx' or use the bundled "
    "V9 instrument data.",
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
    ``aia_V8_fuv_fullinst.genx`` for ``"fuv"``), from the cache or a mirror.
    """
    if kind not in INSTRUMENT_FILES:
        raise ValueError(f"kind must be one of {sorted(INSTRUMENT_FILES)}; got {kind!r}.")
    ssw_path, sha256 = INSTRUMENT_FILES[kind]
    return ssw_file(
        ssw_path, sha256=sha256, what=f"the {kind.upper()} instrument file", offline_hint=OFFLINE_HINTS["instrument"]
    )


def correction_table_jsoc():
    """Every record of the JSOC ``aia.response`` series (all calibration versions), as a raw table."""
    return jsoc.query("aia.response[][!1=1!]", key="**ALL**", offline_hint=OFFLINE_HINTS["correction"])


def _time_range(time_range):
    if isinstance(time_range, TimeRange):
        return time_range.start, time_range.end
    if isinstance(time_range, Time) and time_range.ndim == 1 and len(time_range) >= 2:
        return time_range.min(), time_range.max()
    if isinstance(time_range, list | tuple) and len(time_range) >= 2:
        times = Time([Time(t).utc.isot for t in time_range], scale="utc")
        return times.min(), times.max()
    raise TypeError(
        "time_range must be a sunpy TimeRange, an astropy Time with at least 2 elements, a list or a tuple; "
        f"got {time_range!r}."
    )


def pointing_table_jsoc(time_range):
    """
    The ``aia.master_pointing3h`` records covering ``time_range``, as a raw table.

    The query starts one cadence (3 h) before the range, so the row in force at its start is included.
    """
    start, end = _time_range(time_range)
    start = (start - POINTING_CADENCE).utc
    ds = f"aia.master_pointing3h[{start.isot}Z-{end.utc.isot}Z]"
    return jsoc.query(ds, key="**ALL**", offline_hint=OFFLINE_HINTS["pointing"])


def pointing_table_lmsal():
    """
    Path of the LMSAL daily CSV mirror of the master pointing table (no published hash; refreshed once a
    day, the cached copy being used with a warning when a refresh fails).
    """
    settings = get_settings()
    return download(
        [settings.pointing_url], "lmsal/aia_pointing_table.csv", max_age=POINTING_MAX_AGE,
        what="the LMSAL pointing table", offline_hint=OFFLINE_HINTS["pointing"], settings=settings,
    )  # fmt: skip
