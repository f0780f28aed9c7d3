"""Tests of aiapy.calibrate.register / prep and the resampling kernels, on the bundled real AIA images."""

import subprocess
import sys
import warnings

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.io import fits
from astropy.table import QTable
from astropy.time import Time
from scipy import ndimage

import aiapy
import aiapy.data.sample as sample
from aiapy.calibrate import _interpolate
from aiapy.calibrate.pointing import update_pointing
from aiapy.calibrate.register import level15_geometry, prep, register
from aiapy.utils.exceptions import AIApyMetadataWarning, AIApyUserWarning

METHODS = ["spline", "cubic-convolution", "linear", "nearest"]


def _keys(x, a=-0.5):
    """The cubic-convolution kernel W(x), written exactly as in ALGORITHMS.md section 1.2."""
    x = abs(x)
    if x <= 1:
        return (a + 2) * x**3 - (a + 3) * x**2 + 1
    if x < 2:
        return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
    return 0.0


def _slow_reference(image, matrix, offset, shape, method, missing):
    """Plain per-pixel loops: the oracle for the tap kernels (edge pixels replicated, as IDL POLY_2D)."""
    ny, nx = image.shape
    out = np.full(shape, missing, dtype=np.float64)
    for i in range(shape[0]):
        for j in range(shape[1]):
            py, px = matrix @ (i, j) + offset
            if not (0 <= py <= ny - 1 and 0 <= px <= nx - 1):
                continue
            if method == "nearest":
                out[i, j] = image[int(np.floor(py + 0.5)), int(np.floor(px + 0.5))]
                continue
            total = 0.0
            for m in range(int(np.floor(py)) - 2, int(np.floor(py)) + 3):
                for n in range(int(np.floor(px)) - 2, int(np.floor(px)) + 3):
                    if method == "linear":
                        w = max(0, 1 - abs(py - m)) * max(0, 1 - abs(px - n))
                    else:
                        w = _keys(py - m) * _keys(px - n)
                    total += w * image[min(max(m, 0), ny - 1), min(max(n, 0), nx - 1)]
            out[i, j] = total
    return out


def _transform(angle_deg, mag, shape_in, shape_out, shift=(0.3, -0.7)):
    c, s = np.cos(np.deg2rad(angle_deg)) / mag, np.sin(np.deg2rad(angle_deg)) / mag
    matrix = np.array([[c, -s], [s, c]])
    centre_in = (np.array(shape_in) - 1) / 2 + shift
    return matrix, centre_in - matrix @ ((np.array(shape_out) - 1) / 2)


@pytest.fixture(scope="module")
def cutout():
    return sample.load_map("aia_171_cutout")


# Small rotations exercise the slice path, 7 degrees the masked multi-shift path, 40 degrees the gather.
@pytest.mark.parametrize("angle", [0.0193, -0.5, 7.0, 40.0])
@pytest.mark.parametrize("method", ["cubic-convolution", "linear", "nearest"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tap_kernels_match_slow_reference(cutout, method, angle, dtype):
    image = cutout.data[300:340, 400:445].astype(np.float64)
    matrix, offset = _transform(angle, 0.9991, image.shape, (38, 47))
    expected = _slow_reference(image, matrix, offset, (38, 47), method, -1.0)
    result = _interpolate.affine_resample(image, matrix, offset, (38, 47), method=method, missing=-1.0, dtype=dtype)
    assert result.dtype == dtype
    assert (result == -1).any() and (result != -1).any()  # both inside and outside pixels are exercised
    # float64: rounding only. float32: 16 products with weights summing to 1, relative eps 6e-8 each.
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(result, expected, atol=rtol * image.max(), rtol=0)


@pytest.mark.parametrize("angle", [0.0193, 7.0, 40.0])
@pytest.mark.parametrize("order", [3, 2, 5])
def test_spline_matches_plain_scipy(cutout, angle, order):
    image = cutout.data[200:300, 100:190].astype(np.float64)
    matrix, offset = _transform(angle, 1.0009, image.shape, image.shape)
    expected = ndimage.affine_transform(image, matrix, offset, order=order, mode="constant", cval=7.0)
    for dtype in (np.float64, np.float32):
        result = _interpolate.affine_resample(image, matrix, offset, image.shape, order=order, missing=7.0, dtype=dtype)
        # float32 coefficients and weights: ~2e-7 of the maximum (the bound is 1e-6).
        tol = 1e-11 if dtype == np.float64 else 1e-6
        np.testing.assert_allclose(result, expected, atol=tol * image.max(), rtol=0)


# Outputs that map wholly inside the input, taller than a row block: the unmasked core path, with shift
# changes inside blocks (0.3 degrees, 0.2 % scale) and an exact identity whose offset sits 1e-13 below an
# integer (the floor of the position must be the same for the shift ranges and the taps).
@pytest.mark.parametrize(("angle", "mag", "shift"), [(0.3, 1.002, (0.3, -0.7)), (0.0, 1.0, (-1e-13, 2 - 1e-13))])
def test_interior_blocks(cutout, angle, mag, shift):
    image = cutout.data[250:420, 380:440].astype(np.float64)
    shape = (_interpolate._TASK_ROWS + 90, 40)
    matrix, offset = _transform(angle, mag, image.shape, shape, shift=shift)
    expected = _slow_reference(image, matrix, offset, shape, "cubic-convolution", -1.0)
    result = _interpolate.affine_resample(image, matrix, offset, shape, method="cubic-convolution", missing=-1.0)
    assert (expected != -1).all()  # every output pixel maps inside the input
    np.testing.assert_allclose(result, expected, atol=1e-12 * image.max(), rtol=0)  # float64 rounding
    expected = ndimage.affine_transform(image, matrix, offset, shape, order=3, mode="constant", cval=-1.0)
    result = _interpolate.affine_resample(image, matrix, offset, shape, missing=-1.0)
    np.testing.assert_allclose(result, expected, atol=1e-11 * image.max(), rtol=0)  # float64 rounding


@pytest.mark.parametrize("angle", [0.3, 7.0, 40.0])
def test_threads_and_tiles_do_not_change_the_result(cutout, monkeypatch, angle):
    """The numbers do not depend on the threads, nor on how the rows are shared among them (tasks of 24
    rows instead of 64), bit for bit."""
    image = cutout.data[:300, :300].astype(np.float64)
    shape = (2 * _interpolate._TASK_ROWS + 37, 330)  # wider than the input: its edges are crossed
    matrix, offset = _transform(angle, 1.002, image.shape, shape)
    for method in ("cubic-convolution", "spline"):
        results = []
        for workers, task_rows in ((1, _interpolate._TASK_ROWS), (3, _interpolate._TASK_ROWS), (2, 24)):
            monkeypatch.setattr(_interpolate, "_TASK_ROWS", task_rows)
            results.append(
                _interpolate.affine_resample(
                    image, matrix, offset, shape, method=method, missing=-1.0, dtype=np.float32, workers=workers
                )
            )
        assert (results[0] == -1).any() and (results[0] != -1).any()
        for other in results[1:]:
            np.testing.assert_array_equal(other, results[0])
    expected = _slow_reference(image, matrix, offset, shape, "cubic-convolution", -1.0)
    result = _interpolate.affine_resample(image, matrix, offset, shape, method="cubic-convolution", missing=-1.0)
    np.testing.assert_allclose(result, expected, atol=1e-12 * image.max(), rtol=0)  # float64 rounding


@pytest.mark.parametrize("length", [1, 2, 3, 17, 700])
def test_cubic_prefilter_matches_scipy(cutout, length):
    """The row-recursion prefilter along axis 0 equals scipy's mirror-mode filter, start terms included."""
    data = cutout.data[:length, :64].astype(np.float64)
    expected = ndimage.spline_filter1d(data, 3, axis=0, mode="mirror")
    result = data.copy()
    _interpolate._cubic_filter_axis0(result)
    # Two recursions of 700 steps with |z| = 0.27: rounding stays at a few float64 eps of the maximum.
    np.testing.assert_allclose(result, expected, atol=1e-13 * np.abs(expected).max(), rtol=0)


def test_interior_run_and_its_check():
    """A run of the engine keeps one base row and one base column minus the column (each column's own floor
    says so), and its vectorised loop counts the columns stretched past the run's end, whose base differs:
    the engine recomputes such a run pixel by pixel."""
    from aiapy.calibrate import _compiled  # noqa: PLC0415 (numba: see the last test)

    ny, nx, ncols = 40, 60, 50
    source = np.arange(ny * nx, dtype=np.float64).reshape(ny, nx)  # a plane: linear interpolation is exact
    coef = _interpolate._tap_polynomials(_interpolate.KERNELS["linear"], np.dtype(np.float64), {})
    py0, px0, m01, m11 = 10.3, 2.6, 0.004, 1.03
    end, by, iy, bx = _compiled._interior_run(py0, px0, m01, m11, 0.0, 0, 2, ny, nx, ncols, 0)
    columns = np.arange(ncols)
    py, px = py0 + m01 * columns, px0 + m11 * columns
    same = (np.floor(py) == np.floor(py0)) & (np.floor(px) - columns == np.floor(px0))
    assert end == 14 == np.argmin(same)  # the base column moves from 2 to 3 columns ahead at column 14
    row = np.zeros(ncols)
    taps = (source, py0, px0, m01, m11, 0.0, by, iy, bx, 0, coef, False, 0.0, 0.0, row)
    assert _compiled._interior_taps(*taps, 0, end) == 0
    np.testing.assert_allclose(row[:end], (py * nx + px)[:end], rtol=1e-14)
    assert _compiled._interior_taps(*taps, 0, end + 5) == 5


@pytest.mark.parametrize("length", [1, 2, 3, 17, 700])
def test_cubic_row_prefilter_matches_scipy(cutout, length):
    """The prefilter along axis 1 carries rows in interleaved groups: a row range that is no whole number of
    groups equals scipy's mirror-mode filter, start terms included, and the rows outside it are untouched."""
    from aiapy.calibrate._compiled import _filter_rows  # noqa: PLC0415 (numba: see the last test)

    data = cutout.data[:20, :length]
    expected = ndimage.spline_filter1d(data.astype(np.float64), 3, axis=1, mode="mirror")
    result = np.full(data.shape, -1.0)
    _filter_rows(data, _interpolate._causal_start(length), result, 3, 14)
    np.testing.assert_allclose(result[3:14], expected[3:14], atol=1e-13 * np.abs(expected).max(), rtol=0)
    assert (result[:3] == -1).all() and (result[14:] == -1).all()


def test_geometry_is_idl_rot_of_aia_prep():
    """Full frame: the map is IDL ROT(img, -CROTA2, CDELT/0.6, CRPIX1-1, CRPIX2-1) onto the centre 2047.5."""
    smap = sample.full_frame_171()
    matrix, offset, shape, crpix, scale = level15_geometry(smap)
    assert shape == (4096, 4096) and scale == 0.6
    np.testing.assert_array_equal(crpix, [2048.5, 2048.5])
    theta = np.deg2rad(smap.meta["crota2"])  # IDL: theta = -angle, angle = -CROTA2
    mag = smap.meta["cdelt1"] / 0.6
    c, s = np.cos(theta) / mag, np.sin(theta) / mag
    x0, y0, xc = smap.meta["crpix1"] - 1, smap.meta["crpix2"] - 1, (4096 - 1) / 2
    for x, y in [(0, 0), (4095, 17), (2047.5, 2047.5), (100, 3000)]:
        idl = (x0 + c * (x - xc) + s * (y - xc), y0 - s * (x - xc) + c * (y - xc))
        py, px = matrix @ (y, x) + offset
        # 1e-9 pixel: rounding of the 2x2 inversion (CDELT x = CDELT y here, so the maps are identical).
        np.testing.assert_allclose((px, py), idl, atol=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_real_cutout_header_and_wcs(cutout, method):
    out = register(cutout, method=method)
    assert out.data.dtype == np.float32  # float32 in, float32 out
    assert out.meta["lvl_num"] == 1.5
    assert out.scale.axis1 == out.scale.axis2 == 0.6 * u.arcsec / u.pix
    np.testing.assert_array_equal(out.rotation_matrix, np.eye(2))
    assert out.meta["crota2"] == 0 and "pc1_1" not in out.meta and "blank" not in out.meta
    assert out.meta["r_sun"] == pytest.approx(cutout.meta["rsun_obs"] / 0.6)
    assert f"aiapy {aiapy.__version__}: register" in out.meta["history"] and f"method={method!r}" in out.meta["history"]
    # Every output pixel centre sits where the input WCS puts the same sky position.
    q = np.array([[0, 0], [out.data.shape[1] - 1, out.data.shape[0] - 1], [200, 300]], dtype=float)
    p = np.array(cutout.wcs.world_to_pixel(out.wcs.pixel_to_world(q[:, 0], q[:, 1]))).T
    matrix, offset, *_ = level15_geometry(cutout)
    np.testing.assert_allclose(p[:, ::-1], q[:, ::-1] @ matrix.T + offset, atol=1e-8)  # WCS round-trip rounding
    # The level-1.5 grid is the full frame's: CRPIX differs from 2048.5 by whole pixels.
    np.testing.assert_allclose(np.array([out.meta["crpix1"], out.meta["crpix2"]]) % 1, 0.5, atol=1e-12)
    # Interior values are resampled data: within the input's range for linear, close to it otherwise.
    interior = out.data[5:-5, 5:-5]
    assert interior.min() >= cutout.data.min() - 0.1 * np.ptp(cutout.data)
    assert interior.mean() == pytest.approx(cutout.data[5:-5, 5:-5].mean(), rel=0.01)


@pytest.mark.parametrize("method", METHODS)
def test_cutout_commutes_with_cropping(cutout, method):
    """A crop of the registered cutout equals the registered crop, away from the crop's edges."""
    big = register(cutout, method=method)
    small_in = cutout.submap([150, 200] * u.pix, top_right=[450, 420] * u.pix)
    small = register(small_in, method=method)
    dx = int(round(big.meta["crpix1"] - small.meta["crpix1"]))
    dy = int(round(big.meta["crpix2"] - small.meta["crpix2"]))
    # Edges: 3 pixels for the 4-tap kernels; 20 for the spline, whose global prefilter feels the crop edge
    # with weight 0.268^k (below 1e-11 at k = 20).
    m = 20 if method == "spline" else 3
    ny, nx = small.data.shape
    a = small.data[m : ny - m, m : nx - m]
    b = big.data[dy + m : dy + ny - m, dx + m : dx + nx - m]
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6 * big.data.max())  # float32 rounding


@pytest.mark.parametrize("channel", [94, 131, 171, 193, 211, 335])
def test_flare_cutouts(channel):
    maps = sample.flare_maps(channel)
    registered = [register(m, method="cubic-convolution") for m in maps]
    for m, r in zip(maps, registered, strict=True):
        assert r.meta["lvl_num"] == 1.5 and r.scale.axis1 == 0.6 * u.arcsec / u.pix
        assert abs(r.data.shape[0] - 67) <= 1 and np.isfinite(r.data).all()
        # The grid is the full frame's: pixel centres at 0.6" x (k + 1/2) from Sun centre (CRPIX = n + 0.5).
        assert r.meta["crpix1"] % 1 == pytest.approx(0.5, abs=1e-9)
        assert r.meta["crpix2"] % 1 == pytest.approx(0.5, abs=1e-9)
    # JSOC tracked these cutouts by whole level-1 pixels; after registration, frames of one channel share
    # one grid, so their sky footprints differ by whole 0.6" pixels.
    xs = [r.meta["crval1"] + 0.6 * (1 - r.meta["crpix1"]) for r in registered]
    np.testing.assert_allclose(np.diff(xs) / 0.6, np.round(np.diff(xs) / 0.6), atol=1e-9)


def test_options(cutout):
    crop = cutout.submap([0, 0] * u.pix, top_right=[60, 50] * u.pix)
    as_int = sunpy.map.Map(crop.data.astype(np.int16), crop.meta)
    assert register(as_int).data.dtype == np.float64  # integers promoted
    assert register(as_int, dtype=np.float32).data.dtype == np.float32
    out = register(crop, missing=np.nan)
    assert np.isnan(out.data).any() and np.isfinite(out.data[3:-3, 3:-3]).all()
    out = register(crop, method="nearest")
    assert out.data.min() == crop.data.min()  # default missing is the image minimum
    assert np.array_equal(register(crop, method="scipy").data, register(crop, method="spline").data)
    sharper = register(crop, method="cubic-convolution", cubic=-1.0)
    assert not np.array_equal(sharper.data, register(crop, method="cubic-convolution").data)
    assert np.array_equal(register(crop, workers=1).data, register(crop, workers=2).data)


def test_input_not_mutated(cutout):
    before_meta, before_data = dict(cutout.meta), cutout.data.copy()
    register(cutout, method="linear")
    assert dict(cutout.meta) == before_meta and np.array_equal(cutout.data, before_data)


def test_bad_inputs(cutout):
    crop = cutout.submap([0, 0] * u.pix, top_right=[20, 20] * u.pix)
    generic = sunpy.map.Map(crop.data, {k: v for k, v in crop.meta.items() if k not in ("instrume", "telescop")})
    with pytest.raises(TypeError, match="AIA map"):
        register(generic)
    with pytest.raises(ValueError, match=r"method must be one of .*cubic-convolution.*aia_prep"):
        register(crop, method="bicubic")
    with pytest.raises(ValueError, match="order"):
        register(crop, order=7)
    with pytest.raises(ValueError, match="dtype"):
        register(crop, dtype=np.int32)
    with pytest.raises(ValueError, match="cubic"):
        register(crop, method="cubic-convolution", cubic=0.5)
    with pytest.raises(ValueError, match="workers"):
        register(crop, workers=0)
    with pytest.raises(TypeError, match="missing"):
        register(crop, missing="min")
    level15 = register(crop)
    with pytest.warns(AIApyUserWarning, match="level 1.5"):
        register(level15)
    meta = crop.meta.copy()
    del meta["lvl_num"]
    with pytest.warns(AIApyMetadataWarning, match="LVL_NUM"):
        register(sunpy.map.Map(crop.data, meta))


def test_prep_is_update_pointing_then_register(cutout):
    t = Time(cutout.meta["t_obs"])
    table = QTable(
        {
            "T_START": Time([t - 1 * u.hour]), "T_STOP": Time([t + 2 * u.hour]),
            "A_171_X0": [2050.0] * u.pix, "A_171_Y0": [2040.0] * u.pix,
            "A_171_IMSCALE": [0.6] * u.arcsec / u.pix, "A_171_INSTROT": [0.1] * u.deg,
        }
    )  # fmt: skip
    out = prep(cutout, pointing_table=table, method="linear")
    expected = register(update_pointing(cutout, pointing_table=table), method="linear")
    assert np.array_equal(out.data, expected.data)
    assert out.meta["x0_mp"] == 2050.0 and out.meta["lvl_num"] == 1.5
    assert "update_pointing" in out.meta["history"] and "register" in out.meta["history"]


def test_rebinned_full_disk_keeps_its_binning():
    smap = sample.load_map("aia_171_fulldisk_128px")
    out = register(smap, method="linear")
    assert out.data.shape == (128, 128)
    assert out.meta["cdelt1"] == pytest.approx(19.2) and out.meta["crpix1"] == 64.5


@pytest.mark.slow
def test_full_frame(tmp_path):
    smap = sample.full_frame_171()
    out = register(smap, method="cubic-convolution", dtype=np.float32)
    assert out.data.shape == (4096, 4096) and out.data.dtype == np.float32
    assert out.meta["crpix1"] == out.meta["crpix2"] == 2048.5
    assert out.meta["cdelt1"] == out.meta["cdelt2"] == 0.6 and out.meta["lvl_num"] == 1.5
    np.testing.assert_array_equal(out.rotation_matrix, np.eye(2))
    # Sun centre (CRVAL 0, 0) is at the frame centre; the limb sits at R_SUN pixels from it.
    np.testing.assert_allclose(out.wcs.world_to_pixel_values(0, 0), [2047.5, 2047.5], atol=1e-9)
    assert out.meta["r_sun"] == pytest.approx(smap.meta["rsun_obs"] / 0.6)
    # A cutout of the registered frame equals the registered cutout away from its edges.
    cut = smap.submap([1500, 2500] * u.pix, top_right=[1799, 2749] * u.pix)
    small = register(cut, method="cubic-convolution", dtype=np.float32)
    dx = int(round(out.meta["crpix1"] - small.meta["crpix1"]))
    dy = int(round(out.meta["crpix2"] - small.meta["crpix2"]))
    ny, nx = small.data.shape
    np.testing.assert_allclose(small.data[3:-3, 3:-3], out.data[dy + 3 : dy + ny - 3, dx + 3 : dx + nx - 3],
                               rtol=0, atol=1e-6 * out.data.max())  # fmt: skip  # float32 rounding
    path = tmp_path / "level15.fits"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no BLANK or other VerifyWarning on write or read
        out.save(path)
        header = fits.getheader(path)
    assert header["LVL_NUM"] == 1.5 and header["BITPIX"] == -32 and "BLANK" not in header
    assert "register" in str(header["HISTORY"])


def test_register_options_mirror_the_keywords():
    """The option set has one field per keyword of register (same names, same defaults), each with help,
    and its method choices are the kernel registry (a kernel added later is a choice too)."""
    import dataclasses
    import inspect

    from aiapy.calibrate import RegisterOptions

    signature = inspect.signature(register).parameters
    fields = {f.name: f for f in RegisterOptions.fields()}
    assert set(fields) == set(signature) - {"smap"}
    for name, field in fields.items():
        assert field.default == signature[name].default and field.metadata["help"]
    assert list(fields["method"].metadata["choices"]) == list(_interpolate.KERNELS)
    options = RegisterOptions(method="scipy", dtype=np.float32, missing=1)
    assert (options.method, options.dtype, options.missing) == ("spline", "float32", 1.0)
    assert RegisterOptions().clip_for_method is True  # spline clips, as sunpy's Map.rotate
    assert RegisterOptions(method="cubic-convolution").clip_for_method is False  # IDL ROT does not
    assert RegisterOptions(method="linear", clip=True).clip_for_method is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.order = 1
    with pytest.raises(ValueError, match=r"method must be one of 'nearest'.*'spline' \(B-spline"):
        RegisterOptions(method="bicubic")
    with pytest.raises(TypeError, match="clip"):
        RegisterOptions(clip="yes")
    with pytest.raises(ValueError, match="dtype"):
        RegisterOptions(dtype="float16")


def test_importing_calibrate_does_not_import_numba():
    """numba is imported on the first resampling (aiapy.calibrate._compiled), not with aiapy.calibrate."""
    code = "import sys, aiapy.calibrate, aiapy.pipeline; print('numba' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
    code = "import sys; from aiapy.data.sample import load_map; from aiapy.calibrate import register; "
    code += "register(load_map('aia_171_cutout')); print('numba' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "True\n"
