"""Overlap of downloads and prep in ``aiapy prep --jsoc`` (`aiapy.pipeline.prep_jsoc`).

A loopback JSOC export server (``tests/loopback_export.py``, real HTTP on 127.0.0.1) serves ``--frames``
(default 12) level-1 records, each with its own T_REC, T_OBS and FSN, Rice-compressed as the JSOC stores
them: 4096 x 4096 int16 frames (`aiapy.data.sample.full_frame_171`), or with ``--cutouts`` copies of the real
769 x 705 171 A cutout (a run of about a second, where fixed start-up costs weigh). Timed in this process,
serial prep with the standard steps (each the best of ``--repeat`` runs; for each link model the three are
measured in turn, run after run):

* prep only: `prep_files` on the level-1 files already on disk;
* download only: the same export and parfive downloads `prep_jsoc` makes (4 connections: the server serves
  byte ranges, as the JSOC's does, so one file at a time in 4 parts), nothing prepped, with the server's
  bandwidth set so that it takes about as long as the prep: once as a link shared by all transfers, once as
  a limit on each connection (as a server that limits every transfer);
* both: `prep_jsoc` at that bandwidth.

Without overlap ``both`` would take the sum of the two; the goal is ``both <= 1.25 x max(download, prep)``.
With the files in record order, each over all the connections, the first file is there after one
file-time and one more follows each file-time: ``both`` is about one file-time more than the slower of the
two (13/12 with equal times). Four whole files fetched at once would arrive four together every four
file-times, the prep waiting for each group (16/12).

Every timed run starts in the same state: the outputs of the earlier runs deleted and nothing waiting to be
written to disk (``os.sync``, outside the timing). Each run writes 12 x 64 MiB of outputs; left in the page
cache, a few runs' worth make the kernel write back all the time (past ``vm.dirty_background_ratio``), which
slows every later run by up to 30 % (the uncompressed writes most) and would count against the runs timed
last (``prep_jsoc``) what the runs timed first (prep only) did not pay. Printed with each figure: every run,
the prep's mean time per frame in each stage (read, register, write) and, on Linux, the CPU time the
hypervisor took from this machine during the run (steal), a sign of noise from outside.
With ``--latency SECONDS`` the server sleeps that long for every new connection it accepts, standing for
the TCP and TLS handshakes with a far server (the real JSOC over https from another continent: ~0.5 s per
connection at 150 ms round trip); the downloads reuse kept-alive connections, so this is paid about once
per connection of the run, not for every file. ``download, new connections`` times the same downloads with
every file over new connections (as before the connections were shared: `fetch_verified` without the
queue's connector), in the same runs, for the ratio.
Run: ``python benchmarks/bench_jsoc.py [--frames N] [--repeat R] [--cutouts] [--latency SECONDS]``.
"""

import argparse
import logging
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from loopback_export import LoopbackExport  # noqa: E402

from astropy.io import fits  # noqa: E402

from aiapy.data.sample import full_frame_171  # noqa: E402
from aiapy.net.config import get_settings  # noqa: E402
from aiapy.pipeline import prep_files, prep_jsoc  # noqa: E402
from aiapy.pipeline import _archive  # noqa: E402
from aiapy.pipeline._archive import Downloads, parse_time_range, query_records  # noqa: E402

EMAIL = "bench@example.org"
IN_FLIGHT = 4  # prep_jsoc's default: connections at once


def full_frame():
    """A 4096 x 4096 int16 level-1 frame and its header."""
    smap = full_frame_171(dtype="int16")
    header = fits.Header({k.upper(): v for k, v in smap.meta.items() if k not in ("history", "comment", "keycomments")})
    return smap.data, header


def serve(frames, bandwidth, per_connection, cutouts, latency, pipe):
    """The loopback server, in its own process (as the JSOC is remote): send its URL, serve until told."""
    server = LoopbackExport()
    first, last = server.add_frames(frames, image=None if cutouts else full_frame())
    server.pending_polls, server.bandwidth, server.per_connection = 0, bandwidth, per_connection
    server.latency = latency
    server.start()
    sizes = {key[0]: len(server.files[path]) for key, path in server.image_paths.items()}
    pipe.send((server.url, f"{first.isot}/{last.isot}", sizes))
    pipe.recv()
    pipe.send(server.connections)
    server.stop()


class Server:
    """Start `serve` in a process; ``url``, ``span`` and ``sizes`` (bytes by T_REC); `stop` returns the count of
    connections the server accepted."""

    def __init__(self, frames, cutouts, latency, bandwidth=None, per_connection=False):
        self.pipe, child = multiprocessing.Pipe()
        arguments = (frames, bandwidth, per_connection, cutouts, latency, child)
        self.process = multiprocessing.Process(target=serve, args=arguments, daemon=True)
        self.process.start()
        self.url, self.span, self.sizes = self.pipe.recv()
        os.environ["AIAPY_JSOC_URL"] = self.url

    def stop(self):
        self.pipe.send("stop")
        connections = self.pipe.recv()
        self.process.join()
        return connections


def settle(tmp, keep):
    """Delete the earlier runs' folders in ``tmp`` (but ``keep``) and write the page cache back to disk."""
    for path in tmp.iterdir():
        if path.is_dir() and path.name not in keep:
            shutil.rmtree(path)
    os.sync()


def steal():
    """CPU seconds taken by the hypervisor so far, all cores (Linux ``/proc/stat``; 0 elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return 0.0
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0


class Runs:
    """Runs of one measurement, each in a settled ``tmp``: their times, steal and reports (None for downloads)."""

    def __init__(self):
        self.times, self.steals, self.reports = [], [], []

    def run(self, tmp, keep, timer, *args):
        settle(tmp, keep)
        stolen = steal()
        seconds, report = timer(*args, tmp / f"run{len(self.times)}")
        self.steals.append(steal() - stolen)
        self.times.append(seconds)
        self.reports.append(report)

    @property
    def best(self):
        return min(self.times)

    def detail(self):
        runs = ", ".join(f"{t:.2f}" for t in self.times)
        steals = ", ".join(f"{s:.2f}" for s in self.steals)
        text = f"runs {runs} s; steal {steals} s"
        report = self.reports[self.times.index(self.best)]
        if report is not None:
            stages = ("read", "register", "write")
            means = [statistics.mean(r.timings.get(k, 0.0) for r in report.results) for k in stages]
            text += "; per frame " + ", ".join(f"{k} {m:.3f}" for k, m in zip(stages, means, strict=True)) + " s"
        return text


def time_prep(folder, out):
    start = time.perf_counter()
    report = prep_files(folder, out, progress=False)
    assert report.ok, report.summary()
    return time.perf_counter() - start, report


def _unshared(fetch_verified):
    """`fetch_verified` without the shared connector: each call opens (and closes) its own connections."""

    async def fetch(files, *, connector=None, **options):
        return await fetch_verified(files, **options)

    return fetch


def time_download_unshared(span, folder):
    with mock.patch.object(_archive, "fetch_verified", _unshared(_archive.fetch_verified)):
        return time_download(span, folder)


def time_download(span, folder):
    start = time.perf_counter()
    begin, end = parse_time_range(span)
    settings = get_settings()
    records = query_records(begin, end, [171], settings=settings)
    downloads = Downloads(records, folder, segments=("image",), email=EMAIL, in_flight=IN_FLIGHT, slots=8,
                          export_timeout=60.0, settings=settings).start()  # fmt: skip
    for item in downloads:
        assert item.error is None, item.error
        Downloads.remove(item.paths)
        downloads.release()
    downloads.stop()
    return time.perf_counter() - start, records


def time_both(span, out):
    start = time.perf_counter()
    report = prep_jsoc(span, [171], out, email=EMAIL, progress=False)
    assert report.ok and report.counts["done"] == len(report.results), report.summary()
    return time.perf_counter() - start, report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measurement (the best is kept)")
    parser.add_argument("--cutouts", action="store_true", help="769 x 705 cutouts instead of full frames")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds the server takes to accept each new connection (handshakes)")  # fmt: skip
    args = parser.parse_args()
    logging.getLogger("aiapy").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ.update(AIAPY_CACHE_DIR=str(tmp / "cache"), AIAPY_CONFIG=str(tmp / "none.cfg"))
        server = Server(args.frames, args.cutouts, args.latency)
        # the level-1 files, once, for the prep-only runs
        assert prep_jsoc(server.span, [171], tmp / "seed", email=EMAIL, keep_level1=tmp / "lev1", progress=False).ok
        _, records = time_download(server.span, tmp / "dl-free")
        nbytes = sum(server.sizes[r.t_rec] for r in records)
        server.stop()
        keep = {"lev1", "cache"}
        calibration = Runs()
        for _ in range(args.repeat):
            calibration.run(tmp, keep, time_prep, tmp / "lev1")
        shape = "769 x 705" if args.cutouts else "4096 x 4096"
        print(f"{len(records)} frames of {shape} ({nbytes / 2**20:.1f} MiB); {args.latency:g} s per new connection")
        print(f"prep only          {calibration.best:6.2f} s  ({calibration.detail()}; sets the bandwidths)")
        # A link shared by all transfers, and a server that limits each connection (4 at once) to a quarter:
        # either way the download alone takes about as long as the prep. The three measurements of each are
        # interleaved (prep, download, both; prep, download, both; ...), so that a machine that gets slower or
        # faster meanwhile weighs on all three alike.
        for name, per_connection, bandwidth in (("shared link", False, nbytes / calibration.best), (
            "per connection", True, nbytes / calibration.best / IN_FLIGHT)):  # fmt: skip
            server = Server(args.frames, args.cutouts, args.latency, bandwidth, per_connection)
            prep_runs, download_runs, both_runs, unshared_runs = Runs(), Runs(), Runs(), Runs()
            for _ in range(args.repeat):
                prep_runs.run(tmp, keep, time_prep, tmp / "lev1")
                download_runs.run(tmp, keep, lambda *a: (time_download(*a)[0], None), server.span)
                both_runs.run(tmp, keep, time_both, server.span)
                unshared_runs.run(tmp, keep, lambda *a: (time_download_unshared(*a)[0], None), server.span)
            connections = server.stop()
            prep, download, both = prep_runs.best, download_runs.best, both_runs.best
            slower = max(download, prep)
            print(f"{name}, {bandwidth / 2**20:.2f} MiB/s:")
            print(f"  prep only        {prep:6.2f} s  ({prep_runs.detail()})")
            print(f"  download only    {download:6.2f} s  ({download_runs.detail()}); {download / prep:.2f} x prep")
            print(f"  sum (no overlap) {prep + download:6.2f} s  = {(prep + download) / slower:.2f} x max")
            print(f"  prep_jsoc        {both:6.2f} s  = {both / slower:.2f} x max(download, prep)  (goal <= 1.25)")
            print(f"                   ({both_runs.detail()})")
            unshared = unshared_runs.best
            print(f"  download, new connections per file {unshared:6.2f} s  ({unshared_runs.detail()}); shared"
                  f" connections take {download / unshared:.2f} x that")  # fmt: skip
            print(f"  connections      {connections} accepted by the server in {3 * args.repeat} runs (downloads, "
                  "prep_jsoc, downloads over new connections), its queries included")  # fmt: skip


if __name__ == "__main__":
    main()
