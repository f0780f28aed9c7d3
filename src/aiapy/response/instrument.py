"""Instrument data of the AIA channels: the bundled EUV file, SolarSoft genx files and in-memory mappings.

The instrument data of a channel are the wavelength-dependent efficiencies of its optics (mirrors, filters,
CCD, contamination) and a few scalars (geometrical area, plate scale, camera gain), as SolarSoft stores
them in the ``A<channel>_FULL`` structures of ``aia_V*_{all,fuv}_fullinst.genx``.

References
----------
.. [1] Boerner et al. 2012, Sol. Phys. 275, 41, section 2.
.. [2] SolarSoft ``$SSW/sdo/aia/response/aia_V9_all_fullinst.genx`` and ``aia_get_response.pro``.
"""

import functools
import logging
import os
from collections.abc import Mapping

import numpy as np

from aiapy.data import get_file

__all__ = ["REQUIRED_KEYS", "OPTIONAL_KEYS", "FUV_INSTRUMENT_HINT", "load_instrument_data", "channel_data"]

log = logging.getLogger(__name__)

#: Keys every channel structure must hold (case-insensitive).
REQUIRED_KEYS = (
    "wave", "primary", "secondary", "fp_filter", "ent_filter", "geoarea", "ccd", "platescale", "elecperev",
    "elecperdn",
)  # fmt: skip
#: Keys used when present: ``contam`` (absent from the FUV file).
OPTIONAL_KEYS = ("contam",)

_BUNDLED_ARRAYS = ("wave", "primary", "secondary", "fp_filter", "ent_filter", "ccd", "contam")
_BUNDLED_SCALARS = ("geoarea", "platescale", "elecperdn", "elecperev")

#: Where the instrument data of the channels that are not bundled come from.
FUV_INSTRUMENT_HINT = (
    "aiapy bundles the instrument data of the seven EUV channels only; for 1600, 1700 and 4500 Angstrom, "
    "Channel(instrument_file=None) fetches the SolarSoft file sdo/aia/response/aia_V8_fuv_fullinst.genx "
    "from the SolarSoft mirrors, or pass the path of a copy as instrument_file=."
)


@functools.cache
def _bundled():
    """The bundled V9 EUV instrument data as ``{"A94_FULL": {"wave": ..., ...}, ...}`` (read once)."""
    with np.load(get_file("instrument_emissivity_v9"), allow_pickle=False) as npz:
        names = sorted({key.split("_", 1)[0] for key in npz.files if key.startswith("A") and "_wave" in key})
        data = {}
        for name in names:
            entry = {key: _read_only(npz[f"{name}_{key}"].astype(np.float64)) for key in _BUNDLED_ARRAYS}
            entry.update({key: float(npz[f"{name}_{key}"]) for key in _BUNDLED_SCALARS})
            data[f"{name}_FULL"] = entry
    log.debug("Loaded bundled instrument data for %s", ", ".join(data))
    return data


def _read_only(array):
    array.flags.writeable = False
    return array


def _read_genx(path):
    from sunpy.io.special import read_genx  # noqa: PLC0415 (sunpy.io.special is slow to import)

    if not os.path.isfile(path):
        raise FileNotFoundError(f"instrument_file {str(path)!r} does not exist.")
    try:
        return read_genx(path)
    except Exception as error:  # the XDR reader raises EOFError, struct.error, KeyError... on a bad file
        raise ValueError(
            f"instrument_file {str(path)!r} could not be read as a SolarSoft genx file "
            f"({type(error).__name__}: {error}); expected an aia_V*_fullinst.genx file."
        ) from error


def load_instrument_data(instrument_file=None):
    """
    Read instrument data into a mapping of channel structures.

    Parameters
    ----------
    instrument_file : None, str, path-like or mapping
        None: the bundled V9 EUV data (equal to V8 and V10). A path: a SolarSoft
        ``aia_V*_fullinst.genx`` file, read with `sunpy.io.special.read_genx`. A mapping: data already
        read, holding ``A<channel>_FULL`` structures at its top level or one level down (as ``read_genx``
        returns them).

    Returns
    -------
    mapping
        The instrument data.

    Raises
    ------
    TypeError
        If ``instrument_file`` is of another kind.
    FileNotFoundError
        If the path does not exist.
    ValueError
        If the file is not a readable genx file.
    """
    if instrument_file is None:
        return _bundled()
    if isinstance(instrument_file, Mapping):
        return instrument_file
    if isinstance(instrument_file, str | os.PathLike):
        return _read_genx(os.fspath(instrument_file))
    raise TypeError(
        "instrument_file must be None (bundled EUV data), a path to a SolarSoft aia_V*_fullinst.genx file or "
        f"a mapping read from one; got {type(instrument_file).__name__}."
    )


def _find_structure(instrument_data, key):
    """The entry named ``key`` (case-insensitive) at the top level of the mapping or one level down."""
    levels = [instrument_data] + [value for value in instrument_data.values() if isinstance(value, Mapping)]
    for level in levels:
        for name, value in level.items():
            if isinstance(name, str) and name.upper() == key and isinstance(value, Mapping):
                return value
    return None


def channel_data(instrument_data, name):
    """
    The structure of channel ``name`` (e.g. ``"94"``) with lower-case keys, values as float64.

    Raises
    ------
    ValueError
        If the channel's structure or one of `REQUIRED_KEYS` is missing.
    """
    key = f"A{name}_FULL"
    structure = _find_structure(instrument_data, key)
    if structure is None:
        hint = f" {FUV_INSTRUMENT_HINT}" if name in ("1600", "1700", "4500") else ""
        raise ValueError(f"instrument_file holds no {key} structure for the {name} Angstrom channel.{hint}")
    lower = {str(k).lower(): v for k, v in structure.items()}
    missing = [k for k in REQUIRED_KEYS if k not in lower]
    if missing:
        raise ValueError(
            f"The {key} structure of instrument_file lacks {', '.join(missing)}; it needs {', '.join(REQUIRED_KEYS)} "
            f"(and optionally {', '.join(OPTIONAL_KEYS)})."
        )
    data = {k: np.asarray(lower[k], dtype=np.float64) for k in REQUIRED_KEYS + OPTIONAL_KEYS if k in lower}
    n_wave = data["wave"].shape
    bad = [k for k, v in data.items() if v.ndim and v.shape != n_wave]
    if data["wave"].ndim != 1 or bad:
        raise ValueError(
            f"The {key} arrays of instrument_file must be 1-D and as long as wave {n_wave}; "
            f"{', '.join(bad) or 'wave'} are not."
        )
    return data
