"""The registry of every data file aiapy ships or knows how to fetch.

``registry.json`` beside this module lists each file once: a name, a version, the bundled path, its
SHA-256, the SolarSoft path it mirrors (if any) and its licence. Every loader in the package asks this
module for a file by name; a bundled file whose hash does not match the registry is an error, never used.

Files aiapy knows but does not bundle (``"file": null``, e.g. the SolarSoft FUV instrument file) are in
`REMOTE_FILES`: `aiapy.net` fetches them from the SolarSoft mirrors and checks them against the SHA-256
pinned here. `REGISTRY` holds the bundled files only.
"""

import functools
import hashlib
import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from aiapy import _SSW_MIRRORS

__all__ = [
    "DataFile", "DataIntegrityError", "REGISTRY", "REMOTE_FILES", "get_entry", "get_file", "sha256sum", "verify_file",
    "data_dir",
]  # fmt: skip


class DataIntegrityError(OSError):
    """A data file does not match the SHA-256 recorded for it."""


@dataclass(frozen=True)
class DataFile:
    """One registered data file.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"correction_table_v10"``.
    kind : str
        ``"calibration"`` or ``"sample"``.
    version : str
        Calibration version (or data release) the file belongs to.
    file : str or None
        Path of the bundled copy, relative to the ``aiapy/data`` directory; None for a file that is only
        fetched (from ``ssw_path``).
    sha256 : str
        Hex SHA-256 of the bundled copy (of the remote file when not bundled).
    ssw_path : str or None
        Path under a SolarSoft mirror root of the file this copy mirrors.
    description : str
        What the file is and where it came from.
    licence : str
        Terms under which it is redistributed.
    """

    name: str
    kind: str
    version: str
    file: str | None
    sha256: str
    ssw_path: str | None
    description: str
    licence: str

    @property
    def filename(self):
        """The file's base name."""
        return Path(self.file or self.ssw_path).name

    @property
    def urls(self):
        """Remote copies on the SolarSoft mirrors, in the order they are tried (empty if none)."""
        if self.ssw_path is None:
            return []
        return [f"{mirror}{self.ssw_path}" for mirror in _SSW_MIRRORS]


def data_dir():
    """The directory holding the bundled data (``aiapy/data``)."""
    return Path(str(files("aiapy.data")))


def _load_registry():
    entries = [DataFile(**entry) for entry in json.loads((data_dir() / "registry.json").read_text(encoding="utf-8"))]
    bundled = {entry.name: entry for entry in entries if entry.file is not None}
    remote = {entry.name: entry for entry in entries if entry.file is None}
    return bundled, remote


#: Every bundled file, by name; `REMOTE_FILES`: the registered files that are fetched, not bundled.
REGISTRY, REMOTE_FILES = _load_registry()


def sha256sum(path, *, chunk_size=1 << 20):
    """The hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def get_entry(name):
    """
    The registry entry called ``name``.

    Raises
    ------
    KeyError
        If no file of that name is registered; the message lists the names that are.
    """
    entry = REGISTRY.get(name) or REMOTE_FILES.get(name)
    if entry is None:
        known = sorted(REGISTRY) + sorted(REMOTE_FILES)
        raise KeyError(f"No data file named {name!r} in the aiapy registry; known: {known}.")
    return entry


@functools.cache
def _verified(path, sha256, mtime_ns, size):
    """Hash a file once per (path, mtime, size): bundled files are read-only in practice."""
    actual = sha256sum(path)
    if actual != sha256:
        raise DataIntegrityError(
            f"{path} has SHA-256 {actual}, but the registry expects {sha256}. The file is corrupt or was "
            "replaced; reinstall aiapy, or pass the table or file explicitly."
        )
    return path


def verify_file(path, sha256):
    """Return ``path`` if its SHA-256 equals ``sha256``; raise `DataIntegrityError` otherwise."""
    path = Path(path)
    stat = path.stat()
    return _verified(path, sha256, stat.st_mtime_ns, stat.st_size)


def get_file(name):
    """
    The verified path of the bundled copy of the registered file ``name``.

    Raises
    ------
    KeyError
        If ``name`` is not registered.
    ValueError
        If ``name`` is registered but not bundled (fetch it with `aiapy.net`).
    DataIntegrityError
        If the bundled file's SHA-256 does not match the registry.
    """
    entry = get_entry(name)
    if entry.file is None:
        raise ValueError(
            f"The data file {name!r} ({entry.filename}) is not bundled with aiapy; it is fetched from the "
            "SolarSoft mirrors by aiapy.net."
        )
    return verify_file(data_dir() / entry.file, entry.sha256)
