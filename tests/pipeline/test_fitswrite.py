"""The checksummed FITS writer of the pipeline, checked by astropy's own reader and checksum verification."""

import numpy as np
import pytest
from astropy.io import fits

from aiapy.pipeline import _fitswrite
from aiapy.pipeline._fitswrite import write_images


def _header(**cards):
    header = fits.Header()
    for key, value in cards.items():
        header[key] = value
    header.add_history("a history line")
    return header


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.dtype(">f4")])
def test_astropy_reads_and_verifies_every_hdu(tmp_path, dtype):
    rng = np.random.default_rng(7)
    images = [
        ((rng.normal(100, 30, size=(37, 53)) * (1 if np.dtype(dtype).kind == "f" else 10)).astype(dtype),
         _header(TELESCOP="SDO/AIA", WAVELNTH=171, EXPTIME=2.0))
        for _ in range(3)
    ]  # fmt: skip
    images[1][1]["EXTNAME"] = "UNCERTAINTY"
    path = tmp_path / "out.fits"
    write_images(path, images)
    assert path.stat().st_size % 2880 == 0
    with fits.open(path, checksum=True) as hdulist:  # checksum=True: astropy warns on a bad checksum
        assert len(hdulist) == 3 and hdulist[0].header["EXTEND"] is True
        for hdu, (data, header) in zip(hdulist, images, strict=True):
            assert hdu.verify_datasum() == 1 and hdu.verify_checksum() == 1
            np.testing.assert_array_equal(hdu.data, data)
            assert hdu.data.dtype.newbyteorder("=") == np.dtype(dtype).newbyteorder("=")
            for key in ("TELESCOP", "WAVELNTH", "EXPTIME"):
                assert hdu.header[key] == header[key]
            assert list(hdu.header["HISTORY"]) == ["a history line"]
        assert hdulist[1].name == "UNCERTAINTY" and isinstance(hdulist[1], fits.ImageHDU)
    # the data sum is the one astropy computes when it writes the same data itself
    fits.HDUList([fits.PrimaryHDU(images[0][0], images[0][1])]).writeto(tmp_path / "astropy.fits", checksum=True)
    with fits.open(path) as mine, fits.open(tmp_path / "astropy.fits") as theirs:
        assert mine[0].header["DATASUM"] == theirs[0].header["DATASUM"]


def test_checksum_encoding_over_many_sums(tmp_path):
    """Random data give random sums: the 16-character encoding (with its excluded punctuation) must agree
    with astropy's verification for every one of them."""
    rng = np.random.default_rng(11)
    for index in range(40):
        path = tmp_path / f"{index}.fits"
        write_images(path, [(rng.random((5, 7)).astype(np.float32), _header(INDEX=index))])
        with fits.open(path) as hdulist:
            assert hdulist[0].verify_checksum() == 1, hdulist[0].header["CHECKSUM"]
        raw = path.read_bytes()
        raw = raw[:2880] + bytes([raw[2880] ^ 1]) + raw[2881:]  # one flipped bit in the data
        path.write_bytes(raw)
        with fits.open(path) as hdulist:
            assert hdulist[0].verify_datasum() == 0 and hdulist[0].verify_checksum() == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint8, np.dtype(">f8")])
def test_data_written_in_many_blocks(tmp_path, monkeypatch, dtype):
    """Data much larger than the conversion block, with a partial last block and (int16, uint8) a partial
    last 32-bit word: the same bytes and sums as astropy's own checksummed write."""
    monkeypatch.setattr(_fitswrite, "_CHUNK", 64)
    rng = np.random.default_rng(3)
    data = (rng.normal(100, 30, size=(41, 37)) * 50).astype(dtype)  # 1517 pixels: an odd number
    header = _header(TELESCOP="SDO/AIA")
    write_images(tmp_path / "ours.fits", [(data, header), (data[::-1].copy(), header)])
    hdus = [fits.PrimaryHDU(data, header), fits.ImageHDU(data[::-1].copy(), header)]
    fits.HDUList(hdus).writeto(tmp_path / "astropy.fits", checksum=True)
    with fits.open(tmp_path / "ours.fits") as mine, fits.open(tmp_path / "astropy.fits") as theirs:
        for ours, reference in zip(mine, theirs, strict=True):
            assert ours.verify_checksum() == 1 and ours.verify_datasum() == 1
            assert ours.header["DATASUM"] == reference.header["DATASUM"]
            assert ours.data.tobytes() == reference.data.tobytes()


def test_empty_image(tmp_path):
    """An image with no pixel: the header only, with the sums of empty data."""
    write_images(tmp_path / "empty.fits", [(np.zeros((0, 5), np.float32), _header())])
    with fits.open(tmp_path / "empty.fits", checksum=True) as hdulist:
        assert hdulist[0].header["DATASUM"] == "0" and hdulist[0].verify_checksum() == 1


def test_long_string_cards_before_the_checksums(tmp_path):
    """A long string value takes several 80-character lines (CONTINUE cards): the sums must still be
    written into their own cards, not over the lines of another."""
    header = _header(LONGSTR="a value much longer than one FITS card can hold, " * 4, EXPNORM=1.0)
    data = np.arange(35, dtype=np.float32).reshape(5, 7)
    write_images(tmp_path / "long.fits", [(data, header), (data, header)])
    with fits.open(tmp_path / "long.fits", checksum=True) as hdulist:
        for hdu in hdulist:
            assert hdu.verify_checksum() == 1 and hdu.verify_datasum() == 1
            assert hdu.header["LONGSTR"] == header["LONGSTR"] and hdu.header["EXPNORM"] == 1.0
