"""Per-image cost and throughput of the batch pipeline (``aiapy prep``) on full-frame inputs.

Inputs: ``--files`` (default 12) 4096 x 4096 Rice-compressed int16 level-1 files built from the bundled
full-disk image (``aiapy.data.sample.full_frame_171``), each with a little different noise and T_OBS.
The standard prep is update_pointing (with a table built from the headers' own values, so it runs offline),
register, degradation correction, exposure normalisation and a checksummed float32 write. Timed in this
process:

1. One file in one worker: the pipeline's per-file task (``prep_item``, what a worker does for each
   file), with register on its default threads and on one thread (as in a Dask worker), against one plain
   ``scipy.ndimage.affine_transform(order=3)`` of the same frame in float64 (the baseline of
   ``bench_register.py``). Three interleaved runs, medians of wall and CPU time, page faults per file.
2. Twelve files three ways: a plain serial ``for`` loop over the same package functions, as a user would
   write it (tables loaded once, register with its default threads, float32 written with astropy); the
   pipeline, serial (``prep_files``); and the pipeline on the local cluster of ``prep_files(workers=2)``,
   started first so that its start-up (paid once per run) is reported apart from the running throughput.

Everything that loads once per process (numba's cached code, the first use of the libraries) is loaded
before any timing: by part 1 in this process, by the cluster's start-up in the workers. It prints images per
minute, the ratios, the per-stage cost per image (serial run and Dask tasks), the CPU time per image of the
workers (core-s per image, and the estimate for a day of AIA, 57,600 frames), this process's CPU time per
image during the Dask run (scheduler and client), and the peak resident memory per process. It also prints
the bound on the workers' ratio to the plain loop: the plain loop registers on every core, a worker on one, so
N workers are at most N x (plain seconds per image) / (the workers' CPU seconds per image) faster, with no
scheduler and nothing else on the cores.
Run: ``python benchmarks/bench_pipeline.py [--files N]``.
"""

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy.io import fits
from scipy import ndimage

from aiapy.calibrate import correct_degradation, normalize_exposure
from aiapy.calibrate.pointing import update_pointing
from aiapy.calibrate.register import level15_geometry, register
from aiapy.calibrate.utils import get_correction_table, get_pointing_table
from aiapy.data.sample import full_frame_171
from aiapy.pipeline import prep_files, write_header_pointing_table
from aiapy.pipeline import FileList, FitsFolder, Item, make_config
from aiapy.pipeline._runner import Executor, Work, dask_client, prep_item
from aiapy.pipeline._shared import build_shared
from aiapy.utils.io import read_map

STEPS = ("update_pointing", "register", "degradation", "exposure")
RUNS = 3
#: Frames a day of AIA (the issue's figure: 57,600 full frames).
DAY = 57_600


def make_inputs(folder, count):
    """Write ``count`` Rice-compressed int16 level-1 frames; return their paths and a pointing table path."""
    base = full_frame_171()
    rng = np.random.default_rng(0)
    paths = []
    for index in range(count):
        noise = rng.poisson(3.0, size=base.data.shape).astype(np.int16)  # a few DN, different per file
        header = fits.Header(
            {k.upper(): v for k, v in base.meta.items() if k not in ("history", "comment", "keycomments")}
        )
        header["T_OBS"] = f"2011-02-15T00:{index:02d}:01.34"
        header["DATE-OBS"] = f"2011-02-15T00:{index:02d}:00.34"
        hdu = fits.CompImageHDU(base.data + noise, header, compression_type="RICE_1")
        path = folder / f"aia.lev1.171A_2011_02_15T00_{index:02d}_01.34Z.image_lev1.fits"
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
        paths.append(path)
    table = write_header_pointing_table([base], folder / "pointing_from_headers.csv")
    return paths, table


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def usage():
    """(wall s, CPU s, minor page faults) of this process so far."""
    rusage = resource.getrusage(resource.RUSAGE_SELF)
    return np.array([time.perf_counter(), rusage.ru_utime + rusage.ru_stime, rusage.ru_minflt])


def worker_usage():
    """(CPU s, minor page faults, peak RSS MiB) of the calling process: run on each Dask worker."""
    rusage = resource.getrusage(resource.RUSAGE_SELF)
    return np.array([rusage.ru_utime + rusage.ru_stime, rusage.ru_minflt, rusage.ru_maxrss / 1024])


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_file(path, table, out_dir):
    """Part 1: ``prep_item`` on one file (default threads, one thread) against one affine_transform."""
    config = make_config(steps=STEPS, pointing=str(table), overwrite=True)
    configs = {
        "default threads": config,
        "one thread": config.replace(register=config.register.replace(workers=1)),
    }
    shared = build_shared(config, [])
    frame = read_map(path)
    image = frame.data.astype(np.float64)
    matrix, offset, *_ = level15_geometry(frame)

    def baseline():
        ndimage.affine_transform(image, matrix, offset, order=3, mode="constant", cval=float(image.min()))

    cases = {"affine_transform(order=3), float64": baseline}
    for label, case_config in configs.items():

        def run(case_config=case_config):
            sink = FitsFolder(out_dir)
            item = Item(str(path), path, {})
            result, _ = prep_item(Work(FileList([path]), sink, case_config, shared), item)
            assert result.status == "done", result.error
            sink.target(item).unlink()

        cases[f"prep_item, {label}"] = run
    for case in cases.values():  # load what loads once per process outside the timings
        case()
    costs = {label: [] for label in cases}
    for _ in range(RUNS):
        for label, case in cases.items():
            before = usage()
            case()
            costs[label].append(usage() - before)
    medians = {label: np.median(values, axis=0) for label, values in costs.items()}
    base = medians["affine_transform(order=3), float64"]
    print(f"\n1. one {image.shape[0]} x {image.shape[1]} file in one process ({RUNS} runs, medians; target <= 0.45x)")
    print(f"{'':<40}{'wall s':>8}{'CPU s':>8}{'faults':>8}{'x baseline wall':>17}{'CPU':>7}")
    for label, (wall, cpu, faults) in medians.items():
        print(f"{label:<40}{wall:>8.3f}{cpu:>8.3f}{faults:>8.0f}{wall / base[0]:>16.2f}x{cpu / base[1]:>6.2f}x")


def plain_loop(paths, out_dir, table):
    """The baseline: the package functions in a plain serial loop."""
    pointing = get_pointing_table(table)
    correction = get_correction_table()
    for path in paths:
        smap = read_map(path)
        smap = update_pointing(smap, pointing_table=pointing)
        smap = register(smap, dtype=np.float32)
        smap = correct_degradation(smap, correction_table=correction)
        smap = normalize_exposure(smap)
        fits.writeto(out_dir / path.name, smap.data.astype(np.float32), overwrite=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aiapy-bench-") as tmp:
        tmp = Path(tmp)
        for name in ("in", "one", "plain", "serial", "dask"):
            (tmp / name).mkdir()
        build, (paths, table) = timed(make_inputs, tmp / "in", args.files)
        size = statistics.mean(p.stat().st_size for p in paths) / 2**20
        print(f"{args.files} inputs, 4096 x 4096 int16 Rice-compressed, {size:.1f} MiB each (built in {build:.0f} s)")
        print(f"cores: {os.cpu_count()}")
        one_file(paths[0], table, tmp / "one")
        # Each run starts with no data waiting to be written to disk: the kernel's writeback of an earlier
        # run's 64 MiB outputs would take CPU time from the next one.
        os.sync()
        plain, _ = timed(plain_loop, paths, tmp / "plain", table)
        plain_rss = peak_rss_mib()
        options = {"steps": STEPS, "pointing": str(table), "progress": False}
        os.sync()
        serial, report = timed(prep_files, paths, tmp / "serial", **options)
        # The same local cluster prep_files(workers=N) starts, started here so its start-up is timed apart.
        config = make_config(steps=STEPS, pointing=str(table))
        config = config.replace(register=config.register.replace(workers=1))  # as prep_files runs on Dask
        start = time.perf_counter()
        with dask_client(Executor(workers=args.workers), config) as client:
            startup = time.perf_counter() - start
            os.sync()
            workers_before, before = client.run(worker_usage), usage()
            dask, report_dask = timed(prep_files, paths, tmp / "dask", client=client, **options)
            here, workers_after = usage() - before, client.run(worker_usage)
        assert report.ok and report_dask.ok, (report.failed, report_dask.failed)
        runs = [
            ("plain loop (package functions)", plain),
            ("pipeline, serial", serial),
            (f"pipeline, {args.workers} Dask workers (running)", dask),
            (f"pipeline, {args.workers} Dask workers + start-up", dask + startup),
        ]
        print(f"\n2. {args.files} files")
        print(f"{'run':<44}{'s':>7}{'img/min':>9}{'vs plain':>10}")
        for label, seconds in runs:
            print(f"{label:<44}{seconds:>7.1f}{args.files / seconds * 60:>9.1f}{plain / seconds:>9.2f}x")
        print(f"(local cluster start-up: {startup:.1f} s, paid once per run)")
        print(f"\nmean seconds per image and stage: serial run (register on {os.cpu_count()} threads) | one Dask task")
        serial_stages, task_stages = mean_stages(report), mean_stages(report_dask)
        for stage in serial_stages:
            share = serial_stages[stage] / sum(serial_stages.values())
            print(f"  {stage:<16}{serial_stages[stage]:>6.2f} s {share:>5.0%}   | {task_stages[stage]:>6.2f} s")
        print(f"  {'total':<16}{sum(serial_stages.values()):>6.2f} s         | {sum(task_stages.values()):>6.2f} s")
        used = sum(workers_after[w] - workers_before[w] for w in workers_after)
        core_s = used[0] / args.files
        print(
            f"\nDask workers: {core_s:.2f} core-s per image (CPU time of the workers over the run), "
            f"{used[1] / args.files:.0f} page faults per image; this process (scheduler, client): "
            f"{here[1] / args.files:.3f} core-s per image"
        )
        print(f"a day of AIA ({DAY} frames) at {core_s:.2f} core-s per image: {DAY * core_s / 3600:.1f} core-hours")
        # The plain loop runs register on every core, a worker on one: with no scheduler and nothing else on
        # the cores, N workers beat it by at most N x its seconds per image over a worker's CPU s per image.
        lanes = min(args.workers, os.cpu_count())  # workers that can compute at once
        bound = lanes * plain / args.files / core_s
        print(
            f"bound on {args.workers} workers vs plain: {lanes} x {plain / args.files:.3f} s per image (plain) / "
            f"{core_s:.3f} core-s per image (the workers, this run) = {bound:.2f}x (measured {plain / dask:.2f}x)"
        )
        worker_rss = max(value[2] for value in workers_after.values())
        file_rss = max(r.peak_memory_mib for r in report_dask.results)
        print(
            f"peak RSS: this process {max(plain_rss, peak_rss_mib()):.0f} MiB; a Dask worker {worker_rss:.0f} MiB "
            f"(while processing a file: {file_rss:.0f} MiB)"
        )


def mean_stages(report):
    stages = {}
    for result in report.results:
        for stage, seconds in result.timings.items():
            stages[stage] = stages.get(stage, 0.0) + seconds / len(report.results)
    return stages


if __name__ == "__main__":
    main()
