"""Checks on the maps that aiapy functions accept, shared by every subpackage."""

import dataclasses
import numbers

import astropy.units as u
import numpy as np
from sunpy.map.sources.sdo import AIAMap

from aiapy._version import __version__
from aiapy.utils.constants import LEVEL1
from aiapy.utils.exceptions import warn_metadata, warn_user

__all__ = [
    "check_aia_map",
    "check_level1",
    "require_keys",
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
    Raise `TypeError` unless ``smap`` is an AIA map.

    Parameters
    ----------
    smap : `~sunpy.map.GenericMap`
        The map to check.
    function : str
        Name of the calling function, used in the message.
    """
    if not isinstance(smap, AIAMap):
        raise TypeError(
            f"{function} needs an AIA map (sunpy.map.sources.AIAMap); got {type(smap).__name__}"
            f" with INSTRUME={getattr(smap, 'meta', {}).get('instrume')!r}."
        )


def check_level1(smap, *, function, strict=True, stacklevel=3):
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
    stacklevel : int
        Passed to the warning, so that it names the user's line (3: the caller of ``function``).
    """
    level = smap.meta.get("lvl_num")
    if strict:
        if level is None or float(level) != LEVEL1:
            raise ValueError(f"{function} needs level-1 data (LVL_NUM 1); this map has LVL_NUM = {level}.")
    elif level is None:
        warn_metadata(f"LVL_NUM is missing from this map; {function} expects level-1 data.", stacklevel=stacklevel)
    elif float(level) > LEVEL1:
        warn_user(f"This map is already at level {level}; {function} is meant for level-1 data.", stacklevel=stacklevel)


def require_keys(smap, keys, *, function):
    """Raise `KeyError` naming every one of ``keys`` missing from ``smap.meta``."""
    missing = [key for key in keys if smap.meta.get(key.lower()) is None]
    if missing:
        raise KeyError(f"{function} needs the header keyword(s) {', '.join(missing)}, missing from this map.")


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

    Float data keep their dtype (float32 stays float32); integers become float64. HISTORY gets each
    division's line and the header its updates, in order; the value statistics (DATAMIN, DATAMAX, DATAMEAN,
    DATAMEDN, DATARMS, DATACENT, DATAPnn) are divided too, so they stay true without a pass over the data.

    Parameters
    ----------
    smap : `~sunpy.map.GenericMap`
    *divisions : `Division`
    in_place : bool
        Divide float data in place instead of into a new array: only for data the caller owns (a pipeline's
        intermediate map), never a user's map.
    """
    divisor = 1.0
    for division in divisions:
        if not (np.isfinite(division.divisor) and division.divisor > 0):
            raise ValueError(f"The divisor must be finite and positive; got {division.divisor} ({division.history}).")
        divisor *= division.divisor
    data = smap.data
    dtype = data.dtype if np.issubdtype(data.dtype, np.floating) else np.dtype(np.float64)
    if in_place and data.dtype == dtype:
        data /= dtype.type(divisor)
    else:
        data = data.astype(dtype, copy=False) / dtype.type(divisor)
    new_meta = smap.meta.copy()
    for key in _statistics_keys(new_meta, _SCALING_STATISTICS):
        if isinstance(new_meta[key], numbers.Real):
            new_meta[key] = float(new_meta[key]) / divisor
    for division in divisions:
        new_meta.update(division.meta)
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
