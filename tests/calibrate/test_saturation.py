"""`aiapy.calibrate.saturation_mask` on the real 2011-02-15 flare cutouts."""

import astropy.units as u
import numpy as np
import pytest
import sunpy.map

from aiapy.calibrate import normalize_exposure, saturation_mask
from aiapy.data import sample
from aiapy.utils import AIApyMetadataWarning, PixelFlag


@pytest.fixture(scope="module")
def frames():
    return [smap for channel in (94, 131, 171, 193, 211, 335) for smap in sample.flare_maps(channel)]


def test_every_frame(frames):
    assert len(frames) == 60
    for smap in frames:
        mask = saturation_mask(smap)
        primary = saturation_mask(smap, bloom=False)
        assert mask.dtype == bool and mask.shape == smap.data.shape
        assert mask[smap.data >= 16383].all()
        assert (primary <= mask).all()
        assert primary.sum() >= (smap.data >= 15000).sum()  # every channel's level is at most 15000 DN


def test_level_and_units(frames):
    smap = sample.load_map("flare_2011-02-15T01-56-13_131")
    assert saturation_mask(smap, bloom=False).sum() == 97  # NSATPIX = 97 for this frame
    assert saturation_mask(smap, level=15500 * u.DN, bloom=False).sum() == (smap.data >= 15500).sum()
    rate = normalize_exposure(smap)
    with pytest.raises(ValueError, match="level="):
        saturation_mask(rate)
    level = 15000 * u.DN / (smap.exposure_time)
    assert (saturation_mask(rate, level=level) == saturation_mask(smap)).all()
    with pytest.raises(u.UnitConversionError, match="level"):
        saturation_mask(smap, level=15000 * u.s)
    with pytest.raises(TypeError, match="Quantity"):
        saturation_mask(smap, level=15000)
    with pytest.raises(ValueError, match="positive"):
        saturation_mask(smap, level=-1 * u.DN)
    with pytest.raises(TypeError, match="bloom"):
        saturation_mask(smap, bloom=1)


def test_refuses_what_it_cannot_judge(non_aia_map):
    smap = sample.load_map("flare_2011-02-15T01-56-13_131")
    with pytest.raises(TypeError, match="AIA map"):
        saturation_mask(non_aia_map)
    meta = smap.meta.copy()
    meta["lvl_num"] = 1.5
    with pytest.raises(ValueError, match="LVL_NUM"):
        saturation_mask(sunpy.map.Map(smap.data, meta))
    del meta["pixlunit"]
    meta["lvl_num"] = 1.0
    meta.pop("bunit", None)
    with pytest.warns(AIApyMetadataWarning, match="unit"):
        saturation_mask(sunpy.map.Map(smap.data, meta))


def test_missing_pixels_are_not_saturated_and_input_untouched():
    smap = sample.load_map("flare_2011-02-15T02-02-00_211")
    flags = np.zeros(smap.data.shape, np.uint8)
    flags[:10] = PixelFlag.MISSING
    data = smap.data.astype(float)
    data[10:12] = np.nan
    masked = sunpy.map.Map(data, smap.meta.copy(), mask=flags)
    before = data.copy()
    mask = saturation_mask(masked)
    assert not mask[:12].any()
    assert mask[12:].sum() == saturation_mask(smap)[12:].sum()
    assert np.array_equal(before, data, equal_nan=True)
