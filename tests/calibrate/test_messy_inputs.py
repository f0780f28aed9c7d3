"""
Issue 22 ("Messy inputs, round two"), the calibration functions: each test is a reproducer of one fault on the
bundled real files, asserting the correct result or the exact refusal naming the keyword.
"""

import warnings

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.table import QTable
from astropy.time import Time

import aiapy.data.sample as sample
from aiapy.calibrate import correct_degradation, estimate_error, normalize_exposure, register, update_pointing
from aiapy.calibrate.utils import _parse_time
from aiapy.utils.exceptions import AIApyMetadataWarning, AIApyUserWarning
from aiapy.utils.maps import observation_time

FLARE_171 = "flare_2011-02-15T01-44-12_171"


@pytest.fixture(scope="module")
def cutout():
    return sample.load_map("aia_171_cutout")


def _own_table(smap, **changes):
    """A one-row pointing table of ``smap``'s own header values (update_pointing with it is a no-op)."""
    meta = smap.meta
    start = Time(meta["t_obs"].rstrip("Z")) - 1 * u.hour
    values = {"X0": meta["x0_mp"], "Y0": meta["y0_mp"], "IMSCALE": meta["imscl_mp"], "INSTROT": meta["inst_rot"]}
    values |= changes
    units = {"X0": u.pix, "Y0": u.pix, "IMSCALE": u.arcsec / u.pix, "INSTROT": u.deg}
    columns = {"T_START": Time([start]), "T_STOP": Time([start + 3 * u.hour])}
    columns |= {f"A_171_{name}": [float(value)] * units[name] for name, value in values.items()}
    return QTable(columns)


def _in_degrees(smap):
    """``smap`` with the header astropy's ``WCS.to_header()`` writes: CUNIT 'deg', CDELT and CRVAL in degrees."""
    meta = dict(smap.meta)
    for key in ("cdelt1", "cdelt2", "crval1", "crval2"):
        meta[key] = float(meta[key]) / 3600
    meta["cunit1"] = meta["cunit2"] = "deg"
    return sunpy.map.Map(smap.data, meta)


def _corners(smap):
    ny, nx = smap.data.shape
    world = smap.wcs.pixel_to_world_values([0, nx - 1], [0, ny - 1])
    return np.array(world) * 3600  # arcsec (the WCS works in degrees whatever CUNIT says)


# Fault 2: CUNIT 'deg' -----------------------------------------------------------------------------------------


def test_register_of_a_degree_header_writes_arcsec(cutout):
    reference = register(cutout, method="linear")
    out = register(_in_degrees(cutout), method="linear")
    assert out.meta["cunit1"] == out.meta["cunit2"] == "arcsec"
    assert out.meta["cdelt1"] == out.meta["cdelt2"] == 0.6
    np.testing.assert_allclose(_corners(out), _corners(reference), atol=1e-6)
    np.testing.assert_array_equal(out.data, reference.data)


def test_update_pointing_of_a_degree_header_writes_arcsec(cutout):
    table = _own_table(cutout)
    reference = update_pointing(cutout, pointing_table=table)
    out = update_pointing(_in_degrees(cutout), pointing_table=table)
    assert out.meta["cunit1"] == out.meta["cunit2"] == "arcsec"
    assert out.meta["cdelt1"] == pytest.approx(cutout.meta["imscl_mp"])
    assert out.meta["crval1"] == pytest.approx(cutout.meta["crval1"], abs=1e-9)
    np.testing.assert_allclose(_corners(out), _corners(reference), atol=1e-6)


# Fault 3: update_pointing of a rotated map ----------------------------------------------------------------------


def test_update_pointing_refuses_a_rotated_map(cutout):
    rotated = cutout.rotate(angle=30 * u.deg)
    message = r"update_pointing: this map is no longer in the level-1 frame: .*roll -?29\.9"
    with pytest.raises(ValueError, match=message):
        update_pointing(rotated, pointing_table=_own_table(cutout))


def test_update_pointing_refuses_level15(cutout):
    with pytest.raises(ValueError, match=r"update_pointing needs a level-1 map; this one has LVL_NUM = 1.5"):
        update_pointing(register(cutout, method="linear"), pointing_table=_own_table(cutout))


def test_update_pointing_keeps_a_pc_matrix_of_the_level1_roll(cutout):
    """A level-1 header round-tripped through astropy's WCS (PC matrix, no CROTA2) is still the level-1 frame."""
    theta = np.deg2rad(cutout.meta["crota2"])
    meta = {key: value for key, value in cutout.meta.items() if key != "crota2"}
    meta |= {"pc1_1": np.cos(theta), "pc1_2": -np.sin(theta), "pc2_1": np.sin(theta), "pc2_2": np.cos(theta)}
    out = update_pointing(sunpy.map.Map(cutout.data, meta), pointing_table=_own_table(cutout))
    assert out.meta["crota2"] == pytest.approx(cutout.meta["crota2"], abs=1e-9)


def test_register_refuses_crota2_and_a_matrix_that_disagree(cutout):
    meta = dict(cutout.meta, pc1_1=0.0, pc1_2=-1.0, pc2_1=1.0, pc2_2=0.0)
    with pytest.raises(ValueError, match=r"register: the header states the roll twice .*CROTA2 = 0.0191"):
        register(sunpy.map.Map(cutout.data, meta))


# Fault 5: normalize_exposure decides on the unit ----------------------------------------------------------------


@pytest.mark.parametrize("bunit", ["ct / s", "DN/(pix s)", "photon/s", "DN s-1", "DN/S"])
def test_normalize_exposure_refuses_any_spelling_of_per_second(cutout, bunit):
    with pytest.raises(ValueError, match=r"This map is already in .*it was normalised before"):
        normalize_exposure(sunpy.map.Map(cutout.data, dict(cutout.meta, bunit=bunit)))


def test_normalize_exposure_refuses_an_unreadable_unit(cutout):
    smap = sunpy.map.Map(cutout.data, dict(cutout.meta, bunit="counts/sec"))
    with (
        pytest.raises(ValueError, match=r"normalize_exposure cannot read the data unit \{'BUNIT': 'counts/sec'"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")  # sunpy's own note that it cannot parse the unit
        normalize_exposure(smap)


@pytest.mark.parametrize("bunit", ["ct", "DN/pix", "photon"])
def test_normalize_exposure_of_counts_in_other_spellings(cutout, bunit):
    out = normalize_exposure(sunpy.map.Map(cutout.data, dict(cutout.meta, bunit=bunit)))
    assert u.Unit(out.meta["bunit"]) == u.Unit(bunit) / u.s
    np.testing.assert_allclose(out.data, cutout.data / np.float32(cutout.meta["exptime"]), rtol=1e-6)


# Fault 6: int16 fill without BLANK ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def int16_with_hole(cutout):
    data = np.clip(cutout.data, 0, 16000).astype(np.int16)
    data[300:320, 400:417] = -32768  # 340 fill pixels, BLANK lost
    meta = {key: value for key, value in cutout.meta.items() if key != "blank"}
    return sunpy.map.Map(data, meta), data == -32768


def test_register_treats_int16_fill_as_missing(int16_with_hole):
    smap, hole = int16_with_hole
    with pytest.warns(AIApyMetadataWarning, match=r"no BLANK keyword but 340 pixels of -32768"):
        out = register(smap)
    assert np.isnan(out.data).any()
    assert np.nanmin(out.data) >= 0  # no ringing from a -32768 "measurement"
    assert "blank" not in out.meta


@pytest.mark.parametrize("function", [normalize_exposure, correct_degradation])
def test_divisions_give_nan_for_int16_fill(int16_with_hole, function):
    smap, hole = int16_with_hole
    with pytest.warns(AIApyMetadataWarning, match="BLANK"):
        out = function(smap)
    assert np.isnan(out.data[hole]).all()
    assert not np.isnan(out.data[~hole]).any()
    assert "blank" not in out.meta


def test_divisions_honour_blank_of_integer_data(int16_with_hole):
    """The sibling: int16 data WITH BLANK were divided as numbers (-32768 / EXPTIME)."""
    smap, hole = int16_with_hole
    out = normalize_exposure(sunpy.map.Map(smap.data, dict(smap.meta, blank=-32768)))
    assert np.isnan(out.data[hole]).all() and np.nanmin(out.data) >= 0


# Fault 8: numbers written as strings ----------------------------------------------------------------------------


def test_numeric_strings_are_read_as_numbers(cutout):
    meta = dict(cutout.meta)
    for key in ("crota2", "cdelt1", "cdelt2", "crpix1", "exptime"):
        meta[key] = f"{meta[key]!r}"
    smap = sunpy.map.Map(cutout.data, meta)
    np.testing.assert_array_equal(register(smap, method="linear").data, register(cutout, method="linear").data)
    assert update_pointing(smap, pointing_table=_own_table(cutout)).meta["crota2"] == pytest.approx(
        cutout.meta["crota2"]
    )
    np.testing.assert_array_equal(normalize_exposure(smap).data, normalize_exposure(cutout).data)


@pytest.mark.parametrize(
    ("function", "key"),
    [(register, "crota2"), (register, "cdelt1"), (update_pointing, "sat_rot"), (normalize_exposure, "exptime")],
)
def test_a_string_that_is_not_a_number_is_refused_by_name(cutout, function, key):
    smap = sunpy.map.Map(cutout.data, dict(cutout.meta, **{key: "n/a"}))
    with pytest.raises(ValueError, match=rf"{function.__name__}: the header keyword {key.upper()} = 'n/a' is not a"):
        function(smap)


# Fault 9: a MapSequence -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("function", [register, correct_degradation, normalize_exposure, update_pointing])
def test_a_map_sequence_is_a_type_error_saying_what_to_pass(cutout, function):
    sequence = sunpy.map.Map([cutout, cutout], sequence=True)
    name = function.__name__
    with pytest.raises(TypeError, match=rf"{name} takes one map; got a MapSequence of 2 maps. Call it on each map"):
        function(sequence)


# JSOC date forms ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2011.02.15_01:44:45_TAI", "2011-02-15T01:44:11.000"),
        ("2011.02.15_01:44:45.34_TAI", "2011-02-15T01:44:11.340"),
        ("2011.02.15_01:44_TAI", "2011-02-15T01:43:26.000"),
        ("2011.02.15_01:44:45Z", "2011-02-15T01:44:45.000"),
        ("2011.02.15_01:44:45_UTC", "2011-02-15T01:44:45.000"),
    ],
)
def test_jsoc_dates_are_read_in_headers(cutout, text, iso):
    smap = sunpy.map.Map(cutout.data, dict(cutout.meta, **{"date-obs": text}))
    assert observation_time(smap, function="test").utc.isot == iso


def test_correct_degradation_reads_a_jsoc_date(cutout):
    meta = dict(cutout.meta, **{"date-obs": "2013.03.10_12:00:46.341_TAI"})  # 2013-03-10T12:00:11.341 UTC
    out = correct_degradation(sunpy.map.Map(cutout.data, meta))
    np.testing.assert_allclose(out.data, correct_degradation(cutout).data, rtol=1e-7)


def test_tables_with_jsoc_dates_are_read():
    times = _parse_time(["2010.05.13_03:00:34_TAI", "2010-05-13T06:00:00Z"])
    assert list(times.utc.isot) == ["2010-05-13T03:00:00.000", "2010-05-13T06:00:00.000"]


# The phrases of aiapy 0.12 --------------------------------------------------------------------------------------


def test_aiapy_012_phrases(cutout):
    with pytest.raises(ValueError, match="Cannot include both EVE and pre-flight correction"):
        estimate_error(10 * u.DN / u.pix, 171 * u.AA, include_eve=True, include_preflight=True)
    with pytest.raises(ValueError, match="not in list of valid channels"):
        estimate_error(10 * u.DN / u.pix, 170 * u.AA)
    level15 = register(cutout, method="linear")
    with pytest.warns(AIApyUserWarning, match="^Image registration should only be applied to level 1 data"):
        register(level15, method="linear")
