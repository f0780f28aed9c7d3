"""Checks on the maps that aiapy functions accept, shared by every subpackage."""

import astropy.units as u
import numpy as np
from sunpy.map.sources.sdo import AIAMap

from aiapy._version import __version__

__all__ = ["check_aia_map", "require_keys", "add_history", "exposure_time", "divide_map", "refresh_statistics"]

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


def divide_map(smap, divisor, *, history, **meta_updates):
    """
    A new map with ``smap``'s data divided by the scalar ``divisor``, its HISTORY and ``meta_updates``.

    Float data keep their dtype (float32 stays float32); integers become float64. The input is untouched.
    """
    data = smap.data
    dtype = data.dtype if np.issubdtype(data.dtype, np.floating) else np.dtype(np.float64)
    new_meta = smap.meta.copy()
    new_meta.update(meta_updates)
    add_history(new_meta, history)
    return smap._new_instance(
        data.astype(dtype, copy=False) / dtype.type(divisor),
        new_meta,
        plot_settings=smap.plot_settings,
        mask=smap.mask,
    )


def refresh_statistics(meta, data):
    """
    Drop the stale `VALUE_STATISTICS` and DATAPnn keys of ``meta`` and recompute DATAMIN/DATAMAX/DATAMEAN
    from the finite values of ``data``, in place (call it on a copy).
    """
    for key in [k for k in meta if str(k).lower() in VALUE_STATISTICS or str(k).lower().startswith("datap")]:
        del meta[key]
    finite = np.isfinite(data)
    finite = data if finite.all() else data[finite]  # no frame-sized copy in the usual all-finite case
    if finite.size:
        meta.update({"datamin": float(finite.min()), "datamax": float(finite.max()), "datamean": float(finite.mean())})
    return meta
