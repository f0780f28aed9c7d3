"""Turning the INPUT arguments of a batch (files, directories, globs) into input and output paths."""

import glob
import os
from pathlib import Path

__all__ = ["expand_inputs", "output_path", "temporary_path", "FITS_SUFFIXES"]

#: File name endings taken as FITS when a directory is expanded.
FITS_SUFFIXES = (".fits", ".fits.gz", ".fts", ".fit", ".fits.fz")
_OUTPUT_SUFFIX = "_lev1.5.fits"
_TEMP_SUFFIX = ".part"


def _is_fits_name(name):
    return not name.startswith(".") and name.lower().endswith(FITS_SUFFIXES)


def expand_inputs(inputs):
    """
    Expand files, directories and glob patterns into a sorted list of unique FITS file paths.

    Parameters
    ----------
    inputs : str, path-like, or an iterable of them
        Each item is a file (taken as is, whatever its name), a directory (its FITS files, not
        recursive, hidden files excluded) or a glob pattern (``*``, ``?``, ``[...]``, ``**``).

    Returns
    -------
    list of `pathlib.Path`
        Resolved paths, sorted, duplicates removed.

    Raises
    ------
    TypeError
        If ``inputs`` is not a path or an iterable of paths.
    FileNotFoundError
        If an item matches nothing.
    """
    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]
    try:
        items = list(inputs)
    except TypeError:
        raise TypeError(f"inputs must be a path or an iterable of paths, not {type(inputs).__name__}.") from None
    found = set()
    for item in items:
        if not isinstance(item, str | os.PathLike):
            raise TypeError(f"each input must be a str or path-like, not {item!r} ({type(item).__name__}).")
        path = Path(item).expanduser()
        if path.is_dir():
            matches = [child for child in path.iterdir() if child.is_file() and _is_fits_name(child.name)]
        elif path.is_file():
            matches = [path]
        elif glob.has_magic(str(path)):
            matches = [Path(name) for name in glob.glob(str(path), recursive=True) if Path(name).is_file()]
        else:
            matches = []
        if not matches:
            raise FileNotFoundError(f"input {str(item)!r} matches no file.")
        found.update(match.resolve() for match in matches)
    return sorted(found)


def output_path(input_path, out_dir):
    """
    The level-1.5 output path of ``input_path`` in ``out_dir``: the input's name, FITS ending(s) removed,
    plus ``_lev1.5.fits``; e.g. ``aia.lev1.171A_2013.image_lev1.fits`` -> ``aia.lev1.171A_2013.image_lev1_lev1.5.fits``.
    """
    name = Path(input_path).name
    lower = name.lower()
    for suffix in sorted(FITS_SUFFIXES, key=len, reverse=True):
        if lower.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return Path(out_dir) / f"{name}{_OUTPUT_SUFFIX}"


def temporary_path(path):
    """The hidden temporary name an output is written under before its atomic rename: ``.<name>.part``."""
    path = Path(path)
    return path.with_name(f".{path.name}{_TEMP_SUFFIX}")
