"""The package's warning classes and the helpers that issue them.

Every warning aiapy emits is an `AIApyUserWarning` (or a subclass), so that users can filter all of them at
once. The older spellings ``AiapyWarning`` / ``AiapyUserWarning`` remain as aliases.

The helpers attribute each warning to the user's line: the frame that called into aiapy, however deep inside
the package (and through whatever decorators) the warning is issued.
"""

import os
import sys
import warnings

from astropy.utils.exceptions import AstropyWarning

__all__ = [
    "AIApyWarning",
    "AIApyUserWarning",
    "AIApyMetadataWarning",
    "AIApyDeprecationWarning",
    "AiapyWarning",
    "AiapyUserWarning",
    "warn_user",
    "warn_metadata",
    "warn_deprecated",
]


class AIApyWarning(AstropyWarning):
    """Base class for every warning raised by aiapy."""


class AIApyUserWarning(UserWarning, AIApyWarning):
    """A warning the user can act on (an odd input, a missing keyword, a skipped step)."""


class AIApyMetadataWarning(AIApyUserWarning):
    """A header keyword is missing, inconsistent or unexpected."""


class AIApyDeprecationWarning(FutureWarning, AIApyWarning):
    """A name or call shape that still works but will be removed."""


AiapyWarning = AIApyWarning
AiapyUserWarning = AIApyUserWarning


#: Every module of the package lies under this directory (with a trailing separator), spelled as the import
#: system spells the package's file names (the frames' ``co_filename``).
_PACKAGE_DIR = os.path.dirname(os.path.dirname(__file__)) + os.sep


def _user_stacklevel():
    """
    The ``stacklevel`` that makes a `warnings.warn` call in `_warn` name the caller of the outermost aiapy frame.

    Walking outwards from `_warn`, the level just beyond the last frame whose file lies in the package: the
    user's line, even when the warning is issued in a helper behind decorators of other packages (astropy's
    ``quantity_input`` lies between two aiapy frames, so "the first frame outside aiapy" would be wrong).
    """
    frame, level, user = sys._getframe(1), 1, 1  # `_warn`'s frame: level 1 of its `warnings.warn` call
    while frame is not None:
        if frame.f_code.co_filename.startswith(_PACKAGE_DIR):
            user = level + 1
        frame, level = frame.f_back, level + 1
    return min(user, level - 1)  # a stack that is aiapy all the way up (the CLI): its outermost frame


def _warn(msg, category, stacklevel):
    warnings.warn(msg, category, stacklevel=_user_stacklevel() if stacklevel is None else stacklevel + 2)


def warn_user(msg, *, stacklevel=None):
    """
    Issue an `AIApyUserWarning`.

    Parameters
    ----------
    msg : str
        The message.
    stacklevel : int, optional
        None (default): name the user's line, the caller of the outermost aiapy function on the stack.
        An integer: `warnings.warn`'s own count, as if this helper were `warnings.warn` (1: the line calling
        it; 2: the caller of that function).
    """
    _warn(msg, AIApyUserWarning, stacklevel)


def warn_metadata(msg, *, stacklevel=None):
    """Issue an `AIApyMetadataWarning` (a header keyword missing or odd); ``stacklevel`` as in `warn_user`."""
    _warn(msg, AIApyMetadataWarning, stacklevel)


def warn_deprecated(msg, *, stacklevel=None):
    """Issue an `AIApyDeprecationWarning`; ``stacklevel`` as in `warn_user`."""
    _warn(msg, AIApyDeprecationWarning, stacklevel)
