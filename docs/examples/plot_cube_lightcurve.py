"""
Flare light curves from a level-1.5 data cube
=============================================

:func:`aiapy.pipeline.build_cube` runs the same steps as ``aiapy prep`` (register to the common
0.6"/pixel grid, degradation correction, exposure normalisation) but writes the frames into one Zarr store:
per channel an aligned (time, y, x) cube on the common level-1.5 grid of the inputs. Here the 60 bundled
level-1 cutouts of the X2.2 flare of 2011-02-15 (six EUV channels, ten times from 01:44 to 02:02 UT) become
a cube, and the cube gives each channel's light curve: the mean count rate over the flare region, per
second, normalised by exposure (DN/s) and corrected for the degradation of the channel.
"""

import tempfile
from pathlib import Path

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np

from aiapy.data import sample
from aiapy.pipeline import build_cube, open_cube

# %%
# Build the cube. The store is a folder here; an ``s3://bucket/cube.zarr`` URL writes to an object store.
# Running the command again with more files appends the new frames in time order (the stored ones are
# reported ``skipped``).
folder = Path(tempfile.mkdtemp())
report = build_cube(sample.FLARE_FILES, folder / "flare.zarr")
print(report.summary())

# %%
# Open it: the cube knows its channels, its grid (a window of the full level-1.5 frame that covers every
# cutout) and how it was made.
cube = open_cube(folder / "flare.zarr")
print("frames per channel:", {channel: len(cube.times(channel)) for channel in cube.channels})
print("grid [binning, first row, first column, rows, columns]:", cube.grid)
print("steps:", cube.provenance["steps"], "settings", cube.provenance["config_id"])

# %%
# Each channel is an ``xarray.Dataset`` with a time coordinate (T_OBS). The light curve is the mean over
# the grid of each frame (NaN, where a cutout does not cover the common grid, is left out).
fig, ax = plt.subplots(figsize=(8, 4.5))
for channel in cube.channels:
    dataset = cube.xarray(channel)
    curve = dataset.data.mean(dim=("y", "x"), skipna=True).compute()
    ax.plot(dataset.time, curve / curve[0], marker="o", label=f"{channel} Å")
ax.set(
    yscale="log",
    xlabel="time on 2011-02-15 [UT]",
    ylabel="mean intensity (DN/s) / that of the first frame",
    title="AIA light curves of the 2011-02-15 flare (level 1.5)",
)
ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
ax.legend(ncol=3, frameon=False)
fig.tight_layout()

# %%
# The frames are ordinary level-1.5 maps again when needed, equal to the FITS output of the same settings
# (on the cube's grid), and the channel is an ``ndcube.NDCube`` with a time axis for world-coordinate work.
frame = cube.frame_map(131, cube.times(131)[-1])
nd = cube.ndcube(131)
print(nd.shape, nd.wcs.world_axis_physical_types)
fig = plt.figure(figsize=(6.5, 5), layout="constrained")
ax = fig.add_subplot(projection=frame)
observed = frame.meta["t_obs"][:19].replace("T", " ")
image = frame.plot(axes=ax, vmin=0, vmax=np.nanpercentile(frame.data, 99.5),
                   title=f"AIA 131 Å {observed} UTC, level 1.5 (from the cube)")
fig.colorbar(image, ax=ax, label=f"intensity [{frame.unit.to_string()}]")

plt.show()
