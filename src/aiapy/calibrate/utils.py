"""Calibration tables: degradation (correction), uncertainty (error) and master pointing tables.

Each ``get_*_table`` takes ``source``: None (the default) reads the copy bundled with aiapy, offline; a
path reads that file; a source name ("ssw", "jsoc", "lmsal") fetches from that remote service through
`aiapy.net` (cached, SHA-256 checked where a hash is known).

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
from aiapy.utils.channels import ALL_CHANNELS, channel_key
from aiapy.utils.times import quiet_erfa

__all__ = [
    "LATEST_CORRECTION_VERSION",
    "CORRECTION_TABLE_COLUMNS",
    "ERROR_TABLE_COLUMNS",
    "get_correction_table",
    "get_error_table",
    "get_pointing_table",
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

#: Remote sources by table kind and name: ``{"correction": {"ssw": callable, ...}, ...}``. Each callable
#: returns the path of a downloaded (or cached) file or an already-built table. Filled by `aiapy.net`.
REMOTE_SOURCES = {"correction": {}, "error": {}, "pointing": {}}

_KNOWN_REMOTE = {"correction": ("ssw", "jsoc"), "error": ("ssw",), "pointing": ("jsoc", "lmsal")}


def _parse_time(column):
    with quiet_erfa():
        return Time([str(t).strip().rstrip("Z") for t in column], scale="utc", format="isot")


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


@functools.lru_cache(maxsize=16)
def _read_cached(path, mtime_ns, kind):
    if kind == "pointing":
        table = astropy_ascii.read(path, format="csv", fill_values=[("", "nan"), ("MISSING", "nan")])
    else:
        table = astropy_ascii.read(path, format="basic", guess=False)
    return {"correction": _finish_correction_table, "error": _finish_error_table,
            "pointing": _finish_pointing_table}[kind](table)  # fmt: skip


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
        return {"correction": _finish_correction_table, "error": _finish_error_table,
                "pointing": _finish_pointing_table}[kind](result)  # fmt: skip
    return _read_table(result, kind)


def _from_source(source, kind, bundled, invalid):
    """Resolve ``source`` to a table: bundled default, a remote source name, or a file path."""
    if source is None:
        return bundled()
    if isinstance(source, str) and source.lower() in _KNOWN_REMOTE[kind]:
        fetch = REMOTE_SOURCES[kind].get(source.lower())
        if fetch is None:
            raise NotImplementedError(
                f"The {source!r} source of the {kind} table needs aiapy.net, which is not available; "
                "use the bundled default (source=None) or pass a file path."
            )
        return _finish_remote(fetch(), kind)
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


def get_pointing_table(source=None, *, time_range=None):
    """
    The AIA master pointing table (3-hourly Sun-centre position, plate scale and roll per channel).

    Parameters
    ----------
    source : None, str or path-like
        None (default): the two real rows bundled with aiapy (2010-05-13 00:00-06:00), enough for tests
        and examples only. ``"jsoc"``: the JSOC ``aia.master_pointing3h`` series (needs ``time_range``).
        ``"lmsal"``: the LMSAL daily CSV mirror. A path: a CSV in the mirror's layout.
    time_range : `~sunpy.time.TimeRange`, `~astropy.time.Time` (>= 2 elements), list or tuple, optional
        The interval to query; required for ``"jsoc"``.

    Returns
    -------
    `~astropy.table.QTable`
        ``T_START``, ``T_STOP`` (Time) and ``A_<ch>_X0``, ``A_<ch>_Y0`` [pix, 0-based Sun centre],
        ``A_<ch>_IMSCALE`` [arcsec/pix], ``A_<ch>_INSTROT`` [deg]; missing values are NaN.
    """
    if isinstance(source, str) and source.lower() == "jsoc":
        if time_range is None:
            raise ValueError("time_range must be provided when source is 'jsoc'.")
        fetch = REMOTE_SOURCES["pointing"].get("jsoc")
        if fetch is not None:
            return _finish_remote(fetch(time_range), kind="pointing")
    invalid = ValueError(f"Invalid source: {source!r}; use None (bundled), 'jsoc', 'lmsal' or a file path.")
    return _from_source(source, "pointing", lambda: _read_table(get_file("pointing_table_sample"), "pointing"), invalid)


def _lmsal_pointing_table():
    """
    The LMSAL CSV mirror. Its generator omits 131 A: the channels it lacks are listed in
    ``table.meta["missing_channels"]``, and `update_pointing` of such a map fails with a KeyError that points
    to ``get_pointing_table("jsoc", time_range=...)``, rather than silently leaving the pointing unchanged.
    """
    table = _read_table(_net.pointing_table_lmsal(), "pointing")
    missing = [channel_key(c) for c in ALL_CHANNELS if f"A_{channel_key(c)}_X0" not in table.colnames]
    if missing:
        log.debug("The LMSAL pointing table lacks channel(s) %s.", ", ".join(missing))
    table.meta["missing_channels"] = missing
    return table


REMOTE_SOURCES["correction"].update(ssw=_net.correction_table_ssw, jsoc=_net.correction_table_jsoc)
REMOTE_SOURCES["error"].update(ssw=_net.error_table_ssw)
REMOTE_SOURCES["pointing"].update(jsoc=_net.pointing_table_jsoc, lmsal=_lmsal_pointing_table)
