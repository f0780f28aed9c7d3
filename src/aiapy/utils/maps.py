"""Checks on the maps that aiapy functions accept, shared by every subpackage."""

import dataclasses
import numbers
import re

import astropy.units as u
import numpy as np
from sunpy.map import MapSequence
from sunpy.map.sources.sdo import AIAMap

from aiapy._version import __version__
from aiapy.utils.constants import LEVEL1
from aiapy.utils.dtypes import supported_float_type
from aiapy.utils.exceptions import warn_metadata, warn_user
from aiapy.utils.times import parse_time_text

__all__ = [
    "check_aia_map",
    "check_level1",
    "require_keys",
    "observation_time",
    "header_time",
    "APPLIED_FLAGS",
    "check_not_applied",
    "applied_flag",
    "add_history",
    "exposure_time",
    "Division",
    "divide_map",
    "refresh_statistics",
]

#: Header statistics of the data values (plus the DATAPnn percentiles), stale once the values change.
VALUE_STATISTICS = ("datamin", "datamax", "datamean", "datamedn", "datarms", "dataskew", "datakurt", "datacent")


def check_aia_map(smap, *, function):
    """
    Raise `TypeError` unless ``smap`` is an AIA map; for a `~sunpy.map.MapSequence` or a list, the message says
    to call ``function`` on each map.

    Parameters
    ----------
    smap : `~sunpy.map.GenericMap`
        The map to check.
    function : str
        Name of the calling function, used in the message.
    """
    if isinstance(smap, MapSequence | list | tuple):
        count = len(smap.maps) if isinstance(smap, MapSequence) else len(smap)
        raise TypeError(
            f"{function} takes one map; got a {type(smap).__name__} of {count} maps. Call it on each map, e.g. "
            f"sunpy.map.Map([{function}(m) for m in maps], sequence=True)."
        )
    if not isinstance(smap, AIAMap):
        raise TypeError(
            f"{function} needs an AIA map (sunpy.map.sources.AIAMap); got {type(smap).__name__}"
            f" with INSTRUME={getattr(smap, 'meta', {}).get('instrume')!r}."
        )


def check_level1(smap, *, function, strict=True, stacklevel=None, lead=""):
    """
    Check that ``smap`` holds level-1 data (LVL_NUM 1), the input of every step of ``aia_prep``.

    Parameters
    ----------
    smap : `~sunpy.map.GenericMap`
        The map to check.
    function : str
        Name of the calling function, used in the message.
    strict : bool
        True: raise `ValueError` for a missing or other LVL_NUM. False: only warn
        (`AIApyMetadataWarning` when LVL_NUM is missing, `AIApyUserWarning` above level 1).
    stacklevel : int, optional
        Passed to the warning (see `~aiapy.utils.exceptions.warn_user`); None, the default, names the user's
        line.
    lead : str
        Words put before the message above level 1 (the phrase code written for aiapy 0.12 matches on).
    """
    level = smap.meta.get("lvl_num")
    if strict:
        if level is None or float(level) != LEVEL1:
            raise ValueError(f"{function} needs level-1 data (LVL_NUM 1); this map has LVL_NUM = {level}.")
    elif level is None:
        warn_metadata(f"LVL_NUM is missing from this map; {function} expects level-1 data.", stacklevel=stacklevel)
    elif float(level) > LEVEL1:
        warn_user(
            f"{lead}This map is already at level {level}; {function} is meant for level-1 data.", stacklevel=stacklevel
        )


def require_keys(smap, keys, *, function):
    """Raise `KeyError` naming every one of ``keys`` missing from ``smap.meta``."""
    missing = [key for key in keys if smap.meta.get(key.lower()) is None]
    if missing:
        raise KeyError(f"{function} needs the header keyword(s) {', '.join(missing)}, missing from this map.")


#: The header keywords of an observation time, in aiapy's default order of preference: DATE-OBS, the start
#: of the exposure (sunpy's ``GenericMap.date``), and T_OBS, its middle (``AIAMap.reference_date``).
_TIME_KEYS = ("DATE-OBS", "T_OBS")


def observation_time(smap, *, function, prefer="DATE-OBS"):
    """
    The observation time of ``smap`` from its header: never the current time.

    sunpy's ``smap.date`` falls back to the clock when DATE-OBS is missing or unreadable (with only a
    warning); a calibration factor taken at the wrong time is a silent wrong number, so here a missing time
    is an error.

    Parameters
    ----------
    smap : `~sunpy.map.GenericMap`
        The map.
    function : str
        Name of the calling function, used in the messages.
    prefer : {"DATE-OBS", "T_OBS"}
        The keyword to use when both are present: DATE-OBS (start of the exposure; what `correct_degradation`
        uses, as SolarSoft does) or T_OBS (its middle; what the pointing table and the JSOC records are indexed
        by). When only the other one is present it is used, with an `~aiapy.utils.AIApyMetadataWarning`
        naming it: the two differ by half the exposure time (about 1 s).

    Returns
    -------
    `~astropy.time.Time`
        A scalar time, parsed as sunpy parses header times (scale TAI when the string says so, else TIMESYS,
        default UTC). With DATE-OBS it equals ``smap.date``.

    Raises
    ------
    KeyError
        If neither DATE-OBS nor T_OBS is in the header (the message says how to give the time).
    ValueError
        If the keyword used does not hold a readable time (named with its value), or ``prefer`` is neither
        key.
    """
    if prefer not in _TIME_KEYS:
        raise ValueError(f"prefer must be one of {_TIME_KEYS}, not {prefer!r}.")
    present = [key for key in sorted(_TIME_KEYS, key=lambda key: key != prefer) if smap.meta.get(key.lower())]
    if not present:
        raise KeyError(
            f"{function} needs the observation time, but neither DATE-OBS nor T_OBS is in this map's header "
            "(aiapy never uses the current time instead). Set one, e.g. smap.meta['date-obs'] = "
            f"'2011-02-15T00:00:00.34', or pass the time explicitly where {function} takes it (obstime=)."
        )
    key = present[0]
    if key != prefer:
        warn_metadata(f"{prefer} is missing from this map; {function} uses {key} = {smap.meta[key.lower()]} instead.")
    return header_time(smap.meta, key, function=function)


def header_time(meta, key, *, function):
    """
    The time in the keyword ``key`` of ``meta`` (a map's metadata or a FITS header), ISO or a JSOC (DRMS) form
    such as ``2011.02.15_01:44:45_TAI`` (`aiapy.utils.times.parse_time_text`): scale TAI or UTC when the string
    says so, else TIMESYS (default UTC).

    Raises `KeyError` if ``key`` is missing or empty, `ValueError` (naming the key and value) if it does not
    hold one readable time.
    """
    value = meta.get(key.lower())
    if not value:
        raise KeyError(f"{function} needs the {key} keyword, missing from the header.")
    try:
        time = parse_time_text(value, scale=str(meta.get("timesys") or "UTC").lower())
    except (ValueError, TypeError) as error:
        raise ValueError(f"{function} cannot read the time {key} = {value!r}: {error}") from None
    if not time.isscalar:
        raise ValueError(f"{function} needs one time in {key}; {value!r} holds {time.size}.")
    return time


#: The header flag (a FITS boolean, ``T``) that each correction applied at most once writes, with its HISTORY
#: line. A map that carries the flag, or (written before the flags existed) the function's HISTORY line, is
#: refused by that function.
APPLIED_FLAGS = {
    "correct_degradation": "DEGCORR", "normalize_exposure": "EXPNORM", "respike": "RESPIKED", "deconvolve": "DECONV",
}  # fmt: skip


def check_not_applied(smap, *, function):
    """
    Raise `ValueError` if the header of ``smap`` records that ``function`` was already applied to it.

    The record is the `APPLIED_FLAGS` keyword of ``function`` set true, or a HISTORY line
    ``aiapy <version>: <function>: ...`` (what `add_history` writes; maps written before the flags existed).
    """
    flag = APPLIED_FLAGS[function]
    if smap.meta.get(flag.lower()) in (True, "T"):
        evidence = f"{flag} = T"
    else:
        line = re.search(rf"^aiapy \S+: {re.escape(function)}: .*$", str(smap.meta.get("history", "")), re.MULTILINE)
        evidence = line and f"HISTORY {line.group(0)!r}"
    if evidence:
        raise ValueError(
            f"{function} was already applied to this map ({evidence}); applying it twice would give a wrong "
            "result. Start again from the original map."
        )


def applied_flag(function):
    """The header update that records ``function`` as applied (see `APPLIED_FLAGS`)."""
    return {APPLIED_FLAGS[function].lower(): True}


def add_history(meta, text):
    """
    Append a HISTORY line ``aiapy <version>: <text>`` to a metadata mapping, in place.

    Only call this on a copy of the input map's metadata.
    """
    line = f"aiapy {__version__}: {text}"
    history = meta.get("history", "")
    meta["history"] = f"{history}\n{line}" if history else line
    return meta


def exposure_time(smap, *, function):
    """The exposure time of ``smap`` in seconds, validated to be finite and positive."""
    exptime = smap.meta.get("exptime")
    if exptime is None:
        raise KeyError(f"{function} needs the EXPTIME keyword, missing from this map.")
    exptime = float(exptime)
    if not (np.isfinite(exptime) and exptime > 0):
        raise ValueError(f"{function} needs a positive exposure time; EXPTIME is {exptime}.")
    return exptime * u.s


@dataclasses.dataclass(frozen=True)
class Division:
    """A division of a map's data by a positive scalar: the divisor, its HISTORY text and header updates."""

    divisor: float
    history: str
    meta: dict = dataclasses.field(default_factory=dict)


#: Header statistics that scale with the data under a division by a positive number (the DATAPnn
#: percentiles too); DATASKEW and DATAKURT are scale-free and stay.
_SCALING_STATISTICS = ("datamin", "datamax", "datamean", "datamedn", "datarms", "datacent")


def divide_map(smap, *divisions, in_place=False):
    """
    A new map with ``smap``'s data divided by the divisors of ``divisions`` (`Division`), in one pass.

    The result's dtype follows `~aiapy.utils.dtypes.supported_float_type` (float16 and float32 give float32,
    everything else, integers included, float64); integer pixels equal to BLANK (fill) are NaN in it and BLANK
    is dropped. HISTORY gets each division's line and the header its updates, in order; the value statistics
    (DATAMIN, DATAMAX, DATAMEAN, DATAMEDN, DATARMS, DATACENT, DATAPnn) are divided too, so they stay true
    without a pass over the data.

    Parameters
    ----------
    smap : `~sunpy.map.GenericMap`
    *divisions : `Division`
    in_place : bool
        Divide the data in place instead of into a new array when they already have the result's dtype: only
        for data the caller owns (a pipeline's intermediate map), never a user's map.
    """
    divisor = 1.0
    for division in divisions:
        if not (np.isfinite(division.divisor) and division.divisor > 0):
            raise ValueError(f"The divisor must be finite and positive; got {division.divisor} ({division.history}).")
        divisor *= division.divisor
    new_meta = smap.meta.copy()
    for division in divisions:
        new_meta.update(division.meta)
    data = smap.data
    dtype = supported_float_type(data.dtype)
    # integer fill (BLANK) is no measurement: NaN in the float result, where BLANK no longer applies
    blank = new_meta.pop("blank", None) if data.dtype.kind in "iu" else None
    fill = None if blank is None else data == blank
    if in_place and data.dtype.newbyteorder("=") == dtype:  # big-endian FITS data too
        data /= dtype.type(divisor)
    else:
        data = data.astype(dtype, copy=False) / dtype.type(divisor)
    if fill is not None:
        data[fill] = np.nan
    for key in _statistics_keys(new_meta, _SCALING_STATISTICS):
        if isinstance(new_meta[key], numbers.Real):
            new_meta[key] = float(new_meta[key]) / divisor
    for division in divisions:
        add_history(new_meta, division.history)
    return smap._new_instance(data, new_meta, plot_settings=smap.plot_settings, mask=smap.mask)


def _statistics_keys(meta, names):
    """The keys of ``meta`` that are one of ``names`` (lower case) or a DATAPnn percentile, as a list."""
    return [key for key in meta if str(key).lower() in names or str(key).lower().startswith("datap")]


def refresh_statistics(meta, data):
    """
    Drop the stale `VALUE_STATISTICS` and DATAPnn keys of ``meta`` and recompute DATAMIN/DATAMAX/DATAMEAN
    from the finite values of ``data``, in place (call it on a copy).
    """
    for key in _statistics_keys(meta, VALUE_STATISTICS):
        del meta[key]
    if not data.size:
        return meta
    low, high = data.min(), data.max()
    if not (np.isfinite(low) and np.isfinite(high)):  # NaN or inf present (min and max propagate NaN)
        data = data[np.isfinite(data)]
        if not data.size:
            return meta
        low, high = data.min(), data.max()
    meta.update({"datamin": float(low), "datamax": float(high), "datamean": float(data.mean())})
    return meta
