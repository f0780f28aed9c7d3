"""Issue 22, fault 4 and its siblings: deconvolve records what it did and refuses what its PSF does not fit."""

import astropy.units as u
import numpy as np
import pytest
import sunpy.map

import aiapy.data.sample as sample
from aiapy.calibrate import register
from aiapy.psf import calculate_psf, deconvolve
from aiapy.utils.exceptions import AIApyMetadataWarning, AIApyUserWarning


@pytest.fixture(scope="module")
def small():
    """A 128 x 128 corner of the real 171 A cutout (deconvolution is an FFT of the whole map)."""
    return sample.load_map("aia_171_cutout").submap([0, 0] * u.pix, top_right=[127, 127] * u.pix)


def test_deconvolution_is_recorded_and_a_second_pass_refused(small):
    once = deconvolve(small, iterations=2)
    assert once.meta["deconv"] is True
    with pytest.raises(ValueError, match=r"deconvolve was already applied to this map \(DECONV = T\)"):
        deconvolve(once, iterations=2)


def test_a_second_pass_is_refused_from_history_alone(small):
    """A file written before the flag existed: its HISTORY line is the record."""
    meta = {key: value for key, value in deconvolve(small, iterations=1).meta.items() if key != "deconv"}
    with pytest.raises(ValueError, match=r"deconvolve was already applied .*HISTORY 'aiapy .*: deconvolve: "):
        deconvolve(sunpy.map.Map(small.data, meta), iterations=1)


def test_binned_data_are_refused_without_a_psf(small):
    binned = small.superpixel([2, 2] * u.pix, func=np.mean)
    with pytest.raises(ValueError, match=r"deconvolve: CDELT1 = 1.19\d* arcsec/pix, but the AIA PSF .* 0.6 arcsec/pix"):
        deconvolve(binned, iterations=1)
    psf = calculate_psf(171 * u.AA, shape=binned.data.shape)
    out = deconvolve(binned, psf=psf, iterations=1)  # the caller's PSF for this grid is used as given
    assert "a user-supplied PSF array" in out.meta["history"]


def test_level15_says_what_is_assumed(small):
    level15 = register(small, method="linear")
    with pytest.warns(AIApyUserWarning, match=r"level-1.5 map: the PSF of the level-1 CCD grid is assumed to apply"):
        out = deconvolve(level15, iterations=1)
    assert np.isfinite(out.data).any()


def test_int16_fill_without_blank_is_missing(small):
    data = np.clip(small.data, 0, 3000).astype(np.int16)
    data[40:44, 50:52] = -32768
    meta = {key: value for key, value in small.meta.items() if key != "blank"}
    with pytest.warns(AIApyMetadataWarning, match=r"no BLANK keyword but 8 pixels of -32768"):
        out = deconvolve(sunpy.map.Map(data, meta), iterations=2)
    assert np.array_equal(np.isnan(out.data), data == -32768)


def test_map_sequence_and_string_keys(small):
    with pytest.raises(TypeError, match=r"deconvolve takes one map; got a MapSequence of 2 maps"):
        deconvolve(sunpy.map.Map([small, small], sequence=True))
    with pytest.raises(ValueError, match=r"deconvolve: the header keyword CDELT1 = 'x' is not a number"):
        deconvolve(sunpy.map.Map(small.data, dict(small.meta, cdelt1="x")))
