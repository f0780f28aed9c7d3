"""`estimate_error` with pixel flags: flagged counts are no measurement, their uncertainty NaN."""

import astropy.units as u
import numpy as np
import pytest

from aiapy.calibrate import estimate_error, register
from aiapy.data import sample
from aiapy.utils import PixelFlag


def test_flagged_counts_have_no_uncertainty():
    level15 = register(sample.load_map("flare_2011-02-15T02-02-00_211"))
    counts = u.Quantity(level15.data, u.DN / u.pix)
    plain = estimate_error(counts, 211 * u.AA)
    flagged = estimate_error(counts, 211 * u.AA, flags=level15.mask)
    assert level15.mask.any()
    assert np.isnan(flagged.value[level15.mask != 0]).all()
    assert np.array_equal(flagged.value[level15.mask == 0], plain.value[level15.mask == 0])
    assert np.isfinite(plain.value).all()


def test_flags_shapes():
    counts = [10.0, 20.0, 30.0] * u.DN / u.pix
    result = estimate_error(counts, 171 * u.AA, flags=np.array([0, PixelFlag.BLOOM, 0], np.uint8))
    assert np.isnan(result[1]) and np.isfinite(result[[0, 2]]).all()
    assert np.isnan(estimate_error(counts, 171 * u.AA, flags=np.array(True))).all()  # broadcast
    with pytest.raises(ValueError, match="broadcast"):
        estimate_error(counts, 171 * u.AA, flags=np.zeros(2, bool))
