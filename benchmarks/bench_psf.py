"""Benchmark: full-detector PSF per channel against the direct model, measured in the same run.

The direct model (every Gaussian built over the whole 4096^2 grid, then three complex FFTs) is timed once
with orders -5..5 and scaled to the default -100..100 by the number of Gaussians (its FFT part does not
scale); the fast path is timed for all channels with the default orders. Peak memory is the process's
maximum resident set, read after the fast path (before the direct model runs).
"""

import resource
import sys
import time
from pathlib import Path

import astropy.units as u
import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "psf"))
from conftest import direct_psf  # noqa: E402 - the tests' oracle

from aiapy.psf import calculate_psf, clear_psf_cache  # noqa: E402


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    times, cpu_times = [], []
    for preflight in (False, True):
        for channel in (94, 131, 171, 193, 211, 304, 335):
            clear_psf_cache()
            start, cpu = time.perf_counter(), time.process_time()
            calculate_psf(channel * u.AA, use_preflightcore=preflight)
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu)
            print(f"{channel:4d} A preflight={preflight!s:5}: {times[-1]:.2f} s wall, {cpu_times[-1]:.2f} s CPU")
    print(f"peak RSS after the fast path: {peak_mib():.0f} MiB")
    print(
        f"fast path: median {np.median(times):.2f} s, max {max(times):.2f} s per channel (CPU time, all threads: "
        f"median {np.median(cpu_times):.2f} s; on a loaded machine the wall time is the CPU time it was given)"
    )
    start = time.perf_counter()
    direct_psf(171 * u.AA, orders=np.arange(-5, 6))
    direct_11 = time.perf_counter() - start
    start = time.perf_counter()
    direct_psf(171 * u.AA, orders=[-1, 0, 1])
    direct_3 = time.perf_counter() - start
    per_order = (direct_11 - direct_3) / 8  # 6 Gaussians per non-zero order (4 entrance + 2 focal-plane)
    direct_full = direct_3 + per_order * (200 - 2)
    print(f"direct model, orders -5..5: {direct_11:.2f} s; scaled to -100..100: {direct_full:.1f} s")
    print(f"peak RSS after the direct model: {peak_mib():.0f} MiB (the oracle, not the package)")
    print(f"ratio to the direct model (same run): {direct_full / np.median(times):.0f}x at the median")


if __name__ == "__main__":
    main()
