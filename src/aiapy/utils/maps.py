"""Checks on the maps that aiapy functions accept, shared by every subpackage."""

import astropy.units as u
from sunpy.map.sources.sdo import AIAMap

from aiapy._version import __version__

__all__ = ["check_aia_map", "require_keys", "add_history", "exposure_time"]


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
    if not exptime > 0 or exptime != exptime:
        raise ValueError(f"{function} needs a positive exposure time; EXPTIME is {exptime}.")
    return exptime * u.s
