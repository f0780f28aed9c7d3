"""AIA channels: validation, telescope numbers and per-camera constants.

References
----------
.. [1] Lemen et al. 2012, Sol. Phys. 275, 17 (AIA instrument; cameras and channels).
.. [2] Boerner et al. 2012, Sol. Phys. 275, 41, Table 6 (read noise per camera).
"""

import functools
import inspect

import astropy.units as u

__all__ = [
    "ALL_CHANNELS",
    "EUV_CHANNELS",
    "FUV_CHANNELS",
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


def _match_channel(channel, valid_channels):
    """Return the valid channel (a Quantity in Angstrom) that ``channel`` equals, or None."""
    if not isinstance(channel, u.Quantity) or channel.ndim != 0:
        return None
    try:
        value = channel.to_value(u.AA, equivalencies=u.spectral())
    except u.UnitsError:
        return None
    for valid in valid_channels:
        if abs(value - valid.to_value(u.AA)) < 1e-6 * valid.to_value(u.AA):
            return valid
    return None


def _normalise_valid(valid_channels):
    if isinstance(valid_channels, str):
        if valid_channels != "all":
            raise ValueError(f'valid_channels must be "all" or a Quantity of channels, not {valid_channels!r}.')
        return ALL_CHANNELS
    return u.Quantity(valid_channels, u.AA)


def check_channel(channel, valid_channels="all"):
    """
    Return ``channel`` as a scalar Quantity in Angstrom, or raise.

    Parameters
    ----------
    channel : `~astropy.units.Quantity`
        A wavelength equal to one of ``valid_channels`` in any spectral unit (Angstrom, nm, ...).
    valid_channels : "all" or `~astropy.units.Quantity`
        The channels accepted.

    Raises
    ------
    TypeError
        If ``channel`` is not a scalar Quantity.
    ValueError
        If it matches none of ``valid_channels`` (including a unit that is not a length).
    """
    valid = _normalise_valid(valid_channels)
    if not isinstance(channel, u.Quantity):
        raise TypeError(
            f"channel must be an astropy Quantity with a wavelength unit, e.g. 171 * u.AA; got {channel!r} "
            f"of type {type(channel).__name__}."
        )
    match = _match_channel(channel, valid)
    if match is None:
        raise ValueError(f'channel "{channel}" not in list of valid channels: {valid}.')
    return match


def validate_channel(argument, *, valid_channels="all"):
    """
    Decorator that checks the argument named ``argument`` is a valid AIA channel.

    The decorated function receives the channel converted to Angstrom.

    Parameters
    ----------
    argument : str
        Name of the channel argument in the decorated function's signature.
    valid_channels : "all" or `~astropy.units.Quantity`
        The channels accepted; "all" means every AIA channel.

    Raises
    ------
    ValueError
        At decoration time, if ``argument`` is not in the signature.
    """
    valid = _normalise_valid(valid_channels)

    def decorator(function):
        signature = inspect.signature(function)
        if argument not in signature.parameters:
            raise ValueError(f"Did not find {argument} in function signature ({signature}).")

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.arguments[argument] = check_channel(bound.arguments.get(argument), valid)
            return function(*bound.args, **bound.kwargs)

        return wrapper

    return decorator


@validate_channel("channel")
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

    Examples
    --------
    >>> import astropy.units as u
    >>> telescope_number(171 * u.AA)
    3
    """
    return _TELESCOPE[round(channel.to_value(u.AA))]


def channel_key(channel):
    """The three-or-more-digit string used in table column names, e.g. ``'094'``, ``'1600'``."""
    return f"{channel.to_value(u.AA):03.0f}"
