"""
Benchmark of level-1.5 registration on a 4096 x 4096 frame against plain scipy.ndimage.affine_transform.

The baseline is what the peer aiapy does through sunpy ``Map.rotate``: one ``affine_transform(order=3)``
call on the float64 frame (spline prefilter included). Each aiapy kernel is timed on the same frame, in the
same process, and compared with a plain reference of the same kernel (scipy for the spline; for cubic
convolution, a direct evaluation of the Keys kernel on a 256-row band, as the full frame would take
minutes in Python). Peak memory is traced with tracemalloc (numpy allocations). Run:

    python benchmarks/bench_register.py
"""

import os
import time
import tracemalloc

import numpy as np
from scipy import ndimage

from aiapy.calibrate._interpolate import affine_resample, keys_weights
from aiapy.calibrate.register import level15_geometry
from aiapy.data.sample import full_frame_171

REPEATS = 3


def best_time(func):
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), result


def peak_memory(func):
    tracemalloc.start()
    func()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def keys_reference_band(image, matrix, offset, rows, missing):
    """Cubic convolution evaluated directly (per-pixel 4 x 4 sums, float64) for output rows ``rows``."""
    qy, qx = np.mgrid[rows[0] : rows[1], 0 : image.shape[1]].astype(np.float64)
    py = matrix[0, 0] * qy + matrix[0, 1] * qx + offset[0]
    px = matrix[1, 0] * qy + matrix[1, 1] * qx + offset[1]
    iy, ix = np.floor(py).astype(int), np.floor(px).astype(int)
    wy, wx = keys_weights(py - iy), keys_weights(px - ix)
    out = np.zeros(py.shape)
    for k in range(4):
        for m in range(4):
            rr = np.clip(iy + k - 1, 0, image.shape[0] - 1)
            cc = np.clip(ix + m - 1, 0, image.shape[1] - 1)
            out += wy[k] * wx[m] * image[rr, cc]
    inside = (py >= 0) & (py <= image.shape[0] - 1) & (px >= 0) & (px <= image.shape[1] - 1)
    return np.where(inside, out, missing)


def main():
    smap = full_frame_171()
    image = smap.data
    matrix, offset, shape, _, _ = level15_geometry(smap)
    missing = float(image.min())
    print(f"cores: {os.cpu_count()}, frame {image.shape} {image.dtype}, best of {REPEATS}")

    def baseline():
        data = image.astype(np.float64)
        return ndimage.affine_transform(data, matrix, offset, order=3, mode="constant", cval=missing)

    t_base, ref = best_time(baseline)
    print(f"scipy affine_transform(order=3), plain: {t_base:.3f} s, peak {peak_memory(baseline):.0f} MiB")
    band = (1900, 2156)
    keys_ref = keys_reference_band(image.astype(np.float64), matrix, offset, band, missing)
    for method in ("spline", "cubic-convolution"):
        for dtype in (np.float64, np.float32):
            for workers in (1, None):

                def run(method=method, dtype=dtype, workers=workers):
                    return affine_resample(
                        image, matrix, offset, shape, method=method, missing=missing, dtype=dtype, workers=workers
                    )

                t, out = best_time(run)
                expected, got = (ref, out) if method == "spline" else (keys_ref, out[band[0] : band[1]])
                error = np.abs(got - expected).max() / np.abs(expected).max()
                print(
                    f"{method:18s} {np.dtype(dtype).name:8s} workers={workers or os.cpu_count()}: {t:.3f} s, "
                    f"speed-up x{t_base / t:.2f}, max error / image max {error:.1e}, "
                    f"peak {peak_memory(run):.0f} MiB"
                )


if __name__ == "__main__":
    main()
