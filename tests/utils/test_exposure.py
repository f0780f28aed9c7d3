"""`aiapy.utils.is_short_exposure` on every bundled 2011-02-15 flare frame."""

import astropy.units as u
import pytest
import sunpy.map

from aiapy.calibrate import normalize_exposure
from aiapy.data import sample
from aiapy.utils import is_short_exposure

#: The frames the automatic exposure control shortened (EXPTIME against 2.0 s for 171/193, 2.9 s otherwise).
SHORT = {
    "131": ["01-50-11", "01-52-13", "01-54-13", "01-56-13", "01-58-13", "02-00-12", "02-02-13"],
    "171": ["01-50-14", "01-52-14", "01-58-14", "02-00-14"],
    "193": ["01-50-10", "01-52-10", "01-54-10", "01-56-09", "01-58-10", "02-00-10", "02-02-10"],
    "335": ["02-00-06", "02-02-05"],
}


def _name(smap):
    """The bundled file's registry name part ``HH-MM-SS`` of the frame (from DATE-OBS, as the file names)."""
    return smap.meta["date-obs"][11:19].replace(":", "-")


def test_every_frame():
    checked = 0
    for channel in (94, 131, 171, 193, 211, 335):
        for smap in sample.flare_maps(channel):
            expected = _name(smap) in SHORT.get(f"{channel:03d}", [])
            assert is_short_exposure(smap) is expected, (channel, _name(smap), smap.exposure_time)
            checked += 1
    assert checked == 60
    assert sum(len(names) for names in SHORT.values()) == 20


def test_aec_keywords_do_not_say_short():
    # AECTYPE = 2 on short and nominal frames alike: the keywords are not the rule (see the module notes)
    frames = [smap for channel in (131, 171, 193, 335) for smap in sample.flare_maps(channel)]
    aec = [smap for smap in frames if smap.meta["aectype"] == 2]
    assert any(is_short_exposure(smap) for smap in aec) and not all(is_short_exposure(smap) for smap in aec)
    assert not any(is_short_exposure(smap) for smap in frames if smap.meta["aectype"] == 0)


def test_refusals(non_aia_map):
    smap = sample.load_map("flare_2011-02-15T01-44-09_131")
    with pytest.raises(TypeError, match="AIA map"):
        is_short_exposure(non_aia_map)
    with pytest.raises(ValueError, match="normalised"):
        is_short_exposure(normalize_exposure(smap))
    meta = smap.meta.copy()
    meta["wavelnth"] = 1600
    meta["waveunit"] = "angstrom"
    uv = sunpy.map.Map(smap.data, meta)
    with pytest.raises(ValueError, match="nominal="):
        is_short_exposure(uv)
    assert is_short_exposure(uv, nominal=4.0 * u.s) is True  # 2.9 s < 0.8 x 4 s
    assert is_short_exposure(uv, nominal=3000 * u.ms) is False  # 2.9 s >= 0.8 x 3 s
    with pytest.raises(TypeError, match="nominal"):
        is_short_exposure(uv, nominal=3.0)
