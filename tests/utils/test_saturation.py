"""The saturation / bloom kernel (`aiapy.utils.saturation`) on the real 2011-02-15 flare cutouts."""

import numpy as np
import pytest

from aiapy.data import sample
from aiapy.utils import PixelFlag
from aiapy.utils.saturation import SATURATION_LEVEL, saturation_flags

CHANNELS = (94, 131, 171, 193, 211, 335)


@pytest.fixture(scope="module")
def flare():
    return {channel: sample.flare_maps(channel) for channel in CHANNELS}


def _contained(data):
    """True when no pixel on the cutout's border is near saturation: the flare core lies inside the cutout."""
    border = np.concatenate([data[0], data[-1], data[:, 0], data[:, -1]])
    return not (border >= 14000).any()


@pytest.mark.parametrize("channel", CHANNELS)
def test_levels_reproduce_nsatpix(flare, channel):
    # Where the whole saturated region is in the cutout, the full-frame NSATPIX is the cutout's own count:
    # the chosen level flags at least those pixels and at most 20 % more (the level is rounded down).
    checked = 0
    for smap in flare[channel]:
        nsatpix = smap.meta["nsatpix"]
        if nsatpix and _contained(smap.data):
            count = int((saturation_flags(smap.data, SATURATION_LEVEL[channel]) == PixelFlag.SATURATED).sum())
            assert nsatpix <= count <= 1.2 * nsatpix + 2, (smap.meta["t_obs"], nsatpix, count)
            checked += 1
    assert checked >= (0 if channel == 211 else 1)


@pytest.mark.parametrize("channel", CHANNELS)
def test_every_full_scale_pixel_is_flagged_and_bloom_is_a_superset(flare, channel):
    for smap in flare[channel]:
        data = smap.data
        with_bloom = saturation_flags(data, SATURATION_LEVEL[channel])
        without = saturation_flags(data, SATURATION_LEVEL[channel], bloom=False)
        assert with_bloom[data >= 16383].all()
        assert (without[data >= 16383] == PixelFlag.SATURATED).all()
        assert not (without & PixelFlag.BLOOM).any()
        assert ((without != 0) <= (with_bloom != 0)).all()  # bloom=False is a subset
        assert ((with_bloom & PixelFlag.SATURATED) == without).all()  # bloom only adds BLOOM pixels
        assert not ((with_bloom & PixelFlag.SATURATED) & (with_bloom & PixelFlag.BLOOM)).any()
        if smap.meta["nsatpix"] == 0 and data.max() < 14000:
            assert not with_bloom.any()


def test_frames_that_reach_full_scale(flare):
    # The count: 14 of the 60 frames reach 16383 DN; every one is flagged, with bloom below cores.
    full = [smap for maps in flare.values() for smap in maps if smap.data.max() >= 16383]
    assert len(full) == 14
    assert all((saturation_flags(s.data, SATURATION_LEVEL[round(s.wavelength.value)]) & PixelFlag.BLOOM).any()
               for s in full)  # fmt: skip


def test_bloom_runs_along_columns_only():
    data = np.full((9, 7), 100.0)
    data[4, 3] = 16000  # a saturated pixel
    data[1:4, 3] = 13000  # column neighbours above the bloom level (0.8 x 15000 = 12000)
    data[4, 1:3] = 13000  # row neighbours: the same values, but across columns
    data[6, 3] = 13000  # in the column, but after a break
    flags = saturation_flags(data, 15000)
    assert flags[4, 3] == PixelFlag.SATURATED
    assert (flags[1:4, 3] == PixelFlag.BLOOM).all()
    assert (flags[4, 1:3] == 0).all()
    assert flags[6, 3] == 0
    assert (flags != 0).sum() == 4
    assert (saturation_flags(data, 15000, bloom_fraction=0.9) != 0).sum() == 1


def test_nan_and_bad_arguments():
    data = np.array([[np.nan, 20000.0], [1.0, np.nan]])
    assert (saturation_flags(data, 15000) == [[0, PixelFlag.SATURATED], [0, 0]]).all()
    with pytest.raises(ValueError, match="2-D"):
        saturation_flags(data[0], 15000)
    for level in (0, -1, np.nan, np.inf):
        with pytest.raises(ValueError, match="saturation level"):
            saturation_flags(data, level)
    with pytest.raises(ValueError, match="bloom_fraction"):
        saturation_flags(data, 15000, bloom_fraction=0)


def test_separate_cores_in_one_frame_are_flagged_as_alone(flare):
    # The search works in boxes around the saturated pixels: cores pasted at several places of a larger frame
    # get the flags they get alone, and nothing else is flagged.
    core = flare[211][-1].data
    alone = saturation_flags(core, SATURATION_LEVEL[211])
    frame = np.full((400, 300), 100.0, np.float32)
    places = [(10, 10), (10, 200), (250, 10), (250, 150), (120, 100)]
    for y, x in places:
        frame[y : y + 67, x : x + 67] = core
    flags = saturation_flags(frame, SATURATION_LEVEL[211])
    expected = np.zeros(frame.shape, np.uint8)
    for y, x in places:
        expected[y : y + 67, x : x + 67] = alone
    assert np.array_equal(flags, expected)
