"""
Level 1.5 of a cutout
=====================

Registration resamples a level-1 image onto the level-1.5 grid: 0.6″ pixels, solar north up, the Sun's
centre at the centre of the full 4096 × 4096 frame. :func:`aiapy.calibrate.register` also accepts
cutouts: a cutout is resampled onto the part of that full-frame grid its footprint covers. This example
registers a real 171 Å cutout with SolarSoft's kernel and with the B-spline, and compares them; the
pointing update is not run (there is no master pointing table for this date offline), so the header's
pointing is used, as SolarSoft's ``aia_prep, /use_hdr_pnt``.
"""

import astropy.units as u
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import SymLogNorm

from aiapy.calibrate import correct_degradation, normalize_exposure, register
from aiapy.data import sample


def wcs_keywords(smap):
    """The WCS keywords of a header, as FITS has them (the reference pixel counts from 1)."""
    meta = smap.meta
    return (f"CRPIX = ({meta['crpix1']:.2f}, {meta['crpix2']:.2f})  CDELT = ({meta['cdelt1']:.5f}, "
            f"{meta['cdelt2']:.5f}) arcsec  CROTA2 = {meta.get('crota2', 0.0):.4f} deg")


# %%
# A real level-1 171 Å cutout of 2013-03-10, 769 × 705 pixels at the detector's resolution. Its header
# places the cutout in the full frame: the reference pixel is the Sun's centre, far outside the cutout.
cutout = sample.load_map("aia_171_cutout")
print("level 1:  ", wcs_keywords(cutout))

# %%
# ``method="cubic-convolution"`` is the kernel of SolarSoft's ``aia_prep`` (IDL ``ROT`` with
# ``CUBIC=-0.5``); ``method="spline"`` (the default) is the cubic B-spline of earlier aiapy versions and
# sunpy. After registration the scale is exactly 0.6″ and the roll zero.
ssw = register(cutout, method="cubic-convolution")
spline = register(cutout)
print("level 1.5:", wcs_keywords(ssw))

# %%
# The degradation correction and the exposure normalisation, which ``aiapy prep`` applies after
# registration by default (they are not part of level 1.5 in SolarSoft's sense), turn DN into DN/s.
lev15 = normalize_exposure(correct_degradation(ssw))
print(f"level {lev15.processing_level}, unit {lev15.unit}, exposure {cutout.exposure_time:.3f} -> "
      f"{lev15.exposure_time:.1f}")
for line in [line for line in lev15.meta["history"].splitlines() if line.startswith("aiapy")]:
    print("HISTORY", line[:110] + ("..." if len(line) > 110 else ""))

# %%
# Level 1 in DN and level 1.5 in DN/s, each with its own colour bar (the units differ; the two bars span
# the same 1-99.9 percentiles of each image).
fig = plt.figure(figsize=(12, 5), layout="constrained")
for index, (smap, label) in enumerate(((cutout, "level 1"), (lev15, "level 1.5, degradation, exposure"))):
    ax = fig.add_subplot(1, 2, index + 1, projection=smap)
    image = smap.plot(axes=ax, clip_interval=(1, 99.9) * u.percent,
                      title=f"AIA 171 Å {smap.date.iso[:19]} UTC\n{label}")
    fig.colorbar(image, ax=ax, label=f"intensity [{smap.unit.to_string()}]", shrink=0.8)
    if index:
        ax.coords[1].set_axislabel(" ")
plt.show()

# %%
# The two kernels differ by a small fraction of the image maximum, most at sharp edges and bright
# points. The colour scale is logarithmic beyond 1e-4 so that the largest differences (up to a few
# per cent of the maximum) are not cut off.
difference = (spline.data - ssw.data) / np.nanmax(ssw.data)
largest = np.nanmax(np.abs(difference))
print(f"largest difference {largest:.2e} of the maximum, "
      f"99.9th percentile {np.nanpercentile(np.abs(difference), 99.9):.2e}")
fig, ax = plt.subplots(figsize=(7, 5.6), layout="constrained")
image = ax.imshow(difference, origin="lower", cmap="RdBu_r",
                  norm=SymLogNorm(linthresh=1e-4, vmin=-largest, vmax=largest))
fig.colorbar(image, ax=ax, label="(spline - cubic convolution) / maximum of the image")
ax.set(title=f"AIA 171 Å {ssw.date.iso[:19]}: register's two cubic kernels", xlabel="x [pixel]",
       ylabel="y [pixel]")
plt.show()
