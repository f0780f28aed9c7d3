"""Normalisation of AIA images by their exposure time."""

import astropy.units as u

from aiapy.utils.maps import Division, check_aia_map, divide_map, exposure_time

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
    return divide_map(smap, exposure_division(smap))


def exposure_division(smap):
    """The `~aiapy.utils.maps.Division` that `normalize_exposure` applies to ``smap`` (checked first)."""
    check_aia_map(smap, function="normalize_exposure")
    exptime = exposure_time(smap, function="normalize_exposure").to_value(u.s)
    if smap.unit is not None and smap.unit.physical_type == (u.DN / u.s).physical_type:
        raise ValueError(f"This map is already in {smap.unit}; it was normalised before.")
    unit = (smap.unit if smap.unit is not None else u.DN) / u.s
    history = f"normalize_exposure: divided by EXPTIME = {exptime} s"
    return Division(exptime, history, {"bunit": unit.to_string(), "exptime": 1.0})
