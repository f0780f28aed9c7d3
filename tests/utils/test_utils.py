"""Channel validation, telescope numbers, quality flags and the warning classes."""

import astropy.units as u
import pytest
from astropy.utils.exceptions import AstropyWarning

import aiapy
from aiapy.utils import (
    AIApyUserWarning,
    AIApyWarning,
    AiapyUserWarning,
    check_quality_flag,
    telescope_number,
    validate_channel,
)
from aiapy.utils.exceptions import warn_user


@validate_channel("channel")
def _echo(channel):
    return channel


@pytest.mark.parametrize("channel", [1 * u.AA, 195 * u.AA, 94 * u.s, 94, "94", None, [94, 171] * u.AA])
def test_invalid_channels(channel):
    with pytest.raises((ValueError, TypeError)):
        _echo(channel)


def test_valid_channels_and_units():
    assert _echo(17.1 * u.nm) == 171 * u.AA
    assert _echo(channel=4500 * u.AA).unit == u.AA


def test_restricted_channels_and_decoration_errors():
    @validate_channel("channel", valid_channels=[94, 171] * u.AA)
    def euv(channel):
        return channel

    with pytest.raises(ValueError, match="valid channels"):
        euv(1600 * u.AA)
    with pytest.raises(ValueError, match="Did not find wavelength"):
        validate_channel("wavelength")(_echo.__wrapped__)


@pytest.mark.parametrize(
    ("channel", "number"),
    [(94, 4), (131, 1), (171, 3), (193, 2), (211, 2), (304, 4), (335, 1), (1600, 3), (1700, 3), (4500, 3)],
)
def test_telescope_number(channel, number):
    assert telescope_number(channel * u.AA) == number


@pytest.mark.parametrize(
    ("bits", "messages"),
    [
        ([], ["nominal"]),
        ([16], ["Dark image flag is set (coincides with IMG_TYPE keyword set to DARK)"]),
        ([4, 5], ["Limb-fit data are not available (generally not applicable to AIA images)", "(empty)"]),
    ],
)
def test_quality_flags(bits, messages):
    assert check_quality_flag(sum(1 << b for b in bits)) == messages


def test_quality_flags_many_and_bad():
    flags = check_quality_flag(sum(1 << b for b in [12, 13, 14, 17, 21]))
    assert len(flags) == 5 and flags[-1] == "Register flag is set"
    assert check_quality_flag(-(1 << 31)) == ["Image is not available"]  # signed FITS int with bit 31
    with pytest.raises(TypeError):
        check_quality_flag(1.5)
    with pytest.raises(ValueError):
        check_quality_flag(1 << 40)


def test_warning_hierarchy():
    assert issubclass(AIApyUserWarning, AIApyWarning)
    assert issubclass(AIApyWarning, AstropyWarning)
    assert AiapyUserWarning is AIApyUserWarning
    with pytest.warns(AIApyUserWarning, match="careful"):
        warn_user("careful")


def test_package_metadata():
    assert aiapy.__version__.count(".") == 2
    assert aiapy.__citation__.startswith("@article{Barnes2020")
    assert aiapy.__citation__.rstrip().endswith("}")
    assert len(aiapy._SSW_MIRRORS) == 3


def test_old_util_module():
    from aiapy import util

    assert util.check_quality_flag is check_quality_flag


def test_refresh_statistics_skips_non_finite_values_and_drops_stale_keys():
    import numpy as np

    from aiapy.utils.maps import refresh_statistics

    stale = {"datamin": -5, "datap99": 9.0, "datarms": 1.0, "dataskew": 0.1, "exptime": 2.0}
    assert refresh_statistics(dict(stale), np.array([[1.0, 2.0], [3.0, 6.0]], np.float32)) == {
        "exptime": 2.0, "datamin": 1.0, "datamax": 6.0, "datamean": 3.0
    }  # fmt: skip
    meta = refresh_statistics(dict(stale), np.array([np.nan, 1.0, np.inf, 5.0, -np.inf]))
    assert (meta["datamin"], meta["datamax"], meta["datamean"]) == (1.0, 5.0, 3.0)
    assert refresh_statistics(dict(stale), np.array([np.nan, np.inf])) == {"exptime": 2.0}


def test_warning_helpers_name_the_callers_line():
    from aiapy.utils.exceptions import warn_deprecated, warn_metadata

    with pytest.warns(AIApyUserWarning) as caught:
        warn_user("default: the caller of the outermost aiapy frame, this test")
        warn_metadata("metadata")
        warn_user("explicit: as warnings.warn counts, 1 is the calling line", stacklevel=1)
    assert [(w.filename, w.lineno > 0) for w in caught] == [(__file__, True)] * 3
    with pytest.warns(FutureWarning) as caught:
        warn_deprecated("old spelling")
    assert caught[0].filename == __file__
