"""
Benchmark of level-1.5 registration on a 4096 x 4096 frame against plain scipy.ndimage.affine_transform.

The baseline is what the peer aiapy does through sunpy ``Map.rotate``: one ``affine_transform(order=3)``
call on the float64 frame (spline prefilter included). `register` is timed with each kernel on the same
frame, in the same process (best of 3), and compared with a plain reference of the same kernel (scipy for
the spline; for cubic convolution, a direct evaluation of the Keys kernel on a 256-row band, as the full
frame would take minutes in Python). Peak memory is traced with tracemalloc (numpy allocations). Run:

    python benchmarks/bench_register.py

Notes (2 cores, int16 full frame, float32; best of 3, the machine otherwise idle):

- scipy baseline 1.47 s, ~0.5 s of it the prefilter (its axis-0 pass, strided, alone ~0.39 s).
- spline 0.40 s (x3.7) on 2 threads, 0.45 s (x3.3) on 1, error 2.0e-7 of the image maximum, peak 146 MiB;
  cubic convolution 0.31 s (x4.7-4.8), error 2.8e-7; float64 ~0.7 s and ~0.55 s (errors ~1e-14).
- The tap engine (~0.3 s, always on one thread) does per pixel ~35 array passes for the 4 x 4 tap sums,
  ~26 for the weights and 1-3 for the positions, in tiles whose ~15 arrays stay in L2 cache (a 64 x 4096
  block spilled to L3 and ran ~2x slower per pass). Threads do not help it: its ~10^5 short numpy calls
  hand the GIL back and forth, which cost more than the second core gave.
- The cubic B-spline prefilter takes ~0.15 s on one thread: scipy along axis 1, from the image straight
  into the output-dtype coefficients (~0.09 s; this part runs on threads), then contiguous row
  recursions along axis 0 carried in float64 rows (~0.05 s).
- `register` adds ~20 ms (header statistics over the output).
"""

import os
import time
import tracemalloc

import numpy as np
from scipy import ndimage

from aiapy.calibrate._interpolate import keys_weights
from aiapy.calibrate.register import level15_geometry, register
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
    matrix, offset, *_ = level15_geometry(smap)
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
        for dtype in (np.float32, np.float64):
            for workers in (None, 1):

                def run(method=method, dtype=dtype, workers=workers):
                    return register(smap, method=method, missing=missing, dtype=dtype, workers=workers).data

                t, out = best_time(run)
                expected, got = (ref, out) if method == "spline" else (keys_ref, out[band[0] : band[1]])
                error = np.abs(got - expected).max() / np.abs(expected).max()
                print(
                    f"register {method:18s} {np.dtype(dtype).name:8s} workers={workers or os.cpu_count()}: "
                    f"{t:.3f} s, speed-up x{t_base / t:.2f}, max error / image max {error:.1e}, "
                    f"peak {peak_memory(run):.0f} MiB"
                )


if __name__ == "__main__":
    main()
