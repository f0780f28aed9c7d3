"""
The aiapy walkthrough (after the aiapy blog post), run on the data bundled with aiapy, with no network.

Writes into one folder (``--out``, default ``demo_output``):

* ``psf_171.png`` and ``deconvolution_171.png``: the 171 Å PSF, and the real native-resolution 171 Å
  cutout before/after deconvolution on one colour scale, their ratio, and a zoom with a profile;
* ``respike_histogram.png``: despiked vs respiked values at the spike positions (bundled spikes file);
* ``pointing_register.txt``: reference pixel, plate scale and rotation matrix before/after update_pointing
  and register;
* ``wavelength_responses.png``, ``degradation_curves.png``, ``temperature_responses.png``: the responses
  and degradation of the EUV channels; ``degradation_correction_335.png`` (a 335 Å image before/after
  correction);
* ``uncertainty_histograms.png``: nominal, CHIANTI and EVE uncertainties of the level-1.5 171 Å image
  (the full-disk image upsampled from 128 px);
* ``level1.5/*.fits``: level-1.5 files (with an UNCERTAINTY HDU) written by the batch pipeline
  (`aiapy.pipeline.prep_files`, as ``aiapy prep``) from eight sample level-1 files (``AIA_171_IMAGE``,
  the native-resolution 171 Å cutout, six flare cutouts), with the pointing table built from their
  headers in ``level1/pointing_from_headers.csv``;
* ``summary.txt``: what was done, with the numbers printed along the way.

Run ``python docs/examples/demo.py --out demo_output`` (``make demo``).
"""

import argparse
import logging
import time
from pathlib import Path

import astropy.units as u
import matplotlib
import numpy as np
from astropy.time import Time

from aiapy.calibrate import correct_degradation, estimate_error, fetch_spikes, normalize_exposure, respike
from aiapy.calibrate.pointing import update_pointing
from aiapy.calibrate.register import register
from aiapy.calibrate.utils import get_correction_table, get_pointing_table
from aiapy.data import get_file, sample
from aiapy.pipeline import prep_files, write_header_pointing_table
from aiapy.psf import calculate_psf, deconvolve
from aiapy.response.plot import plot_degradation_curves, plot_temperature_responses, plot_wavelength_responses

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 (after choosing the backend)
from matplotlib.colors import LogNorm, Normalize, PowerNorm  # noqa: E402

log = logging.getLogger("aiapy")
SPIKES_FILE = "spikes_171_full_frame_constructed"
ITERATIONS = 25  # deconvolve's default, as SolarSoft's aia_deconvolve_richardsonlucy in the aiapy blog post


class Summary:
    """Collects the lines of summary.txt and prints them as the demo goes."""

    def __init__(self):
        self.lines = []

    def __call__(self, text=""):
        print(text)
        self.lines.append(text)

    def write(self, path):
        path.write_text("\n".join(self.lines) + "\n", encoding="utf-8")


def _timed(name, function, out_dir, say):
    """Run ``function(out_dir)``, which writes figures and returns their paths; say what it wrote."""
    start = time.perf_counter()
    paths = function(out_dir)
    say(f"  {name}: {', '.join(path.name for path in paths)} ({time.perf_counter() - start:.0f} s)")
    return paths


def psf_figures(out_dir):
    """``psf_171.png`` (the PSF, log stretch) and ``deconvolution_171.png``; return their paths."""
    out_dir = Path(out_dir)
    psf = calculate_psf(171 * u.AA)
    core = psf[2048 - 200 : 2048 + 200, 2048 - 200 : 2048 + 200]
    fig, ax = plt.subplots(figsize=(6, 5), layout="constrained")
    # Pixels below the lowest colour (including exact zeros far from the arms) take the lowest colour.
    cmap = plt.get_cmap("magma").with_extremes(under="black", bad="black")
    image = ax.imshow(core, norm=LogNorm(vmin=1e-9, vmax=core.max()), origin="lower", cmap=cmap,
                      extent=[-200, 200, -200, 200])  # fmt: skip
    ax.set(xlabel="x offset [pixel]", ylabel="y offset [pixel]", title="AIA 171 Å PSF (central 400 pixels)")
    fig.colorbar(image, ax=ax, label="fraction of the light per pixel (log scale)", extend="min")
    paths = [out_dir / "psf_171.png"]
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    cutout = sample.load_map("aia_171_cutout")
    sharp = deconvolve(cutout, iterations=ITERATIONS)
    before, after = cutout.data.astype(float), sharp.data.astype(float)
    unit = cutout.unit.to_string()
    fig, axes = plt.subplots(2, 3, figsize=(16, 9.5), layout="constrained")
    fig.suptitle(
        f"AIA 171 Å {cutout.date.iso[:19]}, real level-1 cutout at native resolution (0.6\"/pixel): "
        f"Richardson-Lucy deconvolution with the 171 Å PSF, {ITERATIONS} iterations"
    )
    norm = PowerNorm(0.5, vmin=0, vmax=float(np.percentile(after, 99.8)))
    extent = [-0.5, before.shape[1] - 0.5, -0.5, before.shape[0] - 0.5]
    _pair(fig, axes[0, :2], before, after, norm, ("level 1", "deconvolved"), unit, extent)
    # The ratio shows where deconvolution put back the light that the PSF scatters: bright structure gains,
    # faint surroundings lose.
    ratio = axes[0, 2].imshow(after / before, origin="lower", cmap="RdBu_r", norm=LogNorm(vmin=0.5, vmax=2))
    axes[0, 2].set(title="deconvolved / level 1", xlabel="x [pixel]")
    bar = fig.colorbar(ratio, ax=axes[0, 2], label="ratio (log scale)", shrink=0.9, extend="both")
    bar.set_ticks([0.5, 0.7, 1, 1.4, 2], labels=["0.5", "0.7", "1", "1.4", "2"])
    bar.ax.minorticks_off()

    # Bottom: the brightest compact feature, 120 x 120 pixels, with a profile through its peak; the axes
    # keep the pixel numbers of the cutout.
    peak_row = int(np.argmax(before.max(axis=1)))
    peak_col = int(np.argmax(before[peak_row]))
    rows = slice(max(peak_row - 60, 0), peak_row + 60)
    cols = slice(max(peak_col - 60, 0), peak_col + 60)
    zoom_before, zoom_after = before[rows, cols], after[rows, cols]
    zoom_norm = PowerNorm(0.5, vmin=0, vmax=float(np.percentile(zoom_after, 99.5)))
    zoom_extent = [cols.start - 0.5, cols.start + zoom_before.shape[1] - 0.5,
                   rows.start - 0.5, rows.start + zoom_before.shape[0] - 0.5]  # fmt: skip
    titles = ("zoom: level 1", "zoom: deconvolved")
    _pair(fig, axes[1, :2], zoom_before, zoom_after, zoom_norm, titles, unit, zoom_extent)
    for ax in axes[0, :2]:
        ax.add_patch(plt.Rectangle((cols.start, rows.start), cols.stop - cols.start, rows.stop - rows.start,
                                   fill=False, color="w", lw=0.8))  # fmt: skip
    for ax in axes[1, :2]:
        ax.axhline(peak_row, color="w", lw=0.8, ls="--")
    x = np.arange(cols.start, cols.start + zoom_before.shape[1])
    axes[1, 2].plot(x, before[peak_row, cols], label="level 1")
    axes[1, 2].plot(x, after[peak_row, cols], label="deconvolved")
    axes[1, 2].set(xlabel=f"x [pixel] along the dashed line (row {peak_row})", ylabel=f"intensity [{unit}]",
                   title="profile through the peak")  # fmt: skip
    axes[1, 2].legend()
    paths.append(out_dir / "deconvolution_171.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths


def _pair(fig, axes, before, after, norm, titles, unit, extent):
    """Two images on one colour scale with one colour bar, in the pixel numbers of ``extent``."""
    for ax, image, title in zip(axes, (before, after), titles, strict=True):
        shown = ax.imshow(image, origin="lower", cmap="sdoaia171", norm=norm, extent=extent)
        ax.set(title=title, xlabel="x [pixel]")
    axes[0].set_ylabel("y [pixel]")
    fig.colorbar(shown, ax=list(axes), label=f"intensity [{unit}] (square-root scale)", shrink=0.9, extend="max")


def response_figures(out_dir):
    """
    ``wavelength_responses.png``, ``degradation_curves.png`` and ``temperature_responses.png`` of the EUV
    channels, from the bundled data; return their paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []

    fig, axes = plt.subplots(figsize=(8, 5), layout="constrained")
    plot_wavelength_responses(axes=axes)
    axes.set_xlim(50, 400)
    axes.set_ylim(1e-6, 10)
    axes.set_title("AIA EUV wavelength responses (at launch, with cross-talk)")
    paths.append(out_dir / "wavelength_responses.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    # Monthly from 2010-05 to 2026-01.
    months = [f"{year}-{month:02d}-01" for year in range(2010, 2026) for month in range(1, 13)]
    months = Time(months[4:] + ["2026-01-01"])
    table = get_correction_table()
    fig, axes = plt.subplots(figsize=(8, 5), layout="constrained")
    plot_degradation_curves(months, axes=axes, correction_table=table)
    plot_degradation_curves(months, channels=[335] * u.AA, calibration_versions=(8,), axes=axes,
                            correction_table=table)  # fmt: skip
    _mark_last_epoch(axes, table, months)
    axes.set_ylim(0, 1.3)
    axes.set_title("AIA EUV degradation (calibration V10; 335 Å also V8, dashed)")
    paths.append(out_dir / "degradation_curves.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(figsize=(8, 5), layout="constrained")
    plot_temperature_responses(axes=axes)
    axes.set_xlim(4.5, 8)
    axes.set_ylim(1e-28, 1e-23)
    axes.set_title("AIA EUV temperature responses (CHIANTI 9.0.1, SolarSoft V10)")
    paths.append(out_dir / "temperature_responses.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths


def _mark_last_epoch(axes, table, times):
    """Shade the times after the start of version 10's last epoch, where its factors are held constant."""
    last = Time(table["T_START"][table["VER_NUM"] == 10].max())
    axes.axvspan(last.to_datetime(), times[-1].to_datetime(), color="0.9", zorder=0)
    axes.text(last.to_datetime(), 0.62, f"  V10's last epoch, from {last.iso[:10]}:\n  factors held constant",
              fontsize=8, va="center")  # fmt: skip


def respike_section(m_171, out_dir, say):
    spikes_path = get_file(SPIKES_FILE)
    m_respiked = respike(m_171, spikes=spikes_path)
    coords, values = fetch_spikes(m_171, spikes_file=spikes_path)
    x = np.round(coords.x.to_value(u.pix)).astype(int)
    y = np.round(coords.y.to_value(u.pix)).astype(int)
    despiked = m_171.data[y, x]
    fig, axes = plt.subplots(figsize=(6, 4))
    bins = np.histogram_bin_edges(np.concatenate([values, despiked]), bins="scott")
    axes.hist(values, bins=bins, log=True, histtype="step", label="respiked (constructed spike values)")
    axes.hist(despiked, bins=bins, log=True, histtype="step", label="despiked (level 1)")
    axes.set_xlabel(f"intensity at the spike positions [{m_171.unit.to_string()}]")
    axes.set_ylabel("number of pixels")
    axes.set_title(f"AIA 171 Å {m_171.date.iso[:19]}: {values.size} constructed spikes\n"
                   "(bundled spikes file in the JSOC layout; image upsampled from 128 px)")  # fmt: skip
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
    axes.set_title(f"estimate_error of the level-1.5 AIA {m_15.wavelength.to_value(u.AA):.0f} Å image, "
                   f"{m_15.date.iso[:19]}\n(the real 128 px image upsampled to 4096 × 4096 px)")  # fmt: skip
    axes.set_xlabel("uncertainty [DN / pixel]")
    axes.set_ylabel("number of pixels")
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
    _timed("PSF and deconvolution", psf_figures, out_dir, say)
    say("\n2. Respiking")
    respike_section(m_171, out_dir, say)
    say("\n3. Level 1 -> 1.5: update_pointing and register")
    say("  (offline: the pointing table is built from the header's own values, so update_pointing changes nothing;")
    say("   `aiapy prep --pointing jsoc` uses the JSOC master pointing table)")
    report, table = pipeline_section(m_171, out_dir, say)
    m_15 = pointing_section(m_171, table, out_dir, say)
    say("\n4. Degradation and responses")
    degradation_section(out_dir, say)
    _timed("responses", response_figures, out_dir, say)
    say("\n5. Uncertainties and exposure normalisation")
    uncertainty_section(m_15, out_dir, say)
    say(f"\nDone in {time.perf_counter() - start:.0f} s; outputs in {out_dir}")
    say.write(out_dir / "summary.txt")
    if not report.ok:
        raise RuntimeError(f"the demo is incomplete (a pipeline file failed): see {out_dir / 'summary.txt'}")
    return sorted(p for p in out_dir.rglob("*") if p.is_file())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The aiapy walkthrough on bundled data.")
    parser.add_argument("--out", default="demo_output", help="output folder (default: %(default)s)")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    main(parser.parse_args().out)
