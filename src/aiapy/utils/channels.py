"""AIA channels: validation, telescope numbers and per-camera constants.

References
----------
.. [1] Lemen et al. 2012, Sol. Phys. 275, 17 (AIA instrument; cameras and channels).
.. [2] Boerner et al. 2012, Sol. Phys. 275, 41, Table 6 (read noise per camera).
"""

import functools
import inspect
import numbers

import astropy.units as u

__all__ = [
    "ALL_CHANNELS",
    "EUV_CHANNELS",
    "FUV_CHANNELS",
    "ChannelError",
    "ChannelTypeError",
    "ChannelUnitError",
    "check_channel",
    "validate_channel",
    "telescope_number",
    "channel_key",
]

#: Every AIA channel, in Angstrom.
ALL_CHANNELS = (94, 131, 171, 193, 211, 304, 335, 1600, 1700, 4500) * u.AA
#: The seven EUV channels (the PSF and the bundled instrument data cover these).
EUV_CHANNELS = ALL_CHANNELS[:7]
#: The UV and visible channels.
FUV_CHANNELS = ALL_CHANNELS[7:]

# Camera (telescope) of each channel (JSOC AIA level-1 documentation).
_TELESCOPE = {94: 4, 131: 1, 171: 3, 193: 2, 211: 2, 304: 4, 335: 1, 1600: 3, 1700: 3, 4500: 3}
# Read noise in DN/pix per camera (Boerner et al. 2012, Table 6).
READ_NOISE = {1: 1.18, 2: 1.20, 3: 1.15, 4: 1.14}
# Two wavelengths name the same channel when they agree to this fraction (17.1 nm is 171.00000000000003 A).
_RELATIVE_TOLERANCE = 1e-6


class ChannelError(ValueError):
    """A channel that is not one of the accepted AIA channels (unknown wavelength or not a length)."""


class ChannelTypeError(ChannelError, TypeError):
    """
    A channel that is not a Quantity at all: a bare number, a string, None.

    It is both a `ValueError` (as in aiapy 0.12, whose channel check raises `ValueError`) and a
    `TypeError` (as raised here before), so ``except ValueError`` and ``except TypeError`` both catch it.
    """


class ChannelUnitError(ChannelError, u.UnitConversionError):
    """A channel Quantity whose unit is not a length (e.g. ``94 * u.s``, or a frequency); a `ValueError`."""


def _normalise_valid(valid_channels):
    if isinstance(valid_channels, str):
        if valid_channels != "all":
            raise ValueError(f'valid_channels must be "all" or a Quantity of channels, not {valid_channels!r}.')
        return ALL_CHANNELS
    return u.Quantity(valid_channels, u.AA)


def check_channel(channel, valid_channels="all", *, argument="channel"):
    """
    The member of ``valid_channels`` (a Quantity in Angstrom) that ``channel`` names, or raise.

    Functions decorated with `validate_channel` receive the user's Quantity as given (for example in
    nm); call this inside them when the exact Angstrom value is needed (dictionary keys, membership).

    Parameters
    ----------
    channel : `~astropy.units.Quantity`
        A scalar wavelength equal to one of ``valid_channels`` in any unit of length (Angstrom, nm, ...).
    valid_channels : "all" or `~astropy.units.Quantity`
        The channels accepted; "all" means every AIA channel.
    argument : str
        The name of the argument, used in error messages.

    Returns
    -------
    `~astropy.units.Quantity`
        The matching element of ``valid_channels``, in Angstrom.

    Raises
    ------
    ChannelTypeError
        If ``channel`` is not a Quantity (a `ValueError` and a `TypeError`).
    ChannelUnitError
        If its unit is not a length (a `ValueError` and an `astropy.units.UnitsError`).
    ChannelError
        If it is not a scalar equal to one of ``valid_channels`` (a `ValueError`).
    """
    valid = _normalise_valid(valid_channels)
    if not isinstance(channel, u.Quantity):
        is_number = isinstance(channel, numbers.Real) and not isinstance(channel, bool)
        example = f"{channel} * u.AA" if is_number else "171 * u.AA"
        raise ChannelTypeError(
            f"{argument} must be an astropy Quantity with a unit of length, e.g. {example}; got {channel!r} "
            f"of type {type(channel).__name__}. Valid channels: {valid}."
        )
    if channel.ndim != 0 or channel.unit.physical_type != "length":
        hint = ""
        if channel.ndim == 0 and channel.unit.is_equivalent(u.AA, equivalencies=u.spectral()):
            hint = f" Convert it first: {argument}.to(u.AA, equivalencies=u.spectral())."
        error = ChannelError if channel.unit.physical_type == "length" else ChannelUnitError
        raise error(
            f'{argument} "{channel}" not in list of valid channels: {valid}. It must be one scalar wavelength '
            f"in a unit of length.{hint}"
        )
    value = channel.to_value(u.AA)
    for member in valid:
        if abs(value - member.to_value(u.AA)) <= _RELATIVE_TOLERANCE * member.to_value(u.AA):
            return member
    raise ChannelError(f'{argument} "{channel}" not in list of valid channels: {valid}.')


def validate_channel(argument, *, valid_channels="all"):
    """
    Decorator that checks the argument named ``argument`` is a valid AIA channel.

    The check runs before the function; the function then receives the channel exactly as passed (same
    value, same unit: ``17.1 * u.nm`` arrives in nm). Use `check_channel` inside it for the Angstrom value.
    Place it above (outside) ``@u.quantity_input`` so that a bare number gets this decorator's error.

    Parameters
    ----------
    argument : str
        Name of the channel argument in the decorated function's signature.
    valid_channels : "all" or `~astropy.units.Quantity`
        The channels accepted; "all" means every AIA channel (94-4500 Angstrom).

    Raises
    ------
    ValueError
        At decoration time, if ``argument`` is not in the signature.
    ChannelTypeError
        At call time, if the channel is not a Quantity (e.g. ``94`` or None); a `ValueError` and a
        `TypeError`.
    ChannelError
        At call time, if the channel is a Quantity that is not a valid channel (a `ValueError`;
        `ChannelUnitError`, also an `astropy.units.UnitsError`, when its unit is not a length).

    Examples
    --------
    >>> import astropy.units as u
    >>> @validate_channel("channel")
    ... def echo(channel):
    ...     return channel
    >>> echo(17.1 * u.nm)
    <Quantity 17.1 nm>
    """
    valid = _normalise_valid(valid_channels)

    def decorator(function):
        signature = inspect.signature(function)
        if argument not in signature.parameters:
            raise ValueError(f"Did not find {argument} in function signature ({signature}).")

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            check_channel(bound.arguments[argument], valid, argument=argument)
            return function(*args, **kwargs)

        return wrapper

    return decorator


def telescope_number(channel):
    """
    The number (1-4) of the AIA telescope and camera that observes ``channel``.

    Parameters
    ----------
    channel : `~astropy.units.Quantity`
        An AIA channel, e.g. ``171 * u.AA``.

    Returns
    -------
    int
        1: 131, 335; 2: 193, 211; 3: 171, 1600, 1700, 4500; 4: 94, 304.

    Raises
    ------
    ChannelTypeError, ChannelError
        If ``channel`` is not a valid AIA channel (see `check_channel`).

    Examples
    --------
    >>> import astropy.units as u
    >>> telescope_number(171 * u.AA)
    3
    """
    return _TELESCOPE[round(check_channel(channel).to_value(u.AA))]


def channel_key(channel):
    """The three-or-more-digit string used in table column names, e.g. ``'094'``, ``'1600'``."""
    return f"{channel.to_value(u.AA):03.0f}"
