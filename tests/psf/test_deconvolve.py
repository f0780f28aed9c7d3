"""Tests of Richardson-Lucy deconvolution: exactness against the plain loop, edges, guards and errors."""

import dataclasses

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from scipy import ndimage

from aiapy.data import sample
from aiapy.psf import BACKENDS, DeconvolveOptions, calculate_psf, deconvolve
from aiapy.psf._backends import ScipyBackend
from aiapy.psf._deconvolve import transfer_function
from aiapy.utils.exceptions import AIApyUserWarning


@pytest.fixture(scope="module")
def cutout():
    """A real 512 x 512 crop of the bundled 171 A level-1 cutout."""
    smap = sample.load_map("aia_171_cutout")
    return smap.submap([0, 0] * u.pix, top_right=[511, 511] * u.pix)


def test_float64_matches_plain_loop_cutout(cutout, oracle_rl):
    psf = calculate_psf(171 * u.AA, shape=(512, 512))
    result = deconvolve(cutout, iterations=25, precision="float64", boundary="periodic")
    expected = oracle_rl(np.maximum(cutout.data.astype(float), 0), psf, 25)
    # Same algorithm in float64; differences are FFT rounding amplified by 25 iterations.
    np.testing.assert_allclose(result.data, expected, rtol=1e-9, atol=0)


def test_float64_matches_plain_loop_symmetric_padding(cutout, oracle_rl):
    result = deconvolve(cutout, iterations=10, precision="float64")
    assert "boundary=symmetric" in result.meta["history"]
    image = np.maximum(cutout.data.astype(float), 0)
    padded = np.pad(image, [(256, 256), (256, 256)], mode="symmetric")
    psf = np.zeros(padded.shape)
    psf[256:768, 256:768] = calculate_psf(171 * u.AA, shape=(512, 512))
    expected = oracle_rl(padded, psf, 10)[256:768, 256:768]
    np.testing.assert_allclose(result.data, expected, rtol=1e-9, atol=0)  # float64 rounding, as above


@pytest.mark.slow
def test_float64_matches_plain_loop_full_frame(oracle_rl):
    smap = sample.full_frame_171(dtype=np.float32)
    # Three iterations: the exactness of the loop does not depend on their number and each costs ~2 s.
    result = deconvolve(smap, iterations=3, precision="float64")
    expected = oracle_rl(np.maximum(smap.data.astype(float), 0), calculate_psf(171 * u.AA), 3)
    np.testing.assert_allclose(result.data, expected, rtol=1e-9, atol=0)  # float64 rounding
    assert result.data.dtype == np.float64
    float32 = deconvolve(smap, iterations=3)
    assert float32.data.dtype == np.float32
    # float32 FFTs: the documented bound is 1e-4 of the image maximum (measured ~1e-6 after 25 iterations).
    assert np.abs(float32.data - expected).max() < 1e-4 * expected.max()


def test_float32_close_to_float64(cutout):
    single = deconvolve(cutout)
    double = deconvolve(cutout, precision="float64")
    assert single.data.dtype == np.float32
    # The documented float32 bound, relative to the image maximum after 25 iterations.
    assert np.abs(single.data - double.data).max() < 1e-4 * double.data.max()


def test_invariants(cutout):
    assert np.array_equal(deconvolve(cutout, iterations=0).data, np.maximum(cutout.data, 0).astype(np.float32))
    flat = sunpy.map.Map(np.full((64, 64), 5.0), cutout.meta)
    np.testing.assert_allclose(deconvolve(flat, precision="float64").data, 5.0, rtol=1e-12)  # rounding only
    result = deconvolve(cutout, precision="float64", boundary="periodic")
    # Richardson-Lucy conserves the total flux for a PSF summing to 1 (circular boundary).
    np.testing.assert_allclose(result.data.sum(), np.maximum(cutout.data, 0).astype(float).sum(), rtol=1e-10)
    # Deconvolution sharpens: the peak rises.
    assert result.data.max() > cutout.data.max()


def test_header_and_input_untouched(cutout):
    before = cutout.data.copy()
    meta_before = dict(cutout.meta)
    result = deconvolve(cutout, iterations=2)
    assert np.array_equal(cutout.data, before)
    assert dict(cutout.meta) == meta_before
    assert result.meta["lvl_num"] == cutout.meta["lvl_num"]
    assert "Richardson-Lucy, 2 iterations" in result.meta["history"]
    assert "calculate_psf(171.0 Angstrom" in result.meta["history"]
    assert "aiapy" in result.meta["history"]
    assert type(result) is type(cutout)
    # the value statistics describe the deconvolved data, not the input's
    assert result.meta["datamax"] == pytest.approx(float(result.data.max()), rel=1e-12)
    assert result.meta["datamean"] == pytest.approx(float(result.data.mean()), rel=1e-6)
    assert result.meta["datamax"] != pytest.approx(float(cutout.data.max()), rel=1e-3)


def test_missing_pixels(cutout):
    data = cutout.data.astype(np.float32)
    data[100:103, 200:204] = np.nan
    data[300, 300] = np.inf
    smap = sunpy.map.Map(data, cutout.meta)
    result = deconvolve(smap, iterations=5)
    bad = ~np.isfinite(data)
    assert np.all(np.isnan(result.data[bad]))
    assert np.all(np.isfinite(result.data[~bad]))
    assert np.array_equal(result.mask, bad)
    # Missing pixels stay local (issue 12): away from them the result is that of the complete image.
    complete = deconvolve(cutout, iterations=5)
    far = ndimage.distance_transform_edt(~bad) > 10
    assert np.abs(result.data[far] - complete.data[far]).max() < 1e-3 * complete.data.max()


def test_missing_int16_blank_pixels(cutout):
    data = np.clip(cutout.data[:128, :128], 0, 3000).astype(np.int16)
    data[40:44, 50:52] = -32768
    result = deconvolve(sunpy.map.Map(data, dict(cutout.meta, blank=-32768)), iterations=3)
    assert np.array_equal(np.isnan(result.data), data == -32768)


@pytest.mark.parametrize("value", [0.0, -5.0])
def test_no_positive_signal(cutout, value):
    data = np.full((64, 64), value, dtype=np.float32)
    data[10, 10] = np.nan
    for clip_negative in (True, False):
        with pytest.raises(ValueError, match="no positive signal"):
            deconvolve(sunpy.map.Map(data, cutout.meta), iterations=2, clip_negative=clip_negative)


def test_block_passes_do_not_change_the_result(cutout, monkeypatch):
    # the blocked CPU passes take the 1-D transforms of the whole-frame ones: any thread count or block size
    # gives the same bits
    reference = deconvolve(cutout, iterations=4, boundary="periodic").data
    monkeypatch.setattr(ScipyBackend, "workers", 1)
    monkeypatch.setattr(ScipyBackend, "block_rows", 7)
    monkeypatch.setattr(ScipyBackend, "block_columns", 5)
    np.testing.assert_array_equal(deconvolve(cutout, iterations=4, boundary="periodic").data, reference)
    monkeypatch.setattr(ScipyBackend, "workers", 3)
    np.testing.assert_array_equal(deconvolve(cutout, iterations=4, boundary="periodic").data, reference)


def test_zeros_do_not_give_nan(cutout):
    data = cutout.data.astype(float)
    data[:, :200] = 0  # an empty region: the plain algorithm divides 0 by 0 there
    result = deconvolve(sunpy.map.Map(data, cutout.meta), iterations=10, boundary="periodic")
    assert np.all(np.isfinite(result.data))
    assert result.data.min() >= 0


def test_cutout_edges_do_not_wrap(cutout):
    # A bright source on the left edge must not leak onto the right edge through the circular boundary.
    data = np.ones((128, 128))
    data[60:68, 0:4] = 1e4
    smap = sunpy.map.Map(data, cutout.meta)
    psf = calculate_psf(171 * u.AA, shape=(128, 128))
    periodic = deconvolve(smap, psf=psf, boundary="periodic", precision="float64")
    padded = deconvolve(smap, psf=psf, precision="float64")
    blurred_right = np.abs(periodic.data[55:73, -10:] - 1).max()
    padded_right = np.abs(padded.data[55:73, -10:] - 1).max()
    assert padded_right < 0.1 * blurred_right


def test_negative_values_warn(cutout):
    data = cutout.data.astype(float)
    data[0, 0] = -5
    smap = sunpy.map.Map(data, cutout.meta)
    with pytest.warns(AIApyUserWarning, match="negative intensity values"):
        deconvolve(smap, iterations=1, clip_negative=False)


def test_psf_checks(cutout):
    psf = calculate_psf(171 * u.AA, shape=(512, 512))
    with pytest.raises(ValueError, match=r"psf has shape \(256, 256\)"):
        deconvolve(cutout, psf=psf[:256, :256])
    with pytest.warns(AIApyUserWarning, match="normalised to 1"):
        scaled = deconvolve(cutout, psf=2 * psf, iterations=3)
    np.testing.assert_allclose(scaled.data, deconvolve(cutout, psf=psf, iterations=3).data, rtol=1e-5)  # float32
    with pytest.raises(ValueError, match="non-negative"):
        deconvolve(cutout, psf=-psf)
    with pytest.raises(ValueError, match="non-negative"):
        deconvolve(cutout, psf=psf * np.nan)
    with pytest.raises(TypeError, match="psf must be a 2-D array"):
        deconvolve(cutout, psf=psf[0])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"iterations": -1}, ValueError, "iterations must be 0 or more"),
        ({"iterations": 2.5}, TypeError, "iterations must be an integer"),
        ({"clip_negative": "no"}, TypeError, "clip_negative"),
        ({"boundary": "wrap"}, ValueError, "boundary must be"),
        ({"precision": "float16"}, ValueError, "precision must be"),
        ({"backend": "jax"}, ValueError, "registered backends"),
    ],
)
def test_bad_options(cutout, kwargs, error, match):
    with pytest.raises(error, match=match):
        deconvolve(cutout, **kwargs)


def test_options_object():
    options = DeconvolveOptions(iterations=np.int64(15), acceleration="biggs-andrews")
    assert options.iterations == 15 and type(options.iterations) is int
    assert options.as_dict() == {
        "iterations": 15,
        "acceleration": "biggs-andrews",
        "boundary": None,
        "precision": "float32",
        "backend": "scipy",
        "clip_negative": True,
    }
    fields = {field.name: field.metadata for field in DeconvolveOptions.fields()}
    assert fields["acceleration"]["choices"] == (None, "biggs-andrews")
    assert fields["backend"]["choices"] is None  # the registry, read when checked (see below)
    assert all(field["help"] for field in fields.values())
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.iterations = 3
    with pytest.raises(ValueError, match="precision must be"):
        options.replace(precision="float16")
    with pytest.raises(TypeError, match="backend must be a string"):
        DeconvolveOptions(backend=None)


def test_options_drive_deconvolve(cutout):
    options = DeconvolveOptions(iterations=3, boundary="periodic")
    by_options = deconvolve(cutout, **options.as_dict())
    np.testing.assert_array_equal(by_options.data, deconvolve(cutout, iterations=3, boundary="periodic").data)
    assert "3 iterations" in by_options.meta["history"]


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [(np.float16, np.float32), (np.float32, np.float32), (np.float64, np.float64), (np.int16, np.float64)],
)
def test_output_dtype_rule(cutout, dtype, expected):
    data = np.clip(cutout.data[:128, :128], 0, 1000).astype(dtype)
    result = deconvolve(sunpy.map.Map(data, cutout.meta), iterations=2)
    assert result.data.dtype == expected
    reference = deconvolve(sunpy.map.Map(data.astype(np.float32), cutout.meta), iterations=2)
    np.testing.assert_allclose(result.data, reference.data, rtol=0, atol=1e-4 * reference.data.max())


def test_bad_maps(cutout):
    with pytest.raises(TypeError, match="two-dimensional sunpy Map"):
        deconvolve(cutout.data)
    meta = dict(cutout.meta, wavelnth=1600)
    with pytest.raises(ValueError, match="psf=None needs a map of an AIA EUV channel"):
        deconvolve(sunpy.map.Map(cutout.data, meta))
    with pytest.raises(ValueError, match="every pixel"):
        deconvolve(sunpy.map.Map(np.full((8, 8), np.nan), cutout.meta))


def test_transfer_function_dc():
    spectrum = transfer_function(np.full((4, 4), 0.5), (8, 8))
    assert spectrum[0, 0] == 1


@pytest.mark.parametrize(
    ("psf_shape", "shape"), [((5, 7), (5, 7)), ((6, 4), (6, 4)), ((5, 7), (12, 16)), ((6, 7), (9, 8))]
)
@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_transfer_function_places_the_centre_at_the_origin(psf_shape, shape, dtype):
    # literally: psf[i, j] at ((i - rows // 2) % shape[0], (j - columns // 2) % shape[1]), zeros elsewhere
    psf = np.random.default_rng(3).random(psf_shape)
    centred = np.zeros(shape)
    rows = (np.arange(psf_shape[0]) - psf_shape[0] // 2) % shape[0]
    columns = (np.arange(psf_shape[1]) - psf_shape[1] // 2) % shape[1]
    centred[np.ix_(rows, columns)] = psf
    expected = np.fft.rfft2(centred)
    spectrum = transfer_function(psf, shape, dtype=dtype)
    assert spectrum.dtype == dtype
    np.testing.assert_allclose(spectrum, expected / expected[0, 0].real, rtol=0, atol=10 * np.finfo(dtype).eps)


def _residual(smap, deconvolved):
    """RMS of (deconvolved blurred by the PSF) - data, relative to the data maximum (periodic, float64)."""
    data = np.clip(smap.data.astype(np.float64), 0, None)
    transfer = transfer_function(calculate_psf(smap.wavelength, shape=data.shape), data.shape)
    blurred = np.fft.irfft2(np.fft.rfft2(deconvolved) * transfer, data.shape)
    return np.sqrt(np.mean((blurred - data) ** 2)) / data.max()


def test_biggs_andrews_converges_faster(cutout):
    options = {"boundary": "periodic", "precision": "float64"}
    plain = {n: deconvolve(cutout, iterations=n, **options) for n in (1, 25)}
    fast = {n: deconvolve(cutout, iterations=n, acceleration="biggs-andrews", **options) for n in (1, 15, 25)}
    # the first iteration has nothing to extrapolate from: it is the plain one
    np.testing.assert_array_equal(fast[1].data, plain[1].data)
    # measured: plain 25 iterations 2.00e-4; accelerated 15: 1.92e-4, 25: 1.90e-4 (plain 50: 1.92e-4)
    assert _residual(cutout, fast[15].data) < _residual(cutout, plain[25].data)
    assert _residual(cutout, fast[25].data) < 0.96 * _residual(cutout, plain[25].data)
    data = np.clip(cutout.data.astype(np.float64), 0, None)
    for result in fast.values():
        # every iterate is a Richardson-Lucy update: non-negative, and the flux is kept (periodic boundary)
        assert result.data.min() >= 0
        assert result.data.sum() == pytest.approx(data.sum(), rel=1e-12)
    assert "Richardson-Lucy (biggs-andrews), 25 iterations" in fast[25].meta["history"]
    with pytest.raises(ValueError, match="acceleration"):
        deconvolve(cutout, iterations=2, acceleration="nesterov")


@pytest.mark.gpu
@pytest.mark.parametrize(("precision", "acceleration"), [("float32", None), ("float64", "biggs-andrews")])
def test_cupy_backend_matches_scipy(cutout, cuda, precision, acceleration):
    """The CuPy (cuFFT) path: runs where CuPy and a CUDA device are, skipped elsewhere."""
    options = {"iterations": 10, "precision": precision, "acceleration": acceleration}
    cpu = deconvolve(cutout, backend="scipy", **options)
    gpu = deconvolve(cutout, backend="cupy", **options)
    assert isinstance(gpu.data, np.ndarray) and gpu.data.dtype == cpu.data.dtype
    assert "backend=cupy" in gpu.meta["history"]
    # cuFFT and pocketfft round differently: float64 to rounding, float32 to its documented bound
    tolerance = 1e-9 if precision == "float64" else 1e-5
    assert np.abs(gpu.data - cpu.data).max() <= tolerance * np.abs(cpu.data).max()


def test_a_backend_registered_later_is_taken(cutout, monkeypatch):
    """The backend choice is read from the registry when the options are checked, not frozen at import: a
    backend registered afterwards works in deconvolve, DeconvolveOptions and the pipeline's command line."""
    from aiapy.cli import build_parser, prep_options
    from aiapy.pipeline import PrepConfig
    from aiapy.psf import register_backend

    monkeypatch.setitem(BACKENDS, "cpu-again", BACKENDS["scipy"])  # undone after the test
    register_backend("cpu-again", device="cpu", description="scipy.fft under another name")(ScipyBackend)
    assert DeconvolveOptions(backend="cpu-again").backend == "cpu-again"
    result = deconvolve(cutout, iterations=2, backend="cpu-again")
    np.testing.assert_array_equal(result.data, deconvolve(cutout, iterations=2, backend="scipy").data)
    args = build_parser().parse_args(["prep", "x.fits", "-o", "o", "--deconvolve-backend", "cpu-again"])
    assert PrepConfig(steps="deconvolve", **prep_options(args)).deconvolve.backend == "cpu-again"
    with pytest.raises(ValueError, match="registered backends: 'scipy'"):
        PrepConfig(backend="jax")
