"""Saturated and bloomed pixels of AIA level-1 images (flare cores)."""

import astropy.units as u
import numpy as np
from sunpy.map.sources.sdo import AIAMap

from aiapy.utils.channels import check_channel
from aiapy.utils.constants import LEVEL1
from aiapy.utils.exceptions import warn_metadata
from aiapy.utils.maps import check_aia_map, check_level1, exposure_time
from aiapy.utils.pixelflags import PixelFlag, pixel_flags
from aiapy.utils.saturation import FULL_SCALE, SATURATION_LEVEL, saturation_flags

__all__ = ["saturation_mask"]


def saturation_mask(smap, *, level=None, bloom=True):
    """
    The pixels of a level-1 AIA image that are saturated, or (with ``bloom``) bloomed from saturated ones.

    A saturated pixel's well (or 14-bit converter) was full: its value is a lower limit, not a measurement.
    Charge from a saturated pixel spills along its CCD column: the bloom, the vertical streaks of flare
    kernels (Schwartz et al. 2014, 2015). Level-1 data are divided by the flat field, so saturated pixels read
    ``(16383 - dark) / flat``, below 16383 DN: the threshold is per channel
    (`aiapy.utils.saturation.SATURATION_LEVEL`, 14 300-15 000 DN, decided from the 2011-02-15 flare frames,
    where it reproduces the JSOC's count ``NSATPIX``). Bloomed pixels are those at or above
    ``BLOOM_FRACTION`` (0.8) of the level that continue a saturated run along its column without a break.
    With the default level, values above the converter's 16383 DN (``FULL_SCALE``; level-1 processing keeps
    saturated pixels at or below it) are not taken for saturated pixels.

    Parameters
    ----------
    smap : `~sunpy.map.sources.AIAMap`
        A level-1 AIA map (LVL_NUM 1), not yet registered: CCD columns are the array's axis 0. In DN; in
        DN/s only with ``level`` given (see Notes).
    level : `~astropy.units.Quantity`, optional
        The saturation level, in DN (or the map's unit). Default: the channel's level in DN.
    bloom : bool
        Include the bloomed pixels (default). False gives primary saturation only, a subset.

    Returns
    -------
    `numpy.ndarray` of bool
        True where saturated (or bloomed); of the data's shape. Missing pixels (NaN, the map's mask) are
        never True.

    Raises
    ------
    TypeError
        If ``smap`` is not an AIA map, ``level`` is not a Quantity or ``bloom`` not a bool.
    ValueError
        If the map is not level 1, or ``level`` is not finite and positive.
    astropy.units.UnitConversionError
        If ``level`` cannot be expressed in the map's unit.

    Warns
    -----
    `~aiapy.utils.AIApyMetadataWarning`
        If the header gives no unit: the data are taken to be in DN.

    Notes
    -----
    The default level is for the frame's own exposure in DN. A map normalised to DN/s
    (`~aiapy.calibrate.normalize_exposure` sets EXPTIME to 1 s) cannot give back its exposure, so for such a
    map ``level`` must be given, in DN/s.

    References
    ----------
    .. [1] Lemen, J. R., et al. 2012, Sol. Phys. 275, 17.
    .. [2] Boerner, P., et al. 2012, Sol. Phys. 275, 41.
    .. [3] Schwartz, R. A., Torre, G., & Piana, M. 2014, ApJL 793, L23.
    .. [4] Schwartz, R. A., Torre, G., Massone, A. M., & Piana, M. 2015, Astron. Comput. 13, 117.

    Examples
    --------
    >>> from aiapy.calibrate import saturation_mask
    >>> from aiapy.data import sample
    >>> smap = sample.load_map("flare_2011-02-15T02-02-00_211")  # doctest: +IGNORE_WARNINGS
    >>> int(saturation_mask(smap, bloom=False).sum())
    4388
    """
    return flag_saturation(smap, level=level, bloom=bloom, function="saturation_mask") != 0


def flag_saturation(smap, *, level=None, bloom=True, function="flag_saturation"):
    """
    `~aiapy.utils.PixelFlag` bits ``SATURATED`` / ``BLOOM`` of a level-1 AIA map (see `saturation_mask`).

    Returns a new ``uint8`` array of the data's shape; pixels missing in the map (`~aiapy.utils.pixel_flags`)
    are not flagged here.
    """
    check_aia_map(smap, function=function)
    check_level1(smap, function=function)
    if not isinstance(bloom, bool):
        raise TypeError(f"bloom must be True or False, not {bloom!r}.")
    unit = smap.unit
    if unit is None:
        warn_metadata(f"This map's header gives no unit (BUNIT, PIXLUNIT); {function} takes it to be DN.")
        unit = u.DN
    if level is None:
        if unit.physical_type != u.DN.physical_type:
            raise ValueError(
                f"{function} knows the saturation level in DN at the frame's own exposure; this map is in {unit}"
                " (normalised?): pass level= in that unit."
            )
        channel = round(check_channel(smap.wavelength, argument="the map's WAVELNTH").to_value(u.AA))
        exposure_time(smap, function=function)  # a frame without a valid exposure is refused here too
        value = (SATURATION_LEVEL[channel] * u.DN).to_value(unit)
        ceiling = (FULL_SCALE * u.DN).to_value(unit)
    else:
        if not isinstance(level, u.Quantity):
            raise TypeError(f"level must be a Quantity (e.g. 15000 * u.DN), not {level!r}.")
        try:
            value = level.to_value(unit)
        except u.UnitConversionError:
            message = f"level is in {level.unit}, which cannot be converted to the map's {unit}."
            raise u.UnitConversionError(message) from None
        if not (np.isscalar(value) and np.isfinite(value) and value > 0):
            raise ValueError(f"level must be one finite, positive value; got {level}.")
        ceiling = None
    flags = saturation_flags(np.asarray(smap.data), value, ceiling=ceiling, bloom=bloom)
    if smap.mask is not None:  # NaN pixels are never at the level; masked ones may be
        flags[pixel_flags(smap) & np.uint8(PixelFlag.MISSING) != 0] = 0
    return flags


def input_flags(smap, *, detect=True, function):
    """
    The `~aiapy.utils.PixelFlag` bits a step takes from its input map: the map's mask and NaN pixels
    (`~aiapy.utils.pixel_flags`), and, with ``detect``, the saturated and bloomed pixels (`flag_saturation`)
    of an AIA level-1 frame in DN whose mask does not already carry flags.

    A ``uint8`` mask is a flag array made upstream (by aiapy's steps, which find saturation on the level-1
    data and carry it): it is taken as it is, and saturation is not looked for again in data that an earlier
    step may have changed (deconvolved peaks can exceed the level without being saturated).
    """
    flags = pixel_flags(smap)
    mask = getattr(smap, "mask", None)
    carries_flags = mask is not None and np.asarray(mask).dtype == np.uint8
    if detect and not carries_flags and _raw_level1(smap):
        saturation = flag_saturation(smap, function=function)
        if saturation.any():
            flags |= saturation
    return flags


def _raw_level1(smap):
    """
    Whether `flag_saturation` applies with its default level: an AIA level-1 frame in DN of a known channel,
    not deconvolved (``DECONV = T``).
    """
    meta = smap.meta
    try:
        channel = round(float(meta.get("wavelnth", np.nan)))
        exptime = float(meta.get("exptime", np.nan))
        level = float(meta.get("lvl_num", np.nan))
    except (TypeError, ValueError):
        return False
    deconvolved = meta.get("deconv") in (True, "T")  # its values are no longer the CCD's
    return (
        isinstance(smap, AIAMap) and level == LEVEL1 and smap.unit == u.DN and channel in SATURATION_LEVEL
        and np.isfinite(exptime) and exptime > 0 and not deconvolved
    )  # fmt: skip
