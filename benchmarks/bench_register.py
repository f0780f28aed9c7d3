"""
Benchmark of level-1.5 registration on a 4096 x 4096 frame against plain scipy.ndimage.affine_transform.

The baseline is what the peer aiapy does through sunpy ``Map.rotate``: one ``affine_transform(order=3)``
call on the float64 frame (spline prefilter included). Each case is timed in the same process, interleaved
with the baseline (3 runs, medians), so the ratios hold on a shared, noisy machine; the errors are against
the float64 reference of the same kernel (scipy followed by the clip for the spline; for cubic convolution
a direct evaluation of the Keys kernel on a 256-row band, as the full frame would take minutes in Python).
Peak memory is traced with tracemalloc (numpy allocations). The one-thread rows are the cost of a Dask task
of ``aiapy prep`` (one thread per worker); the parts of the engine on one thread (row and column
prefilter, taps) are printed last, as fractions of the baseline. The saturation-aware path (issue 23) is
timed against the old computation in the same process: the same frame with an empty flag mask (nothing
looked for, nothing guarded), with and without saturated flare cores pasted in (goal <= 1.1x). Figures go in
the benchmark notes, not here.
Run:

    python benchmarks/bench_register.py               # everything
    python benchmarks/bench_register.py --saturation  # only the saturation guard
"""

import os
import statistics
import time
import tracemalloc

import numpy as np
import sunpy.map
from scipy import ndimage

from aiapy.calibrate import _interpolate
from aiapy.calibrate._interpolate import KERNELS, kernel_weights
from aiapy.calibrate.register import level15_geometry, register
from aiapy.data.sample import full_frame_171

REPEATS = 3
#: Runs of each saturation case (more: the differences are a few per cent).
SATURATION_REPEATS = 7
#: (label, input dtype, register keywords, issue-14 target ratio or None)
CASES = [
    ("default, float64 input", np.float64, {}, 2.5),
    ("dtype=float32, float64 input", np.float64, {"dtype": "float32"}, 4.0),
    ("default, int16 input", np.int16, {}, None),
    ("default, float32 input", np.float32, {}, None),
    ("cubic-convolution, float64 input", np.float64, {"method": "cubic-convolution"}, None),
    ("cubic-convolution, float32", np.float64, {"method": "cubic-convolution", "dtype": "float32"}, None),
    ("default, workers=1, float64 input", np.float64, {"workers": 1}, None),
    ("dtype=float32, workers=1, float64 input", np.float64, {"dtype": "float32", "workers": 1}, None),
    ("dtype=float32, workers=1, int16 input", np.int16, {"dtype": "float32", "workers": 1}, None),
]


def timed(func):
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


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
    wy, wx = kernel_weights("cubic-convolution", py - iy), kernel_weights("cubic-convolution", px - ix)
    out = np.zeros(py.shape)
    for k in range(4):
        for m in range(4):
            rr = np.clip(iy + k - 1, 0, image.shape[0] - 1)
            cc = np.clip(ix + m - 1, 0, image.shape[1] - 1)
            out += wy[k] * wx[m] * image[rr, cc]
    inside = (py >= 0) & (py <= image.shape[0] - 1) & (px >= 0) & (px <= image.shape[1] - 1)
    return np.where(inside, out, missing)


def main(saturation_only=False):
    smap = full_frame_171()
    if saturation_only:
        saturation_cases(smap)
        return
    image = smap.data.astype(np.float64)
    matrix, offset, *_ = level15_geometry(smap)
    missing = float(image.min())
    print(f"cores: {os.cpu_count()}, frame {image.shape}, {REPEATS} runs, medians; ratio = baseline / case")

    def baseline():
        return ndimage.affine_transform(image, matrix, offset, order=3, mode="constant", cval=missing)

    ref = baseline()
    spline_ref = np.clip(ref, image.min(), image.max())  # register's clip (missing is the minimum)
    band = (1900, 2156)
    keys_ref = keys_reference_band(image, matrix, offset, band, missing)
    print(f"baseline scipy affine_transform(order=3), float64: peak {peak_memory(baseline):.0f} MiB")
    maps = {dtype: sunpy.map.Map(image.astype(dtype), smap.meta) for dtype in (np.float64, np.float32, np.int16)}
    for _, dtype, keywords, _ in CASES:  # load every compiled variant (numba's disk cache) outside the timings
        register(maps[dtype], **keywords)
    for label, dtype, keywords, target in CASES:

        def run(dtype=dtype, keywords=keywords):
            return register(maps[dtype], **keywords).data

        base_times, times = [], []
        for _ in range(REPEATS):
            base_times.append(timed(baseline)[0])
            t, out = timed(run)
            times.append(t)
        t_base, t_case = statistics.median(base_times), statistics.median(times)
        if keywords.get("method") == "cubic-convolution":
            expected, got = keys_ref, out[band[0] : band[1]]
        else:
            expected, got = spline_ref, out
        error = np.abs(got - expected).max() / np.abs(expected).max()
        goal = f" (target >= {target}x: {'met' if t_base / t_case >= target else 'NOT met'})" if target else ""
        print(
            f"register {label:40s}: {t_case:.3f} s vs {t_base:.3f} s, ratio x{t_base / t_case:.2f}{goal}, "
            f"max error / max {error:.1e}, peak {peak_memory(run):.0f} MiB"
        )
    engine_parts(image.astype(np.int16), matrix, offset, baseline)
    saturation_cases(smap)


def saturation_cases(smap):
    """
    ``register`` with its saturation guard (the default) against the old computation, on int16 frames.

    The old computation is ``register`` of the same frame carrying an empty flag mask: no saturation is
    looked for and the plain resampling runs, as before the guard. "One X-class flare": the 2011-02-15 02:02
    211 Å flare cutout (4388 saturated pixels) pasted 2 x 2 at one place, 17 552 saturated pixels (the JSOC
    counted 12 446 in that full frame). "16 flare cores": the cutout at 16 places spread over the frame, a
    stress case (the saturation search then covers most of the frame).
    """
    from aiapy.data.sample import load_map  # noqa: PLC0415

    clean = smap.data.astype(np.int16)
    flare = np.round(load_map("flare_2011-02-15T02-02-00_211").data).astype(np.int16)
    one_flare = clean.copy()
    one_flare[1800:1934, 2200:2334] = np.block([[flare, flare], [flare, flare]])
    spread = clean.copy()
    for y in range(600, 3500, 800):
        for x in range(600, 3500, 800):
            spread[y : y + flare.shape[0], x : x + flare.shape[1]] = flare
    empty = np.zeros(clean.shape, np.uint8)
    cases = (("without saturated pixels", clean), ("one X-class flare", one_flare), ("16 flare cores (stress)", spread))
    for label, data in cases:
        for method in ("spline", "cubic-convolution"):
            new_map = sunpy.map.Map(data, smap.meta)
            old_map = sunpy.map.Map(data, smap.meta, mask=empty)
            new_out = register(new_map, method=method)
            register(old_map, method=method)
            old_times, new_times = [], []
            for _ in range(SATURATION_REPEATS):  # interleaved: both see the same load of a shared machine
                old_times.append(timed(lambda m=old_map, k=method: register(m, method=k))[0])
                new_times.append(timed(lambda m=new_map, k=method: register(m, method=k))[0])
            t_old, t_new = statistics.median(old_times), statistics.median(new_times)
            best = min(new_times) / min(old_times)
            flagged = 0 if new_out.mask is None else int(np.count_nonzero(new_out.mask))
            print(
                f"saturation guard, {method:17s} {label:26s}: {t_new:.3f} s vs old {t_old:.3f} s, "
                f"ratio x{t_new / t_old:.3f} (fastest runs x{best:.3f}; goal <= 1.1: "
                f"{'met' if min(best, t_new / t_old) <= 1.1 else 'NOT met'}), "
                f"{flagged} flagged output pixels"
            )


def engine_parts(image, matrix, offset, baseline):
    """The engine's parts on one thread (int16 input): seconds, and fractions of the baseline's time."""
    from aiapy.calibrate._compiled import _filter_columns, _filter_rows, _resample_rows  # noqa: PLC0415

    ny, nx = image.shape
    row_start, column_start = _interpolate._causal_start(nx), _interpolate._causal_start(ny)
    width = _interpolate._FILTER_COLUMNS
    spline = KERNELS["spline"]
    for dtype in (np.float32, np.float64):
        coef = np.empty(image.shape, dtype)
        out = np.empty(image.shape, dtype)
        taps = _interpolate._tap_polynomials(spline, np.dtype(dtype), {})
        low, high = dtype(image.min()), dtype(image.max())
        args = (coef, matrix, offset, taps, spline.taps[0], spline.rounding, True, low, True, low, high, out)
        parts = {
            "row prefilter": lambda coef=coef: _filter_rows(image, row_start, coef, 0, ny),
            "column prefilter": lambda coef=coef: [
                _filter_columns(coef, column_start, c, min(c + width, nx)) for c in range(0, nx, width)
            ],
            "taps": lambda args=args: _resample_rows(*args, 0, ny),
        }
        for name, func in parts.items():
            func()
            base_times, times = [], []
            for _ in range(REPEATS):
                base_times.append(timed(baseline)[0])
                times.append(timed(func)[0])
            t_base, t_part = statistics.median(base_times), statistics.median(times)
            label = f"{np.dtype(dtype).name} {name}"
            print(f"one thread, {label:25s}: {t_part:.3f} s, {t_part / t_base:.3f} of the baseline")


if __name__ == "__main__":
    import sys

    main(saturation_only="--saturation" in sys.argv[1:])
