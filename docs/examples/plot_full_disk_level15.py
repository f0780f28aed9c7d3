"""
A full-disk image to level 1.5, offline
=======================================

*Level 1.5* is the product of SolarSoft's ``aia_prep``: the pointing keywords replaced by those of the
AIA team's master pointing table (:func:`aiapy.calibrate.update_pointing`), then the image resampled onto
the common grid of 0.6″ pixels, solar north up, the Sun's centre at the centre of the 4096 × 4096 frame
(:func:`aiapy.calibrate.register`). Only level-1.5 images of different channels or times can be compared
pixel by pixel.

The master pointing table (JSOC series ``aia.master_pointing3h``) is remote. To work offline, or to make
a run reproducible, save the rows you need once and pass the saved file afterwards.
"""

import shutil
import tempfile
from pathlib import Path

import astropy.units as u
import matplotlib.pyplot as plt
from astropy.visualization import ImageNormalize, SqrtStretch

from aiapy.calibrate import register, update_pointing
from aiapy.calibrate.utils import get_pointing_table
from aiapy.data import sample
from aiapy.pipeline import write_header_pointing_table

# %%
# The bundled full-disk 171 Å level-1 image of 2011-02-15: the real 128 × 128 pixel image, upsampled 32
# times to the detector's 4096 × 4096 pixels so that full-frame code runs on real solar structure (its
# detail is that of a 128 pixel image).
m_171 = sample.full_frame_171()

# %%
# Saving a pointing table. With the network, fetch the rows of the day from the JSOC and write them to
# a file::
#
#     table = get_pointing_table("jsoc", time_range=(m_171.date - 3 * u.h, m_171.date + 3 * u.h))
#     table.write("pointing_2011-02-15.csv", format="csv")
#
# This page is built without a network, so the saved file here is written from the image's own header
# values (:func:`aiapy.pipeline.write_header_pointing_table`, in the same layout): the pointing update
# then leaves the values unchanged, but the code is the same as with the JSOC's rows.
folder = Path(tempfile.mkdtemp())
saved = write_header_pointing_table([m_171], folder / "pointing_2011-02-15.csv")

# %%
# Later, offline: read the saved table, update the pointing and register.
table = get_pointing_table(saved)
m_updated = update_pointing(m_171, pointing_table=table)
m_lev15 = register(m_updated)


# %%
# The WCS keywords of the header (FITS conventions: the reference pixel counts from 1) at each stage.
# Registration rotates the image by ``CROTA2``, rescales it to exactly 0.6″ per pixel and moves the
# Sun's centre to pixel 2048.5.
def keywords(smap):
    meta = smap.meta
    return (f"CRPIX ({meta['crpix1']:.2f}, {meta['crpix2']:.2f})  CDELT ({meta['cdelt1']:.5f}, "
            f"{meta['cdelt2']:.5f})″  CROTA2 {meta.get('crota2', 0.0):.4f}°  LVL_NUM {meta['lvl_num']}")


for label, smap in (("level 1", m_171), ("update_pointing", m_updated), ("register", m_lev15)):
    print(f"{label:<15}", keywords(smap))

# %%
# The two images on one colour scale (square-root stretch), with the solar limb and a heliographic grid
# drawn from each image's own WCS. The difference between them is the small roll and plate-scale change
# and the shift of the Sun's centre; the data stay in DN.
norm = ImageNormalize(vmin=0, vmax=m_lev15.data.max(), stretch=SqrtStretch())
fig = plt.figure(figsize=(12, 5.6), layout="constrained")
for index, (smap, level) in enumerate(((m_171, "level 1"), (m_lev15, "level 1.5"))):
    ax = fig.add_subplot(1, 2, index + 1, projection=smap)
    image = smap.plot(axes=ax, norm=norm, title=f"AIA 171 Å {smap.date.iso[:19]} UTC, {level}")
    smap.draw_limb(axes=ax, color="w", lw=0.6)
    smap.draw_grid(axes=ax, color="w", lw=0.3, grid_spacing=15 * u.deg)
    if index:
        ax.coords[1].set_axislabel(" ")
fig.colorbar(image, ax=fig.axes, label=f"intensity [{m_lev15.unit.to_string()}]", shrink=0.85)
fig.suptitle("Upsampled from the real 128 px image; pointing table saved from the header")
plt.show()

# %%
# The saved table was written into a temporary folder for this page; remove it.
shutil.rmtree(folder)
