"""The resume check before a run: each existing output checked by the sink's rule (`FitsFolder.is_complete`:
header, settings identifier, CHECKSUM/DATASUM over the whole file), in the runner's thread pool against the same
checks one after the other, in this process.

Input: eight float32 4096 x 4096 outputs written by the FITS sink from the bundled full-disk image (in the page
cache, as on a rerun soon after a run). Three runs each, medians of the wall time.

Run: ``python benchmarks/bench_resume.py``.
"""

import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import sunpy.map

from aiapy.data.sample import full_frame_171
from aiapy.pipeline import FitsFolder, Item, PrepConfig
from aiapy.pipeline._product import Product
from aiapy.pipeline._runner import RESUME_CHECK_THREADS, _resume_states

RUNS, FILES = 3, 8


def wall_median(function):
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    warnings.simplefilter("ignore")
    config = PrepConfig()
    smap = full_frame_171()
    product = Product(sunpy.map.Map(smap.data.astype(np.float32), smap.meta), provenance={})
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        sink = FitsFolder(folder / "out")
        sink.out_dir.mkdir()
        items = []
        for index in range(FILES):
            path = folder / f"frame{index}.fits"
            path.write_bytes(b"")
            items.append(Item(str(path), path, {}))
            sink.write(items[-1], product, config)
        serial = wall_median(lambda: [sink.resume_state(item, config) for item in items])
        pooled = wall_median(lambda: _resume_states(sink, items, config))
    print(f"resume check of {FILES} float32 4096^2 outputs: one after the other {serial:.3f} s "
          f"({serial / FILES * 1e3:.0f} ms per file), {RESUME_CHECK_THREADS} threads {pooled:.3f} s: "
          f"{serial / pooled:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
