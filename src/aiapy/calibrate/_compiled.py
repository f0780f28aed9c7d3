"""
The compiled parts of `aiapy.calibrate._interpolate`: the resampling engine and the cubic B-spline
prefilter (numba, cached on disk). Kept apart so that numba is imported on the first resampling, not with
`aiapy.calibrate`. Each works on a range of rows (or columns) so that threads can share a frame.
"""

import numba
import numpy as np

from aiapy.calibrate._interpolate import _GAIN3, _Z3
from aiapy.utils.pixelflags import PixelFlag

#: The flag bits `_support_flags` treats (plain ints: numba constants).
_MISSING = int(PixelFlag.MISSING)
_CARRIED = int(PixelFlag.SATURATED | PixelFlag.BLOOM)


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
def _tap_sum(source, iy, ix, ty, tx, coef, edges, mirror):
    """
    The taps from ``(iy, ix)`` weighted by the tap polynomials at ``(ty, tx)``, in ``source``'s dtype.
    ``edges`` (a constant at each call, so each call compiles to its own loop) maps the taps beyond the
    array into it; without it the taps must be interior and the indices are unsigned (no wraparound test:
    contiguous loads that vectorise along a row).
    """
    ny, nx = source.shape
    ntaps = len(coef)
    zero = source.dtype.type(0)
    acc = zero
    for k in range(ntaps):
        r = np.uint64(_edge(iy + k, ny, mirror)) if edges else np.uint64(iy + k)
        part = zero
        for m in range(ntaps):
            c = np.uint64(_edge(ix + m, nx, mirror)) if edges else np.uint64(ix + m)
            part += _tap_weight(coef, m, tx) * source[r, c]
        acc += _tap_weight(coef, k, ty) * part
    return acc


#: Arithmetic of the engine: exact IEEE operations, except that a multiply-add may be fused (FMA), which
#: changes results by rounding only and does not depend on the threads (it may on the CPU: whether it has
#: FMA).
_FASTMATH = {"contract"}


@numba.njit(cache=True, inline="always")
def _row_start(matrix, offset, i):
    """The input position ``(py0, px0)`` of output pixel ``(i, 0)``: the start of output row ``i``."""
    return matrix[0, 0] * i + offset[0], matrix[1, 0] * i + offset[1]


@numba.njit(cache=True, inline="always")
def _position(py0, px0, m01, m11, j):
    """
    The input position ``(py, px)`` of output column ``j`` of the row that starts at ``(py0, px0)``
    (`_row_start`). Every kernel that needs a pixel's position takes it from here, compiled with the same
    `_FASTMATH` flags: the engine's taps and the taps that `_support_flags` looks up are then floors of the same
    float64 numbers, never one ulp apart (an order of operations, or a multiply-add fused in one kernel and
    not in the other, would move a floor at an integer boundary).
    """
    return py0 + m01 * j, px0 + m11 * j


@numba.njit(cache=True, inline="always")
def _inside(py, px, ny, nx):
    """Whether input position ``(py, px)`` lies in ``[0, ny - 1] x [0, nx - 1]`` (else the output is missing)."""
    return 0.0 <= py <= ny - 1 and 0.0 <= px <= nx - 1


@numba.njit(cache=True, inline="always")
def _clipped(value, clip, low, high):
    if clip:
        if value < low:
            return low
        if value > high:
            return high
    return value


#: Columns per run of constant base indices below which a transform is resampled pixel by pixel (rotations
#: beyond ~14 degrees, scales off by 25 %): shorter runs do not repay finding them.
_MIN_RUN = 4


@numba.njit(cache=True, inline="always")
def _same_taps(py0, px0, m01, m11, rounding, ny, nx, by, bx, j):
    """Whether output column ``j`` of a row lies inside the input with base indices ``by`` and ``bx + j``."""
    qy, qx = _position(py0, px0, m01, m11, j)
    return _inside(qy, qx, ny, nx) and np.floor(qy + rounding) == by and np.floor(qx + rounding) - j == bx


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _interior_run(py0, px0, m01, m11, rounding, tap0, ntaps, ny, nx, ncols, j):
    """
    The run of output columns ``j:end`` of a row that map inside the input with the same base row ``by``
    and the same base column minus the column, ``bx``, all taps interior; ``end == j`` if column ``j`` is
    outside the input or its taps reach beyond an edge. Along a row the position is linear in the column
    and its floating-point value monotonic, so the run's end is found by galloping then bisection.
    """
    py, px = _position(py0, px0, m01, m11, j)
    if not _inside(py, px, ny, nx):
        return j, 0.0, 0, 0.0
    by = np.floor(py + rounding)
    bx = np.floor(px + rounding) - j
    iy = int(by) + tap0
    first = int(bx) + tap0  # first column tap minus the column
    limit = min(ncols, nx - ntaps - first + 1)
    if iy < 0 or iy + ntaps > ny or j + first < 0 or limit <= j:
        return j, by, iy, bx
    good, step = j, 1
    while good + step < limit and _same_taps(py0, px0, m01, m11, rounding, ny, nx, by, bx, good + step):
        good += step
        step *= 2
    bad = min(good + step, limit)  # the first column known to differ, or the limit
    while bad - good > 1:
        middle = (good + bad) // 2
        if _same_taps(py0, px0, m01, m11, rounding, ny, nx, by, bx, middle):
            good = middle
        else:
            bad = middle
    return good + 1, by, iy, bx


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _interior_taps(source, py0, px0, m01, m11, rounding, by, iy, bx, tap0, coef, clip, low, high, row, j0, j1):
    """
    Output columns ``j0:j1`` of ``row`` from a run of `_interior_run`: contiguous loads at fixed offsets
    from the column and no branch, so that the compiler vectorises along the row.

    The position's float value is monotonic in the column (IEEE rounding is), so the run's two ends, found
    inside with the run's base row, vouch for every column between them. Not so for the base column minus
    the column when the scale is 1 to within rounding (the step between columns is then 1 +- an ulp): each
    column's own base column is compared with the run's, and the count of those that differ is returned
    (the caller then recomputes the run pixel by pixel).
    """
    first = int(bx) + tap0  # the first column tap minus the column
    differ = 0
    for j in range(j0, j1):
        qy, qx = _position(py0, px0, m01, m11, j)
        base = bx + j
        differ += np.floor(qx + rounding) != base
        ty = source.dtype.type(qy - by)
        tx = source.dtype.type(qx - base)
        row[np.uint64(j)] = _clipped(_tap_sum(source, iy, j + first, ty, tx, coef, False, False), clip, low, high)
    return differ


@numba.njit(cache=True, inline="always")
def _edge_pixel(source, py, px, coef, tap0, rounding, mirror, missing, clip, low, high):
    """One output pixel at input position ``(py, px)``, its taps mapped into the array by the edge rule."""
    ny, nx = source.shape
    if not _inside(py, px, ny, nx):
        return missing
    ntaps = len(coef)
    by = np.floor(py + rounding)
    bx = np.floor(px + rounding)
    iy = int(by) + tap0
    ix = int(bx) + tap0
    ty = source.dtype.type(py - by)
    tx = source.dtype.type(px - bx)
    if 0 <= iy and iy + ntaps <= ny and 0 <= ix and ix + ntaps <= nx:
        acc = _tap_sum(source, iy, ix, ty, tx, coef, False, mirror)
    else:
        acc = _tap_sum(source, iy, ix, ty, tx, coef, True, mirror)
    return _clipped(acc, clip, low, high)


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _edge_pixels(source, py0, px0, m01, m11, rounding, coef, tap0, mirror, missing, clip, low, high, row, j0, j1):
    """Output columns ``j0:j1`` of ``row`` one by one (`_edge_pixel`), at their `_position`."""
    for j in range(j0, j1):
        py, px = _position(py0, px0, m01, m11, j)
        row[j] = _edge_pixel(source, py, px, coef, tap0, rounding, mirror, missing, clip, low, high)


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _resample_rows(source, matrix, offset, coef, tap0, rounding, mirror, missing, clip, low, high, out, r0, r1):
    """
    Output rows ``r0:r1`` of ``out``: at each pixel, the taps around ``floor(p + rounding)`` weighted by the
    tap polynomials ``coef`` (a tuple per tap: its length is a compile-time constant, so the tap loops
    unroll), in ``source``'s dtype, clipped to ``[low, high]`` if ``clip``.

    Along a row of an aia_prep transform (a fraction of a degree, a scale within 0.2 % of 1) the base
    indices stay the same for runs of hundreds of columns (`_interior_run`); such a run of interior pixels
    is computed by a vectorised loop (`_interior_taps`), the other pixels one by one with the edge rule
    (`_edge_pixels`). Every pixel is computed from its own float64 position ``p``, the same way whatever the
    split of rows among threads: the result does not depend on it.
    """
    ny, nx = source.shape
    ntaps = len(coef)
    ncols = out.shape[1]
    m01, m11 = matrix[0, 1], matrix[1, 1]
    runs = max(abs(m01), abs(m11 - 1.0)) * _MIN_RUN < 1.0  # the base indices change every >= _MIN_RUN columns
    for i in range(r0, r1):
        py0, px0 = _row_start(matrix, offset, i)
        row = out[i]
        geometry = (py0, px0, m01, m11, rounding)
        if not runs:
            _edge_pixels(source, *geometry, coef, tap0, mirror, missing, clip, low, high, row, 0, ncols)
            continue
        j = 0
        while j < ncols:
            end, by, iy, bx = _interior_run(*geometry, tap0, ntaps, ny, nx, ncols, j)
            if end > j and _interior_taps(source, *geometry, by, iy, bx, tap0, coef, clip, low, high, row, j, end) == 0:
                j = end
                continue
            stop = max(end, j + 1)
            _edge_pixels(source, *geometry, coef, tap0, mirror, missing, clip, low, high, row, j, stop)
            j = stop


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _support_flags(flags, image, flagged_rows, first, last, matrix, offset, tap0, ntaps, rounding, mirror, guard, out,
                   out_flags, r0, r1):  # fmt: skip
    """
    The output flags of rows ``r0:r1`` (`~aiapy.utils.PixelFlag` bits, ``uint8``), and the outputs they change.

    For each output pixel inside the input, the taps of `_resample_rows` (from the same `_row_start`,
    `_position` and `_inside` in the same arithmetic, `_FASTMATH`) are looked up in ``flags``:

    - a tap ``MISSING``: the output is NaN and ``MISSING`` (the taps read filled values);
    - else a tap in ``guard`` (bits; 0 for none): the output is clamped to the range of ``image`` over its
      taps, so it makes no value beyond its own support (the ringing of the cubic kernels at a step);
    - ``SATURATED`` and ``BLOOM`` are carried from the nearest input pixel.

    ``flagged_rows[r]`` counts the input rows before ``r`` that hold a flag: an output row whose taps can
    reach none of them is skipped; ``first[r]`` and ``last[r]`` are the first and last flagged columns of
    input row ``r``: a pixel whose taps lie wholly left or right of those of the rows its row can reach is
    skipped. So the pass costs almost nothing away from flagged pixels.
    """
    ny, nx = flags.shape
    ncols = out.shape[1]
    m01, m11 = matrix[0, 1], matrix[1, 1]
    for i in range(r0, r1):
        py0, px0 = _row_start(matrix, offset, i)
        reach = abs(m01) * (ncols - 1)
        lo = min(max(int(np.floor(py0 - reach + rounding)) + tap0 - ntaps, 0), ny)
        hi = min(max(int(np.floor(py0 + reach + rounding)) + tap0 + 2 * ntaps, 0), ny)
        if flagged_rows[hi] == flagged_rows[lo]:
            continue
        left, right = nx, -1
        for r in range(lo, hi):
            left = min(left, first[r])
            right = max(right, last[r])
        for j in range(ncols):
            py, px = _position(py0, px0, m01, m11, j)
            if not _inside(py, px, ny, nx) or px + ntaps < left or px - ntaps > right:
                continue
            by = int(np.floor(py + rounding)) + tap0
            bx = int(np.floor(px + rounding)) + tap0
            touched = np.uint8(0)
            for k in range(ntaps):
                r = _edge(by + k, ny, mirror)
                for m in range(ntaps):
                    touched |= flags[r, _edge(bx + m, nx, mirror)]
            if touched == 0:
                continue
            carried = flags[int(np.floor(py + 0.5)), int(np.floor(px + 0.5))] & np.uint8(_CARRIED)
            if touched & np.uint8(_MISSING):
                out[i, j] = np.nan
                out_flags[i, j] = carried | np.uint8(_MISSING)
                continue
            out_flags[i, j] = carried
            if touched & guard:
                low = high = image[_edge(by, ny, mirror), _edge(bx, nx, mirror)]
                for k in range(ntaps):
                    r = _edge(by + k, ny, mirror)
                    for m in range(ntaps):
                        value = image[r, _edge(bx + m, nx, mirror)]
                        low = min(low, value)
                        high = max(high, value)
                out[i, j] = min(max(out[i, j], low), high)


#: Rows filtered together by `_filter_rows`: independent recursions interleaved, so that each waits less on
#: the latency of the one before.
_ROW_GROUP = 8


@numba.njit(cache=True, nogil=True)
def _filter_rows(image, start, out, r0, r1):
    """
    Cubic B-spline prefilter along axis 1 of rows ``r0:r1``, ``image`` -> ``out``, carried in float64.
    The recursion is serial along a row: `_ROW_GROUP` rows are carried side by side (a (columns, rows)
    float64 block), so that their steps overlap.
    """
    n = image.shape[1]
    z = _Z3
    line = np.empty((n, _ROW_GROUP), np.float64)
    carry = np.zeros(_ROW_GROUP, np.float64)
    for i in range(r0, r1, _ROW_GROUP):
        rows = min(_ROW_GROUP, r1 - i)
        if n == 1:
            for g in range(rows):
                out[i + g, 0] = image[i + g, 0]  # scipy leaves single samples unchanged
            continue
        for g in range(rows):
            carry[g] = 0.0
        for k in range(start.size):
            for g in range(rows):
                carry[g] += start[k] * image[i + g, k]
        for g in range(rows):
            line[0, g] = carry[g]
        for k in range(1, n):
            for g in range(rows):
                line[k, g] = line[k - 1, g] * z + image[i + g, k]
        for g in range(rows):
            carry[g] = (z * line[n - 2, g] + line[n - 1, g]) * (z / (z * z - 1))
            out[i + g, n - 1] = _GAIN3 * carry[g]
        for k in range(n - 2, -1, -1):
            for g in range(rows):
                carry[g] = z * (carry[g] - line[k, g])
                out[i + g, k] = _GAIN3 * carry[g]


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
