"""Re-insert the "spikes" (energetic-particle hits and hot pixels) removed from AIA level-1 images.

The level-1 pipeline replaces each spike by a local estimate and stores the removed pixels as the
``spikes`` segment of the record: a FITS array of 2 (or 3) rows of integers, row 0 the flat index into the
4096 x 4096 frame, row 1 the original value. `fetch_spikes` gets them (from the JSOC, or from a file) and
maps them into the pixel frame of a map, full frame or cutout; `respike` writes them back.

References
----------
.. [1] SolarSoft ``aia_respike.pro``; JSOC, "AIA level 1 processing", http://jsoc.stanford.edu/AIA/AIA_lev1.html
"""

import logging
import os
from collections.abc import Sequence

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.time import Time
from astropy.wcs.utils import pixel_to_pixel
from sunpy.map import GenericMap, MapSequence
from sunpy.map.mapbase import PixelPair

from aiapy.net import jsoc
from aiapy.net.exceptions import NoDataError
from aiapy.utils.constants import DETECTOR_SHAPE, PLATE_SCALE
from aiapy.utils.exceptions import warn_user
from aiapy.utils.maps import add_history, check_aia_map, check_level1, refresh_statistics, require_keys

__all__ = ["FULL_FRAME_SHAPE", "fetch_spikes", "read_spikes_file", "respike"]

log = logging.getLogger(__name__)

#: Shape of the CCD frame the flat spike indices refer to.
FULL_FRAME_SHAPE = DETECTOR_SHAPE
#: Level-1 series and cadence (s) by channel (JSOC AIA level-1 page).
_SERIES = {1600: ("aia.lev1_uv_24s", 24.0), 1700: ("aia.lev1_uv_24s", 24.0), 4500: ("aia.lev1_vis_1h", 3600.0)}
_EUV_SERIES = ("aia.lev1_euv_12s", 12.0)
_OFFLINE_HINT = (
    "Offline, pass the spikes yourself: respike(smap, spikes=(coords, values)) or a spikes FITS file, "
    "respike(smap, spikes='/path/to/spikes.fits'), or fetch_spikes(smap, spikes_file=...)."
)


def read_spikes_file(path):
    """
    Read a level-1 ``spikes`` segment file.

    Parameters
    ----------
    path : str or path-like
        A FITS file (optionally gzipped) whose first data HDU holds a (2, N) or (3, N) integer array:
        row 0 flat indices into the 4096 x 4096 frame, row 1 the original values (a third row, when
        present, is not used).

    Returns
    -------
    pixels : `~sunpy.map.mapbase.PixelPair`
        Full-frame 0-based pixel coordinates ``(x, y)`` of each spike.
    values : (N,) ndarray of int32
        The original values.

    Raises
    ------
    ValueError
        If the array does not have that layout or an index lies outside the frame.
    """
    data = fits.getdata(path)
    if data is None or data.ndim != 2 or data.shape[0] not in (2, 3):
        shape = None if data is None else data.shape
        raise ValueError(f"{path} is not a spikes file: expected a (2, N) or (3, N) array, got shape {shape}.")
    data = np.asarray(data).astype(np.int64)
    index, values = data[0], data[1].astype(np.int32)
    if index.size and (index.min() < 0 or index.max() >= np.prod(FULL_FRAME_SHAPE)):
        raise ValueError(f"{path} has spike indices outside the 4096 x 4096 frame.")
    y, x = np.unravel_index(index, FULL_FRAME_SHAPE)
    return PixelPair(x.astype(float) * u.pix, y.astype(float) * u.pix), values


def _to_map_frame(smap, full):
    """Full-frame pixel coordinates -> 0-based pixels of ``smap``, keeping those that fall on it."""
    x, y = full.x.to_value(u.pix), full.y.to_value(u.pix)
    if smap.data.shape != FULL_FRAME_SHAPE:
        require_keys(smap, ["X0_MP", "Y0_MP"], function="fetch_spikes")
        full_wcs = smap.wcs.deepcopy()
        full_wcs.wcs.crval = [0.0, 0.0]
        full_wcs.wcs.crpix = [smap.meta["x0_mp"] + 1, smap.meta["y0_mp"] + 1]
        x, y = pixel_to_pixel(full_wcs, smap.wcs, x, y)
    ny, nx = smap.data.shape
    xi, yi = np.round(x), np.round(y)
    keep = (xi >= 0) & (xi < nx) & (yi >= 0) & (yi < ny)
    return x[keep], y[keep], keep


def _spikes_in_map(smap, pixels, values, as_coords):
    x, y, keep = _to_map_frame(smap, pixels)
    pair = PixelPair(x * u.pix, y * u.pix)
    return (smap.pixel_to_world(pair.x, pair.y) if as_coords else pair), values[keep]


def _series(smap):
    return _SERIES.get(round(float(smap.meta["wavelnth"])), _EUV_SERIES)


def _fetch_files(maps):
    """Spikes file paths for ``maps``: one JSOC query per (series, channel) over the maps' time span."""
    groups = {}
    for i, smap in enumerate(maps):
        groups.setdefault((_series(smap), round(float(smap.meta["wavelnth"]))), []).append(i)
    paths = [None] * len(maps)
    for ((series, cadence), wavelnth), members in groups.items():
        times = Time([maps[i].reference_date.utc.isot for i in members], scale="utc")
        start = (times.min() - cadence * u.s).utc
        span = (times.max() - times.min()).to_value(u.s) + 2 * cadence
        ds = f"{series}[{start.isot}Z/{span:.0f}s][WAVELNTH={wavelnth}]"
        records = jsoc.query(ds, key="T_OBS", seg="spikes", offline_hint=_OFFLINE_HINT)
        record_times = Time([str(t).rstrip("Z") for t in records["T_OBS"]], scale="utc")
        rows = jsoc.nearest_rows(record_times, times, tolerance=cadence / 2)
        for i, row in zip(members, rows, strict=True):
            if row < 0:
                raise NoDataError(f"No {series} record with spikes at T_OBS {maps[i].reference_date.isot} ({ds}).")
            paths[i] = jsoc.segment_file(
                records["spikes"][row], what=f"the spikes of {series} {maps[i].reference_date.isot}",
                offline_hint=_OFFLINE_HINT,
            )  # fmt: skip
    return paths


def _as_map_list(smap, function):
    single = isinstance(smap, GenericMap)
    maps = [smap] if single else list(smap) if isinstance(smap, Sequence | MapSequence) else None
    if maps is None:
        raise TypeError(f"{function} needs an AIA map or a sequence of them; got {type(smap).__name__}.")
    for item in maps:
        check_aia_map(item, function=function)
        require_keys(item, ["WAVELNTH"], function=function)
    return single, maps


def fetch_spikes(smap, *, as_coords=False, spikes_file=None):
    """
    The spikes removed from a level-1 image, in the pixel frame of ``smap``.

    Parameters
    ----------
    smap : `~sunpy.map.sources.AIAMap` or sequence of them
        A level-1 map, full frame or cutout (``X0_MP``/``Y0_MP`` locate a cutout in the frame). For a
        sequence, the spikes of all maps of one channel are found with one JSOC query over their time span.
    as_coords : bool
        Return world coordinates (`~astropy.coordinates.SkyCoord`) instead of pixels.
    spikes_file : str or path-like, optional
        Read the spikes from this file (the record's ``spikes`` segment) instead of the JSOC; single map only.

    Returns
    -------
    coords : `~sunpy.map.mapbase.PixelPair` or `~astropy.coordinates.SkyCoord`
        Positions of the spikes that fall on the map (0-based pixels of ``smap``).
    values : (N,) ndarray of int32
        Their original values. For a sequence: a list of ``(coords, values)``.

    Raises
    ------
    aiapy.net.RemoteUnavailableError
        If the JSOC cannot be reached (the message names the offline alternatives).
    aiapy.net.NoDataError
        If the JSOC has no record of the image.

    Notes
    -----
    A cutout's spikes are mapped from the full frame through a copy of the cutout's WCS whose reference
    pixel is the Sun centre (``X0_MP + 1``, ``Y0_MP + 1``) and reference value (0, 0); only spikes whose
    rounded position lies on the cutout are kept. The series is ``aia.lev1_euv_12s`` (EUV),
    ``aia.lev1_uv_24s`` (1600, 1700) or ``aia.lev1_vis_1h`` (4500).
    """
    single, maps = _as_map_list(smap, "fetch_spikes")
    if spikes_file is not None:
        if not single:
            raise ValueError("spikes_file can only be given with a single map, not a sequence.")
        paths = [spikes_file]
    else:
        paths = _fetch_files(maps)
    results = [_spikes_in_map(m, *read_spikes_file(p), as_coords) for m, p in zip(maps, paths, strict=True)]
    return results[0] if single else results


def _check_level1(smap):
    check_level1(smap, function="respike")
    for scale in (smap.scale.axis1, smap.scale.axis2):
        if abs(scale.to_value(u.arcsec / u.pix) - PLATE_SCALE) > 1e-3:
            warn_user(f"The plate scale {scale} differs from the level-1 0.6 arcsec/pix; the spikes may be misplaced.")
    if smap.meta.get("nspikes") == 0:
        raise ValueError("No spikes were present in the level 0 data (NSPIKES = 0); nothing to respike.")


def _reinsert(smap, coords, values):
    if isinstance(coords, SkyCoord):
        coords = smap.world_to_pixel(coords)
    x = np.round(np.asarray(coords.x.to_value(u.pix))).astype(np.intp)
    y = np.round(np.asarray(coords.y.to_value(u.pix))).astype(np.intp)
    values = np.asarray(values)
    dtype = smap.data.dtype
    if (
        dtype.kind in "iu"
        and values.size
        and (values.min() < np.iinfo(dtype).min or values.max() > np.iinfo(dtype).max)
    ):
        dtype = np.result_type(dtype, values.dtype)
    data = smap.data.astype(dtype, copy=True)
    data[y, x] = values
    meta = refresh_statistics(smap.meta.copy(), data)
    meta.update({"lvl_num": 0.5, "nspikes": 0, "comments": f"Respike applied; {values.size} hot pixels reinserted."})
    add_history(meta, f"respike: {values.size} spikes reinserted; now level 0.5")
    return smap._new_instance(  # sunpy's own constructor of a same-class map
        data, meta, plot_settings=smap.plot_settings, mask=smap.mask
    )


def respike(smap, *, spikes=None):
    """
    Put the spikes removed by the level-1 pipeline back into the image (level 1 -> 0.5).

    Parameters
    ----------
    smap : `~sunpy.map.sources.AIAMap` or sequence of them
        Level-1 map(s), full frame or cutout.
    spikes : tuple, str, path-like or list, optional
        ``(coords, values)`` as returned by `fetch_spikes`, or the path of a spikes file; for a sequence, a
        list of those. None (default): fetched from the JSOC (one query per channel for a sequence).

    Returns
    -------
    `~sunpy.map.sources.AIAMap` or list of them
        New map(s) with the original values at the spike positions, ``LVL_NUM`` 0.5, ``NSPIKES`` 0, a
        ``COMMENTS`` note of how many pixels were reinserted and a HISTORY line. Integer data keep their
        dtype unless a value does not fit.

    Raises
    ------
    TypeError
        If ``smap`` is not an AIA map (or a sequence of them).
    ValueError
        If a map is not level 1, or its header says no spikes were removed (``NSPIKES`` = 0).

    Notes
    -----
    Respiking is the first step of SolarSoft ``aia_prep`` for users who want the undespiked data, e.g.
    to study energetic-particle hits or to deconvolve without the despiking artefacts. A spike at a
    non-integer position (a cutout) is written at the nearest pixel.
    """
    single, maps = _as_map_list(smap, "respike")
    for item in maps:
        _check_level1(item)
    if spikes is None:
        spikes = fetch_spikes(maps)
    elif single:
        spikes = [spikes]
    if len(spikes) != len(maps):
        raise ValueError(f"spikes must give one entry per map: {len(spikes)} for {len(maps)} maps.")
    results = []
    for item, entry in zip(maps, spikes, strict=True):
        if isinstance(entry, str | os.PathLike):
            entry = fetch_spikes(item, spikes_file=entry)
        results.append(_reinsert(item, *entry))
    return results[0] if single else results
