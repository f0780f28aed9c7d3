"""
Desaturating a flare from its diffraction fringes
=================================================

In a flare the brightest pixels of an AIA image fill their CCD well: they read the full-well value, and the
charge that keeps arriving spills along the CCD column (the *bloom*, the vertical streaks of flare images).
The light of the saturated core is not all lost, though. The entrance filter of each telescope is held by a
wire mesh that diffracts about a fifth of the light into four arms of spikes, faint copies of the source
at multiples of about 16 pixels (171 Å) from it. Far from the core those copies fall on unsaturated pixels:
they are a measurement of the saturated core. :func:`aiapy.psf.desaturate` fits them (expectation
maximisation with the source confined to the saturated pixels, as DESAT, Schwartz et al. 2015), and
uses the charge that blooming conserves along each column.

Here it is run on a synthetic flare, whose truth is known, and shown refusing the real 2011-02-15 cutouts,
which are too small to hold the fringes.
"""

import importlib.util
from pathlib import Path

import astropy.units as u
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

import aiapy
from aiapy.calibrate import saturation_mask
from aiapy.data import sample
from aiapy.psf import calculate_psf, desaturate

# The synthetic flares of the test suite's validation module (tests/psf/synthetic_flares.py of the
# checkout this example runs in).
_spec = importlib.util.spec_from_file_location(
    "synthetic_flares", Path(aiapy.__file__).resolve().parents[2] / "tests" / "psf" / "synthetic_flares.py"
)
synthetic_flares = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(synthetic_flares)
FLARES, make_flare = synthetic_flares.FLARES, synthetic_flares.make_flare
# sphinx_gallery_thumbnail_number = 2

# %%
# The PSF split into its undiffracted core and its diffraction (``component=``). Only the diffraction
# reaches beyond a few pixels: the four arms of the entrance-filter mesh, at about ±40° and ±50°.
core = calculate_psf(171 * u.AA, shape=(201, 201), component="core")
diffraction = calculate_psf(171 * u.AA, shape=(201, 201), component="diffraction")
print(f"core {core.sum():.3f} + diffraction {diffraction.sum():.3f} of the light in this 201 x 201 window")
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
for ax, part, title in ((axes[0], core, "core"), (axes[1], diffraction, "diffraction")):
    norm = LogNorm(vmin=1e-8, vmax=0.5)
    # Values below 1e-8 (zero between the arms) are drawn at the bottom of the scale.
    image = ax.imshow(np.clip(part, 1e-8, None), origin="lower", cmap="magma", norm=norm,
                      extent=[-100, 100, -100, 100])
    ax.set(xlabel="x offset [pix]", ylabel="y offset [pix]", title=f"AIA 171 Å PSF: {title}")
    fig.colorbar(image, ax=ax, label="fraction of the light per pixel", extend="min")
fig.tight_layout()

# %%
# A synthetic flare 20 times the full well on a 512 x 512 cutout: a known scene convolved with the PSF on a
# larger field, photon and read noise, integer DN, charge above the 16383 DN well spilled along its column,
# in the header of a real level-1 171 Å frame. The flagged pixels come from
# :func:`aiapy.calibrate.saturation_mask`.
flare = make_flare(*FLARES[4])
flagged = saturation_mask(flare.smap)
result = desaturate(flare.smap)
true, found = flare.truth[flagged].sum(dtype=float), result.data[flagged].sum(dtype=float)
print(f"{flagged.sum()} saturated/bloomed pixels; flux there {found / true - 1:+.2%} of the truth; "
      f"pixel-wise L1 error {np.abs(result.data - flare.truth)[flagged].sum() / true:.3f} of it "
      f"(left saturated: {np.abs(flare.smap.data - flare.truth)[flagged].sum() / true:.3f})")
for key in ("DESATFLX", "DESATNCO", "DESATNBL", "DESATNSP", "DESATNFR", "DESATCST"):
    print(f"{key} = {result.meta[key.lower()]}  / {result.meta['keycomments'][key]}")

# %%
# The observed frame, the desaturated one and the truth, around the flare. The fringes are the crossed
# arms of copies; the bloom is the vertical streak.
rows, cols = np.nonzero(flagged)
middle = int(np.median(rows)), int(np.median(cols))
box = np.s_[middle[0] - 100 : middle[0] + 100, middle[1] - 100 : middle[1] + 100]
norm = LogNorm(vmin=100, vmax=flare.truth.max())
fig, axes = plt.subplots(1, 3, figsize=(14, 4.8))
fig.suptitle("Synthetic flare (AIA 171 Å PSF and noise, 20 times the full well), one colour scale")
for ax, image, title in (
    (axes[0], flare.smap.data, "observed (saturated, bloomed)"),
    (axes[1], result.data, "desaturated"),
    (axes[2], flare.truth, "truth"),
):
    shown = ax.imshow(np.clip(image[box], 1, None), origin="lower", cmap="sdoaia171", norm=norm)
    ax.set(title=title, xlabel="column [pix]", ylabel="row [pix]")
    fig.colorbar(shown, ax=ax, label="intensity [DN]")
fig.tight_layout()

# %%
# A profile along the CCD column through the flare's peak: the bloom's plateau, and the peak rebuilt.
row, col = np.unravel_index(np.argmax(flare.truth), flare.truth.shape)
span = np.arange(row - 40, row + 41)
fig, ax = plt.subplots(figsize=(7, 4))
ax.semilogy(span, flare.truth[span, col], "k-", label="truth")
ax.semilogy(span, flare.smap.data[span, col], "C0--", label="observed")
ax.semilogy(span, result.data[span, col], "C1:", lw=2, label="desaturated")
ax.set(xlabel="row [pix]", ylabel="intensity [DN]", title=f"Synthetic flare (AIA 171 Å), column {col}")
ax.legend()

# %%
# The real 2011-02-15 flare frames are 67 x 67 cutouts: their saturated region fills most of them and the
# fringes lie outside, so :func:`~aiapy.psf.desaturate` refuses them and says what it would need.
real = sample.load_map("flare_2011-02-15T01-54-24_171")
real_mask = saturation_mask(real)
try:
    desaturate(real)
except ValueError as error:
    print(error)
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
shown = axes[0].imshow(np.clip(real.data, 1, None), origin="lower", cmap="sdoaia171", norm=LogNorm())
fig.colorbar(shown, ax=axes[0], label="intensity [DN]")
axes[0].set(title=f"AIA 171 Å {real.date.strftime('%Y-%m-%d %H:%M:%S')} UTC (level 1)",
            xlabel="column [pix]", ylabel="row [pix]")
axes[1].imshow(real_mask, origin="lower", cmap="gray")
axes[1].set(title=f"white: saturated or bloomed ({int(real_mask.sum())} px)",
            xlabel="column [pix]", ylabel="row [pix]")
fig.tight_layout()

plt.show()
