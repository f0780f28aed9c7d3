"""
Respiking a level-1 image
=========================

The level-1 pipeline finds pixels much brighter than their neighbours, most of them hits of energetic
particles on the CCD, and replaces each by an estimate from its neighbours ("despiking"). Some of those
pixels are real: compact brightenings in flares and bright points. The removed values are kept at the
JSOC as the ``spikes`` segment of every level-1 record; :func:`aiapy.calibrate.respike` puts them back
(the SolarSoft counterpart is ``aia_respike``) and :func:`aiapy.calibrate.fetch_spikes` returns their
positions and values.

Offline, the spikes file is given explicitly. aiapy bundles one for its full-disk 171 Å image; it is
**constructed** (3000 pixels among the brightest tenth of the image, each raised by 20-400 DN) in the
JSOC's file layout, because no real spikes file comes with that image. With a real image from the JSOC,
leave ``spikes`` out and aiapy fetches the file of that image.
"""

import astropy.units as u
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import Normalize

from aiapy.calibrate import fetch_spikes, respike
from aiapy.data import get_file, sample

# %%
# The bundled full-disk 171 Å level-1 image of 2011-02-15 (the real 128 × 128 pixel image upsampled 32
# times to the detector's 4096 × 4096 pixels) and the constructed spikes file made for it.
m_171 = sample.full_frame_171()
spikes_file = get_file("spikes_171_full_frame_constructed")

# %%
# ``fetch_spikes`` gives the positions (in pixels of the map) and the original values of the spikes;
# ``respike`` writes those values back into a copy of the map. The result is level 0.5 and its header
# records the step, so that it is not applied twice.
positions, values = fetch_spikes(m_171, spikes_file=spikes_file)
m_respiked = respike(m_171, spikes=spikes_file)

x = np.round(positions.x.to_value(u.pix)).astype(int)
y = np.round(positions.y.to_value(u.pix)).astype(int)
despiked = m_171.data[y, x]
print(f"{values.size} spikes; level {m_171.meta['lvl_num']} -> {m_respiked.meta['lvl_num']}")
print(f"median at the spikes: despiked {np.median(despiked):.0f} DN, respiked {np.median(values):.0f} DN")
print("pixels changed:", np.count_nonzero(m_respiked.data != m_171.data))

# %%
# The values at the spike positions, before (despiked, as the level-1 image has them) and after
# respiking. The constructed spikes are 20-400 DN above the image, so the respiked histogram is shifted
# to the right.
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
bins = np.histogram_bin_edges(np.concatenate([values, despiked]), bins=60)
ax.hist(despiked, bins=bins, histtype="step", lw=1.5, label="despiked (level 1)")
ax.hist(values, bins=bins, histtype="step", lw=1.5, label="respiked (constructed spike values)")
ax.set_xlabel(f"intensity at the spike positions [{m_171.unit.to_string()}]")
ax.set_ylabel("number of pixels")
ax.set_title(f"AIA 171 Å {m_171.date.iso[:19]}: {values.size} constructed spikes")
ax.legend(frameon=False)
plt.show()

# %%
# The 100 × 100 pixel region with the most spikes, before and after on one colour scale, and their
# difference. The image is upsampled (bilinear), so its structure is smooth on this scale; the
# respiked pixels stand out as single bright points.
size = 100
counts, xedges, yedges = np.histogram2d(x, y, bins=4096 // size, range=((0, 4096), (0, 4096)))
i, j = np.unravel_index(np.argmax(counts), counts.shape)
x0, y0 = int(xedges[i]), int(yedges[j])
region = np.s_[y0 : y0 + size, x0 : x0 + size]
extent = [x0 - 0.5, x0 + size - 0.5, y0 - 0.5, y0 + size - 0.5]
norm = Normalize(vmin=0, vmax=np.percentile(m_respiked.data[region], 99.9))

fig, axes = plt.subplots(1, 3, figsize=(14, 4.6), layout="constrained", sharey=True)
for ax, smap, title in ((axes[0], m_171, "level 1 (despiked)"), (axes[1], m_respiked, "respiked (level 0.5)")):
    image = ax.imshow(smap.data[region], origin="lower", cmap="sdoaia171", norm=norm, extent=extent)
    ax.set(title=title, xlabel="x [pixel]")
fig.colorbar(image, ax=axes[:2], label=f"intensity [{m_171.unit.to_string()}] (one scale)", shrink=0.9)
difference = m_respiked.data[region].astype(float) - m_171.data[region]
image = axes[2].imshow(difference, origin="lower", cmap="Greys", vmin=0, extent=extent)
axes[2].set(title="respiked - level 1", xlabel="x [pixel]")
fig.colorbar(image, ax=axes[2], label=f"difference [{m_171.unit.to_string()}]", shrink=0.9)
axes[0].set_ylabel("y [pixel]")
fig.suptitle(f"AIA 171 Å {m_171.date.iso[:19]}: image upsampled from 128 px, constructed spikes")
plt.show()
