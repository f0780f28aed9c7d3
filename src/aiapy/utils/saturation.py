"""Saturation and blooming of AIA CCD pixels: the array-only kernel behind `aiapy.calibrate.saturation_mask`.

Physics
-------
Each AIA camera reads a 4096 x 4096 back-illuminated CCD through a 14-bit converter, so a raw pixel holds at
most 16383 DN (Lemen et al. 2012; Boerner et al. 2012). In the core of a flare the well fills (or the converter
tops out): the pixel is *saturated* and its value no longer measures the photon flux. Charge that keeps
arriving spills into the neighbouring pixels of the same CCD column (the barrier between columns holds, the
one between the pixels of a column does not): the *bloom*, the vertical streaks that grow out of saturated
flare kernels; both are described and modelled for AIA by Schwartz et al. (2014, 2015).

Level-1 data are dark-subtracted and divided by the flat field, so a saturated pixel does not read 16383 DN:
it reads ``(16383 - dark) / flat``, spread over a plateau by the pixel-to-pixel flat field (14 000 to 16 383 DN
in the bundled 2011-02-15 flare frames). The threshold of *primary saturation* therefore sits below 16383, per
channel, in `SATURATION_LEVEL`; the JSOC's level-1 keyword ``NSATPIX`` counts the pixels above such a level.

*Bloom* here is what the threshold misses of the spill: the pixels below it that continue a saturated run along
its CCD column without a break while they stay at or above ``bloom_fraction * level``. Such a pixel is either a
full pixel that the flat field pulled below the threshold (the plateau spreads by about 8 per cent) or one that
took the last, partial spill at the end of the streak; neither is a measurement of its own flux.

References
----------
.. [1] Lemen, J. R., et al. 2012, Sol. Phys. 275, 17 (the AIA cameras and their 14-bit read-out).
.. [2] Boerner, P., et al. 2012, Sol. Phys. 275, 41 (AIA calibration: gain, dark, flat field).
.. [3] Schwartz, R. A., Torre, G., & Piana, M. 2014, ApJL 793, L23 (saturation and blooming in AIA images;
   primary saturation versus bloom).
.. [4] Schwartz, R. A., Torre, G., Massone, A. M., & Piana, M. 2015, Astron. Comput. 13, 117 (DESAT: the
   SolarSoft de-saturation of AIA images).
"""

import numpy as np
from scipy import ndimage

from aiapy.utils.pixelflags import PixelFlag

__all__ = [
    "SATURATION_LEVEL", "BLOOM_FRACTION", "FULL_SCALE", "GUARDED", "FLAG_COUNT_KEYS", "flag_counts", "saturation_flags",
]  # fmt: skip

#: Level-1 value (DN, at the frame's own exposure) at and above which a pixel counts as saturated, per channel
#: (Angstrom). Decided from the bundled 2011-02-15 flare frames whose saturated region lies wholly inside the
#: cutout (no pixel >= 14 000 DN on its border), where the full-frame count ``NSATPIX`` of the JSOC is the
#: cutout's own count: the level that reproduces ``NSATPIX`` is 15 002-15 008 DN for 94, 131 and 193 Å,
#: 14 971 DN for 335 Å and 14 324 / 14 513 DN for 171 Å (a stronger flat-field spread), each rounded down to
#: 100 DN and capped at the JSOC's 15 000 DN. 211 Å (no contained frame) and the channels without flare
#: frames (304, 1600, 1700, 4500 Å) take the JSOC's 15 000 DN.
SATURATION_LEVEL = {94: 15000.0, 131: 15000.0, 171: 14300.0, 193: 15000.0, 211: 15000.0, 304: 15000.0,
                    335: 14900.0, 1600: 15000.0, 1700: 15000.0, 4500: 15000.0}  # fmt: skip

#: A bloomed pixel holds at least this fraction of the saturation level. 0.8: the saturated plateau of the
#: bundled frames spans 14 000-16 383 DN around a level of about 15 000 DN, so a full pixel can read up to ~10 per
#: cent below the level, and the partial spill ending a streak adds a margin; 0.5 also walks down ordinary flare
#: gradients along a column (94 Å, 01:52: 54 pixels from 13 saturated ones at 0.5, 47 at 0.8, 43 at 0.9).
BLOOM_FRACTION = 0.8

#: The top of the 14-bit converter, DN. Level-1 processing keeps saturated pixels at or below it (the bundled
#: frames hold up to 1588 pixels of exactly 16383 DN and none above), so a larger value in a level-1 frame
#: is not a saturated pixel of the instrument (a hot pixel put in by hand, data rescaled or deconvolved).
FULL_SCALE = 16383.0

#: The flags of pixels whose values are not measurements but are there (unlike MISSING ones): saturated and
#: bloomed. `~aiapy.calibrate.register` keeps its outputs next to them within range, ``deconvolve`` does not
#: use them as data.
GUARDED = PixelFlag.SATURATED | PixelFlag.BLOOM


def saturation_flags(data, level, *, ceiling=None, bloom=True, bloom_fraction=BLOOM_FRACTION):
    """
    `~aiapy.utils.PixelFlag` bits of saturation (``SATURATED``) and bloom (``BLOOM``) for a level-1 image.

    Parameters
    ----------
    data : `numpy.ndarray`
        A 2-D level-1 image with CCD columns along axis 0 (rows of the array are CCD rows). NaN pixels are
        never flagged.
    level : float
        The saturation level in the data's units: pixels ``>= level`` are ``SATURATED``.
    ceiling : float, optional
        Pixels above it are neither saturated nor bloomed (see `FULL_SCALE`); none by default.
    bloom : bool
        Also flag ``BLOOM``: the pixels ``>= bloom_fraction * level`` (not saturated) joined without a break
        along their CCD column to a saturated pixel.
    bloom_fraction : float
        See ``bloom``; in (0, 1].

    Returns
    -------
    `numpy.ndarray` of ``uint8``
        A new array of the data's shape; ``SATURATED`` and ``BLOOM`` are never both set on a pixel.
    """
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"saturation_flags needs a 2-D image; got {data.ndim} dimensions.")
    level = float(level)
    if not (np.isfinite(level) and level > 0):
        raise ValueError(f"The saturation level must be finite and positive; got {level}.")
    if not 0 < bloom_fraction <= 1:
        raise ValueError(f"bloom_fraction must be in (0, 1]; got {bloom_fraction}.")
    flags = np.zeros(data.shape, np.uint8)
    low = bloom_fraction * level if bloom else level
    columns = np.flatnonzero(np.fmax.reduce(data, axis=0) >= level)  # fmax: NaN is no maximum
    # Boxes around the pixels at the level: runs of adjacent columns, split into clusters of adjacent rows.
    for c0, c1 in _runs(columns):
        rows = np.flatnonzero(np.fmax.reduce(data[:, c0:c1], axis=1) >= level)
        for r0, r1 in _runs(rows):
            _flag_box(data, flags, r0, r1, c0, c1, level, low, ceiling, bloom)
    return flags


def _runs(indices):
    """``(start, stop)`` of each run of consecutive integers in the sorted ``indices``."""
    if not indices.size:
        return []
    breaks = np.flatnonzero(np.diff(indices) > 1)
    return list(zip(indices[np.r_[0, breaks + 1]], indices[np.r_[breaks, indices.size - 1]] + 1, strict=True))


def _flag_box(data, flags, r0, r1, c0, c1, level, low, ceiling, bloom):
    """
    The flags of the box ``[r0:r1, c0:c1]``, ORed into ``flags``, after growing it along the columns while a
    boundary row holds a pixel ``>= low``: a run along a column that touches the box's saturated pixels then
    lies in it whole.
    """
    while r0 > 0 and (data[r0 - 1, c0:c1] >= low).any():
        r0 -= 1
    while r1 < data.shape[0] and (data[r1, c0:c1] >= low).any():
        r1 += 1
    part = data[r0:r1, c0:c1]
    possible = np.ones(part.shape, bool) if ceiling is None else part <= ceiling
    saturated = (part >= level) & possible
    result = saturated.view(np.uint8) * np.uint8(PixelFlag.SATURATED)
    if bloom and saturated.any():
        # Runs along axis 0 of the pixels that may hold spilled charge; a run that holds a saturated pixel bloomed.
        runs, count = ndimage.label((part >= low) & possible, structure=_COLUMN)
        bloomed = np.zeros(count + 1, dtype=bool)
        bloomed[runs[saturated]] = True
        bloomed[0] = False
        result[bloomed[runs] & ~saturated] = PixelFlag.BLOOM
    flags[r0:r1, c0:c1] |= result


#: Header keywords of `flag_counts`, with their comments: NSATPIX-style counts on the map's own grid.
FLAG_COUNT_KEYS = {
    "NSATFLAG": (PixelFlag.SATURATED, "pixels flagged saturated in MASK (this grid)"),
    "NBLMFLAG": (PixelFlag.BLOOM, "pixels flagged bloom in MASK (this grid)"),
}


def flag_counts(flags):
    """
    The `FLAG_COUNT_KEYS` header values of a flag array: how many pixels carry each flag.

    Unlike the JSOC's ``NSATPIX`` (primary saturation counted in the full level-1 frame), they count the
    pixels of this grid: a cutout's, or the level-1.5 grid after `~aiapy.calibrate.register`.
    """
    flags = np.asarray(flags)
    return {key: int(np.count_nonzero(flags & np.uint8(bit))) for key, (bit, _) in FLAG_COUNT_KEYS.items()}


#: Neighbours along axis 0 (the CCD column) only.
_COLUMN = np.array([[0, 1, 0], [0, 1, 0], [0, 1, 0]], dtype=bool)
