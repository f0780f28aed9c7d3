"""
The Zarr data-cube sink of the batch pipeline: the level-1.5 frames of many inputs as one aligned (time, y,
x) array per channel, on a local disk or an object store (fsspec: ``s3://...``).

`ZarrCube` implements the `~aiapy.pipeline._product.Sink` contract: ``open`` (on the client) plans every
frame's place (its channel and time index) and the common grid and creates or extends the arrays before any
work; ``write`` (on the worker that prepped the frame) writes that frame's chunks and then its record;
``close`` (on the client, also after Ctrl-C) writes the per-frame values along time from the records and
consolidates the metadata. Store layout: `aiapy.pipeline._cubestore`.
"""

import logging
import numbers
import os
import re
import socket
import time
import warnings

import numpy as np
import zarr
from astropy.io import fits
from astropy.time import Time

from aiapy._version import __version__
from aiapy.pipeline._cubegrid import (
    DOWNSAMPLES,
    Window,
    downsample_flags,
    downsample_map,
    fixed_radius,
    planned_window,
    product_window,
    union,
)
from aiapy.pipeline._cubestore import (
    CUBE_KEY,
    channel_name,
    fill_value,
    Records,
    is_remote,
    open_store,
    record_path,
    stage_path,
    store_url,
)
from aiapy.pipeline._fitsfile import image_header
from aiapy.pipeline._output import product_header
from aiapy.pipeline._product import Sink
from aiapy.utils.constants import DETECTOR_SIZE, LEVEL15, PLATE_SCALE

__all__ = ["ZarrCube", "LAYOUTS", "FRAME_VALUES", "TILE"]

log = logging.getLogger(__name__)

#: The store layouts: ``aiapy`` (Zarr v3, a group per channel, whole-frame shards) and ``sdoml`` (Zarr v2 as
#: SDOML v2: a group per year, an array per channel in chunks of 15 frames, keywords as attribute lists).
LAYOUTS = ("aiapy", "sdoml")
#: Header values stored along time in the ``aiapy`` layout (besides ``time``, from T_OBS), and their dtypes.
FRAME_VALUES = {
    "exptime": "float64",
    "quality": "int64",
    "fsn": "int64",
    "dsun_obs": "float64",
    "rsun_obs": "float64",
    "hgln_obs": "float64",
    "hglt_obs": "float64",
    "crln_obs": "float64",
    "crlt_obs": "float64",
}
#: Side of the square tiles inside a frame's shard (``aiapy`` layout): what a partial read decodes. 256 x 256
#: float32 is 256 KiB; ``benchmarks/bench_cube.py`` measures it against whole-frame chunks.
TILE = 256
#: SDOML v2: frames per chunk and the compressor (Blosc zstd level 5, bit shuffle).
_SDOML_FRAMES = 15
#: Microseconds since this epoch (UTC, no leap seconds: CF ``standard`` calendar) give the time coordinate.
_EPOCH = "1970-01-01T00:00:00"
_TIME_UNITS = f"microseconds since {_EPOCH}"


def _codec(layout):
    if layout == "sdoml":
        import numcodecs  # noqa: PLC0415 - the Zarr v2 compressor of SDOML

        return numcodecs.Blosc(cname="zstd", clevel=5, shuffle=numcodecs.Blosc.BITSHUFFLE)
    # lz4 with bit shuffle: lossless, 27 % smaller than float32 FITS on level-1.5 frames, and of the codecs tried
    # (zstd 1, lz4 byte/bit shuffle, none) the cheapest to write per byte saved (benchmarks/bench_cube.py)
    return zarr.codecs.BloscCodec(cname="lz4", clevel=5, shuffle="bitshuffle")


def _input_header(item):
    """
    What is known of an item's frame before it is prepped, as header keywords: its file's header where the
    file is there (``item.path``); else, for an archive record not yet downloaded, a full frame of the
    ``channel``, ``time`` and ``shape`` of ``item.facts``. `ValueError` where neither is known.
    """
    path = getattr(item, "path", None) or item.name
    if os.path.isfile(path):
        header = image_header(path)
        if header.get("ZIMAGE"):  # the table header of a tile-compressed image: its image's shape under Z names
            header = header.copy()
            header["NAXIS1"], header["NAXIS2"] = header["ZNAXIS1"], header["ZNAXIS2"]
        return header
    facts = dict(getattr(item, "facts", None) or {})
    if not {"channel", "time", "shape"} <= set(facts):
        raise ValueError(f"{item.name}: neither its file nor its channel, time and shape are known.")
    rows, columns = facts["shape"]
    if rows != columns or DETECTOR_SIZE % rows:
        raise ValueError(f"{item.name}: a {rows} x {columns} archive record is not a full frame.")
    scale = PLATE_SCALE * (DETECTOR_SIZE // rows)
    return {"WAVELNTH": facts["channel"], "T_OBS": str(facts["time"]), "NAXIS1": columns, "NAXIS2": rows,
            "LVL_NUM": LEVEL15, "CDELT1": scale, "CRPIX1": (columns + 1) / 2, "CRPIX2": (rows + 1) / 2}  # fmt: skip


def _time_of(value):
    return Time(str(value).rstrip("Z").replace("_", "T"), scale="utc").isot


def _check_positive_int(name, value):
    if value is not None and (not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1):
        raise ValueError(f"{name} must be None or a positive int, not {value!r}.")


class ZarrCube(Sink):
    """
    A sink writing every prepped frame into one Zarr store: an aligned (time, y, x) cube per channel.

    Parameters
    ----------
    store : str or path-like
        A local folder or an fsspec URL (``s3://bucket/cube.zarr``; the endpoint and credentials from the
        usual AWS settings: ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``...).
    layout : {"aiapy", "sdoml"}
        See `LAYOUTS`.
    resolution : int, optional
        Downsample full frames to this many pixels square (a divisor of the frame's size), by ``downsample``.
        Default: keep the level-1.5 resolution. The ``sdoml`` layout needs it (SDOML v2: 512).
    downsample : {"mean", "sum"}
        How blocks of pixels are combined (SDOML v2: mean; v1: sum).
    fixed_radius : float, optional
        Rescale full frames about Sun centre to this solar radius in arcsec (SDOML: 976) before
        downsampling.
    storage_options : dict, optional
        Passed to fsspec for a URL.
    """

    #: The SDOML layout is made from level-1.5 synoptic images: any input already at level 1.5 is taken.
    accepts_level15 = True

    def __init__(
        self, store, *, layout="aiapy", resolution=None, downsample="mean", fixed_radius=None, storage_options=None
    ):
        self.url = store_url(store)
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}.")
        _check_positive_int("resolution", resolution)
        if downsample not in DOWNSAMPLES:
            raise ValueError(f"downsample must be one of {DOWNSAMPLES}, not {downsample!r}.")
        if fixed_radius is not None:
            if not isinstance(fixed_radius, numbers.Real) or isinstance(fixed_radius, bool) or not fixed_radius > 0:
                raise ValueError(f"fixed_radius must be None or a positive number of arcsec, not {fixed_radius!r}.")
            fixed_radius = float(fixed_radius)
        if layout == "sdoml" and resolution is None:
            raise ValueError("layout='sdoml' needs a resolution (SDOML v2: resolution=512, fixed_radius=976).")
        self.layout, self.resolution, self.downsample, self.fixed_radius = layout, resolution, downsample, fixed_radius
        self.storage_options = storage_options
        self.records = Records(self.url, storage_options)
        self.grid = None  # the common Window, set by open()
        self.slots = {}  # item name -> (group, channel, index), set by open()
        self._root = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_root"] = None  # each process opens the store itself
        return state

    @property
    def zarr_format(self):
        return 2 if self.layout == "sdoml" else 3

    def root(self, mode="a"):
        if self._root is None:
            self._root = open_store(
                self.url, mode=mode, storage_options=self.storage_options, zarr_format=self.zarr_format
            )
        return self._root

    def report_settings(self):
        """What the run's report adds for this sink: the store and the layout settings."""
        return {"store": self.url} | self.settings()

    def settings(self):
        """What the cube's layout is, beside the pipeline's settings: stored in the cube, checked on append."""
        return {
            "layout": self.layout,
            "resolution": self.resolution,
            "downsample": self.downsample if self.resolution else None,
            "fixed_radius": self.fixed_radius,
        }

    # -- on the client, before any work -------------------------------------------------------------------

    def open(self, items, config):
        """
        Plan every item's frame (channel, time index) and the common grid, then create or extend the store.

        Raises
        ------
        ValueError
            For a store made with another layout, frames that do not share a plate scale, a new frame earlier
            than the last one of its channel (appending keeps time order), or a grid that would have to grow
            towards lower rows or columns (the stored frames would move).
        FileExistsError
            If the store is one of the inputs.
        """
        root = self.root()
        cube = dict(root.attrs.get(CUBE_KEY) or {})
        if cube and cube.get("settings") != self.settings():
            raise ValueError(
                f"{self.url} is a cube of other layout settings ({cube.get('settings')}); now {self.settings()}."
                " Write into another store."
            )
        if not cube and any(True for _ in root.members()):
            raise FileExistsError(f"{self.url} holds something that is not an aiapy cube; choose another store.")
        facts = {}
        for item in items:
            name = str(item.name)
            if not is_remote(self.url) and str(getattr(item, "path", name)).startswith(self.url + os.sep):
                raise FileExistsError(f"the input {name} is inside the store {self.url}; choose another store.")
            try:
                header = _input_header(item)
            except (OSError, ValueError, KeyError) as error:  # the run reports this item failed, alone
                log.debug("%s: not planned (%s)", name, error)
                continue
            facts[name] = self._facts(header)
        plan = {key: list(value) for key, value in (cube.get("frames") or {}).items()}
        if self.layout == "sdoml" and not {"degradation", "exposure"} <= set(config.active_steps):
            raise ValueError("layout='sdoml' frames are divided by degradation and exposure: keep those steps.")
        self.slots = self._plan(facts, plan)
        old = Window(*cube["grid"]) if cube.get("grid") else None
        windows = ([old] if old else []) + [fact["window"] for fact in facts.values()]
        grid = union(windows) if windows else None
        if old is not None and (grid.row < old.row or grid.column < old.column or grid.binning != old.binning):
            raise ValueError(
                f"the new frames lie outside the cube's grid towards lower rows or columns (grid {old.as_list()},"
                f" needed {grid.as_list()}): the stored frames would move. Build a new cube with all inputs."
            )
        self.grid = grid
        cube |= {
            "format": 1,
            "layout": self.layout,
            "settings": self.settings(),
            "aiapy": __version__,
            "config_id": config.config_id,
            "steps": list(config.active_steps),
            "grid": grid.as_list() if grid else None,
            "frames": plan,
        }
        root.attrs[CUBE_KEY] = cube
        if grid is not None:  # else no input could be planned: each is reported failed
            self._create_arrays(root, plan)
        root.require_group("_aiapy")  # the records' folder, a node: listing the root meets no stray object
        _consolidate(root)

    def _facts(self, header):
        window = planned_window(header)
        if self.resolution is not None or self.fixed_radius is not None:
            if not window.is_full_frame:
                raise ValueError("resolution and fixed_radius need full-disk frames; this input is a cutout.")
            if self.resolution is not None and window.rows % self.resolution:
                raise ValueError(f"resolution={self.resolution} does not divide the frames' {window.rows} pixels.")
            size = self.resolution or window.rows
            window = Window(DETECTOR_SIZE // size, 0, 0, size, size)
        t_obs = _time_of(header.get("T_OBS") or header["DATE-OBS"])
        group = t_obs[:4] if self.layout == "sdoml" else ""
        return {"channel": int(header["WAVELNTH"]), "t_obs": t_obs, "group": group, "window": window}

    def _plan(self, facts, plan):
        """Slots of the items: a frame already planned keeps its index; new ones go after, in time order."""
        slots, new, index, taken = {}, {}, {}, {}
        for name, fact in facts.items():
            key = f"{fact['group']}/{channel_name(fact['channel'])}"
            if key not in index:
                index[key] = {t_obs: i for i, t_obs in enumerate(plan.setdefault(key, []))}
            if fact["t_obs"] in index[key]:
                slot = (fact["group"], fact["channel"], index[key][fact["t_obs"]])
                if slot in taken:
                    raise ValueError(f"two inputs of {key} have T_OBS {fact['t_obs']}: {name} and {taken[slot]}.")
                slots[name], taken[slot] = slot, name
            else:
                new.setdefault(key, []).append((fact["t_obs"], name, fact))
        for key, frames in new.items():
            times = plan[key]
            frames.sort()
            if times and frames[0][0] < times[-1]:
                raise ValueError(
                    f"{frames[0][1]} ({frames[0][0]}) is earlier than the last frame of {key} in the cube"
                    f" ({times[-1]}): appending keeps time order. Build a new cube with all inputs."
                )
            for t_obs, name, fact in frames:
                if times and times[-1] == t_obs:
                    raise ValueError(f"two inputs of {key} have T_OBS {t_obs}: {name} and another.")
                times.append(t_obs)
                slots[name] = (fact["group"], fact["channel"], len(times) - 1)
        return slots

    def _create_arrays(self, root, plan):
        for key, times in plan.items():
            group, channel = key.split("/")
            shape = (len(times), self.grid.rows, self.grid.columns)
            if self.layout == "sdoml":
                self._sdoml_array(root.require_group(group), channel, shape)
                self._array(root, stage_path(group, int(channel[:-1])), shape, (1, *shape[1:]))
                continue
            node = root.require_group(channel)
            self._array(node, "data", shape, (1, *shape[1:]))
            if "mask" in node:
                self._array(node, "mask", shape, (1, *shape[1:]), dtype="uint8")

    def _array(self, node, name, shape, shard, dtype="float32"):
        """Create or extend (along time, and the grid towards higher rows/columns) an array of whole frames."""
        if name in node:
            array = node[name]
            if array.shape != shape:
                array.resize(shape)
            return array
        tile = (1, min(TILE, shard[1]), min(TILE, shard[2]))
        # one shard holds the whole frame: the grid rounded up to whole tiles (zarr stores edge shards whole)
        shard = (1, *(-(-size // side) * side for size, side in zip(shard[1:], tile[1:], strict=True)))
        return node.create_array(
            name,
            shape=shape,
            dtype=dtype,
            chunks=tile if self.zarr_format == 3 else shard,
            shards=shard if self.zarr_format == 3 and tile != shard else None,
            fill_value=fill_value(dtype),
            compressors=_codec(self.layout),
            dimension_names=("time", "y", "x") if self.zarr_format == 3 else None,
        )

    def _sdoml_array(self, node, channel, shape):
        if channel in node:
            array = node[channel]
            if array.shape != shape:
                array.resize(shape)
            return array
        array = node.create_array(
            channel,
            shape=shape,
            dtype="float32",
            chunks=(_SDOML_FRAMES, *shape[1:]),
            fill_value=np.nan,
            compressors=_codec("sdoml"),
        )
        array.attrs["_ARRAY_DIMENSIONS"] = ["t", "x", "y"]
        return array

    # -- naming and resume --------------------------------------------------------------------------------

    def __str__(self):
        return self.url

    def target(self, item):
        if str(item.name) not in self.slots:
            return f"{self.url}#unplanned"
        group, channel, index = self.slots[str(item.name)]
        return f"{self.url}#{group + '/' if group else ''}{channel_name(channel)}[{index}]"

    def _record(self, item):
        slot = self.slots.get(str(item.name))
        return None if slot is None else self.records.read(record_path(*slot))

    def stale_reason(self, item, config):
        """Why the stored frame of ``item`` is redone: None when it is complete, or there is none."""
        return self._stale(self._record(item), item, config)

    @staticmethod
    def _stale(record, item, config):
        if record is None:
            return None
        if record["config_id"] != config.config_id:
            return f"made with other settings or another aiapy version (settings {record['config_id']})"
        if record["identity"] != _identity(item):
            return "its input or the pointing table changed"
        return None

    def is_complete(self, item, config):
        return self.resume_state(item, config)[0]

    def resume_state(self, item, config):  # one read of the frame's record (a round trip on S3) for both answers
        record = self._record(item)
        reason = self._stale(record, item, config)
        return record is not None and reason is None, reason

    def written_since(self, item, since):
        record = self._record(item)
        return record is not None and record.get("written", 0) >= since

    # -- on the worker --------------------------------------------------------------------------------------

    def frame(self, product, config):
        """The frame as stored: the layout's transforms applied to ``product``; (map, mask or None)."""
        smap, mask = product.image, product.mask
        if self.fixed_radius is not None:
            smap, mask = fixed_radius(smap, self.fixed_radius, config.register_options(), flags=mask)
        if self.resolution is not None and smap.data.shape[0] != self.resolution:
            factor = smap.data.shape[0] // self.resolution
            smap = downsample_map(smap, self.resolution, self.downsample)
            mask = None if mask is None else downsample_flags(mask, factor)
        if self.layout == "sdoml":
            meta = smap.meta.copy()
            meta["pixlunit"] = "DN/s"
            meta["deg_cor"] = _degradation_factor(meta)
            smap = smap._new_instance(smap.data, meta)
        return smap, mask

    def write(self, item, product, config):
        """Write the frame's chunks (the whole frame: one object per array), then its record; return the target."""
        if str(item.name) not in self.slots:
            raise ValueError(f"{item.name} was not planned into the cube (its header could not be read).")
        group, channel, index = self.slots[str(item.name)]
        smap, mask = self.frame(product, config)
        window = product_window(smap.meta)
        if not window.inside(self.grid):
            raise ValueError(
                f"the level-1.5 frame {window.as_list()} lies outside the cube's grid {self.grid.as_list()} (the"
                " pointing step moved it): build the cube with the pointing the frames were planned with."
            )
        rows, columns = window.slices_in(self.grid)
        if window == self.grid:  # a full frame: written as it is (no copy where it is float32 already)
            frame = np.asarray(smap.data, np.float32)
        else:
            frame = np.full((self.grid.rows, self.grid.columns), np.nan, np.float32)
            frame[rows, columns] = smap.data
        root = self.root()
        name = channel_name(channel)
        if self.layout == "sdoml":
            root[stage_path(group, channel)][index] = frame
        else:
            root[f"{name}/data"][index] = frame
            if mask is not None:
                flags = np.zeros(frame.shape, np.uint8)
                flags[rows, columns] = mask
                self._mask_array(root, name)[index] = flags
        header = product_header(smap, product.provenance, config)
        record = {
            "config_id": config.config_id,
            "identity": _identity(item),
            "input": str(item.name),
            "window": window.as_list(),
            "mask": mask is not None,
            "header": header.tostring(),
            "writer": f"{os.getpid()}@{socket.gethostname()}",
            "written": time.time(),
        }
        self.records.write(record_path(group, channel, index), record)
        if self.layout == "sdoml":
            self._assemble_if_whole(root, group, channel, index)
        return self.target(item)

    def _assemble_if_whole(self, root, group, channel, index):
        """
        SDOML chunks hold 15 frames: the worker that stores the last frame of a chunk writes the chunk from the
        staged frames (two that finish together write the same bytes). ``close`` writes the chunks left
        incomplete (a failed frame, the last chunk of a run).
        """
        planned = root[stage_path(group, channel)].shape[0]
        start = index - index % _SDOML_FRAMES
        stop = min(start + _SDOML_FRAMES, planned)
        done = [i for i in range(start, stop) if self.records.read(record_path(group, channel, i)) is not None]
        if len(done) == stop - start:
            self._assemble(root, group, channel_name(channel), start, stop, done)

    def _assemble(self, root, group, name, start, stop, done):
        """Write frames ``start:stop`` of an SDOML array from the staged ones (``done``; NaN for the others),
        then the chunk's marker (which frames it holds)."""
        stage = root[stage_path(group, int(name[:-1]))]
        block = np.full((stop - start, *stage.shape[1:]), np.nan, np.float32)
        for i in done:
            block[i - start] = stage[i]
        root[f"{group}/{name}"][start:stop] = block
        self.records.write(_chunk_path(group, name, start), {"config_id": "chunk", "frames": done})

    def _mask_array(self, root, name):
        """The mask array of a channel, created by the first frame that has one (identical metadata from any
        worker that races to create it)."""
        node = root[name]
        if "mask" not in node:
            data = node["data"]
            try:
                return self._array(node, "mask", data.shape, (1, *data.shape[1:]), dtype="uint8")
            except zarr.errors.ContainsArrayError:
                pass
        return node["mask"]

    # -- on the client, after the run -------------------------------------------------------------------------

    def close(self, results=None):
        """Write the per-frame values along time from the records, assemble SDOML chunks, consolidate."""
        root = self.root()
        cube = dict(root.attrs.get(CUBE_KEY) or {})
        for key, times in (cube.get("frames") or {}).items():
            group, channel = key.split("/")
            wavelength = int(channel[:-1])
            records = [self.records.read(record_path(group, wavelength, i)) for i in range(len(times))]
            if self.layout == "sdoml":
                self._close_sdoml(root, group, channel, records)
            else:
                self._close_aiapy(root[channel], times, records)
        _consolidate(root)

    def _close_aiapy(self, node, times, records):
        # datetime64 counts no leap seconds, as the CF "standard" calendar; astropy's UTC differences would
        micro = Time(times, scale="utc").datetime64.astype("datetime64[us]") - np.datetime64(_EPOCH, "us")
        _vector(node, "time", micro.astype("int64"), {"units": _TIME_UNITS, "calendar": "standard"})
        headers = [_header_values(r) for r in records]
        for key, dtype in FRAME_VALUES.items():
            missing = np.nan if dtype == "float64" else -1
            values = [h.get(key.upper(), missing) if h else missing for h in headers]
            _vector(node, key, np.asarray(values, dtype=dtype), {"fill": str(missing)})
        node.attrs["stored"] = [r is not None for r in records]

    def _close_sdoml(self, root, group, channel, records):
        array = root[f"{group}/{channel}"]
        for start in range(0, len(records), _SDOML_FRAMES):
            stop = min(start + _SDOML_FRAMES, len(records))
            done = [i for i in range(start, stop) if records[i] is not None]
            marker = self.records.read(_chunk_path(group, channel, start))
            if marker is None or marker["frames"] != done:
                self._assemble(root, group, channel, start, stop, done)
        headers = [_header_values(r) for r in records]
        keys = sorted({key for h in headers if h for key in h})
        attributes = {key: [h.get(key) if h else None for h in headers] for key in keys}
        array.attrs.update(attributes | {"_ARRAY_DIMENSIONS": ["t", "x", "y"]})


def _chunk_path(group, name, start):
    """The record of which frames an SDOML chunk holds."""
    return f"{record_path(group, int(name[:-1]), start).rsplit('/', 1)[0]}/chunk-{start:06d}.json"


def _consolidate(root):
    """
    Consolidate the metadata of the store: one read opens every array, and xarray reads it first (also for
    a group). The records are plain objects, not Zarr nodes: left out, without a warning.
    """
    with warnings.catch_warnings():  # Zarr v3 warns that consolidation is not (yet) part of its specification
        warnings.filterwarnings("ignore", "Consolidated metadata", UserWarning)
        warnings.filterwarnings("ignore", "Object at .* is not recognized", UserWarning)
        zarr.consolidate_metadata(root.store, zarr_format=root.metadata.zarr_format)


def _vector(node, name, values, attributes):
    if name in node and node[name].shape != values.shape:
        del node[name]
    array = node[name] if name in node else node.create_array(
        name, shape=values.shape, dtype=values.dtype, chunks=(max(1, len(values)),), dimension_names=("time",)
    )
    array[...] = values
    array.attrs.update(attributes)


def _header_values(record):
    if record is None:
        return None
    header = fits.Header.fromstring(record["header"])
    return {key: value for key, value in header.items() if key not in ("HISTORY", "COMMENT", "")}


_DEGRADATION = re.compile(r"correct_degradation: divided by ([-+0-9.eE]+)")


def _degradation_factor(meta):
    """The factor the degradation step divided by, from its HISTORY line (SDOML's ``DEG_COR``)."""
    found = _DEGRADATION.findall(str(meta.get("history", "")))
    if len(found) != 1:
        raise ValueError(f"the frame's HISTORY records {len(found)} degradation corrections, not one: no DEG_COR.")
    return float(found[0])


def _identity(item):
    """An item's identity as its record stores it (JSON: a plain dict)."""
    return dict(item.identity)
