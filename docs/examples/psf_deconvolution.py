"""PSF and deconvolution
=======================

Example: the 171 Å PSF and Richardson-Lucy deconvolution (no network, bundled data).

Run ``python docs/examples/psf_deconvolution.py --out DIR``; writes ``psf_171.png`` (log stretch) and
``deconvolution_171.png``: the real native-resolution 171 Å cutout (0.6"/pix) before and after
deconvolution on one colour scale, the ratio of the two, and a zoom on its brightest compact feature with
an intensity profile.
"""

import argparse
from pathlib import Path

import astropy.units as u
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm, PowerNorm  # noqa: E402

from aiapy.data import sample  # noqa: E402
from aiapy.psf import calculate_psf, deconvolve  # noqa: E402

ITERATIONS = 25  # deconvolve's default, as SolarSoft's aia_deconvolve_richardsonlucy in the aiapy blog post


def plot_psf(out):
    psf = calculate_psf(171 * u.AA)
    core = psf[2048 - 200 : 2048 + 200, 2048 - 200 : 2048 + 200]
    fig, ax = plt.subplots(figsize=(6, 5))
    # Pixels below the lowest colour (including exact zeros far from the arms) take the lowest colour.
    cmap = plt.get_cmap("magma").with_extremes(under="black", bad="black")
    image = ax.imshow(core, norm=LogNorm(vmin=1e-9, vmax=core.max()), origin="lower", cmap=cmap,
                      extent=[-200, 200, -200, 200])  # fmt: skip
    ax.set(xlabel="x offset [pix]", ylabel="y offset [pix]", title="AIA 171 Å PSF (central 400 px, log)")
    fig.colorbar(image, ax=ax, label="fraction of the light per pixel", extend="min")
    fig.savefig(out / "psf_171.png", dpi=120)
    plt.close(fig)


def _pair(fig, axes, before, after, norm, titles, unit):
    """Two images on one colour scale with one colour bar."""
    for ax, image, title in zip(axes, (before, after), titles, strict=True):
        shown = ax.imshow(image, origin="lower", cmap="sdoaia171", norm=norm)
        ax.set(title=title, xlabel="x [pix]")
    axes[0].set_ylabel("y [pix]")
    fig.colorbar(shown, ax=list(axes), label=f"intensity [{unit}] (square-root scale)", shrink=0.9, extend="max")


def plot_deconvolution(out):
    cutout = sample.load_map("aia_171_cutout")
    sharp = deconvolve(cutout, iterations=ITERATIONS)
    before, after = cutout.data.astype(float), sharp.data.astype(float)
    unit = cutout.unit.to_string()
    date = cutout.date.isot[:19]
    fig, axes = plt.subplots(2, 3, figsize=(16, 9.5), layout="constrained")
    fig.suptitle(
        f"AIA 171 Å, real level-1 cutout at native resolution (0.6\"/pix), {date}: Richardson-Lucy "
        f"deconvolution with the 171 Å PSF, {ITERATIONS} iterations"
    )
    norm = PowerNorm(0.5, vmin=0, vmax=float(np.percentile(after, 99.8)))
    _pair(fig, axes[0, :2], before, after, norm, ("level 1", "deconvolved"), unit)
    # The ratio shows where deconvolution put back the light that the PSF scatters: bright structure gains,
    # faint surroundings lose.
    ratio = axes[0, 2].imshow(after / before, origin="lower", cmap="RdBu_r", norm=LogNorm(vmin=0.5, vmax=2))
    axes[0, 2].set(title="deconvolved / level 1", xlabel="x [pix]")
    bar = fig.colorbar(ratio, ax=axes[0, 2], label="ratio (log scale)", shrink=0.9, extend="both")
    bar.set_ticks([0.5, 0.7, 1, 1.4, 2], labels=["0.5", "0.7", "1", "1.4", "2"])
    bar.ax.minorticks_off()

    # Bottom: the brightest compact feature, 120 x 120 pixels, with a profile through its peak.
    peak_row = int(np.argmax(before.max(axis=1)))
    peak_col = int(np.argmax(before[peak_row]))
    rows = slice(max(peak_row - 60, 0), peak_row + 60)
    cols = slice(max(peak_col - 60, 0), peak_col + 60)
    zoom_before, zoom_after = before[rows, cols], after[rows, cols]
    zoom_norm = PowerNorm(0.5, vmin=0, vmax=float(np.percentile(zoom_after, 99.5)))
    _pair(fig, axes[1, :2], zoom_before, zoom_after, zoom_norm, ("zoom: level 1", "zoom: deconvolved"), unit)
    row = peak_row - rows.start
    for ax in axes[0, :2]:
        ax.add_patch(plt.Rectangle((cols.start, rows.start), cols.stop - cols.start, rows.stop - rows.start,
                                   fill=False, color="w", lw=0.8))  # fmt: skip
    for ax in axes[1, :2]:
        ax.axhline(row, color="w", lw=0.8, ls="--")
    x = np.arange(zoom_before.shape[1])
    axes[1, 2].plot(x, zoom_before[row], label="level 1")
    axes[1, 2].plot(x, zoom_after[row], label="deconvolved")
    axes[1, 2].set(xlabel="pixel along the dashed line", ylabel=f"intensity [{unit}]", title="profile through the peak")
    axes[1, 2].legend()
    fig.savefig(out / "deconvolution_171.png", dpi=100)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."))
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    plot_psf(out)
    plot_deconvolution(out)


if __name__ == "__main__":
    main()
