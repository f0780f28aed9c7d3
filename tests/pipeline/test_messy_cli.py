"""
Issue 22 ("Messy inputs, round two"), the batch: arguments checked against each other and the file system before
any work, and inputs named as the user gave them. Each test is a reproducer on copies of the real flare cutouts.
"""

import json
import logging
import os
import shutil
import warnings
from pathlib import Path

import astropy.units as u
import pytest
from astropy.io import fits
from astropy.time import Time

from aiapy.calibrate import register
from aiapy.cli import main
from aiapy.data import sample
from aiapy.pipeline import prep_files
from aiapy.pipeline._archive import parse_time_range
from aiapy.pipeline._inputs import expand_inputs
from aiapy.pipeline._preflight import cap_workers, check_memory_limit
from aiapy.utils.exceptions import AIApyUserWarning
from aiapy.utils.io import read_map

STEPS = "register,degradation,exposure"


def _refused(capsys, argv, message):
    """``aiapy`` with ``argv`` exits 2 before any work, with ``message`` in its error."""
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert message in error, error
    return error


# Fault 1: the report never replaces a file it did not write ------------------------------------------------------


def test_a_report_path_that_is_an_input_is_refused(flare_inputs, tmp_path, capsys):
    before = {path: path.read_bytes() for path in flare_inputs}
    names = [str(path) for path in flare_inputs]  # what the shell makes of: --report in/*.fits
    _refused(capsys, ["prep", "-o", str(tmp_path / "out"), "--report", *names], "names a FITS file; the report is JSON")
    assert {path: path.read_bytes() for path in flare_inputs} == before
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_report_path_equal_to_an_input_with_another_name_is_refused(flare_inputs, tmp_path, capsys):
    link = tmp_path / "report.json"
    link.symlink_to(flare_inputs[0])
    before = flare_inputs[0].read_bytes()
    _refused(capsys, ["prep", str(flare_inputs[0]), "-o", str(tmp_path / "out"), "--report", str(link)],
             "is one of the inputs")  # fmt: skip
    assert flare_inputs[0].read_bytes() == before


def test_a_report_never_replaces_a_foreign_file(flare_inputs, tmp_path, capsys):
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": 1}\n')
    _refused(capsys, ["prep", str(flare_inputs[0]), "-o", str(tmp_path / "out"), "--report", str(notes)],
             "exists and is not an aiapy report")  # fmt: skip
    assert notes.read_text() == '{"mine": 1}\n'
    report = prep_files(flare_inputs[:1], tmp_path / "out", steps=STEPS)
    with pytest.raises(FileExistsError, match="is not an aiapy report"):
        report.write_json(notes)
    report.write_json(tmp_path / "run.json")
    report.write_json(tmp_path / "run.json")  # its own report is replaced
    assert json.loads((tmp_path / "run.json").read_text())["counts"]["done"] == 1


# Fault 7: workers -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", ["0", "-3", "5000"])
def test_absurd_workers_are_refused(flare_inputs, tmp_path, capsys, workers):
    _refused(capsys, ["prep", str(flare_inputs[0]), "-o", str(tmp_path / "out"), "--workers", workers], "workers")


def test_workers_are_capped_at_the_inputs_and_cores(caplog):
    with caplog.at_level(logging.WARNING, logger="aiapy"):
        assert cap_workers(999, 1) == 1
    assert "workers 999 capped to 1: 1 input(s)" in caplog.text
    assert cap_workers(999, 500) == min(500, len(os.sched_getaffinity(0)))
    assert cap_workers(1, 10) == 1


# Faults 11 and 12: the steps ------------------------------------------------------------------------------------


def test_an_empty_step_list_is_refused(flare_inputs, tmp_path, capsys):
    _refused(capsys, ["prep", str(flare_inputs[0]), "-o", str(tmp_path / "out"), "--steps", ""], "names no step")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_named_update_pointing_needs_a_pointing_source(flare_inputs, tmp_path, capsys, pointing_csv):
    argv = ["prep", str(flare_inputs[0]), "-o", str(tmp_path / "out"), "--steps", "update_pointing,register"]
    _refused(capsys, argv, "--steps names update_pointing, but --pointing is 'header'")
    assert main([*argv, "--pointing", pointing_csv, "-q"]) == 0
    assert "update_pointing: MPT row" in str(read_map(next((tmp_path / "out").iterdir())).meta["history"])


# Fault 13: folders checked before any work ---------------------------------------------------------------------


def test_an_output_folder_that_cannot_be_made_is_refused_first(flare_inputs, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    _refused(capsys, ["prep", str(flare_inputs[0]), "-o", str(blocker / "out")], "is not a folder")
    _refused(capsys, ["prep", str(flare_inputs[0]), "-o", "/proc/aiapy-messy-out"], "is not writable")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_refused_first(flare_inputs, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        _refused(capsys, ["prep", str(flare_inputs[0]), "-o", str(out)], "is not writable")
    finally:
        out.chmod(0o755)


def test_a_report_folder_that_does_not_exist_is_refused_first(flare_inputs, tmp_path, capsys):
    argv = ["prep", str(flare_inputs[0]), "-o", str(tmp_path / "out"), "--report", str(tmp_path / "no" / "r.json")]
    _refused(capsys, argv, "the folder of --report")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# Fault 14: the JSOC time range ----------------------------------------------------------------------------------


def test_a_time_range_that_ends_before_it_starts_is_refused():
    with pytest.raises(ValueError, match=r"ends \(2011-02-15T00:00:00.000\) before it starts"):
        parse_time_range("2011-02-15T06:00/2011-02-15T00:00")
    with pytest.raises(ValueError, match="ends .* before it starts"):
        parse_time_range(["2011-02-15T06:00", "2011-02-15T00:00"])
    start, end = parse_time_range("2011.02.15_00:00:34_TAI/2011-02-15T06:00")  # JSOC form: 34 s TAI-UTC
    assert (start.isot, end.isot) == ("2011-02-15T00:00:00.000", "2011-02-15T06:00:00.000")


def test_the_cli_refuses_an_inverted_jsoc_range(tmp_path, capsys):
    argv = ["prep", "--jsoc", "2011-02-15T06:00/2011-02-15T00:00", "--channels", "171", "-o", str(tmp_path)]
    _refused(capsys, [*argv, "--email", "a@b.org"], "before it starts")


# Fault 15: memory limit too small for a frame -------------------------------------------------------------------


def test_a_memory_limit_too_small_for_the_frames_is_refused(tmp_path, capsys):
    frame = tmp_path / "in" / "full_frame_171.fits"
    frame.parent.mkdir()
    shutil.copy(sample.AIA_171_IMAGE, frame)
    argv = ["prep", str(frame), "-o", str(tmp_path / "out"), "--workers", "1", "--memory-limit", "300MB"]
    error = _refused(capsys, argv, "--memory-limit 300MB is too small for a 4096 x 4096 frame")
    assert "Give --memory-limit 811MiB or more" in error
    error = _refused(capsys, [*argv, "--steps", "deconvolve,register"], "too small for a 4096 x 4096 frame")
    assert "Give --memory-limit 1148MiB or more" in error


# Fault 18: non-LIGHT frames -------------------------------------------------------------------------------------


@pytest.fixture
def dark(tmp_path, flare_inputs):
    path = tmp_path / "dark.fits"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fits.verify.VerifyWarning)  # BLANK on float data
        data, header = fits.getdata(flare_inputs[0], header=True)
    del header["BLANK"]
    header["IMG_TYPE"] = "DARK"
    fits.PrimaryHDU(data, header).writeto(path)
    return path


def test_info_shows_img_type(dark, capsys):
    assert main(["info", str(dark), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["IMG_TYPE"] == "DARK"


def test_the_api_warns_about_a_dark_frame(dark):
    with pytest.warns(AIApyUserWarning, match=r"register: IMG_TYPE = 'DARK': this is not a science \(LIGHT\) image"):
        register(read_map(dark), method="linear")


# Fault 19: outputs named after the path given -------------------------------------------------------------------


def test_outputs_are_named_after_links_not_their_targets(flare_inputs, tmp_path):
    store = tmp_path / "annex"
    store.mkdir()
    links = tmp_path / "links"
    links.mkdir()
    for index, path in enumerate(flare_inputs):
        target = store / f"SHA256E-s37440--{index:064d}.fits"
        shutil.copy(path, target)
        (links / path.name).symlink_to(target)
    assert [path.name for path in expand_inputs(links)] == sorted(path.name for path in flare_inputs)
    report = prep_files(links, tmp_path / "out", steps=STEPS)
    assert report.ok
    names = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert names == sorted(path.name.replace(".fits", "_lev1.5.fits") for path in flare_inputs)


# Fault 10: a file that cannot be done fails alone, with its name and reason --------------------------------------


def _rewrite(source, target, **cards):
    """A copy of the real file ``source`` at ``target`` with header ``cards`` changed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fits.verify.VerifyWarning)  # BLANK on float data
        data, header = fits.getdata(source, header=True)
    del header["BLANK"]
    header.update(cards)
    fits.PrimaryHDU(data, header).writeto(target)
    return target


def test_a_channel_without_a_psf_fails_alone(flare_inputs, tmp_path, capsys):
    uv = _rewrite(flare_inputs[0], flare_inputs[0].parent / "uv_1600.fits", WAVELNTH=1600, WAVE_STR="1600")
    assert main(["prep", str(uv.parent), "-o", str(tmp_path / "out"), "--steps", "deconvolve,register",
                 "--iterations", "2", "--report", str(tmp_path / "r.json"), "-q"]) == 1  # fmt: skip
    assert f"FAILED {uv}: ValueError: psf=None needs a map of an AIA EUV channel" in capsys.readouterr().err
    results = json.loads((tmp_path / "r.json").read_text())["results"]
    assert sorted(r["status"] for r in results) == ["done"] * len(flare_inputs) + ["failed"]


def test_binned_data_in_the_batch_are_refused_not_deconvolved_with_the_wrong_psf(flare_inputs, tmp_path):
    binned = read_map(flare_inputs[0]).superpixel([2, 2] * u.pix)
    path = tmp_path / "binned.fits"
    binned.save(path)
    report = prep_files([path], tmp_path / "out", steps="deconvolve,register", iterations=2)
    assert report.results[0].status == "failed"
    assert "deconvolve: CDELT1 = 1.2" in report.results[0].error


def test_jsoc_dates_in_headers_with_the_jsoc_pointing(flare_inputs, tmp_path, loopback_jsoc):
    """DATE-OBS and T_OBS in the JSOC form (TAI): the batch's pointing time range and every file read them."""
    folder = tmp_path / "jsoc_dates"
    folder.mkdir()
    for path in flare_inputs:
        meta = read_map(path).meta
        times = {key: Time(meta[key.lower()].rstrip("Z"), scale="utc").tai for key in ("DATE-OBS", "T_OBS")}
        _rewrite(path, folder / path.name, **{key: time.strftime("%Y.%m.%d_%H:%M:%S.%f")[:-3] + "_TAI"
                                              for key, time in times.items()})  # fmt: skip
    report = prep_files(folder, tmp_path / "out", steps="update_pointing,register", pointing="jsoc")
    assert report.ok, [r.error for r in report.results]
    assert report.counts["done"] == len(flare_inputs)


# Fault 21: only warnings that matter are counted ----------------------------------------------------------------


def test_an_ordinary_file_has_no_warning(flare_inputs, tmp_path):
    report = prep_files(flare_inputs, tmp_path / "out", steps=STEPS)
    assert report.ok and [result.warnings for result in report.results] == [[]] * len(flare_inputs)
    assert "with warnings" not in report.summary()


def test_info_of_a_truncated_file_and_of_a_thumbnail(flare_inputs, tmp_path, capsys):
    truncated = tmp_path / "truncated.fits"
    truncated.write_bytes(flare_inputs[0].read_bytes()[:30000])
    thumbnail = tmp_path / "thumbnail.fits"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fits.verify.VerifyWarning)  # BLANK on float data
        data, header = fits.getdata(flare_inputs[0], header=True)
    del header["BLANK"]
    fits.HDUList([fits.PrimaryHDU(data[::8, ::8].copy()), fits.ImageHDU(data, header)]).writeto(thumbnail)
    assert main(["info", str(truncated), str(thumbnail), "--json"]) == 1
    captured = capsys.readouterr()
    assert "truncated.fits is truncated: its FITS headers declare" in captured.err
    facts = json.loads(captured.out)
    assert (facts["hdu"], facts["shape"], facts["WAVELNTH"]) == (1, [67, 67], header["WAVELNTH"])


def test_too_many_workers_for_the_memory_are_refused():
    with pytest.raises(MemoryError, match=r"8 workers sharing 4096 MiB \(--memory-limit auto\) is too small for a "
                                          r"4096 x 4096 frame.*Use at most 3 worker\(s\)"):  # fmt: skip
        check_memory_limit("auto", ["deconvolve", "register"], [(4096, 4096)], workers=8, total_memory=4 * 2**30)
    check_memory_limit("auto", ["register"], [(4096, 4096)], workers=4, total_memory=4 * 2**30)  # 1 GiB each


# Fault 17: 4500 A and the correction table; fault 18: non-LIGHT frames in the batch -----------------------------


def test_4500_is_prepped_without_degradation_and_says_so(flare_inputs, tmp_path):
    visible = _rewrite(flare_inputs[0], flare_inputs[0].parent / "vis_4500.fits", WAVELNTH=4500, WAVE_STR="4500")
    report = prep_files(visible.parent, tmp_path / "out")
    results = {Path(result.input).name: result for result in report.results}
    assert report.ok and all(result.status == "done" for result in results.values())
    note = "degradation skipped (the correction table has no 4500 A calibration)"
    assert note in results["vis_4500.fits"].steps
    assert any("degradation skipped" in warning for warning in results["vis_4500.fits"].warnings)
    out = read_map(results["vis_4500.fits"].output)
    assert "degcorr" not in out.meta and "pipeline: degradation skipped" in str(out.meta["history"])
    others = [result for name, result in results.items() if name != "vis_4500.fits"]
    assert all("degradation" in result.steps and not result.warnings for result in others)


def test_a_dark_frame_in_the_batch_fails_alone(flare_inputs, dark, tmp_path):
    shutil.copy(dark, flare_inputs[0].parent / "dark.fits")
    report = prep_files(flare_inputs[0].parent, tmp_path / "out", steps=STEPS)
    failed = [result for result in report.results if result.status == "failed"]
    assert [Path(result.input).name for result in failed] == ["dark.fits"]
    assert failed[0].error == "ValueError: IMG_TYPE = 'DARK': a calibration frame, not a science (LIGHT) image; not prepped."
    assert report.counts["done"] == len(flare_inputs)


def test_the_api_refuses_empty_steps_and_a_named_update_pointing_without_source(flare_inputs, tmp_path):
    with pytest.raises(ValueError, match="steps names no step"):
        prep_files(flare_inputs, tmp_path / "out", steps="")
    with pytest.raises(ValueError, match="steps names update_pointing, but pointing is 'header'"):
        prep_files(flare_inputs, tmp_path / "out", steps="update_pointing,register")
    assert not (tmp_path / "out").exists()


def test_the_api_caps_workers_and_checks_the_output_folder(flare_inputs, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="aiapy"):
        report = prep_files(flare_inputs[:1], tmp_path / "out", steps=STEPS, workers=999)
    assert report.ok and "workers 999 capped to 1: 1 input(s)" in caplog.text
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        prep_files(flare_inputs, blocker / "out", steps=STEPS)
