"""The SDOML layout on the six bundled 1024 x 1024 synoptic level-1.5 images, and its fixed-radius rescaling."""

import numcodecs
import numpy as np
import pytest
import sunpy.map
import xarray as xr
import zarr

from aiapy.data import sample
from aiapy.pipeline import PrepConfig, build_cube, open_cube
from aiapy.pipeline._cubegrid import downsample_map, fixed_radius
from aiapy.utils import PixelFlag
from aiapy.utils.io import read_map


@pytest.fixture(scope="module")
def sdoml_store(tmp_path_factory):
    from pipeline.cube_helpers import offline

    folder = tmp_path_factory.mktemp("sdoml")
    with offline(folder):
        inputs = sorted(sample.SYNOPTIC_FILES.values())
        report = build_cube(inputs, folder / "sdoml.zarr", layout="sdoml", resolution=512, fixed_radius=976)
    return folder / "sdoml.zarr", report


def test_sdoml_layout(sdoml_store):
    store, report = sdoml_store
    assert report.counts["done"] == 6, [r.error for r in report.results if r.error]
    # level-1.5 inputs: the level-1 steps are skipped, not refused
    assert all(r.steps == ["register skipped (input at level 1.5)", "degradation", "exposure"] for r in report.results)
    root = zarr.open_group(store, mode="r", zarr_format=2)
    assert sorted(root["2014"].array_keys()) == ["131A", "171A", "193A", "211A", "335A", "94A"]
    array = root["2014/171A"]
    assert array.shape == (1, 512, 512) and array.dtype == np.float32 and array.chunks == (15, 512, 512)
    assert array.metadata.compressor == numcodecs.Blosc(cname="zstd", clevel=5, shuffle=numcodecs.Blosc.BITSHUFFLE)
    attrs = array.attrs
    assert attrs["_ARRAY_DIMENSIONS"] == ["t", "x", "y"]
    assert attrs["T_OBS"] == ["2014-01-01T00:00:12.34Z"] and attrs["WAVELNTH"] == [171]
    assert attrs["PIXLUNIT"] == ["DN/s"] and attrs["EXPTIME"] == [1.0]
    assert attrs["CDELT1"] == [4.8] and attrs["CRPIX1"] == [256.5] and attrs["RSUN_OBS"] == [976.0]
    assert attrs["R_SUN"] == [pytest.approx(976 / 4.8)]
    assert 0.5 < attrs["DEG_COR"][0] < 1  # the degradation factor divided by
    # the pixels: (fixed radius of 976", then 2 x 2 means) of the degradation- and exposure-corrected image
    level15 = read_map(sample.SYNOPTIC_FILES[171])
    counts = np.asarray(level15.data, np.float64)
    expected = counts.reshape(512, 2, 512, 2).mean(axis=(1, 3)) / level15.meta["exptime"] / attrs["DEG_COR"][0]
    centre = (slice(200, 312), slice(200, 312))  # the magnification 976 / 975.96 moves these by < 0.01 px
    np.testing.assert_allclose(array[0][centre], expected[centre], rtol=1e-2)
    assert array[0][centre].sum() == pytest.approx(expected[centre].sum(), rel=1e-4)
    # read as SDOML v2 readers do: plain xarray on the year's group
    dataset = xr.open_zarr(store, group="2014")
    assert dataset["171A"].shape == (1, 512, 512)
    cube = open_cube(store)
    assert cube.layout == "sdoml" and cube.channels == [94, 131, 171, 193, 211, 335]
    frame = cube.frame_map(171, "2014-01-01T00:00:12.34")
    assert frame.rsun_obs.to_value("arcsec") == 976.0 and frame.data.shape == (512, 512)


def test_fixed_radius_puts_the_limb_at_the_radius():
    """A disk of 1 inside RSUN_OBS set to 900" is rescaled so that its edge lies at 976" (R_SUN pixels)."""
    level15 = read_map(sample.SYNOPTIC_FILES[171])
    meta = dict(level15.meta) | {"rsun_obs": 900.0}
    rows, columns = np.indices(level15.data.shape)
    radius = np.hypot(columns - (meta["crpix1"] - 1), rows - (meta["crpix2"] - 1))
    disk = sunpy.map.Map((radius <= 900.0 / meta["cdelt1"]).astype(np.float32), meta)
    flags = np.zeros(disk.data.shape, np.uint8)
    flags[rows == 512] = PixelFlag.SATURATED  # a row through Sun centre stays one
    scaled, moved = fixed_radius(disk, 976.0, PrepConfig(method="linear").register_options(), flags=flags)
    edge = 976.0 / meta["cdelt1"]
    assert scaled.meta["rsun_obs"] == 976.0 and scaled.meta["r_sun"] == pytest.approx(edge)
    assert scaled.meta["dsun_obs"] == pytest.approx(meta["dsun_obs"] * 900 / 976)
    inside, outside = scaled.data[radius < edge - 1.5], scaled.data[(radius > edge + 1.5) & (radius < 500)]
    assert np.all(inside == 1) and np.all(outside == 0)
    saturated = np.flatnonzero((moved[:, 512] & PixelFlag.SATURATED) != 0)
    assert list(saturated) == [512]  # the centre row stays where it was
    assert (moved[np.isnan(scaled.data)] & PixelFlag.MISSING).all()
    half = downsample_map(scaled, 512, "sum")
    assert half.data.sum() == pytest.approx(scaled.data[np.isfinite(scaled.data)].sum(), rel=1e-6)
    assert half.meta["r_sun"] == pytest.approx(edge / 2) and half.meta["cdelt1"] == 2 * meta["cdelt1"]


def test_sdoml_refuses_what_it_cannot_honour(tmp_path):
    with pytest.raises(ValueError, match="needs a resolution"):
        build_cube(sample.SYNOPTIC_FILES[171], tmp_path / "a.zarr", layout="sdoml")
    with pytest.raises(ValueError, match="does not divide"):
        build_cube(sample.SYNOPTIC_FILES[171], tmp_path / "b.zarr", layout="sdoml", resolution=500)
    with pytest.raises(ValueError, match="keep those steps"):
        build_cube(sample.SYNOPTIC_FILES[171], tmp_path / "c.zarr", layout="sdoml", resolution=512, steps="register")


def test_sdoml_chunks_of_15_frames_and_appending(tmp_path):
    """16 frames: the first chunk (15 frames) is written by the frame that completes it, the 16th alone by
    ``close``; two more frames later complete the second chunk and leave the first untouched."""
    import shutil
    import warnings

    from astropy.io import fits

    folder = tmp_path / "in"
    folder.mkdir()
    paths = []
    for index in range(18):
        path = folder / f"synoptic_{index:02d}.fits"
        shutil.copy(sample.SYNOPTIC_FILES[171], path.with_suffix(".fits.gz"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fits.verify.VerifyWarning)  # the JSOC file's BLANK on float data
            with fits.open(path.with_suffix(".fits.gz")) as hdulist:
                del hdulist[0].header["BLANK"]
                hdulist[0].header["T_OBS"] = f"2014-01-01T{index // 5:02d}:{index % 5 * 12:02d}:12.34Z"
                hdulist[0].data = hdulist[0].data * (1 + index / 100)  # tell the frames apart
                hdulist.writeto(path)
        path.with_suffix(".fits.gz").unlink()
        paths.append(path)
    store = tmp_path / "s.zarr"
    report = build_cube(paths[:16], store, layout="sdoml", resolution=512)
    assert report.counts["done"] == 16
    array = zarr.open_group(store, mode="r", zarr_format=2)["2014/171A"]
    assert array.shape == (16, 512, 512) and len(array.attrs["T_OBS"]) == 16
    first_chunk = store / "2014" / "171A" / "0.0.0"
    stamp = first_chunk.stat().st_mtime_ns
    means = np.nanmean(array[:], axis=(1, 2))
    np.testing.assert_allclose(means / means[0], 1 + np.arange(16) / 100, rtol=1e-5)
    report = build_cube(paths, store, layout="sdoml", resolution=512)
    assert report.counts == {"done": 2, "skipped": 16, "failed": 0, "cancelled": 0}
    array = zarr.open_group(store, mode="r", zarr_format=2)["2014/171A"]
    assert array.shape == (18, 512, 512) and array.attrs["T_OBS"][-1] == "2014-01-01T03:24:12.34Z"
    means = np.nanmean(array[:], axis=(1, 2))
    np.testing.assert_allclose(means / means[0], 1 + np.arange(18) / 100, rtol=1e-5)
    assert first_chunk.stat().st_mtime_ns == stamp
