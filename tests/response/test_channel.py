"""`aiapy.response.Channel`: instrument data, effective area, gain, EVE correction and wavelength response."""

from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.io import ascii as astropy_ascii
from astropy.tests.helper import assert_quantity_allclose
from astropy.time import Time

from aiapy.calibrate import degradation
from aiapy.data import get_file
from aiapy.net import RemoteUnavailableError
from aiapy.response import REFERENCE_TIME, Channel
from aiapy.utils.channels import EUV_CHANNELS, FUV_CHANNELS

REFERENCE = Path(__file__).parents[1] / "data" / "ssw_idl_degradation_evenorm_checkfigures.csv"
T2015 = Time("2015-01-01T00:00:00", scale="utc")


@pytest.fixture(scope="module")
def channel_335():
    return Channel(335 * u.AA)


def test_blog_post_values_335(channel_335):
    # The aiapy blog post (aiapy 0.6.3, V8 instrument file = V9 = bundled) printed these first and last three
    # values; its printout is float32, so 1e-7 relative.
    c = channel_335
    assert c.geometrical_collecting_area == 83.0 * u.cm**2
    printed = {
        "primary_reflectance": ([0.0, 0.0, 0.0], [0.18931125, 0.18933147, 0.18935168]),
        "secondary_reflectance": ([0.0, 0.0, 0.0], [0.18931125, 0.18933147, 0.18935168]),
        "focal_plane_filter_efficiency": ([5.95474e-01, 5.93567e-01, 5.91666e-01], [3.08021e-05, 3.06914e-05]),
        "contamination": ([0.96578515, 0.96544755, 0.9651096], [0.4387496, 0.4387496, 0.4387496]),
        "quantum_efficiency": ([0.8513821, 0.8509894, 0.8506473], [0.09263941, 0.09265867, 0.09267791]),
        # Printed as "ct / ph" by aiapy <= 0.7; the same numbers in DN/ph (no floor is reached below 900 A).
        "gain": ([7.7200723, 7.6893153, 7.658802], [0.21449412, 0.21447031, 0.21444647]),
    }
    for name, (head, tail) in printed.items():
        values = getattr(c, name).value
        np.testing.assert_allclose(values[: len(head)], head, rtol=1e-7, err_msg=name)
        # The blog's truncated middle line: its last shown values are the 3rd and 2nd from the end.
        end = len(values) - 1 if name == "focal_plane_filter_efficiency" else len(values)
        np.testing.assert_allclose(values[end - len(tail) : end], tail, rtol=1e-7, err_msg=name)
    assert c.gain.unit == u.DN / u.ph


def test_identity_properties(channel_335):
    assert channel_335.channel == 335 * u.AA
    assert channel_335.name == "335"
    assert channel_335.telescope_number == 1
    assert channel_335.is_fuv is False
    assert channel_335.plate_scale.unit == u.sr / u.pix
    # 0.6 arcsec pixels: (0.6")^2 in sr; SolarSoft's value is that to 2e-6 (its float precision), so 1e-5.
    assert_quantity_allclose(channel_335.plate_scale, (0.6 * u.arcsec) ** 2 / u.pix, rtol=1e-5)
    assert "335" in repr(channel_335)


@pytest.mark.parametrize("channel", EUV_CHANNELS)
def test_effective_area_is_product_of_components(channel):
    c = Channel(channel)
    product = (
        c.geometrical_collecting_area
        * c.primary_reflectance
        * c.secondary_reflectance
        * c.focal_plane_filter_efficiency
        * c.entrance_filter_efficiency
        * c.quantum_efficiency
        * c.contamination
    )
    assert_quantity_allclose(c.effective_area, product, rtol=1e-14)  # same products, any order: rounding only
    assert c.effective_area.unit == u.cm**2


@pytest.mark.parametrize("channel", EUV_CHANNELS)
def test_effective_area_matches_solarsoft_effarea(channel):
    # The genx's own EFFAREA was computed by SolarSoft from the float32 components: float32 rounding, < 3e-7.
    with np.load(get_file("instrument_emissivity_v9"), allow_pickle=False) as npz:
        ssw = npz[f"A{channel.to_value(u.AA):.0f}_effarea"]
    np.testing.assert_allclose(Channel(channel).effective_area.value, ssw, rtol=3e-7, atol=1e-30)


@pytest.mark.parametrize(("channel", "partner"), [(94, 304), (304, 94), (131, 335), (335, 131)])
def test_crosstalk_pairs(channel, partner):
    c, p = Channel(channel * u.AA), Channel(partner * u.AA)
    expected = (
        p.geometrical_collecting_area
        * p.primary_reflectance
        * p.secondary_reflectance
        * c.focal_plane_filter_efficiency
        * p.entrance_filter_efficiency
        * p.quantum_efficiency
        * p.contamination
    )
    assert_quantity_allclose(c.crosstalk, expected, rtol=1e-14)  # rounding only
    assert c.crosstalk.max() > 0


@pytest.mark.parametrize("channel", [171, 193, 211] * u.AA)
def test_no_crosstalk_for_other_channels(channel):
    c = Channel(channel)
    assert np.all(c.crosstalk.value == 0)
    assert_quantity_allclose(c.wavelength_response(), c.wavelength_response(include_crosstalk=False), rtol=0)


def test_gain_formula_171():
    # ALGORITHMS.md 2: 171 A -> 72.5 eV/photon -> 19.86 e- -> 1.122 DN per photon (camera 3, 17.7 e-/DN).
    c = Channel(171 * u.AA)
    gain = np.interp(171.0, c.wavelength.value, c.gain.value)
    assert gain == pytest.approx(1.122, rel=5e-4)  # the check figure is given to 4 digits


@pytest.mark.parametrize(("version", "expected"), [(8, 1.01403862), (10, 0.9548415)])
def test_eve_correction_94(version, expected):
    # PEER-API 3.2 D, printed to 8 and 7 digits.
    result = Channel(94 * u.AA).eve_correction(T2015, calibration_version=version)
    assert_quantity_allclose(result, expected, rtol=1e-7)
    assert result.shape == ()


def _evenorm_rows():
    table = astropy_ascii.read(REFERENCE)
    # V6 rows need the V6 response table, which aiapy does not bundle.
    return [row for row in table if row["effarea_version"] in (8, 10)]


@pytest.mark.parametrize(
    "row", _evenorm_rows(), ids=lambda r: f"V{r['effarea_version']}-{r['channel']}-{r['sampletime'][:10]}"
)
def test_eve_correction_matches_solarsoft(row):
    channel = int(row["channel"][1:]) * u.AA
    result = Channel(channel).eve_correction(Time(row["sampletime"]), calibration_version=int(row["effarea_version"]))
    # 1e-5: the target; IDL interpolates in single precision (we agree to ~1e-6).
    assert_quantity_allclose(result, row["AIA_OVER_EVE"], rtol=1e-5)


def test_eve_correction_array_of_times():
    times = Time(["2011-01-01", "2015-01-01", "2020-01-01"])
    result = Channel(193 * u.AA).eve_correction(times)
    assert result.shape == (3,)
    np.testing.assert_allclose(result.value, Channel(193 * u.AA).eve_correction(times[1]).value, rtol=1e-15)


def test_wavelength_response_components():
    c = Channel(94 * u.AA)
    expected = (c.effective_area + c.crosstalk) * c.gain
    assert_quantity_allclose(c.wavelength_response(), expected, rtol=1e-15)  # rounding only
    assert c.wavelength_response().unit == u.cm**2 * u.DN / u.ph
    no_blend = c.wavelength_response(include_crosstalk=False)
    assert_quantity_allclose(no_blend, c.effective_area * c.gain, rtol=1e-15)
    assert np.any(no_blend < c.wavelength_response())


def test_wavelength_response_time_and_eve():
    c = Channel(335 * u.AA)
    base = c.wavelength_response()
    with_time = c.wavelength_response(obstime=T2015)
    factor = degradation(335 * u.AA, T2015)
    assert_quantity_allclose(with_time, base * factor, rtol=1e-15)
    with_eve = c.wavelength_response(obstime=T2015, include_eve_correction=True)
    assert_quantity_allclose(with_eve, base * factor * c.eve_correction(T2015), rtol=1e-15)
    # Issue 12: without a time the EVE normalisation is refused (it used to take 2010-05-01 silently);
    # SolarSoft's default epoch is asked for explicitly.
    with pytest.raises(ValueError, match="obstime.*REFERENCE_TIME"):
        c.wavelength_response(include_eve_correction=True)
    assert_quantity_allclose(c.eve_correction(REFERENCE_TIME), c.eve_correction(Time("2010-05-01")), rtol=0)
    v8 = c.wavelength_response(obstime=T2015, calibration_version=8)
    # PEER-API 3.2 C: 335 A, V8, 2015-01-01.
    assert_quantity_allclose(v8, base * 0.2577904624277457, rtol=1e-12)


def test_wavelength_response_array_of_times():
    c = Channel(171 * u.AA)
    times = Time(["2012-01-01", "2016-06-01"])
    result = c.wavelength_response(obstime=times, include_eve_correction=True)
    assert result.shape == (2, c.wavelength.size)
    for i, time in enumerate(times):
        assert_quantity_allclose(result[i], c.wavelength_response(obstime=time, include_eve_correction=True), rtol=0)


def test_does_not_mutate_bundled_data():
    c = Channel(171 * u.AA)
    with pytest.raises(ValueError, match="read-only"):
        c._data["wave"][0] = 0
    assert Channel(171 * u.AA).wavelength[0] == 25 * u.AA


# Instrument files ---------------------------------------------------------------------------------------
def test_genx_file_matches_bundled(genx_file):
    from_file = Channel(94 * u.AA, instrument_file=genx_file)
    bundled = Channel(94 * u.AA)
    assert_quantity_allclose(from_file.wavelength_response(), bundled.wavelength_response(), rtol=0)
    assert_quantity_allclose(from_file.crosstalk, bundled.crosstalk, rtol=0)
    assert_quantity_allclose(Channel(94 * u.AA, instrument_file=str(genx_file)).gain, bundled.gain, rtol=0)


def test_mapping_instrument_file(make_structure):
    mapping = make_structure(("171",))
    mapping["SAVEGEN0"]["A171_FULL"]["GEOAREA"] = 41.5  # halve the area
    c = Channel(171 * u.AA, instrument_file=mapping)
    assert_quantity_allclose(c.effective_area, Channel(171 * u.AA).effective_area / 2, rtol=1e-15)


def test_fuv_from_instrument_file_without_contamination():
    # An FUV-like structure: no CONTAM (as the SolarSoft FUV file); contamination is then 1.
    wave = np.linspace(1500, 1800, 31)
    structure = {
        "A1600_FULL": {
            "WAVE": wave, "PRIMARY": np.full(31, 0.5), "SECONDARY": np.full(31, 0.5), "FP_FILTER": np.full(31, 0.2),
            "ENT_FILTER": np.full(31, 0.4), "CCD": np.full(31, 0.1), "GEOAREA": 83.0, "PLATESCALE": 8.46e-12,
            "ELECPEREV": 1 / 3.65, "ELECPERDN": 17.7,
        }
    }  # fmt: skip
    c = Channel(1600 * u.AA, instrument_file=structure)
    assert c.is_fuv
    assert_quantity_allclose(c.contamination, [1.0])
    assert_quantity_allclose(c.effective_area, 83.0 * 0.5 * 0.5 * 0.2 * 0.4 * 0.1 * u.cm**2 * np.ones(31))
    assert np.all(c.crosstalk.value == 0)


# Bad inputs ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("channel", [95 * u.AA, 171 * u.s])
def test_unknown_channel(channel):
    with pytest.raises(ValueError, match="not in list of valid channels"):
        Channel(channel)


def test_channel_not_quantity():
    with pytest.raises(TypeError, match="Quantity"):
        Channel(171)


@pytest.mark.parametrize("channel", FUV_CHANNELS)
def test_fuv_without_instrument_file_offline(channel):
    # Issue 13: the FUV file is fetched; offline (the autouse fixture's closed port) the error names it.
    with pytest.raises(RemoteUnavailableError, match="aia_V8_fuv_fullinst.genx.*instrument_file="):
        Channel(channel)


def test_missing_instrument_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Channel(94 * u.AA, instrument_file=tmp_path / "missing.genx")


def test_instrument_file_not_genx(tmp_path):
    bad = tmp_path / "bad.genx"
    bad.write_bytes(b"not a genx file at all")
    with pytest.raises(ValueError, match="could not be read as a SolarSoft genx file"):
        Channel(94 * u.AA, instrument_file=bad)


def test_instrument_file_wrong_type():
    with pytest.raises(TypeError, match="instrument_file must be"):
        Channel(94 * u.AA, instrument_file=42)


def test_instrument_file_without_channel(genx_file):
    with pytest.raises(ValueError, match="no A171_FULL structure"):
        Channel(171 * u.AA, instrument_file=genx_file)


def test_instrument_file_missing_keys(make_structure, make_genx):
    structure = make_structure(("171",))
    del structure["SAVEGEN0"]["A171_FULL"]["CCD"]
    path = make_genx("no_ccd.genx", structure)
    with pytest.raises(ValueError, match="lacks ccd"):
        Channel(171 * u.AA, instrument_file=path)


def test_instrument_file_bad_shape(make_structure):
    structure = make_structure(("171",))
    structure["SAVEGEN0"]["A171_FULL"]["CCD"] = np.ones(10)
    with pytest.raises(ValueError, match="ccd"):
        Channel(171 * u.AA, instrument_file=structure)


def test_crosstalk_needs_partner(make_structure):
    c = Channel(94 * u.AA, instrument_file=make_structure(("94",)))
    with pytest.raises(ValueError, match="no A304_FULL structure"):
        c.wavelength_response()
    assert c.wavelength_response(include_crosstalk=False).unit == u.cm**2 * u.DN / u.ph


@pytest.mark.parametrize("obstime", [Time("2009-01-01"), Time("2031-01-01")])
def test_obstime_outside_table(obstime):
    c = Channel(94 * u.AA)
    with pytest.raises(ValueError, match="No valid calibration epoch"):
        c.eve_correction(obstime)
    with pytest.raises(ValueError, match="No valid calibration epoch"):
        c.wavelength_response(obstime=obstime)


def test_no_obstime_is_an_error_never_a_guess():
    c = Channel(94 * u.AA)
    with pytest.raises(ValueError, match="eve_correction needs obstime"):
        c.eve_correction(None)
    with pytest.raises(ValueError, match="include_eve_correction=True.*never assumes a date"):
        c.wavelength_response(include_eve_correction=True, include_crosstalk=False)
    # Without the EVE flag no date is needed: the pre-launch response, no degradation.
    assert c.wavelength_response().unit == u.cm**2 * u.DN / u.ph


def test_obstime_wrong_type():
    c = Channel(94 * u.AA)
    with pytest.raises(TypeError, match="obstime"):
        c.eve_correction("2015-01-01")
    with pytest.raises(TypeError, match="obstime"):
        c.wavelength_response(obstime="2015-01-01")


def test_missing_calibration_version():
    with pytest.raises(ValueError, match="version 6"):
        Channel(94 * u.AA).eve_correction(T2015, calibration_version=6)
