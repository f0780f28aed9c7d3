"""Desaturation: eight synthetic flares against their truth, the real cutouts' refusal, provenance."""

import astropy.units as u
import aiapy.psf._desaturate
import numpy as np
import pytest
import sunpy.map
from scipy import ndimage

from aiapy.calibrate import saturation_mask
from aiapy.data import sample
from aiapy.psf import calculate_psf, desaturate
from aiapy.psf._desaturate import desaturate_array
from aiapy.utils import PixelFlag
from aiapy.utils.exceptions import AIApyUserWarning

from .synthetic_flares import FLARES, make_flare


@pytest.fixture(scope="module")
def flares():
    """The eight synthetic flares, each desaturated once: (flare, flagged, result)."""
    out = []
    for spec in FLARES:
        flare = make_flare(*spec)
        out.append((flare, saturation_mask(flare.smap), desaturate(flare.smap)))
    return out


def test_synthetic_flares_recovered(flares):
    rows = []
    for flare, flagged, result in flares:
        true = flare.truth[flagged].astype(float)
        found = result.data[flagged].astype(float)
        left = flare.smap.data[flagged].astype(float)
        rows.append(
            (
                flare.peak_ratio,
                int(flagged.sum()),
                found.sum() / true.sum() - 1,
                np.abs(found - true).sum() / true.sum(),
                np.abs(left - true).sum() / true.sum(),
            )
        )
    print("\npeak/full well  flagged px  flux error  L1/flux  (L1 left saturated)")
    for peak, count, flux, l1, l1_left in rows:
        print(f"{peak:13.0f}x {count:11d} {flux:+10.3%} {l1:8.3f}  ({l1_left:.3f})")
    table = np.array(rows)
    print(f"median: flux {np.median(table[:, 2]):+.3%}, L1 {np.median(table[:, 3]):.3f}")
    assert 150 <= table[:, 1].min() and table[:, 1].max() <= 5000
    assert abs(np.median(table[:, 2])) <= 0.05
    assert np.all(np.abs(table[:, 2]) <= 0.10)
    assert np.median(table[:, 3]) <= 0.30
    assert np.all(table[:, 3] <= 0.45)
    # and much better than leaving the pixels saturated
    assert np.all(table[:, 3] < 0.75 * table[:, 4])


def test_pixels_away_from_the_flagged_ones_unchanged(flares):
    for flare, flagged, result in flares:
        far = ndimage.distance_transform_edt(~flagged) > 3
        np.testing.assert_array_equal(result.data[far], flare.smap.data[far])
        assert not np.array_equal(result.data[flagged], flare.smap.data[flagged])


def test_provenance(flares):
    flare, flagged, result = flares[4]
    meta = result.meta
    replaced = result.data != flare.smap.data
    assert "desaturate:" in meta["history"]
    assert meta["desatnco"] + meta["desatnbl"] == flagged.sum()
    assert 0 < meta["desatnco"] < flagged.sum()
    assert meta["desatnsp"] > 0 and meta["desatnfr"] > 1000 and meta["desatncl"] > 0
    total = result.data[flagged].sum(dtype=float) + result.data[replaced & ~flagged].sum(dtype=float)
    assert meta["desattot"] == pytest.approx(total, rel=1e-3)
    core_gain = (result.data - flare.smap.data)[flagged].clip(min=0).sum(dtype=float)
    assert 0.5 * core_gain < meta["desatflx"] <= core_gain * 1.001
    assert np.isfinite(meta["desatcst"]) and meta["desatbkg"] > 0
    assert meta["keycomments"]["DESATFLX"].startswith("[DN]")
    assert meta["datamax"] == pytest.approx(float(result.data.max()))
    assert flare.smap.meta.get("desatflx") is None  # the input is not modified


def test_without_charge_conservation_the_fringes_alone_still_find_the_flux():
    flare = make_flare(*FLARES[3])
    flagged = saturation_mask(flare.smap)
    result = desaturate(flare.smap, charge_conservation=False)
    true = flare.truth[flagged].sum(dtype=float)
    assert result.meta["desatncl"] == 0
    # the fringes alone: flux within 35 % (charge conservation brings it to 1 %)
    assert abs(result.data[flagged].sum(dtype=float) / true - 1) < 0.35


def test_mask_argument_and_flags():
    flare = make_flare(*FLARES[0])
    flags = np.where(saturation_mask(flare.smap), np.uint8(PixelFlag.SATURATED), np.uint8(0))
    from_flags = desaturate(flare.smap, mask=flags)
    from_bool = desaturate(flare.smap, mask=flags != 0)
    np.testing.assert_array_equal(from_flags.data, from_bool.data)
    carried = desaturate(sunpy.map.Map(flare.smap.data, flare.smap.meta, mask=flags))
    np.testing.assert_array_equal(carried.data, from_flags.data)
    with pytest.raises(TypeError, match="mask must be"):
        desaturate(flare.smap, mask=flags[:10])


def test_no_saturated_pixels_returns_the_map_unchanged():
    flare = make_flare(*FLARES[0])
    quiet = sunpy.map.Map(np.minimum(flare.smap.data, 5000).astype(np.float32), flare.smap.meta)
    with pytest.warns(AIApyUserWarning, match="no saturated"):
        result = desaturate(quiet)
    np.testing.assert_array_equal(result.data, quiet.data)
    assert result.meta["desatnco"] == 0 and "nothing done" in result.meta["history"]


def test_real_cutout_refused_as_too_small():
    smap = sample.load_map("flare_2011-02-15T01-54-24_171")
    assert smap.data.shape == (67, 67)
    assert saturation_mask(smap).sum() > 1000
    with pytest.raises(ValueError, match=r"67 x 67 px, too small .* at least \d+ x \d+ px"):
        desaturate(smap)


def test_level_15_refused():
    flare = make_flare(*FLARES[0])
    meta = flare.smap.meta.copy()
    meta["lvl_num"] = 1.5
    with pytest.raises(ValueError, match="level-1"):
        desaturate(sunpy.map.Map(flare.smap.data, meta))


def test_bad_options():
    flare = make_flare(*FLARES[0])
    with pytest.raises(ValueError, match="iterations"):
        desaturate(flare.smap, iterations=0)
    with pytest.raises(ValueError, match="support_level"):
        desaturate(flare.smap, support_level=2.0)
    with pytest.raises(TypeError, match="charge_conservation"):
        desaturate(flare.smap, charge_conservation="yes")
    with pytest.raises(ValueError, match="twice the frame"):
        desaturate(flare.smap, psf=np.ones((512, 512)))
    with pytest.raises(TypeError, match="two-dimensional sunpy Map"):
        desaturate(flare.smap.data)


def test_fit_stays_finite_close_to_the_flagged_pixels():
    """Fitting pixels next to the bloom (a ring of 3 px) once drove the EM to overflow; now it stays finite."""
    flare = make_flare(*FLARES[7])
    flagged = saturation_mask(flare.smap)
    psf = calculate_psf(171 * u.AA, shape=(1024, 1024))
    diffraction = calculate_psf(171 * u.AA, shape=(1024, 1024), component="diffraction")
    result = desaturate_array(flare.smap.data, flagged, psf, diffraction, ring=3, dn_per_photon=1.13)
    assert np.all(np.isfinite(result.image))


def test_options_set():
    from aiapy.psf import DesaturateOptions

    options = DesaturateOptions(iterations=np.int64(30), support_level=0)
    assert options.as_dict() == {"iterations": 30, "charge_conservation": True, "support_level": 0.0}
    assert DesaturateOptions(support_level=None).support_level is None
    with pytest.raises(ValueError, match="support_level"):
        DesaturateOptions(support_level=True)
    with pytest.raises(ValueError, match="iterations"):
        DesaturateOptions(iterations=2.5)
    with pytest.raises(TypeError, match="charge_conservation"):
        DesaturateOptions(charge_conservation=1)


def test_large_frame_works_on_a_window_around_the_flare():
    flare = make_flare(*FLARES[2], shape=(1024, 1024))
    flagged = saturation_mask(flare.smap)
    result = desaturate(flare.smap)
    rows, cols = np.nonzero(flagged)
    margin = aiapy.psf._desaturate.WINDOW_MARGIN
    r0, r1 = rows.min() - margin, rows.max() + 1 + margin
    c0, c1 = cols.min() - margin, cols.max() + 1 + margin
    assert 0 < r0 and r1 < 1024 and 0 < c0 and c1 < 1024  # a window inside the frame
    crop = flare.smap.submap([c0, r0] * u.pix, top_right=[c1 - 1, r1 - 1] * u.pix)
    assert crop.data.shape == (r1 - r0, c1 - c0)
    np.testing.assert_array_equal(desaturate(crop).data, result.data[r0:r1, c0:c1])
    np.testing.assert_array_equal(result.data[:r0], flare.smap.data[:r0])
    true = flare.truth[flagged].sum(dtype=float)
    assert abs(result.data[flagged].sum(dtype=float) / true - 1) < 0.05
    assert np.abs(result.data - flare.truth)[flagged].sum() / true < 0.45
