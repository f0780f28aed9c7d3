"""`register` next to saturated and bloomed pixels (issue 23), on the real 2011-02-15 flare cutouts."""

import numpy as np
import pytest
import sunpy.map

from aiapy.calibrate import register, saturation_mask
from aiapy.calibrate.register import level15_geometry
from aiapy.data import sample
from aiapy.utils import PixelFlag

FLARE = [smap for channel in (94, 131, 171, 193, 211, 335) for smap in sample.flare_maps(channel)]
#: The 14 frames that reach the 14-bit limit.
FULL_SCALE = [smap for smap in FLARE if smap.data.max() >= 16383]
#: The frames without a saturated pixel.
CLEAN = [smap for smap in FLARE if not saturation_mask(smap).any()]


def _support_range(smap, shape):
    """Min and max of the 4 x 4 input pixels each output pixel of the level-1.5 grid is taken from."""
    data = smap.data.astype(np.float64)
    matrix, offset, out_shape, *_ = level15_geometry(smap)
    assert out_shape == shape
    p = matrix @ np.indices(shape).reshape(2, -1) + offset[:, None]
    ny, nx = data.shape
    inside = (p[0] >= 0) & (p[0] <= ny - 1) & (p[1] >= 0) & (p[1] <= nx - 1)
    base = np.floor(p).astype(int) - 1
    taps = [data[np.clip(base[0] + k, 0, ny - 1), np.clip(base[1] + m, 0, nx - 1)] for k in range(4) for m in range(4)]
    return np.min(taps, axis=0).reshape(shape), np.max(taps, axis=0).reshape(shape), inside.reshape(shape)


def _new_extremes(method, guard):
    """Output pixels next to a pixel >= 15000 DN outside the range of their 4 x 4 input pixels, on the 14 frames."""
    count = 0
    for smap in FULL_SCALE:
        out = register(smap, method=method, guard_saturation=guard).data.astype(np.float64)
        low, high, inside = _support_range(smap, out.shape)
        count += int((inside & (high >= 15000) & ((out < low) | (out > high))).sum())
    return count


def test_no_new_extremes_next_to_saturated_pixels():
    assert len(FULL_SCALE) == 14
    before = {method: _new_extremes(method, False) for method in ("spline", "cubic-convolution", "linear")}
    # the defect this guards against: thousands of ringing pixels (3648 and 7631 when measured)
    assert before["spline"] > 1000 and before["cubic-convolution"] > 1000
    after = {method: _new_extremes(method, True) for method in ("spline", "cubic-convolution", "linear")}
    assert after == {"spline": 0, "cubic-convolution": 0, "linear": 0}
    assert after["spline"] <= before["linear"] and after["cubic-convolution"] <= before["linear"]


@pytest.mark.parametrize("method", ["spline", "cubic-convolution", "linear", "nearest"])
def test_frames_without_saturation_are_bit_identical(method):
    assert len(CLEAN) == 19  # 60 frames, 41 with a saturated pixel
    for smap in CLEAN:
        new = register(smap, method=method)
        old = register(smap, method=method, guard_saturation=False)
        assert new.data.tobytes() == old.data.tobytes()
        assert new.mask is None
        assert "guard_saturation" not in new.meta["history"]


@pytest.mark.parametrize("method", ["spline", "cubic-convolution"])
def test_only_outputs_next_to_flagged_pixels_change(method):
    for smap in FULL_SCALE[:4]:
        new = register(smap, method=method)
        old = register(smap, method=method, guard_saturation=False)
        # outputs whose taps touch a flagged pixel: NaN when the flagged pixels are declared missing
        missing = sunpy.map.Map(smap.data, smap.meta, mask=saturation_mask(smap).astype(np.uint8))
        touched = np.isnan(register(missing, method=method).data)
        assert touched.any()
        assert np.array_equal(new.data[~touched], old.data[~touched])
        assert (new.data != old.data).any()
        assert "guard_saturation=True" in new.meta["history"]


def test_mask_travels_to_the_output_grid():
    smap = sample.load_map("flare_2011-02-15T02-02-00_211")
    flags_in = saturation_mask(smap, bloom=False)
    out = register(smap)
    assert out.mask is not None and out.mask.dtype == np.uint8 and out.mask.shape == out.data.shape
    saturated = (out.mask & PixelFlag.SATURATED) != 0
    assert abs(int(saturated.sum()) - int(flags_in.sum())) <= 0.05 * flags_in.sum()  # a nearest-pixel carry
    assert ((out.mask & PixelFlag.BLOOM) != 0).sum() > 0
    assert not (out.mask & PixelFlag.MISSING).any()
    assert out.meta["nsatflag"] == saturated.sum() and out.meta["nblmflag"] == ((out.mask & PixelFlag.BLOOM) != 0).sum()
    assert "nsatflag" not in register(sample.load_map("flare_2011-02-15T01-44-09_131")).meta
    assert "NSATFLAG" not in smap.meta.get("keycomments", {})  # the input's header is not touched
    # the flags sit on the saturated core of the output (at its edge the kernel mixes in darker neighbours)
    assert np.median(out.data[saturated]) >= 15000 and out.data[saturated].min() >= 0.8 * 15000


def test_input_mask_is_honoured():
    smap = sample.load_map("flare_2011-02-15T01-44-09_131")  # no saturation
    assert register(smap).mask is None
    # a boolean mask: missing pixels, NaN in the output where taps touch them, as NaN input pixels are
    hole = np.zeros(smap.data.shape, bool)
    hole[30:33, 30:33] = True
    masked = register(sunpy.map.Map(smap.data, smap.meta, mask=hole), method="cubic-convolution")
    nan_input = smap.data.astype(np.float32)
    nan_input[hole] = np.nan
    expected = register(sunpy.map.Map(nan_input, smap.meta), method="cubic-convolution")
    assert np.array_equal(masked.data, expected.data, equal_nan=True)
    assert np.array_equal(masked.mask & PixelFlag.MISSING != 0, np.isnan(masked.data))
    # a flag mask made upstream is taken as it is: here it marks a bright patch saturated, so the kernels
    # are kept within their taps' range there, and nothing is looked for in the data
    flags = np.zeros(smap.data.shape, np.uint8)
    flags[smap.data > 0.9 * smap.data.max()] = PixelFlag.SATURATED
    flagged = register(sunpy.map.Map(smap.data, smap.meta, mask=flags), method="cubic-convolution")
    assert (flagged.mask & PixelFlag.SATURATED).any()
    assert "1 saturated" in flagged.meta["history"] or "saturated/bloomed" in flagged.meta["history"]
    saturated = sample.load_map("flare_2011-02-15T02-02-00_211")
    empty = np.zeros(saturated.data.shape, np.uint8)  # "checked upstream: nothing flagged"
    assert register(sunpy.map.Map(saturated.data, saturated.meta, mask=empty)).mask is None


def test_values_beyond_full_scale_are_not_saturation():
    smap = sample.load_map("flare_2011-02-15T01-44-09_131")
    data = smap.data.astype(np.float64)
    data[30, 30] = 40 * data.max()  # a hot pixel above the 14-bit range: not a saturated pixel of the CCD
    hot = sunpy.map.Map(data, smap.meta)
    assert not saturation_mask(hot).any()
    assert register(hot).mask is None


def test_guard_option_is_validated():
    smap = sample.load_map("flare_2011-02-15T01-44-09_131")
    with pytest.raises(TypeError, match="guard_saturation"):
        register(smap, guard_saturation="yes")
