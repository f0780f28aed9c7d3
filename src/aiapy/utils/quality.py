"""Decoding of the AIA ``QUALITY`` keyword.

References
----------
.. [1] SDO User Guide (SDOD0060), section 7.7.6, Table 2: the bits of the QUALITY keyword.
"""

__all__ = ["check_quality_flag", "QUALITY_FLAG_MESSAGES"]

_MISSVALS = "Value of MISSVALS keyword is more than {}% of the value of the TOTVALS keyword"

#: Meaning of each set bit of QUALITY; bits not listed are unassigned.
QUALITY_FLAG_MESSAGES = {
    0: "Flatfield data are not available",
    1: "Orbit data are not available",
    2: "Ancillary science data are not available",
    3: "Master pointing data are not available",
    4: "Limb-fit data are not available (generally not applicable to AIA images)",
    8: "Value of MISSVALS keyword is nonzero",
    9: _MISSVALS.format(1),
    10: _MISSVALS.format(5),
    11: _MISSVALS.format(25),
    12: (
        "Spacecraft is not in science pointing mode "
        "(coincides with ACS_MODE keyword set to a value other than SCIENCE)"
    ),
    13: "Spacecraft eclipse flag is set (coincides with ACS_ECLP keyword set to YES)",
    14: "Spacecraft sun presence flag is not set (coincides with ACS_SUNP keyword set to NO)",
    15: "Spacecraft safe mode flag is set (coincides with ACS_SAFE keyword set to YES)",
    16: "Dark image flag is set (coincides with IMG_TYPE keyword set to DARK)",
    17: "Image Stabilization System (ISS) loop is open (coincides with AISTATE keyword set to OPEN)",
    18: "Calibration image",
    20: "Focus is out of range",
    21: "Register flag is set",
    30: "Quicklook image",
    31: "Image is not available",
}


def check_quality_flag(quality):
    """
    Decode the AIA ``QUALITY`` keyword into readable messages.

    Parameters
    ----------
    quality : int
        Value of the QUALITY keyword (a 32-bit mask; 0 is a nominal image).

    Returns
    -------
    list of str
        One message per set bit, in bit order; ``["nominal"]`` if no bit is set and ``"(empty)"`` for an
        unassigned bit.

    Raises
    ------
    TypeError
        If ``quality`` is not an integer.
    ValueError
        If it does not fit in 32 unsigned bits.

    Examples
    --------
    >>> check_quality_flag(0)
    ['nominal']
    >>> check_quality_flag(1 << 16)
    ['Dark image flag is set (coincides with IMG_TYPE keyword set to DARK)']
    """
    if isinstance(quality, bool) or not hasattr(quality, "__index__"):
        raise TypeError(f"quality must be an integer, not {quality!r} ({type(quality).__name__}).")
    quality = int(quality)
    if quality < 0:
        quality &= 0xFFFFFFFF  # a signed 32-bit FITS integer with bit 31 set
    if quality >= 1 << 32:
        raise ValueError(f"quality must fit in 32 bits, got {quality}.")
    bits = [bit for bit in range(32) if quality & (1 << bit)]
    if not bits:
        return ["nominal"]
    return [QUALITY_FLAG_MESSAGES.get(bit, "(empty)") for bit in bits]
