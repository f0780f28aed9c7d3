"""Per-pixel flags that travel beside the data: missing, saturated, bloomed.

One representation of "this pixel is not a measurement" for the whole package. Every function that takes or
returns a map and knows about such pixels uses an 8-bit array of :class:`PixelFlag` bits of the data's shape;
a map carries it as its ``mask`` (sunpy's ``GenericMap(data, meta, mask=flags)``; ``numpy.ma`` and plotting
treat any set bit as masked), and the pipeline writes it as the image extension ``EXTNAME = 'MASK'``.
NaN in float data also means missing; :func:`pixel_flags` merges both records.
"""

import enum

import numpy as np

__all__ = ["PixelFlag", "pixel_flags"]


class PixelFlag(enum.IntFlag):
    """Bits of a pixel-flag array (``uint8``)."""

    #: No measurement: fill (``BLANK``, -32768), NaN, outside the input frame.
    MISSING = 1
    #: Primary saturation: the CCD well (or the 14-bit converter) was full.
    SATURATED = 2
    #: Charge spilled along a CCD column from a saturated pixel (blooming).
    BLOOM = 4


def pixel_flags(smap):
    """
    The pixel flags of a map: its ``mask`` (flag bits, or a boolean mask read as missing) and its NaN pixels.

    Parameters
    ----------
    smap : `~sunpy.map.GenericMap`

    Returns
    -------
    `numpy.ndarray` of ``uint8``
        A new array of the data's shape; ``PixelFlag.MISSING`` where the map's mask is set, the data are NaN, or
        integer data hold their BLANK value or, in int16 data, -32768 (AIA's fill, with or without BLANK).
    """
    data = np.asarray(smap.data)
    flags = np.zeros(data.shape, dtype=np.uint8)
    mask = getattr(smap, "mask", None)
    if mask is not None and np.shape(mask) == data.shape:
        mask = np.asarray(mask)
        if mask.dtype == bool:
            flags[mask] = PixelFlag.MISSING
        else:
            flags |= mask.astype(np.uint8)
    if data.dtype.kind == "f":
        flags[np.isnan(data)] |= np.uint8(PixelFlag.MISSING)
    elif data.dtype.kind in "iu":  # integer fill: BLANK, and -32768 in int16 data (AIA's fill, never a value)
        fills = {smap.meta.get("blank")} | ({-32768} if data.dtype.newbyteorder("=") == np.int16 else set())
        for fill in fills - {None}:
            flags[data == fill] |= np.uint8(PixelFlag.MISSING)
    return flags
