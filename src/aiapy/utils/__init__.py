"""Utilities shared by every subpackage: channel validation, telescope numbers, quality flags, warnings."""

from aiapy.utils import decorators
from aiapy.utils.channels import (
    ALL_CHANNELS,
    EUV_CHANNELS,
    FUV_CHANNELS,
    ChannelError,
    ChannelTypeError,
    ChannelUnitError,
    check_channel,
    telescope_number,
    validate_channel,
)
from aiapy.utils.exceptions import (
    AIApyDeprecationWarning,
    AIApyMetadataWarning,
    AIApyUserWarning,
    AIApyWarning,
    AiapyUserWarning,
    AiapyWarning,
)
from aiapy.utils.exposure import is_short_exposure
from aiapy.utils.location import sdo_location
from aiapy.utils.pixelflags import PixelFlag, pixel_flags
from aiapy.utils.quality import check_quality_flag

__all__ = [
    "ALL_CHANNELS",
    "EUV_CHANNELS",
    "FUV_CHANNELS",
    "ChannelError",
    "ChannelTypeError",
    "ChannelUnitError",
    "AIApyDeprecationWarning",
    "AIApyMetadataWarning",
    "AIApyUserWarning",
    "AIApyWarning",
    "AiapyUserWarning",
    "AiapyWarning",
    "PixelFlag",
    "check_channel",
    "check_quality_flag",
    "decorators",
    "is_short_exposure",
    "pixel_flags",
    "sdo_location",
    "telescope_number",
    "validate_channel",
]
