"""The `Channel` class: effective area, gain and wavelength response of one AIA channel.

References
----------
.. [1] Boerner et al. 2012, Sol. Phys. 275, 41 (doi:10.1007/s11207-011-9804-8), section 2.
.. [2] SolarSoft ``aia_get_response.pro`` (``/area``, ``/dn``, ``/noblend``, ``/evenorm``,
       ``timedepend_date``) and ``aia_bp_corrections.pro``.
"""

import astropy.constants as const
import astropy.units as u
import numpy as np
from astropy.time import Time

from aiapy import net as _net
from aiapy.calibrate.degradation import degradation, select_epochs
from aiapy.calibrate.utils import LATEST_CORRECTION_VERSION, get_correction_table
from aiapy.data._registry import REMOTE_FILES
from aiapy.net.sources import INSTRUMENT_FILES
from aiapy.response.instrument import channel_data, load_instrument_data
from aiapy.utils.channels import FUV_CHANNELS, channel_key, check_channel, telescope_number, validate_channel

__all__ = ["AIA_INSTRUMENT_FILE", "Channel", "REFERENCE_TIME", "URL_HASH", "VERSION_NUMBER"]

#: The date of SolarSoft's default response (``aia_get_response`` without ``timedepend_date``). Pass it
#: as ``obstime`` to get SolarSoft's default epoch explicitly; aiapy never assumes a date.
REFERENCE_TIME = Time("2010-05-01T00:00:00", scale="utc")

#: Version of the SolarSoft instrument files whose values `Channel` uses by default: V8, as aiapy 0.12.
#: The FUV channels (1600, 1700, 4500) are read from ``aia_V8_fuv_fullinst.genx``, fetched from the
#: SolarSoft mirrors (SHA-256 pinned in the data registry); the EUV channels from the bundled arrays of
#: ``aia_V9_all_fullinst.genx``, whose EUV effective areas equal V8's (the V8 EUV file itself can be
#: fetched with ``aiapy.net.instrument_file("euv")`` and passed as ``instrument_file=``).
VERSION_NUMBER = 8
#: Path of the instrument files under a SolarSoft mirror root: ``AIA_INSTRUMENT_FILE.format(VERSION_NUMBER,
#: "fuv")`` (or ``"all"`` for EUV).
AIA_INSTRUMENT_FILE = "sdo/aia/response/aia_V{}_{}_fullinst.genx"
#: SHA-256 of those files, ``URL_HASH[VERSION_NUMBER]["euv" | "fuv"]`` as in aiapy 0.12 (from the data registry,
#: against which every download is checked).
URL_HASH = {VERSION_NUMBER: {kind: REMOTE_FILES[name].sha256 for kind, name in INSTRUMENT_FILES.items()}}

_FUV_NAMES = frozenset(channel_key(c) for c in FUV_CHANNELS)

# Channels that share a telescope and see each other's light (Boerner et al. 2012, section 2.3).
_CROSSTALK_PARTNER = {"94": "304", "304": "94", "131": "335", "335": "131"}
# h c in eV Angstrom.
_HC_EV_ANGSTROM = (const.h * const.c).to_value(u.eV * u.AA)


def _check_obstime(obstime, *, function):
    if obstime is None:
        raise ValueError(
            f"{function} needs obstime, the observation time: the correction depends on the calibration "
            "epoch and aiapy never assumes a date (neither today's nor a default). Pass e.g. "
            "obstime=smap.date, or obstime=aiapy.response.REFERENCE_TIME for SolarSoft's default epoch."
        )
    if not isinstance(obstime, Time):
        raise TypeError(f"obstime must be an astropy Time, not {type(obstime).__name__}.")


def _table(correction_table):
    return correction_table if hasattr(correction_table, "colnames") else get_correction_table(correction_table)


class Channel:
    """
    One AIA channel: its optics, effective area, gain and wavelength response.

    Parameters
    ----------
    channel : `~astropy.units.Quantity`
        An AIA channel, e.g. ``335 * u.AA``.
    instrument_file : None, str, path-like or mapping, optional
        * None (default): for the EUV channels, the bundled SolarSoft V9 EUV instrument data (whose areas
          equal V8 and V10); for 1600, 1700 and 4500 A, the SolarSoft file
          ``sdo/aia/response/aia_V8_fuv_fullinst.genx``, downloaded once from the SolarSoft mirrors
          (`aiapy.net.config` ``ssw_mirrors``), checked against its pinned SHA-256 and cached;
        * a path: a SolarSoft ``aia_V*_fullinst.genx`` file, read with `sunpy.io.special.read_genx`;
        * a mapping: such a file already read (its ``A<channel>_FULL`` structures).

    Raises
    ------
    TypeError
        If ``channel`` is not a Quantity or ``instrument_file`` is of the wrong kind.
    ValueError
        For an unknown channel, or instrument data that lack the channel or one of its arrays.
    FileNotFoundError
        If ``instrument_file`` is a path that does not exist.
    aiapy.net.RemoteUnavailableError
        (An `OSError`.) For an FUV channel without ``instrument_file`` when no mirror delivers the FUV file
        (and it is not cached); the message names the file to pass instead.
    aiapy.data.DataIntegrityError
        If every copy of the FUV file downloaded has another SHA-256 than the pinned one.

    Notes
    -----
    The effective area is the product of the geometrical area and the efficiencies of the optics,

    .. math::

        A_{\\rm eff}(\\lambda) = A_{\\rm geo}\\,R_P(\\lambda)\\,R_S(\\lambda)\\,T_E(\\lambda)\\,T_F(\\lambda)
        \\,D(\\lambda)\\,Q(\\lambda),

    and the wavelength response is :math:`R(\\lambda, t) = (A_{\\rm eff} + A_{\\rm cross})\\,G\\,C_T(t)\\,C_E`,
    with the gain :math:`G`, the cross-talk area :math:`A_{\\rm cross}`, the degradation :math:`C_T` and the
    EVE normalisation :math:`C_E` described in the properties and methods below.

    References
    ----------
    .. [1] Boerner et al. 2012, Sol. Phys. 275, 41.
    .. [2] SolarSoft ``aia_get_response.pro``.

    Examples
    --------
    >>> import astropy.units as u
    >>> c = Channel(335 * u.AA)
    >>> c.geometrical_collecting_area
    <Quantity 83. cm2>
    >>> c.telescope_number
    1
    """

    @validate_channel("channel")
    def __init__(self, channel, *, instrument_file=None):
        self._channel = check_channel(channel)  # the exact Angstrom member (17.1 nm -> 171 A)
        if instrument_file is None and self.is_fuv:
            instrument_file = _net.instrument_file("fuv")
        self._instrument_data = load_instrument_data(instrument_file)
        self._data = channel_data(self._instrument_data, self.name)

    def __repr__(self):
        return f"<aiapy.response.Channel {self.name} Angstrom (telescope {self.telescope_number})>"

    # Identity -----------------------------------------------------------------------------------------
    @property
    @u.quantity_input
    def channel(self) -> u.AA:
        """The channel's nominal wavelength."""
        return self._channel

    @property
    def name(self):
        """The channel's name, e.g. ``'94'``."""
        return f"{self._channel.to_value(u.AA):.0f}"

    @property
    def telescope_number(self):
        """The telescope (and camera) number, 1-4."""
        return telescope_number(self._channel)

    @property
    def is_fuv(self):
        """True for the UV and visible channels (1600, 1700, 4500)."""
        return self.name in _FUV_NAMES

    # Optics -------------------------------------------------------------------------------------------
    @property
    @u.quantity_input
    def wavelength(self) -> u.AA:
        """(N,) wavelengths of the instrument data (``wave``)."""
        return u.Quantity(self._data["wave"], u.AA)

    @property
    @u.quantity_input
    def primary_reflectance(self) -> u.dimensionless_unscaled:
        """(N,) reflectance :math:`R_P` of the primary mirror (``primary``)."""
        return u.Quantity(self._data["primary"])

    @property
    @u.quantity_input
    def secondary_reflectance(self) -> u.dimensionless_unscaled:
        """(N,) reflectance :math:`R_S` of the secondary mirror (``secondary``)."""
        return u.Quantity(self._data["secondary"])

    @property
    @u.quantity_input
    def focal_plane_filter_efficiency(self) -> u.dimensionless_unscaled:
        """(N,) transmission :math:`T_F` of the focal-plane filter (``fp_filter``)."""
        return u.Quantity(self._data["fp_filter"])

    @property
    @u.quantity_input
    def entrance_filter_efficiency(self) -> u.dimensionless_unscaled:
        """(N,) transmission :math:`T_E` of the entrance filter (``ent_filter``)."""
        return u.Quantity(self._data["ent_filter"])

    @property
    @u.quantity_input
    def quantum_efficiency(self) -> u.dimensionless_unscaled:
        """(N,) quantum efficiency :math:`Q` of the CCD (``ccd``)."""
        return u.Quantity(self._data["ccd"])

    @property
    @u.quantity_input
    def contamination(self) -> u.dimensionless_unscaled:
        """(N,) transmission :math:`D` of the contamination (``contam``); ``[1]`` when absent (FUV)."""
        return u.Quantity(self._data.get("contam", np.ones(1)))

    @property
    @u.quantity_input
    def geometrical_collecting_area(self) -> u.cm**2:
        """Geometrical collecting area :math:`A_{\\rm geo}` (``geoarea``)."""
        return u.Quantity(self._data["geoarea"], u.cm**2)

    @property
    @u.quantity_input
    def plate_scale(self) -> u.sr / u.pix:
        """Solid angle of one pixel (``platescale``)."""
        return u.Quantity(self._data["platescale"], u.sr / u.pix)

    @property
    @u.quantity_input
    def effective_area(self) -> u.cm**2:
        """
        (N,) effective area, the product of the geometrical area and every efficiency.

        .. math::

            A_{\\rm eff} = A_{\\rm geo}\\,R_P\\,R_S\\,T_E\\,T_F\\,D\\,Q
        """
        return u.Quantity(_area(self._data, self._data), u.cm**2)

    @property
    @u.quantity_input
    def crosstalk(self) -> u.cm**2:
        """
        (N,) effective area for light of the other channel of the same telescope (zero for most channels).

        94 and 304 share telescope 4, 131 and 335 telescope 1: light passing the other half's mirrors,
        entrance filter and reaching the shared CCD through this channel's focal-plane filter is

        .. math::

            A_{\\rm cross} = A_{\\rm geo}'\\,R_P'\\,R_S'\\,T_E'\\,T_F\\,D'\\,Q',

        primes marking the partner channel.
        """
        partner = _CROSSTALK_PARTNER.get(self.name)
        if partner is None:
            return u.Quantity(np.zeros_like(self._data["wave"]), u.cm**2)
        partner_data = channel_data(self._instrument_data, partner)
        if partner_data["wave"].shape != self._data["wave"].shape:
            raise ValueError(
                f"The {partner} and {self.name} Angstrom instrument data have different wavelength grids; "
                "cross-talk needs them on the same grid."
            )
        return u.Quantity(_area(partner_data, self._data), u.cm**2)

    @property
    @u.quantity_input
    def gain(self) -> u.DN / u.ph:
        """
        (N,) camera gain, DN per incident photon.

        .. math::

            G(\\lambda) = \\frac{hc/\\lambda \\cdot e_{\\rm eV}}{e_{\\rm DN}}

        with :math:`e_{\\rm eV}` the electrons per eV (``elecperev``, 1/3.65) and :math:`e_{\\rm DN}` the
        electrons per DN (``elecperdn``). No floor of one electron per photon is applied (aiapy <= 0.7
        had one; it only matters beyond 3400 Angstrom).
        """
        electrons = self._data["elecperev"] * _HC_EV_ANGSTROM / self._data["wave"]
        return u.Quantity(electrons / self._data["elecperdn"], u.DN / u.ph)

    # Corrections and response -------------------------------------------------------------------------
    def eve_correction(self, obstime, correction_table=None, calibration_version=LATEST_CORRECTION_VERSION):
        """
        The EVE normalisation :math:`C_E` of the channel.

        Parameters
        ----------
        obstime : `~astropy.time.Time`
            Time(s); selects the epoch, whose ``EFF_WVLN`` is used.
        correction_table : `~astropy.table.QTable`, str or path-like, optional
            See `aiapy.calibrate.degradation.degradation`; default the bundled tables.
        calibration_version : int
            Calibration version (default 10).

        Returns
        -------
        `~astropy.units.Quantity`
            Dimensionless, shape ``obstime.shape``.

        Raises
        ------
        TypeError
            If ``obstime`` is not a Time.
        ValueError
            If ``obstime`` is None (no date is ever assumed), the table lacks the channel or version, or a
            time lies outside every epoch.

        Notes
        -----
        .. math::

            C_E = \\frac{A_{\\rm EVE}(t_0)}{A_{\\rm eff}(\\lambda_E)}

        with :math:`A_{\\rm EVE}(t_0)` the ``EFF_AREA`` of the channel's first epoch (the effective area
        cross-calibrated against SDO/EVE) and :math:`A_{\\rm eff}(\\lambda_E)` the instrument effective
        area (no cross-talk) linearly interpolated at ``EFF_WVLN`` of the epoch containing the time.

        References
        ----------
        .. [1] Boerner et al. 2014, Sol. Phys. 289, 2377.
        .. [2] SolarSoft ``aia_bp_corrections.pro`` (``/evenorm``).

        Examples
        --------
        >>> import astropy.units as u
        >>> from astropy.time import Time
        >>> Channel(94 * u.AA).eve_correction(Time("2015-01-01"), calibration_version=8)  # doctest: +FLOAT_CMP
        <Quantity 1.01403862>
        """
        _check_obstime(obstime, function="eve_correction")
        first, epochs = select_epochs(
            self._channel, obstime, _table(correction_table), calibration_version=calibration_version
        )
        reference = first["EFF_AREA"].to_value(u.cm**2)
        at_wavelength = np.interp(
            epochs["EFF_WVLN"].to_value(u.AA), self._data["wave"], self.effective_area.to_value(u.cm**2)
        )
        return u.Quantity((reference / at_wavelength).reshape(obstime.shape))

    def _correction_factors(self, obstime, include_eve_correction, correction_table, calibration_version):
        """(C_T, C_E) as plain arrays of shape ``obstime.shape + (1,)`` (or scalars 1 when not applied)."""
        degradation_factor = eve_factor = 1.0
        if include_eve_correction:
            _check_obstime(obstime, function="wavelength_response(include_eve_correction=True)")
        if obstime is not None:
            _check_obstime(obstime, function="wavelength_response")
            correction_table = _table(correction_table)
            degradation_factor = degradation(
                self._channel, obstime, correction_table=correction_table, calibration_version=calibration_version
            ).to_value(u.dimensionless_unscaled)
            degradation_factor = degradation_factor.reshape(obstime.shape + (1,))
        if include_eve_correction:
            eve_factor = self.eve_correction(obstime, correction_table, calibration_version).to_value(
                u.dimensionless_unscaled
            )
            eve_factor = np.asarray(eve_factor)[..., np.newaxis]
        return degradation_factor, eve_factor

    @u.quantity_input
    def wavelength_response(
        self,
        *,
        obstime=None,
        include_eve_correction=False,
        include_crosstalk=True,
        correction_table=None,
        calibration_version=LATEST_CORRECTION_VERSION,
    ) -> u.cm**2 * u.DN / u.ph:
        """
        The wavelength response of the channel, optionally degraded to a time and EVE-normalised.

        Parameters
        ----------
        obstime : `~astropy.time.Time`, optional
            Apply the degradation :math:`C_T(t)` at these time(s). None: the pre-launch response.
        include_eve_correction : bool
            Multiply by the EVE normalisation :math:`C_E` (SolarSoft ``/evenorm``) of the epoch of
            ``obstime``, which is then required (aiapy <= 0.12 silently ignored the flag without it).
            For SolarSoft's default epoch without degradation, use
            ``wavelength_response() * eve_correction(REFERENCE_TIME)``.
        include_crosstalk : bool
            Add the cross-talk area (SolarSoft's default; ``False`` is ``/noblend``).
        correction_table : `~astropy.table.QTable`, str or path-like, optional
            Degradation table; default the bundled tables.
        calibration_version : int
            Calibration version of the table rows (default 10).

        Returns
        -------
        `~astropy.units.Quantity`
            cm2 DN / ph, shape ``(N,)`` or ``obstime.shape + (N,)`` for an array of times.

        Raises
        ------
        TypeError
            If ``obstime`` is neither None nor a Time.
        ValueError
            If ``include_eve_correction`` is set without ``obstime``, the table lacks the channel or
            version, or a time lies outside every epoch.

        Notes
        -----
        .. math::

            R(\\lambda, t) = (A_{\\rm eff}(\\lambda) + A_{\\rm cross}(\\lambda))\\,G(\\lambda)\\,C_T(t)\\,C_E

        References
        ----------
        .. [1] Boerner et al. 2012, Sol. Phys. 275, 41, section 2.
        .. [2] SolarSoft ``aia_get_response.pro`` (``/area``, ``/dn``).

        Examples
        --------
        >>> import astropy.units as u
        >>> r = Channel(171 * u.AA).wavelength_response()
        >>> r.unit
        Unit("cm2 DN / ph")
        """
        degradation_factor, eve_factor = self._correction_factors(
            obstime, include_eve_correction, correction_table, calibration_version
        )
        area = self.effective_area.to_value(u.cm**2)
        if include_crosstalk:
            area = area + self.crosstalk.to_value(u.cm**2)
        response = area * self.gain.to_value(u.DN / u.ph) * degradation_factor * eve_factor
        return u.Quantity(response, u.cm**2 * u.DN / u.ph)


def _area(optics, focal_plane):
    """Effective area of the light through ``optics`` and the focal-plane filter of ``focal_plane``."""
    area = (
        optics["primary"]
        * optics["secondary"]
        * focal_plane["fp_filter"]
        * optics["ent_filter"]
        * optics["ccd"]
        * optics.get("contam", 1.0)
    )
    return optics["geoarea"] * area
