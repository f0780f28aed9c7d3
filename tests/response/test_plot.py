"""The plotting helpers of aiapy.response and the responses example script."""

import importlib.util
from pathlib import Path

import astropy.units as u
import matplotlib
import numpy as np
import pytest
from astropy.time import Time

from aiapy.calibrate import degradation
from aiapy.response import Channel, temperature_response
from aiapy.response.plot import plot_degradation_curves, plot_temperature_responses, plot_wavelength_responses
from aiapy.utils.channels import EUV_CHANNELS

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 (after choosing the backend)

DEMO = Path(__file__).parents[2] / "docs" / "examples" / "demo.py"


@pytest.fixture
def axes():
    fig, axes = plt.subplots()
    yield axes
    plt.close(fig)


def test_wavelength_responses(axes):
    assert plot_wavelength_responses(axes=axes) is axes
    lines = axes.get_lines()
    assert [line.get_label() for line in lines] == [f"{c.value:.0f} Å" for c in EUV_CHANNELS]
    response = Channel(171 * u.AA).wavelength_response().value
    np.testing.assert_array_equal(lines[2].get_ydata(), np.where(response > 0, response, np.nan))
    assert axes.get_yscale() == "log"


def test_wavelength_responses_new_figure():
    axes = plot_wavelength_responses([94, 335] * u.AA, obstime=Time("2015-01-01"))
    try:
        assert len(axes.get_lines()) == 2
        expected = Channel(335 * u.AA).wavelength_response(obstime=Time("2015-01-01")).value
        np.testing.assert_array_equal(axes.get_lines()[1].get_ydata(), np.where(expected > 0, expected, np.nan))
    finally:
        plt.close(axes.figure)


def test_degradation_curves(axes):
    times = Time(["2011-01-01", "2015-01-01", "2020-01-01"])
    plot_degradation_curves(times, channels=[94, 335] * u.AA, calibration_versions=(10, 8), axes=axes)
    lines = axes.get_lines()
    assert [line.get_label() for line in lines] == ["94 Å (V10)", "335 Å (V10)", "94 Å (V8)", "335 Å (V8)"]
    assert [line.get_linestyle() for line in lines] == ["-", "-", "--", "--"]
    assert lines[0].get_color() == lines[2].get_color()
    np.testing.assert_array_equal(lines[3].get_ydata(), degradation(335 * u.AA, times, calibration_version=8).value)


def test_temperature_responses(axes):
    plot_temperature_responses([171, 193] * u.AA, axes=axes)
    temperature, response = temperature_response(193 * u.AA)
    x, y = axes.get_lines()[1].get_data()
    np.testing.assert_allclose(x, np.log10(temperature.value), rtol=1e-15)
    np.testing.assert_array_equal(y, np.where(response.value > 0, response.value, np.nan))


def test_bad_channel(axes):
    with pytest.raises(ValueError, match="not in list of valid channels"):
        plot_wavelength_responses([171, 172] * u.AA, axes=axes)
    with pytest.raises(ValueError, match="No valid calibration epoch"):
        plot_degradation_curves(Time(["2009-01-01"]), axes=axes)


def test_demo_response_figures(tmp_path):
    """The demo's response figures (``make demo``; README images) are drawn with these helpers."""
    spec = importlib.util.spec_from_file_location("demo", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    paths = module.response_figures(tmp_path / "figures")
    names = ["wavelength_responses.png", "degradation_curves.png", "temperature_responses.png"]
    assert [p.name for p in paths] == names
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 20_000
