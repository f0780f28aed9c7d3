"""Per-image read and write of the prep: ``read_map`` of a Rice file and the checksummed float32 write.

Input: one 4096 x 4096 int16 Rice-compressed level-1 frame (one row per tile, BLANK set, as AIA files), built
from the bundled full-disk image. Timed in this process, three runs each, medians of the CPU time (single
threaded; steadier than wall time on a shared machine), each against its baseline:

* ``read_map`` (direct Rice path: each row decoded by astropy's decoder from the heap, then the HDU's own
  scaling) against ``read_map`` through astropy's ``hdu.data`` (its general per-tile loop);
* ``write_images`` (1 MiB blocks converted to big-endian, summed and written while in the cache) against astropy's
  ``HDUList.writeto(checksum=True)``, both float32 with CHECKSUM/DATASUM.

Run: ``python benchmarks/bench_io.py``.
"""

import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
from astropy.io import fits

from aiapy.data.sample import full_frame_171
from aiapy.pipeline._fitswrite import write_images
from aiapy.utils import io

RUNS = 3


def cpu_median(function, output=None):
    """Median CPU time of ``function``; ``output``, if given, is removed before each run (as the pipeline, which
    writes new files: replacing a file's content would make ext4 flush it to disk on close)."""
    times = []
    for _ in range(RUNS):
        if output is not None:
            output.unlink(missing_ok=True)
        start = time.process_time()
        function()
        times.append(time.process_time() - start)
    return float(np.median(times))


def main():
    smap = full_frame_171()
    header = fits.Header({k.upper(): v for k, v in smap.meta.items() if k not in ("history", "comment", "keycomments")})
    header["BLANK"] = -32768
    with tempfile.TemporaryDirectory(prefix="aiapy-bench-io-") as tmp:
        path = Path(tmp) / "frame.fits"
        fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(smap.data, header, compression_type="RICE_1")]).writeto(path)
        direct = cpu_median(lambda: io.read_map(path))
        with mock.patch.object(io, "_rice_rows", lambda hdu: None):
            general = cpu_median(lambda: io.read_map(path))
        print(f"read_map: {direct:.3f} s CPU, astropy's path {general:.3f} s: {general / direct:.2f}x faster")
        data = io.read_map(path).data.astype(np.float32)
        ours, theirs = Path(tmp) / "ours.fits", Path(tmp) / "astropy.fits"
        ours_cpu = cpu_median(lambda: write_images(ours, [(data, header)]), ours)
        astropy_cpu = cpu_median(lambda: fits.PrimaryHDU(data, header).writeto(theirs, checksum=True), theirs)
        ratio = astropy_cpu / ours_cpu
        print(f"checksummed float32 write: {ours_cpu:.3f} s CPU, astropy {astropy_cpu:.3f} s: {ratio:.2f}x faster")


if __name__ == "__main__":
    main()
