"""The package's warning classes and the helpers that issue them.

Every warning aiapy emits is an `AIApyUserWarning` (or a subclass), so that users can filter all of them at
once. The older spellings ``AiapyWarning`` / ``AiapyUserWarning`` remain as aliases.
"""

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


def warn_user(msg, *, stacklevel=2):
    """Issue an `AIApyUserWarning` pointing at the caller's caller."""
    warnings.warn(msg, AIApyUserWarning, stacklevel=stacklevel + 1)


def warn_metadata(msg, *, stacklevel=2):
    """Issue an `AIApyMetadataWarning` pointing at the caller's caller."""
    warnings.warn(msg, AIApyMetadataWarning, stacklevel=stacklevel + 1)


def warn_deprecated(msg, *, stacklevel=2):
    """Issue an `AIApyDeprecationWarning` pointing at the caller's caller."""
    warnings.warn(msg, AIApyDeprecationWarning, stacklevel=stacklevel + 1)
