"""Remote calibration sources through the loopback JSOC / SSW mirrors / LMSAL mirror (tests/loopback_jsoc.py)."""

import os
import time

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time

import aiapy.net
from aiapy.calibrate.utils import get_correction_table, get_error_table, get_pointing_table
from aiapy.data import DataIntegrityError, get_entry, get_file
from aiapy.net import NoDataError, RemoteUnavailableError, get_settings
from aiapy.net.jsoc import jsoc_time_to_isot
from aiapy.utils.exceptions import AIApyUserWarning

JSOC_INFO = "/cgi-bin/ajax/jsoc_info"
SSW_V10 = get_entry("correction_table_v10").ssw_path


def _cache_files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _assert_tables_equal(a, b):
    assert a.colnames == b.colnames
    assert len(a) == len(b)
    for name in a.colnames:
        if name in ("DATE", "T_START", "T_STOP"):
            assert np.all(a[name].isot == b[name].isot), name
        else:
            assert np.all(np.asarray(a[name]) == np.asarray(b[name])), name


def test_settings_precedence(monkeypatch, tmp_path):
    config = tmp_path / "aiapy.cfg"
    config.write_text("[net]\njsoc_url = http://file.example/\ntimeout = 7\nssw_mirrors = http://a/ http://b\n")
    monkeypatch.setenv("AIAPY_CONFIG", str(config))
    for name in ("AIAPY_JSOC_URL", "AIAPY_NET_TIMEOUT", "AIAPY_SSW_MIRRORS"):
        monkeypatch.delenv(name, raising=False)
    settings = get_settings()
    assert (settings.jsoc_url, settings.timeout, settings.ssw_mirrors) == (
        "http://file.example/",
        7.0,
        ("http://a/", "http://b/"),
    )
    monkeypatch.setenv("AIAPY_JSOC_URL", "http://env.example")
    assert get_settings().jsoc_url == "http://env.example/"
    assert get_settings(jsoc_url="http://arg.example/").jsoc_url == "http://arg.example/"
    with pytest.raises(ValueError, match="timeout"):
        get_settings(timeout="-1")
    with pytest.raises(TypeError, match="Unknown network setting"):
        get_settings(jsoc="x")


def test_correction_table_jsoc_has_all_versions(loopback_jsoc):
    table = get_correction_table("jsoc")
    assert set(table["VER_NUM"]) == {8, 10}
    _assert_tables_equal(table, get_correction_table())


def test_correction_and_error_tables_ssw_and_cache(loopback_jsoc):
    _assert_tables_equal(get_correction_table("ssw"), get_correction_table(get_file("correction_table_v10")))
    _assert_tables_equal(get_error_table("ssw"), get_error_table())
    requests = len(loopback_jsoc.requests)
    get_correction_table("SSW")  # served from the verified cache: no new request
    assert len(loopback_jsoc.requests) == requests
    cache = get_settings().cache_dir
    assert _cache_files(cache) == sorted(
        f"ssw/{get_entry(n).ssw_path}{s}" for n in ("correction_table_v10", "error_table_v3") for s in ("", ".sha256")
    )


def test_corrupt_cached_file_is_fetched_again(loopback_jsoc):
    path = aiapy.net.correction_table_ssw()
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])  # truncated on disk
    requests = len(loopback_jsoc.requests)
    assert aiapy.net.correction_table_ssw().read_bytes() == content
    assert len(loopback_jsoc.requests) == requests + 1


def test_http_500_is_retried(loopback_jsoc):
    loopback_jsoc.inject("/mirror0/", "500", "500")
    path = aiapy.net.correction_table_ssw()
    assert path.read_bytes() == get_file("correction_table_v10").read_bytes()
    assert [r for r in loopback_jsoc.requests if r.startswith("/mirror")] == [f"/mirror0/{SSW_V10}"] * 3


def test_truncated_body_is_retried_and_never_cached(loopback_jsoc):
    loopback_jsoc.inject("/mirror", "truncate")
    assert aiapy.net.correction_table_ssw().read_bytes() == get_file("correction_table_v10").read_bytes()
    # Every attempt on both mirrors truncated: a clear error, and nothing (not even a .part file) left behind.
    loopback_jsoc.inject("/mirror", *["truncate"] * 6)
    with pytest.raises(RemoteUnavailableError, match="get_error_table\\(\\)"):
        aiapy.net.error_table_ssw()
    assert not any("error_table" in name for name in _cache_files(get_settings().cache_dir))


def test_hash_mismatch_falls_back_to_next_mirror(loopback_jsoc):
    loopback_jsoc.inject("/mirror0/", "badhash")
    assert aiapy.net.correction_table_ssw().read_bytes() == get_file("correction_table_v10").read_bytes()
    assert loopback_jsoc.requests[-1] == f"/mirror1/{SSW_V10}"


def test_hash_mismatch_everywhere_is_an_integrity_error(loopback_jsoc):
    loopback_jsoc.inject("/mirror", "badhash", "badhash")
    with pytest.raises(DataIntegrityError, match="SHA-256"):
        aiapy.net.correction_table_ssw()
    assert _cache_files(get_settings().cache_dir) == []


def test_stalled_response_times_out_then_retries(loopback_jsoc, monkeypatch):
    monkeypatch.setenv("AIAPY_NET_TIMEOUT", "0.5")
    loopback_jsoc.inject("/mirror0/", "stall")
    start = time.monotonic()
    assert aiapy.net.correction_table_ssw().is_file()
    # One 0.5 s timeout, a 10 ms back-off and a fast retry; 5 s allows for a loaded 2-core machine.
    assert time.monotonic() - start < 5


def test_instrument_file_unavailable_names_alternative(loopback_jsoc):
    with pytest.raises(RemoteUnavailableError, match="instrument_file="):
        aiapy.net.instrument_file("euv")  # the loopback mirrors do not hold it: 404 on both
    with pytest.raises(ValueError, match="kind"):
        aiapy.net.instrument_file("xuv")


def test_pointing_table_jsoc(loopback_jsoc):
    table = get_pointing_table("jsoc", time_range=Time(["2010-05-13T01:00", "2010-05-13T02:00"]))
    # The query starts 3 h early, so the row in force at 01:00 (T_START 00:00) is returned.
    assert list(table["T_START"].isot) == ["2010-05-13T00:00:00.000"]
    bundled = get_pointing_table()
    assert u.allclose(table["A_131_X0"], bundled["A_131_X0"][:1])
    table = get_pointing_table("jsoc", time_range=("2010-05-13T00:00", "2010-05-13T05:00"))
    _assert_tables_equal(table, bundled)
    with pytest.raises(TypeError, match="time_range"):
        get_pointing_table("jsoc", time_range="2010-05-13")


def test_pointing_table_lmsal_lacks_131(loopback_jsoc):
    table = get_pointing_table("lmsal")
    assert table.meta["missing_channels"] == ["131"]
    assert "A_131_X0" not in table.colnames
    # The mirror holds the two bundled rows, then the loopback's whole day (POINTING_DAY, 8 rows).
    assert len(table) == 2 + 8
    assert u.allclose(table["A_171_X0"][:2], get_pointing_table()["A_171_X0"])


def test_stale_pointing_table_used_with_warning_when_refresh_fails(loopback_jsoc):
    path = aiapy.net.pointing_table_lmsal()
    old = time.time() - 2 * 86400
    os.utime(path, (old, old))
    loopback_jsoc.inject("/lmsal/", *["500"] * 3)
    with pytest.warns(AIApyUserWarning, match="Could not refresh"):
        assert aiapy.net.pointing_table_lmsal() == path


def test_jsoc_empty_result_is_no_data(loopback_jsoc):
    loopback_jsoc.inject(JSOC_INFO, "empty")
    with pytest.raises(NoDataError, match="No data found"):
        get_correction_table("jsoc")


@pytest.mark.parametrize("fault", ["500", "truncate"])
def test_jsoc_transient_faults_are_retried(loopback_jsoc, fault):
    loopback_jsoc.inject(JSOC_INFO, fault)
    assert len(get_correction_table("jsoc")) == 174


def test_jsoc_persistent_failure_names_offline_alternative(loopback_jsoc):
    loopback_jsoc.inject(JSOC_INFO, *["500"] * 3)
    with pytest.raises(RemoteUnavailableError, match="3 attempt.*get_correction_table\\(\\)"):
        get_correction_table("jsoc")


def test_jsoc_stall_times_out(loopback_jsoc, monkeypatch):
    monkeypatch.setenv("AIAPY_NET_TIMEOUT", "0.5")
    monkeypatch.setenv("AIAPY_NET_RETRIES", "1")
    loopback_jsoc.inject(JSOC_INFO, "stall", "stall")
    start = time.monotonic()
    with pytest.raises(RemoteUnavailableError, match="timed out"):
        get_correction_table("jsoc")
    assert time.monotonic() - start < 5  # two 0.5 s timeouts; slack for a loaded machine


def test_jsoc_unknown_series_is_a_clear_error(loopback_jsoc):
    with pytest.raises(RemoteUnavailableError, match="series aia.nothing not found"):
        aiapy.net.query("aia.nothing[]", key="T_REC")


def test_jsoc_time_strings():
    assert jsoc_time_to_isot("2010.05.13_00:00:34_TAI") == "2010-05-13T00:00:00.000"
    assert jsoc_time_to_isot("2010.05.13_00:00:00_UTC") == "2010-05-13T00:00:00.000"
    assert jsoc_time_to_isot("2010-05-13T00:00:00Z") == "2010-05-13T00:00:00Z"
    assert jsoc_time_to_isot("2011.02.15_03:00:00Z") == "2011-02-15T03:00:00.000"
    assert jsoc_time_to_isot("2011.02.15_03:00:00_Z") == "2011-02-15T03:00:00.000"


def test_stale_table_warning_names_the_callers_line(loopback_jsoc):
    path = aiapy.net.pointing_table_lmsal()
    old = time.time() - 2 * 86400
    os.utime(path, (old, old))
    loopback_jsoc.inject("/lmsal/", *["500"] * 3)
    with pytest.warns(AIApyUserWarning, match="Could not refresh") as record:
        get_pointing_table("lmsal")  # the warning is issued three calls deep inside aiapy
    assert [os.path.basename(w.filename) for w in record] == [os.path.basename(__file__)]
