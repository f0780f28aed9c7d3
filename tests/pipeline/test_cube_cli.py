"""``aiapy cube``: the command line over build_cube."""

import xarray as xr

from aiapy.cli import EXIT_OK, EXIT_USAGE, main
from pipeline.cube_helpers import FIRST, of_times


def test_aiapy_cube_command(tmp_path, capsys):
    inputs = [str(p) for p in of_times(FIRST[:1])]
    store = tmp_path / "cli.zarr"
    assert main(["cube", *inputs, "-o", str(store), "--method", "linear", "--report", str(tmp_path / "r.json")]) == 0
    assert "6 done" in capsys.readouterr().out
    dataset = xr.open_zarr(store, group="211A")
    assert dataset.data.shape[0] == 1 and (tmp_path / "r.json").is_file()
    assert main(["cube", *inputs, "-o", str(store), "--method", "linear"]) == EXIT_OK
    assert "6 skipped" in capsys.readouterr().out
    # other settings of the register step: the frames are redone in place, not appended
    assert main(["cube", *inputs, "-o", str(store)]) == EXIT_OK
    assert "6 done" in capsys.readouterr().out
    assert xr.open_zarr(store, group="211A").data.shape[0] == 1


def test_aiapy_cube_refuses_bad_options(tmp_path, capsys):
    inputs = [str(p) for p in of_times(FIRST[:1])]
    assert main(["cube", *inputs, "-o", str(tmp_path / "x.zarr"), "--layout", "sdoml"]) == EXIT_USAGE
    assert "needs a resolution" in capsys.readouterr().err
    assert main(["cube", *inputs, "-o", str(tmp_path / "y.zarr"), "--cadence=-1s"]) == EXIT_USAGE
    assert "cadence must be positive" in capsys.readouterr().err
    assert main(["cube", *inputs, "-o", str(tmp_path / "z.zarr"), "--in-flight", "2"]) == EXIT_USAGE
    assert "need --jsoc" in capsys.readouterr().err
