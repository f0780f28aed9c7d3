"""
Uncertainties
=============

:func:`aiapy.calibrate.estimate_error` estimates the uncertainty of every pixel from its counts, as
SolarSoft's ``aia_bp_estimate_error``: photon shot noise (through the camera gain and the energy of a
photon of the channel), dark current, read noise, quantisation and the lossy onboard compression;
optionally the systematic uncertainties of the calibration (``include_preflight``, ``include_eve``) and
of the atomic data (``include_chianti``).
"""

import astropy.units as u
import matplotlib.pyplot as plt
import numpy as np

from aiapy.calibrate import estimate_error, register
from aiapy.data import sample

# %%
# A real 171 Å cutout, registered to level 1.5. The uncertainty takes counts per pixel, as a Quantity.
m_171 = register(sample.load_map("aia_171_cutout"), method="cubic-convolution")
counts = m_171.quantity / u.pix

nominal = estimate_error(counts, m_171.wavelength)
chianti = estimate_error(counts, m_171.wavelength, include_chianti=True)
eve = estimate_error(counts, m_171.wavelength, include_eve=True)
print(f"median counts {np.nanmedian(counts.value):.1f} {counts.unit}, "
      f"median uncertainty {np.nanmedian(nominal.value):.2f} {nominal.unit}")

# %%
# The relative uncertainty falls as the square root of the counts where shot noise dominates; the
# systematic terms are a floor proportional to the counts.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
image = ax1.imshow((counts / nominal).value, origin="lower", cmap="viridis", vmin=0)
fig.colorbar(image, ax=ax1, label="signal / noise (dimensionless)")
ax1.set(title="signal to noise (nominal)", xlabel="x [pixel]", ylabel="y [pixel]")
order = np.argsort(counts.value, axis=None)[::50]
x = counts.value.ravel()[order]
for errors, label in ((nominal, "nominal"), (eve, "+ EVE calibration"), (chianti, "+ CHIANTI")):
    ax2.plot(x, errors.value.ravel()[order] / x, ".", ms=1, label=label)
ax2.set(xscale="log", yscale="log", xlabel=f"counts [{counts.unit.to_string('latex_inline')}]",
        ylabel="relative uncertainty", title="uncertainty per pixel")
ax2.legend(markerscale=10, frameon=False)
fig.suptitle(f"AIA 171 Å {m_171.date.iso[:19]}, level 1.5 (real cutout): estimate_error")

plt.show()
