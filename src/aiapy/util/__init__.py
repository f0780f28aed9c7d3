"""Older name of `aiapy.utils` (aiapy <= 0.10); everything is re-exported from there."""

from aiapy.utils import *  # noqa: F403
from aiapy.utils import __all__  # noqa: F401
