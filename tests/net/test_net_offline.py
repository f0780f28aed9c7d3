"""No server at all, and the SDO position from the loopback JSOC."""

import socket
import time

import astropy.units as u
import pytest
from astropy.time import Time

import aiapy.calibrate.utils
from aiapy.calibrate import update_pointing
from aiapy.data import sample
from aiapy.net import NoDataError, RemoteUnavailableError
from aiapy.utils import sdo_location


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """aiapy pointed at local ports where nothing answers: one refuses connections, one never replies."""
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))
    refused_port = refused.getsockname()[1]
    refused.close()  # nothing listens there any more: connections are refused
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections into the backlog but never answers
    monkeypatch.setenv("AIAPY_CONFIG", str(tmp_path / "none.cfg"))
    monkeypatch.setenv("AIAPY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AIAPY_NET_TIMEOUT", "0.5")
    monkeypatch.setenv("AIAPY_NET_RETRIES", "1")
    monkeypatch.setenv("AIAPY_NET_BACKOFF", "0.01")
    yield {"refused": f"http://127.0.0.1:{refused_port}/", "silent": f"http://127.0.0.1:{silent.getsockname()[1]}/"}
    silent.close()


@pytest.mark.parametrize("server", ["refused", "silent"])
def test_update_pointing_without_server_fails_fast_naming_alternatives(offline, server, monkeypatch):
    monkeypatch.setenv("AIAPY_JSOC_URL", offline[server])
    smap = sample.load_map("aia_171_cutout")
    t = Time(smap.meta["t_obs"].rstrip("Z"), scale="utc")
    bundled_loader = aiapy.calibrate.utils.get_pointing_table
    # Force update_pointing's default table to the remote JSOC source.
    monkeypatch.setattr(
        aiapy.calibrate.utils, "get_pointing_table",
        lambda: bundled_loader("jsoc", time_range=[t - 3 * u.h, t + 3 * u.h]),
    )  # fmt: skip
    start = time.monotonic()
    with pytest.raises(RemoteUnavailableError) as info:
        update_pointing(smap)
    # Two attempts of at most 0.5 s (timeout) each; 5 s leaves room for a loaded 2-core machine.
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert offline[server] in message
    assert "pointing_table=" in message
    assert "get_pointing_table()" in message


def _position(smap):
    return u.Quantity([smap.meta[k] for k in ("haex_obs", "haey_obs", "haez_obs")], u.m)


def test_sdo_location_interpolates_served_positions(loopback_jsoc):
    maps = sorted(sample.flare_maps(), key=lambda m: m.meta["t_obs"])
    first, second = maps[3], maps[4]  # two real records about 2 s apart (193 and 131 A)
    t1, t2 = (Time(m.meta["t_obs"].rstrip("Z"), scale="utc") for m in (first, second))
    assert 0 * u.s < t2 - t1 < 3 * u.s
    # At a record's own T_OBS the interpolation returns that record's position.
    location = sdo_location(t1)
    assert u.allclose(u.Quantity(location.cartesian.xyz), _position(first), rtol=1e-12)
    # Halfway between them, the midpoint of the two positions. 1 km: SDO moves ~3 km/s and other records
    # within the 6 s window join the interpolation, but over seconds its path is straight to < 10 m;
    # the headers give positions to ~1 m.
    middle = sdo_location(t1 + (t2 - t1) / 2)
    expected = (_position(first) + _position(second)) / 2
    assert u.allclose(u.Quantity(middle.cartesian.xyz), expected, atol=1 * u.km, rtol=0)
    assert middle.frame.name == "heliocentricmeanecliptic"


def test_sdo_location_no_record(loopback_jsoc):
    with pytest.raises(NoDataError, match="No data found"):
        sdo_location("2020-01-01T00:00:00")
    with pytest.raises(ValueError, match="single time"):
        sdo_location(Time(["2011-02-15T01:44:00", "2011-02-15T01:45:00"]))
