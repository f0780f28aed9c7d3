"""Channel validation as in aiapy 0.12, through the public functions that validate a channel.

* a bare number or None is an error that is a ValueError (aiapy 0.12) and a TypeError (aiapy before);
* a valid Quantity reaches the function unchanged (same object, same unit), in nm as in Angstrom, and the
  results are the same;
* ``aiapy.utils.decorators.validate_channel`` is importable, as in aiapy 0.12.
"""

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time

from aiapy.calibrate import degradation, estimate_error
from aiapy.psf import calculate_psf
from aiapy.response import Channel, temperature_response
from aiapy.utils import ChannelError, ChannelTypeError, ChannelUnitError, check_channel, telescope_number
from aiapy.utils.decorators import validate_channel

T2015 = Time("2015-01-01T00:00:00", scale="utc")
COUNTS = [1, 10, 1000] * u.DN / u.pix
SMALL_PSF = {"shape": (64, 64), "diffraction_orders": [-1, 0, 1]}  # a fast PSF: only the call is tested

# Every public function that takes a channel, called with the rest of its arguments fixed.
PUBLIC = {
    "degradation": lambda channel: degradation(channel, T2015),
    "estimate_error": lambda channel: estimate_error(COUNTS, channel),
    "Channel": lambda channel: Channel(channel),
    "calculate_psf": lambda channel: calculate_psf(channel, **SMALL_PSF),
    "temperature_response": lambda channel: temperature_response(channel),
    "telescope_number": telescope_number,
}


@validate_channel("channel")
def _echo(channel):
    return channel


def test_decorators_module_is_the_peer_path():
    import aiapy.utils
    import aiapy.utils.decorators

    assert aiapy.utils.decorators.validate_channel is aiapy.utils.validate_channel


@pytest.mark.parametrize("function", PUBLIC.values(), ids=PUBLIC.keys())
@pytest.mark.parametrize("channel", [94, 94.0, np.int64(171), None, "94"])
def test_not_a_quantity_is_a_value_error_and_a_type_error(function, channel):
    with pytest.raises(ValueError, match="must be an astropy Quantity") as info:
        function(channel)
    assert isinstance(info.value, TypeError) and isinstance(info.value, ChannelTypeError)


def test_not_a_quantity_message_names_the_argument_and_the_fix():
    with pytest.raises(ChannelTypeError, match=r"channel must be .* e\.g\. 94 \* u\.AA; got 94 of type int"):
        degradation(94, T2015)
    with pytest.raises(ChannelTypeError, match="got None of type NoneType"):
        _echo(None)


@pytest.mark.parametrize(
    ("channel", "error"),
    [
        (1 * u.AA, ChannelError),
        (195 * u.AA, ChannelError),
        ([94, 171] * u.AA, ChannelError),
        (94 * u.s, u.UnitsError),
        (94 * u.dimensionless_unscaled, u.UnitsError),
    ],
)
@pytest.mark.parametrize("function", PUBLIC.values(), ids=PUBLIC.keys())
def test_invalid_quantities_are_value_errors(function, channel, error):
    with pytest.raises(error, match="not in list of valid channels") as info:
        function(channel)
    assert isinstance(info.value, ValueError) and not isinstance(info.value, TypeError)


def test_a_frequency_names_the_conversion():
    frequency = (171 * u.AA).to(u.Hz, equivalencies=u.spectral())
    with pytest.raises(ChannelUnitError, match=r"channel\.to\(u\.AA, equivalencies=u\.spectral\(\)\)"):
        Channel(frequency)
    assert Channel(frequency.to(u.AA, equivalencies=u.spectral())).name == "171"


@pytest.mark.parametrize("value", [(94 * u.AA).to(u.nm), 9.4 * u.nm, 171 * u.AA, 0.0335 * u.um, 4500.0 * u.AA])
def test_quantity_arrives_unchanged(value):
    received = _echo(value)
    assert received is value and received.unit == value.unit


def test_nm_arrives_in_nm_through_keywords_and_defaults():
    @validate_channel("wavelength", valid_channels=[94, 171] * u.AA)
    def probe(data, *, wavelength=17.1 * u.nm):
        return wavelength

    assert probe(None).unit == u.nm
    assert probe(None, wavelength=(94 * u.AA).to(u.nm)).to_value(u.nm) == pytest.approx(9.4)
    with pytest.raises(ChannelError, match="valid channels"):
        probe(None, wavelength=160 * u.nm)


def test_check_channel_gives_the_exact_angstrom_member():
    member = check_channel(17.1 * u.nm)
    assert member.unit == u.AA and member.value == 171  # exactly, although 17.1 nm is 171.00000000000003 A
    with pytest.raises(ChannelError, match="wavelength"):
        check_channel(160 * u.nm, [94, 171] * u.AA, argument="wavelength")


@pytest.mark.parametrize("angstrom", [94, 171, 335, 1600, 1700])
def test_degradation_same_in_nm(angstrom):
    nm = (angstrom * u.AA).to(u.nm)
    assert nm.unit == u.nm
    np.testing.assert_array_equal(degradation(nm, T2015), degradation(angstrom * u.AA, T2015))


@pytest.mark.parametrize("angstrom", [94, 131, 171, 193, 211, 304, 335, 1600, 1700, 4500])
def test_estimate_error_same_in_nm(angstrom):
    nm = (angstrom * u.AA).to(u.nm)
    expected = estimate_error(COUNTS, angstrom * u.AA, include_eve=True)
    result = estimate_error(COUNTS, nm, include_eve=True)
    assert result.unit == u.DN / u.pix
    np.testing.assert_array_equal(result.value, expected.value)


@pytest.mark.parametrize("angstrom", [94, 131, 335])
def test_channel_same_in_nm(angstrom):
    in_nm, in_angstrom = Channel((angstrom * u.AA).to(u.nm)), Channel(angstrom * u.AA)
    assert in_nm.name == in_angstrom.name == str(angstrom)
    assert in_nm.channel == angstrom * u.AA and in_nm.channel.unit == u.AA
    assert in_nm.telescope_number == in_angstrom.telescope_number and not in_nm.is_fuv
    np.testing.assert_array_equal(in_nm.wavelength_response(), in_angstrom.wavelength_response())
    np.testing.assert_array_equal(
        in_nm.wavelength_response(obstime=T2015, include_eve_correction=True),
        in_angstrom.wavelength_response(obstime=T2015, include_eve_correction=True),
    )


def test_psf_and_temperature_response_same_in_nm():
    np.testing.assert_array_equal(calculate_psf(17.1 * u.nm, **SMALL_PSF), calculate_psf(171 * u.AA, **SMALL_PSF))
    in_nm, in_angstrom = temperature_response(19.3 * u.nm), temperature_response(193 * u.AA)
    np.testing.assert_array_equal(in_nm.response, in_angstrom.response)
