"""The data cube against FITS files: building, reading a time series and a frame, bytes per frame.

Inputs: ``--files`` (default 6) 4096 x 4096 Rice-compressed int16 level-1 files built from the bundled
full-disk image (``aiapy.data.sample.full_frame_171``), each with different Poisson noise and T_OBS. The
standard prep (register, degradation, exposure; header pointing), serial, in this process. Timed, each ratio
against its baseline in the same run, interleaved, medians of ``--runs`` (default 2):

1. Build: ``build_cube`` of the N files (layout ``aiapy``: one shard per frame of 256 x 256 tiles, Blosc lz4
   with bit shuffle) against ``prep_files`` of the same files to float32 FITS (goal <= 1.15x); and
   the same cube with whole-frame chunks (no tiles) beside it.
2. A 64 x 64 pixel time series over all N frames: from the cube (``zarr`` array slice, store opened in the
   timing) against the FITS outputs (``astropy.io.fits`` memory-mapped, one file after another) (goal >= 5x),
   for both chunkings.
3. One full frame: cube against its FITS file (goal: no slower).
4. Stored bytes per frame: cube (both chunkings) beside Rice-compressed FITS (``compress="rice"``: lossy,
   1/16 of the noise) and float32 FITS.

Run: ``python benchmarks/bench_cube.py [--files N] [--runs R]``.
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import zarr
from astropy.io import fits

from aiapy.data.sample import full_frame_171
from aiapy.pipeline import _cube, build_cube, output_path, prep_files

CORNER = (2000, 2100)  # row, column of the 64 x 64 time series (on the disk)


def make_inputs(folder, count):
    base = full_frame_171()
    rng = np.random.default_rng(0)
    skip = ("history", "comment", "keycomments")
    paths = []
    for index in range(count):
        header = fits.Header({k.upper(): v for k, v in base.meta.items() if k not in skip})
        header["T_OBS"] = f"2011-02-15T00:{index:02d}:01.34"
        header["DATE-OBS"] = f"2011-02-15T00:{index:02d}:00.34"
        data = base.data + rng.poisson(3.0, size=base.data.shape).astype(np.int16)
        path = folder / f"aia.lev1.171A_2011_02_15T00_{index:02d}_01.34Z.image_lev1.fits"
        fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, header, compression_type="RICE_1")]).writeto(path)
        paths.append(path)
    return paths


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def build(paths, store, tile):
    """build_cube with square tiles of ``tile`` pixels in each frame's shard (4096: whole-frame chunks)."""
    saved = _cube.TILE
    _cube.TILE = tile
    try:
        return build_cube(paths, store)
    finally:
        _cube.TILE = saved


def _image(hdulist):
    """The image HDU of an output: the primary, or the tile-compressed extension of a Rice file."""
    return hdulist[1] if hdulist[0].header["NAXIS"] == 0 else hdulist[0]


def series_fits(outputs):
    row, column = CORNER
    values = []
    for path in outputs:
        with fits.open(path, memmap=True) as hdulist:  # .section: only the rows (tiles) needed
            values.append(np.array(_image(hdulist).section[row : row + 64, column : column + 64]))
    return np.stack(values)


def series_cube(store):
    row, column = CORNER
    return zarr.open_group(store, mode="r")["171A/data"][:, row : row + 64, column : column + 64]


def frame_fits(path):
    with fits.open(path, memmap=True) as hdulist:
        return np.array(_image(hdulist).data)


def frame_cube(store, index):
    return zarr.open_group(store, mode="r")["171A/data"][index]


def size(folder, pattern):
    return sum(p.stat().st_size for p in Path(folder).glob(pattern) if p.is_file())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=6)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        paths = make_inputs(tmp / "in", args.files)
        n = len(paths)
        prep_files(paths[:1], tmp / "warm")  # numba's cached code and the libraries, loaded before any timing
        times = {"fits": [], "tiles": [], "frames": []}
        for run in range(args.runs):
            times["fits"].append(timed(prep_files, paths, tmp / f"fits{run}")[0])
            times["tiles"].append(timed(build, paths, tmp / f"tiles{run}.zarr", _cube.TILE)[0])
            times["frames"].append(timed(build, paths, tmp / f"frames{run}.zarr", 4096)[0])
        med = {key: statistics.median(value) for key, value in times.items()}
        print(f"{n} full 4096 x 4096 frames, standard prep, serial; medians of {args.runs} interleaved runs")
        print(f"build: FITS {med['fits']:.2f} s ({med['fits'] / n:.2f} s/frame)")
        for key in ("tiles", "frames"):
            print(f"  cube ({key:6s}) {med[key]:.2f} s: {med[key] / med['fits']:.3f}x the FITS run (goal <= 1.15)")
        prep_files(paths, tmp / "rice", compress="rice")
        outputs = [output_path(p, tmp / "fits0") for p in paths]
        rice = [output_path(p, tmp / "rice") for p in paths]
        stores = {"tiles": tmp / "tiles0.zarr", "frames": tmp / "frames0.zarr"}
        reference = series_fits(outputs)
        for store in stores.values():
            np.testing.assert_array_equal(series_cube(store), reference)  # the same numbers, else no timing
        reads = {f"{w} {k}": [] for w in ("series", "frame") for k in ("fits", "rice", *stores)}
        for _ in range(5):
            for key, files in (("fits", outputs), ("rice", rice)):
                reads[f"series {key}"].append(timed(series_fits, files)[0])
                reads[f"frame {key}"].append(timed(frame_fits, files[n // 2])[0])
            for key, store in stores.items():
                reads[f"series {key}"].append(timed(series_cube, store)[0])
                reads[f"frame {key}"].append(timed(frame_cube, store, n // 2)[0])
        r = {key: statistics.median(value) for key, value in reads.items()}
        print(f"64 x 64 time series over {n} frames: FITS {r['series fits'] * 1e3:.1f} ms, Rice FITS "
              f"{r['series rice'] * 1e3:.1f} ms")  # fmt: skip
        for key in stores:
            ratio = r["series fits"] / r[f"series {key}"]
            print(f"  cube ({key:6s}) {r[f'series {key}'] * 1e3:.1f} ms: {ratio:.1f}x faster (goal >= 5)")
        print(f"one full frame: FITS {r['frame fits'] * 1e3:.1f} ms, Rice FITS {r['frame rice'] * 1e3:.1f} ms")
        for key in stores:
            ratio = r["frame fits"] / r[f"frame {key}"]
            rice_ratio = r["frame rice"] / r[f"frame {key}"]
            print(f"  cube ({key:6s}) {r[f'frame {key}'] * 1e3:.1f} ms: {ratio:.2f}x the FITS speed (goal >= 1), "
                  f"{rice_ratio:.2f}x the Rice FITS speed")  # fmt: skip
        per = 2**20 * n
        print("stored MiB per frame:")
        fits_size, rice_size = size(tmp / "fits0", "*.fits") / per, size(tmp / "rice", "*.fits") / per
        print(f"  float32 FITS {fits_size:.1f}, Rice FITS {rice_size:.1f}")
        for key, store in stores.items():
            print(f"  cube ({key:6s}) {size(store / '171A' / 'data', '**/*') / per:.1f}")
        print(f"(cores: {os.cpu_count()})")


if __name__ == "__main__":
    main()
