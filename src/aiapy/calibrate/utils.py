"""Calibration tables: degradation (correction), uncertainty (error) and master pointing tables.

Each ``get_*_table`` takes ``source``: None (the default) reads the copy bundled with aiapy, offline; a
path reads that file; a source name ("ssw", "jsoc", "lmsal") fetches from that remote service through
`aiapy.net` (cached, SHA-256 checked where a hash is known, within the time budgets of
`aiapy.net.budget`).

`update_pointing` without a table uses `pointing_table_for`: the bundled rows when they cover the
observation, else the JSOC master pointing table of the observation's UTC day (one query per day, cached
on disk), else the LMSAL mirror.

References
----------
.. [1] SolarSoft ``aia_bp_corrections.pro``, ``aia_bp_estimate_error.pro`` (response and error tables).
.. [2] JSOC series ``aia.response`` and ``aia.master_pointing3h``.
"""

import functools
import logging
import os
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import ascii as astropy_ascii
from astropy.table import QTable, Table, vstack
from astropy.time import Time

from aiapy import net as _net
from aiapy.data import get_file
from aiapy.net.budget import budget as _time_budget
from aiapy.net.sources import POINTING_OFFLINE_HINT
from aiapy.utils.channels import ALL_CHANNELS, channel_key, validate_channel
from aiapy.utils.times import parse_time_text, quiet_erfa

__all__ = [
    "LATEST_CORRECTION_VERSION",
    "CORRECTION_TABLE_COLUMNS",
    "ERROR_TABLE_COLUMNS",
    "get_correction_table",
    "get_error_table",
    "get_pointing_table",
    "pointing_table_for",
    "REMOTE_SOURCES",
]

log = logging.getLogger(__name__)

#: The newest calibration version of the degradation correction, used by default.
LATEST_CORRECTION_VERSION = 10

#: Columns kept from a degradation (correction) table.
CORRECTION_TABLE_COLUMNS = (
    "DATE", "VER_NUM", "WAVE_STR", "WAVELNTH", "T_START", "T_STOP",
    "EFFA_P1", "EFFA_P2", "EFFA_P3", "EFF_AREA", "EFF_WVLN",
)  # fmt: skip
#: Columns of the error table.
ERROR_TABLE_COLUMNS = (
    "DATE", "T_START", "T_STOP", "VER_NUM", "WAVE_STR", "WAVELNTH",
    "DNPERPHT", "COMPRESS", "CALERR", "CHIANTI", "EVEERR",
)  # fmt: skip


def _parse_time(column):
    texts = [str(t).strip() for t in column]
    with quiet_erfa():
        try:
            return Time([t.rstrip("Z") for t in texts], scale="utc", format="isot")
        except ValueError:  # JSOC forms (2010.05.13_00:00:00_TAI) or mixed: one by one
            return Time([parse_time_text(t).utc for t in texts])


def _missing_columns(table, columns, what):
    missing = [name for name in columns if name not in table.colnames]
    if missing:
        raise ValueError(f"The {what} table lacks the column(s) {', '.join(missing)}; it has {table.colnames}.")


def _finish_ssw_table(table, columns, what, units):
    """Keep ``columns`` of an SSW-format table, parse its times and attach ``units`` (column -> unit)."""
    table = QTable(table)
    _missing_columns(table, columns, what)
    table = table[list(columns)]
    for name in ("T_START", "T_STOP", "DATE"):
        table[name] = _parse_time(table[name])
    table["WAVE_STR"] = [str(s).strip() for s in table["WAVE_STR"]]
    table["VER_NUM"] = np.asarray(table["VER_NUM"], dtype=int)
    for name, unit in units.items():
        table[name] = u.Quantity(np.asarray(table[name], dtype=float), unit)
    return table


def _finish_correction_table(table):
    units = {"WAVELNTH": u.AA, "EFF_WVLN": u.AA, "EFF_AREA": u.cm**2}
    return _finish_ssw_table(table, CORRECTION_TABLE_COLUMNS, "correction", units)


def _finish_error_table(table):
    units = {"WAVELNTH": u.AA, "DNPERPHT": u.DN / u.photon}
    return _finish_ssw_table(table, ERROR_TABLE_COLUMNS, "error", units)


def _finish_pointing_table(table):
    table = QTable(table)
    _missing_columns(table, ("T_START", "T_STOP"), "pointing")
    for name in ("T_START", "T_STOP"):
        table[name] = _parse_time(table[name])
    units = {"_X0": u.pix, "_Y0": u.pix, "_IMSCALE": u.arcsec / u.pix, "_INSTROT": u.deg}
    for name in table.colnames:
        for suffix, unit in units.items():
            if name.startswith("A_") and name.endswith(suffix):
                column = table[name]
                values = column.filled(np.nan) if hasattr(column, "filled") else column
                table[name] = u.Quantity(np.asarray(values, dtype=float), unit)
    return table


#: The function that turns a raw table of each kind into the documented QTable.
_FINISHERS = {"correction": _finish_correction_table, "error": _finish_error_table, "pointing": _finish_pointing_table}


@functools.lru_cache(maxsize=16)
def _read_cached(path, mtime_ns, kind):
    if kind == "pointing":
        table = astropy_ascii.read(path, format="csv", fill_values=[("", "nan"), ("MISSING", "nan")])
    else:
        table = astropy_ascii.read(path, format="basic", guess=False)
    return _FINISHERS[kind](table)


def _read_table(path, kind):
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as error:
        raise FileNotFoundError(f"Cannot read the {kind} table {path}: {error}") from error
    try:
        return _read_cached(str(path), stat.st_mtime_ns, kind).copy()
    except (ValueError, TypeError, IndexError, KeyError) as error:
        raise ValueError(f"{path} is not a readable {kind} table: {error}") from error


def _finish_remote(result, kind):
    """A remote source returns a finished QTable, a raw table (finished here) or a file path (read here)."""
    if isinstance(result, QTable):
        return result
    if isinstance(result, Table):
        return _FINISHERS[kind](result)
    return _read_table(result, kind)


def _from_source(source, kind, bundled, invalid):
    """Resolve ``source`` to a table: bundled default, a remote source name, or a file path."""
    if source is None:
        return bundled()
    if isinstance(source, str) and source.lower() in REMOTE_SOURCES[kind]:
        return _finish_remote(REMOTE_SOURCES[kind][source.lower()](), kind)
    if isinstance(source, str | os.PathLike):
        return _read_table(source, kind)
    raise invalid


def _bundled_correction_table():
    tables = [_read_table(get_file(name), "correction") for name in ("correction_table_v10", "correction_table_v8")]
    return vstack(tables, metadata_conflicts="silent")


def get_correction_table(source=None):
    """
    The degradation ("correction") table: per channel, version and epoch, the effective area and its trend.

    Parameters
    ----------
    source : None, str or path-like
        None (default): the bundled tables, offline. Like the JSOC ``aia.response`` series they hold every
        calibration version aiapy ships: version 10 (SSW ``aia_V10_20201119_190000_response_table.txt``)
        and version 8 (``aia_V8_20171210_050627_response_table.txt``).
        ``"ssw"``: the newest SSW table from a SolarSoft mirror. ``"jsoc"``: every version in the JSOC
        ``aia.response`` series. A path: an SSW-format response table file.

    Returns
    -------
    `~astropy.table.QTable`
        Columns ``DATE, VER_NUM, WAVE_STR, WAVELNTH [Angstrom], T_START, T_STOP [Time], EFFA_P1..3,
        EFF_AREA [cm2], EFF_WVLN [Angstrom]``.

    Raises
    ------
    ValueError
        If ``source`` is neither None, a known source name nor a path, or the file is not a valid table.
    FileNotFoundError
        If the file does not exist.
    """
    invalid = ValueError(
        f"correction_table must be None (bundled), a file path, 'jsoc' or 'ssw'; not {source!r}."
    )
    return _from_source(source, "correction", _bundled_correction_table, invalid)


def get_error_table(source=None):
    """
    The uncertainty ("error") table of ``aia_bp_estimate_error``: per channel DN per photon, compression
    ratio and fractional calibration and atomic-data errors.

    Parameters
    ----------
    source : None, str or path-like
        None (default): the bundled SSW ``aia_V3_error_table.txt``; ``"ssw"``: the same file from a
        SolarSoft mirror; a path: a file in the same format.

    Returns
    -------
    `~astropy.table.QTable`
        Columns ``DATE, T_START, T_STOP, VER_NUM, WAVE_STR, WAVELNTH [Angstrom], DNPERPHT [DN/ph],
        COMPRESS, CALERR, CHIANTI, EVEERR``.

    Raises
    ------
    TypeError
        If ``source`` is neither None, "ssw" nor a path.
    """
    invalid = TypeError(f"source must be None (bundled), a file path or 'ssw'; not {source!r}.")
    return _from_source(source, "error", lambda: _read_table(get_file("error_table_v3"), "error"), invalid)


def _bundled_pointing_table():
    return _read_table(get_file("pointing_table_sample"), "pointing")


def _rows_in(table, time_range):
    """The rows of a finished pointing table in force at some time of ``time_range``."""
    start, end = _net.sources.time_range_bounds(time_range)
    return table[(table["T_STOP"] > start) & (table["T_START"] <= end)]


def get_pointing_table(source=None, *, time_range=None):
    """
    The AIA master pointing table (3-hourly Sun-centre position, plate scale and roll per channel).

    Parameters
    ----------
    source : None, str or path-like
        * None (default): the two real rows bundled with aiapy (2010-05-13 00:00-06:00), enough for tests
          and examples only;
        * ``"jsoc"``: the JSOC ``aia.master_pointing3h`` series (needs ``time_range``);
        * ``"lmsal"``: the LMSAL daily CSV mirror of that series (it lacks 131 A);
        * a path: a CSV in the mirror's layout.
    time_range : `~sunpy.time.TimeRange`, `~astropy.time.Time` or list or tuple of times or strings, optional
        The interval wanted; required for ``"jsoc"`` (whose query starts 3 h earlier, so the row in force
        at the start is included). For the other sources, only the rows in force during the interval are
        kept.

    Returns
    -------
    `~astropy.table.QTable`
        ``T_START``, ``T_STOP`` (Time) and ``A_<ch>_X0``, ``A_<ch>_Y0`` [pix, 0-based Sun centre],
        ``A_<ch>_IMSCALE`` [arcsec/pix], ``A_<ch>_INSTROT`` [deg]; missing values are NaN.

    Raises
    ------
    ValueError
        For an unknown ``source``, or ``"jsoc"`` without ``time_range``.
    TypeError
        If ``time_range`` is of another kind.
    aiapy.net.RemoteUnavailableError
        If the remote source cannot be reached within the time budgets; the message names the
        alternatives.
    aiapy.net.NoDataError
        If the JSOC has no record in ``time_range``.
    """
    if isinstance(source, str) and source.lower() == "jsoc":
        if time_range is None:
            raise ValueError("time_range must be provided when source is 'jsoc'.")
        return _finish_remote(REMOTE_SOURCES["pointing"]["jsoc"](time_range), kind="pointing")
    invalid = ValueError(f"Invalid source: {source!r}; use None (bundled), 'jsoc', 'lmsal' or a file path.")
    if time_range is not None:
        _net.sources.time_range_bounds(time_range)  # a bad time_range is refused before any download
    table = _from_source(source, "pointing", _bundled_pointing_table, invalid)
    return table if time_range is None else _rows_in(table, time_range)


def _lmsal_pointing_table(*, offline_hint=POINTING_OFFLINE_HINT):
    """
    The LMSAL CSV mirror. Its generator omits 131 A: the channels it lacks are listed in
    ``table.meta["missing_channels"]``.
    """
    table = _read_table(_net.pointing_table_lmsal(offline_hint=offline_hint), "pointing")
    missing = [channel_key(c) for c in ALL_CHANNELS if f"A_{channel_key(c)}_X0" not in table.colnames]
    if missing:
        log.debug("The LMSAL pointing table lacks channel(s) %s.", ", ".join(missing))
    table.meta["missing_channels"] = missing
    return table


def _covering(table, time):
    return bool(np.any((table["T_START"] <= time) & (time < table["T_STOP"])))


@validate_channel("channel")
def pointing_table_for(time, channel):
    """
    A master pointing table that covers ``time`` and holds ``channel``, from the best source available.

    In order: the bundled rows, if they cover ``time``; the JSOC ``aia.master_pointing3h`` records of the
    UTC day of ``time`` (one query per day, cached on disk, so a batch of one day makes one query); the
    LMSAL mirror, if the JSOC cannot be reached (not for 131 A, which the mirror lacks). All remote tries
    together keep to the time budgets of `aiapy.net.budget`.

    Parameters
    ----------
    time : `~astropy.time.Time`
        The observation time (T_OBS).
    channel : `~astropy.units.Quantity`
        The channel whose columns are needed.

    Returns
    -------
    `~astropy.table.QTable`
        As `get_pointing_table`.

    Raises
    ------
    TypeError
        If ``time`` is not a scalar Time or ``channel`` not a Quantity.
    ValueError
        If ``channel`` is not an AIA channel.
    aiapy.net.RemoteUnavailableError
        If neither the JSOC nor the LMSAL mirror can deliver (offline, servers down, or 131 A with the
        JSOC down); the message gives both reasons and the alternatives (``pointing_table=`` a file, or
        keeping the header's pointing).
    aiapy.net.NoDataError
        If the JSOC answers but has no record covering ``time``.
    """
    if not isinstance(time, Time) or time.ndim != 0:
        raise TypeError(f"time must be a scalar astropy Time (the observation time); got {time!r}.")
    bundled = _bundled_pointing_table()
    if _covering(bundled, time):
        return bundled
    key = channel_key(channel)
    settings = _net.get_settings()
    with _time_budget(settings):
        try:
            table = _read_table(_net.pointing_table_jsoc_day(time, offline_hint=""), "pointing")
        except _net.RemoteUnavailableError as jsoc_error:
            return _lmsal_fallback(time, key, jsoc_error)
        except _net.NoDataError as error:
            raise _net.NoDataError(f"{error} {POINTING_OFFLINE_HINT}") from error
    if not _covering(table, time):
        raise _net.NoDataError(
            f"The JSOC master pointing table ({settings.jsoc_url}) has no row covering {time.isot} yet. "
            f"{POINTING_OFFLINE_HINT}"
        )
    return table


def _lmsal_fallback(time, key, jsoc_error):
    """The LMSAL mirror when the JSOC failed with ``jsoc_error``; raise naming both failures if it fails too."""
    intro = (
        f"No pointing table covers T_OBS {time.isot}: the bundled rows are of 2010-05-13 only and the JSOC "
        f"failed ({jsoc_error})"
    )
    try:
        table = _lmsal_pointing_table(offline_hint="")
    except _net.RemoteUnavailableError as lmsal_error:
        raise _net.RemoteUnavailableError(
            f"{intro}, and so did the LMSAL mirror, the fallback ({lmsal_error}). {POINTING_OFFLINE_HINT}"
        ) from lmsal_error
    if key in table.meta["missing_channels"]:
        raise _net.RemoteUnavailableError(
            f"{intro}; the LMSAL mirror, the fallback, lacks the {key} A columns (its generator omits 131 A), "
            f"so only the JSOC can give this channel's pointing. {POINTING_OFFLINE_HINT}"
        ) from jsoc_error
    if not _covering(table, time):
        raise _net.NoDataError(
            f"{intro}, and the LMSAL mirror has no row covering it. {POINTING_OFFLINE_HINT}"
        ) from jsoc_error
    log.info("update_pointing: the JSOC could not be reached; using the LMSAL mirror for %s", time.isot)
    return table


#: Remote sources by table kind and name: ``{"correction": {"ssw": callable, ...}, ...}``. Each callable
#: returns the path of a downloaded (or cached) file or a raw or finished table; the pointing "jsoc"
#: source takes the ``time_range``.
REMOTE_SOURCES = {
    "correction": {"ssw": _net.correction_table_ssw, "jsoc": _net.correction_table_jsoc},
    "error": {"ssw": _net.error_table_ssw},
    "pointing": {"jsoc": _net.pointing_table_jsoc, "lmsal": _lmsal_pointing_table},
}
