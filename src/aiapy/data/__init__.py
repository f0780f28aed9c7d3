"""Bundled calibration tables and real sample images, behind one registry (see `aiapy.data.REGISTRY`)."""

from aiapy.data._registry import REGISTRY, DataFile, DataIntegrityError, get_entry, get_file, sha256sum

__all__ = ["REGISTRY", "DataFile", "DataIntegrityError", "get_entry", "get_file", "sha256sum"]
