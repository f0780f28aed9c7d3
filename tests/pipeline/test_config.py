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
from aiapy.utils.options import Options

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
