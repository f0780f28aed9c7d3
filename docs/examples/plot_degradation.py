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
from matplotlib.colors import Normalize

from aiapy.calibrate import correct_degradation, degradation
from aiapy.calibrate.utils import get_correction_table
from aiapy.data import sample

# %%
# Read the table once and reuse it.
table = get_correction_table()
times = Time("2010-05-01") + np.arange(0, 5700, 15) * u.day

# %%
# The factor of each EUV channel (version 10), and of 335 Å with version 8 too. The last epoch of
# version 10 starts on 2020-06-01 and the table has had no update since November 2020: after that date
# its factors are held constant (shaded), not measured.
last_epoch = Time(table["T_START"][table["VER_NUM"] == 10].max()).to_datetime()
dates = times.to_datetime()
fig, ax = plt.subplots(figsize=(9, 5), layout="constrained")
for channel in (94, 131, 171, 193, 211, 304, 335) * u.AA:
    ax.plot(dates, degradation(channel, times, correction_table=table), label=f"{channel.value:.0f} Å")
ax.plot(dates, degradation(335 * u.AA, times, correction_table=table, calibration_version=8),
        color="k", ls="--", label="335 Å, V8")
ax.axvspan(last_epoch, dates[-1], color="0.9", zorder=0)
ax.text(last_epoch, 0.62, "  V10 held constant\n  after its last epoch", fontsize=8, va="center")
ax.set(ylabel="degradation factor", xlabel="time", ylim=(0, 1.3),
       title="AIA EUV degradation (calibration V10)")
ax.legend(ncol=2, frameon=False)
plt.show()

# %%
# Correcting an image divides it by the factor at its time. The bundled flare cutouts are of
# 2011-02-15, early in the mission; the same image taken in 2020 would need a far larger correction.
m_335 = sample.flare_maps(335)[0]
corrected = correct_degradation(m_335, correction_table=table)
factor = degradation(335 * u.AA, m_335.date, correction_table=table).item()
print(f"335 Å on {m_335.date.iso[:19]}: factor {factor:.3f}")
print(f"total before {m_335.data.sum():.4g} DN, after {corrected.data.sum():.4g} DN")
for line in corrected.meta["history"].splitlines()[-1:]:
    print("HISTORY", line)

# %%
# On one colour scale, the corrected image is brighter by 1 / factor.
norm = Normalize(vmin=0, vmax=np.percentile(corrected.data, 99.5))
fig = plt.figure(figsize=(11, 4.6), layout="constrained")
for index, (smap, label) in enumerate(((m_335, "level 1"), (corrected, f"corrected (÷ {factor:.3f})"))):
    ax = fig.add_subplot(1, 2, index + 1, projection=smap)
    image = smap.plot(axes=ax, norm=norm, title=label)
    if index:
        ax.coords[1].set_axislabel(" ")
fig.colorbar(image, ax=fig.axes, label=f"intensity [{m_335.unit.to_string()}] (one scale)", extend="max")
fig.suptitle(f"AIA 335 Å {m_335.date.iso[:19]}: degradation factor {factor:.3f} (calibration V10)")
plt.show()
