"""normalize_exposure on real maps and its bad inputs."""

import astropy.units as u
import numpy as np
import pytest
import sunpy.map

from aiapy.calibrate import normalize_exposure
from aiapy.data import sample


def test_normalises_real_cutout():
    smap = sample.load_map("aia_171_cutout")
    result = normalize_exposure(smap)
    assert result.unit == u.DN / u.s
    assert result.exposure_time == 1 * u.s
    np.testing.assert_allclose(result.data, smap.data / np.float32(smap.meta["exptime"]), rtol=1e-7)
    assert result.data.dtype == np.float32
    assert "EXPTIME = 1.99960" in result.meta["history"]
    assert smap.exposure_time.value == pytest.approx(1.999605)  # input untouched


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
