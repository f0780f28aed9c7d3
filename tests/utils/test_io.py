"""read_map: the direct Rice path gives astropy's data exactly, and other layouts still go through astropy."""

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from aiapy.data import sample
from aiapy.data.sample import full_frame_171
from aiapy.utils import io
from aiapy.utils.io import read_map


def _write(path, data, header, **options):
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, header, **options)]).writeto(path)
    return path


@pytest.fixture(scope="module")
def frame():
    smap = full_frame_171()
    header = fits.Header(
        {k.upper(): v for k, v in smap.meta.items() if k not in ("history", "comment", "keycomments")}
    )
    data = smap.data[:512, :384].copy()
    data[100:104, 200:230] = -32768  # BLANK pixels, as dropped packets in level-1 files
    header["BLANK"] = -32768
    return data, header


@pytest.mark.parametrize("dtype", [np.int16, np.int32])
def test_rice_rows_match_astropy(tmp_path, frame, monkeypatch, dtype):
    data, header = frame
    path = _write(tmp_path / "rice.fits", data.astype(dtype), header, compression_type="RICE_1")
    with fits.open(path) as hdulist:
        assert io._rice_rows(hdulist[1]) is not None  # the direct path is taken
        expected = hdulist[1].data
    fast = read_map(path)
    np.testing.assert_array_equal(fast.data, expected)
    assert fast.data.dtype == expected.dtype == (np.float32 if dtype is np.int16 else np.float64)  # BLANK: NaN
    assert np.array_equal(np.isnan(fast.data), data == -32768)
    monkeypatch.setattr(io, "_rice_rows", lambda hdu: None)  # astropy's path: the same map
    slow = read_map(path)
    np.testing.assert_array_equal(slow.data, fast.data)
    assert dict(slow.meta) == dict(fast.meta)


def test_real_level1_file(monkeypatch):
    path = Path(sample.__file__).parent / "images" / "aia_171_level1_cutout_769x705_2013-03-10.fits"
    with fits.open(path) as hdulist:
        assert io._rice_rows(hdulist[1]) is not None  # int16, one row per tile, BLANK: the direct path
    fast = read_map(path)
    monkeypatch.setattr(io, "_rice_rows", lambda hdu: None)
    np.testing.assert_array_equal(fast.data, read_map(path).data)


@pytest.mark.parametrize(
    "options",
    [
        {"compression_type": "RICE_1", "tile_shape": (16, 32)},  # two-dimensional tiles
        {"compression_type": "GZIP_1"},
        {"compression_type": "RICE_1", "quantize_level": 16.0},  # quantised floats
    ],
)
def test_other_layouts_use_astropy(tmp_path, frame, options):
    data, header = frame
    values = data.astype(np.float32) if "quantize_level" in options else data
    header = header.copy()
    if "quantize_level" in options:
        del header["BLANK"]
    path = _write(tmp_path / "other.fits", values, header, **options)
    with fits.open(path) as hdulist:
        assert io._rice_rows(hdulist[1]) is None
        expected = hdulist[1].data
    np.testing.assert_array_equal(read_map(path).data, expected)
