"""PSF and deconvolution
=======================

Example: the 171 A PSF and Richardson-Lucy deconvolution (no network, bundled data).

Run ``python docs/examples/psf_deconvolution.py --out DIR``; writes ``psf_171.png`` (log stretch) and
``deconvolution_171.png``: before/after and an intensity profile for the blog post's off-limb region of the
full frame, and for the brightest compact feature of the real native-resolution cutout.
"""

import argparse
from pathlib import Path

import astropy.units as u
import matplotlib
from astropy.coordinates import SkyCoord

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

from aiapy.data import sample  # noqa: E402
from aiapy.psf import calculate_psf, deconvolve  # noqa: E402


def plot_psf(out):
    psf = calculate_psf(171 * u.AA)
    core = psf[2048 - 200 : 2048 + 200, 2048 - 200 : 2048 + 200]
    fig, ax = plt.subplots(figsize=(6, 5))
    image = ax.imshow(core, norm=LogNorm(vmin=1e-9, vmax=core.max()), origin="lower", cmap="magma",
                      extent=[-200, 200, -200, 200])
    ax.set(xlabel="x offset [pix]", ylabel="y offset [pix]", title="AIA 171 A PSF (central 400 px, log)")
    fig.colorbar(image, ax=ax, label="fraction of the light per pixel")
    fig.savefig(out / "psf_171.png", dpi=120)
    plt.close(fig)


def _before_after(axes, before, after, row, cols, title):
    """Before/after images of one region with the profile along ``row`` over ``cols``."""
    vmax = np.nanpercentile(after, 99.5)
    for ax, image, label in ((axes[0], before, "level 1"), (axes[1], after, "deconvolved, 25 iterations")):
        ax.imshow(image, origin="lower", cmap="sdoaia171", vmin=0, vmax=vmax)
        ax.plot([cols.start, cols.stop - 1], [row, row], color="w", lw=0.8, ls="--")
        ax.set_title(f"{title}: {label}", fontsize=9)
    axes[2].plot(np.arange(cols.start, cols.stop), before[row, cols], label="level 1")
    axes[2].plot(np.arange(cols.start, cols.stop), after[row, cols], label="deconvolved")
    axes[2].set(xlabel="pixel along the dashed line", ylabel="DN", title="intensity profile")
    axes[2].legend()


def plot_deconvolution(out):
    fig, axes = plt.subplots(2, 3, figsize=(14, 9))
    # Top: the blog post's off-limb region (400" x 400" from (750", -375")) of the full frame, which is the
    # real 2011-02-15 full-disk image upsampled to 4096 x 4096 (so its structure is coarser than AIA's).
    full = sample.full_frame_171(dtype=np.float32)
    sharp = deconvolve(full, psf=calculate_psf(171 * u.AA))
    corner = SkyCoord(750 * u.arcsec, -375 * u.arcsec, frame=full.coordinate_frame)
    regions = [m.submap(corner, width=400 * u.arcsec, height=400 * u.arcsec) for m in (full, sharp)]
    ny, nx = regions[0].data.shape
    row, cols = round(0.59 * ny), slice(round(0.55 * nx), round(0.7 * nx))
    _before_after(axes[0], regions[0].data, regions[1].data, row, cols, "off-limb, full frame")
    # Bottom: the brightest compact feature of the real native-resolution cutout (on the disk: no bundled
    # native-resolution image reaches beyond the limb).
    cutout = sample.load_map("aia_171_cutout")
    data, sharp = cutout.data.astype(float), deconvolve(cutout).data
    peak_row = int(np.argmax(data.max(axis=1)))
    peak_col = int(np.argmax(data[peak_row]))
    rows = slice(max(peak_row - 60, 0), peak_row + 60)
    box = slice(max(peak_col - 60, 0), peak_col + 60)
    before, after = data[rows, box], sharp[rows, box]
    _before_after(axes[1], before, after, peak_row - rows.start, slice(0, before.shape[1]), "real cutout")
    fig.tight_layout()
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
