"""Responses of the AIA channels: effective areas, wavelength and temperature responses.

`Channel` gives a channel's optics, effective area, gain and wavelength response (SolarSoft
``aia_get_response(/area)``); `temperature_response` folds it with an emissivity table
(``aia_get_response(/temperature)``); `aiapy.response.plot` draws them.
"""

from aiapy.response.channel import REFERENCE_TIME, Channel
from aiapy.response.emissivity import EMISSIVITY_UNIT, Emissivity, load_emissivity
from aiapy.response.temperature import RESPONSE_UNIT, TemperatureResponse, temperature_response

__all__ = [
    "Channel",
    "REFERENCE_TIME",
    "Emissivity",
    "EMISSIVITY_UNIT",
    "load_emissivity",
    "RESPONSE_UNIT",
    "TemperatureResponse",
    "temperature_response",
]
