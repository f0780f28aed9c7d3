"""`aiapy.utils.pixel_flags`: the map's mask and its NaN pixels as one uint8 flag array."""

import numpy as np
import sunpy.map

from aiapy.data import sample
from aiapy.utils import PixelFlag, pixel_flags


def test_flags_mask_and_nan():
    smap = sample.load_map("flare_2011-02-15T02-02-00_211")
    data = smap.data.astype(np.float32)
    data[0, 0] = np.nan
    flags = np.zeros(data.shape, np.uint8)
    flags[1, 1] = PixelFlag.SATURATED
    flags[0, 0] = PixelFlag.BLOOM
    result = pixel_flags(sunpy.map.Map(data, smap.meta, mask=flags))
    assert result.dtype == np.uint8
    assert result[0, 0] == PixelFlag.BLOOM | PixelFlag.MISSING  # a NaN pixel carrying other bits
    assert result[1, 1] == PixelFlag.SATURATED
    assert (result != 0).sum() == 2
    boolean = pixel_flags(sunpy.map.Map(smap.data, smap.meta, mask=flags != 0))
    assert (boolean == np.where(flags != 0, PixelFlag.MISSING, 0)).all()
    assert not pixel_flags(smap).any()
