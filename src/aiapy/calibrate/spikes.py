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
from aiapy.utils.dtypes import supported_float_type
from aiapy.utils.exceptions import warn_user
from aiapy.utils.header import checked_map
from aiapy.utils.maps import (
    add_history,
    applied_flag,
    check_level1,
    check_not_applied,
    header_time,
    observation_time,
    refresh_statistics,
    require_keys,
)

__all__ = ["FULL_FRAME_SHAPE", "fetch_spikes", "read_spikes_file", "respike"]

log = logging.getLogger(__name__)

#: Shape of the CCD frame the flat spike indices refer to.
FULL_FRAME_SHAPE = DETECTOR_SHAPE
#: Level-1 series and cadence (s) by channel (JSOC AIA level-1 page).
_SERIES = {1600: ("aia.lev1_uv_24s", 24.0), 1700: ("aia.lev1_uv_24s", 24.0), 4500: ("aia.lev1_vis_1h", 3600.0)}
_EUV_SERIES = ("aia.lev1_euv_12s", 12.0)
#: Time keywords a spikes file (a JSOC export with keywords) may carry, compared with the map's own.
_TIME_KEYS = ("T_OBS", "T_REC", "DATE-OBS")
#: The largest difference of one time keyword between a spikes file and its image: they come from one JSOC
#: record, so they are equal up to the rounding of the printed value; images of one channel are >= 12 s apart.
_SAME_RECORD = 1.0 * u.s
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
    pixels, values, _ = _read_spikes(path)
    return pixels, values


def _read_spikes(path):
    """`read_spikes_file` plus the file's header: the primary HDU's keywords updated by the data HDU's."""
    with fits.open(path) as hdus:
        hdu = next((hdu for hdu in hdus if hdu.data is not None), None)
        data = None if hdu is None else np.asarray(hdu.data)
        header = fits.Header(hdus[0].header)
        if hdu is not None and hdu is not hdus[0]:
            header.update(hdu.header)
    if data is None or data.ndim != 2 or data.shape[0] not in (2, 3):
        shape = None if data is None else data.shape
        raise ValueError(f"{path} is not a spikes file: expected a (2, N) or (3, N) array, got shape {shape}.")
    data = data.astype(np.int64)
    index, values = data[0], data[1].astype(np.int32)
    if index.size and (index.min() < 0 or index.max() >= np.prod(FULL_FRAME_SHAPE)):
        raise ValueError(f"{path} has spike indices outside the 4096 x 4096 frame.")
    y, x = np.unravel_index(index, FULL_FRAME_SHAPE)
    return PixelPair(x.astype(float) * u.pix, y.astype(float) * u.pix), values, header


def _check_same_image(smap, header, count, path):
    """
    Raise `ValueError` unless the identity the spikes file's header carries agrees with ``smap``'s header:
    WAVELNTH, FSN (frame serial number), T_OBS / T_REC / DATE-OBS (within `_SAME_RECORD`) and NSPIKES (the
    file's own count, and the map's NSPIKES). A keyword is compared only when both headers carry it.
    """
    def both(key):
        return header.get(key) not in (None, "") and smap.meta.get(key.lower()) not in (None, "")

    problems = [
        f"{key} = {header[key]} (the map's is {smap.meta[key.lower()]})"
        for key in ("WAVELNTH", "FSN", "NSPIKES")
        if both(key) and round(float(header[key])) != round(float(smap.meta[key.lower()]))
    ]
    for key in filter(both, _TIME_KEYS):
        difference = abs(header_time(header, key, function="respike") - header_time(smap.meta, key, function="respike"))
        if difference > _SAME_RECORD:
            problems.append(f"{key} = {header[key]} (the map's is {smap.meta[key.lower()]})")
    if header.get("NSPIKES") not in (None, "") and round(float(header["NSPIKES"])) != count:
        problems.append(f"NSPIKES = {header['NSPIKES']} but the file holds {count} spikes")
    if problems:
        raise ValueError(f"The spikes file {path} is not this image's: {'; '.join(problems)}.")


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
        times = Time([observation_time(maps[i], function="fetch_spikes", prefer="T_OBS").utc for i in members])
        start = (times.min() - cadence * u.s).utc
        span = (times.max() - times.min()).to_value(u.s) + 2 * cadence
        ds = f"{series}[{start.isot}Z/{span:.0f}s][WAVELNTH={wavelnth}]"
        records = jsoc.query(ds, key="T_OBS", seg="spikes", offline_hint=_OFFLINE_HINT)
        record_times = Time([str(t).rstrip("Z") for t in records["T_OBS"]], scale="utc")
        rows = jsoc.nearest_rows(record_times, times, tolerance=cadence / 2)
        for i, time, row in zip(members, times, rows, strict=True):
            if row < 0:
                raise NoDataError(f"No {series} record with spikes at T_OBS {time.isot} ({ds}).")
            paths[i] = jsoc.segment_file(
                records["spikes"][row], what=f"the spikes of {series} {time.isot}",
                offline_hint=_OFFLINE_HINT,
            )  # fmt: skip
    return paths


def _as_map_list(smap, function):
    single = isinstance(smap, GenericMap)
    maps = [smap] if single else list(smap) if isinstance(smap, Sequence | MapSequence) else None
    if maps is None:
        raise TypeError(f"{function} needs an AIA map or a sequence of them; got {type(smap).__name__}.")
    maps = [checked_map(item, function=function, data=False) for item in maps]
    for item in maps:
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
    KeyError
        If the JSOC is asked and the map has neither T_OBS nor DATE-OBS.
    ValueError
        If the spikes file is not a spikes file, or its header identifies another image (see `respike`).

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
    results = []
    for item, path in zip(maps, paths, strict=True):
        pixels, values, header = _read_spikes(path)
        _check_same_image(item, header, values.size, path)
        results.append(_spikes_in_map(item, pixels, values, as_coords))
    return results[0] if single else results


def _check_respikable(smap):
    check_not_applied(smap, function="respike")
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
    if dtype.kind not in "iu":
        dtype = supported_float_type(dtype)
    elif values.size and (values.min() < np.iinfo(dtype).min or values.max() > np.iinfo(dtype).max):
        dtype = np.result_type(dtype, values.dtype)
    data = smap.data.astype(dtype, copy=True)
    data[y, x] = values
    meta = refresh_statistics(smap.meta.copy(), data)
    meta.update({"lvl_num": 0.5, "nspikes": 0, "comments": f"Respike applied; {values.size} hot pixels reinserted."})
    meta.update(applied_flag("respike"))
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
        ``COMMENTS`` note of how many pixels were reinserted, a HISTORY line and the header flag
        ``RESPIKED = T``. Integer data keep their dtype (values are written, not computed) unless a value
        does not fit, which widens it; float data follow `~aiapy.utils.dtypes.supported_float_type` (float16
        gives float32: it cannot hold every 14-bit value exactly).

    Raises
    ------
    TypeError
        If ``smap`` is not an AIA map (or a sequence of them).
    ValueError
        If a map was respiked before (``RESPIKED = T``, or the HISTORY line of an earlier aiapy), is not
        level 1, or its header says no spikes were removed (``NSPIKES`` = 0); if a spikes file is not one
        or its header identifies another image (below).

    Warns
    -----
    `~aiapy.utils.AIApyUserWarning`
        If the plate scale is not the level-1 0.6 arcsec/pix (a resampled map): the spikes may be misplaced.

    Notes
    -----
    Respiking is the first step of SolarSoft ``aia_prep`` for users who want the undespiked data, e.g.
    to study energetic-particle hits or to deconvolve without the despiking artefacts. A spike at a
    non-integer position (a cutout) is written at the nearest pixel.

    **What ties the spikes to the image.** Fetched from the JSOC (``spikes=None``), the record is the one of
    the map's channel whose T_OBS is nearest the map's (DATE-OBS when T_OBS is missing), within half the
    series cadence. A spikes *file* is checked against the map through its header, when the header carries
    them (a JSOC export with keywords does): WAVELNTH and FSN must be equal, T_OBS, T_REC and DATE-OBS
    within 1 s, NSPIKES equal to the map's and to the number of spikes in the file; a keyword is compared
    only when both headers have it. A file without such keywords (the bare segment as stored by the JSOC,
    the bundled constructed file) carries no identity: then only its layout ((2, N) or (3, N) integers) and
    that every index lies in the 4096 x 4096 frame are checked, and a file of another time or channel is
    *not* detected. Nor is anything checked for ``(coords, values)`` given directly. Keep spikes files
    named after their image (the JSOC's ``<record>.spikes.fits``) or fetch them.
    """
    single, maps = _as_map_list(smap, "respike")
    for item in maps:
        _check_respikable(item)
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
