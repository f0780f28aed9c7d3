"""Turning the INPUT arguments of a batch (files, directories, globs) into input and output paths."""

import contextlib
import glob
import hashlib
import logging
import os
import socket
import uuid
from pathlib import Path

from aiapy.pipeline._fitsfile import image_header, is_aiapy_output

__all__ = [
    "expand_inputs",
    "output_path",
    "temporary_path",
    "remove_stale_temporaries",
    "input_identity",
    "is_output_name",
    "FITS_SUFFIXES",
    "OUTPUT_SUFFIX",
]

log = logging.getLogger(__name__)

#: File name endings taken as FITS when a directory is expanded.
FITS_SUFFIXES = (".fits", ".fits.gz", ".fts", ".fit", ".fits.fz")
#: The ending of every output name.
OUTPUT_SUFFIX = "_lev1.5.fits"
_TEMP_SUFFIX = ".part"
#: Header keys of an input whose values identify its observation (with the file's size and mtime).
_IDENTITY_KEYS = ("T_OBS", "DATE-OBS", "WAVELNTH", "FSN", "EXPTIME")


def _is_fits_name(name):
    return not name.startswith(".") and name.lower().endswith(FITS_SUFFIXES)


def expand_inputs(inputs):
    """
    Expand files, directories and glob patterns into a sorted list of unique FITS file paths.

    Parameters
    ----------
    inputs : str, path-like, or an iterable of them
        Each item is a file (taken whatever its name), a directory (its FITS files, not recursive, hidden
        files excluded) or a glob pattern (``*``, ``?``, ``[...]``, ``**``).

    Returns
    -------
    list of `pathlib.Path`
        Absolute paths as given (a symbolic link is not replaced by its target, so outputs are named after
        the names the user sees, not after a content-addressed store's), sorted, duplicates removed. aiapy's
        own outputs (named ``*_lev1.5.fits`` and carrying the pipeline's settings key) are left out (logged), whether found in a directory, by a
        pattern or listed (as a shell expands ``in/*.fits``), so an output folder that is also the input
        folder can be run again.

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
        if path.is_file():
            found_here = [path]
        elif path.is_dir():
            found_here = [child for child in path.iterdir() if child.is_file() and _is_fits_name(child.name)]
        elif glob.has_magic(str(path)):
            found_here = [Path(name) for name in glob.glob(str(path), recursive=True) if Path(name).is_file()]
        else:
            found_here = []
        if not found_here:
            raise FileNotFoundError(f"input {str(item)!r} matches no file.")
        matches = [match for match in found_here if not _is_output(match)]
        if len(matches) < len(found_here):
            log.info("%s: %d aiapy output(s) left out", item, len(found_here) - len(matches))
        found.update(Path(os.path.abspath(match)) for match in matches)  # links not followed: names as given
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
    return Path(out_dir) / f"{name}{OUTPUT_SUFFIX}"


def is_output_name(path):
    """Whether ``path`` is named as an output (``*_lev1.5.fits``)."""
    return Path(path).name.endswith(OUTPUT_SUFFIX)


def _is_output(path):
    """An aiapy output: named as one and carrying the settings key in its header (read without the data)."""
    return is_output_name(path) and is_aiapy_output(path)


def _owner():
    return f"{os.getpid()}@{socket.gethostname()}"


def temporary_path(path):
    """
    A hidden temporary name for writing ``path`` before its atomic rename, unique to this call:
    ``.<name>.<pid>@<host>@<token>.part``, so that concurrent runs (processes, hosts, threads) writing the
    same output never share one.
    """
    path = Path(path)
    return path.with_name(f".{path.name}.{_owner()}@{uuid.uuid4().hex[:12]}{_TEMP_SUFFIX}")


def _process_is_alive(pid):
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows: assume alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folder):
    """
    Remove the temporary files in ``folder`` left by killed processes of this host (kill -9, power loss);
    those of live processes, or of other hosts of a shared file system, are left alone. One listing of the
    folder (not one per output, which would cost O(n) per file in a folder of n outputs).
    """
    host = socket.gethostname()
    with os.scandir(folder) as entries:
        names = [entry.name for entry in entries if entry.name.startswith(".") and entry.name.endswith(_TEMP_SUFFIX)]
    for name in names:
        owner = name[: -len(_TEMP_SUFFIX)].rsplit("@", 2)  # [".<output>.<pid>", host (may hold dots), token]
        pid = owner[0].rsplit(".", 1)[-1]
        if len(owner) != 3 or owner[1] != host or not pid.isdigit() or _process_is_alive(int(pid)):
            continue
        log.debug("Removing %s, left by a process that no longer runs", name)
        with contextlib.suppress(OSError):
            os.remove(os.path.join(folder, name))


def input_identity(path):
    """
    A short hash identifying an input file's content cheaply: its size and modification time and the
    observation keys of its header (T_OBS, DATE-OBS, WAVELNTH, FSN, EXPTIME). Stored in each output
    (``AIAPYINP``), so that replacing an input makes its output stale.
    """
    stat = os.stat(path)
    header = image_header(path)
    keys = [repr(header.get(key)) for key in _IDENTITY_KEYS]
    text = "|".join([str(stat.st_size), str(stat.st_mtime_ns), *keys])
    return hashlib.sha256(text.encode()).hexdigest()[:16]
