"""Normalisation of AIA images by their exposure time."""

import astropy.units as u
import numpy as np

from aiapy.utils.maps import add_history, check_aia_map, exposure_time

__all__ = ["normalize_exposure"]


def normalize_exposure(smap):
    """
    Divide an AIA map by its exposure time, giving DN/s.

    Parameters
    ----------
    smap : `~sunpy.map.sources.AIAMap`
        An AIA map in DN (any level).

    Returns
    -------
    `~sunpy.map.sources.AIAMap`
        A new map with data in ``DN / s`` (BUNIT updated), ``EXPTIME = 1`` s, and a HISTORY line with the
        original exposure time. Float32 data stays float32; integers become float64.

    Raises
    ------
    TypeError
        If ``smap`` is not an AIA map.
    KeyError
        If EXPTIME is missing.
    ValueError
        If the exposure time is zero, negative or NaN, or the map is already normalised.

    Notes
    -----
    Equivalent to SolarSoft ``aia_prep, /normalize`` (which records it in HISTORY).
    """
    check_aia_map(smap, function="normalize_exposure")
    exptime = exposure_time(smap, function="normalize_exposure")
    if smap.unit is not None and smap.unit.physical_type == (u.DN / u.s).physical_type:
        raise ValueError(f"This map is already in {smap.unit}; it was normalised before.")
    data = smap.data
    dtype = data.dtype if np.issubdtype(data.dtype, np.floating) else np.dtype(np.float64)
    new_meta = smap.meta.copy()
    unit = (smap.unit if smap.unit is not None else u.DN) / u.s
    new_meta["bunit"] = unit.to_string()
    new_meta["exptime"] = 1.0
    add_history(new_meta, f"normalize_exposure: divided by EXPTIME = {exptime.to_value(u.s)} s")
    return smap._new_instance(
        data.astype(dtype, copy=False) / dtype.type(exptime.to_value(u.s)),
        new_meta,
        plot_settings=smap.plot_settings,
        mask=smap.mask,
    )
