"""Matplotlib helpers: wavelength responses, degradation curves and temperature responses of AIA channels.

Each helper draws on ``axes`` (a new figure's axes when None) and returns the axes. Matplotlib is imported
only when a helper is called.
"""

import astropy.units as u
import numpy as np

from aiapy.calibrate.degradation import degradation
from aiapy.calibrate.utils import LATEST_CORRECTION_VERSION
from aiapy.response.channel import Channel
from aiapy.response.temperature import temperature_response
from aiapy.utils.channels import EUV_CHANNELS, check_channel

__all__ = ["plot_wavelength_responses", "plot_degradation_curves", "plot_temperature_responses"]

# One colour per channel, the same in every plot (matplotlib's tab10 cycle, in channel order).
_CHANNEL_ORDER = (94, 131, 171, 193, 211, 304, 335, 1600, 1700, 4500)
# Line style by calibration version: version 10 solid, 9 dash-dotted, 8 dashed, older dotted.
_VERSION_STYLES = {10: "-", 9: "-.", 8: "--"}


def _color(channel):
    return f"C{_CHANNEL_ORDER.index(round(channel.to_value(u.AA)))}"


def _channels(channels):
    return [check_channel(channel) for channel in u.Quantity(channels).ravel()]


def _axes(axes):
    if axes is not None:
        return axes
    import matplotlib.pyplot as plt  # noqa: PLC0415 (matplotlib is optional and slow to import)

    return plt.figure().add_subplot()


def _plot_responses(channels, axes, curve, *, xlabel, ylabel):
    """
    Draw ``curve(channel) -> (x, response, label)`` of each channel on a logarithmic y axis (values <= 0
    left out), then label the axes.
    """
    channels = _channels(channels)
    axes = _axes(axes)
    for channel in channels:
        x, response, label = curve(channel)
        axes.plot(x, np.where(response.value > 0, response.value, np.nan), color=_color(channel), label=label)
    axes.set_yscale("log")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(f"{ylabel} [{response.unit.to_string('latex_inline')}]")
    axes.legend(ncol=2, frameon=False)
    return axes


def plot_wavelength_responses(channels=EUV_CHANNELS, *, axes=None, instrument_file=None, **response_kwargs):
    """
    Plot the wavelength responses of several channels on a logarithmic axis.

    Parameters
    ----------
    channels : `~astropy.units.Quantity`
        Channels to plot (default the seven EUV channels).
    axes : `matplotlib.axes.Axes`, optional
        Where to draw; a new figure when None.
    instrument_file : optional
        See `~aiapy.response.Channel`.
    **response_kwargs
        Passed to `~aiapy.response.Channel.wavelength_response` (``obstime``, ``include_eve_correction``, ...).

    Returns
    -------
    `matplotlib.axes.Axes`
    """

    def curve(channel):
        response_channel = Channel(channel, instrument_file=instrument_file)
        response = response_channel.wavelength_response(**response_kwargs)
        return response_channel.wavelength.to_value(u.AA), response, f"{response_channel.name} Å"

    return _plot_responses(channels, axes, curve, xlabel="Wavelength [Å]", ylabel="Wavelength response")


def plot_degradation_curves(
    obstime,
    *,
    channels=EUV_CHANNELS,
    calibration_versions=(LATEST_CORRECTION_VERSION,),
    correction_table=None,
    axes=None,
):
    """
    Plot the degradation factor :math:`C_T(t)` of several channels over time.

    Parameters
    ----------
    obstime : `~astropy.time.Time`
        Times to evaluate (an array, e.g. a monthly grid over the mission).
    channels : `~astropy.units.Quantity`
        Channels to plot (default the seven EUV channels).
    calibration_versions : sequence of int
        One curve per channel and version; version 10 solid, 9 dash-dotted, 8 dashed, older dotted.
    correction_table : optional
        See `aiapy.calibrate.degradation.degradation`.
    axes : `matplotlib.axes.Axes`, optional
        Where to draw; a new figure when None.

    Returns
    -------
    `matplotlib.axes.Axes`

    Raises
    ------
    ValueError
        As `~aiapy.calibrate.degradation.degradation` (a version missing from the table, a time outside it).
    """
    channels = _channels(channels)
    axes = _axes(axes)
    dates = obstime.to_datetime()
    for version in calibration_versions:
        style = _VERSION_STYLES.get(version, ":")
        for channel in channels:
            factor = degradation(channel, obstime, correction_table=correction_table, calibration_version=version)
            axes.plot(
                dates,
                factor.value.reshape(dates.shape),
                color=_color(channel),
                linestyle=style,
                label=f"{channel.to_value(u.AA):.0f} Å (V{version})",
            )
    axes.set_xlabel("Time")
    axes.set_ylabel("Degradation factor $C_T$")
    axes.legend(ncol=2, frameon=False)
    return axes


def plot_temperature_responses(channels=EUV_CHANNELS, *, axes=None, **response_kwargs):
    """
    Plot the temperature responses of several channels against log T.

    Parameters
    ----------
    channels : `~astropy.units.Quantity`
        Channels to plot (default the seven EUV channels).
    axes : `matplotlib.axes.Axes`, optional
        Where to draw; a new figure when None.
    **response_kwargs
        Passed to `~aiapy.response.temperature_response` (a scalar ``obstime`` at most).

    Returns
    -------
    `matplotlib.axes.Axes`
    """

    def curve(channel):
        temperature, response = temperature_response(channel, **response_kwargs)
        return np.log10(temperature.to_value(u.K)), response, f"{channel.to_value(u.AA):.0f} Å"

    return _plot_responses(channels, axes, curve, xlabel=r"$\log_{10} T$ [K]", ylabel="Temperature response")
