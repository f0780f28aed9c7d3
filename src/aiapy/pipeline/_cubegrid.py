"""
The geometry of a data cube: where each level-1.5 frame lies on the common grid, and the layout transforms
(a fixed solar radius, block downsampling) that run on the worker before a frame is stored.

Every level-1.5 frame is a window of one full-frame grid: 4096 / b pixels square at 0.6 b arcsec/pix for
data binned by b, solar north up, Sun centre at the grid centre (CRVAL = 0, CRPIX = (4096 / b + 1) / 2 in
the full frame). A cutout registered by `aiapy.calibrate.register` is resampled onto integer offsets of that
grid, so the frames of a region share pixels and their union window is the cube's grid.
"""

import dataclasses

import numpy as np
import sunpy.map

from aiapy.calibrate._interpolate import affine_resample, valid_range
from aiapy.calibrate.register import level15_geometry
from aiapy.utils.constants import DETECTOR_SIZE, LEVEL15, PLATE_SCALE
from aiapy.utils.maps import add_history, refresh_statistics
from aiapy.utils.pixelflags import PixelFlag

__all__ = ["Window", "planned_window", "product_window", "union", "DOWNSAMPLES", "fixed_radius", "downsample"]

#: How `downsample` combines a block of pixels: SDOML v2 averages, SDOML v1 summed.
DOWNSAMPLES = ("mean", "sum")
_INTEGER_TOLERANCE = 1e-3


@dataclasses.dataclass(frozen=True)
class Window:
    """A window of the full-frame level-1.5 grid of binning ``binning``: first row and column, and shape."""

    binning: int
    row: int
    column: int
    rows: int
    columns: int

    @property
    def full_size(self):
        return DETECTOR_SIZE // self.binning

    @property
    def is_full_frame(self):
        return (self.row, self.column, self.rows, self.columns) == (0, 0, self.full_size, self.full_size)

    def crpix(self):
        """1-based (CRPIX1, CRPIX2) of this window: the full frame's centre in the window's pixels."""
        centre = (self.full_size + 1) / 2
        return centre - self.column, centre - self.row

    def slices_in(self, grid):
        """Where this window lies in the window ``grid`` (rows, columns)."""
        return (
            slice(self.row - grid.row, self.row - grid.row + self.rows),
            slice(self.column - grid.column, self.column - grid.column + self.columns),
        )

    def inside(self, grid):
        return (
            self.binning == grid.binning
            and grid.row <= self.row
            and grid.column <= self.column
            and self.row + self.rows <= grid.row + grid.rows
            and self.column + self.columns <= grid.column + grid.columns
        )

    def as_list(self):
        return [self.binning, self.row, self.column, self.rows, self.columns]


def _integer(value, what):
    nearest = round(value)
    if abs(value - nearest) > _INTEGER_TOLERANCE:
        raise ValueError(f"{what} = {value} is not on the level-1.5 grid (an integer offset of its pixels).")
    return int(nearest)


def _binning(cdelt):
    binning = max(1, round(cdelt / PLATE_SCALE))
    if DETECTOR_SIZE % binning or abs(cdelt - PLATE_SCALE * binning) > 1e-3 * binning:
        raise ValueError(f"CDELT1 = {cdelt} arcsec/pix is not a level-1.5 plate scale (0.6 arcsec/pix times 2^k).")
    return binning


def _window(binning, crpix1, crpix2, rows, columns):
    centre = (DETECTOR_SIZE // binning + 1) / 2
    column = _integer(centre - float(crpix1), "the column offset (CRPIX1)")
    row = _integer(centre - float(crpix2), "the row offset (CRPIX2)")
    return Window(binning, row, column, int(rows), int(columns))


def product_window(header):
    """
    The `Window` of a level-1.5 frame from its header (CDELT1, CRPIX1/2, NAXIS1/2); `ValueError` for a frame
    that is not on the level-1.5 grid (rotated, reference point off Sun centre, off-grid offsets).
    """
    meta = {str(k).lower(): v for k, v in header.items()}
    if abs(float(meta.get("crota2", 0.0) or 0.0)) > 1e-9 or not _unrotated_pc(meta):
        raise ValueError("the frame is rotated (CROTA2 or PCi_j): it is not on the level-1.5 grid.")
    if float(meta.get("crval1", 0.0)) != 0.0 or float(meta.get("crval2", 0.0)) != 0.0:
        raise ValueError("CRVAL1/CRVAL2 are not 0 (Sun centre): the frame is not on the level-1.5 grid.")
    return _window(_binning(float(meta["cdelt1"])), meta["crpix1"], meta["crpix2"], meta["naxis2"], meta["naxis1"])


def _unrotated_pc(meta):
    pc = [[float(meta.get(f"pc{i}_{j}", float(i == j))) for j in (1, 2)] for i in (1, 2)]
    return np.allclose(pc, np.eye(2), atol=1e-9)


def planned_window(header):
    """
    The `Window` the level-1.5 frame of an input will have, from its header alone (no data read): a level-1.5
    input's own window, or, for a level-1 input, the one `~aiapy.calibrate.register` resamples it onto with
    the header's pointing.
    """
    meta = {str(k).lower(): v for k, v in header.items() if k}
    if float(meta.get("lvl_num", 1.0)) >= LEVEL15:
        return product_window(meta)
    shape = (int(meta["naxis2"]), int(meta["naxis1"]))
    # register's geometry reads the shape, scale, rotation and CRPIX: a zero-stride array stands for the data
    smap = sunpy.map.Map(np.broadcast_to(np.float32(0), shape), meta)
    _, _, (rows, columns), crpix, scale = level15_geometry(smap)
    return _window(round(scale / PLATE_SCALE), crpix[0], crpix[1], rows, columns)


def union(windows):
    """The smallest window holding all ``windows`` (of one binning; `ValueError` for mixed binnings)."""
    windows = list(windows)
    binnings = {w.binning for w in windows}
    if len(binnings) != 1:
        raise ValueError(f"the frames have different plate scales (binnings {sorted(binnings)}); one cube holds one.")
    row = min(w.row for w in windows)
    column = min(w.column for w in windows)
    return Window(
        windows[0].binning,
        row,
        column,
        max(w.row + w.rows for w in windows) - row,
        max(w.column + w.columns for w in windows) - column,
    )


def fixed_radius(smap, radius, register_options, *, flags=None):
    """
    Rescale a full-frame level-1.5 map about Sun centre so that the solar radius is ``radius`` arcsec.

    The image is magnified by :math:`m = R / R_\\mathrm{obs}` (``RSUN_OBS``) with the register step's
    interpolation kernel, off-disk pixels brought in from outside the frame are NaN. The header stays that of
    a consistent observer: RSUN_OBS = R, R_SUN = R / CDELT and DSUN_OBS divided by :math:`m` (the distance at
    which the Sun has that radius, small-angle), so the map's WCS places the limb where the data have it.

    Parameters
    ----------
    smap : `~sunpy.map.GenericMap`
        A full-frame level-1.5 map (Sun centre at CRPIX, CRVAL = 0).
    radius : float
        The solar radius in arcsec (SDOML: 976).
    register_options : `~aiapy.calibrate.RegisterOptions`
        The interpolation kernel and its options.
    flags : `numpy.ndarray` of uint8, optional
        The frame's `~aiapy.utils.PixelFlag` bits.

    Returns
    -------
    `~sunpy.map.GenericMap`, `numpy.ndarray` or None
        The rescaled map, and its flags: those of the nearest input pixel, and ``MISSING`` where the
        rescaled data are NaN (None when ``flags`` is None).

    References
    ----------
    .. [1] Galvez et al. 2019, ApJS 242, 7 (SDOML): images "scaled to a fixed solar radius".
    """
    meta = smap.meta.copy()
    rsun_obs = float(meta["rsun_obs"])
    magnification = radius / rsun_obs
    centre = np.array([float(meta["crpix2"]), float(meta["crpix1"])]) - 1  # (row, column)
    matrix = np.eye(2) / magnification
    offset = centre - matrix @ centre
    options = register_options
    dtype = np.dtype(options.dtype or np.float32)
    image = np.asarray(smap.data, dtype=dtype)  # native byte order (FITS data are big-endian)
    bad, low, high = valid_range(image)
    params = {"a": float(options.cubic)} if options.method == "cubic-convolution" else {}
    data = affine_resample(
        image,
        matrix,
        offset,
        image.shape,
        method=options.method,
        order=options.order,
        missing=np.nan,
        dtype=dtype,
        workers=1,
        bad=bad,
        clip=(low, high) if options.clip_for_method else None,
        **params,
    )
    if flags is not None:
        flags = affine_resample(np.asarray(flags, np.float32), matrix, offset, image.shape, method="nearest",
                                missing=float(PixelFlag.MISSING), dtype=np.float32, workers=1).astype(np.uint8)
        flags[np.isnan(data)] |= np.uint8(PixelFlag.MISSING)  # fmt: skip
    meta["rsun_obs"] = float(radius)
    meta["r_sun"] = float(radius) / float(meta["cdelt1"])
    meta["dsun_obs"] = float(meta["dsun_obs"]) / magnification
    add_history(meta, f"cube: rescaled by {magnification:.6f} about Sun centre to a solar radius of {radius} arcsec")
    return sunpy.map.Map(data, refresh_statistics(meta, data)), flags


def downsample(data, factor, how):
    """``data`` in blocks of ``factor`` x ``factor`` pixels combined by ``how`` (`DOWNSAMPLES`)."""
    rows, columns = data.shape
    blocks = data.reshape(rows // factor, factor, columns // factor, factor)
    return blocks.mean(axis=(1, 3), dtype=np.float64) if how == "mean" else blocks.sum(axis=(1, 3), dtype=np.float64)


def downsample_flags(flags, factor):
    """Pixel flags of the blocks of `downsample`: the bits set in any pixel of the block."""
    rows, columns = flags.shape
    return np.bitwise_or.reduce(
        np.bitwise_or.reduce(flags.reshape(rows // factor, factor, columns // factor, factor), axis=3), axis=1
    )


def downsample_map(smap, resolution, how):
    """
    A full-frame map of ``resolution`` pixels square from blocks of ``smap``'s (whose size it must divide):
    CDELT times the factor, CRPIX and R_SUN of the new pixels, NAXIS, statistics; HISTORY says how.
    """
    factor = smap.data.shape[0] // resolution
    data = downsample(np.asarray(smap.data), factor, how).astype(smap.data.dtype)
    meta = smap.meta.copy()
    for axis in (1, 2):
        meta[f"cdelt{axis}"] = float(meta[f"cdelt{axis}"]) * factor
        meta[f"crpix{axis}"] = (float(meta[f"crpix{axis}"]) - 0.5) / factor + 0.5
        meta[f"naxis{axis}"] = resolution
    meta["r_sun"] = float(meta["r_sun"]) / factor
    add_history(meta, f"cube: downsampled by {how} of {factor} x {factor} blocks to {resolution} x {resolution}")
    return sunpy.map.Map(data, refresh_statistics(meta, data))
