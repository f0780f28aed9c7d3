"""Benchmark: 4096^2 Richardson-Lucy, 25 iterations, PSF precomputed, against the plain numpy float64 loop.

The baseline is the peer's CPU path (numpy.fft.rfft2/irfft2 in float64, the image as the first estimate),
run in the same run. Each call runs in its own child process, so their memory does not mask each other: the
process's whole peak resident set (interpreter, libraries, image and PSF included) and the part added during
the call. The plain loop and the default call are run three times each, alternating, and the medians are
compared; wall time and CPU time (all threads) are both reported: on a shared machine the CPU-time ratio is
the steadier figure, and on an idle machine the wall-time ratio is about the CPU-time ratio times the cores
used (the plain loop uses one).

Choices: scipy.fft (pocketfft). The transfer function is computed once (real for the symmetric AIA PSF, so
each product is one multiplication per number); each Richardson-Lucy step runs as four passes over the frame
(row FFTs; per column block FFT, product, inverse FFT; per row block inverse FFT, floor, ratio, FFT; again
with the conjugate; inverse FFT and product with the estimate, chained with the next step's row FFTs), each
block's transforms and arithmetic in the CPU caches, the blocks shared by one thread per core; float32 by
default. pyFFTW was tried as an optional backend: with its plans on the strided column blocks it was slower
than pocketfft, and with aligned copies it would gain at most ~1.5x on the transforms, for a GPL dependency
and a planning step per shape, so it was not added.

Also timed (one run each): float64 precision, and the Biggs-Andrews accelerated variant (float32) with 15
iterations, with the residual ||P * u - d|| / max(d) of each result (periodic) to compare time to quality.

Last, the floor: the 1-D transforms alone of 25 iterations (per iteration two inverse and two forward real
transforms of every row, two forward and two inverse complex transforms of every half-spectrum column), on
blocks of the backend's sizes that stay in the caches, on the same threads: what pocketfft costs with no
memory traffic, copies or arithmetic. The default call cannot be faster than that with scipy.fft.
"""

import multiprocessing
import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import astropy.units as u
import numpy as np
import scipy.fft

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "psf"))
RUNS = 3


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(which, queue):
    from conftest import plain_richardson_lucy  # noqa: PLC0415 - the tests' oracle

    from aiapy.data.sample import full_frame_171  # noqa: PLC0415
    from aiapy.psf import calculate_psf, deconvolve  # noqa: PLC0415

    smap = full_frame_171()
    psf = calculate_psf(171 * u.AA)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start, cpu = time.perf_counter(), cpu_seconds()
    if which == "plain":
        result = plain_richardson_lucy(np.maximum(smap.data.astype(float), 0), psf, 25)
    elif which == "accelerated":
        result = deconvolve(smap, psf=psf, iterations=15, acceleration="biggs-andrews").data
    elif which == "default":
        result = deconvolve(smap, psf=psf).data
    else:
        result = deconvolve(smap, psf=psf, precision=which).data
    elapsed, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    np.save(f"/tmp/aiapy_bench_{which}.npy", result)
    queue.put((elapsed, cpu, peak - before / 1024, peak))


def measure(which):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=run, args=(which, queue))
    process.start()
    result = queue.get()
    process.join()
    elapsed, cpu, extra, peak = result
    print(f"{which:11s}: {elapsed:.2f} s wall, {cpu:.2f} s CPU, peak {peak:.0f} MiB ({extra:.0f} MiB during the call)")
    return result


def main():
    runs = {"plain": [], "default": []}
    for _ in range(RUNS):
        for which in runs:
            runs[which].append(measure(which))
    median = {which: np.median(np.array(values), axis=0) for which, values in runs.items()}
    others = {which: measure(which) for which in ("float64", "accelerated")}
    plain = np.load("/tmp/aiapy_bench_plain.npy")
    error = np.abs(np.load("/tmp/aiapy_bench_default.npy") - plain).max() / plain.max()
    print(
        f"default (float32), medians of {RUNS}: {median['default'][0]:.2f} s wall, "
        f"{median['plain'][0] / median['default'][0]:.1f}x the plain loop's wall time, "
        f"{median['plain'][1] / median['default'][1]:.1f}x its CPU time; max error / max {error:.1e}"
    )
    error = np.abs(np.load("/tmp/aiapy_bench_float64.npy") - plain).max() / plain.max()
    ratio = median["plain"][0] / others["float64"][0]
    print(f"float64: {ratio:.1f}x the plain loop (wall), max error / max {error:.1e}")
    print(
        f"accelerated (15 iterations, float32): {median['plain'][0] / others['accelerated'][0]:.1f}x the plain "
        f"25-iteration loop (wall); residual {residual('accelerated'):.3e} vs plain {residual('plain'):.3e}"
    )
    floor = np.median([transform_floor() for _ in range(RUNS)])
    print(
        f"floor: the transforms alone of 25 iterations on cache-resident blocks, {os.cpu_count()} threads: "
        f"{floor:.2f} s ({floor / median['default'][0]:.0%} of the default's wall time)"
    )


def transform_floor(iterations=25, shape=(4096, 4096)):
    """Seconds that pocketfft takes for the 1-D transforms of ``iterations`` blocked iterations, in cache."""
    from aiapy.psf._backends import ScipyBackend  # noqa: PLC0415

    rows, columns = shape
    block_rows, block_columns = ScipyBackend.block_rows, ScipyBackend.block_columns
    threads = os.cpu_count()
    row_blocks = 2 * iterations * -(-rows // block_rows) // threads
    column_blocks = 2 * iterations * -(-(columns // 2 + 1) // block_columns) // threads

    def work(seed):
        rng = np.random.default_rng(seed)
        real = rng.random((block_rows, columns), np.float32)
        half = scipy.fft.rfft(real, axis=1)
        column = scipy.fft.fft(rng.random((rows, block_columns), np.float32), axis=0)
        for _ in range(row_blocks):
            scipy.fft.irfft(half, n=columns, axis=1)
            scipy.fft.rfft(real, axis=1)
        for _ in range(column_blocks):
            scipy.fft.fft(column, axis=0, overwrite_x=True)
            scipy.fft.ifft(column, axis=0, overwrite_x=True)

    with ThreadPoolExecutor(threads) as pool:
        start = time.perf_counter()
        list(pool.map(work, range(threads)))
        return time.perf_counter() - start


def residual(which):
    """RMS of (result blurred by the PSF) - data, relative to the data maximum (circular convolution)."""
    from aiapy.data.sample import full_frame_171  # noqa: PLC0415
    from aiapy.psf import calculate_psf  # noqa: PLC0415
    from aiapy.psf._deconvolve import transfer_function  # noqa: PLC0415

    data = np.maximum(full_frame_171().data.astype(float), 0)
    transfer = transfer_function(calculate_psf(171 * u.AA), data.shape)
    blurred = np.fft.irfft2(np.fft.rfft2(np.load(f"/tmp/aiapy_bench_{which}.npy")) * transfer, data.shape)
    return np.sqrt(np.mean((blurred - data) ** 2)) / data.max()


if __name__ == "__main__":
    main()
