"""
The compiled parts of `aiapy.calibrate._interpolate`: the resampling engine and the cubic B-spline
prefilter (numba, cached on disk). Kept apart so that numba is imported on the first resampling, not with
`aiapy.calibrate`. Each works on a range of rows (or columns) so that threads can share a frame.
"""

import numba
import numpy as np

from aiapy.calibrate._interpolate import _GAIN3, _Z3


@numba.njit(cache=True, inline="always")
def _edge(index, n, mirror):
    """Map an index beyond ``[0, n - 1]`` back into the array: edge replicated, or mirrored (scipy)."""
    if 0 <= index < n:
        return index
    if not mirror:
        return 0 if index < 0 else n - 1
    if n == 1:
        return 0
    period = 2 * (n - 1)
    index = abs(index) % period
    return period - index if index >= n else index


@numba.njit(cache=True, inline="always")
def _tap_weight(coef, k, t):
    """The weight of tap ``k`` at fractional offset ``t``: its polynomial by Horner's rule."""
    row = coef[k]
    value = row[len(row) - 1]
    for m in range(len(row) - 2, -1, -1):
        value = value * t + row[m]
    return value


@numba.njit(cache=True, inline="always")
def _inside(py, px, ny, nx):
    return 0.0 <= py <= ny - 1 and 0.0 <= px <= nx - 1


@numba.njit(cache=True, inline="always")
def _clipped(value, clip, low, high):
    if clip:
        if value < low:
            return low
        if value > high:
            return high
    return value


#: Arithmetic of the engine: exact IEEE operations, except that a multiply-add may be fused (FMA), which
#: changes results by rounding only and does not depend on the threads.
_FASTMATH = {"contract"}


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _resample_rows(source, matrix, offset, coef, tap0, rounding, mirror, missing, clip, low, high, out, r0, r1):
    """
    Output rows ``r0:r1`` of ``out``: at each pixel, the taps around ``floor(p + rounding)`` weighted by the
    tap polynomials ``coef`` (a tuple per tap: its length is a compile-time constant, so the tap loops
    unroll), in ``source``'s dtype, clipped to ``[low, high]`` if ``clip``.

    Along a row of an aia_prep transform (a fraction of a degree, a scale within 0.2 % of 1) the base index
    moves with the column for long runs; within such a run of interior pixels the taps are at fixed offsets
    from the column (no edge rule, contiguous loads). Positions are computed the same way on either path.
    """
    ny, nx = source.shape
    ntaps = len(coef)
    ncols = out.shape[1]
    zero = source.dtype.type(0)
    for i in range(r0, r1):
        py0 = matrix[0, 0] * i + offset[0]
        px0 = matrix[1, 0] * i + offset[1]
        j = 0
        while j < ncols:
            py = py0 + matrix[0, 1] * j
            px = px0 + matrix[1, 1] * j
            if not _inside(py, px, ny, nx):
                out[i, j] = missing
                j += 1
                continue
            by = np.floor(py + rounding)
            iy = int(by) + tap0
            shift = int(np.floor(px + rounding)) + tap0 - j  # first column tap minus the column
            run = j
            while run < ncols and 0 <= iy and iy + ntaps <= ny and 0 <= run + shift and run + shift + ntaps <= nx:
                qy = py0 + matrix[0, 1] * run
                qx = px0 + matrix[1, 1] * run
                if not _inside(qy, qx, ny, nx) or np.floor(qy + rounding) != by:
                    break
                if int(np.floor(qx + rounding)) + tap0 - run != shift:
                    break
                ty = source.dtype.type(qy - by)
                tx = source.dtype.type(qx - (run + shift - tap0))
                acc = zero
                for k in range(ntaps):
                    part = zero
                    for m in range(ntaps):
                        part += _tap_weight(coef, m, tx) * source[iy + k, run + shift + m]
                    acc += _tap_weight(coef, k, ty) * part
                out[i, run] = _clipped(acc, clip, low, high)
                run += 1
            if run > j:
                j = run
                continue
            # a pixel whose taps reach beyond the input's edge
            ty = source.dtype.type(py - by)
            tx = source.dtype.type(px - (j + shift - tap0))
            acc = zero
            for k in range(ntaps):
                part = zero
                r = _edge(iy + k, ny, mirror)
                for m in range(ntaps):
                    part += _tap_weight(coef, m, tx) * source[r, _edge(j + shift + m, nx, mirror)]
                acc += _tap_weight(coef, k, ty) * part
            out[i, j] = _clipped(acc, clip, low, high)
            j += 1


@numba.njit(cache=True, nogil=True)
def _mark_support(bad, matrix, offset, tap0, ntaps, rounding, mirror, out, r0, r1):
    """Set to NaN the pixels of rows ``r0:r1`` of ``out`` (inside the input) whose taps touch a ``bad`` pixel."""
    ny, nx = bad.shape
    for i in range(r0, r1):
        for j in range(out.shape[1]):
            py = matrix[0, 0] * i + matrix[0, 1] * j + offset[0]
            px = matrix[1, 0] * i + matrix[1, 1] * j + offset[1]
            if not (0.0 <= py <= ny - 1 and 0.0 <= px <= nx - 1):
                continue
            by = int(np.floor(py + rounding)) + tap0
            bx = int(np.floor(px + rounding)) + tap0
            touched = False
            for k in range(ntaps):
                r = _edge(by + k, ny, mirror)
                for m in range(ntaps):
                    touched |= bad[r, _edge(bx + m, nx, mirror)]
            if touched:
                out[i, j] = np.nan


@numba.njit(cache=True, nogil=True)
def _filter_rows(image, start, out, r0, r1):
    """Cubic B-spline prefilter along axis 1 of rows ``r0:r1``, ``image`` -> ``out``, carried in float64."""
    n = image.shape[1]
    z = _Z3
    line = np.empty(n, np.float64)
    for i in range(r0, r1):
        if n == 1:
            out[i, 0] = image[i, 0]  # scipy leaves single samples unchanged
            continue
        carry = 0.0
        for k in range(start.size):
            carry += start[k] * image[i, k]
        line[0] = carry
        for k in range(1, n):
            carry = carry * z + image[i, k]
            line[k] = carry
        carry = (z * line[n - 2] + carry) * (z / (z * z - 1))
        out[i, n - 1] = _GAIN3 * carry
        for k in range(n - 2, -1, -1):
            carry = z * (carry - line[k])
            out[i, k] = _GAIN3 * carry


@numba.njit(cache=True, nogil=True)
def _filter_columns(c, start, c0, c1):
    """
    In place, the cubic B-spline prefilter along axis 0 of columns ``c0:c1``: each recursion step is a
    contiguous run of a row (not a strided column walk), carried in a float64 block.
    """
    n = c.shape[0]
    if n == 1:
        return
    z = _Z3
    w = c1 - c0
    line = np.empty((n, w), np.float64)
    for j in range(w):
        line[0, j] = 0.0
    for k in range(start.size):
        for j in range(w):
            line[0, j] += start[k] * c[k, c0 + j]
    for k in range(1, n):
        for j in range(w):
            line[k, j] = line[k - 1, j] * z + c[k, c0 + j]
    carry = np.empty(w, np.float64)
    for j in range(w):
        carry[j] = (z * line[n - 2, j] + line[n - 1, j]) * (z / (z * z - 1))
        c[n - 1, c0 + j] = _GAIN3 * carry[j]
    for k in range(n - 2, -1, -1):
        for j in range(w):
            carry[j] = z * (carry[j] - line[k, j])
            c[k, c0 + j] = _GAIN3 * carry[j]
