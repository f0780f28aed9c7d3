"""PrepConfig: option sets composed, today's keywords kept, the settings identifier of the steps that run."""

import dataclasses
import pickle

import numpy as np
import pytest

from aiapy.calibrate import register
from aiapy.calibrate._interpolate import KERNELS
from aiapy.data import sample
from aiapy.pipeline import (
    DEFAULT_STEPS,
    KEYWORDS,
    OPTIONS,
    REGISTER_METHODS,
    DeconvolveOptions,
    OutputOptions,
    PointingOptions,
    PrepConfig,
    RegisterOptions,
    RespikeOptions,
    UncertaintyOptions,
    make_config,
    prep_files,
    read_output,
)
from aiapy.psf import DesaturateOptions
from aiapy.utils.options import Options, option

SETS = {
    "respike": RespikeOptions,
    "pointing": PointingOptions,
    "desaturate": DesaturateOptions,
    "deconvolve": DeconvolveOptions,
    "register": RegisterOptions,
    "uncertainty": UncertaintyOptions,
    "output": OutputOptions,
}


def test_option_sets_and_keywords_give_the_same_config():
    by_sets = PrepConfig(
        steps=("register", "deconvolve"),
        register=RegisterOptions(method="linear", cubic=-0.75),
        deconvolve=DeconvolveOptions(iterations=7),
        output=OutputOptions(dtype="float64"),
    )
    by_keywords = PrepConfig(steps="deconvolve,register", method="linear", cubic=-0.75, iterations=7, dtype="float64")
    assert by_sets == by_keywords and by_sets.config_id == by_keywords.config_id
    assert by_sets.steps == ("deconvolve", "register")  # always the SolarSoft order
    # keywords change a given set; the config is frozen and pickles (it travels to Dask workers)
    changed = make_config(by_sets, order=1)
    assert changed.register.method == "linear" and changed.register.order == 1
    assert pickle.loads(pickle.dumps(changed)) == changed
    with pytest.raises(dataclasses.FrozenInstanceError):
        changed.steps = ()
    assert isinstance(changed, Options) and changed.replace(steps="register").steps == ("register",)


def test_keywords_are_generated_from_every_option_set():
    fields = {(group, f.name) for group, cls in SETS.items() for f in cls.fields()}
    # every option of every set is a keyword, except the two the run sets (register's dtype and threads)
    assert {(group, field.name) for group, field, _ in KEYWORDS.values()} == fields - {
        ("register", "dtype"),
        ("register", "workers"),
    }
    assert {"pointing", "uncertainty", "spikes_dir", "method", "cubic", "missing", "clip", "iterations"} <= set(
        KEYWORDS
    )
    assert REGISTER_METHODS == tuple(KERNELS) and set(KEYWORDS["method"][1].metadata["choices"]) == set(KERNELS)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sharpen": True}, TypeError, "sharpen"),
        ({"register": "linear"}, TypeError, "RegisterOptions"),
        ({"register": RegisterOptions(dtype="float64")}, ValueError, "output.dtype"),
        ({"method": "bicubic"}, ValueError, "method"),
        ({"cubic": 0.5}, ValueError, "cubic"),
        ({"uncertainty": "yes"}, TypeError, "uncertainty"),
        ({"steps": 3}, TypeError, "steps"),
    ],
)
def test_invalid_config(kwargs, error, match):
    with pytest.raises(error, match=match):
        PrepConfig(**kwargs)


def test_config_id_covers_only_the_steps_that_run():
    default = PrepConfig()
    assert default.steps == DEFAULT_STEPS and default.active_steps == ("register", "degradation", "exposure")
    # options of steps that do not run (deconvolve, respike, update_pointing with the header pointing)
    for inactive in ({"iterations": 30}, {"acceleration": "biggs-andrews"}, {"spikes_dir": "/elsewhere"}):
        assert PrepConfig(**inactive).config_id == default.config_id, inactive
    assert PrepConfig(overwrite=True).config_id == default.config_id  # does not change the bytes
    # options of steps that run, and the output settings, do
    for active in ({"method": "linear"}, {"cubic": -0.75}, {"missing": 0.0}, {"clip": False}, {"dtype": "float64"},
                   {"compress": "gzip"}, {"uncertainty": True}, {"pointing": "bundled"}):  # fmt: skip
        assert PrepConfig(**active).config_id != default.config_id, active
    deconvolving = PrepConfig(steps="deconvolve")
    assert PrepConfig(steps="deconvolve", iterations=30).config_id != deconvolving.config_id
    assert PrepConfig(steps="deconvolve", method="linear").config_id == deconvolving.config_id
    assert default.settings()["aiapy"]  # the version is part of the settings


def test_register_options_pass_through(tmp_path):
    """register's cubic, missing and clip reach register (they were dropped before)."""
    level1 = sample.load_map("aia_171_cutout")
    options = {"method": "cubic-convolution", "cubic": -0.75, "missing": float("nan"), "clip": True}
    report = prep_files([sample.AIA_171_CUTOUT], tmp_path, steps="register", dtype="float64", **options)
    assert report.ok
    written, _ = read_output(report.results[0].output)
    expected = register(level1, dtype=np.float64, **options)
    np.testing.assert_array_equal(written.data, expected.data)
    assert np.isnan(written.data).any()  # missing=NaN outside the input's footprint


def test_report_settings_hold_every_option(flare_inputs, tmp_path):
    report = prep_files(flare_inputs[:1], tmp_path, steps="exposure", method="linear", dtype="float64")
    settings = report.settings
    assert set(KEYWORDS) <= set(settings) and settings["steps"] == ["exposure"]
    assert settings["method"] == "linear" and settings["dtype"] == "float64" and settings["executor"] == "serial"
    assert settings["config_id"] == PrepConfig(steps="exposure", method="linear", dtype="float64").config_id


def test_option_sets_are_namespaces():
    """Each step's options by qualified name, as a dict of the set, or by today's short keyword: one config."""
    expected = PrepConfig(steps="deconvolve,register", iterations=7, method="linear", uncertainty=True)
    assert PrepConfig(steps="deconvolve,register", deconvolve_iterations=7, register_method="linear",
                      uncertainty_enabled=True) == expected  # fmt: skip
    assert PrepConfig(steps="deconvolve,register", deconvolve={"iterations": 7}, register={"method": "linear"},
                      uncertainty={"enabled": True}) == expected  # fmt: skip
    # a dict changes the given config's set; it does not replace it
    changed = make_config(expected, deconvolve={"acceleration": "biggs-andrews"})
    assert changed.deconvolve.iterations == 7 and changed.deconvolve.acceleration == "biggs-andrews"
    assert "deconvolve_iterations" in OPTIONS and "iterations" in KEYWORDS and expected.keywords()["iterations"] == 7
    with pytest.raises(TypeError, match="deconvolve.iterations is given twice"):
        PrepConfig(iterations=3, deconvolve_iterations=5)
    with pytest.raises(TypeError, match="'deconvolve_sharpen' is not an option"):
        PrepConfig(deconvolve={"sharpen": 1})


@dataclasses.dataclass(frozen=True, kw_only=True)
class _SharpenOptions(Options):
    """A step with its own ``iterations``, whose short name is not renamed (as ``desaturate``'s is)."""

    iterations: int = option(10, help="sharpening iterations")


def test_a_new_step_may_have_its_own_iterations(monkeypatch):
    from aiapy.cli import build_parser, prep_options
    from aiapy.pipeline import _config

    monkeypatch.setitem(_config._GROUPS, "sharpen", (_SharpenOptions, "deconvolve"))
    options, short = _config._options()
    keywords = {n: options[q[0]] for n, q in short.items() if len(q) == 1 and n != "steps"}
    monkeypatch.setattr(_config, "OPTIONS", options)
    monkeypatch.setattr(_config, "KEYWORDS", keywords)
    monkeypatch.setattr(_config, "AMBIGUOUS", {n: tuple(q) for n, q in short.items() if n not in keywords})
    assert _config.AMBIGUOUS == {"iterations": ("deconvolve_iterations", "sharpen_iterations")}
    config = PrepConfig(steps="deconvolve", deconvolve_iterations=3, sharpen={"iterations": 5}, method="linear")
    assert (config.deconvolve.iterations, config.sharpen.iterations) == (3, 5)
    assert {
        "deconvolve_iterations": 3,
        "sharpen_iterations": 5,
        "method": "linear",
    }.items() <= config.keywords().items()
    with pytest.raises(TypeError, match="'iterations' is an option of several steps; give deconvolve_iterations or"):
        PrepConfig(iterations=3)
    # the command line: --deconvolve-iterations and --sharpen-iterations, no --iterations (which one?)
    monkeypatch.setattr("aiapy.pipeline.OPTIONS", options)
    parser = build_parser()
    args = parser.parse_args(
        ["prep", "x.fits", "-o", "o", "--deconvolve-iterations", "3", "--sharpen-iterations", "5"]
    )
    assert prep_options(args) == {"deconvolve_iterations": 3, "sharpen_iterations": 5}
    with pytest.raises(SystemExit):
        parser.parse_args(["prep", "x.fits", "-o", "o", "--iterations", "3"])
