"""Issue 22, faults 16 and 20 (truncated files, the AIA image among several HDUs) and the JSOC date forms."""

import re
import warnings

import numpy as np
import pytest
import sunpy.map
from astropy.io import fits

from aiapy.data import get_file
from aiapy.utils import PixelFlag, pixel_flags
from aiapy.utils.io import read_map
from aiapy.utils.times import parse_time_text

FLARE = "flare_2011-02-15T01-44-12_171"


@pytest.mark.parametrize(("name", "keep"), [(FLARE, 17280 + 12720), ("aia_171_cutout", 300000)])
def test_a_truncated_file_says_expected_and_actual_bytes(tmp_path, name, keep):
    source = get_file(name).read_bytes()
    path = tmp_path / "truncated.fits"
    path.write_bytes(source[:keep])
    with pytest.raises(OSError, match=rf"truncated.fits is truncated: .*declare (\d+) bytes.*has {keep} bytes") as info:
        read_map(path)
    declared = int(re.search(r"declare (\d+) bytes", str(info.value)).group(1))
    assert len(source) - 2880 < declared <= len(source)  # the data's end, before the last block's padding


def test_a_file_missing_only_its_last_padding_is_read(tmp_path):
    source = get_file(FLARE).read_bytes()
    path = tmp_path / "unpadded.fits"
    path.write_bytes(source[: 17280 + 67 * 67 * 4])  # all the data, not the zeros that fill the last block
    np.testing.assert_array_equal(read_map(path).data, read_map(get_file(FLARE)).data)


def test_the_aia_image_behind_a_thumbnail_is_read(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fits.verify.VerifyWarning)  # BLANK on float data, which read_map drops
        data, header = fits.getdata(get_file(FLARE), header=True)
    del header["BLANK"]
    thumbnail = fits.PrimaryHDU(data[::8, ::8].copy())  # a bare header: no AIA keywords, no WCS
    path = tmp_path / "thumbnail.fits"
    fits.HDUList([thumbnail, fits.ImageHDU(data, header)]).writeto(path)
    smap = read_map(path)
    assert smap.data.shape == (67, 67)
    np.testing.assert_array_equal(smap.data, read_map(get_file(FLARE)).data)
    assert smap.meta["wavelnth"] == 171


def test_several_images_without_aia_keywords_are_listed(tmp_path):
    path = tmp_path / "two.fits"
    fits.HDUList([fits.PrimaryHDU(np.zeros((4, 4))), fits.ImageHDU(np.ones((8, 8)), name="SCI")]).writeto(path)
    message = r"several images and none with the AIA keywords.*HDU 0 PRIMARY .*4x4.*HDU 1 SCI"
    with pytest.raises(ValueError, match=message):
        read_map(path)


@pytest.mark.parametrize(
    ("text", "iso", "scale"),
    [
        ("2011.02.15_01:44:45_TAI", "2011-02-15T01:44:45.000", "tai"),
        ("2011.02.15_01:44_TAI", "2011-02-15T01:44:00.000", "tai"),
        ("2011.02.15_TAI", "2011-02-15T00:00:00.000", "tai"),
        ("2011.02.15_01:44:45Z", "2011-02-15T01:44:45.000", "utc"),
        ("2011-02-15T01:44:45.34Z", "2011-02-15T01:44:45.340", "utc"),
        ("2011-02-15T01:44:45.34", "2011-02-15T01:44:45.340", "utc"),
    ],
)
def test_parse_time_text(text, iso, scale):
    time = parse_time_text(text)
    assert (time.isot, time.scale) == (iso, scale)


def test_parse_time_text_refuses_nonsense():
    with pytest.raises(ValueError):
        parse_time_text("yesterday-ish")


def _flare_with_checksum(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fits.verify.VerifyWarning)  # BLANK on float data, which read_map drops
        data, header = fits.getdata(get_file(FLARE), header=True)
    del header["BLANK"]
    fits.PrimaryHDU(data, header).writeto(path, checksum=True)
    return path


def test_a_file_that_fails_its_checksum_is_refused(tmp_path):
    """The principle's "integrity information a file carries": CHECKSUM/DATASUM, when present, are verified."""
    good = _flare_with_checksum(tmp_path / "good.fits")
    np.testing.assert_array_equal(read_map(good).data, read_map(get_file(FLARE)).data)
    damaged = bytearray(good.read_bytes())
    damaged[-5000] ^= 0x40  # one bit of one pixel
    bad = tmp_path / "bad.fits"
    bad.write_bytes(damaged)
    with pytest.raises(OSError, match=r"bad.fits is corrupt: HDU PRIMARY fails its DATASUM check"):
        read_map(bad)


def test_pixel_flags_of_integer_fill():
    smap = read_map(get_file(FLARE))
    data = np.clip(smap.data, 0, 3000).astype(np.int16)
    data[10:12, 20:25] = -32768
    meta = {key: value for key, value in smap.meta.items() if key != "blank"}
    flags = pixel_flags(sunpy.map.Map(data, meta))
    assert np.array_equal(flags == PixelFlag.MISSING, data == -32768)
    data32 = data.astype(np.int32)
    data32[0, 0] = -999
    flags = pixel_flags(sunpy.map.Map(data32, dict(meta, blank=-999)))
    assert flags[0, 0] == PixelFlag.MISSING and flags.sum() == 1


def test_a_compressed_image_that_fails_its_datasum_is_refused(tmp_path):
    data = np.clip(read_map(get_file(FLARE)).data, 0, 3000).astype(np.int16)
    header = fits.Header({key.upper(): value for key, value in read_map(get_file(FLARE)).meta.items()
                          if key not in ("history", "comment", "keycomments", "blank")})  # fmt: skip
    good = tmp_path / "good.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, header)]).writeto(good, checksum=True)
    np.testing.assert_array_equal(read_map(good).data, data)
    damaged = bytearray(good.read_bytes())
    damaged[-3000] ^= 0x40
    bad = tmp_path / "bad.fits"
    bad.write_bytes(damaged)
    with pytest.raises(OSError, match=r"bad.fits is corrupt: HDU COMPRESSED_IMAGE fails its DATASUM check"):
        read_map(bad)
