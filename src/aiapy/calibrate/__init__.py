"""Calibration of AIA level-1 data: degradation, uncertainties, exposure, pointing, registration, spikes, saturation."""

from aiapy.calibrate import utils
from aiapy.calibrate.degradation import correct_degradation, degradation
from aiapy.calibrate.exposure import normalize_exposure
from aiapy.calibrate.pointing import update_pointing
from aiapy.calibrate.register import RegisterOptions, prep, register
from aiapy.calibrate.saturation import saturation_mask
from aiapy.calibrate.spikes import fetch_spikes, respike
from aiapy.calibrate.uncertainty import estimate_error

__all__ = [
    "utils",
    "correct_degradation",
    "degradation",
    "estimate_error",
    "normalize_exposure",
    "fetch_spikes",
    "respike",
    "update_pointing",
    "register",
    "RegisterOptions",
    "prep",
    "saturation_mask",
]
