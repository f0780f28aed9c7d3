"""
The Zarr store of a data cube: opening it (a local folder or an fsspec URL), its names, and the per-frame
records that make writing resumable.

Layout of a store (``C`` a channel name such as ``171A``):

- ``aiapy`` layout (Zarr v3): group ``C`` with the array ``data`` (time, y, x) float32, one shard per frame
  (one object written by the worker that prepped the frame) of square tiles; ``mask`` (time, y, x) uint8
  `~aiapy.utils.PixelFlag` bits where a frame has one; and the per-frame header values along ``time``.
- ``sdoml`` layout (Zarr v2, as SDOML v2): group ``YYYY`` with the array ``C`` (time, y, x) float32 in chunks
  of 15 frames, every FITS keyword a per-frame list in its attributes.
- ``_aiapy/frames/<group>/<C>/<index>.json``: one small JSON object per stored frame, its record
  (settings identifier, input identity, header, window). A record is written after the frame's data, as one
  object, so a frame counts as stored only when whole: a run killed at any point leaves records only for
  complete frames, and the next run redoes the others. The consolidated metadata leaves them out.
"""

import contextlib
import json
import os
import uuid
from pathlib import Path

import fsspec
import numpy as np
import zarr

__all__ = ["open_store", "store_url", "channel_name", "record_path", "stage_path", "Records", "CUBE_KEY"]

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
        # writers read the metadata itself: the consolidated copy is rewritten only at the start and end of runs
        consolidated = None if mode == "r" else False
        return zarr.open_group(store, mode=mode, zarr_format=zarr_format, use_consolidated=consolidated)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError) as error:
        raise FileNotFoundError(f"no cube at {url} ({error}).") from error


def channel_name(channel):
    """The name of a channel's array or group: ``171A`` (the SDOML names)."""
    return f"{int(channel)}A"


def record_path(group, channel, index):
    return f"{_RECORDS}/{group or '_'}/{channel_name(channel)}/{index:06d}.json"


def stage_path(group, channel):
    return f"{_STAGE}/{group or '_'}/{channel_name(channel)}"


class Records:
    """
    The frame records of a store: plain JSON objects beside the Zarr nodes (under the group ``_aiapy``),
    so the consolidated metadata, which readers use, never lists them. Each is written as one object: on a
    local disk under a temporary name renamed into place, on an object store by one PUT.
    """

    def __init__(self, url, storage_options=None):
        self.url, self.storage_options = url, storage_options
        self._fs = None

    def __getstate__(self):
        return {"url": self.url, "storage_options": self.storage_options, "_fs": None}

    @property
    def fs(self):
        if self._fs is None:
            self._fs = fsspec.url_to_fs(self.url, **(self.storage_options or {}))[0] if is_remote(self.url) else None
        return self._fs

    def _where(self, path):
        return f"{self.url.rstrip('/')}/{path}" if is_remote(self.url) else os.path.join(self.url, path)

    def write(self, path, record):
        data = json.dumps(record).encode()
        where = self._where(path)
        if self.fs is not None:
            self.fs.pipe_file(where, data)
            return
        os.makedirs(os.path.dirname(where), exist_ok=True)
        temporary = f"{where}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part"
        try:
            with open(temporary, "wb") as file:
                file.write(data)
            os.replace(temporary, where)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(temporary)

    def read(self, path):
        """The record at ``path``, or None where there is none or it is not whole."""
        where = self._where(path)
        try:
            if self.fs is not None:
                data = self.fs.cat_file(where)
            else:
                with open(where, "rb") as file:
                    data = file.read()
            record = json.loads(data)
        except (FileNotFoundError, ValueError):
            return None
        return record if isinstance(record, dict) and "config_id" in record else None

    def remove(self, path):
        where = self._where(path)
        with contextlib.suppress(FileNotFoundError):
            if self.fs is not None:
                self.fs.rm_file(where)
            else:
                os.remove(where)


def fill_value(dtype):
    return np.nan if np.dtype(dtype).kind == "f" else 0
