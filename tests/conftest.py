"""Fixtures shared by the whole test suite."""

import matplotlib
import numpy as np
import pytest
import sunpy.map

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _isolated_network_settings(monkeypatch, tmp_path_factory):
    """
    No test reaches the internet or the user's cache: remote services point at a closed local port
    (tests that need a server use the ``loopback_jsoc`` fixture, which overrides these), the cache is a
    temporary directory of the test's own (no test sees what another cached) and no user config file is read.
    """
    dead = "http://127.0.0.1:9/"  # the discard port: nothing listens there, connections are refused
    monkeypatch.setenv("AIAPY_CONFIG", str(tmp_path_factory.getbasetemp() / "no-such-aiapy.cfg"))
    monkeypatch.setenv("AIAPY_JSOC_URL", dead)
    monkeypatch.setenv("AIAPY_SSW_MIRRORS", dead)
    monkeypatch.setenv("AIAPY_POINTING_URL", dead + "aia_pointing_table.csv")
    monkeypatch.setenv("AIAPY_CACHE_DIR", str(tmp_path_factory.mktemp("aiapy-cache")))  # one per test
    monkeypatch.setenv("AIAPY_NET_BACKOFF", "0.01")  # refused connections: retries without waiting seconds


@pytest.fixture
def non_aia_map():
    """A small, valid helioprojective map from another instrument."""
    meta = {
        "cdelt1": 2.0, "cdelt2": 2.0, "cunit1": "arcsec", "cunit2": "arcsec",
        "ctype1": "HPLN-TAN", "ctype2": "HPLT-TAN", "crpix1": 8.5, "crpix2": 8.5, "crval1": 0.0, "crval2": 0.0,
        "telescop": "RHESSI", "instrume": "RHESSI", "date-obs": "2011-02-15T00:00:00", "exptime": 4.0,
        "dsun_obs": 1.496e11, "hgln_obs": 0.0, "hglt_obs": 0.0, "wavelnth": 171, "waveunit": "angstrom",
        "lvl_num": 1.0,
    }  # fmt: skip
    return sunpy.map.Map(np.ones((16, 16)), meta)


# ---- Loopback JSOC (aiapy.net tests; see tests/loopback_jsoc.py) ----


@pytest.fixture(scope="session")
def _loopback_jsoc_server():
    from loopback_jsoc import LoopbackJSOC  # imported here: builds its data only when a test needs it

    server = LoopbackJSOC().start()
    yield server
    server.stop()


@pytest.fixture
def loopback_jsoc(_loopback_jsoc_server, monkeypatch, tmp_path):
    """
    A real HTTP server on 127.0.0.1 answering as the JSOC, the SSW mirrors and the LMSAL pointing mirror,
    with aiapy's network settings pointed at it: an empty cache in ``tmp_path``, 2 s timeouts, 2 retries
    with 10 ms back-off. Faults are injected with ``loopback_jsoc.inject(path_prefix, "500", ...)``.
    """
    server = _loopback_jsoc_server
    server.faults.clear()
    server.requests.clear()
    monkeypatch.setenv("AIAPY_CONFIG", str(tmp_path / "no-such-aiapy.cfg"))
    monkeypatch.setenv("AIAPY_JSOC_URL", server.url)
    monkeypatch.setenv("AIAPY_SSW_MIRRORS", ",".join(server.mirrors))
    monkeypatch.setenv("AIAPY_POINTING_URL", server.pointing_url)
    monkeypatch.setenv("AIAPY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AIAPY_NET_TIMEOUT", "2")
    monkeypatch.setenv("AIAPY_NET_RETRIES", "2")
    monkeypatch.setenv("AIAPY_NET_BACKOFF", "0.01")
    yield server
    server.faults.clear()
