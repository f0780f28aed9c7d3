"""
Affine resampling of 2-D arrays: the interpolation kernels behind `aiapy.calibrate.register`.

Array-only and private: no maps, units or headers. Every kernel maps output pixel ``q = (row, col)`` to the
input position ``p = matrix @ q + offset`` (0-based, pixel centres at integers, as in IDL ``POLY_2D`` and
``scipy.ndimage``), and sets outputs whose ``p`` falls outside ``[0, n - 1]`` on either axis to ``missing``.

Kernels live in a registry (`KERNELS`, filled by `register_kernel`); each declares its taps, the rule for
taps beyond the array edge, whether it needs the B-spline prefilter, and which reference it reproduces. Its
tap weights are polynomials in the fractional offset ``t`` (one row of coefficients per tap), which covers
nearest, bilinear, cubic convolution, B-splines and any other piecewise-polynomial kernel of any width.

The engine (`_resample_rows`) and the cubic B-spline prefilter are compiled with numba (cached on disk, so
nothing compiles at each start); they live in `aiapy.calibrate._compiled`, imported on the first
resampling, so that importing `aiapy.calibrate` does not import numba. Each output pixel is computed on its
own, from its float64 position: the result is the same whatever the number of threads (rows are shared
among ``workers`` threads, the GIL released). Missing input pixels (NaN, or BLANK in integer data) are
filled with a local mean before the prefilter and taps (`fill_missing`), and the output pixels whose taps
touch one are set to NaN (`_support_flags`), so a missing pixel stays local for every kernel. The same pass
carries the input's `~aiapy.utils.PixelFlag` bits to the output grid and keeps the outputs whose taps touch a
saturated or bloomed pixel within the range of their taps.
"""

import functools
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from aiapy.utils.pixelflags import PixelFlag
from aiapy.utils.saturation import GUARDED

__all__ = ["KERNELS", "affine_resample", "resample_flagged", "fill_missing", "kernel_weights", "register_kernel",
           "valid_range"]  # fmt: skip

log = logging.getLogger(__name__)

#: Output rows per task of the thread pool (many more tasks than threads: cutout rows cost unevenly).
_TASK_ROWS = 64
#: Depth (pixels from the nearest valid one) to which `fill_missing` takes local means; deeper pixels of
#: large holes take the image minimum (the B-spline prefilter's response decays as 0.268^k: a value 8
#: pixels inside a hole moves the hole's border by < 3e-5 of its step, and that border is NaN anyway).
_FILL_DEPTH = 8


@dataclass(frozen=True)
class Kernel:
    """An interpolation kernel of the registry."""

    name: str
    #: Tap offsets (consecutive integers) relative to the base index ``floor(p + rounding)``.
    taps: tuple
    rounding: float
    #: ``coefficients(**params)`` -> (len(taps), degree + 1) array: the weight of tap ``k`` at fractional
    #: offset ``t = p - base`` is ``sum_j c[k, j] t**j``.
    coefficients: Callable
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
    """
    Decorator adding a kernel to `KERNELS` under ``name``, from the function giving its tap polynomials.

    ``taps`` are consecutive integer offsets (any number of them); the decorated function takes the kernel's
    parameters as keywords and returns a (len(taps), degree + 1) array of polynomial coefficients in
    ascending powers of ``t``.
    """
    taps = tuple(int(k) for k in taps)
    if taps != tuple(range(taps[0], taps[0] + len(taps))):
        raise ValueError(f"taps of kernel {name!r} must be consecutive integers; got {taps}.")
    if edge not in ("clamp", "mirror"):
        raise ValueError(f"edge of kernel {name!r} must be 'clamp' or 'mirror'; got {edge!r}.")

    def decorator(coefficients):
        KERNELS[name] = Kernel(name, taps, float(rounding), coefficients, edge, prefilter, matches, clip)
        return coefficients

    return decorator


@register_kernel("nearest", taps=(0,), rounding=0.5, matches="SolarSoft aia_prep /NEAREST (IDL ROT without /INTERP)")
def _nearest_coefficients():
    return np.array([[1.0]])


@register_kernel("linear", taps=(0, 1), matches="SolarSoft aia_prep /INTERP (bilinear), scipy order=1")
def _linear_coefficients():
    return np.array([[1.0, -1.0], [0.0, 1.0]])  # 1 - t, t


@register_kernel(
    "cubic-convolution",
    taps=(-1, 0, 1, 2),
    matches="SolarSoft aia_prep default: IDL ROT(..., CUBIC=-0.5), Keys cubic convolution with a = `cubic`",
)
def _keys_coefficients(*, a=-0.5):
    """
    Keys (1981): ``W(x) = (a+2)|x|^3 - (a+3)|x|^2 + 1`` for ``|x| <= 1`` and ``a|x|^3 - 5a|x|^2 + 8a|x| - 4a``
    for ``1 < |x| < 2``, at ``x = t + 1, t, 1 - t, 2 - t`` for the taps at -1, 0, 1, 2.
    """
    return np.array(
        [
            [0.0, a, -2 * a, a],  # a t (t-1)^2
            [1.0, 0.0, -(a + 3), a + 2],  # (a+2) t^3 - (a+3) t^2 + 1
            [0.0, -a, 2 * a + 3, -(a + 2)],  # 1 - the others
            [0.0, 0.0, a, -a],  # -a t^2 (t-1)
        ]
    )


@register_kernel(
    "spline",
    taps=(-1, 0, 1, 2),
    edge="mirror",
    prefilter=True,
    matches="B-spline of order `order` (scipy.ndimage): the numbers of aiapy/sunpy register and Map.rotate",
    clip=True,
)
def _bspline3_coefficients():
    """Cubic B-spline weights: (1-t)^3/6, t^3/2 - t^2 + 2/3, (1 + 3t + 3t^2 - 3t^3)/6, t^3/6."""
    return np.array([[1, -3, 3, -1], [4, 0, -6, 3], [1, 3, 3, -3], [0, 0, 0, 1]]) / 6.0


def kernel_weights(method, t, **params):
    """The weights of ``method``'s taps at fractional offsets ``t`` (a list of arrays shaped like ``t``)."""
    coefficients = KERNELS[method].coefficients(**params)
    return [np.polynomial.polynomial.polyval(np.asarray(t), row) for row in coefficients]


def _support(kernel, order):
    """Tap offsets and rounding of the kernel, or of scipy's B-spline of ``order`` for the spline."""
    if not kernel.prefilter:
        return kernel.taps, kernel.rounding
    half = order // 2
    return tuple(range(-half, half + 1 + order % 2)), 0.5 * (1 - order % 2)


# ---------------------------------------------------------------------------------------------------------
# The B-spline prefilter (its compiled loops are in `_compiled`, imported on first use: numba's import is
# not paid by `import aiapy.calibrate`).

#: The pole of the cubic B-spline prefilter, and its gain (1 - z)(1 - 1/z) (constants of the compiled code).
_Z3 = float(np.sqrt(3) - 2)
_GAIN3 = 6.0


@functools.lru_cache(maxsize=16)
def _causal_start(n):
    """
    Weights of the first causal coefficient (scipy's mirror rule): ``c+[0] = start @ x[:start.size]``.
    Kept per length, read-only (0.8 ms for 4096 pixels, twice per registration otherwise).
    """
    if n == 1:
        start = np.ones(1)  # unused: single samples stay as they are
    else:
        k = np.arange(n)
        start = _Z3**k + np.where((k > 0) & (k < n - 1), _Z3 ** (2 * n - 2 - k), 0.0)
        start /= 1 - _Z3 ** (2 * n - 2)
        start = start[: np.flatnonzero(start)[-1] + 1]  # z^k underflows to 0 beyond k ~ 570
    start.flags.writeable = False
    return start


def _cubic_filter_axis0(c):
    """In place, the cubic B-spline prefilter of ``c`` along axis 0 (scipy's mirror rule)."""
    from aiapy.calibrate._compiled import _filter_columns  # noqa: PLC0415 (numba imported on first use)

    _filter_columns(c, _causal_start(c.shape[0]), 0, c.shape[1])


#: Columns per task of the axis-0 prefilter: a (rows x 64) float64 block per task.
_FILTER_COLUMNS = 64


def _spline_coefficients(image, order, dtype, pool, workers):
    """B-spline coefficients of ``image`` (scipy's rule for mode="constant": mirror), in ``dtype``."""
    coef = np.empty(image.shape, dtype)
    ny, nx = image.shape
    if order == 3:
        from aiapy.calibrate._compiled import _filter_columns, _filter_rows  # noqa: PLC0415 (see _cubic_filter_axis0)

        row_start, column_start = _causal_start(nx), _causal_start(ny)
        _run(pool, lambda r: _filter_rows(image, row_start, coef, *r), _chunks(ny, -(-ny // (4 * workers))))
        _run(pool, lambda c: _filter_columns(coef, column_start, *c), _chunks(nx, _FILTER_COLUMNS))
        return coef

    def along_rows(r):
        ndimage.spline_filter1d(image[r[0] : r[1]], order, axis=1, output=coef[r[0] : r[1]], mode="mirror")

    def along_columns(c):
        ndimage.spline_filter1d(coef[:, c[0] : c[1]], order, axis=0, output=coef[:, c[0] : c[1]], mode="mirror")

    _run(pool, along_rows, _chunks(ny, -(-ny // workers)))
    _run(pool, along_columns, _chunks(nx, -(-nx // workers)))
    return coef


def _chunks(n, size):
    return [(r, min(r + size, n)) for r in range(0, n, max(1, size))]


def _run(pool, task, chunks):
    """Run ``task`` on every chunk in the pool (results are written in place), re-raising any error."""
    for future in [pool.submit(task, chunk) for chunk in chunks]:
        future.result()


# ---------------------------------------------------------------------------------------------------------
# Missing pixels.


def valid_range(image, blank=None):
    """
    The missing pixels of ``image`` and the range of the others.

    The common case (no missing pixel) costs one min and one max, vectorised: NaN propagates through both
    and infinities show in them, and a BLANK outside the range is held by no pixel. Only otherwise is a
    mask made.

    Parameters
    ----------
    image : 2-D ndarray
        Any real dtype.
    blank : int, optional
        The BLANK value of integer data (FITS): such pixels are missing too.

    Returns
    -------
    bad : bool ndarray or None
        Mask of the missing pixels (NaN, infinite, or BLANK); None when there is none.
    low, high : float
        Min and max of the valid pixels (NaN when every pixel is missing).
    """
    low, high = image.min(), image.max()
    if image.dtype.kind == "f":
        if np.isfinite(low) and np.isfinite(high):
            return None, float(low), float(high)
        bad = ~np.isfinite(image)
    else:
        if blank is None or not low <= blank <= high:
            return None, float(low), float(high)
        bad = image == blank
    if bad.all():
        return bad, np.nan, np.nan
    valid = image[~bad]
    return bad, float(valid.min()), float(valid.max())


def fill_missing(image, bad, dtype):
    """
    A copy of ``image`` in ``dtype`` with the ``bad`` pixels replaced by the mean of their valid
    8-neighbours, repeated inward (a hole fills from its border) for `_FILL_DEPTH` rings; pixels deeper in
    a hole take the minimum of the valid pixels.

    The fill never reaches an output pixel of a 4-tap kernel (those touching it are set to NaN); it matters
    for the B-spline, whose prefilter spreads every input value over the frame with weight 0.268^k at k
    pixels: a local value makes that spread as small as the local gradient, where the image minimum (as
    sunpy) would make it a step of the local level.
    """
    out = np.array(image, dtype=dtype)
    known = ~bad
    ny, nx = out.shape
    rows, cols = np.nonzero(bad)
    for _ in range(_FILL_DEPTH):
        if not rows.size:
            return out
        total = np.zeros(rows.size, np.float64)
        count = np.zeros(rows.size, np.int64)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                r, c = rows + dy, cols + dx
                inside = (r >= 0) & (r < ny) & (c >= 0) & (c < nx)
                r, c = r[inside], c[inside]
                use = known[r, c]
                total[inside] += np.where(use, out[r, c], 0.0)
                count[inside] += use
        done = count > 0
        out[rows[done], cols[done]] = total[done] / count[done]
        known[rows[done], cols[done]] = True
        rows, cols = rows[~done], cols[~done]
    out[rows, cols] = np.min(out[~bad])
    return out


# ---------------------------------------------------------------------------------------------------------


def affine_resample(image, matrix, offset, output_shape, *, bad=None, **options):
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
    bad : bool ndarray, optional
        Missing input pixels (see `valid_range`): filled by `fill_missing` before the prefilter and taps;
        the outputs whose taps touch one are NaN.
    **options
        The keywords of `resample_flagged` (``method``, ``order``, ``missing``, ``dtype``, ``workers``,
        ``clip`` and the kernel's parameters).

    Returns
    -------
    ndarray of ``dtype`` and ``output_shape``
    """
    flags = None if bad is None else bad.astype(np.uint8) * np.uint8(PixelFlag.MISSING)
    return resample_flagged(image, matrix, offset, output_shape, flags=flags, **options)[0]


def resample_flagged(
    image,
    matrix,
    offset,
    output_shape,
    *,
    flags=None,
    guard=True,
    method="spline",
    order=3,
    missing=0.0,
    dtype=np.float64,
    workers=None,
    clip=None,
    **params,
):
    """
    `affine_resample` with input pixel flags, returning the output's flags too.

    Parameters
    ----------
    image, matrix, offset, output_shape
        As `affine_resample`.
    flags : uint8 ndarray, optional
        `~aiapy.utils.PixelFlag` bits of the input pixels. ``MISSING`` pixels are filled by `fill_missing`
        before the prefilter and taps, and the outputs whose taps touch one are NaN and ``MISSING``;
        ``SATURATED`` and ``BLOOM`` go to the output pixels whose nearest input pixel has them.
    guard : bool
        Keep every output whose taps touch a `GUARDED` pixel within the range of the input over those taps
        (the cubic kernels ring at the edge of a saturated core: new minima and maxima next to it). The
        other outputs are not changed.
    method : str
        A name in `KERNELS`.
    order : int
        B-spline order (0-5) for ``method="spline"``; ignored otherwise.
    missing : float
        Value of outputs that map outside the input (NaN allowed).
    dtype : numpy float dtype
        Output dtype; the arithmetic is done in it.
    workers : int or None
        Threads; None means ``os.cpu_count()``. The result does not depend on it.
    clip : (float, float), optional
        Bounds to clip the output to.
    **params
        Kernel parameters (``a`` for ``"cubic-convolution"``).

    Returns
    -------
    out : ndarray of ``dtype`` and ``output_shape``
    out_flags : uint8 ndarray of ``output_shape``, or None
        The output's flags (None without ``flags``). Outputs outside the input are not flagged: they hold
        ``missing``.
    """
    from aiapy.calibrate._compiled import _resample_rows, _support_flags  # noqa: PLC0415 (numba on first use)

    kernel = KERNELS[method]
    matrix = np.asarray(matrix, dtype=np.float64)
    offset = np.asarray(offset, dtype=np.float64)
    dtype = np.dtype(dtype)
    workers = workers or os.cpu_count() or 1
    out = np.empty(output_shape, dtype)
    log.debug("affine_resample: %s (order %d) %s -> %s, %s, %d threads", method, order, image.shape, output_shape,
              dtype, workers)  # fmt: skip
    present = 0 if flags is None else int(np.bitwise_or.reduce(flags.ravel()))  # the bits set anywhere
    if present & PixelFlag.MISSING:
        image = fill_missing(image, (flags & np.uint8(PixelFlag.MISSING)) != 0, dtype)
    elif image.dtype == np.float16:
        image = image.astype(dtype)
    rows = _chunks(output_shape[0], _TASK_ROWS)
    with ThreadPoolExecutor(workers) as pool:
        if kernel.prefilter and order > 1:
            source = _spline_coefficients(image, order, dtype, pool, workers)
        else:
            source = np.asarray(image, dtype=dtype)
        if kernel.prefilter and order != 3:
            # Orders other than cubic go through scipy, on the coefficients computed above, block by block.
            _run(pool, lambda r: _scipy_block(source, matrix, offset, r, out, order, missing), rows)
            if clip is not None:
                np.clip(out, *clip, out=out)
        else:
            coef = _tap_polynomials(kernel, dtype, params)
            low, high = clip if clip is not None else (0.0, 0.0)
            args = (source, matrix, offset, coef, kernel.taps[0], kernel.rounding, kernel.edge == "mirror")
            args += (dtype.type(missing), clip is not None, dtype.type(low), dtype.type(high), out)
            _run(pool, lambda r: _resample_rows(*args, *r), rows)
        if not present:
            return out, None
        out_flags = np.zeros(output_shape, np.uint8)
        taps, rounding = _support(kernel, order)
        flagged = flags.max(axis=1) != 0
        flagged_rows = np.concatenate([[0], np.cumsum(flagged)])
        first = np.full(flags.shape[0], flags.shape[1], np.int64)
        last = np.full(flags.shape[0], -1, np.int64)
        hits = flags[flagged] != 0
        first[flagged] = hits.argmax(axis=1)
        last[flagged] = flags.shape[1] - 1 - hits[:, ::-1].argmax(axis=1)
        args = (flags, image, flagged_rows, first, last, matrix, offset, taps[0], len(taps), rounding)
        args += (kernel.edge == "mirror",)
        args += (np.uint8(GUARDED if guard else 0), out, out_flags)
        _run(pool, lambda r: _support_flags(*args, *r), rows)
    return out, out_flags


def _tap_polynomials(kernel, dtype, params):
    """The kernel's tap polynomials as a tuple of tuples of ``dtype`` scalars (the engine's constant shape)."""
    coef = np.asarray(kernel.coefficients(**params), dtype=dtype)
    if coef.ndim != 2 or coef.shape[0] != len(kernel.taps):
        raise ValueError(f"kernel {kernel.name!r} gives tap polynomials of shape {coef.shape} for taps {kernel.taps}.")
    return tuple(tuple(row) for row in coef)


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
