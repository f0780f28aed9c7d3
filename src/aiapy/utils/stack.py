"""Where a warning should point: the first stack frame outside aiapy (the user's line)."""

import os
import sys
from pathlib import Path

__all__ = ["user_stacklevel"]

_PACKAGE_DIR = str(Path(__file__).resolve().parents[1]) + os.sep


def user_stacklevel():
    """
    The ``stacklevel`` to pass to `aiapy.utils.exceptions.warn_user` (or ``warn_metadata``), called by
    the function calling this one, so that the warning names the first line outside aiapy: the user's,
    however deep inside aiapy the warning is issued.
    """
    frame = sys._getframe(1)  # the function that will call warn_user: stacklevel 1 from its point of view
    level = 1
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level
