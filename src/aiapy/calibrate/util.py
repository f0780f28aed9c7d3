"""Older name of `aiapy.calibrate.utils` (aiapy <= 0.10); everything is re-exported from there."""

from aiapy.calibrate.utils import *  # noqa: F403
from aiapy.calibrate.utils import __all__  # noqa: F401
