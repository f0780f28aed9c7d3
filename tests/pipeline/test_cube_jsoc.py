"""``build_cube_jsoc`` / ``aiapy cube --jsoc``: from the (loopback) JSOC export server to a data cube."""

import numpy as np
import pytest

from aiapy.cli import EXIT_OK, main
from aiapy.pipeline import build_cube, build_cube_jsoc, open_cube

RANGE = "2011-02-15T01:44/2011-02-15T01:47"  # 2 times
CHANNELS = [171, 193]
KEYS = [(t, c) for t in ("2011-02-15T01:44:02Z", "2011-02-15T01:46:02Z") for c in CHANNELS]


def test_cube_from_the_archive_equals_the_cube_of_the_same_files(jsoc_export, tmp_path):
    report = build_cube_jsoc(RANGE, CHANNELS, tmp_path / "jsoc.zarr", email="user@example.org", progress=False)
    assert report.counts["done"] == 4, [r.error for r in report.results if r.error]
    assert report.settings["store"] == str(tmp_path / "jsoc.zarr") and report.settings["layout"] == "aiapy"
    local = tmp_path / "lev1"
    local.mkdir()
    for key, path in jsoc_export.image_paths.items():
        if key in KEYS:
            (local / f"{key[0].replace(':', '')}_{key[1]}.fits").write_bytes(jsoc_export.files[path])
    build_cube(local, tmp_path / "files.zarr")
    remote, files = open_cube(tmp_path / "jsoc.zarr"), open_cube(tmp_path / "files.zarr")
    assert remote.channels == files.channels == CHANNELS
    for channel in CHANNELS:
        times = files.times(channel)
        assert len(remote.times(channel)) == len(times) == 2
        for time in times:
            mine, theirs = remote.frame_map(channel, time), files.frame_map(channel, time)
            window = np.isfinite(theirs.data)  # the files' cube is the cutouts' window; the archive's a full frame
            assert window.any()
            sky = theirs.wcs.pixel_to_world(0, 0)
            column, row = (round(float(v)) for v in mine.wcs.world_to_pixel(sky))
            rows, columns = theirs.data.shape
            np.testing.assert_array_equal(mine.data[row : row + rows, column : column + columns], theirs.data)
    jsoc_export.requests.clear()
    assert main(["cube", "--jsoc", RANGE, "--channels", "171,193", "--email", "user@example.org", "-o",
                 str(tmp_path / "jsoc.zarr"), "--no-progress"]) == EXIT_OK  # fmt: skip
    assert not [r for r in jsoc_export.requests if "/EXPORT/" in r]  # every record in the cube: no download


def test_cube_jsoc_options_are_checked_before_the_network(tmp_path):
    with pytest.raises(ValueError, match="email"):
        build_cube_jsoc(RANGE, CHANNELS, tmp_path / "a.zarr", progress=False)
