"""The data registry: every bundled file is listed and verified; a tampered file is refused."""

import shutil

import numpy as np
import pytest

from aiapy.data import REGISTRY, DataIntegrityError, get_entry, get_file, sha256sum
from aiapy.data._registry import verify_file


def test_every_entry_verifies():
    for name, entry in REGISTRY.items():
        path = get_file(name)
        assert path.name == entry.filename
        assert entry.licence and entry.description


def test_calibration_entries_point_at_ssw_mirrors():
    entry = get_entry("correction_table_v10")
    assert entry.sha256.startswith("0a3f2db39d05c441")
    assert entry.urls[0] == "https://soho.nascom.nasa.gov/solarsoft/sdo/aia/response/aia_V10_20201119_190000_response_table.txt"
    assert len(entry.urls) == 3


def test_tampered_file_is_an_error(tmp_path):
    good = get_file("error_table_v3")
    copy = tmp_path / good.name
    shutil.copy(good, copy)
    assert verify_file(copy, sha256sum(good)) == copy
    with open(copy, "a") as handle:
        handle.write(" ")
    with pytest.raises(DataIntegrityError, match="SHA-256"):
        verify_file(copy, get_entry("error_table_v3").sha256)


def test_unknown_name():
    with pytest.raises(KeyError, match="known"):
        get_file("no_such_file")


def test_instrument_npz_is_lossless_conversion():
    data = np.load(get_file("instrument_emissivity_v9"), allow_pickle=False)
    assert data["emissivity"].shape == (101, 9001)
    assert data["A335_geoarea"] == 83.0
    # The blog post prints the 335 A quantum efficiency ends: [0.8513821 0.8509894 ... 0.09267791].
    assert data["A335_ccd"][0] == np.float32(0.8513821)
    assert data["A335_ccd"][-1] == np.float32(0.09267791)
