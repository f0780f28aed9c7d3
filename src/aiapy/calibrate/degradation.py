"""Degradation of the AIA channels over the mission, and its correction.

The AIA team models the loss of sensitivity of each channel as a sequence of epochs. Within the epoch
that contains time :math:`t`, starting at :math:`t_e`,

.. math::

    C_T(t) = \\frac{A_{\\rm eff}(t_e)}{A_{\\rm eff}(t_0)}\\,(1 + p_1\\,\\delta t + p_2\\,\\delta t^2 + p_3\\,\\delta t^3),
    \\qquad \\delta t = t - t_e \\ \\text{(days)},

where :math:`A_{\\rm eff}(t_0)` is the effective area of the channel's first epoch in the chosen
calibration version.

References
----------
.. [1] Boerner et al. 2014, Sol. Phys. 289, 2377 (doi:10.1007/s11207-013-0452-z).
.. [2] SolarSoft ``aia_bp_corrections.pro`` and ``aia_get_response.pro`` (``timedepend_date``).
"""

import logging

import astropy.units as u
import numpy as np
from astropy.time import Time

from aiapy.calibrate.utils import LATEST_CORRECTION_VERSION, get_correction_table
from aiapy.utils.channels import validate_channel
from aiapy.utils.header import header_changes, with_changes
from aiapy.utils.maps import (
    Division,
    applied_flag,
    check_not_applied,
    divide_map,
    observation_time,
    require_keys,
)
from aiapy.utils.times import quiet_erfa

__all__ = ["degradation", "correct_degradation", "has_calibration", "select_epochs"]

log = logging.getLogger(__name__)

_UV_VISIBLE = (1600, 1700, 4500)


def _wave_str(channel):
    wavelength = round(channel.to_value(u.AA))
    return f"{wavelength}" if wavelength in _UV_VISIBLE else f"{wavelength}_THIN"


def _channel_rows(channel, correction_table, calibration_version):
    """The rows of ``channel`` and ``calibration_version`` (clamped to 3 for 4500 A), and that version."""
    wave_str = _wave_str(channel)
    version = min(calibration_version, 3) if wave_str == "4500" else calibration_version
    selected = (np.asarray(correction_table["WAVE_STR"]) == wave_str) & (
        np.asarray(correction_table["VER_NUM"]) == version
    )
    return correction_table[selected], version


def has_calibration(channel, correction_table, *, calibration_version=LATEST_CORRECTION_VERSION):
    """
    Whether ``correction_table`` holds a calibration of ``channel`` in ``calibration_version`` (for 4500 A: in
    version 3, the last with one; the bundled tables, versions 10 and 8, have none).
    """
    return len(_channel_rows(channel, correction_table, calibration_version)[0]) > 0


def select_epochs(channel, obstime, correction_table, *, calibration_version=LATEST_CORRECTION_VERSION):
    """
    The reference (first) epoch and, for each time, the epoch row that contains it.

    Rows are those of ``channel`` and ``calibration_version`` (clamped to 3 for 4500 A, the last version
    with a 4500 A calibration). For each time the *last* row with ``T_START <= t < T_STOP`` is used.

    Parameters
    ----------
    channel : `~astropy.units.Quantity`
        Validated channel in Angstrom.
    obstime : `~astropy.time.Time`
        One or more times.
    correction_table : `~astropy.table.QTable`
        As returned by `~aiapy.calibrate.utils.get_correction_table`.
    calibration_version : int
        Calibration version.

    Returns
    -------
    first : `~astropy.table.Row`
        The channel's first epoch (the "launch" reference).
    epochs : `~astropy.table.QTable`
        One row per time (flattened), the epoch containing it.

    Raises
    ------
    ValueError
        If the table has no row for this channel and version, or a time lies outside every epoch.
    """
    rows, version = _channel_rows(channel, correction_table, calibration_version)
    wave_str = _wave_str(channel)
    if len(rows) == 0:
        versions = sorted(set(np.asarray(correction_table["VER_NUM"]).tolist()))
        raise ValueError(
            f"Correction table does not contain calibration for {channel.to(u.AA):.0f} and version {version}. "
            f"It holds versions {versions}; get others with get_correction_table('jsoc') (every version) "
            "or from SolarSoft ($SSW/sdo/aia/response/aia_V*_response_table.txt)."
        )
    times = Time(obstime).ravel()
    with quiet_erfa():
        start = rows["T_START"].tai.mjd
        stop = rows["T_STOP"].tai.mjd
        t = times.tai.mjd
    inside = (start[np.newaxis, :] <= t[:, np.newaxis]) & (t[:, np.newaxis] < stop[np.newaxis, :])
    if not inside.any(axis=1).all():
        bad = times[~inside.any(axis=1)][0]
        raise ValueError(
            f"No valid calibration epoch for {bad.isot} ({channel.to(u.AA):.0f}, version {version}); "
            f"the table covers {rows['T_START'].min().isot} to {rows['T_STOP'].max().isot}."
        )
    # Last matching row for each time: argmax on the reversed matrix.
    last = inside.shape[1] - 1 - np.argmax(inside[:, ::-1], axis=1)
    if (inside.sum(axis=1) > 1).any():
        log.debug("Several epochs match some times for %s; using the last matching row.", wave_str)
    return rows[0], rows[last]


def _degradation_factor(first, epochs, times):
    with quiet_erfa():
        dt = (times - epochs["T_START"]).to_value(u.day)
    ratio = (epochs["EFF_AREA"] / first["EFF_AREA"]).to_value(u.dimensionless_unscaled)
    polynomial = 1 + epochs["EFFA_P1"] * dt + epochs["EFFA_P2"] * dt**2 + epochs["EFFA_P3"] * dt**3
    return ratio * np.asarray(polynomial, dtype=float)


@validate_channel("channel")
@u.quantity_input
def degradation(
    channel: u.AA, obstime, *, correction_table=None, calibration_version=LATEST_CORRECTION_VERSION
) -> u.dimensionless_unscaled:
    """
    The degradation factor :math:`C_T(t)` of an AIA channel at one or more times.

    Parameters
    ----------
    channel : `~astropy.units.Quantity`
        AIA channel, e.g. ``335 * u.AA``.
    obstime : `~astropy.time.Time`
        Time(s), scalar or array. Required: the factor changes by up to several percent a month, so it is
        never taken from the clock. For a map, `aiapy.utils.maps.observation_time` reads it from the header.
    correction_table : `~astropy.table.QTable`, str or path-like, optional
        A table from `~aiapy.calibrate.utils.get_correction_table`, or a source for it. Default: the
        bundled tables (versions 10 and 8), offline.
    calibration_version : int
        Calibration version (default 10, the newest). 4500 A is calibrated up to version 3 only.

    Returns
    -------
    `~astropy.units.Quantity`
        Dimensionless factor, shape ``obstime.shape`` (a scalar time gives shape ``(1,)``). Divide an image
        by it to correct for degradation.

    Raises
    ------
    TypeError
        If ``channel`` is not a Quantity, or ``obstime`` is not a Time.
    ValueError
        For an unknown channel, a version missing from the table, or a time outside every epoch.

    Notes
    -----
    .. math::

        C_T(t) = \\frac{A_{\\rm eff}(t_e)}{A_{\\rm eff}(t_0)}(1 + p_1\\delta t + p_2\\delta t^2 + p_3\\delta t^3)

    with :math:`t_e` the start of the epoch containing :math:`t`, :math:`\\delta t = t - t_e` in days
    (a TAI difference), and :math:`t_0` the first epoch of the channel and version.

    References
    ----------
    .. [1] Boerner et al. 2014, Sol. Phys. 289, 2377.
    .. [2] SolarSoft ``aia_bp_corrections.pro``.

    Examples
    --------
    >>> import astropy.units as u
    >>> from astropy.time import Time
    >>> degradation(94 * u.AA, Time("2015-01-01T00:00:00"), calibration_version=8)  # doctest: +FLOAT_CMP
    <Quantity [0.76671089]>
    """
    if not isinstance(obstime, Time):
        raise TypeError(
            f"obstime must be an astropy Time, not {type(obstime).__name__}: the degradation depends on it. "
            "For a map, pass aiapy.utils.maps.observation_time(smap, function=...) (or use correct_degradation)."
        )
    if isinstance(calibration_version, bool) or not isinstance(calibration_version, int | np.integer):
        raise TypeError(f"calibration_version must be an integer, not {calibration_version!r}.")
    if not hasattr(correction_table, "colnames"):
        correction_table = get_correction_table(correction_table)
    times = Time(obstime).ravel()
    first, epochs = select_epochs(channel, times, correction_table, calibration_version=calibration_version)
    factor = _degradation_factor(first, epochs, times)
    shape = obstime.shape if obstime.shape else (1,)
    return u.Quantity(factor.reshape(shape))


def correct_degradation(
    smap, *, obstime=None, correction_table=None, calibration_version=LATEST_CORRECTION_VERSION
):
    """
    Divide an AIA map by its channel's degradation factor at the observation time.

    Parameters
    ----------
    smap : `~sunpy.map.sources.AIAMap`
        Level-1 or level-1.5 AIA map, not corrected before.
    obstime : `~astropy.time.Time`, optional
        A scalar time at which to take the factor. None (default): the map's DATE-OBS, or T_OBS when
        DATE-OBS is missing (with a warning; they differ by half the exposure, which changes the factor by
        less than 1e-8), through `aiapy.utils.maps.observation_time`. Never the current time.
    correction_table : `~astropy.table.QTable`, str or path-like, optional
        See `degradation`.
    calibration_version : int
        See `degradation`.

    Returns
    -------
    `~sunpy.map.sources.AIAMap`
        A new map; its dtype follows `~aiapy.utils.dtypes.supported_float_type` (float16 and float32 give
        float32, integers float64). HISTORY records the factor, the calibration version and the time used;
        the header flag ``DEGCORR = T`` records the correction.

    Raises
    ------
    TypeError
        If ``smap`` is not an AIA map, or ``obstime`` is not a scalar Time.
    KeyError
        If ``obstime`` is None and the header has neither DATE-OBS nor T_OBS, or WAVELNTH is missing.
    ValueError
        If the map was corrected for degradation before (``DEGCORR = T``, or the HISTORY line of an earlier
        aiapy), or the time is unreadable or outside every epoch of the table.
    """
    division = degradation_division(
        smap, obstime=obstime, correction_table=correction_table, calibration_version=calibration_version
    )
    return divide_map(smap, division)


def degradation_division(smap, *, obstime=None, correction_table=None, calibration_version=LATEST_CORRECTION_VERSION):
    """The `~aiapy.utils.maps.Division` that `correct_degradation` applies to ``smap`` (checked first)."""
    changes = header_changes(smap, function="correct_degradation")
    smap = with_changes(smap, changes)  # what divide_map writes too (Division.meta)
    check_not_applied(smap, function="correct_degradation")
    require_keys(smap, ["WAVELNTH"], function="correct_degradation")
    if obstime is None:
        obstime = observation_time(smap, function="correct_degradation")
        source = "from the header"
    elif not (isinstance(obstime, Time) and obstime.isscalar):
        raise TypeError(f"obstime must be a scalar astropy Time or None, not {obstime!r}.")
    else:
        source = "given"
    factor = degradation(
        smap.wavelength, obstime, correction_table=correction_table, calibration_version=calibration_version
    ).to_value(u.dimensionless_unscaled)[0]
    history = (
        f"correct_degradation: divided by {factor:.8f} (calibration version {calibration_version}, "
        f"time {obstime.utc.isot} {source})"
    )
    return Division(factor, history, changes | applied_flag("correct_degradation"))
