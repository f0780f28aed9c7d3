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
Row blocks run on threads; numpy releases the GIL in all of these operations.

Where the time goes (4096 x 4096, float32): the 4 x 4 tap sums are 35 array passes per pixel and the
per-pixel weights about 30; everything else is kept off the per-pixel path. Positions cost one broadcast
add per axis (`_Geometry` holds the per-column terms), shift ranges come from a block's first and last
rows (they are monotone down a column), and validity masks are computed only for the columns near the
input's edges (`_Geometry.inside_columns`). The cubic B-spline prefilter runs its strided axis as
contiguous row recursions (`_cubic_filter_axis0`), ~3x faster than scipy's line-by-line filter there.
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

#: Output rows per block of the tap engine (small enough for the block's weights to stay in cache).
_BLOCK_ROWS = 64
#: Columns with more than this many distinct integer shifts in a block use the per-pixel gather.
_MAX_SHIFTS = 4


@dataclass(frozen=True)
class Kernel:
    """An interpolation kernel of the registry."""

    name: str
    #: Tap offsets relative to the base index ``floor(p + rounding)``.
    taps: tuple
    rounding: float
    #: ``weights(t, **params)`` -> one weight array per tap, for fractional offsets ``t = p - base``.
    weights: Callable
    #: Values of taps beyond the array edge: "clamp" (edge replicated) or "mirror" (scipy's spline rule).
    edge: str
    #: Whether the input must first be converted to cubic B-spline coefficients.
    prefilter: bool
    #: What this kernel reproduces, shown in the public docstring and error messages.
    matches: str


KERNELS = {}


def register_kernel(name, *, taps, rounding=0.0, edge="clamp", prefilter=False, matches=""):
    """Decorator adding a tap-weight function to `KERNELS` under ``name``."""

    def decorator(weights):
        KERNELS[name] = Kernel(name, tuple(taps), rounding, weights, edge, prefilter, matches)
        return weights

    return decorator


@register_kernel("nearest", taps=(0,), rounding=0.5, matches="SolarSoft aia_prep /NEAREST (IDL ROT without /INTERP)")
def _nearest_weights(t):
    return [np.ones_like(t)]


@register_kernel("linear", taps=(0, 1), matches="SolarSoft aia_prep /INTERP (bilinear), scipy order=1")
def _linear_weights(t):
    return [1 - t, t]


@register_kernel(
    "cubic-convolution",
    taps=(-1, 0, 1, 2),
    matches="SolarSoft aia_prep default: IDL ROT(..., CUBIC=-0.5), Keys cubic convolution",
)
def keys_weights(t, *, a=-0.5):
    """
    Keys (1981) cubic-convolution weights of the taps at -1, 0, 1, 2 for fractional offsets ``t`` in [0, 1).

    ``W(x) = (a+2)|x|^3 - (a+3)|x|^2 + 1`` for ``|x| <= 1`` and ``a|x|^3 - 5a|x|^2 + 8a|x| - 4a`` for
    ``1 < |x| < 2``, evaluated at ``x = t + 1, t, 1 - t, 2 - t``; the weights sum to 1.
    """
    t = np.asarray(t)
    tu = t * (t - 1)
    w0 = tu * (t - 1)
    w0 *= a
    w3 = tu * t
    w3 *= -a
    w1 = t * (a + 2)
    w1 -= a + 3
    w1 *= t
    w1 *= t
    w1 += 1
    return [w0, w1, _last_weight(w0, w1, w3), w3]


@register_kernel(
    "spline",
    taps=(-1, 0, 1, 2),
    edge="mirror",
    prefilter=True,
    matches="aiapy/sunpy register and Map.rotate: scipy.ndimage order-`order` B-spline (order 3 here)",
)
def bspline3_weights(t):
    """Cubic B-spline weights of the taps at -1, 0, 1, 2 for fractional offsets ``t`` in [0, 1); they sum to 1."""
    t = np.asarray(t)
    w0 = 1 - t
    w0 *= w0 * w0
    w0 *= 1 / 6
    t2 = t * t
    w3 = t2 * t
    w3 *= 1 / 6
    w1 = t * 0.5
    w1 -= 1
    w1 *= t2
    w1 += 2 / 3
    return [w0, w1, _last_weight(w0, w1, w3), w3]


def _last_weight(w0, w1, w3):
    """The weight of tap 1, from the others (the weights sum to 1); in place, in the dtype of the others."""
    w2 = 1 - w0
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
    ``(dy, dx)`` of the taps. Along output row ``r``, ``p - q`` is ``(matrix - 1)[:, 0] * r`` plus a per-column
    term that is the same for every row: that term is computed once here, so a block's positions cost one
    broadcast add per axis. Computed this way, ``p - q`` is monotone in ``r`` for each column even in floating
    point (a sum of a monotone product and a constant), so a column's shifts over a block lie between those
    of the block's first and last rows.
    """

    def __init__(self, matrix, offset, shape_in, ncols):
        self.matrix, self.offset, self.shape_in = matrix, offset, shape_in
        self.qx = np.arange(ncols, dtype=np.float64)
        self.col_y = matrix[0, 1] * self.qx + offset[0]
        self.col_x = (matrix[1, 1] - 1) * self.qx + offset[1]

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


def _split(rel, rounding, dtype):
    """Fractional offsets ``t`` (in ``dtype``) and integer shifts ``floor(rel + rounding)`` of ``rel = p - q``."""
    if rounding:
        rel += rounding
    shift = np.floor(rel)
    rel -= shift
    return rel.astype(dtype, copy=False), shift


class _Block:
    """Weights, integer shifts and validity of one block of output rows for the tap engine."""

    def __init__(self, kernel, params, geometry, rows, dtype):
        self.r0, self.r1 = rows
        qy = np.arange(*rows, dtype=np.float64)[:, None]
        rel_y = (geometry.matrix[0, 0] - 1) * qy + geometry.col_y
        rel_x = geometry.matrix[1, 0] * qy + geometry.col_x
        #: Columns valid on every row; outside them, ``valid`` marks the pixels that map inside the input.
        self.core = geometry.inside_columns(rows)
        self.valid = None
        if self.core != (0, rel_y.shape[1]):
            ny, nx = geometry.shape_in
            self.valid = np.ones(rel_y.shape, bool)
            for c in (slice(0, self.core[0]), slice(self.core[1], None)):
                y, x, q = rel_y[:, c], rel_x[:, c], geometry.qx[c]
                self.valid[:, c] = (y >= -qy) & (y <= ny - 1 - qy) & (x >= -q) & (x <= nx - 1 - q)
        ty, self.dy = _split(rel_y, kernel.rounding, dtype)
        tx, self.dx = _split(rel_x, kernel.rounding, dtype)
        self.wy = kernel.weights(ty, **params)
        self.wx = kernel.weights(tx, **params)


def _column_runs(block):
    """
    Consecutive columns with the same range of integer shifts: ``(c0, c1, dy range, dx range, valid)``.

    ``valid`` is the run's validity mask, or None inside the block's core (all valid). Shifts are monotone
    down each column, so the first and last rows hold their extremes (over all pixels, valid or not: near
    the input's edges a run may try a shift that none of its valid pixels has, at no harm).
    """
    ends = np.stack([block.dy[[0, -1]], block.dx[[0, -1]]])
    stats = np.concatenate([ends.min(axis=1), ends.max(axis=1)])[[0, 2, 1, 3]]
    ncols = stats.shape[1]
    any_valid = np.ones(ncols, bool) if block.valid is None else block.valid.any(axis=0)
    change = np.flatnonzero(np.any(stats[:, 1:] != stats[:, :-1], axis=0) | (any_valid[1:] != any_valid[:-1])) + 1
    bounds = np.unique(np.concatenate([[0, ncols], block.core, change]))
    k0, k1 = block.core
    for c0, c1 in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if any_valid[c0]:
            s = stats[:, c0].astype(int).tolist()
            valid = None if k0 <= c0 < k1 else block.valid[:, c0:c1]
            yield c0, c1, (s[0], s[1]), (s[2], s[3]), valid


def _taps_sum(kernel, block, window, origin, shift, cols, acc):
    """
    Sum the kernel over one integer shift ``(dy, dx)`` for columns ``cols`` of the block into ``acc``.

    Every tap is a slice of ``window`` (no gather), so each of the 35 passes is one contiguous-row ufunc.
    """
    c0, c1 = cols
    nrows = block.r1 - block.r0
    row_part = np.empty_like(acc)
    term = np.empty_like(acc)
    for i, (ky, wy) in enumerate(zip(kernel.taps, block.wy, strict=True)):
        y = block.r0 + shift[0] + ky - origin[0]
        for j, (kx, wx) in enumerate(zip(kernel.taps, block.wx, strict=True)):
            x = c0 + shift[1] + kx - origin[1]
            np.multiply(wx[:, c0:c1], window[y : y + nrows, x : x + c1 - c0], out=term if j else row_part)
            if j:
                row_part += term
        np.multiply(wy[:, c0:c1], row_part, out=term if i else acc)
        if i:
            acc += term
    return acc


def _gather(kernel, block, source, cols, valid, out):
    """Per-pixel 2-D gather over columns ``cols`` (any transform); writes valid pixels of ``out``."""
    c0, c1 = cols
    valid = np.ones(out[:, c0:c1].shape, bool) if valid is None else valid
    by = (block.dy[:, c0:c1] + np.arange(block.r0, block.r1)[:, None])[valid].astype(np.int64)
    bx = (block.dx[:, c0:c1] + np.arange(c0, c1))[valid].astype(np.int64)
    total = np.zeros(by.shape, out.dtype)
    ny, nx = source.shape
    for ky, wy in zip(kernel.taps, block.wy, strict=True):
        rows = _edge_index(by + ky, ny, kernel.edge)
        part = np.zeros(by.shape, out.dtype)
        for kx, wx in zip(kernel.taps, block.wx, strict=True):
            part += wx[:, c0:c1][valid] * source[rows, _edge_index(bx + kx, nx, kernel.edge)]
        total += wy[:, c0:c1][valid] * part
    out[:, c0:c1][valid] = total


def _resample_block(kernel, params, source, geometry, rows, out, missing):
    """Resample output rows ``rows`` into ``out`` (a view of those rows) with the tap engine."""
    block = _Block(kernel, params, geometry, rows, out.dtype)
    out[:, : block.core[0]] = missing
    out[:, block.core[1] :] = missing
    lo, hi = min(kernel.taps), max(kernel.taps)
    for c0, c1, (dy0, dy1), (dx0, dx1), valid in _column_runs(block):
        shifts = [(dy, dx) for dy in range(dy0, dy1 + 1) for dx in range(dx0, dx1 + 1)]
        if len(shifts) > _MAX_SHIFTS:
            _gather(kernel, block, source, (c0, c1), valid, out)
            continue
        origin = (block.r0 + dy0 + lo, c0 + dx0 + lo)
        window = _window(source, (origin[0], block.r1 + dy1 + hi), (origin[1], c1 + dx1 + hi), kernel.edge)
        if len(shifts) == 1 and valid is None:
            # The common case: one shift over the whole run, every pixel valid: sum straight into the output.
            _taps_sum(kernel, block, window, origin, shifts[0], (c0, c1), out[:, c0:c1])
            continue
        acc = np.empty((block.r1 - block.r0, c1 - c0), out.dtype)
        for shift in shifts:
            _taps_sum(kernel, block, window, origin, shift, (c0, c1), acc)
            where = valid if len(shifts) == 1 else (block.dy[:, c0:c1] == shift[0]) & (block.dx[:, c0:c1] == shift[1])
            if valid is not None and len(shifts) > 1:
                where &= valid
            np.copyto(out[:, c0:c1], acc, where=where)


def _row_blocks(nrows, block_rows):
    return [(r, min(r + block_rows, nrows)) for r in range(0, nrows, block_rows)]


#: The pole of the cubic B-spline prefilter, and its gain (1 - z)(1 - 1/z).
_Z3 = np.sqrt(3) - 2
_GAIN3 = 6.0


def _cubic_filter_axis0(c):
    """
    In place, the cubic B-spline prefilter along axis 0 with scipy's mirror boundaries (Unser 1999).

    Along axis 0 (strided in memory) scipy's line-by-line filter runs ~3x slower than along axis 1; here
    each step of the two recursions, ``c[i] += z c[i-1]`` then ``c[i] = z (c[i+1] - c[i])``, is one
    contiguous row operation. The causal start is the sum of ``z^k`` times the mirror-extended column.
    """
    n = c.shape[0]
    if n == 1:
        return  # scipy leaves single samples unchanged
    c *= _GAIN3
    k = np.arange(n)
    start = _Z3**k + np.where((k > 0) & (k < n - 1), _Z3 ** (2 * n - 2 - k), 0.0)
    start /= 1 - _Z3 ** (2 * n - 2)
    used = np.flatnonzero(start)[-1] + 1  # z^k underflows to 0 beyond k ~ 570
    c[0] = start[:used] @ c[:used]
    step = np.empty_like(c[0])
    for i in range(1, n):
        np.multiply(c[i - 1], _Z3, out=step)
        c[i] += step
    c[n - 1] = (_Z3 * c[n - 2] + c[n - 1]) * (_Z3 / (_Z3 * _Z3 - 1))
    for i in range(n - 2, -1, -1):
        np.subtract(c[i + 1], c[i], out=c[i])
        c[i] *= _Z3


def _spline_coefficients(image, order, dtype, pool, workers):
    """B-spline coefficients of ``image`` (scipy's rule for mode="constant": mirror), in ``dtype``."""
    work = np.array(image, dtype=np.float64)
    coef = np.empty(image.shape, dtype)
    ny, nx = image.shape

    def along_columns(c):
        ndimage.spline_filter1d(work[:, c[0] : c[1]], order, axis=0, output=work[:, c[0] : c[1]], mode="mirror")

    def along_rows(r):
        ndimage.spline_filter1d(work[r[0] : r[1]], order, axis=1, output=coef[r[0] : r[1]], mode="mirror")

    if order == 3:
        _cubic_filter_axis0(work)
    else:
        list(pool.map(along_columns, _row_blocks(nx, -(-nx // workers))))
    list(pool.map(along_rows, _row_blocks(ny, -(-ny // workers))))
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
        Threads; None means ``os.cpu_count()``.
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
            geometry = _Geometry(matrix, offset, source.shape, output_shape[1])

            def block(r):
                _resample_block(kernel, params, source, geometry, r, out[r[0] : r[1]], missing)

            list(pool.map(block, _row_blocks(output_shape[0], _BLOCK_ROWS)))
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
