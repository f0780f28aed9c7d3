"""Shared by the data-cube tests: the reference FITS outputs and cube of the 60 real flare cutouts."""

import contextlib
import os

import numpy as np
import pytest
from astropy.io import fits

from aiapy.data import sample

#: The flare cutouts (6 channels x 10 times), in time order of their names.
FLARE = sorted(sample.FLARE_FILES)
#: The first five and the last five observation times (minute names: 01-44 ... 01-52, 01-54 ... 02-02).
TIMES = sorted({path.name.split("T")[1][:5] for path in FLARE})
FIRST, LAST = TIMES[:5], TIMES[5:]


def of_times(times, channels=(94, 131, 171, 193, 211, 335)):
    """The cutouts of these minutes (``"01-44"``...) and channels."""
    return [p for p in FLARE if p.name.split("T")[1][:5] in times and int(p.stem.rsplit("_", 1)[1]) in channels]


@contextlib.contextmanager
def offline(tmp):
    """The offline settings of the suite's autouse fixture, for module-scoped fixtures (built before it)."""
    with pytest.MonkeyPatch.context() as patch:
        dead = "http://127.0.0.1:9/"
        patch.setenv("AIAPY_CONFIG", str(tmp / "no-such-aiapy.cfg"))
        for name in ("AIAPY_JSOC_URL", "AIAPY_SSW_MIRRORS"):
            patch.setenv(name, dead)
        patch.setenv("AIAPY_POINTING_URL", dead + "aia_pointing_table.csv")
        patch.setenv("AIAPY_CACHE_DIR", str(tmp / "aiapy-cache"))
        yield


def frame_files(store):
    """Every data chunk/shard object of an ``aiapy``-layout store with its (size, mtime_ns, bytes)."""
    found = {}
    for folder, _, names in os.walk(store):
        if "/data/c" in folder.replace(os.sep, "/") + "/":
            for name in names:
                path = os.path.join(folder, name)
                stat = os.stat(path)
                with open(path, "rb") as file:
                    found[path] = (stat.st_size, stat.st_mtime_ns, file.read())
    return found


def assert_frames_equal_fits(cube, fits_folder, paths):
    """Each input's frame in ``cube`` equals its FITS output on the cube's grid: data, WCS, T_OBS, EXPTIME,
    QUALITY; NaN where the frame has no data."""
    from aiapy.pipeline import output_path

    for path in paths:
        with fits.open(output_path(path, fits_folder)) as hdulist:
            expected, header = hdulist[0].data.astype(np.float32), hdulist[0].header
        channel = header["WAVELNTH"]
        smap = cube.frame_map(channel, header["T_OBS"])
        column = int(round(smap.meta["crpix1"] - header["CRPIX1"]))
        row = int(round(smap.meta["crpix2"] - header["CRPIX2"]))
        window = smap.data[row : row + expected.shape[0], column : column + expected.shape[1]]
        np.testing.assert_array_equal(window, expected, err_msg=path.name)
        outside = np.ones(smap.data.shape, bool)
        outside[row : row + expected.shape[0], column : column + expected.shape[1]] = False
        assert np.isnan(smap.data[outside]).all(), path.name
        for key in ("T_OBS", "EXPTIME", "QUALITY", "CDELT1", "CDELT2", "DSUN_OBS", "RSUN_OBS", "BUNIT", "LVL_NUM"):
            assert smap.meta[key.lower()] == header[key], (path.name, key)
        # the whole header, HISTORY included, but for the grid (NAXIS, CRPIX) and the file's own cards
        stored = cube.frame_header(channel, header["T_OBS"])[0]
        assert _cards(stored) == _cards(header), path.name
        # the same sky at the same data pixel
        fits_map = cube_map_of(expected, header)
        corner = fits_map.wcs.pixel_to_world(0, 0)
        mine = smap.wcs.pixel_to_world(column, row)
        assert abs((mine.Tx - corner.Tx).to_value("arcsec")) < 1e-6
        assert abs((mine.Ty - corner.Ty).to_value("arcsec")) < 1e-6
        assert mine.observer.radius == corner.observer.radius


_FILE_CARDS = {"SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND", "CHECKSUM", "DATASUM", "CRPIX1", "CRPIX2"}


def _cards(header):
    return [(key, value) for key, value in header.items() if key not in _FILE_CARDS]


def cube_map_of(data, header):
    import sunpy.map

    return sunpy.map.Map(data, header)
