"""estimate_error against the figures derived from aia_bp_estimate_error (PEER-API 3.2 F)."""

import astropy.units as u
import numpy as np
import pytest

from aiapy.calibrate import estimate_error
from aiapy.calibrate.utils import get_error_table
from aiapy.utils.channels import READ_NOISE, telescope_number
from aiapy.utils.dtypes import supported_float_type

# channel: (10 DN compare_idl, 10 DN default read noise, 1000 DN default)
FIGURES = {
    94: (4.6030678176, 4.6005796736, 44.48925011),
    131: (4.0209741772, 4.0296567265, 38.45357036),
    171: (3.5578411057, 3.5578411057, 33.59834985),
    193: (3.3253922074, 3.3430126134, 31.13623471),
    211: (3.1997239464, 3.2180325252, 29.79961991),
    304: (2.7474048361, 2.7432341011, 24.93447289),
    335: (2.6829523539, 2.6959475761, 24.25222376),
    1600: (1.6242639359, 1.6242639359, 13.11879423),
    1700: (1.6025708513, 1.6025708513, 31.25290425),
    4500: (1.4135888134, 1.4135888134, 110.30940521),
}
DN = u.DN / u.pix


@pytest.mark.parametrize("channel", FIGURES)
def test_check_figures(channel):
    idl, default, bright = FIGURES[channel]
    # 1e-6 relative: the target; the figures carry 10-11 significant digits.
    assert estimate_error(10 * DN, channel * u.AA, compare_idl=True).value[0] == pytest.approx(idl, rel=1e-6)
    assert estimate_error(10 * DN, channel * u.AA).value[0] == pytest.approx(default, rel=1e-6)
    assert estimate_error(1000 * DN, channel * u.AA).value[0] == pytest.approx(bright, rel=1e-6)


@pytest.mark.parametrize(
    ("counts", "channel", "kwargs", "expected"),
    [
        (1000, 171, {"compare_idl": True, "include_eve": True}, 38.59856361),
        (1000, 171, {"compare_idl": True, "include_chianti": True}, 252.24759486),
        (1000, 171, {"compare_idl": True, "include_preflight": True}, 252.24759486),
        (1, 94, {}, 1.84128578),
        (1, 94, {"include_eve": True}, 1.84333999),
        (1, 94, {"include_preflight": True}, 1.85818011),
        (1, 94, {"include_chianti": True}, 1.90796576),
        (100, 171, {"n_sample": 4}, 5.33551088),
    ],
)
def test_option_figures(counts, channel, kwargs, expected):
    result = estimate_error(counts * DN, channel * u.AA, **kwargs)
    assert result.value[0] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("shape", [(), (1,), (10,), (100, 200), (10, 10, 5)])
def test_shape_and_unit(shape):
    counts = np.full(shape, 10.0) * DN
    result = estimate_error(counts, 193 * u.AA)
    assert result.shape == np.atleast_1d(counts).shape
    assert result.unit == DN


def test_negative_counts_clamped_or_nan():
    counts = np.array([-5.0, 0.0]) * DN
    clamped = estimate_error(counts, 171 * u.AA)
    # A negative value is noise around zero signal: its error is the zero-signal floor.
    assert clamped.value[0] == clamped.value[1]
    assert np.isfinite(clamped.value).all()
    ssw = estimate_error(counts, 171 * u.AA, negative="nan")
    assert np.isnan(ssw.value[0]) and np.isfinite(ssw.value[1])


def test_compression_term_vanishes_below_25_dn():
    below = estimate_error(24.999 * DN, 94 * u.AA).value[0]
    above = estimate_error(25.0 * DN, 94 * u.AA).value[0]
    # At 25 DN the compression term switches on at its floor 1/sqrt(12): the variance jumps by 1/12
    # (plus 0.001 DN x 1.975 DN/ph of shot noise).
    assert above**2 - below**2 == pytest.approx(1 / 12 + 0.001 * 1.975, rel=1e-6)


def _row(channel):
    table = get_error_table()
    return table[table["WAVELNTH"].to_value(u.AA) == channel][0]


def _literal_error(counts, channel, *, n_sample=1, fractions=(), read_noise):
    """The formula term by term, as aia_bp_estimate_error writes it (float64)."""
    row = _row(channel)
    gain, compress = row["DNPERPHT"].value, row["COMPRESS"]
    shot = np.sqrt(counts * gain) / np.sqrt(n_sample)
    compression = np.where(counts < 25, 0.0, np.maximum(shot / compress, 1 / np.sqrt(12))) / np.sqrt(n_sample)
    variance = shot**2 + 0.18**2 + (read_noise**2 + 1 / 12) / n_sample + compression**2
    return np.sqrt(variance + sum((f * counts) ** 2 for f in fractions))


@pytest.mark.parametrize("channel", FIGURES)
@pytest.mark.parametrize("n_sample", [1, 3])
def test_matches_literal_formula(channel, n_sample):
    # every branch of the compression term (below 25 DN, at its floor, proportional) across the range
    counts = np.concatenate([np.linspace(0, 100, 4001), np.geomspace(100, 2e4, 500)])
    chianti = float(_row(channel)["CHIANTI"])
    result = estimate_error(counts * DN, channel * u.AA, n_sample=n_sample, compare_idl=True, include_chianti=True)
    expected = _literal_error(counts, channel, n_sample=n_sample, fractions=(chianti,), read_noise=1.15)
    np.testing.assert_allclose(result.value, expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [(np.float16, np.float32), (np.float32, np.float32), (np.float64, np.float64), (np.int16, np.float64)],
)
def test_output_dtype_rule(dtype, expected):
    counts = np.array([[0, 7, 24, 25, 26], [100, 1000, 2000, 12000, -3]]).astype(dtype)
    result = estimate_error(counts * DN, 171 * u.AA)
    assert result.dtype == expected
    reference = estimate_error(counts.astype(np.float64) * DN, 171 * u.AA)
    np.testing.assert_allclose(result.value, reference.value, rtol=1e-6)


def test_large_array_in_blocks():
    counts = np.random.default_rng(1).uniform(-10, 5000, (300, 301))  # several blocks and a partial one
    result = estimate_error(counts * DN, 94 * u.AA, negative="nan")
    with np.errstate(invalid="ignore"):  # negative counts: NaN, as in SolarSoft
        expected = _literal_error(counts, 94, read_noise=READ_NOISE[telescope_number(94 * u.AA)])
    np.testing.assert_allclose(result.value, expected, rtol=1e-12)
    assert np.array_equal(np.isnan(result.value), counts < 0)


def test_error_table_argument_forms():
    table = get_error_table()
    assert len(table) == 10
    a = estimate_error(50 * DN, 211 * u.AA, error_table=table)
    b = estimate_error(50 * DN, 211 * u.AA, error_table=None)
    np.testing.assert_array_equal(a, b)


def test_bad_inputs():
    with pytest.raises(ValueError, match="both EVE and pre-flight"):
        estimate_error(10 * DN, 171 * u.AA, include_eve=True, include_preflight=True)
    with pytest.raises(ValueError, match="negative"):
        estimate_error(10 * DN, 171 * u.AA, negative="zero")
    with pytest.raises(ValueError, match="n_sample"):
        estimate_error(10 * DN, 171 * u.AA, n_sample=0)
    with pytest.raises(u.UnitsError):
        estimate_error(10 * u.s, 171 * u.AA)
    with pytest.raises(ValueError, match="valid channels"):
        estimate_error(10 * DN, 195 * u.AA)
    with pytest.raises(TypeError, match="source"):
        get_error_table(-1)


@pytest.mark.parametrize("dtype", [">f4", ">f8", ">i2", "f2"])
def test_byte_order_and_half_precision_give_the_native_result(dtype):
    # FITS data arrive big-endian; the compiled kernel reads native arrays, so these are converted first
    counts = (np.arange(-20, 380, dtype=np.float64) * 7.5).reshape(20, 20)
    native = supported_float_type(dtype).newbyteorder("=")
    expected = estimate_error(counts.astype(np.dtype(dtype).newbyteorder("=")) * u.DN / u.pix, 171 * u.AA)
    result = estimate_error(counts.astype(dtype) * u.DN / u.pix, 171 * u.AA)
    assert result.dtype == native
    np.testing.assert_array_equal(result.value, expected.value)
