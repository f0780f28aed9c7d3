"""Normalisation of AIA images by their exposure time."""

import astropy.units as u

from aiapy.utils.exceptions import warn_metadata
from aiapy.utils.header import header_changes, with_changes
from aiapy.utils.maps import Division, applied_flag, check_not_applied, divide_map, exposure_time

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
        the HISTORY line of an earlier aiapy, or a data unit with a time dimension in any spelling (``DN/s``,
        ``ct / s``, ``DN/(pix s)``, ``photon/s``: normalised elsewhere); or if BUNIT/PIXLUNIT is not a unit
        astropy can read (whether the data are per second decides the result).

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


def _count_unit(smap):
    """The unit of ``smap``'s data, refused unless it is a count (no time dimension); DN when none is given."""
    written = {key.upper(): smap.meta[key] for key in ("bunit", "pixlunit") if smap.meta.get(key)}
    unit = smap.unit
    if unit is None:
        if written:
            raise ValueError(
                f"normalize_exposure cannot read the data unit {written} (not a FITS unit string); whether the "
                "data are already per second decides the result. Set BUNIT, e.g. smap.meta['bunit'] = 'DN'."
            )
        warn_metadata("This map's header gives no unit (BUNIT, PIXLUNIT); normalize_exposure takes it to be DN.")
        return u.DN
    decomposed = unit.decompose()
    time_power = dict(zip(decomposed.bases, decomposed.powers, strict=True)).get(u.s, 0)
    if time_power:
        raise ValueError(
            f"This map is already in {unit} ({written}, time to the power {time_power}); it was normalised before "
            "(normalize_exposure divides counts by the exposure time)."
            + (" In FITS units 'S' is siemens; seconds are 's'." if u.S in unit.bases else "")
        )
    return unit


def exposure_division(smap):
    """The `~aiapy.utils.maps.Division` that `normalize_exposure` applies to ``smap`` (checked first)."""
    changes = header_changes(smap, function="normalize_exposure")
    smap = with_changes(smap, changes)  # what divide_map writes too (Division.meta)
    check_not_applied(smap, function="normalize_exposure")
    exptime = exposure_time(smap, function="normalize_exposure").to_value(u.s)
    unit = _count_unit(smap) / u.s
    history = f"normalize_exposure: divided by EXPTIME = {exptime} s"
    return Division(
        exptime, history, changes | {"bunit": unit.to_string(), "exptime": 1.0} | applied_flag("normalize_exposure")
    )
