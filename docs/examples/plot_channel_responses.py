"""
Responses of a channel
======================

:class:`aiapy.response.Channel` holds the instrument data of an AIA channel (mirrors, filters, CCD,
gain). Their product is the wavelength response: DN per pixel per photon per cm². Corrected for the
degradation and normalised to EVE, it changes over the mission; folded with a CHIANTI emissivity it
gives the temperature response of Boerner et al. (2012, section 2.5).
"""

import astropy.units as u
import matplotlib.pyplot as plt
from astropy.time import Time

from aiapy.response import Channel, temperature_response

# %%
# The 335 Å channel, as in the aiapy blog post.
c = Channel(335 * u.AA)
print(c)
print(f"peak effective area {c.effective_area.max():.3f} at {c.wavelength[c.effective_area.argmax()]:.1f}")
print("geometrical collecting area:", c.geometrical_collecting_area)

# %%
# Effective area and wavelength response, at launch and in 2017 with the degradation and the EVE
# normalisation.
obstime = Time("2017-09-10")
r_launch = c.wavelength_response()
r_2017 = c.wavelength_response(obstime=obstime, include_eve_correction=True)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
ax1.plot(c.wavelength, c.effective_area)
ax1.set(xlim=(300, 370), xlabel="wavelength [Å]", ylabel=f"effective area [{c.effective_area.unit:latex}]",
        title="335 Å effective area")
ax2.plot(c.wavelength, r_launch, label="at launch")
ax2.plot(c.wavelength, r_2017, label="2017-09-10, degradation + EVE")
ax2.set(xlim=(300, 370), xlabel="wavelength [Å]", ylabel=f"$R(\\lambda)$ [{r_launch.unit:latex}]",
        title="335 Å wavelength response")
ax2.legend(frameon=False)
fig.tight_layout()

# %%
# Temperature responses of the EUV channels (CHIANTI 9.0.1, as SolarSoft V10), at launch.
fig, ax = plt.subplots(figsize=(7, 4.5))
for channel in (94, 131, 171, 193, 211, 335) * u.AA:
    k = temperature_response(channel)
    ax.plot(k.temperature, k.response, label=f"{channel.value:.0f} Å")
ax.set(xscale="log", yscale="log", ylim=(1e-28, 1e-23), xlim=(1e4, 1e8), xlabel="temperature [K]",
       ylabel=f"K(T) [{k.response.unit:latex}]", title="AIA temperature responses")
ax.legend(ncol=2, frameon=False)

plt.show()
