"""`deconvolve` with flagged pixels (issues 23 and 27): saturated pixels are flagged, missing ones NaN."""

import numpy as np
import sunpy.map

from aiapy.calibrate import register, saturation_mask
from aiapy.data import sample
from aiapy.psf import deconvolve
from aiapy.utils import PixelFlag


def test_saturated_frame_carries_its_flags():
    smap = sample.load_map("flare_2011-02-15T02-02-00_211")
    result = deconvolve(smap, iterations=5)
    saturated = saturation_mask(smap, bloom=False)
    assert result.mask is not None and result.mask.dtype == np.uint8
    assert np.array_equal((result.mask & PixelFlag.SATURATED) != 0, saturated)
    assert np.array_equal((result.mask & PixelFlag.BLOOM) != 0, saturation_mask(smap) & ~saturated)
    assert not (result.mask & PixelFlag.MISSING).any() and np.isfinite(result.data).all()
    assert "saturated/bloomed pixels flagged" in result.meta["history"]
    # the numbers are those of the same data without flags (the saturated values take part, flagged)
    plain = deconvolve(sunpy.map.Map(smap.data, smap.meta, mask=np.zeros(smap.data.shape, np.uint8)), iterations=5)
    assert plain.mask is None
    assert np.array_equal(result.data, plain.data)
    # register takes the carried flags as they are instead of looking at deconvolved values again
    registered = register(result)
    assert registered.mask is not None
    carried = int(((registered.mask & PixelFlag.SATURATED) != 0).sum())
    assert abs(carried - int(saturated.sum())) <= 0.05 * saturated.sum()


def test_flag_mask_missing_and_saturated():
    smap = sample.load_map("flare_2011-02-15T01-44-09_131")
    flags = np.zeros(smap.data.shape, np.uint8)
    flags[10:12, 10:12] = PixelFlag.MISSING
    flags[40, 40] = PixelFlag.SATURATED
    result = deconvolve(sunpy.map.Map(smap.data, smap.meta, mask=flags), iterations=5)
    assert np.isnan(result.data[10:12, 10:12]).all()
    assert np.isfinite(result.data[40, 40])
    assert np.array_equal(result.mask, flags)
    # a boolean mask is missing pixels, as before
    boolean = deconvolve(sunpy.map.Map(smap.data, smap.meta, mask=flags != 0), iterations=5)
    assert np.isnan(boolean.data[40, 40]) and boolean.mask[40, 40] == PixelFlag.MISSING
