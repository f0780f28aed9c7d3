"""
Level 1.5 of a cutout
=====================

Registration resamples a level-1 image onto the level-1.5 grid: 0.6″ pixels, solar north up, the Sun's
centre at the centre of the full 4096 x 4096 frame. :func:`aiapy.calibrate.register` also accepts
cutouts: a cutout is resampled onto the part of that full-frame grid its footprint covers. This example
registers a real 171 Å cutout with SolarSoft's kernel and with the B-spline, and compares them.
"""

import astropy.units as u
import matplotlib.pyplot as plt
import numpy as np

from aiapy.calibrate import correct_degradation, normalize_exposure, register
from aiapy.data import sample

cutout = sample.load_map("aia_171_cutout")
print("level-1 scale:", cutout.scale)
print("level-1 rotation matrix:\n", cutout.rotation_matrix)

# %%
# ``method="cubic-convolution"`` is the kernel of SolarSoft's ``aia_prep`` (IDL ``ROT`` with
# ``CUBIC=-0.5``); ``method="spline"`` (the default) is the cubic B-spline of earlier aiapy versions.
ssw = register(cutout, method="cubic-convolution")
spline = register(cutout)
print("level-1.5 scale:", ssw.scale)
print("level-1.5 rotation matrix:\n", ssw.rotation_matrix)
print("CRPIX of the full-frame grid in this cutout:", ssw.reference_pixel)

# %%
# Then the degradation correction and exposure normalisation, which complete the standard prep.
lev15 = normalize_exposure(correct_degradation(ssw))
print(lev15.processing_level, lev15.unit, lev15.meta["history"])

# %%
# The two kernels differ by a small fraction of the image maximum, most at sharp edges.
fig = plt.figure(figsize=(12, 4.5))
ax = fig.add_subplot(1, 3, 1, projection=cutout)
cutout.plot(axes=ax, title="level 1", clip_interval=(1, 99.9) * u.percent)
ax = fig.add_subplot(1, 3, 2, projection=lev15)
lev15.plot(axes=ax, title="level 1.5 (cubic convolution), DN/s", clip_interval=(1, 99.9) * u.percent)
ax.coords[1].set_axislabel(" ")
ax = fig.add_subplot(1, 3, 3)
difference = (spline.data - ssw.data) / np.nanmax(ssw.data)
limit = np.nanpercentile(np.abs(difference), 99.9)
print(f"largest difference {np.nanmax(np.abs(difference)):.2e} of the maximum, 99.9th percentile {limit:.2e}")
image = ax.imshow(difference, origin="lower", cmap="RdBu_r", vmin=-limit, vmax=limit)
fig.colorbar(image, ax=ax, label="(spline - cubic) / max")
ax.set_title("kernel difference")
fig.tight_layout()

plt.show()
