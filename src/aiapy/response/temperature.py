"""Temperature responses of the AIA channels, folded from the wavelength response and an emissivity table.

References
----------
.. [1] Boerner et al. 2012, Sol. Phys. 275, 41, section 2.5.
.. [2] SolarSoft ``aia_get_response.pro`` (``/temperature``, ``/dn``, ``/evenorm``, ``/chiantifix``,
       ``timedepend_date``) and ``aia_bp_area2tresp``.
"""

import logging
from typing import NamedTuple

import astropy.units as u
import numpy as np

from aiapy.calibrate.utils import LATEST_CORRECTION_VERSION
from aiapy.response.channel import Channel
from aiapy.response.emissivity import check_emissivity, chiantifix_correction, load_emissivity
from aiapy.utils.channels import validate_channel

__all__ = ["TemperatureResponse", "temperature_response", "RESPONSE_UNIT"]

log = logging.getLogger(__name__)

#: Unit of a temperature response: DN per pixel per second per unit emission measure (cm-5).
RESPONSE_UNIT = u.DN * u.cm**5 / (u.s * u.pix)


class TemperatureResponse(NamedTuple):
    """
    A temperature response.

    Attributes
    ----------
    temperature : (M,) `~astropy.units.Quantity`, K
        Temperatures of the emissivity table.
    response : (M,) or (..., M) `~astropy.units.Quantity`, DN cm5 s-1 pix-1
        Response at each temperature (one row per time for an array of times).
    """

    temperature: u.Quantity
    response: u.Quantity


def _bin_widths(wave):
    """
    Widths of the wavelength bins centred on ``wave``.

    A grid uniform to 1e-3 of its step (such as SolarSoft's 0.1 A grid stored in float32, whose differences
    scatter by 6e-5 A) gets its exact mean step; any other grid the centred differences.
    """
    steps = np.diff(wave)
    mean_step = (wave[-1] - wave[0]) / (wave.size - 1)
    if np.all(np.abs(steps - mean_step) <= 1e-3 * mean_step):
        return np.full(wave.shape, mean_step)
    return np.gradient(wave)


def _fold(response_wave, response, wave, values, plate_scale):
    """
    Fold a wavelength response (cm2 DN/ph on ``response_wave``) with emissivities (M, N) on ``wave``.

    The response is linearly interpolated onto ``wave`` (zero outside its range) and each bin weighted by
    its width; the result is in DN cm5 s-1 pix-1 given ``plate_scale`` in sr/pix.
    """
    on_grid = np.interp(wave, response_wave, response, left=0.0, right=0.0)
    return values @ (on_grid * _bin_widths(wave)) * plate_scale


@validate_channel("channel")
def temperature_response(
    channel,
    *,
    obstime=None,
    include_eve_correction=False,
    include_crosstalk=True,
    chiantifix=False,
    emissivity=None,
    instrument_file=None,
    correction_table=None,
    calibration_version=LATEST_CORRECTION_VERSION,
):
    """
    The temperature response of an AIA channel, SolarSoft's ``aia_get_response(/temperature, /dn)``.

    Parameters
    ----------
    channel : `~astropy.units.Quantity`
        An AIA channel, e.g. ``171 * u.AA``.
    obstime : `~astropy.time.Time`, optional
        Apply the degradation :math:`C_T(t)` at these time(s) (SolarSoft ``timedepend_date``). None: the
        response at launch.
    include_eve_correction : bool
        Apply the EVE normalisation :math:`C_E` (SolarSoft ``/evenorm``) of the epoch of ``obstime``,
        which is then required (no date is assumed); see `~aiapy.response.Channel.wavelength_response`.
        SolarSoft's default (``/evenorm`` without ``timedepend_date``) without ``chiantifix`` is
        ``temperature_response(channel).response * Channel(channel).eve_correction(REFERENCE_TIME)``.
    include_crosstalk : bool
        Include the cross-talk of the channel sharing the telescope (default, as SolarSoft; ``False`` is
        ``/noblend``).
    chiantifix : bool
        Add SolarSoft's empirical correction for lines missing from CHIANTI (``/chiantifix``; non-zero for
        94 Angstrom only). Needs ``include_eve_correction=True``, as SolarSoft forces ``/evenorm`` with it,
        and the bundled emissivity.
    emissivity : `~aiapy.response.Emissivity` or tuple, optional
        ``(temperature, wavelength, emissivity)`` Quantities (K, Angstrom, ph cm3 s-1 sr-1 Angstrom-1),
        e.g. computed with newer CHIANTI data. Default: `~aiapy.response.load_emissivity` (CHIANTI 9.0.1).
    instrument_file : None, str, path-like or mapping, optional
        Instrument data; see `~aiapy.response.Channel`.
    correction_table : `~astropy.table.QTable`, str or path-like, optional
        Degradation table for ``obstime`` and the EVE normalisation; default the bundled tables.
    calibration_version : int
        Calibration version of the table rows (default 10).

    Returns
    -------
    `TemperatureResponse`
        ``temperature`` (M,) in K and ``response`` in DN cm5 s-1 pix-1, shape (M,) or
        ``obstime.shape + (M,)`` for an array of times.

    Raises
    ------
    TypeError
        If ``channel``, ``obstime``, ``emissivity`` or ``instrument_file`` are of the wrong kind.
    ValueError
        For an unknown channel, bad instrument data or emissivity table, an emissivity table that does not
        overlap the channel's wavelengths, ``chiantifix`` without ``include_eve_correction``,
        ``include_eve_correction`` without ``obstime``, or a time outside the degradation table.
    NotImplementedError
        For ``chiantifix`` with a user-supplied emissivity table.

    Notes
    -----
    For a unit volume emission measure :math:`n_e n_H` along the line of sight,

    .. math::

        K(T) = \\Omega_{\\rm pix} \\int R(\\lambda)\\,\\varepsilon(T, \\lambda)\\,d\\lambda

    where :math:`R` is the wavelength response (cm2 DN/ph, with cross-talk, without time corrections),
    :math:`\\varepsilon` the emissivity per steradian (ph cm3 s-1 sr-1 Angstrom-1) and :math:`\\Omega_{\\rm pix}`
    the solid angle of a pixel (sr/pix). The integral is a sum over the emissivity's wavelength bins, with
    :math:`R` linearly interpolated onto them. The corrections combine as in SolarSoft,

    .. math::

        K(T, t) = \\left[K_0(T)\\,C_E + K_{\\rm fix}(T)\\right] C_T(t).

    With the bundled data this reproduces the SolarSoft V10 responses (the peaks, e.g. 171 Angstrom
    1.25e-24 DN cm5 s-1 pix-1 at log T 5.90, to their quoted three digits).

    References
    ----------
    .. [1] Boerner et al. 2012, Sol. Phys. 275, 41, section 2.5.
    .. [2] Boerner et al. 2014, Sol. Phys. 289, 2377 (EVE normalisation, missing 94 Angstrom lines).
    .. [3] SolarSoft ``aia_get_response.pro``.

    Examples
    --------
    >>> import astropy.units as u
    >>> import numpy as np
    >>> t, k = temperature_response(171 * u.AA)
    >>> float(np.log10(t[np.argmax(k)].to_value(u.K)))  # doctest: +FLOAT_CMP
    5.9
    """
    if chiantifix and not include_eve_correction:
        raise ValueError(
            "chiantifix=True needs include_eve_correction=True: the empirical correction is calibrated against "
            "EVE-normalised responses (SolarSoft forces /evenorm with /chiantifix)."
        )
    if chiantifix and emissivity is not None:
        raise NotImplementedError(
            "chiantifix corrects the bundled CHIANTI 9.0.1 emissivity only; it cannot be combined with a "
            "user-supplied emissivity table."
        )
    table = load_emissivity() if emissivity is None else emissivity
    temperature, wave, values = check_emissivity(table)
    response_channel = Channel(channel, instrument_file=instrument_file)
    response_wave = response_channel.wavelength.to_value(u.AA)
    if wave[-1] < response_wave[0] or wave[0] > response_wave[-1]:
        raise ValueError(
            f"The emissivity table's wavelengths ({wave[0]:g}-{wave[-1]:g} Angstrom) do not overlap those of the "
            f"{response_channel.name} Angstrom channel ({response_wave[0]:g}-{response_wave[-1]:g} Angstrom)."
        )
    degradation_factor, eve_factor = response_channel._correction_factors(
        obstime, include_eve_correction, correction_table, calibration_version
    )
    raw = response_channel.wavelength_response(include_crosstalk=include_crosstalk)
    folded = _fold(
        response_wave,
        raw.to_value(u.cm**2 * u.DN / u.ph),
        wave,
        values,
        response_channel.plate_scale.to_value(u.sr / u.pix),
    )
    fix = chiantifix_correction(response_channel.name) if chiantifix else 0.0
    response = (folded * eve_factor + fix) * degradation_factor
    log.debug("Temperature response of %s A: peak %.3e", response_channel.name, np.max(response))
    return TemperatureResponse(u.Quantity(temperature, u.K), u.Quantity(response, RESPONSE_UNIT))
