"""
The Zarr store of a data cube: opening it (a local folder or an fsspec URL), its names, and the per-frame
records that make writing resumable.

Layout of a store (``C`` a channel name such as ``171A``):

- ``aiapy`` layout (Zarr v3): group ``C`` with the array ``data`` (time, y, x) float32, one shard per frame
  (one object written by the worker that prepped the frame) of square tiles; ``mask`` (time, y, x) uint8
  `~aiapy.utils.PixelFlag` bits where a frame has one; and the per-frame header values along ``time``.
- ``sdoml`` layout (Zarr v2, as SDOML v2): group ``YYYY`` with the array ``C`` (time, y, x) float32 in chunks
  of 15 frames, every FITS keyword a per-frame list in its attributes.
- ``_aiapy/frames/<group>/<C>/<index>``: one small group node per stored frame, its attributes the frame's
  record (settings identifier, input identity, header, window). A record is written after the frame's data,
  as one object, so a frame counts as stored only when whole: a run killed at any point leaves records only
  for complete frames, and the next run redoes the others.
"""

import json
import os
from pathlib import Path

import numpy as np
import zarr

__all__ = ["open_store", "store_url", "channel_name", "record_path", "read_record", "write_record", "CUBE_KEY"]

#: The root attribute holding the cube's layout, grid and plan of frames.
CUBE_KEY = "aiapy_cube"
_RECORDS = "_aiapy/frames"
_STAGE = "_aiapy/stage"


def store_url(store):
    """A store argument as a string: an fsspec URL as given, a local path made absolute."""
    if not isinstance(store, str | os.PathLike):
        raise TypeError(f"store must be a local path or an fsspec URL (s3://...), not {type(store).__name__}.")
    text = os.fspath(store)
    if "://" in text and not text.startswith("file://"):
        return text
    return str(Path(text.removeprefix("file://")).expanduser().resolve())


def is_remote(url):
    return "://" in url


def open_store(url, *, mode="a", storage_options=None, zarr_format=None):
    """The root group of the store at ``url`` (``mode="r"``: `FileNotFoundError` when there is none)."""
    if is_remote(url):
        store = zarr.storage.FsspecStore.from_url(url, storage_options=storage_options or {}, read_only=mode == "r")
    else:
        if mode == "r" and not Path(url).is_dir():
            raise FileNotFoundError(f"no cube at {url}.")
        store = zarr.storage.LocalStore(url, read_only=mode == "r")
    try:
        return zarr.open_group(store, mode=mode, zarr_format=zarr_format)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError) as error:
        raise FileNotFoundError(f"no cube at {url} ({error}).") from error


def channel_name(channel):
    """The name of a channel's array or group: ``171A`` (the SDOML names)."""
    return f"{int(channel)}A"


def record_path(group, channel, index):
    return f"{_RECORDS}/{group or '_'}/{channel_name(channel)}/{index:06d}"


def stage_path(group, channel):
    return f"{_STAGE}/{group or '_'}/{channel_name(channel)}"


def write_record(root, path, record):
    """Write a frame's record as one object (the attributes of a group node)."""
    zarr.create_group(store=root.store, path=path, attributes=record, overwrite=True, zarr_format=root.metadata.zarr_format)


def read_record(root, path):
    """The record at ``path``, or None where there is none or it is not whole."""
    try:
        attributes = dict(zarr.open_group(root.store, path=path, mode="r").attrs)
    except (FileNotFoundError, KeyError, ValueError, json.JSONDecodeError, zarr.errors.GroupNotFoundError):
        return None
    return attributes if "config_id" in attributes else None


def fill_value(dtype):
    return np.nan if np.dtype(dtype).kind == "f" else 0
