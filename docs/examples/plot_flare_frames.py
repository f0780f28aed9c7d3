"""
Flare frames: saturation, bloom and registration
================================================

In the core of a flare the AIA CCD saturates: a pixel's well (or its 14-bit converter) is full, so its
value is a lower limit, and the charge that keeps arriving spills along its CCD column (the *bloom*,
Schwartz et al. 2014). After dark subtraction and flat-fielding, saturated level-1 pixels read about
14 000-16 383 DN, not exactly 16383. :func:`aiapy.calibrate.saturation_mask` finds them;
:func:`aiapy.calibrate.register` keeps them flagged on the level-1.5 grid (the map's ``mask``) and does not
ring next to them. This example takes a real 131 Å frame of the 2011-02-15 X2.2 flare.
"""

import astropy.units as u
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

from aiapy.calibrate import register, saturation_mask
from aiapy.data import sample
from aiapy.utils import PixelFlag, is_short_exposure

level1 = sample.load_map("flare_2011-02-15T01-50-11_131")
title = f"AIA {level1.wavelength.to_value(u.AA):.0f} Å {level1.date.strftime('%Y-%m-%d %H:%M:%S')} UTC"
print(title, f"EXPTIME {level1.exposure_time:.3f}, NSATPIX {level1.meta['nsatpix']} in the full frame")
print("shortened by the automatic exposure control:", is_short_exposure(level1))

# %%
# The mask: primary saturation (at or above the channel's level-1 threshold) and, with ``bloom=True``
# (the default), the pixels joined to a saturated one along its CCD column that still hold at least
# 80 % of that level.
primary = saturation_mask(level1, bloom=False)
with_bloom = saturation_mask(level1)
print(f"{primary.sum()} saturated pixels, {with_bloom.sum() - primary.sum()} more bloomed")

# %%
# Registration with the B-spline (the default kernel). Without the guard (the numbers of aiapy 0.12,
# sunpy and earlier versions) the spline's undershoot at the edge of the saturated core is clipped to the
# image minimum: a chain of near-black pixels lines the core. With it (the default), each output pixel
# whose 4 x 4 taps touch a flagged pixel is clamped to the range of those taps: no new extreme, and the
# kernel's own value wherever it is in range (at the dips the darkest tap, still below what bilinear
# interpolation gives, which blurs more: see the Notes of :func:`~aiapy.calibrate.register`).
old = register(level1, guard_saturation=False)
new = register(level1)
flags = new.mask
print("flags on the output grid:", {flag.name: int(((flags & flag) != 0).sum()) for flag in PixelFlag})
changed = new.data != old.data
print(f"{changed.sum()} output pixels changed, all next to flagged pixels; lowest value next to the core: "
      f"{old.data[changed].min():.0f} DN before, {new.data[changed].min():.0f} DN after")

# %%
# The three images on one (logarithmic) colour scale, the mask outlined in red. The near-black pixels
# along the lower edge of the core in the middle panel are the spline's ringing.
norm = LogNorm(vmin=50, vmax=16383)
fig = plt.figure(figsize=(13, 5))
fig.suptitle(f"{title}, cutout of the flare core (mask outlined in red)")
panels = [
    (level1, with_bloom, "level 1"),
    (old, (old.mask if old.mask is not None else flags) != 0, "level 1.5, guard_saturation=False"),
    (new, flags != 0, "level 1.5, default (guarded)"),
]
for index, (smap, mask, label) in enumerate(panels, start=1):
    ax = fig.add_subplot(1, 3, index, projection=smap)
    image = smap.plot(axes=ax, norm=norm, title=label)
    ax.contour(mask.astype(float), levels=[0.5], colors="red", linewidths=0.7)
    if index > 1:
        ax.coords[1].set_axislabel(" ")
fig.colorbar(image, ax=fig.axes, shrink=0.85,
             label=f"AIA {level1.wavelength.to_value(u.AA):.0f} Å intensity [DN]")

# %%
# A cut along the output row with the most changed pixels shows the ringing and the guard.
row = int(np.argmax(changed.sum(axis=1)))
fig, ax = plt.subplots(figsize=(8, 3.8))
ax.plot(old.data[row], label="guard_saturation=False", color="tab:red")
ax.plot(new.data[row], label="default (guarded)", color="black")
ax.plot(register(level1, method="linear").data[row], label="linear", color="tab:blue", linestyle=":")
ax.set(xlabel="output column [pixel]", ylabel="intensity [DN]", yscale="log", ylim=(30, 20000),
       title=f"{title}, row {row} of the level-1.5 cutout")
ax.legend(frameon=False)

plt.show()
