"""
Affine resampling of 2-D arrays: the interpolation kernels behind `aiapy.calibrate.register`.

Array-only and private: no maps, units or headers. Every kernel maps output pixel ``q = (row, col)`` to the
input position ``p = matrix @ q + offset`` (0-based, pixel centres at integers, as in IDL ``POLY_2D`` and
``scipy.ndimage``), and sets outputs whose ``p`` falls outside ``[0, n - 1]`` on either axis to ``missing``.

Kernels live in a registry (`KERNELS`, filled by `register_kernel`); each declares its taps, the rule for
taps beyond the array edge, whether it needs the B-spline prefilter, and which reference it reproduces.

The tap engine (`_resample_taps`) exploits what an aia_prep transform looks like: a rotation of a fraction
of a degree and a scale within 0.2 % of 1. Over most of a block of output rows, the integer part of the
input position then differs from the output position by a constant ``(dy, dx)``, so the taps are *slices*
of the input (no gather), weighted by per-pixel weights. Columns where that shift changes within the block
are done for each shift present under a mask, and anything else (large rotations) by a per-pixel gather.
Row blocks run on threads; numpy releases the GIL in all of these operations.
"""

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import ndimage

__all__ = ["KERNELS", "register_kernel", "affine_resample", "keys_weights", "bspline3_weights"]

log = logging.getLogger(__name__)

#: Output rows per block of the tap engine (small enough for the block's weights to stay in cache).
_BLOCK_ROWS = 32
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
    u = t - 1
    tu = t * u
    w0 = a * tu * u
    w3 = -a * t * tu
    w1 = ((a + 2) * t - (a + 3)) * t * t + 1
    return [w0, w1, 1 - w0 - w1 - w3, w3]


@register_kernel(
    "spline",
    taps=(-1, 0, 1, 2),
    edge="mirror",
    prefilter=True,
    matches="aiapy/sunpy register and Map.rotate: scipy.ndimage order-`order` B-spline (order 3 here)",
)
def bspline3_weights(t):
    """Cubic B-spline weights of the taps at -1, 0, 1, 2 for fractional offsets ``t`` in [0, 1); they sum to 1."""
    u = 1 - t
    w0 = u * u * u / 6
    t2 = t * t
    w3 = t2 * t / 6
    w1 = t2 * (t / 2 - 1) + 2 / 3
    return [w0, w1, 1 - w0 - w1 - w3, w3]


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


def _positions(matrix, offset, rows, ncols, shape_in):
    """Input positions of output rows ``rows[0]:rows[1]`` (all columns) and their validity mask."""
    qy = np.arange(*rows, dtype=np.float64)[:, None]
    qx = np.arange(ncols, dtype=np.float64)[None, :]
    py = matrix[0, 0] * qy + (matrix[0, 1] * qx + offset[0])
    px = matrix[1, 0] * qy + (matrix[1, 1] * qx + offset[1])
    valid = (py >= 0) & (py <= shape_in[0] - 1) & (px >= 0) & (px <= shape_in[1] - 1)
    return py, px, valid


class _Block:
    """Geometry and weights of one block of output rows for the tap engine."""

    def __init__(self, kernel, params, matrix, offset, rows, ncols, shape_in, dtype):
        self.r0, self.r1 = rows
        py, px, self.valid = _positions(matrix, offset, rows, ncols, shape_in)
        if kernel.rounding:
            py += kernel.rounding
            px += kernel.rounding
        self.by = np.floor(py)
        self.bx = np.floor(px)
        # Fractional offsets in the working dtype: float32 keeps the weights to ~1e-7, well inside 1e-6.
        self.wy = kernel.weights((py - self.by).astype(dtype), **params)
        self.wx = kernel.weights((px - self.bx).astype(dtype), **params)
        # Integer shift between the base input index and the output index (meaningful where valid).
        self.dy = (self.by - np.arange(*rows)[:, None]).astype(np.int32)
        self.dx = (self.bx - np.arange(ncols)[None, :]).astype(np.int32)


def _column_runs(block):
    """Consecutive columns with the same range of integer shifts: ``(c0, c1, dy range, dx range)``."""
    big = np.iinfo(np.int32).max
    any_valid = block.valid.any(axis=0)
    stats = np.stack(
        [
            np.where(block.valid, block.dy, big).min(axis=0),
            np.where(block.valid, block.dy, -big).max(axis=0),
            np.where(block.valid, block.dx, big).min(axis=0),
            np.where(block.valid, block.dx, -big).max(axis=0),
        ]
    )
    change = np.flatnonzero(np.any(stats[:, 1:] != stats[:, :-1], axis=0) | (any_valid[1:] != any_valid[:-1])) + 1
    bounds = np.concatenate([[0], change, [stats.shape[1]]])
    for c0, c1 in zip(bounds[:-1], bounds[1:], strict=True):
        if any_valid[c0]:
            s = stats[:, c0]
            yield int(c0), int(c1), (int(s[0]), int(s[1])), (int(s[2]), int(s[3]))


def _taps_sum(kernel, block, window, origin, shift, cols, acc):
    """Accumulate the kernel over one integer shift ``(dy, dx)`` for columns ``cols`` of the block into acc."""
    c0, c1 = cols
    nrows = block.r1 - block.r0
    row_part = np.empty_like(acc)
    term = np.empty_like(acc)
    acc[...] = 0
    for ky, wy in zip(kernel.taps, block.wy, strict=True):
        y = block.r0 + shift[0] + ky - origin[0]
        row_part[...] = 0
        for kx, wx in zip(kernel.taps, block.wx, strict=True):
            x = c0 + shift[1] + kx - origin[1]
            np.multiply(wx[:, c0:c1], window[y : y + nrows, x : x + c1 - c0], out=term)
            row_part += term
        np.multiply(wy[:, c0:c1], row_part, out=term)
        acc += term
    return acc


def _gather(kernel, block, source, cols, out):
    """Per-pixel 2-D gather over columns ``cols`` (any transform); writes valid pixels of ``out``."""
    c0, c1 = cols
    valid = block.valid[:, c0:c1]
    by = block.by[:, c0:c1][valid].astype(np.int64)
    bx = block.bx[:, c0:c1][valid].astype(np.int64)
    total = np.zeros(by.shape, out.dtype)
    ny, nx = source.shape
    for ky, wy in zip(kernel.taps, block.wy, strict=True):
        rows = _edge_index(by + ky, ny, kernel.edge)
        part = np.zeros(by.shape, out.dtype)
        for kx, wx in zip(kernel.taps, block.wx, strict=True):
            part += wx[:, c0:c1][valid] * source[rows, _edge_index(bx + kx, nx, kernel.edge)]
        total += wy[:, c0:c1][valid] * part
    out[:, c0:c1][valid] = total


def _resample_block(kernel, params, source, matrix, offset, rows, out, missing):
    """Resample output rows ``rows`` into ``out`` (a view of those rows) with the tap engine."""
    block = _Block(kernel, params, matrix, offset, rows, out.shape[1], source.shape, out.dtype)
    out[...] = missing
    lo, hi = min(kernel.taps), max(kernel.taps)
    for c0, c1, (dy0, dy1), (dx0, dx1) in _column_runs(block):
        shifts = [(dy, dx) for dy in range(dy0, dy1 + 1) for dx in range(dx0, dx1 + 1)]
        if len(shifts) > _MAX_SHIFTS:
            _gather(kernel, block, source, (c0, c1), out)
            continue
        origin = (block.r0 + dy0 + lo, c0 + dx0 + lo)
        window = _window(source, (origin[0], block.r1 + dy1 + hi), (origin[1], c1 + dx1 + hi), kernel.edge)
        acc = np.empty((block.r1 - block.r0, c1 - c0), out.dtype)
        valid = block.valid[:, c0:c1]
        for shift in shifts:
            _taps_sum(kernel, block, window, origin, shift, (c0, c1), acc)
            where = valid if len(shifts) == 1 else valid & (block.dy[:, c0:c1] == shift[0]) & (
                block.dx[:, c0:c1] == shift[1]
            )
            np.copyto(out[:, c0:c1], acc, where=where)


def _row_blocks(nrows, block_rows):
    return [(r, min(r + block_rows, nrows)) for r in range(0, nrows, block_rows)]


def _spline_coefficients(image, order, dtype, pool, workers):
    """B-spline coefficients of ``image`` (scipy's rule for mode="constant"), each axis split over threads."""
    work = np.array(image, dtype=np.float64)
    coef = np.empty(image.shape, dtype)
    ny, nx = image.shape

    def along_rows(r):
        ndimage.spline_filter1d(work[r[0] : r[1]], order, axis=1, output=work[r[0] : r[1]], mode="mirror")

    def along_columns(c):
        ndimage.spline_filter1d(work[:, c[0] : c[1]], order, axis=0, output=coef[:, c[0] : c[1]], mode="mirror")

    list(pool.map(along_rows, _row_blocks(ny, -(-ny // workers))))
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
    log.debug("affine_resample: %s (order %d) %s -> %s, %s, %d threads", method, order, image.shape, output_shape,
              dtype, workers)
    with ThreadPoolExecutor(workers) as pool:
        source = np.asarray(image, dtype=dtype)
        if kernel.prefilter and order > 1:
            source = _spline_coefficients(image, order, dtype, pool, workers)
        if kernel.prefilter and order != 3:
            # Orders other than cubic go through scipy, on the coefficients computed above, block by block.
            blocks = _row_blocks(output_shape[0], -(-output_shape[0] // workers))
            list(pool.map(lambda r: _scipy_block(source, matrix, offset, r, out, order, missing), blocks))
        else:
            blocks = _row_blocks(output_shape[0], _BLOCK_ROWS)
            list(
                pool.map(
                    lambda r: _resample_block(
                        kernel, params, source, matrix, offset, r, out[r[0] : r[1]], missing
                    ),
                    blocks,
                )
            )
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
