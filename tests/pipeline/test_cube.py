"""The Zarr data cube on the 60 real flare cutouts: frames equal the FITS outputs, appending, resume."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from aiapy.pipeline import build_cube, open_cube, prep_files
from pipeline.cube_helpers import (
    FIRST,
    FLARE,
    LAST,
    TIMES,
    assert_frames_equal_fits,
    frame_files,
    of_times,
    offline,
)

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The FITS outputs of the 60 cutouts and their cube, made with the same (default) settings."""
    folder = tmp_path_factory.mktemp("flare")
    with offline(folder):
        report = prep_files(FLARE, folder / "fits")
        cube_report = build_cube(FLARE, folder / "cube.zarr")
    assert report.ok and cube_report.ok
    return folder, cube_report


def test_frames_equal_the_fits_outputs(reference):
    folder, report = reference
    assert report.counts == {"done": 60, "skipped": 0, "failed": 0, "cancelled": 0}
    cube = open_cube(folder / "cube.zarr")
    assert cube.channels == [94, 131, 171, 193, 211, 335]
    assert_frames_equal_fits(cube, folder / "fits", FLARE)
    binning, row, column, rows, columns = cube.grid
    assert binning == 1 and (rows, columns) == (67, 71)  # the cutouts' windows (66-67 px) follow the region
    assert cube.provenance["config_id"] == report.settings["config_id"]
    assert cube.provenance["steps"] == ["register", "degradation", "exposure"]


def test_xarray_reads_the_cube_without_aiapy(reference):
    folder, _ = reference
    script = (
        "import sys, xarray\n"
        f"ds = xarray.open_zarr({str(folder / 'cube.zarr')!r}, group='171A')\n"
        "assert 'aiapy' not in sys.modules, 'aiapy was imported'\n"
        "print(ds.data.shape, ds.data.dtype, ds.data.dims, str(ds.time.values[0])[:23], ds.exptime.values[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    expected = ["(10,", "67,", "71)", "float32", "('time',", "'y',", "'x')", "2011-02-15T01:44:13.347", "1.0"]
    assert out.stdout.split() == expected


def test_xarray_and_ndcube_views(reference):
    folder, _ = reference
    cube = open_cube(folder / "cube.zarr")
    dataset = cube.xarray(193)
    times = cube.times(193)
    np.testing.assert_array_equal(dataset.time.values, times.datetime64.astype("datetime64[ns]"))
    assert list(dataset.quality.values) == [0] * 10
    frame = cube.frame_map(193, times[4])
    np.testing.assert_array_equal(dataset.data[4].values, frame.data)
    nd = cube.ndcube(193)
    assert nd.data.shape == (10, 67, 71)
    np.testing.assert_array_equal(np.asarray(nd.data[4]), frame.data)
    world = nd.wcs.pixel_to_world(5, 7, 4)  # x, y, time index
    sky = frame.wcs.pixel_to_world(5, 7)
    assert abs((world[0].Tx - sky.Tx).to_value("arcsec")) < 1e-6
    assert abs((world[0].Ty - sky.Ty).to_value("arcsec")) < 1e-6
    assert abs((world[1] - times[4]).to_value("s")) < 1e-3


def test_append_five_then_five_times(reference, tmp_path):
    folder, _ = reference
    store = tmp_path / "cube.zarr"
    channels = (94, 171, 335)  # half the channels keep the test short; each has its own cube
    first = build_cube(of_times(FIRST, channels), store)
    assert first.counts["done"] == 15
    before = frame_files(store)
    second = build_cube(of_times(TIMES, channels), store)  # the same command with the later inputs added
    assert second.counts == {"done": 15, "skipped": 15, "failed": 0, "cancelled": 0}
    skipped = {r.input for r in second.results if r.status == "skipped"}
    assert skipped == {str(p) for p in of_times(FIRST, channels)}
    after = frame_files(store)
    assert before and all(after[path] == before[path] for path in before)  # stored frames not rewritten
    cube = open_cube(store)
    assert cube.channels == list(channels) and [len(cube.times(c)) for c in channels] == [10] * 3
    assert_frames_equal_fits(cube, folder / "fits", of_times(TIMES, channels))


def test_append_refuses_an_earlier_frame(tmp_path):
    store = tmp_path / "cube.zarr"
    build_cube(of_times(LAST[:1]), store)
    with pytest.raises(ValueError, match="earlier than the last frame"):
        build_cube(of_times(FIRST[:1]), store)


def test_refuses_a_store_of_other_settings_or_not_a_cube(tmp_path):
    store = tmp_path / "cube.zarr"
    build_cube(FLARE[:1], store)
    with pytest.raises(ValueError, match="other layout settings"):
        build_cube(FLARE[:1], store, fixed_radius=976)
    other = tmp_path / "other.zarr"
    zarr.open_group(other, mode="w").create_array("x", shape=(2,), dtype="f4")
    with pytest.raises(FileExistsError, match="not an aiapy cube"):
        build_cube(FLARE[:1], other)


def _records(store):
    return sorted((Path(store) / "_aiapy" / "frames").glob("*/*/*.json"))


def test_kill_9_mid_run_then_resume(reference, tmp_path):
    """A run killed with SIGKILL while writing leaves a store the next run completes: the frames with a record
    are skipped, the others (possibly half written) are redone, and every frame equals the FITS output."""
    folder, _ = reference
    store = tmp_path / "cube.zarr"
    inputs = of_times(TIMES, (131, 193, 211))
    script = f"from aiapy.pipeline import build_cube; build_cube({[str(p) for p in inputs]!r}, {str(store)!r})"
    env = os.environ | {"PYTHONPATH": str(SRC)}
    process = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 120
        while len(_records(store)) < 8 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the run finished before it was killed"
    stored = len(_records(store))
    assert 8 <= stored < len(inputs)
    report = build_cube(inputs, store)
    assert report.counts == {"done": len(inputs) - stored, "skipped": stored, "failed": 0, "cancelled": 0}
    assert_frames_equal_fits(open_cube(store), folder / "fits", inputs)


def test_a_frame_without_its_record_is_redone(reference, tmp_path):
    """The resume rule: a frame counts as stored only with its record (written after the data); a corrupt
    chunk without one is rewritten."""
    folder, _ = reference
    store = tmp_path / "cube.zarr"
    build_cube(of_times(FIRST[:1]), store)
    record = _records(store)[2]
    channel, index = record.parent.name, int(record.stem)
    record.unlink()  # as a run killed before writing the record
    chunk = store / channel / "data" / "c" / str(index) / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[:100])  # a write cut short
    report = build_cube(of_times(FIRST[:1]), store)
    assert report.counts["done"] == 1 and report.counts["skipped"] == 5
    assert_frames_equal_fits(open_cube(store), folder / "fits", of_times(FIRST[:1]))


def test_pixel_flags_are_stored_beside_the_data(tmp_path):
    """A product's PixelFlag mask becomes the channel's ``mask`` array (uint8, on the grid, 0 elsewhere) and the
    frame map's mask."""
    from types import SimpleNamespace

    from aiapy.calibrate import register
    from aiapy.pipeline import PrepConfig, ZarrCube
    from aiapy.pipeline._product import Product
    from aiapy.utils import PixelFlag
    from aiapy.utils.io import read_map

    path = of_times(FIRST[:1], (171,))[0]
    item = SimpleNamespace(name=str(path), path=path, identity={"AIAPYINP": "a"}, facts={})
    config = PrepConfig(steps="register")
    smap = register(read_map(path), dtype="float32")
    flags = np.zeros(smap.data.shape, np.uint8)
    flags[10:12, 20:23] = PixelFlag.SATURATED
    flags[11, 20:30] |= np.uint8(PixelFlag.BLOOM)
    sink = ZarrCube(tmp_path / "flags.zarr")
    sink.open([item], config)
    sink.write(item, Product(smap, mask=flags), config)
    sink.close([])
    assert sink.is_complete(item, config)
    cube = open_cube(tmp_path / "flags.zarr")
    frame = cube.frame_map(171, smap.meta["t_obs"])
    stored = np.asarray(frame.mask)
    assert stored.dtype == np.uint8 and stored.shape == frame.data.shape
    assert (stored != 0).sum() == (flags != 0).sum()  # the flags, on the grid; nothing elsewhere
    assert set(np.unique(stored)) == {0, PixelFlag.SATURATED, PixelFlag.BLOOM, PixelFlag.SATURATED | PixelFlag.BLOOM}
    assert cube.xarray(171).mask.dtype == np.uint8


def test_refuses_two_inputs_of_one_frame(tmp_path):
    import shutil

    path = of_times(FIRST[:1], (171,))[0]
    copy = tmp_path / "copy.fits"
    shutil.copy(path, copy)
    with pytest.raises(ValueError, match="two inputs of /171A have T_OBS"):
        build_cube([path, copy], tmp_path / "a.zarr")
    build_cube(path, tmp_path / "b.zarr")
    with pytest.raises(ValueError, match="two inputs of /171A have T_OBS"):  # one already in the cube
        build_cube([path, copy], tmp_path / "b.zarr")


def test_cadence_and_quality_select_the_frames(tmp_path):
    """cadence: per channel, the first frame of each interval; quality='good': QUALITY 0 only."""
    import shutil
    import warnings

    from astropy.io import fits

    inputs = of_times(TIMES, (171, 211))
    report = build_cube(inputs, tmp_path / "a.zarr", cadence="4min")
    cube = open_cube(tmp_path / "a.zarr")
    assert report.counts["done"] == 10 and len(report.results) == 10
    assert [t.isot[11:16] for t in cube.times(171)] == ["01:44", "01:48", "01:52", "01:56", "02:00"]
    assert len(cube.times(211)) == 5
    bad = tmp_path / "bad.fits"
    shutil.copy(inputs[0], bad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fits.verify.VerifyWarning)  # the cutouts' BLANK on float data
        with fits.open(bad) as hdulist:
            header, data = hdulist[0].header.copy(), hdulist[0].data.copy()
    header.remove("BLANK", ignore_missing=True)  # float data
    header["QUALITY"], header["T_OBS"] = 1024, "2011-02-15T02:30:00.000"
    fits.PrimaryHDU(data, header).writeto(bad, overwrite=True)
    report = build_cube([*inputs[:2], bad], tmp_path / "b.zarr", quality="good")
    assert report.counts["done"] == 2 and str(bad) not in {r.input for r in report.results}
    with pytest.raises(ValueError, match="quality must be"):
        build_cube(inputs, tmp_path / "c.zarr", quality=0)


def test_a_cutout_larger_than_a_tile_is_one_shard(tmp_path):
    """The 769 x 705 cutout: a grid of several 256 x 256 tiles, stored as one shard per frame."""
    from aiapy.data import sample
    from aiapy.pipeline import read_output

    report = build_cube(sample.AIA_171_CUTOUT, tmp_path / "c.zarr")
    assert report.ok
    prep_files(sample.AIA_171_CUTOUT, tmp_path / "fits")
    expected, _ = read_output(report_output(tmp_path / "fits"))
    array = zarr.open_group(tmp_path / "c.zarr", mode="r")["171A/data"]
    assert array.shape == (1, *expected.data.shape) and array.chunks == (1, 256, 256)
    assert array.shards == (1, 768, 768)
    assert len(list((tmp_path / "c.zarr" / "171A" / "data" / "c").rglob("*"))) == 3  # c/0/0/0: one object
    np.testing.assert_array_equal(array[0], expected.data)


def report_output(folder):
    [path] = Path(folder).glob("*.fits")
    return path
