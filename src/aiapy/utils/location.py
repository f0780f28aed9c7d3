"""The position of SDO from the JSOC level-1 headers."""

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.time import Time
from sunpy.time import parse_time

__all__ = ["sdo_location"]

_HINT = "Offline, use the observer position in a level-1 header: smap.observer_coordinate (HAEX/Y/Z_OBS)."


def sdo_location(time):
    """
    The position of SDO at ``time``, interpolated from the level-1 records around it.

    Parameters
    ----------
    time : `~astropy.time.Time` or anything `sunpy.time.parse_time` accepts
        A single time.

    Returns
    -------
    `~astropy.coordinates.SkyCoord`
        Cartesian heliocentric mean ecliptic position (``HAEX_OBS``, ``HAEY_OBS``, ``HAEZ_OBS``), in m.

    Raises
    ------
    aiapy.net.RemoteUnavailableError
        If the JSOC cannot be reached.
    aiapy.net.NoDataError
        If no ``aia.lev1`` record lies within 3 s of ``time``.

    Notes
    -----
    Queries ``aia.lev1[t - 3 s / 6 s]`` for ``T_OBS, HAEX_OBS, HAEY_OBS, HAEZ_OBS`` and interpolates each
    coordinate linearly in time (MJD); with a single record, that record's position is returned.
    """
    from aiapy.net import jsoc  # lazily: keep `import aiapy.utils` free of the network layer

    time = parse_time(time)
    if not time.isscalar:
        raise ValueError(f"time must be a single time; got {time.size} times.")
    start = (time - 3 * u.s).utc
    records = jsoc.query(f"aia.lev1[{start.isot}Z/6s]", key="T_OBS,HAEX_OBS,HAEY_OBS,HAEZ_OBS", offline_hint=_HINT)
    record_times = Time([str(t).rstrip("Z") for t in records["T_OBS"]], scale="utc").mjd
    order = np.argsort(record_times)
    xyz = [np.interp(time.utc.mjd, record_times[order], np.asarray(records[key], dtype=float)[order])
           for key in ("HAEX_OBS", "HAEY_OBS", "HAEZ_OBS")]  # fmt: skip
    return SkyCoord(*xyz, unit=u.m, representation_type="cartesian", frame="heliocentricmeanecliptic", obstime=time)
