"""Normalisation of AIA images by their exposure time."""

import astropy.units as u

from aiapy.utils.exceptions import warn_metadata
from aiapy.utils.maps import Division, applied_flag, check_aia_map, check_not_applied, divide_map, exposure_time

__all__ = ["normalize_exposure"]


def normalize_exposure(smap):
    """
    Divide an AIA map by its exposure time, giving DN/s.

    Parameters
    ----------
    smap : `~sunpy.map.sources.AIAMap`
        An AIA map in DN (any level), not normalised before.

    Returns
    -------
    `~sunpy.map.sources.AIAMap`
        A new map with data in ``DN / s`` (BUNIT updated), ``EXPTIME = 1`` s, a HISTORY line with the
        original exposure time and the header flag ``EXPNORM = T``. The dtype follows
        `~aiapy.utils.dtypes.supported_float_type` (float16 and float32 give float32, integers float64).

    Raises
    ------
    TypeError
        If ``smap`` is not an AIA map.
    KeyError
        If EXPTIME is missing.
    ValueError
        If the exposure time is zero, negative or NaN, or the map is already normalised: ``EXPNORM = T``,
        the HISTORY line of an earlier aiapy, or a unit of DN/s (normalised elsewhere).

    Warns
    -----
    `~aiapy.utils.AIApyMetadataWarning`
        If the header gives no unit (BUNIT, PIXLUNIT): the data are taken to be in DN. That decides only the
        unit written, not a number, so a warning suffices.

    Notes
    -----
    Equivalent to SolarSoft ``aia_prep, /normalize`` (which records it in HISTORY).
    """
    return divide_map(smap, exposure_division(smap))


def exposure_division(smap):
    """The `~aiapy.utils.maps.Division` that `normalize_exposure` applies to ``smap`` (checked first)."""
    check_aia_map(smap, function="normalize_exposure")
    check_not_applied(smap, function="normalize_exposure")
    exptime = exposure_time(smap, function="normalize_exposure").to_value(u.s)
    if smap.unit is None:
        warn_metadata("This map's header gives no unit (BUNIT, PIXLUNIT); normalize_exposure takes it to be DN.")
    elif smap.unit.physical_type == (u.DN / u.s).physical_type:
        raise ValueError(f"This map is already in {smap.unit}; it was normalised before.")
    unit = (smap.unit if smap.unit is not None else u.DN) / u.s
    history = f"normalize_exposure: divided by EXPTIME = {exptime} s"
    return Division(exptime, history, {"bunit": unit.to_string(), "exptime": 1.0} | applied_flag("normalize_exposure"))
