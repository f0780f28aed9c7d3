"""The bundled real images and the full-frame map built from them."""

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.io import fits
from sunpy.map.sources import AIAMap

from aiapy.data import sample


def test_named_files_exist():
    assert sample.AIA_171_CUTOUT.name == "aia_171_level1_cutout_769x705_2013-03-10.fits"
    assert len(sample.FLARE_FILES) == 60
    assert sorted(sample.SYNOPTIC_FILES) == [94, 131, 171, 193, 211, 335]
    with pytest.raises(AttributeError):
        sample.NO_SUCH_IMAGE  # noqa: B018


def test_peer_names_are_level1_files_of_their_channel():
    """aiapy 0.12's names: AIA_094_IMAGE, AIA_171_IMAGE, AIA_193_IMAGE, file_dict, file_list."""
    names = ["AIA_094_IMAGE", "AIA_171_CUTOUT", "AIA_171_FULLDISK_128PX", "AIA_171_IMAGE", "AIA_193_IMAGE"]
    assert list(sample.file_dict) == names
    assert sample.file_list == list(sample.file_dict.values())
    assert set(names) <= set(sample.__all__)
    for name, channel in (("AIA_094_IMAGE", 94), ("AIA_171_IMAGE", 171), ("AIA_193_IMAGE", 193)):
        smap = sunpy.map.Map(getattr(sample, name))
        assert isinstance(smap, AIAMap), name
        assert smap.wavelength == channel * u.AA and smap.meta["lvl_num"] == 1
    assert sunpy.map.Map(sample.AIA_094_IMAGE).date.isot.startswith("2011-02-15T01:44")


def test_inspecting_the_module_writes_nothing(tmp_path, monkeypatch):
    """pytest's collection and IDEs read every attribute dir() lists: that must not build AIA_171_IMAGE."""
    monkeypatch.setenv("AIAPY_CACHE_DIR", str(tmp_path))
    for name in dir(sample):
        getattr(sample, name)
    assert not any(tmp_path.iterdir())


def test_aia_171_image_is_built_once_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AIAPY_CACHE_DIR", str(tmp_path))
    path = sample.AIA_171_IMAGE
    assert path.parent == tmp_path / "sample" and path.is_file()
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    first = path.stat().st_mtime_ns
    assert sample.AIA_171_IMAGE == path and path.stat().st_mtime_ns == first  # not written again
    with fits.open(path) as hdulist:  # laid out as a JSOC level-1 file
        assert isinstance(hdulist[1], fits.CompImageHDU)
        assert hdulist[1].compression_type == "RICE_1" and hdulist[1].data.dtype == np.int16
        assert "upsampled" in str(hdulist[1].header["HISTORY"])
    smap = sunpy.map.Map(path)
    expected = sample.full_frame_171()
    np.testing.assert_array_equal(smap.data, expected.data)
    assert smap.reference_pixel == expected.reference_pixel
    assert smap.reference_coordinate.Tx == expected.reference_coordinate.Tx
    assert sample.download_all() == sample.file_list and path.stat().st_mtime_ns == first
    sample.download_all(force_download=True)
    assert path.stat().st_mtime_ns != first
    with pytest.raises(TypeError, match="force_download"):
        sample.download_all(force_download="yes")


def test_real_maps_load_as_aia():
    cutout = sample.load_map("aia_171_cutout")
    assert isinstance(cutout, AIAMap)
    assert cutout.data.shape == (705, 769)
    flare = sample.flare_maps(94)
    assert len(flare) == 10 and all(m.wavelength == 94 * u.AA for m in flare)
    with pytest.raises(ValueError, match="channel 304"):
        sample.flare_maps(304)


def test_full_frame_header_is_consistent():
    small = sample.load_map("aia_171_fulldisk_128px")
    full = sample.full_frame_171()
    assert full.data.shape == (4096, 4096) and full.data.dtype == np.int16
    assert full.scale.axis1.to_value(u.arcsec / u.pix) == pytest.approx(small.scale.axis1.value / 32)
    # Sun centre is the same point of the sky in both, and sits at X0_MP/Y0_MP (0-based) in the full frame.
    assert full.reference_coordinate.Tx.value == 0 and full.reference_coordinate.Ty.value == 0
    assert full.meta["crpix1"] == pytest.approx(full.meta["x0_mp"] + 1)
    centre_small = small.wcs.world_to_pixel(full.reference_coordinate)
    centre_full = full.wcs.world_to_pixel(full.reference_coordinate)
    np.testing.assert_allclose((np.array(centre_small) + 0.5) * 32 - 0.5, centre_full, atol=1e-6)
    assert full.meta["r_sun"] == pytest.approx(full.meta["rsun_obs"] / full.meta["cdelt1"])
    # The bright structure is preserved: block means of the upsampled image follow the original.
    blocks = full.data.astype(float).reshape(128, 32, 128, 32).mean(axis=(1, 3))
    # (bilinear interpolation smooths the sharp limb, so block means are close but not identical)
    assert np.corrcoef(blocks.ravel(), small.data.ravel())[0, 1] > 0.98


def test_full_frame_returns_independent_maps():
    first = sample.full_frame_171(dtype=np.float32)
    first.data[0, 0] = 1e9
    assert sample.full_frame_171(dtype=np.float32).data[0, 0] != 1e9
