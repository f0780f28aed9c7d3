"""fetch_spikes / respike on real level-1 maps with spikes served by the loopback JSOC.

The spikes are CONSTRUCTED in the real segment layout (see tests/loopback_jsoc.py): real spikes files are
not available offline.
"""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from loopback_jsoc import build_spikes, map_offset, spikes_fits_bytes

from aiapy.calibrate import fetch_spikes, respike
from aiapy.calibrate.spikes import read_spikes_file
from aiapy.data import get_file, sample
from aiapy.utils.exceptions import AIApyUserWarning

FRAME = 4096


def _served(server, smap):
    """Served (x, y, value) of the spikes that fall on ``smap``, in its pixel frame."""
    array = server.spikes[smap.reference_date.isot]
    y, x = np.unravel_index(array[0], (FRAME, FRAME))
    ox, oy = map_offset(smap)
    x, y = x - ox, y - oy
    ny, nx = smap.data.shape
    on = (x >= 0) & (x < nx) & (y >= 0) & (y < ny)
    return x[on], y[on], array[1][on]


def _check_respiked(original, respiked, x, y, values):
    assert x.size > 0
    data = np.asarray(respiked.data)
    assert np.array_equal(data[y, x], values)
    changed = np.zeros(original.data.shape, bool)
    changed[y, x] = True
    assert np.array_equal(data[~changed], np.asarray(original.data)[~changed])
    assert respiked.meta["lvl_num"] == 0.5
    assert respiked.meta["nspikes"] == 0
    assert respiked.meta["comments"] == f"Respike applied; {values.size} hot pixels reinserted."
    assert "respike" in respiked.meta["history"]
    assert original.meta["lvl_num"] == 1.0  # input untouched


def test_respike_full_frame_restores_served_values(loopback_jsoc):
    smap = sample.full_frame_171()
    x, y, values = _served(loopback_jsoc, smap)
    assert values.size == smap.meta["nspikes"]
    respiked = respike(smap)
    assert respiked.data.dtype == smap.data.dtype  # int16 kept: every value fits
    _check_respiked(smap, respiked, x, y, values)


def test_respike_real_cutout_restores_served_values(loopback_jsoc):
    smap = sample.load_map("aia_171_cutout")
    x, y, values = _served(loopback_jsoc, smap)
    assert values.size == smap.meta["nspikes"]  # the 500 served spikes off the cutout are dropped
    coords, fetched = fetch_spikes(smap)
    assert np.array_equal(np.round(coords.x.to_value(u.pix)), x)
    _check_respiked(smap, respike(smap, spikes=(coords, fetched)), x, y, values)


def test_respike_submap_of_full_frame(loopback_jsoc):
    full = sample.full_frame_171()
    cut = full.submap([1500, 1800] * u.pix, top_right=[2199, 2299] * u.pix)
    x, y, values = _served(loopback_jsoc, cut)
    _check_respiked(cut, respike(cut), x, y, values)
    sky, _ = fetch_spikes(cut, as_coords=True)
    assert isinstance(sky, SkyCoord)
    px, py = cut.world_to_pixel(sky)
    # Pixel -> world -> pixel round trip through the WCS: 1e-6 px is far below the 0.5 px rounding.
    assert np.allclose(px.to_value(u.pix), x, atol=1e-6)
    assert np.allclose(py.to_value(u.pix), y, atol=1e-6)


def test_respike_sequence_uses_one_query(loopback_jsoc):
    maps = sample.flare_maps(171)
    results = respike(maps)
    queries = [r for r in loopback_jsoc.requests if "op=rs_list" in r]
    assert len(queries) == 1
    for smap, result in zip(maps, results, strict=True):
        _check_respiked(smap, result, *_served(loopback_jsoc, smap))


def test_respike_offline_with_bundled_file():
    smap = sample.full_frame_171()
    path = get_file("spikes_171_full_frame_constructed")
    pixels, values = read_spikes_file(path)
    assert values.size == 3000
    # Provenance: the bundled file is exactly what the documented construction gives.
    expected = build_spikes(np.asarray(smap.data), (0, 0), count=3000, seed=20110215, rows=2)
    assert np.array_equal(expected[1], values)
    assert np.array_equal(
        expected[0],
        np.ravel_multi_index(
            (pixels.y.to_value(u.pix).astype(int), pixels.x.to_value(u.pix).astype(int)), (FRAME, FRAME)
        ),
    )
    respiked = respike(smap, spikes=path)
    x, y = pixels.x.to_value(u.pix).astype(int), pixels.y.to_value(u.pix).astype(int)
    _check_respiked(smap, respiked, x, y, values)
    # the statistics include the reinserted spikes (they raise the maximum)
    assert respiked.meta["datamax"] == float(respiked.data.max()) > float(smap.data.max())


def test_respike_promotes_int_when_values_do_not_fit(tmp_path):
    smap = sample.load_map("aia_171_cutout")
    smap = smap._new_instance(np.asarray(smap.data).astype(np.int16), smap.meta.copy())
    ox, oy = map_offset(smap)
    array = np.array([[(oy + 3) * FRAME + ox + 5], [40000]], dtype=np.int32)
    path = tmp_path / "spikes.fits"
    path.write_bytes(spikes_fits_bytes(array))
    result = respike(smap, spikes=path)
    assert result.data.dtype == np.int32
    assert result.data[3, 5] == 40000


def test_respike_checks(non_aia_map):
    smap = sample.load_map("aia_171_cutout")
    with pytest.raises(TypeError, match="AIA map"):
        respike(non_aia_map)
    level15 = smap._new_instance(smap.data, smap.meta.copy() | {"lvl_num": 1.5})
    with pytest.raises(ValueError, match="level-1"):
        respike(level15, spikes=(None, None))
    none = smap._new_instance(smap.data, smap.meta.copy() | {"nspikes": 0})
    with pytest.raises(ValueError, match="No spikes"):
        respike(none, spikes=(None, None))
    coarse = smap.superpixel([2, 2] * u.pix)
    with pytest.warns(AIApyUserWarning, match="plate scale"), pytest.raises(ValueError, match="No spikes"):
        respike(coarse._new_instance(coarse.data, coarse.meta.copy() | {"nspikes": 0}))
    with pytest.raises(ValueError, match="one entry per map"):
        respike([smap, smap], spikes=[(None, None)])


def test_read_spikes_file_rejects_other_layouts(tmp_path):
    path = tmp_path / "bad.fits"
    path.write_bytes(spikes_fits_bytes(np.zeros((4, 3), np.int32)))
    with pytest.raises(ValueError, match="not a spikes file"):
        read_spikes_file(path)
    path.write_bytes(spikes_fits_bytes(np.array([[FRAME * FRAME], [1]], np.int32)))
    with pytest.raises(ValueError, match="outside"):
        read_spikes_file(path)


def test_fetch_spikes_no_record(loopback_jsoc):
    smap = sample.load_map("aia_171_cutout")
    loopback_jsoc.inject("/cgi-bin/ajax/jsoc_info", "empty")
    from aiapy.net import NoDataError

    with pytest.raises(NoDataError):
        fetch_spikes(smap)
    with pytest.raises(ValueError, match="single map"):
        fetch_spikes([smap], spikes_file="x.fits")
