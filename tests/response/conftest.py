"""Fixtures for the response tests: a real SolarSoft-format genx file written from the bundled V9 data."""

import struct

import numpy as np
import pytest

from aiapy.response.instrument import load_instrument_data

# IDL type codes (SIZE function) used by the SolarSoft genx format.
_IDL_LONG, _IDL_FLOAT, _IDL_DOUBLE, _IDL_STRING, _IDL_STRUCT = 3, 4, 5, 7, 8


def _uint(value):
    return struct.pack(">L", value)


def _string(text):
    raw = text.encode()
    padded = raw + b"\0" * (-len(raw) % 4)
    return _uint(len(raw)) + _uint(len(raw)) + padded if raw else _uint(0)


def _skeleton(structure):
    """
    XDR skeleton of a (nested) dict of strings, ints (IDL long), float64 scalars, float32 1-D arrays and
    sub-dicts.
    """
    out = _uint(len(structure)) + b"".join(_string(name) for name in structure)
    for value in structure.values():
        if isinstance(value, dict):
            out += _uint(0) + struct.pack(">2l", _IDL_STRUCT, 1) + _skeleton(value)
        elif isinstance(value, str):
            out += _uint(0) + struct.pack(">2l", _IDL_STRING, 1)
        elif isinstance(value, int):
            out += _uint(0) + struct.pack(">2l", _IDL_LONG, 1)
        elif np.ndim(value) == 0:
            out += _uint(0) + struct.pack(">2l", _IDL_DOUBLE, 1)
        else:
            out += _uint(1) + struct.pack(">3l", len(value), _IDL_FLOAT, len(value))
    return out


def _values(structure):
    out = b""
    for value in structure.values():
        if isinstance(value, dict):
            out += _values(value)
        elif isinstance(value, str):
            out += _string(value)
        elif isinstance(value, int):
            out += struct.pack(">l", value)
        elif np.ndim(value) == 0:
            out += struct.pack(">d", float(value))
        else:
            out += np.asarray(value, dtype=">f4").tobytes()
    return out


def write_genx(path, structure, text="aiapy test"):
    """Write ``structure`` as a SolarSoft genx (savegen) file readable by `sunpy.io.special.read_genx`."""
    header = struct.pack(">2l", 1, 1) + _string("Thu Jan  1 00:00:00 2026") + _string(text)
    body = struct.pack(">4l", 1, 1, _IDL_STRUCT, 1) + _skeleton(structure) + _values(structure)
    path.write_bytes(header + body)
    return path


def genx_structure(names=("94", "304")):
    """``{"SAVEGEN0": {"A94_FULL": {...}}}`` with the bundled data of ``names`` (float32 arrays, upper-case keys)."""
    bundled = load_instrument_data()
    return {
        "SAVEGEN0": {
            f"A{name}_FULL": {key.upper(): value for key, value in bundled[f"A{name}_FULL"].items()} for name in names
        }
    }


@pytest.fixture
def make_structure():
    """``make_structure(names)``: a fresh genx-like mapping of the bundled data of those channels."""
    return genx_structure


@pytest.fixture
def make_genx(tmp_path):
    """``make_genx(name, structure)``: write a genx file under ``tmp_path`` and return its path."""
    return lambda name, structure: write_genx(tmp_path / name, structure)


@pytest.fixture
def genx_file(tmp_path):
    """A genx file holding the 94 and 304 Angstrom channels, as SolarSoft lays them out."""
    return write_genx(tmp_path / "aia_test_fullinst.genx", genx_structure())
