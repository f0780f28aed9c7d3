"""Turning a map's metadata into a FITS header for a floating-point output."""

import logging
import re

from astropy.io import fits

__all__ = ["output_header"]

log = logging.getLogger(__name__)

_KEYWORD = re.compile(r"[A-Z0-9_-]{1,8}")
# Structural keywords astropy writes itself, and scaling keywords meaningless for float output.
_STRUCTURAL = re.compile(
    r"SIMPLE|BITPIX|NAXIS\d*|EXTEND|XTENSION|PCOUNT|GCOUNT|BLANK|BZERO|BSCALE|CHECKSUM|DATASUM|Z\w+"
)


def _lines(value):
    return [line for line in str(value).splitlines() if line.strip()]


def _fitting(key, value, comment):
    """``comment`` cut to what fits on the 80-character card of ``key = value`` (astropy would warn and cut it)."""
    value_end = max(30, len(fits.Card(key, value).image.rstrip()))  # FITS fixed format: the value ends at column 30
    room = 80 - value_end - len(" / ")
    return comment[: max(room, 0)]


def output_header(meta, extra=()):
    """
    A `~astropy.io.fits.Header` from a map's metadata, for writing float data.

    Structural and scaling keywords are left to astropy; keys that are not valid FITS keywords and
    undefined (None) values are dropped (logged at debug); HISTORY and COMMENT become one card per line.

    Parameters
    ----------
    meta : mapping
        The map's metadata (``smap.meta``).
    extra : iterable of (keyword, value, comment)
        Cards appended after the metadata (a comment longer than the card's room is cut, without a warning).
    """
    header = fits.Header()
    for key, value in meta.items():
        upper = str(key).upper()
        if upper in ("HISTORY", "COMMENT", "KEYCOMMENTS"):
            continue
        if _STRUCTURAL.fullmatch(upper):
            continue
        if not _KEYWORD.fullmatch(upper) or value is None or (isinstance(value, str) and not value.isascii()):
            log.debug("Not writing header key %r = %r", key, value)
            continue
        header[upper] = value
    for key, value, comment in extra:
        header[key] = (value, _fitting(key, value, comment))
    for line in _lines(meta.get("comment", "")):
        header.add_comment(line)
    for line in _lines(meta.get("history", "")):
        header.add_history(line)
    return header
