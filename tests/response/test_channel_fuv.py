"""`Channel` for 1600, 1700 and 4500 A: the SolarSoft FUV instrument file through the registry and aiapy.net.

The real ``aia_V8_fuv_fullinst.genx`` cannot be fetched here, so the loopback SSW mirrors serve a genx file
written by the XDR writer of conftest.py (``make_genx``) in the real file's structure (``A1600_FULL``, ``A1700_FULL``,
``A4500_FULL`` structures with SolarSoft's field names, no ``CONTAM``), with CONSTRUCTED curves. Its hash
is not the pinned one: the tests that accept it put its hash in the registry entry (as a user would
point the registry at another file); the pinned hash itself is checked to refuse it.
"""

import dataclasses
import hashlib

import astropy.constants as const
import astropy.units as u
import numpy as np
import pytest
from astropy.tests.helper import assert_quantity_allclose

from aiapy.data import DataIntegrityError, get_entry
from aiapy.data._registry import REMOTE_FILES
from aiapy.net import get_settings
from aiapy.response import Channel
from aiapy.response.channel import AIA_INSTRUMENT_FILE, URL_HASH, VERSION_NUMBER

ENTRY = "instrument_file_fuv_v8"
SSW_PATH = "sdo/aia/response/aia_V8_fuv_fullinst.genx"
PINNED = "8635166d8f6dde48da4f135925f4e8f48a0574f129c2c2ca24da6628550f5430"


def _fuv_channel_structure(centre, width):
    """One ``A<ch>_FULL`` structure with SolarSoft's fields; constructed, smooth curves on 1000-5000 A."""
    wave = np.arange(1000.0, 5001.0, 2.0)
    curves = {
        "PRIMARY": np.full(wave.size, 0.86),
        "SECONDARY": np.full(wave.size, 0.84),
        "FP_FILTER": 0.3 * np.exp(-0.5 * ((wave - centre) / width) ** 2),
        "ENT_FILTER": np.full(wave.size, 0.5),
        "CCD": 0.25 + 0.1 * (wave - 1000.0) / 4000.0,
    }
    geoarea = 83.0
    effarea = geoarea * np.prod([curves[k] for k in curves], axis=0)
    return {
        "NAME": f"A{centre:.0f}", "WAVE": wave, "EFFAREA": effarea, "UNITS": "cm^2", "GEOAREA": geoarea,
        "SCALE": 1.0, "PLATESCALE": 8.46159e-12, "NUMFILTERS": 2, "WAVEMIN": 1000.0, "WAVESTEP": 2.0,
        "WAVENUMSTEPS": int(wave.size), "WAVEMAX": 5000.0, "FILTERSINCLUDEMESH": 1, "MESHTRANS": 0.82,
        "USEPHOTTOELEC": 1, "ELECPEREV": 1 / 3.65, "USEPHOTTODN": 1, "ELECPERDN": 17.7, "USEERROR": 0,
        "FRACERR": 0.25, "QUANTUMEFF": 0.5, **curves,
    }  # fmt: skip


@pytest.fixture
def fuv_genx(make_genx):
    structure = {
        "SAVEGEN0": {
            "A1600_FULL": _fuv_channel_structure(1600.0, 60.0),
            "A1700_FULL": _fuv_channel_structure(1700.0, 80.0),
            "A4500_FULL": _fuv_channel_structure(4500.0, 250.0),
        }
    }
    return make_genx("aia_V8_fuv_fullinst.genx", structure), structure["SAVEGEN0"]


@pytest.fixture
def served(loopback_jsoc, fuv_genx, monkeypatch):
    """The constructed FUV file on both loopback SSW mirrors."""
    content = fuv_genx[0].read_bytes()
    for mirror in ("/mirror0/", "/mirror1/"):
        monkeypatch.setitem(loopback_jsoc.files, mirror + SSW_PATH, content)
    return content


@pytest.fixture
def registered(served, monkeypatch):
    """The registry entry pointed at the served file's hash."""
    entry = dataclasses.replace(get_entry(ENTRY), sha256=hashlib.sha256(served).hexdigest())
    monkeypatch.setitem(REMOTE_FILES, ENTRY, entry)
    return entry


def test_registry_pins_the_peer_file():
    entry = get_entry(ENTRY)
    assert entry.sha256 == PINNED
    assert entry.ssw_path == SSW_PATH == AIA_INSTRUMENT_FILE.format(VERSION_NUMBER, "fuv")
    assert entry.file is None  # fetched, not bundled
    assert entry.urls[0] == "https://soho.nascom.nasa.gov/solarsoft/" + SSW_PATH
    assert VERSION_NUMBER == 8
    # aiapy 0.12's URL_HASH: the SHA-256 of both instrument files (PEER-API.md, section 2)
    assert URL_HASH == {
        8: {
            "euv": "3940648e6b02876c45a9893f40806bbcc50baa994ae3fa2d95148916988426dd",
            "fuv": "8635166d8f6dde48da4f135925f4e8f48a0574f129c2c2ca24da6628550f5430",
        }
    }


@pytest.mark.parametrize(("channel", "name"), [(1600, "A1600_FULL"), (1700, "A1700_FULL"), (4500, "A4500_FULL")])
def test_fuv_channel_from_the_mirror(registered, loopback_jsoc, fuv_genx, channel, name):
    c = Channel(channel * u.AA)
    data = fuv_genx[1][name]
    assert c.is_fuv
    assert c.telescope_number == 3
    assert_quantity_allclose(c.contamination, [1.0])  # no CONTAM in the FUV file
    assert np.all(c.crosstalk.value == 0)
    assert_quantity_allclose(c.wavelength, data["WAVE"].astype(np.float32) * u.AA, rtol=0)
    product = (
        c.geometrical_collecting_area * c.primary_reflectance * c.secondary_reflectance
        * c.focal_plane_filter_efficiency * c.entrance_filter_efficiency * c.quantum_efficiency
    )  # fmt: skip
    assert_quantity_allclose(c.effective_area, product, rtol=1e-14)  # rounding only
    # The file's own EFFAREA (float32): the product of its float32 curves to float32 rounding.
    assert_quantity_allclose(c.effective_area, data["EFFAREA"] * u.cm**2, rtol=1e-6, atol=1e-30 * u.cm**2)
    peak = c.wavelength[np.argmax(c.effective_area)]
    assert abs(peak - channel * u.AA) < 20 * u.AA
    # Photon energy / 3.65 eV per electron / 17.7 electrons per DN (ELECPEREV, ELECPERDN as stored).
    electrons = (const.h * const.c / c.wavelength / (3.65 * u.eV)).decompose()
    assert_quantity_allclose(c.gain, electrons / 17.7 * u.DN / u.ph, rtol=1e-9)
    assert_quantity_allclose(c.wavelength_response(), c.effective_area * c.gain, rtol=1e-15)


def test_fuv_file_is_downloaded_once(registered, loopback_jsoc):
    Channel(1600 * u.AA)
    fetches = [r for r in loopback_jsoc.requests if r.endswith(SSW_PATH)]
    assert fetches == ["/mirror0/" + SSW_PATH]
    assert (get_settings().cache_dir / "ssw" / SSW_PATH).is_file()
    requests = len(loopback_jsoc.requests)
    assert Channel(1700 * u.AA).name == "1700"
    assert Channel(160 * u.nm).is_fuv  # any spectral unit
    assert len(loopback_jsoc.requests) == requests  # served from the verified cache


def test_pinned_hash_refuses_another_file(served, loopback_jsoc):
    # The registry still pins the real file's SHA-256: the constructed file is refused on both mirrors.
    with pytest.raises(DataIntegrityError, match=f"SHA-256.*{PINNED}"):
        Channel(1600 * u.AA)
    assert not (get_settings().cache_dir / "ssw" / SSW_PATH).exists()


def test_explicit_file_needs_no_network(fuv_genx):
    c = Channel(1700 * u.AA, instrument_file=fuv_genx[0])
    assert c.is_fuv
    assert c.effective_area.unit == u.cm**2
