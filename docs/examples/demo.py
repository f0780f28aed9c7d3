"""
The aiapy walkthrough (after the aiapy blog post), run on the data bundled with aiapy, with no network.

Writes into one folder (``--out``, default ``demo_output``):

* ``psf_171.png`` and ``deconvolution_171.png`` (PSF, before/after deconvolution with a profile), from
  ``psf_deconvolution.py``;
* ``respike_histogram.png``: despiked vs respiked values at the spike positions (bundled spikes file);
* ``pointing_register.txt``: reference pixel, plate scale and rotation matrix before/after update_pointing
  and register;
* ``wavelength_responses.png``, ``degradation_curves.png``, ``temperature_responses.png``, from
  ``responses.py``; ``degradation_correction_335.png`` (a 335 Å image before/after correction);
* ``uncertainty_histograms.png``: nominal, CHIANTI and EVE uncertainties of the level-1.5 171 Å image;
* ``level1.5/*.fits``: level-1.5 files (with an UNCERTAINTY HDU) written by the batch pipeline
  (`aiapy.pipeline.prep_files`, as ``aiapy prep``) from eight sample level-1 files (``AIA_171_IMAGE``,
  the native-resolution 171 Å cutout, six flare cutouts), with the pointing table built from their
  headers in ``level1/pointing_from_headers.csv``;
* ``summary.txt``: what was done, with the numbers printed along the way.

Run ``python docs/examples/demo.py --out demo_output`` (``make demo``).
"""

import argparse
import logging
import subprocess
import sys
import time
from pathlib import Path

import astropy.units as u
import matplotlib
import numpy as np

from aiapy.calibrate import correct_degradation, estimate_error, fetch_spikes, normalize_exposure, respike
from aiapy.calibrate.pointing import update_pointing
from aiapy.calibrate.register import register
from aiapy.calibrate.utils import get_correction_table, get_pointing_table
from aiapy.data import get_file, sample
from aiapy.pipeline import prep_files, write_header_pointing_table

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 (after choosing the backend)
from matplotlib.colors import Normalize  # noqa: E402

log = logging.getLogger("aiapy")
EXAMPLES = Path(__file__).resolve().parent
SPIKES_FILE = "spikes_171_full_frame_constructed"


class Summary:
    """Collects the lines of summary.txt and prints them as the demo goes."""

    def __init__(self):
        self.lines = []

    def __call__(self, text=""):
        print(text)
        self.lines.append(text)

    def write(self, path):
        path.write_text("\n".join(self.lines) + "\n", encoding="utf-8")


def run_example(name, out_dir, say):
    """Run another example script as ``python <script> --out <out_dir>``; say so and go on if it is missing."""
    path = EXAMPLES / f"{name}.py"
    if not path.is_file():
        say(f"  ! {path.name} is missing: its figures were not made")
        return False
    start = time.perf_counter()
    before = {p.name for p in out_dir.iterdir()}
    result = subprocess.run([sys.executable, str(path), "--out", str(out_dir)], capture_output=True, text=True)
    if result.returncode != 0:
        say(f"  ! {path.name} failed (exit {result.returncode}): {result.stderr.strip().splitlines()[-1:]}")
        return False
    new = sorted({p.name for p in out_dir.iterdir()} - before) or ["(files already there, rewritten)"]
    say(f"  {path.name}: {', '.join(new)} ({time.perf_counter() - start:.0f} s)")
    return True


def respike_section(m_171, out_dir, say):
    spikes_path = get_file(SPIKES_FILE)
    m_respiked = respike(m_171, spikes=spikes_path)
    coords, values = fetch_spikes(m_171, spikes_file=spikes_path)
    x = np.round(coords.x.to_value(u.pix)).astype(int)
    y = np.round(coords.y.to_value(u.pix)).astype(int)
    despiked = m_171.data[y, x]
    fig, axes = plt.subplots(figsize=(6, 4))
    bins = np.histogram_bin_edges(np.concatenate([values, despiked]), bins="scott")
    axes.hist(values, bins=bins, log=True, histtype="step", label="Respiked")
    axes.hist(despiked, bins=bins, log=True, histtype="step", label="Despiked")
    axes.set_xlabel(f"Intensity [{m_171.unit.to_string()}]")
    axes.set_ylabel("Number of pixels")
    axes.set_title("171 Å spikes (bundled spikes file, constructed in the JSOC layout)")
    axes.legend()
    fig.savefig(out_dir / "respike_histogram.png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    changed = int(np.count_nonzero(m_respiked.data != m_171.data))
    say(f"  respike: {values.size} spikes from {spikes_path.name}; {changed} pixels changed; "
        f"level {m_171.meta['lvl_num']} -> {m_respiked.meta['lvl_num']}")  # fmt: skip
    say(f"  median value at the spikes: despiked {np.median(despiked):.0f} DN, respiked {np.median(values):.0f} DN")


def pointing_section(m_171, table_path, out_dir, say):
    table = get_pointing_table(table_path)
    m_up = update_pointing(m_171, pointing_table=table)
    m_15 = register(m_up, dtype=np.float32)
    lines = [
        f"reference pixel before update_pointing: {m_171.reference_pixel}",
        f"reference pixel after update_pointing:  {m_up.reference_pixel}",
        f"scale before register: {m_up.scale}",
        f"rotation matrix before register:\n{m_up.rotation_matrix}",
        f"scale after register:  {m_15.scale}",
        f"rotation matrix after register:\n{m_15.rotation_matrix}",
        f"level {m_up.meta['lvl_num']} -> {m_15.meta['lvl_num']}, shape {m_15.data.shape}, dtype {m_15.data.dtype}",
    ]
    (out_dir / "pointing_register.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for line in lines:
        say("  " + line.replace("\n", "\n  "))
    return m_15


def degradation_section(out_dir, say):
    m_335 = sample.flare_maps(335)[0]
    table = get_correction_table()
    corrected = correct_degradation(m_335, correction_table=table)
    factor = float(np.nanmean(m_335.data) / np.nanmean(corrected.data))
    # Both panels on one linear colour scale from 0, so brightness is proportional to DN and the correction
    # shows as a right panel brighter by 1 / factor.
    norm = Normalize(vmin=0, vmax=float(np.nanpercentile(corrected.data, 99.5)))
    fig = plt.figure(figsize=(10, 4.2), layout="constrained")
    fig.suptitle(f"AIA 335 Å, {m_335.date.isot[:19]}: degradation factor {factor:.3f} (calibration version 10)")
    titles = ("Uncorrected (level 1)", f"Corrected: level 1 / {factor:.3f}")
    panels = []
    for index, (smap, title) in enumerate(zip((m_335, corrected), titles, strict=True)):
        axes = fig.add_subplot(1, 2, index + 1, projection=smap)
        panels.append(smap.plot(axes=axes, norm=norm, title=title))
        axes.coords[0].set_axislabel("Solar X")
        axes.coords[1].set_axislabel("Solar Y" if index == 0 else " ")
    fig.colorbar(panels[-1], ax=fig.axes, label=f"intensity [{m_335.unit.to_string()}]",
                 extend="max")  # fmt: skip
    fig.savefig(out_dir / "degradation_correction_335.png", dpi=120)
    plt.close(fig)
    say(f"  335 Å degradation at {m_335.date.isot[:19]}: factor {factor:.3f} (V10); corrected image = data / factor")


def uncertainty_section(m_15, out_dir, say):
    counts = u.Quantity(m_15.data, u.DN / u.pix)
    errors = {
        "Nominal": estimate_error(counts, m_15.wavelength),
        "CHIANTI": estimate_error(counts, m_15.wavelength, include_chianti=True),
        "Photometric (EVE)": estimate_error(counts, m_15.wavelength, include_eve=True),
    }
    fig, axes = plt.subplots(figsize=(6, 4))
    bins = np.logspace(0, 4, 50)
    for label, error in errors.items():
        axes.hist(error.value.ravel(), bins=bins, histtype="step", log=True, label=label)
        say(f"  {label:<18} median uncertainty {np.nanmedian(error.value):7.2f} DN/pix")
    axes.set_xscale("log")
    axes.set_title(f"Uncertainties of the level-1.5 {m_15.wavelength.to_value(u.AA):.0f} Å map (estimate_error)")
    axes.set_xlabel("Uncertainty [DN/pix]")
    axes.set_ylabel("Number of pixels")
    axes.legend()
    fig.savefig(out_dir / "uncertainty_histograms.png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    m_norm = normalize_exposure(m_15)
    say(f"  normalize_exposure: unit {m_15.unit} -> {m_norm.unit}, "
        f"exposure {m_15.exposure_time} -> {m_norm.exposure_time}")  # fmt: skip


def pipeline_section(m_171, out_dir, say):
    level1 = out_dir / "level1"
    level1.mkdir(exist_ok=True)
    # AIA_171_IMAGE is m_171 as a Rice-compressed level-1 file, written once into the aiapy cache.
    inputs = [sample.AIA_171_IMAGE, sample.AIA_171_CUTOUT, *sample.FLARE_FILES[:6]]
    maps = [m_171, sample.load_map("aia_171_cutout"), *sample.flare_maps()[:6]]
    table = write_header_pointing_table(maps, level1 / "pointing_from_headers.csv")
    report = prep_files(inputs, out_dir / "level1.5", pointing=table, uncertainty=True, compress="rice", progress=False)
    say(f"  {report.summary()}")
    say(f"  steps: {', '.join(report.settings['steps'])}; pointing table from the headers ({table.name})")
    for result in report.results:
        say(f"    {result.status:<8} {Path(result.output).name}" + (f"  {result.error}" if result.error else ""))
    return report, table


def main(out_dir="demo_output"):
    """Run the walkthrough into ``out_dir``; return the paths of the files written."""
    start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    say = Summary()
    say("aiapy demo: the blog-post walkthrough on bundled data (no network)")
    m_171 = sample.full_frame_171()
    say(f"Level-1 171 Å map: {m_171.data.shape}, {m_171.date.isot}: the real 128 px full-disk image upsampled to")
    say("  4096 x 4096 (aiapy.data.sample.full_frame_171(); the same data as the file sample.AIA_171_IMAGE)")
    say("\n1. PSF and deconvolution")
    examples_ok = run_example("psf_deconvolution", out_dir, say)
    say("\n2. Respiking")
    respike_section(m_171, out_dir, say)
    say("\n3. Level 1 -> 1.5: update_pointing and register")
    say("  (offline: the pointing table is built from the header's own values, so update_pointing changes nothing;")
    say("   `aiapy prep --pointing jsoc` uses the JSOC master pointing table)")
    report, table = pipeline_section(m_171, out_dir, say)
    m_15 = pointing_section(m_171, table, out_dir, say)
    say("\n4. Degradation and responses")
    degradation_section(out_dir, say)
    examples_ok &= run_example("responses", out_dir, say)
    say("\n5. Uncertainties and exposure normalisation")
    uncertainty_section(m_15, out_dir, say)
    say(f"\nDone in {time.perf_counter() - start:.0f} s; outputs in {out_dir}")
    say.write(out_dir / "summary.txt")
    if not (examples_ok and report.ok):
        raise RuntimeError(
            f"the demo is incomplete (a script or a pipeline file failed): see {out_dir / 'summary.txt'}"
        )
    return sorted(p for p in out_dir.rglob("*") if p.is_file())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The aiapy walkthrough on bundled data.")
    parser.add_argument("--out", default="demo_output", help="output folder (default: %(default)s)")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    main(parser.parse_args().out)
