"""Reading a data cube written by `~aiapy.pipeline.build_cube`: xarray, ndcube and one frame as a map."""

import numpy as np
import sunpy.map
from astropy.io import fits
from astropy.time import Time

from aiapy.pipeline._cubegrid import Window
from aiapy.pipeline._cubestore import CUBE_KEY, Records, channel_name, open_store, record_path, store_url

__all__ = ["open_cube", "Cube"]


def open_cube(store, *, storage_options=None):
    """
    Open a data cube written by `build_cube` (a local folder or an fsspec URL), read-only.

    Parameters
    ----------
    store : str or path-like
    storage_options : dict, optional
        fsspec options of a URL.

    Returns
    -------
    `Cube`

    Raises
    ------
    FileNotFoundError
        If there is no store at ``store``.
    ValueError
        If the store is not an aiapy cube.

    Notes
    -----
    The stores are plain Zarr: ``xarray.open_zarr(store, group="171A")`` (``aiapy`` layout) or
    ``xarray.open_zarr(store, group="2014")`` (``sdoml`` layout) reads them without aiapy.
    """
    url = store_url(store)
    root = None
    for zarr_format in (3, 2):
        try:
            root = open_store(url, mode="r", storage_options=storage_options, zarr_format=zarr_format)
        except FileNotFoundError:
            continue
        if CUBE_KEY in root.attrs:
            break
    if root is None:
        raise FileNotFoundError(f"no cube at {url}.")
    if CUBE_KEY not in root.attrs:
        raise ValueError(f"{url} is a Zarr store but not an aiapy cube (no {CUBE_KEY!r} attribute).")
    return Cube(url, root, storage_options)


class Cube:
    """
    A data cube: per channel, the frames in time order on one level-1.5 grid.

    Attributes
    ----------
    url : str
    layout : {"aiapy", "sdoml"}
    channels : list of int
        Wavelengths in Angstrom.
    grid : list of int
        The common grid as ``[binning, first row, first column, rows, columns]`` of the full level-1.5
        frame of that binning.
    provenance : dict
        aiapy version, settings identifier, steps and layout settings of the cube.
    """

    def __init__(self, url, root, storage_options=None):
        self.url, self._root, self._storage_options = url, root, storage_options
        self._records = Records(url, storage_options)
        cube = dict(root.attrs[CUBE_KEY])
        self._frames = cube["frames"]
        self.layout = cube["layout"]
        self.grid = cube["grid"]
        self.provenance = {key: cube.get(key) for key in ("aiapy", "config_id", "steps", "settings", "layout")}
        self.channels = sorted({int(key.split("/")[1][:-1]) for key in self._frames})

    def __repr__(self):
        counts = {channel: len(self.times(channel)) for channel in self.channels}
        return f"<aiapy Cube {self.url} layout={self.layout} frames={counts}>"

    def _keys(self, channel):
        name = channel_name(channel)
        keys = sorted(key for key in self._frames if key.split("/")[1] == name)
        if not keys:
            raise KeyError(f"no channel {channel} in the cube; it has {self.channels}.")
        return keys

    def times(self, channel):
        """The planned observation times (T_OBS) of a channel, in order, as `~astropy.time.Time`."""
        return Time([t for key in self._keys(channel) for t in self._frames[key]], scale="utc")

    def _locate(self, channel, time):
        """(group, index) of the frame of ``channel`` observed at ``time`` (T_OBS, within 1 ms)."""
        wanted = Time(time, scale="utc")
        for key in self._keys(channel):
            times = Time(self._frames[key], scale="utc")
            match = np.flatnonzero(np.abs((times - wanted).to_value("s")) < 1e-3)
            if match.size:
                return key.split("/")[0], int(match[0])
        raise KeyError(f"no frame of channel {channel} at {wanted.isot} in the cube.")

    def _array(self, group, channel):
        name = channel_name(channel)
        return self._root[f"{group}/{name}" if self.layout == "sdoml" else f"{name}/data"]

    def xarray(self, channel):
        """
        A channel as an ``xarray.Dataset``, read lazily. ``aiapy`` layout: ``data`` (time, y, x), ``mask``
        where stored, and the per-frame header values, on a ``time`` coordinate (T_OBS). ``sdoml`` layout:
        the channel's array of each year (``t``, ``x``, ``y`` as SDOML names them) joined along ``t``,
        with a ``t`` coordinate from the T_OBS attribute.
        """
        import xarray as xr  # noqa: PLC0415

        if self.layout == "aiapy":
            return xr.open_zarr(self.url, group=channel_name(channel), storage_options=self._storage_options)
        name = channel_name(channel)
        parts = [
            xr.open_zarr(self.url, group=key.split("/")[0], storage_options=self._storage_options)[[name]]
            for key in self._keys(channel)
        ]
        dataset = xr.concat(parts, dim="t") if len(parts) > 1 else parts[0]
        return dataset.assign_coords(t=self.times(channel).datetime64)

    def frame_header(self, channel, time):
        """The FITS header of a stored frame, on the cube's grid (NAXIS and CRPIX of the common grid)."""
        group, index = self._locate(channel, time)
        record = self._records.read(record_path(group, channel, index))
        if record is None:
            raise KeyError(f"the frame of channel {channel} at {Time(time).isot} is planned but not stored.")
        header = fits.Header.fromstring(record["header"])
        grid = Window(*self.grid)
        header["NAXIS1"], header["NAXIS2"] = grid.columns, grid.rows
        header["CRPIX1"], header["CRPIX2"] = grid.crpix()
        return header, group, index

    def frame_map(self, channel, time):
        """
        One frame as a `~sunpy.map.GenericMap` on the cube's grid: the data and header of its level-1.5
        output (NaN where the frame has no data; its pixel flags as the map's ``mask``).
        """
        header, group, index = self.frame_header(channel, time)
        data = np.asarray(self._array(group, channel)[index])
        mask = None
        if self.layout == "aiapy" and "mask" in self._root[channel_name(channel)]:
            mask = np.asarray(self._root[f"{channel_name(channel)}/mask"][index])
        return sunpy.map.Map(data, header, mask=mask)

    def ndcube(self, channel):
        """
        A channel as an ``ndcube.NDCube`` (time, y, x), read lazily: its WCS joins the celestial WCS of the
        cube's grid (the observer of the first stored frame) and a time axis of the frames' T_OBS.
        """
        import dask.array as da  # noqa: PLC0415
        from astropy.wcs.wcsapi import HighLevelWCSWrapper  # noqa: PLC0415
        from ndcube import NDCube  # noqa: PLC0415
        from ndcube.extra_coords import TimeTableCoordinate  # noqa: PLC0415
        from ndcube.wcs.wrappers import CompoundLowLevelWCS  # noqa: PLC0415

        keys = self._keys(channel)
        header = None
        for time in self.times(channel):
            try:
                header = self.frame_header(channel, time)[0]
                break
            except KeyError:
                continue
        if header is None:
            raise KeyError(f"no stored frame of channel {channel}.")
        arrays = [da.from_zarr(self._array(key.split("/")[0], channel)) for key in keys]
        data = da.concatenate(arrays) if len(arrays) > 1 else arrays[0]
        celestial = sunpy.map.Map(np.zeros((1, 1), np.float32), header).wcs  # the header's WCS, observer included
        celestial.array_shape = data.shape[1:]
        times = TimeTableCoordinate(self.times(channel), names="time", physical_types="time")
        wcs = CompoundLowLevelWCS(celestial, times.wcs)
        return NDCube(data, wcs=HighLevelWCSWrapper(wcs), meta={"channel": channel, "cube": self.url})
