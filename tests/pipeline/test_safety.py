"""
File safety of the batch run (issue 12): no input or foreign file is ever replaced, outputs are never taken as
inputs, resume notices a changed input, aiapy version or pointing table, concurrent runs do not collide, and a
degenerate result fails instead of being written as done (Ctrl-C counting what is on disk: test_interrupt.py).
"""

import csv
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from astropy.io import fits

from aiapy.cli import main
from aiapy.data import sample
from aiapy.pipeline import (
    FileResult,
    PrepConfig,
    PrepReport,
    _config,
    check_output,
    output_path,
    prep_files,
    read_output,
)
from aiapy.pipeline._fitsfile import open_images

STEPS = "degradation,exposure"


def _level1_copy(source, target):
    shutil.copy(source, target)
    return target


def test_output_never_replaces_an_input(tmp_path, capsys):
    """d/ holds a.fits and an unrelated level-1 input named a_lev1.5.fits: refused, nothing touched."""
    folder = tmp_path / "d"
    folder.mkdir()
    a = _level1_copy(sample.FLARE_FILES[0], folder / "a.fits")
    twin = _level1_copy(sample.FLARE_FILES[1], folder / "a_lev1.5.fits")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(FileExistsError, match="would replace the input .*a_lev1.5.fits"):
        prep_files(folder, folder, steps=STEPS)
    # through the command line: a usage error (exit 2) naming the file, before any work
    assert main(["prep", str(a), str(twin), "--out", str(folder), "--steps", STEPS]) == 2
    assert "a_lev1.5.fits" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_existing_file_that_is_not_an_output_is_refused(flare_inputs, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    foreign = output_path(flare_inputs[2], out)
    foreign.write_text("my notes, not an aiapy output")
    args = ["prep", *map(str, flare_inputs), "--out", str(out), "--steps", STEPS]
    assert main(args) == 2
    assert f"{foreign} exists and is not an aiapy output" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 2  # --overwrite redoes aiapy outputs only
    assert sorted(out.iterdir()) == [foreign] and foreign.read_text() == "my notes, not an aiapy output"


def test_outputs_in_the_input_folder_are_not_inputs(flare_inputs):
    folder = flare_inputs[0].parent
    first = prep_files(folder, folder, steps=STEPS)
    assert first.counts["done"] == 4
    again = prep_files(folder, folder, steps=STEPS)
    # four inputs again (not eight): the outputs beside them are left out, and are valid, so skipped
    assert [r.input for r in again.results] == [str(p) for p in flare_inputs]
    assert again.counts["skipped"] == 4 and again.ok
    # the same with the files listed, as a shell expands d/*.fits
    listed = prep_files(sorted(folder.glob("*.fits")), folder, steps=STEPS)
    assert len(listed.results) == 4 and listed.counts["skipped"] == 4


def test_resume_redoes_an_output_whose_input_changed(flare_inputs, tmp_path):
    out = tmp_path / "out"
    assert prep_files(flare_inputs, out, steps=STEPS).ok
    # replace an input by another observation (the 094 A image of the same minute), same name
    target = flare_inputs[0]
    other = next(p for p in sample.FLARE_FILES if p.name.endswith("01-44-02_094.fits"))
    shutil.copy(other, target)
    # and only touch another one (same bytes, newer modification time)
    os.utime(flare_inputs[1], ns=(flare_inputs[1].stat().st_atime_ns, flare_inputs[1].stat().st_mtime_ns + 10**9))
    rerun = prep_files(flare_inputs, out, steps=STEPS)
    assert [r.status for r in rerun.results] == ["done", "done", "skipped", "skipped"]
    assert all("its input changed" in r.steps[0] for r in rerun.results[:2])
    assert "2 existing output(s) replaced" in rerun.summary()
    smap, _ = read_output(rerun.results[0].output)
    assert smap.meta["wavelnth"] == 94  # the output now holds the new observation


def test_resume_redoes_outputs_of_another_version_or_table(flare_inputs, pointing_csv, tmp_path, monkeypatch):
    out = tmp_path / "out"
    options = {"steps": "update_pointing", "pointing": pointing_csv}
    assert prep_files(flare_inputs, out, **options).ok
    assert prep_files(flare_inputs, out, **options).counts["skipped"] == 4
    # the same table file with one value changed
    with open(pointing_csv, newline="") as handle:
        rows = list(csv.reader(handle))
    column = rows[0].index(next(name for name in rows[0] if name.endswith("_X0")))
    rows[1][column] = str(float(rows[1][column]) + 0.01)
    with open(pointing_csv, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    changed = prep_files(flare_inputs, out, **options)
    # the table's digest is in every output: all four are redone, each saying why
    assert changed.counts["done"] == 4 and all("pointing table changed" in r.steps[0] for r in changed.results)
    # another aiapy version: the settings identifier changes, so every output is redone
    monkeypatch.setattr(_config, "__version__", "99.0")
    upgraded = prep_files(flare_inputs, out, **options)
    assert upgraded.counts["done"] == 4 and "another aiapy version" in upgraded.results[0].steps[0]
    with fits.open(upgraded.results[0].output) as hdulist:
        assert hdulist[0].header["AIAPYCFG"] == PrepConfig(**options).config_id


def test_two_concurrent_runs_into_one_folder(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for index in range(8):
        shutil.copy(sample.AIA_171_CUTOUT, inputs / f"cutout_{index}.fits")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "aiapy.cli", "prep", str(inputs), "--out", str(out), "--steps", STEPS,
               "--overwrite", "--no-progress", "--quiet"]  # fmt: skip
    runs = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errors = [run.communicate(timeout=300)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 8 and not any(name.startswith(".") for name in names)  # no temporary file left
    config_id = PrepConfig(steps=STEPS).config_id
    assert all(check_output(out / name, config_id=config_id) == (True, "") for name in names)


def test_all_nan_result_fails(flare_inputs, tmp_path):
    blank = tmp_path / "blank.fits"
    with open_images(flare_inputs[0]) as (_, images):
        hdu = images[0]
        header = hdu.header.copy()
        for key in ("BLANK", "BZERO", "BSCALE"):
            header.remove(key, ignore_missing=True)
        fits.PrimaryHDU(np.full(hdu.data.shape, np.nan, dtype=np.float32), header).writeto(blank)
    report = prep_files([blank, flare_inputs[1]], tmp_path / "out", steps="exposure")
    assert [r.status for r in report.results] == ["failed", "done"] and not report.ok
    assert "NaN" in report.results[0].error
    assert not output_path(blank, tmp_path / "out").exists()


def test_summary_surfaces_replaced_outputs_and_warnings():
    results = [
        FileResult("a.fits", "a_lev1.5.fits", "done", warnings=["AIApyMetadataWarning: no CROTA2"]),
        FileResult("b.fits", "b_lev1.5.fits", "done", steps=["existing output redone (its input changed)", "exposure"]),
        FileResult("c.fits", "c_lev1.5.fits", "skipped"),
    ]
    summary = PrepReport(results, {}, 1.0).summary()
    assert summary.startswith("3 file(s): 2 done, 1 skipped")
    assert "1 existing output(s) replaced" in summary and "1 with warnings" in summary
