"""Time handling shared by the table loaders and the header readers."""

import contextlib
import re
import warnings

from astropy.time import Time
from erfa import ErfaWarning
from sunpy.time import parse_time

__all__ = ["JSOC_TIME", "parse_time_text", "quiet_erfa"]


@contextlib.contextmanager
def quiet_erfa():
    """
    Silence ERFA's "dubious year" warnings.

    Calibration tables end their last epoch in 2030 or 2050, beyond the leap-second table; converting
    those dates between UTC and TAI makes ERFA warn although nothing is wrong.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ErfaWarning)
        yield


#: DRMS (JSOC) time strings: ``2011.02.15_01:44:45[.34]_TAI`` (or ``_UTC``, ``_UT``, ``_Z``, ``Z``), with the
#: seconds or the whole clock optional (``2011.02.15_01:44_TAI``, ``2011.02.15_TAI``).
JSOC_TIME = re.compile(
    r"^(\d{4})\.(\d\d)\.(\d\d)(?:_(\d\d:\d\d(?::\d\d(?:\.\d*)?)?))?(?:_(TAI|UTC|UT)|_?(Z))?$", re.IGNORECASE
)


def parse_time_text(text, *, scale="utc"):
    """
    The `~astropy.time.Time` of a time string of a header or a table, in any form AIA data carry.

    ISO 8601 (``2011-02-15T01:44:45.34``, with or without a trailing ``Z``) and the DRMS forms of `JSOC_TIME`;
    a scale written in the string (``_TAI``, ``_UTC``, ``Z``; or ``TAI`` anywhere, as sunpy reads it) wins
    over ``scale``. Anything else is left to `sunpy.time.parse_time`.

    Raises
    ------
    ValueError
        If the string holds no readable time (a one-line message, not astropy's list of formats tried).
    """
    value = str(text).strip()
    match = JSOC_TIME.match(value)
    if match is not None:
        year, month, day, clock, written, zulu = match.groups()
        clock = clock or "00:00"
        clock += ":00" if clock.count(":") == 1 else ""
        scale = "tai" if (written or "").upper() == "TAI" else "utc" if written or zulu else scale
        return Time(f"{year}-{month}-{day}T{clock}", scale=scale, format="isot")
    if value.endswith("Z"):
        value, scale = value[:-1], "utc"
    elif "TAI" in value.upper():
        scale = "tai"
    try:
        return Time(value, scale=scale)
    except ValueError:
        pass
    try:
        return parse_time(value, scale=scale)
    except ValueError:  # astropy's message lists every format it tried, one per line
        raise ValueError(
            f"{text!r} is not a time in a form AIA data use (ISO 2011-02-15T01:44:45.34, or JSOC "
            "2011.02.15_01:44:45_TAI)."
        ) from None
