"""The ``aiapy`` command line: prep (serial, 2 Dask workers, killed and resumed), info, psf, exit codes."""

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from astropy.io import fits

from aiapy import __version__
from aiapy.cli import build_parser, main, prep_options
from aiapy.data import sample
from aiapy.pipeline import PrepConfig, check_output, read_output

STEPS = "register,degradation,exposure"


@pytest.fixture
def cutouts(tmp_path):
    """Copies of the real 769 x 705 level-1 cutout, as a folder of inputs."""
    return _copies(tmp_path / "in", 12)


@pytest.fixture
def many_cutouts(tmp_path):
    """Sixty copies: a run long enough (a few seconds) to be interrupted midway whatever the machine's load
    (twelve cutouts are prepped in well under a second once the first has loaded the compiled code)."""
    return _copies(tmp_path / "in", 60)


def _copies(folder, count):
    folder.mkdir()
    for index in range(count):
        shutil.copy(sample.AIA_171_CUTOUT, folder / f"aia_171_cutout_{index:02d}.fits")
    return folder


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"aiapy {__version__}"


def test_usage_errors(capsys, tmp_path):
    with pytest.raises(SystemExit) as stop:
        main(["prep", str(sample.AIA_171_CUTOUT)])  # --out missing
    assert stop.value.code == 2
    assert main(["prep", str(sample.AIA_171_CUTOUT), "--out", str(tmp_path), "--steps", "sharpen"]) == 2
    assert "sharpen" in capsys.readouterr().err
    assert main(["prep", str(tmp_path / "none*.fits"), "--out", str(tmp_path)]) == 2


def test_prep_reports_bad_file_and_exit_code(tmp_path, capsys):
    bad = tmp_path / "bad.fits"
    bad.write_bytes(b"garbage" * 1000)
    report = tmp_path / "report.json"
    args = ["prep", str(sample.AIA_171_CUTOUT), str(bad), "--out", str(tmp_path / "out"), "--steps", STEPS]
    assert main([*args, "--report", str(report)]) == 1
    captured = capsys.readouterr()
    assert f"FAILED {bad}" in captured.err and "1 done, 1 failed" in captured.out
    assert json.loads(report.read_text())["counts"]["failed"] == 1
    assert main([*args[:2], *args[3:], "--quiet"]) == 0  # the good file alone: now skipped, exit 0
    assert capsys.readouterr().out == ""


@pytest.mark.slow
def test_prep_on_two_local_dask_workers(cutouts, tmp_path, capsys):
    inputs = sorted(cutouts.iterdir())[:4]
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed may warn about slow start-up/shutdown on a busy machine
        status = main(
            ["prep", *map(str, inputs), "--out", str(out), "--steps", STEPS, "--workers", "2", "--uncertainty"]
        )
    assert status == 0 and "4 done" in capsys.readouterr().out
    config_id = PrepConfig(steps=tuple(STEPS.split(",")), uncertainty=True).config_id
    outputs = sorted(out.iterdir())
    assert len(outputs) == 4 and all(check_output(p, config_id=config_id, uncertainty=True)[0] for p in outputs)
    smap, errors = read_output(outputs[0])
    assert smap.meta["lvl_num"] == 1.5 and errors.data.shape == smap.data.shape
    assert np.nanmax(smap.data) > 0


@pytest.mark.slow
def test_killed_run_resumes_to_complete_outputs(many_cutouts, tmp_path):
    out, total = tmp_path / "out", len(list(many_cutouts.iterdir()))
    command = [sys.executable, "-m", "aiapy.cli", "prep", str(many_cutouts), "--out", str(out), "--steps", STEPS,
               "--no-progress"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out.is_dir() and any(p.name.endswith("_lev1.5.fits") for p in out.iterdir())):
        assert process.poll() is None and time.monotonic() < deadline, "the run ended before any output"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    config_id = PrepConfig(steps=tuple(STEPS.split(","))).config_id
    finals = [p for p in out.iterdir() if p.name.endswith("_lev1.5.fits")]
    # killed midway: some outputs are missing, and every output name present is a complete, valid file
    assert 0 < len(finals) < total
    assert all(check_output(p, config_id=config_id) == (True, "") for p in finals)
    result = subprocess.run([*command, "--report", str(tmp_path / "r.json")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    counts = json.loads((tmp_path / "r.json").read_text())["counts"]
    assert counts["skipped"] == len(finals) and counts["done"] == total - len(finals)
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == total and not any(name.startswith(".") for name in names)  # no temporary file left
    assert all(check_output(out / name, config_id=config_id)[0] for name in names)


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a child process")
@pytest.mark.slow
def test_ctrl_c_exits_130(many_cutouts, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "aiapy.cli", "prep", str(many_cutouts), "--out", str(out), "--steps", STEPS]
    # the child takes Ctrl-C as a user's run does, even when this suite was started with SIGINT ignored (a
    # background job of a shell without job control), which a child would otherwise inherit
    default_sigint = functools.partial(signal.signal, signal.SIGINT, signal.SIG_DFL)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=default_sigint)  # fmt: skip
    deadline = time.monotonic() + 120
    while not (out.is_dir() and any(out.iterdir())):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Interrupted" in err and "cancelled" in err


def test_info(capsys, tmp_path):
    assert main(["info", str(sample.AIA_171_CUTOUT)]) == 0
    text = capsys.readouterr().out
    assert "WAVELNTH     171" in text and "compressed   True" in text and "- nominal" in text
    assert main(["info", "--json", str(sample.AIA_171_CUTOUT)]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["shape"] == [705, 769] and facts["QUALITY"] == 0 and facts["quality_flags"] == ["nominal"]
    flagged = tmp_path / "flagged.fits"
    fits.PrimaryHDU(np.zeros((4, 4), np.int16), fits.Header({"QUALITY": (1 << 16) | 1})).writeto(flagged)
    bad = tmp_path / "bad.fits"
    bad.write_bytes(b"not fits")
    assert main(["info", str(flagged), str(bad)]) == 1
    captured = capsys.readouterr()
    assert "Dark image flag" in captured.out and "Flatfield data are not available" in captured.out
    assert "bad.fits: cannot read" in captured.err


def test_psf(tmp_path, capsys):
    out = tmp_path / "psf.fits"
    assert main(["psf", "171", "--out", str(out), "--size", "256"]) == 0
    with fits.open(out) as hdulist:
        kernel = hdulist[0].data
        assert kernel.shape == (256, 256) and hdulist[0].header["WAVELNTH"] == 171
    # the PSF peaks at the centre and sums to about 1 (light outside a 256 px window is lost)
    assert np.unravel_index(np.argmax(kernel), kernel.shape) == (128, 128)
    assert 0.5 < kernel.sum() <= 1.0 + 1e-6
    assert main(["psf", "171", "--out", str(out)]) == 1  # exists, no --overwrite
    assert main(["psf", "172", "--out", str(tmp_path / "x.fits")]) == 2


def test_prep_accelerate_option(tmp_path):
    out = tmp_path / "out"
    args = ["prep", str(sample.AIA_171_CUTOUT), "--out", str(out), "--steps", "deconvolve", "--iterations", "2"]
    assert main([*args, "--accelerate", "--quiet"]) == 0
    written = read_output(next(out.glob("*.fits")))[0]
    assert "Richardson-Lucy (biggs-andrews), 2 iterations" in "".join(written.meta["history"])


def test_prep_with_solarsoft_kernel_matches_register(tmp_path, capsys):
    from aiapy.calibrate import register

    out = tmp_path / "out"
    args = ["prep", str(sample.AIA_171_CUTOUT), "--out", str(out), "--steps", "register", "--dtype", "float64"]
    assert main([*args, "--method", "cubic-convolution", "--quiet"]) == 0
    written = read_output(next(out.glob("*.fits")))[0]
    expected = register(sample.load_map("aia_171_cutout"), method="cubic-convolution", dtype=np.float64)
    np.testing.assert_array_equal(written.data, expected.data)
    assert "cubic-convolution" in "".join(written.meta["history"])  # FITS wraps HISTORY cards at 72
    with pytest.raises(SystemExit) as stop:
        main([*args, "--method", "bicubic"])
    assert stop.value.code == 2


def test_rerun_with_an_option_of_an_inactive_step_skips(tmp_path, capsys):
    """Issue 17: the default steps never deconvolve, so --iterations 30 keeps every valid output."""
    out = tmp_path / "out"
    args = ["prep", str(sample.AIA_171_CUTOUT), "--out", str(out)]
    assert main(args) == 0 and "1 done" in capsys.readouterr().out
    stamp = next(out.iterdir()).stat().st_mtime_ns
    assert main([*args, "--iterations", "30", "--spikes-dir", str(tmp_path)]) == 0
    assert "1 skipped" in capsys.readouterr().out and next(out.iterdir()).stat().st_mtime_ns == stamp
    assert main([*args, "--cubic", "-0.75", "--method", "cubic-convolution"]) == 0  # an active step's option
    assert "1 done" in capsys.readouterr().out


def test_prep_flags_are_generated_from_the_options():
    from aiapy.pipeline import KEYWORDS, DeconvolveOptions, RegisterOptions

    parser = build_parser()
    prep = parser._subparsers._group_actions[0].choices["prep"]
    flags = {option: action for action in prep._actions for option in action.option_strings}
    for name, (_, field, _) in KEYWORDS.items():
        flag = "--" + name.replace("_", "-")
        if not field.metadata["cli"]:
            assert flag not in flags
            continue
        action = flags[flag]
        assert field.metadata["help"] in action.help  # help from the field, its default not repeated by hand
        if field.metadata["choices"] is not None and action.choices is not None:
            assert list(action.choices) == [c for c in field.metadata["choices"] if c is not None]
    assert flags["--method"].choices == [c for c in RegisterOptions.fields()[0].metadata["choices"]]
    args = parser.parse_args(["prep", "x.fits", "--out", "o", "--missing", "nan", "--no-clip", "--cubic", "-0.75"])
    options = prep_options(args)
    assert np.isnan(options.pop("missing")) and options == {"clip": False, "cubic": -0.75}
    # flags not given are not passed on: the option sets' defaults apply
    assert prep_options(parser.parse_args(["prep", "x.fits", "--out", "o"])) == {}
    # each option also by its set's name (the short flag is today's, kept while only one set has the option)
    qualified = parser.parse_args(["prep", "x.fits", "--out", "o", "--deconvolve-iterations", "4", "--no-register-clip"])
    assert prep_options(qualified) == {"iterations": 4, "clip": False}
    assert flags["--deconvolve-iterations"] is flags["--iterations"]
    assert DeconvolveOptions().iterations == 25 and "(default: 25)" in flags["--iterations"].help


def test_psf_larger_than_memory_is_a_clear_error(tmp_path, capsys, monkeypatch):
    import aiapy.cli

    out = tmp_path / "psf.fits"
    assert main(["psf", "171", "--size", "100000", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "100000 x 100000 PSF needs about 372.5 GiB" in err and "--size" in err
    assert "Traceback" not in err and not out.exists()
    # a size that fits the machine but not the memory left: the same refusal, with the size it needs
    monkeypatch.setattr(aiapy.cli, "_available_memory", lambda: 2**20)
    assert main(["psf", "171", "--size", "512", "--out", str(out)]) == 2
    assert "512 x 512 PSF needs about 10.0 MiB of memory; 1.0 MiB is available" in capsys.readouterr().err
    # the computation itself running out of memory: named, not a traceback
    monkeypatch.setattr(aiapy.cli, "_available_memory", lambda: None)

    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 74.5 GiB for an array with shape (100000, 100000)")

    monkeypatch.setattr("aiapy.psf.calculate_psf", no_memory)
    assert main(["psf", "171", "--size", "64", "--out", str(out)]) == 2
    assert "64 x 64 PSF does not fit in the available memory" in capsys.readouterr().err
    assert main(["psf", "171", "--size", "0", "--out", str(out)]) == 2


def test_prep_output_larger_than_memory_fails_that_file(tmp_path, capsys, monkeypatch):
    """An image that does not fit in memory: that file FAILED with the size it needed, no traceback."""
    from aiapy.pipeline import _steps

    def no_memory(path):
        raise MemoryError("Unable to allocate 128. GiB for an array with shape (131072, 131072) and data type float64")

    monkeypatch.setattr(_steps, "read_map", no_memory)
    assert main(["prep", str(sample.AIA_171_CUTOUT), "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "MemoryError: Unable to allocate 128. GiB" in err and "Traceback" not in err
