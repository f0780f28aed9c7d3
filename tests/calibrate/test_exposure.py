"""normalize_exposure on real maps and its bad inputs."""

import astropy.units as u
import numpy as np
import pytest
import sunpy.map

from aiapy.calibrate import normalize_exposure
from aiapy.data import sample
from aiapy.utils.maps import Division, divide_map


def test_normalises_real_cutout():
    smap = sample.load_map("aia_171_cutout")
    result = normalize_exposure(smap)
    assert result.unit == u.DN / u.s
    assert result.exposure_time == 1 * u.s
    np.testing.assert_allclose(result.data, smap.data / np.float32(smap.meta["exptime"]), rtol=1e-7)
    assert result.data.dtype == np.float32
    assert "EXPTIME = 1.99960" in result.meta["history"]
    assert smap.exposure_time.value == pytest.approx(1.999605)  # input untouched
    # the header statistics are divided with the data (no pass over it), and stay true
    for key in ("datamin", "datamax", "datamean", "datap99"):
        assert result.meta[key] == pytest.approx(float(smap.meta[key]) / smap.meta["exptime"], rel=1e-12)
    assert result.meta["datamin"] == pytest.approx(float(result.data.min()), rel=1e-6)
    assert result.meta["datamax"] == pytest.approx(float(result.data.max()), rel=1e-6)


def test_divide_map_statistics_and_in_place():
    smap = sample.load_map("aia_171_cutout")
    meta = smap.meta | {"datamin": 10, "datap99": 800.0, "dataskew": 1.5, "datarms": 20.0, "datamedn": 300}
    smap = sunpy.map.Map(smap.data.copy(), meta)
    halves = [Division(2.0, "halved", {"bunit": "DN/s"}), Division(4.0, "quartered")]
    result = divide_map(smap, *halves)
    assert result.meta["datamin"] == 1.25 and result.meta["datap99"] == 100.0 and result.meta["datarms"] == 2.5
    assert result.meta["datamedn"] == 37.5 and result.meta["dataskew"] == 1.5  # skewness is scale-free
    history = result.meta["history"].split("\n")
    assert result.meta["bunit"] == "DN/s" and history[-2].endswith("halved") and history[-1].endswith("quartered")
    np.testing.assert_array_equal(result.data, smap.data / np.float32(8))
    assert result.data is not smap.data and smap.meta["datamin"] == 10  # input untouched
    data = smap.data
    in_place = divide_map(smap, *halves, in_place=True)
    assert in_place.data is data  # the caller's own array, divided where it is
    np.testing.assert_array_equal(in_place.data, result.data)
    for bad in (0.0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="finite and positive"):
            divide_map(smap, Division(bad, "bad"))


def test_integer_data_is_promoted():
    smap = sample.full_frame_171()
    small = smap.submap([0, 0] * u.pix, top_right=[63, 63] * u.pix)
    assert small.data.dtype == np.int16
    assert normalize_exposure(small).data.dtype == np.float64


def test_bad_maps(non_aia_map):
    smap = sample.load_map("aia_171_cutout")
    with pytest.raises(ValueError, match="already"):
        normalize_exposure(normalize_exposure(smap))
    zero = sunpy.map.Map(smap.data, smap.meta | {"exptime": 0.0})
    with pytest.raises(ValueError, match="positive exposure"):
        normalize_exposure(zero)
    meta = dict(smap.meta)
    del meta["exptime"]
    with pytest.raises(KeyError, match="EXPTIME"):
        normalize_exposure(sunpy.map.Map(smap.data, meta))
    with pytest.raises(TypeError, match="AIA map"):
        normalize_exposure(non_aia_map)
