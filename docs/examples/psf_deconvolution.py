"""Example: the 171 A PSF and the deconvolution of a bright off-limb region (no network, bundled data).

Run ``python docs/examples/psf_deconvolution.py --out DIR``; writes ``psf_171.png`` (log stretch) and
``deconvolution_171.png`` (before/after and an intensity profile across the region).
"""

import argparse
from pathlib import Path

import astropy.units as u
import matplotlib

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


def plot_deconvolution(out):
    smap = sample.load_map("aia_171_cutout")
    result = deconvolve(smap)
    data, sharp = smap.data.astype(float), result.data
    # The brightest off-limb structure: the brightest row near the top edge of the cutout, around its peak.
    row = int(np.argmax(data.max(axis=1)))
    col = int(np.argmax(data[row]))
    rows = slice(max(row - 60, 0), row + 60)
    cols = slice(max(col - 60, 0), col + 60)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.5))
    vmax = np.percentile(sharp[rows, cols], 99.5)
    for ax, image, title in ((axes[0], data, "level 1"), (axes[1], sharp, "deconvolved, 25 iterations")):
        ax.imshow(image[rows, cols], origin="lower", cmap="sdoaia171", vmin=0, vmax=vmax)
        ax.axhline(row - rows.start, color="w", lw=0.8, ls="--")
        ax.set_title(title)
    axes[2].plot(data[row, cols], label="level 1")
    axes[2].plot(sharp[row, cols], label="deconvolved")
    axes[2].set(xlabel="pixel along the dashed line", ylabel="DN", title="intensity profile")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(out / "deconvolution_171.png", dpi=110)
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
