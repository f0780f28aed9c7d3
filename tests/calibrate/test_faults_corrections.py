"""Faults of issue 12 (items 2 and 4) and issue 17 for the corrections: each refused with a typed error naming the
cause, or corrected; warnings name the caller's line; float16 follows the one dtype rule.

The maps are the real bundled level-1 files; the spikes files are the bundled constructed one, written with
the keywords a JSOC export carries.
"""

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.io import fits
from astropy.time import Time

from aiapy.calibrate import correct_degradation, degradation, fetch_spikes, normalize_exposure, respike
from aiapy.calibrate.spikes import read_spikes_file
from aiapy.data import get_file, sample
from aiapy.pipeline import prep_files, read_output
from aiapy.utils.exceptions import AIApyMetadataWarning, AIApyUserWarning
from aiapy.utils.maps import Division, check_level1, divide_map, observation_time

BUNDLED_SPIKES = get_file("spikes_171_full_frame_constructed")


def _without(smap, *keys):
    meta = smap.meta.copy()
    for key in keys:
        meta.pop(key.lower(), None)
    return smap._new_instance(smap.data, meta)


def _with(smap, updates):
    return smap._new_instance(smap.data, smap.meta.copy() | updates)


# ---- no observation time -> an error, never the clock (issue 12, item 2) ----


def test_no_date_is_an_error_not_today():
    flare = sample.flare_maps(171)[0]  # 2011-02-15: 0.993; "today" (2026) would give 0.740
    undated = _without(flare, "DATE-OBS", "T_OBS")
    with pytest.raises(KeyError, match="neither DATE-OBS nor T_OBS.*obstime="):
        correct_degradation(undated)
    # the explicit time remains possible, and is recorded
    given = correct_degradation(undated, obstime=Time(flare.meta["date-obs"]))
    expected = correct_degradation(flare)
    np.testing.assert_array_equal(given.data, expected.data)
    assert expected.data[0, 0] == pytest.approx(flare.data[0, 0] / 0.99267872, rel=1e-7)
    assert "2011-02-15T01:44:12.346 given" in given.meta["history"]
    assert "2011-02-15T01:44:12.346 from the header" in expected.meta["history"]


def test_missing_date_obs_uses_t_obs_with_a_warning():
    flare = sample.flare_maps(171)[0]
    with pytest.warns(AIApyMetadataWarning, match="DATE-OBS is missing.*T_OBS = 2011-02-15T01:44:13.347"):
        corrected = correct_degradation(_without(flare, "DATE-OBS"))
    # T_OBS is mid-exposure, 1 s after DATE-OBS: the factor differs by ~1e-9
    np.testing.assert_allclose(corrected.data, correct_degradation(flare).data, rtol=1e-7)


def test_unreadable_date_is_named():
    flare = sample.flare_maps(171)[0]
    with pytest.raises(ValueError, match="DATE-OBS = 'yesterday-ish'"):
        correct_degradation(_with(flare, {"date-obs": "yesterday-ish"}))


def test_bad_explicit_obstime_and_prefer():
    flare = sample.flare_maps(171)[0]
    with pytest.raises(TypeError, match="scalar astropy Time"):
        correct_degradation(flare, obstime="2011-02-15")
    with pytest.raises(TypeError, match="scalar astropy Time"):
        correct_degradation(flare, obstime=Time(["2011-02-15", "2011-02-16"]))
    with pytest.raises(ValueError, match="prefer must be one of"):
        observation_time(flare, function="test", prefer="DATE-BEG")


def test_degradation_needs_obstime():
    flare = sample.flare_maps(171)[0]
    with pytest.raises(TypeError, match="obstime must be an astropy Time, not NoneType"):
        degradation(171 * u.AA, None)
    with pytest.raises(TypeError, match="observation_time"):
        degradation(171 * u.AA, flare)
    assert degradation(171 * u.AA, observation_time(flare, function="test")).value[0] == pytest.approx(0.99267872)


def test_fetch_spikes_without_time_asks_nothing(loopback_jsoc):
    undated = _without(sample.load_map("aia_171_cutout"), "DATE-OBS", "T_OBS")
    with pytest.raises(KeyError, match="fetch_spikes needs the observation time"):
        fetch_spikes(undated)
    assert not loopback_jsoc.requests  # refused before any query (sunpy would have asked for "now")


# ---- corrections recorded and refused a second time (issue 12, item 4) ----


@pytest.mark.parametrize(
    ("correction", "flag"),
    [(correct_degradation, "DEGCORR"), (normalize_exposure, "EXPNORM")],
    ids=["degradation", "exposure"],
)
def test_second_application_is_refused(correction, flag):
    smap = sample.load_map("aia_171_cutout")
    once = correction(smap)
    assert once.meta[flag.lower()] is True and f"{correction.__name__}: divided by" in once.meta["history"]
    with pytest.raises(ValueError, match=f"{correction.__name__} was already applied to this map \\({flag} = T\\)"):
        correction(once)
    # the other correction still applies (order does not matter), and keeps the first flag
    other = normalize_exposure if correction is correct_degradation else correct_degradation
    both = other(once)
    assert both.meta[flag.lower()] is True


def test_respike_twice_is_refused():
    smap = sample.full_frame_171()
    once = respike(smap, spikes=BUNDLED_SPIKES)
    assert once.meta["respiked"] is True
    with pytest.raises(ValueError, match=r"respike was already applied to this map \(RESPIKED = T\)"):
        respike(once, spikes=BUNDLED_SPIKES)


def test_history_of_an_older_aiapy_counts():
    smap = sample.load_map("aia_171_cutout")
    old = _with(smap, {"history": "aiapy 0.9.0: correct_degradation: divided by 0.88430512 (calibration version 10)"})
    with pytest.raises(ValueError, match="HISTORY 'aiapy 0.9.0: correct_degradation: divided by"):
        correct_degradation(old)
    normalize_exposure(old)  # another function's line does not count


def test_flags_survive_a_fits_file(tmp_path):
    smap = sample.flare_maps(171)[0]
    path = tmp_path / "corrected.fits"
    normalize_exposure(correct_degradation(smap)).save(path)
    assert fits.getheader(path)["DEGCORR"] is True
    back = sunpy.map.Map(path)
    with pytest.raises(ValueError, match="DEGCORR = T"):
        correct_degradation(back)
    with pytest.raises(ValueError, match="EXPNORM = T"):
        normalize_exposure(back)


def test_pipeline_outputs_cannot_be_corrected_again(tmp_path):
    """The pipeline divides in place through the same Divisions: its outputs carry the same flags."""
    source = next(path for path in sample.FLARE_FILES if path.name.endswith("_171.fits"))
    level1 = tmp_path / source.name
    level1.write_bytes(source.read_bytes())
    report = prep_files([level1], tmp_path / "out", steps="degradation,exposure", uncertainty=True)
    assert report.ok
    smap, errors = read_output(report.results[0].output)
    for output in (smap, errors):
        assert output.meta["degcorr"] is True and output.meta["expnorm"] is True
    with pytest.raises(ValueError, match="correct_degradation was already applied"):
        correct_degradation(smap)
    with pytest.raises(ValueError, match="normalize_exposure was already applied"):
        normalize_exposure(smap)


# ---- spikes file of another image (issue 12, item 4) ----


def _spikes_file(path, keywords, *, in_primary=True, array=None):
    """The bundled spikes array (or ``array``) written with ``keywords`` in the primary or the data header."""
    if array is None:
        with fits.open(BUNDLED_SPIKES) as hdus:
            array = np.asarray(hdus[1].data)
    header = fits.Header(keywords)
    hdus = [fits.PrimaryHDU(header=header), fits.ImageHDU(array)] if in_primary else [
        fits.PrimaryHDU(), fits.ImageHDU(array, header=header)]  # fmt: skip
    fits.HDUList(hdus).writeto(path)
    return path


def _identity(smap, *keys):
    return {key: smap.meta[key.lower()] for key in keys}


def test_spikes_file_of_another_time_is_refused(tmp_path):
    """Issue 12's reproducer, with the keywords of a 2011 export: a 2013 cutout changed 218 pixels silently."""
    cutout = sample.load_map("aia_171_cutout")
    full = sample.full_frame_171()
    keywords = _identity(full, "T_OBS", "T_REC", "WAVELNTH") | {"NSPIKES": 3000}
    path = _spikes_file(tmp_path / "2011.spikes.fits", keywords)
    with pytest.raises(ValueError, match="not this image's: NSPIKES = 3000 \\(the map's is 366\\); T_OBS = 2011"):
        respike(cutout, spikes=path)
    with pytest.raises(ValueError, match="T_REC = 2011-02-15T00:00:01Z"):
        fetch_spikes(cutout, spikes_file=path)


def test_spikes_file_of_another_channel_or_frame_is_refused(tmp_path):
    full = sample.full_frame_171()
    same = _identity(full, "T_OBS", "DATE-OBS", "FSN")
    path = _spikes_file(tmp_path / "193.fits", same | {"WAVELNTH": 193}, in_primary=False)
    with pytest.raises(ValueError, match=r"WAVELNTH = 193 \(the map's is 171\)"):
        respike(full, spikes=path)
    path = _spikes_file(tmp_path / "fsn.fits", same | {"FSN": full.meta["fsn"] + 1})
    with pytest.raises(ValueError, match="FSN = 20781662"):
        respike(full, spikes=path)
    truncated = _spikes_file(tmp_path / "cut.fits", {"NSPIKES": 3001})
    with pytest.raises(ValueError, match="NSPIKES = 3001 but the file holds 3000 spikes"):
        respike(full, spikes=truncated)


def test_spikes_file_of_this_image_is_used(tmp_path):
    full = sample.full_frame_171()
    keywords = _identity(full, "T_OBS", "T_REC", "DATE-OBS", "WAVELNTH", "FSN")
    keywords["T_OBS"] = "2011-02-15T00:00:01.3Z"  # printed with fewer digits: still the same record
    path = _spikes_file(tmp_path / "same.fits", keywords)
    bare = respike(full, spikes=BUNDLED_SPIKES)
    np.testing.assert_array_equal(respike(full, spikes=path).data, bare.data)
    pixels, values = read_spikes_file(path)
    assert values.size == 3000 and pixels.x.unit == u.pix


# ---- warnings name the caller's line (issue 17) ----


def test_warnings_name_the_callers_line():
    flare = sample.flare_maps(171)[0]
    with pytest.warns(AIApyMetadataWarning, match="DATE-OBS is missing") as caught:
        correct_degradation(_without(flare, "DATE-OBS"))
    assert caught[0].filename == __file__
    with pytest.warns(AIApyMetadataWarning, match="no unit") as caught:
        normalize_exposure(_without(flare, "BUNIT", "PIXLUNIT"))
    assert caught[0].filename == __file__
    coarse = sample.load_map("aia_171_cutout").superpixel([2, 2] * u.pix)
    with pytest.warns(AIApyUserWarning, match="plate scale") as caught:
        respike(coarse, spikes=(sample.load_map("aia_171_cutout").wcs.pixel_to_world([], []), []))
    assert caught[0].filename == __file__
    with pytest.warns(AIApyUserWarning, match="already at level 1.5") as caught:
        check_level1(_with(flare, {"lvl_num": 1.5}), function="test", strict=False)
    assert caught[0].filename == __file__


# ---- float16 -> float32 (issue 17) ----


def test_float16_gives_float32():
    smap = sample.load_map("aia_171_cutout")
    half = smap._new_instance(smap.data.astype(np.float16), smap.meta.copy())
    single = smap._new_instance(half.data.astype(np.float32), smap.meta.copy())
    for function in (correct_degradation, normalize_exposure):
        result = function(half)
        assert result.data.dtype == np.float32
        np.testing.assert_array_equal(result.data, function(single).data)
    divided = divide_map(half, Division(3.0, "thirds"), in_place=True)
    assert divided.data.dtype == np.float32 and half.data.dtype == np.float16  # not in place: a new dtype
    full = sample.full_frame_171(dtype=np.float16)
    respiked = respike(full, spikes=BUNDLED_SPIKES)
    assert respiked.data.dtype == np.float32
    pixels, values = read_spikes_file(BUNDLED_SPIKES)
    x, y = pixels.x.to_value(u.pix).astype(int), pixels.y.to_value(u.pix).astype(int)
    assert values.max() > 2048  # above float16's exact integers: float32 keeps them
    np.testing.assert_array_equal(respiked.data[y, x], values)
