"""
Affine resampling of 2-D arrays: the interpolation kernels behind `aiapy.calibrate.register`.

Array-only and private: no maps, units or headers. Every kernel maps output pixel ``q = (row, col)`` to the
input position ``p = matrix @ q + offset`` (0-based, pixel centres at integers, as in IDL ``POLY_2D`` and
``scipy.ndimage``), and sets outputs whose ``p`` falls outside ``[0, n - 1]`` on either axis to ``missing``.

Kernels live in a registry (`KERNELS`, filled by `register_kernel`); each declares its taps, the rule for
taps beyond the array edge, whether it needs the B-spline prefilter, and which reference it reproduces.

The tap engine (`_resample_block`) exploits what an aia_prep transform looks like: a rotation of a fraction
of a degree and a scale within 0.2 % of 1. Over most of a block of output rows, the integer part of the
input position then differs from the output position by a constant ``(dy, dx)``, so the taps are *slices*
of the input (no gather), weighted by per-pixel weights. Columns where that shift changes within the block
are done for each shift present under a mask, and anything else (large rotations) by a per-pixel gather.

Where the time goes (4096 x 4096, float32, one thread, ~0.33 s): the 4 x 4 tap sums are 35 array passes
per pixel and the weights ~26; positions cost 1 pass per axis (3 where a tile spans two shifts). Positions
are split into a per-column float64 part at a block's first row (integer ``base`` and fraction ``frac``) and
a per-row step below one pixel in the output dtype (`_Block`), so no float64 array of the frame's size is
made; shift ranges come from a block's first and last rows (monotone down a column), validity masks only
for the columns near the input's edges (`_Geometry.inside_columns`). Every pass works on a tile (a run of
columns of one block, `_tiles`) of at most `_TILE_BYTES` per array, which stay in L2 cache: ~2x faster
per pass than whole 64-row blocks, and two processes running it side by side do not slow each other.
Tiles allocate nothing: their arrays are views of one buffer per call (`_Scratch`).
The cubic B-spline prefilter runs its strided axis as contiguous row recursions (`_cubic_filter_axis0`),
~3x faster than scipy's line-by-line filter there; its other axis runs on threads (scipy releases the GIL).
"""

import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["KERNELS", "affine_resample", "bspline3_weights", "keys_weights", "register_kernel"]

log = logging.getLogger(__name__)

#: Output rows per block of the tap engine (positions are computed from each block's first row), and bytes
#: per tile array: a tile's ~15 arrays stay in a core's L2 cache (~2x faster per pass than a 64 x 4096
#: block, which spills to L3). They are cut from one `_Scratch` buffer per call: allocated per tile, they
#: made the engine ~1.7x slower where glibc's mmap threshold is fixed (Dask workers by default).
_BLOCK_ROWS = 64
_TILE_BYTES = 120_000
#: Columns with more than this many distinct integer shifts in a block use the per-pixel gather.
_MAX_SHIFTS = 4


@dataclass(frozen=True)
class Kernel:
    """An interpolation kernel of the registry."""

    name: str
    #: Tap offsets relative to the base index ``floor(p + rounding)``.
    taps: tuple
    rounding: float
    #: ``weights(t, out, **params)`` -> one weight array per tap, for fractional offsets ``t = p - base``,
    #: written into the arrays of ``out`` (None: new arrays).
    weights: Callable
    #: Values of taps beyond the array edge: "clamp" (edge replicated) or "mirror" (scipy's spline rule).
    edge: str
    #: Whether the input must first be converted to cubic B-spline coefficients.
    prefilter: bool
    #: What this kernel reproduces, shown in the public docstring and error messages.
    matches: str
    #: Whether ``register`` clips the output to the input's range by default (``clip=None``).
    clip: bool


KERNELS = {}


def register_kernel(name, *, taps, rounding=0.0, edge="clamp", prefilter=False, matches="", clip=False):
    """Decorator adding a tap-weight function to `KERNELS` under ``name``."""

    def decorator(weights):
        KERNELS[name] = Kernel(name, tuple(taps), rounding, weights, edge, prefilter, matches, clip)
        return weights

    return decorator


def _outputs(t, out, count):
    """The arrays a weight function fills: ``out`` when given, else new arrays like ``t``."""
    return out if out is not None else [np.empty_like(t) for _ in range(count)]


@register_kernel("nearest", taps=(0,), rounding=0.5, matches="SolarSoft aia_prep /NEAREST (IDL ROT without /INTERP)")
def _nearest_weights(t, out=None):
    [w0] = _outputs(t, out, 1)
    w0.fill(1)
    return [w0]


@register_kernel("linear", taps=(0, 1), matches="SolarSoft aia_prep /INTERP (bilinear), scipy order=1")
def _linear_weights(t, out=None):
    w0, w1 = _outputs(t, out, 2)
    np.subtract(1, t, out=w0)
    np.copyto(w1, t)
    return [w0, w1]


@register_kernel(
    "cubic-convolution",
    taps=(-1, 0, 1, 2),
    matches="SolarSoft aia_prep default: IDL ROT(..., CUBIC=-0.5), Keys cubic convolution",
)
def keys_weights(t, out=None, *, a=-0.5):
    """
    Keys (1981) cubic-convolution weights of the taps at -1, 0, 1, 2 for fractional offsets ``t`` in [0, 1).

    ``W(x) = (a+2)|x|^3 - (a+3)|x|^2 + 1`` for ``|x| <= 1`` and ``a|x|^3 - 5a|x|^2 + 8a|x| - 4a`` for
    ``1 < |x| < 2``, evaluated at ``x = t + 1, t, 1 - t, 2 - t``; the weights sum to 1. They are written
    into ``out`` (four arrays shaped like ``t``) when given, with no other temporary.
    """
    t = np.asarray(t)
    w0, w1, w2, w3 = _outputs(t, out, 4)
    np.subtract(t, 1, out=w3)
    np.multiply(t, w3, out=w0)
    w0 *= w3
    w0 *= a  # a t (t-1)^2
    w3 *= t
    w3 *= t
    w3 *= -a  # -a t^2 (t-1)
    np.multiply(t, a + 2, out=w1)
    w1 -= a + 3
    w1 *= t
    w1 *= t
    w1 += 1  # (a+2) t^3 - (a+3) t^2 + 1
    return [w0, w1, _last_weight(w0, w1, w3, w2), w3]


@register_kernel(
    "spline",
    taps=(-1, 0, 1, 2),
    edge="mirror",
    prefilter=True,
    matches="B-spline of order `order` (scipy.ndimage): the numbers of aiapy/sunpy register and Map.rotate",
    clip=True,
)
def bspline3_weights(t, out=None):
    """
    Cubic B-spline weights of the taps at -1, 0, 1, 2 for fractional offsets ``t`` in [0, 1); they sum to 1.
    They are written into ``out`` (four arrays shaped like ``t``) when given, with no other temporary.
    """
    t = np.asarray(t)
    w0, w1, w2, w3 = _outputs(t, out, 4)
    np.subtract(1, t, out=w0)
    np.multiply(w0, w0, out=w3)
    w0 *= w3
    w0 *= 1 / 6  # (1-t)^3 / 6
    np.multiply(t, t, out=w3)
    np.multiply(t, 0.5, out=w1)
    w1 -= 1
    w1 *= w3
    w1 += 2 / 3  # t^3 / 2 - t^2 + 2/3
    w3 *= t
    w3 *= 1 / 6  # t^3 / 6
    return [w0, w1, _last_weight(w0, w1, w3, w2), w3]


def _last_weight(w0, w1, w3, w2):
    """The weight of tap 1 into ``w2``, from the others (the weights sum to 1)."""
    np.subtract(1, w0, out=w2)
    w2 -= w1
    w2 -= w3
    return w2


def _edge_index(index, n, edge):
    """Map integer indices beyond ``[0, n - 1]`` back into the array by the kernel's edge rule."""
    if edge == "clamp":
        return np.clip(index, 0, n - 1)
    period = 2 * (n - 1) if n > 1 else 1
    index = np.abs(index) % period
    return np.where(index >= n, period - index, index)


def _window(array, rows, cols, edge):
    """``array[rows[0]:rows[1], cols[0]:cols[1]]``, extended beyond the edges by ``edge``; a view if inside."""
    ny, nx = array.shape
    if rows[0] >= 0 and cols[0] >= 0 and rows[1] <= ny and cols[1] <= nx:
        return array[rows[0] : rows[1], cols[0] : cols[1]]
    r = _edge_index(np.arange(*rows), ny, edge)
    c = _edge_index(np.arange(*cols), nx, edge)
    return array[np.ix_(r, c)]


class _Geometry:
    """
    The map ``p = matrix @ q + offset`` laid out for row blocks, relative to the output pixel.

    The engine works with ``p - q`` (input position minus output index), whose integer part is the shift
    ``(dy, dx)`` of the taps. Along output row ``r`` it is ``slope * r`` plus a per-column term that is the
    same for every row (``column``, float64, with the kernel's rounding added): a block starting at row
    ``r0`` takes, for each column, the float64 value at ``r0`` and adds ``slope * (r - r0)``, which stays
    below a pixel over a block, in the output dtype (`_Block`).
    """

    def __init__(self, matrix, offset, shape_in, ncols, rounding):
        self.matrix, self.offset, self.shape_in = matrix, offset, shape_in
        self.qx = np.arange(ncols, dtype=np.float64)
        self.slope = (matrix[0, 0] - 1, matrix[1, 0])
        self.column = (matrix[0, 1] * self.qx + offset[0], (matrix[1, 1] - 1) * self.qx + offset[1])
        self.rounding = rounding

    def inside_columns(self, rows):
        """
        Columns ``(k0, k1)`` where every output pixel of rows ``rows[0]:rows[1]`` maps inside the input.

        Along an output row the input position is linear in the column, so each edge of the input bounds
        the column on one side; the pixels that map inside form a convex set, so columns inside on the
        block's first and last rows are inside on every row. A 1e-9 px margin covers rounding.
        """
        lo, hi = 0.0, float(self.qx.size - 1)
        for r in (rows[0], rows[1] - 1):
            start = self.matrix[:, 0] * r + self.offset  # position of column 0
            for axis, n in enumerate(self.shape_in):
                slope = self.matrix[axis, 1]
                bounds = (1e-9 - start[axis], n - 1 - 1e-9 - start[axis])
                if slope:
                    ends = sorted(b / slope for b in bounds)
                    lo, hi = max(lo, ends[0]), min(hi, ends[1])
                elif not bounds[0] <= 0 <= bounds[1]:
                    return 0, 0
        k0, k1 = int(np.ceil(lo)), int(np.floor(hi)) + 1
        return (k0, k1) if k0 < k1 else (0, 0)


class _Block:
    """
    Positions of one block of output rows, per column and per row, and the columns' shift ranges.

    For each axis, ``p - q + rounding`` at pixel ``(r0 + i, c)`` is ``base[c] + (frac[c] + step[i])``:
    ``base`` an integer (float64), ``frac`` in [0, 1) and ``step = slope * i`` in the output dtype (float64
    where the steps exceed a pixel). A tile computes ``t = frac + step`` per pixel (one broadcast add) and
    its floor; the tap shift of the pixel is ``base + floor(t)``. Rounding is monotone, so ``floor(t)`` is
    monotone down a column and the block's first and last rows bound it (``lo``, ``hi``): the shift ranges
    need no per-pixel pass.
    """

    def __init__(self, geometry, rows, dtype):
        self.r0, self.r1 = rows
        nrows = self.r1 - self.r0
        self.dtype = dtype
        # Steps below a pixel keep ~1e-7 px in float32. Larger ones (rotations of degrees) would not: their
        # positions stay float64, and only the fractions are cast (`_Tile`).
        if max(abs(slope) for slope in geometry.slope) * nrows > 1:
            dtype = np.dtype(np.float64)
        self.base, self.frac, self.step, self.lo, self.hi = [], [], [], [], []
        for axis in (0, 1):
            start = geometry.slope[axis] * self.r0 + geometry.column[axis] + geometry.rounding
            base = np.floor(start)
            frac = (start - base).astype(dtype)
            up = frac >= 1  # a fraction just below 1 rounded up in a narrower dtype
            base[up] += 1
            frac[up] = 0
            step = (geometry.slope[axis] * np.arange(nrows)).astype(dtype)
            last = np.floor(frac + step[-1])
            self.base.append(base)
            self.frac.append(frac)
            self.step.append(step[:, None])
            self.lo.append(base + np.minimum(last, 0))
            self.hi.append(base + np.maximum(last, 0))
        #: Columns valid on every row; outside them, ``valid`` marks the pixels that map inside the input.
        self.core = geometry.inside_columns(rows)
        self.valid = None
        ncols = geometry.qx.size
        if self.core != (0, ncols):
            self.valid = np.ones((nrows, ncols), bool)
            qy = np.arange(*rows, dtype=np.float64)[:, None]
            for c in (slice(0, self.core[0]), slice(self.core[1], None)):
                ok = np.ones((nrows, geometry.qx[c].size), bool)
                for axis, q in enumerate((qy, geometry.qx[c])):
                    pos = geometry.slope[axis] * qy + geometry.column[axis][c] + q
                    ok &= (pos >= 0) & (pos <= geometry.shape_in[axis] - 1)
                self.valid[:, c] = ok


def _tiles(block, max_cols):
    """
    Tiles of the block: consecutive columns (at most ``max_cols``) with the same shift ranges on both axes,
    as ``(c0, c1, (dy0, dy1), (dx0, dx1), valid)``; ``valid`` is the tile's validity mask, or None inside
    the block's core (all valid). Columns where no pixel maps inside the input are left out (near the
    input's edges a tile may try a shift that none of its valid pixels has, at no harm).
    """
    stats = np.stack([block.lo[0], block.hi[0], block.lo[1], block.hi[1]])
    ncols = stats.shape[1]
    any_valid = np.ones(ncols, bool) if block.valid is None else block.valid.any(axis=0)
    change = np.flatnonzero(np.any(stats[:, 1:] != stats[:, :-1], axis=0) | (any_valid[1:] != any_valid[:-1])) + 1
    bounds = np.unique(np.concatenate([[0, ncols], block.core, change]))
    k0, k1 = block.core
    for c0, c1 in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if not any_valid[c0]:
            continue
        s = stats[:, c0].astype(int).tolist()
        for t0 in range(c0, c1, max_cols):
            t1 = min(t0 + max_cols, c1)
            valid = None if k0 <= c0 < k1 else block.valid[:, t0:t1]
            yield t0, t1, (s[0], s[1]), (s[2], s[3]), valid


class _Scratch:
    """
    Arrays for one tile at a time, cut from one buffer allocated per call: no allocation per tile, so the
    engine's speed does not depend on the allocator's settings or on page faults.
    """

    SLOTS = 15  # fractions and floors (2 axes), weights (2 x 4 taps), acc, row sum, term

    def __init__(self, dtype):
        #: Most columns of a tile of `_BLOCK_ROWS` rows.
        self.columns = max(16, _TILE_BYTES // np.dtype(dtype).itemsize // _BLOCK_ROWS)
        self.buffer = np.empty((self.SLOTS, _BLOCK_ROWS * self.columns), dtype)
        self.used = 0

    def take(self, shape, dtype):
        """A fresh (uninitialised) array of ``shape``; from the buffer when ``dtype`` is its own."""
        if np.dtype(dtype) != self.buffer.dtype:
            return np.empty(shape, dtype)
        view = self.buffer[self.used, : shape[0] * shape[1]].reshape(shape)
        self.used += 1
        return view


class _Tile:
    """Per-pixel fractional offsets, their floors (where a tile spans two shifts) and tap weights."""

    def __init__(self, kernel, params, block, cols, ranges, scratch):
        c0, c1 = cols
        self.shape = (block.r1 - block.r0, c1 - c0)
        scratch.used = 0
        self.floors, self.weights = [], []
        for axis in (0, 1):
            frac = block.frac[axis][c0:c1]
            t = np.add(frac, block.step[axis], out=scratch.take(self.shape, frac.dtype))
            floor = None
            if ranges[axis][0] != ranges[axis][1]:
                floor = np.floor(t, out=scratch.take(self.shape, t.dtype))
                t -= floor
            self.floors.append(floor)
            t = t.astype(block.dtype, copy=False)
            out = [scratch.take(self.shape, block.dtype) for _ in kernel.taps]
            self.weights.append(kernel.weights(t, out, **params))

    def at_shift(self, block, cols, shift):
        """Mask of the tile's pixels whose tap shift is ``shift`` (for tiles spanning several)."""
        where = None
        for axis in (0, 1):
            if self.floors[axis] is not None:
                match = self.floors[axis] == shift[axis] - block.base[axis][cols[0]]
                where = match if where is None else where & match
        return where


def _taps_sum(kernel, tile, window, offset, acc, row_part, term):
    """
    Sum the kernel over the taps of one integer shift into ``acc`` (``row_part`` and ``term`` are scratch):
    tap ``(ky, kx)`` of output pixel ``(i, j)`` of the tile is ``window[offset[0] + ky + i, offset[1] + kx + j]``,
    a slice (no gather), so each of the 35 passes is one ufunc over contiguous rows.
    """
    nrows, ncols = acc.shape
    wy_all, wx_all = tile.weights
    for i, (ky, wy) in enumerate(zip(kernel.taps, wy_all, strict=True)):
        y = offset[0] + ky
        for j, (kx, wx) in enumerate(zip(kernel.taps, wx_all, strict=True)):
            x = offset[1] + kx
            np.multiply(wx, window[y : y + nrows, x : x + ncols], out=term if j else row_part)
            if j:
                row_part += term
        np.multiply(wy, row_part, out=term if i else acc)
        if i:
            acc += term
    return acc


def _gather(kernel, block, tile, source, cols, valid, out):
    """Per-pixel 2-D gather over the tile's columns (any transform); writes the valid pixels of ``out``."""
    c0, c1 = cols
    valid = np.ones(out.shape, bool) if valid is None else valid
    index = []
    for axis, q in enumerate((np.arange(block.r0, block.r1)[:, None], np.arange(c0, c1))):
        shift = block.base[axis][c0:c1] + (0 if tile.floors[axis] is None else tile.floors[axis])
        index.append(np.broadcast_to(shift + q, out.shape)[valid].astype(np.int64))
    total = np.zeros(index[0].shape, out.dtype)
    ny, nx = source.shape
    wy_all, wx_all = tile.weights
    for ky, wy in zip(kernel.taps, wy_all, strict=True):
        rows = _edge_index(index[0] + ky, ny, kernel.edge)
        part = np.zeros(index[0].shape, out.dtype)
        for kx, wx in zip(kernel.taps, wx_all, strict=True):
            part += wx[valid] * source[rows, _edge_index(index[1] + kx, nx, kernel.edge)]
        total += wy[valid] * part
    out[valid] = total


def _resample_block(kernel, params, source, geometry, rows, out, missing, scratch):
    """Resample output rows ``rows`` into ``out`` (a view of those rows) with the tap engine."""
    block = _Block(geometry, rows, out.dtype)
    out[:, : block.core[0]] = missing
    out[:, block.core[1] :] = missing
    lo, hi = min(kernel.taps), max(kernel.taps)
    for c0, c1, (dy0, dy1), (dx0, dx1), valid in _tiles(block, scratch.columns):
        tile = _Tile(kernel, params, block, (c0, c1), ((dy0, dy1), (dx0, dx1)), scratch)
        target = out[:, c0:c1]
        shifts = [(dy, dx) for dy in range(dy0, dy1 + 1) for dx in range(dx0, dx1 + 1)]
        if len(shifts) > _MAX_SHIFTS:
            _gather(kernel, block, tile, source, (c0, c1), valid, target)
            continue
        origin = (block.r0 + dy0 + lo, c0 + dx0 + lo)
        window = _window(source, (origin[0], block.r1 + dy1 + hi), (origin[1], c1 + dx1 + hi), kernel.edge)
        sums = [scratch.take(tile.shape, out.dtype) for _ in range(2)]
        if len(shifts) == 1 and valid is None:
            # The common case: one shift over the whole tile, every pixel valid: sum straight into the output.
            _taps_sum(kernel, tile, window, (-lo, -lo), target, *sums)
            continue
        acc = scratch.take(tile.shape, out.dtype)
        for shift in shifts:
            _taps_sum(kernel, tile, window, (shift[0] - dy0 - lo, shift[1] - dx0 - lo), acc, *sums)
            where = tile.at_shift(block, (c0, c1), shift) if len(shifts) > 1 else valid
            if valid is not None and len(shifts) > 1:
                where &= valid
            np.copyto(target, acc, where=where)


def _row_blocks(nrows, block_rows):
    return [(r, min(r + block_rows, nrows)) for r in range(0, nrows, block_rows)]


#: The pole of the cubic B-spline prefilter, and its gain (1 - z)(1 - 1/z).
_Z3 = np.sqrt(3) - 2
_GAIN3 = 6.0


def _cubic_filter_axis0(c):
    """
    In place, the cubic B-spline prefilter along axis 0 with scipy's mirror boundaries (Unser 1999).

    Along axis 0 (strided in memory) scipy's line-by-line filter runs ~3x slower than along axis 1; here
    each step of the two recursions, ``y[i] = x[i] + z y[i-1]`` then ``c[i] = z (c[i+1] - y[i])``, is a
    contiguous row operation. The running row is carried in float64 whatever the dtype of ``c`` (so a
    float32 ``c`` needs no float64 copy of the frame; it stores the causal pass rounded, ~1e-7 relative).
    The causal start is the sum of ``z^k`` times the mirror-extended column.
    """
    n = c.shape[0]
    if n == 1:
        return  # scipy leaves single samples unchanged
    k = np.arange(n)
    start = _Z3**k + np.where((k > 0) & (k < n - 1), _Z3 ** (2 * n - 2 - k), 0.0)
    start /= 1 - _Z3 ** (2 * n - 2)
    used = np.flatnonzero(start)[-1] + 1  # z^k underflows to 0 beyond k ~ 570
    carry = start[:used] @ c[:used]  # float64
    c[0] = carry
    for i in range(1, n):
        carry *= _Z3
        carry += c[i]
        c[i] = carry
    carry = (_Z3 * c[n - 2] + carry) * (_Z3 / (_Z3 * _Z3 - 1))
    np.multiply(carry, _GAIN3, out=c[n - 1], casting="same_kind")
    for i in range(n - 2, -1, -1):
        np.subtract(carry, c[i], out=carry)
        carry *= _Z3
        np.multiply(carry, _GAIN3, out=c[i], casting="same_kind")


def _spline_coefficients(image, order, dtype, pool, workers):
    """B-spline coefficients of ``image`` (scipy's rule for mode="constant": mirror), in ``dtype``."""
    coef = np.empty(image.shape, dtype)
    ny, nx = image.shape

    def along_rows(r):
        ndimage.spline_filter1d(image[r[0] : r[1]], order, axis=1, output=coef[r[0] : r[1]], mode="mirror")

    def along_columns(c):
        ndimage.spline_filter1d(coef[:, c[0] : c[1]], order, axis=0, output=coef[:, c[0] : c[1]], mode="mirror")

    # The filter is separable: rows first, from the image straight into ``coef`` (scipy works in float64
    # line by line), then columns in place.
    list(pool.map(along_rows, _row_blocks(ny, -(-ny // workers))))
    if order == 3:
        _cubic_filter_axis0(coef)
    else:
        list(pool.map(along_columns, _row_blocks(nx, -(-nx // workers))))
    return coef


def affine_resample(
    image,
    matrix,
    offset,
    output_shape,
    *,
    method="spline",
    order=3,
    missing=0.0,
    dtype=np.float64,
    workers=None,
    **params,
):
    """
    Resample ``image`` onto a new grid by the affine map ``p = matrix @ q + offset`` (row, column order).

    Parameters
    ----------
    image : 2-D ndarray
        The input, of any real dtype.
    matrix : (2, 2) array_like
        Linear part of the output-to-input pixel map.
    offset : (2,) array_like
        Input position of output pixel (0, 0).
    output_shape : tuple of int
        Shape of the output.
    method : str
        A name in `KERNELS`.
    order : int
        B-spline order (0-5) for ``method="spline"``; ignored otherwise.
    missing : float
        Value of outputs that map outside the input (NaN allowed).
    dtype : numpy float dtype
        Output dtype; the arithmetic is done in it.
    workers : int or None
        Threads of the B-spline prefilter and of scipy's orders other than 3; None means ``os.cpu_count()``.
        The tap engine runs on the calling thread.
    **params
        Kernel parameters (``a`` for ``"cubic-convolution"``).

    Returns
    -------
    ndarray of ``dtype`` and ``output_shape``
    """
    kernel = KERNELS[method]
    matrix = np.asarray(matrix, dtype=np.float64)
    offset = np.asarray(offset, dtype=np.float64)
    dtype = np.dtype(dtype)
    workers = workers or os.cpu_count() or 1
    out = np.empty(output_shape, dtype)
    log.debug(
        "affine_resample: %s (order %d) %s -> %s, %s, %d threads",
        method,
        order,
        image.shape,
        output_shape,
        dtype,
        workers,
    )
    with ThreadPoolExecutor(workers) as pool:
        if kernel.prefilter and order > 1:
            source = _spline_coefficients(image, order, dtype, pool, workers)
        else:
            source = np.asarray(image, dtype=dtype)
        if kernel.prefilter and order != 3:
            # Orders other than cubic go through scipy, on the coefficients computed above, block by block.
            blocks = _row_blocks(output_shape[0], -(-output_shape[0] // workers))
            list(pool.map(lambda r: _scipy_block(source, matrix, offset, r, out, order, missing), blocks))
        else:
            # The tap engine runs on this thread: its ~10^5 short numpy calls would hand the GIL back and forth
            # between threads, which cost more than a second core gave (2 threads 0.39 s, 1 thread 0.35 s on
            # the benchmark frame). Parallelism across images (the pipeline's worker processes) scales.
            geometry = _Geometry(matrix, offset, source.shape, output_shape[1], kernel.rounding)
            scratch = _Scratch(dtype)
            for rows in _row_blocks(output_shape[0], _BLOCK_ROWS):
                _resample_block(kernel, params, source, geometry, rows, out[rows[0] : rows[1]], missing, scratch)
    return out


def _scipy_block(coef, matrix, offset, rows, out, order, missing):
    ndimage.affine_transform(
        coef,
        matrix,
        offset + matrix @ np.array([rows[0], 0.0]),
        output_shape=(rows[1] - rows[0], out.shape[1]),
        output=out[rows[0] : rows[1]],
        order=order,
        mode="constant",
        cval=missing,
        prefilter=False,
    )
