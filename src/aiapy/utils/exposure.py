"""Automatic exposure control (AEC): which AIA frames were taken with a shortened exposure.

During a flare the AEC shortens the exposures of the channels that would saturate (Lemen et al. 2012,
section 4.2): in the bundled 2011-02-15 frames, 131 Å goes from 2.9 s to 1.2, 0.26 and 0.04 s and 193 Å from
2.0 s down to 0.005 s. Such frames have other noise and saturation levels than their neighbours, so a time
series should know them.

What the header says (checked on all 60 bundled flare frames, 6 channels x 10 times):

- ``AECMODE = 'ON'`` and ``AIAECENF = 1`` on every frame: they say that the AEC was enabled, not that it
  acted;
- ``AECTYPE = 0`` on 23 frames, none of them short; ``AECTYPE = 2`` on 37 frames, 20 short and 17 at the
  nominal exposure: the AEC may act on such a frame, but ``AECTYPE`` does not say that it did;
- ``AIMGSHCE`` (the commanded exposure, ms) agrees with ``EXPTIME`` to 3 ms on 59 frames; on the 193 Å frame
  of 01:58:10 it says 37 ms where the shutter was open 4.9 ms (``EXPTIME``).

So the rule is the measured exposure, ``EXPTIME``, against the channel's nominal exposure.

References
----------
.. [1] Lemen, J. R., et al. 2012, Sol. Phys. 275, 17 (AIA; the automatic exposure control).
"""

import astropy.units as u

from aiapy.utils.channels import check_channel
from aiapy.utils.maps import check_aia_map, exposure_time

__all__ = ["NOMINAL_EXPOSURE", "SHORT_FRACTION", "is_short_exposure"]

#: Nominal exposure (s) of the EUV channels (Angstrom) in the standard 12-s cadence, as in the bundled
#: 2011 frames: 2.0 s for 171 and 193 Å, 2.9 s for the others. The UV and visible channels are not listed
#: (no AEC frames to check against): pass ``nominal=`` for them.
NOMINAL_EXPOSURE = {94: 2.9, 131: 2.9, 171: 2.0, 193: 2.0, 211: 2.9, 304: 2.9, 335: 2.9}
#: A frame is short below this fraction of the nominal exposure (the shutter's jitter is below 1 ms).
SHORT_FRACTION = 0.8


def is_short_exposure(smap, *, nominal=None):
    """
    Whether an AIA frame was taken with an exposure shortened by the automatic exposure control.

    Parameters
    ----------
    smap : `~sunpy.map.sources.AIAMap`
        An AIA map with ``EXPTIME`` and ``WAVELNTH`` in its header; not normalised by its exposure
        (`~aiapy.calibrate.normalize_exposure` sets EXPTIME to 1 s).
    nominal : `~astropy.units.Quantity`, optional
        The channel's nominal exposure. Default: `NOMINAL_EXPOSURE` (EUV channels only).

    Returns
    -------
    bool
        True when ``EXPTIME < SHORT_FRACTION * nominal`` (0.8).

    Raises
    ------
    TypeError
        If ``smap`` is not an AIA map, or ``nominal`` not a time Quantity.
    KeyError
        If EXPTIME is missing.
    ValueError
        If EXPTIME is not positive; if the map was normalised by its exposure (EXPNORM, or a unit per
        second): its EXPTIME no longer tells; for a channel without a default nominal exposure and no
        ``nominal``.

    Notes
    -----
    The AEC keywords do not identify short frames (see the module's notes): ``AECMODE`` and ``AIAECENF``
    are set on every frame and ``AECTYPE = 2`` on short and nominal frames alike, so the rule is the
    measured exposure.

    Examples
    --------
    >>> from aiapy.data import sample
    >>> from aiapy.utils import is_short_exposure
    >>> [is_short_exposure(smap) for smap in sample.flare_maps(131)[2:5]]
    [False, True, True]
    """
    check_aia_map(smap, function="is_short_exposure")
    unit = smap.unit
    if smap.meta.get("expnorm") in (True, "T") or (unit is not None and unit.physical_type != u.DN.physical_type):
        raise ValueError(
            "is_short_exposure needs a map not normalised by its exposure (EXPNORM = T or a unit per second: "
            "EXPTIME is then 1 s); ask the original level-1 map."
        )
    exptime = exposure_time(smap, function="is_short_exposure")
    if nominal is None:
        channel = round(check_channel(smap.wavelength, argument="the map's WAVELNTH").to_value(u.AA))
        if channel not in NOMINAL_EXPOSURE:
            raise ValueError(
                f"is_short_exposure knows no nominal exposure for the {channel} Å channel; pass nominal= "
                "(e.g. nominal=1.0 * u.s)."
            )
        nominal = NOMINAL_EXPOSURE[channel] * u.s
    elif not isinstance(nominal, u.Quantity) or nominal.unit.physical_type != "time":
        raise TypeError(f"nominal must be a time Quantity (e.g. 2.9 * u.s), not {nominal!r}.")
    return bool(exptime < SHORT_FRACTION * nominal)
