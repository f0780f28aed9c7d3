"""The serial batch run: results match the package functions, reruns skip, bad inputs fail alone, Ctrl-C."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.io import fits
from astropy.time import Time

from aiapy.calibrate import correct_degradation, estimate_error, normalize_exposure, register
from aiapy.data import get_file
from aiapy.pipeline import FileResult, PrepReport, _runner, _steps, output_path, prep_files, read_output
from aiapy.pipeline import write_header_pointing_table
from aiapy.pipeline._config import make_config
from aiapy.utils.io import read_map

STEPS = "degradation,exposure"


def test_outputs_match_the_package_functions(flare_inputs, tmp_path):
    report = prep_files(flare_inputs, tmp_path / "out", steps=STEPS, uncertainty=True)
    assert isinstance(report, PrepReport) and report.ok
    assert report.counts == {"done": 4, "skipped": 0, "failed": 0, "cancelled": 0}
    assert report.settings["steps"] == ["degradation", "exposure"] and report.settings["executor"] == "serial"
    for path, result in zip(flare_inputs, report.results, strict=True):
        assert result.input == str(path) and result.output == str(output_path(path, tmp_path / "out"))
        assert set(result.timings) == {"read", "uncertainty", "degradation", "exposure", "write"}
        level1 = read_map(path)
        expected = normalize_exposure(correct_degradation(level1))
        smap, errors = read_output(result.output)
        assert smap.data.dtype == np.float32 and smap.meta["exptime"] == 1.0
        # float32 output of a float64 computation: agreement to float32 rounding
        np.testing.assert_allclose(smap.data, expected.data, rtol=1e-6)
        assert smap.meta["datamax"] == pytest.approx(float(np.nanmax(smap.data)))
        # the uncertainty is estimated on the counts, then scaled like the image (degradation, exposure)
        counts_error = estimate_error(level1.quantity / u.pix, level1.wavelength).value
        np.testing.assert_allclose(errors.data, counts_error * expected.data.sum() / level1.data.sum(), rtol=1e-5)


def test_rerun_skips_and_overwrite_redoes(flare_inputs, tmp_path):
    out = tmp_path / "out"
    first = prep_files(flare_inputs, out, steps=STEPS)
    stamps = {path: path.stat().st_mtime_ns for path in out.iterdir()}
    again = prep_files(flare_inputs, out, steps=STEPS)
    assert again.counts["skipped"] == 4 and again.ok
    assert {path: path.stat().st_mtime_ns for path in out.iterdir()} == stamps
    # other settings make the existing outputs invalid for this run: redone, and noted
    other = prep_files(flare_inputs[:1], out, steps="exposure")
    assert other.counts["done"] == 1 and "other settings" in other.results[0].steps[0]
    forced = prep_files(flare_inputs[1:2], out, steps=STEPS, overwrite=True)
    assert forced.counts["done"] == 1
    assert first.summary().startswith("4 file(s): 4 done")


def test_bad_inputs_fail_alone(flare_inputs, bad_inputs, tmp_path):
    report = prep_files([*bad_inputs, *flare_inputs], tmp_path / "out", steps=STEPS)
    by_name = {r.input.rsplit("/", 1)[1]: r for r in report.results}
    assert report.counts == {"done": 4, "skipped": 0, "failed": 4, "cancelled": 0} and not report.ok
    assert by_name["corrupt.fits"].error.startswith("OSError")
    truncated = by_name["truncated.fits"].error
    assert truncated.startswith("ValueError") and "(truncated: 20000 bytes, not a whole number" in truncated
    assert by_name["not_aia.fits"].error.startswith("TypeError") and "AIA" in by_name["not_aia.fits"].error
    assert "LVL_NUM = 1.5" in by_name["level15.fits.gz"].error
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        output_path(p, ".").name for p in flare_inputs
    )


def test_ctrl_c_stops_cleanly(flare_inputs, tmp_path, monkeypatch):
    real = _runner.prep_item
    calls = []

    def interrupt_second(*args):
        calls.append(args[1])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(_runner, "prep_item", interrupt_second)
    report = prep_files(flare_inputs, tmp_path / "out", steps=STEPS)
    assert report.interrupted and not report.ok
    assert [r.status for r in report.results] == ["done", "cancelled", "cancelled", "cancelled"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == [output_path(flare_inputs[0], ".").name]
    monkeypatch.undo()
    resumed = prep_files(flare_inputs, tmp_path / "out", steps=STEPS)
    assert [r.status for r in resumed.results] == ["skipped", "done", "done", "done"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"steps": "register,sharpen"}, ValueError, "sharpen"),
        ({"dtype": "int16"}, ValueError, "dtype"),
        ({"pointing": "nowhere.csv"}, ValueError, "pointing"),
        ({"compress": "zip"}, ValueError, "compress"),
        ({"iterations": 0}, ValueError, "iterations"),
        ({"order": 2.5}, ValueError, "order"),  # register's own answer (RegisterOptions), as register gives
        ({"workers": 0}, ValueError, "workers"),
        ({"workers": 2, "scheduler": "tcp://127.0.0.1:1"}, ValueError, "at most one"),
    ],
)
def test_invalid_options(flare_inputs, tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        prep_files(flare_inputs, tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()  # validated before any work


def test_same_output_name_is_refused(flare_inputs, tmp_path):
    twin = tmp_path / "twin"
    twin.mkdir()
    (twin / flare_inputs[0].name).write_bytes(flare_inputs[0].read_bytes())
    with pytest.raises(ValueError, match="would both be written"):
        prep_files([flare_inputs[0], twin / flare_inputs[0].name], tmp_path / "out")


def test_report_json(tmp_path):
    report = PrepReport([FileResult("a.fits", "b.fits", "failed", error="OSError: bad")], {"steps": []}, 2.0)
    report.write_json(tmp_path / "r.json")
    text = (tmp_path / "r.json").read_text()
    assert '"failed": 1' in text and "OSError: bad" in text and report.failed[0].input == "a.fits"


def test_header_pointing_table_leaves_headers_unchanged(flare_inputs, pointing_csv, tmp_path):
    report = prep_files(flare_inputs, tmp_path / "out", steps="update_pointing", pointing=pointing_csv)
    assert report.ok and report.results[0].steps == ["update_pointing"]
    for path, result in zip(flare_inputs, report.results, strict=True):
        level1, (smap, _) = read_map(path), read_output(result.output)
        for key in ("crpix1", "crpix2", "cdelt1", "crota2"):
            # the table holds the header's own values (to ~8 significant digits as written in the CSV)
            assert smap.meta[key] == pytest.approx(level1.meta[key], rel=1e-7, abs=1e-7)
        assert "update_pointing: MPT row" in str(smap.meta["history"])
    # the header pointing is kept by default; a step the user names runs or is refused (issue 22, fault 12: it
    # was silently dropped, writing level-1 data as *_lev1.5.fits)
    with pytest.raises(ValueError, match="steps names update_pointing, but pointing is 'header'"):
        prep_files(flare_inputs, tmp_path / "h", steps="update_pointing")
    assert not (tmp_path / "h").exists()


def test_header_pointing_table_rows_follow_t_obs_never_the_clock(tmp_path):
    smap = read_map(get_file("aia_171_cutout"))
    # T_OBS (mid-exposure, what update_pointing looks rows up by) just after a 3-hour row boundary
    late = sunpy.map.Map(
        smap.data, {**smap.meta, "date-obs": "2011-02-15T02:59:59.0", "t_obs": "2011-02-15T03:00:01.0"}
    )
    no_date_obs = sunpy.map.Map(smap.data, {k: v for k, v in smap.meta.items() if k != "date-obs"})
    table = write_header_pointing_table([late, no_date_obs], tmp_path / "p.csv").read_text().splitlines()
    t_obs = Time(smap.meta["t_obs"].rstrip("Z"))
    row = int(t_obs.unix // (3 * 3600))
    starts = {line.split(",")[0] for line in table[1:]}
    assert starts == {"2011-02-15T03:00:00.000Z", Time(row * 3 * 3600, format="unix").isot + "Z"}
    no_time = sunpy.map.Map(smap.data, {k: v for k, v in smap.meta.items() if k not in ("date-obs", "t_obs")})
    with pytest.raises(KeyError, match="write_header_pointing_table.*DATE-OBS nor T_OBS"):
        write_header_pointing_table([no_time], tmp_path / "q.csv")


def test_respike_and_deconvolve_steps(flare_inputs, tmp_path):
    spikes = get_file("spikes_171_full_frame_constructed")
    with_spikes = next(p for p in flare_inputs if p.name.endswith("_171.fits"))
    spikes_dir = tmp_path / "spikes"
    spikes_dir.mkdir()
    shutil.copy(spikes, spikes_dir / f"{with_spikes.stem}.spikes.fits.gz")
    report = prep_files(flare_inputs, tmp_path / "out", steps="respike,deconvolve", spikes_dir=spikes_dir, iterations=3)
    assert report.ok
    by_name = {Path(r.input).name: r for r in report.results}
    assert by_name[with_spikes.name].steps == ["respike", "deconvolve"]
    assert all(
        r.steps == ["respike skipped (no spikes file)", "deconvolve"]
        for n, r in by_name.items()
        if n != with_spikes.name
    )
    # the deconvolution sharpens: the peak of each output rises above the level-1 peak
    for path in flare_inputs:
        smap, _ = read_output(by_name[path.name].output)
        assert np.nanmax(smap.data) > np.nanmax(read_map(path).data)


def test_accelerated_deconvolution(flare_inputs, tmp_path):
    from aiapy.pipeline import PrepConfig

    report = prep_files(
        flare_inputs[:1], tmp_path / "out", steps="deconvolve", iterations=3, acceleration="biggs-andrews"
    )
    smap, _ = read_output(report.results[0].output)
    assert report.ok and "Richardson-Lucy (biggs-andrews), 3 iterations" in "".join(smap.meta["history"])
    # the variant is part of the settings: plain outputs are not taken for accelerated ones, or back
    plain = PrepConfig(steps=("deconvolve",), iterations=3)
    assert PrepConfig(steps=("deconvolve",), iterations=3, acceleration="biggs-andrews").config_id != plain.config_id
    rerun = prep_files(flare_inputs[:1], tmp_path / "out", steps="deconvolve", iterations=3)
    assert rerun.counts["done"] == 1 and "other settings" in rerun.results[0].steps[0]
    with pytest.raises(ValueError, match="acceleration"):
        prep_files(flare_inputs[:1], tmp_path / "out", steps="deconvolve", acceleration="fast")


def test_progress_bar(flare_inputs, tmp_path, capsys):
    report = prep_files(flare_inputs, tmp_path / "out", steps=STEPS, progress=True)
    assert report.ok and "4/4" in capsys.readouterr().err


#: In a fresh interpreter: the compiled functions `load_kernels` loads for a config, then those a first
#: file adds (the bundled 171 cutout as int16, the dtype of level-1 files, registered with the config's options).
_WARM_UP_SCRIPT = """
import json
import sys
import numpy as np
import aiapy.data.sample as sample
from aiapy.calibrate import register
from aiapy.pipeline._config import make_config
from aiapy.pipeline._steps import load_kernels

config = make_config(steps="register", method=sys.argv[1], dtype=sys.argv[2])
load_kernels(config)
from aiapy.calibrate import _compiled

def loaded():
    return {(name, str(sig)) for name, f in vars(_compiled).items() for sig in getattr(f, "signatures", ())}

warm = loaded()
cutout = sample.load_map("aia_171_cutout")
level1 = cutout._new_instance(np.round(cutout.data).astype(np.int16), cutout.meta)
register(level1, **config.register_options().as_dict())
print(json.dumps([sorted({name for name, _ in warm}), sorted(loaded() - warm)]))
"""


@pytest.mark.parametrize(("method", "dtype"), [("spline", "float32"), ("cubic-convolution", "float64")])
def test_load_kernels_loads_what_a_first_file_needs(method, dtype):
    """The Dask worker's warm-up loads every compiled function that registering a level-1 file then needs."""
    result = subprocess.run(
        [sys.executable, "-c", _WARM_UP_SCRIPT, method, dtype], capture_output=True, text=True, check=True
    )
    warm, added = json.loads(result.stdout)
    assert "_resample_rows" in warm and ("_filter_rows" in warm) == (method == "spline")
    assert added == []


def test_load_kernels_reads_no_file(monkeypatch):
    """The warm-up builds its small level-1 map in memory: it read the bundled 769 x 705 cutout for a 64 x 64
    corner of zeros. It still registers (the history of the map it registers says so)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"load_kernels opened a FITS file: {args}")

    registered = []
    monkeypatch.setattr(fits, "open", refuse)
    monkeypatch.setattr(_steps, "register", lambda smap, **options: registered.append(register(smap, **options)))
    _steps.load_kernels(make_config(steps="register"))
    (level15,) = registered
    assert level15.meta["lvl_num"] == 1.5 and level15.data.dtype == np.float32 and level15.data.shape == (63, 63)
    assert "register: level 1.5" in "".join(level15.meta["history"])
    registered.clear()
    _steps.load_kernels(make_config(steps="exposure"))  # no register step: nothing to load
    assert registered == []
