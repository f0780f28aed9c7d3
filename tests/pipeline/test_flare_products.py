"""Flare frames through the batch pipeline (issue 23): the MASK extension, short exposures in the report."""

import json

import numpy as np
import pytest
from astropy.io import fits

from aiapy.calibrate import register
from aiapy.cli import main
from aiapy.data import sample
from aiapy.pipeline import prep_files, read_output
from aiapy.utils import PixelFlag, is_short_exposure
from aiapy.utils.io import read_map


@pytest.fixture
def all_flare_frames():
    """The 60 bundled flare cutouts, where they are (the pipeline only reads them)."""
    return sorted(sample.FLARE_FILES)


def test_mask_extension_written_and_read_back_registered(all_flare_frames, tmp_path):
    report = prep_files(all_flare_frames, tmp_path, steps="register", dtype="float64")
    assert report.ok and report.counts["done"] == 60
    with_mask = 0
    for path, result in zip(all_flare_frames, report.results, strict=True):
        expected = register(read_map(path), dtype="float64")
        level15, _ = read_output(result.output)
        with fits.open(result.output) as hdulist:
            names = [hdu.name for hdu in hdulist]
        if expected.mask is None or not (expected.mask & (PixelFlag.SATURATED | PixelFlag.BLOOM)).any():
            assert "MASK" not in names and level15.mask is None
            continue
        with_mask += 1
        assert "MASK" in names
        # the flags come back on the data's grid, equal to register's, with the counts in the headers
        np.testing.assert_array_equal(level15.data, expected.data)
        assert level15.mask.dtype == np.uint8 and np.array_equal(level15.mask, expected.mask)
        with fits.open(result.output) as hdulist:
            image = next(hdu for hdu in hdulist if hdu.data is not None and hdu.name not in ("MASK", "UNCERTAINTY"))
            mask_hdu = hdulist["MASK"]
            for header in (image.header, mask_hdu.header):
                assert header["NSATFLAG"] == np.count_nonzero(expected.mask & PixelFlag.SATURATED)
                assert header["NBLMFLAG"] == np.count_nonzero(expected.mask & PixelFlag.BLOOM)
            for key in ("NAXIS1", "NAXIS2", "CRPIX1", "CRPIX2"):
                assert mask_hdu.header[key] == image.header[key]
    assert with_mask == 41  # every frame with a saturated pixel


def test_short_exposures_marked_and_skipped(all_flare_frames, tmp_path):
    short = {str(path) for path in all_flare_frames if is_short_exposure(read_map(path))}
    assert len(short) == 20
    marked = prep_files(all_flare_frames, tmp_path / "all", steps="exposure")
    assert {r.input for r in marked.results if r.short_exposure} == short
    assert all(r.status == "done" for r in marked.results)
    assert "20 short exposure(s) (AEC)" in marked.summary()
    skipping = prep_files(all_flare_frames, tmp_path / "long", steps="exposure", skip_short_exposures=True)
    skipped = [r for r in skipping.results if r.status == "skipped"]
    assert {r.input for r in skipped} == short and all(r.output is None for r in skipped)
    assert skipping.counts["done"] == 40 and skipping.ok
    assert len(list((tmp_path / "long").glob("*.fits"))) == 40
    # the option does not change the outputs' settings: a run without it keeps the 40 and adds the 20
    resumed = prep_files(all_flare_frames, tmp_path / "long", steps="exposure")
    assert resumed.counts == {"done": 20, "skipped": 40, "failed": 0, "cancelled": 0}


def test_cli_skip_short_exposures(all_flare_frames, tmp_path):
    frames = [p for p in all_flare_frames if p.name.endswith("_131.fits")]
    report_path = tmp_path / "report.json"
    status = main(["prep", *map(str, frames), "--out", str(tmp_path / "out"), "--steps", "exposure",
                   "--skip-short-exposures", "--report", str(report_path)])  # fmt: skip
    assert status == 0
    results = json.loads(report_path.read_text())["results"]
    assert sum(r["status"] == "skipped" for r in results) == 7  # 131 A: 7 of 10 frames shortened
    assert all(any(step.startswith("short exposure (AEC)") for step in r["steps"]) for r in results
               if r["status"] == "skipped")  # fmt: skip
