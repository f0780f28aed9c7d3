"""
The compiled kernel of `aiapy.calibrate.uncertainty.estimate_error` (numba, cached on disk): one pass over
the counts, one square root per pixel, in the precision of the result. Kept apart so that numba is imported
on the first error estimate, not with `aiapy.calibrate`.
"""

import math

import numba


@numba.njit(cache=True, nogil=True)
def error_values(counts, out, constant, linear, quadratic, slope, floor, threshold, clamp):
    """
    ``out[i] = sqrt(constant + c (linear + quadratic c) + [c >= threshold] max(slope c, floor))`` for
    ``c = counts[i]`` (1-D arrays), computed in ``out``'s dtype. Negative counts give ``c = 0`` (``clamp``)
    or NaN; NaN counts give NaN.
    """
    real = out.dtype.type
    constant, linear, quadratic = real(constant), real(linear), real(quadratic)
    slope, floor, threshold, zero = real(slope), real(floor), real(threshold), real(0)
    for i in range(counts.size):
        c = real(counts[i])
        if c < zero:
            if not clamp:
                out[i] = math.nan
                continue
            c = zero
        variance = constant + c * (linear + quadratic * c)
        if c >= threshold:
            term = slope * c
            variance += term if term > floor else floor
        out[i] = math.sqrt(variance)
