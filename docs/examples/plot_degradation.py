"""
Degradation over the mission
============================

The EUV channels of AIA lose sensitivity with time. :func:`aiapy.calibrate.degradation` evaluates the
degradation factor of the correction table (Boerner et al. 2014): the ratio of the effective area at the
start of a calibration epoch to that at launch, times a cubic polynomial in time within the epoch. The
bundled table holds SolarSoft's calibration versions 10 and 8, so this runs offline.
"""

import astropy.units as u
import matplotlib.pyplot as plt
import numpy as np
from astropy.time import Time
from astropy.visualization import time_support
from matplotlib.colors import Normalize

from aiapy.calibrate import correct_degradation, degradation
from aiapy.calibrate.utils import get_correction_table
from aiapy.data import sample

# %%
# Read the table once and reuse it.
table = get_correction_table()
times = Time("2010-05-01") + np.arange(0, 5700, 15) * u.day

# %%
# The factor of each EUV channel (version 10), and of 335 Å with version 8 too. Version 10 has had no
# update since November 2020: its factors stay constant after 2020-06-01.
time_support(format="iso", simplify=True)
fig, ax = plt.subplots(figsize=(8, 5))
for channel in (94, 131, 171, 193, 211, 304, 335) * u.AA:
    ax.plot(times, degradation(channel, times, correction_table=table), label=f"{channel.value:.0f} Å")
ax.plot(times, degradation(335 * u.AA, times, correction_table=table, calibration_version=8),
        color="k", ls="--", label="335 Å, V8")
ax.set(ylabel="degradation factor", ylim=(0, 1.3), title="AIA EUV degradation (calibration V10)")
ax.legend(ncol=2, frameon=False)

# %%
# Correcting an image divides it by the factor at its time. The bundled flare cutouts are of
# 2011-02-15, early in the mission; the same image taken in 2020 would need a far larger correction.
# On one colour scale, the corrected image is brighter.
m_335 = sample.flare_maps(335)[0]
corrected = correct_degradation(m_335, correction_table=table)
factor = degradation(335 * u.AA, m_335.date, correction_table=table).item()
print(f"335 Å on {m_335.date.iso}: factor {factor:.3f}")
print(f"total before {m_335.data.sum():.4g} DN, after {corrected.data.sum():.4g} DN")
print(corrected.meta["history"])

fig = plt.figure(figsize=(9, 4))
for i, (smap, title) in enumerate(((m_335, "level 1"), (corrected, f"corrected (/ {factor:.3f})"))):
    ax = fig.add_subplot(1, 2, i + 1, projection=smap)
    smap.plot(axes=ax, title=title, norm=Normalize(vmin=0, vmax=np.percentile(corrected.data, 99.5)))
    if i:
        ax.coords[1].set_axislabel(" ")
fig.tight_layout()

plt.show()
