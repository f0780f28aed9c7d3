"""
Responses of the channels
=========================

:class:`aiapy.response.Channel` holds the instrument data of an AIA channel: the reflectance of its
mirrors, the transmission of its filters, the quantum efficiency of its CCD and its gain. The effective
area :math:`A_\\mathrm{eff}(\\lambda)` (cm²) times the gain (DN per photon) is the wavelength response
:math:`R(\\lambda)`, in cm² DN ph⁻¹ (``cm2 DN / ph``): multiplied by a photon flux at the telescope
(ph cm⁻² s⁻¹) it gives the DN per second the channel records. Corrected for the degradation and
normalised to EVE, it changes over the mission; folded with a CHIANTI emissivity it gives the
temperature response of Boerner et al. (2012, section 2.5).
"""

import astropy.units as u
import matplotlib.pyplot as plt
from astropy.time import Time

from aiapy.response import Channel, temperature_response
from aiapy.response.plot import plot_wavelength_responses

# %%
# The 335 Å channel first: its peak effective area and its geometrical collecting area.
c = Channel(335 * u.AA)
peak = c.effective_area.argmax()
print(f"peak effective area {c.effective_area[peak]:.3f} at {c.wavelength[peak]:.1f}")
print(f"geometrical collecting area {c.geometrical_collecting_area:.1f}")

# %%
# Effective area and wavelength response, at launch and on 2017-09-10 with the degradation and the EVE
# normalisation applied.
obstime = Time("2017-09-10")
r_launch = c.wavelength_response()
r_2017 = c.wavelength_response(obstime=obstime, include_eve_correction=True)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
ax1.plot(c.wavelength, c.effective_area)
ax1.set(xlim=(300, 370), xlabel="wavelength [Å]", title="AIA 335 Å effective area",
        ylabel=f"effective area [{c.effective_area.unit.to_string('latex_inline')}]")
ax2.plot(c.wavelength, r_launch, label="at launch")
ax2.plot(c.wavelength, r_2017, label="2017-09-10, degradation + EVE")
ax2.set(xlim=(300, 370), xlabel="wavelength [Å]", title="AIA 335 Å wavelength response",
        ylabel=f"$R(\\lambda)$ [{r_launch.unit.to_string('latex_inline')}]")
ax2.legend(frameon=False)
plt.show()

# %%
# The wavelength responses of the seven EUV channels at launch, each with the cross-talk of the other
# channel that shares its telescope, on a logarithmic scale.
fig, ax = plt.subplots(figsize=(9, 5), layout="constrained")
plot_wavelength_responses(axes=ax)
ax.set(xlim=(50, 400), ylim=(1e-6, 10), title="AIA EUV wavelength responses (at launch, with cross-talk)",
       ylabel=f"$R(\\lambda)$ [{r_launch.unit.to_string('latex_inline')}]", xlabel="wavelength [Å]")
plt.show()

# %%
# Temperature responses of the EUV channels (CHIANTI 9.0.1, as SolarSoft V10), at launch.
fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
for channel in (94, 131, 171, 193, 211, 304, 335) * u.AA:
    k = temperature_response(channel)
    ax.plot(k.temperature, k.response, label=f"{channel.value:.0f} Å")
ax.set(xscale="log", yscale="log", ylim=(1e-28, 1e-23), xlim=(1e4, 1e8), xlabel="temperature [K]",
       ylabel=f"$K(T)$ [{k.response.unit.to_string('latex_inline')}]",
       title="AIA EUV temperature responses")
ax.legend(ncol=2, frameon=False)
plt.show()
