"""Throughput of the batch pipeline (``aiapy prep``) on full-frame inputs, against a plain serial loop.

Inputs: ``--files`` (default 12) 4096 x 4096 Rice-compressed int16 level-1 files built from the bundled
full-disk image (``aiapy.data.sample.full_frame_171``), each with a little different noise and T_OBS.
The standard prep (update_pointing with a table built from the headers' own values, so it runs offline;
register; degradation correction; exposure normalisation; float32 write) is timed three ways in this
process:

* plain loop: a serial ``for`` loop over the same package functions, as a user would write it (tables
  loaded once, register with its default threads, float32 written with astropy);
* pipeline, serial (``prep_files``);
* pipeline, 2 local Dask workers: the cluster ``prep_files(workers=2)`` starts (same settings), started
  first so that its start-up (paid once per run) is reported apart from the running throughput.

It prints images per minute, the ratios against the plain loop, the per-stage cost per image (serial run
and Dask tasks) and the peak resident memory per process. Run: ``python benchmarks/bench_pipeline.py [--files N]``.
"""

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy.io import fits

from aiapy.calibrate import correct_degradation, normalize_exposure
from aiapy.calibrate.pointing import update_pointing
from aiapy.calibrate.register import register
from aiapy.calibrate.utils import get_correction_table, get_pointing_table
from aiapy.data.sample import full_frame_171
from aiapy.pipeline import prep_files, write_header_pointing_table
from aiapy.pipeline._run import _dask_client
from aiapy.utils.io import read_map

STEPS = ("update_pointing", "register", "degradation", "exposure")


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


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aiapy-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        build, (paths, table) = timed(make_inputs, tmp / "in", args.files)
        size = np.mean([p.stat().st_size for p in paths]) / 2**20
        print(f"{args.files} inputs, 4096 x 4096 int16 Rice-compressed, {size:.1f} MiB each (built in {build:.0f} s)")
        print(f"cores: {os.cpu_count()}")
        for name in ("plain", "serial", "dask"):
            (tmp / name).mkdir()
        plain, _ = timed(plain_loop, paths, tmp / "plain", table)
        plain_rss = peak_rss_mib()
        options = {"steps": STEPS, "pointing": str(table), "progress": False}
        serial, report = timed(prep_files, paths, tmp / "serial", **options)
        # The same local cluster prep_files(workers=N) starts, started here so its start-up is timed apart.
        start = time.perf_counter()
        with _dask_client(args.workers, None, None, "auto") as client:
            startup = time.perf_counter() - start
            dask, report_dask = timed(prep_files, paths, tmp / "dask", client=client, **options)
        assert report.ok and report_dask.ok, (report.failed, report_dask.failed)
        runs = [
            ("plain loop (package functions)", plain),
            ("pipeline, serial", serial),
            (f"pipeline, {args.workers} Dask workers (running)", dask),
            (f"pipeline, {args.workers} Dask workers + start-up", dask + startup),
        ]
        print(f"\n{'run':<44}{'s':>7}{'img/min':>9}{'vs plain':>10}")
        for label, seconds in runs:
            print(f"{label:<44}{seconds:>7.1f}{args.files / seconds * 60:>9.1f}{plain / seconds:>9.2f}x")
        print(f"(local cluster start-up: {startup:.1f} s, paid once per run)")
        print(f"\nmean seconds per image and stage: serial run (register on {os.cpu_count()} threads) | one Dask task")
        serial_stages, task_stages = mean_stages(report), mean_stages(report_dask)
        for stage in serial_stages:
            share = serial_stages[stage] / sum(serial_stages.values())
            print(f"  {stage:<16}{serial_stages[stage]:>6.2f} s {share:>5.0%}   | {task_stages[stage]:>6.2f} s")
        print(f"  {'total':<16}{sum(serial_stages.values()):>6.2f} s         | {sum(task_stages.values()):>6.2f} s")
        worker_rss = max(r.peak_memory_mib for r in report_dask.results)
        print(f"\npeak RSS: this process {max(plain_rss, peak_rss_mib()):.0f} MiB; a Dask worker {worker_rss:.0f} MiB")


def mean_stages(report):
    stages = {}
    for result in report.results:
        for stage, seconds in result.timings.items():
            stages[stage] = stages.get(stage, 0.0) + seconds / len(report.results)
    return stages


if __name__ == "__main__":
    main()
