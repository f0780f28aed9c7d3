"""`update_pointing(m)` for any date: bundled rows, the JSOC day (cached), the LMSAL fallback, 131 A, offline.

Served by the loopback JSOC and mirror (tests/loopback_jsoc.py), which hold the whole day POINTING_DAY
(2011-02-15, 8 rows) in the JSOC's and the mirror's layouts; the real flare cutouts are of that day.
"""

import time

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.time import Time
from loopback_jsoc import POINTING_DAY, pointing_day_rows
from sunpy.time import TimeRange

from aiapy.calibrate import update_pointing
from aiapy.calibrate.utils import get_pointing_table, pointing_table_for
from aiapy.data import sample
from aiapy.net import NoDataError, RemoteUnavailableError, get_settings

JSOC_INFO = "/cgi-bin/ajax/jsoc_info"


def _jsoc_queries(server):
    return [r for r in server.requests if r.startswith(JSOC_INFO) and "rs_list" in r]


_FLARE_FILES = {171: "flare_2011-02-15T01-44-12_171", 193: "flare_2011-02-15T01-44-07_193",
                131: "flare_2011-02-15T01-44-09_131"}  # fmt: skip


@pytest.fixture(scope="module")
def day_rows():
    return pointing_day_rows()


def _flare_map(channel):
    return sample.load_map(_FLARE_FILES[channel])


def _at(smap, t_obs):
    meta = smap.meta.copy()
    meta["t_obs"] = meta["date-obs"] = t_obs
    return sunpy.map.Map(smap.data, meta)


def test_any_date_from_the_jsoc_day_then_the_cache(loopback_jsoc, day_rows):
    smap = _flare_map(171)
    new = update_pointing(smap)
    # The first row of the day holds the pointing the real header carries: the update is a no-op.
    row = day_rows[0]
    assert new.meta["x0_mp"] == pytest.approx(float(row["A_171_X0"]), abs=1e-9)
    assert new.reference_pixel.x.value == pytest.approx(smap.reference_pixel.x.value, abs=1e-5)
    assert new.reference_pixel.y.value == pytest.approx(smap.reference_pixel.y.value, abs=1e-5)
    assert "T_START=2011-02-15T00:00:00.000" in new.meta["history"]
    assert len(_jsoc_queries(loopback_jsoc)) == 1
    cached = get_settings().cache_dir / "jsoc" / "aia.master_pointing3h" / f"{POINTING_DAY}.csv"
    assert cached.is_file()
    # A batch of maps of the same day: no further request at all; the row in force is picked from the day.
    requests = len(loopback_jsoc.requests)
    late = update_pointing(_at(smap, f"{POINTING_DAY}T22:30:00.000"))
    assert len(loopback_jsoc.requests) == requests
    assert late.meta["x0_mp"] == pytest.approx(float(day_rows[7]["A_171_X0"]), abs=1e-9)
    other = update_pointing(_flare_map(193))
    assert len(loopback_jsoc.requests) == requests
    assert other.meta["x0_mp"] == pytest.approx(float(row["A_193_X0"]), abs=1e-9)


def test_bundled_rows_need_no_server(monkeypatch):
    # The autouse fixture points every server at a closed port: 2010-05-13 01:00 is covered by the bundle.
    smap = _at(sample.load_map("aia_171_cutout"), "2010-05-13T01:00:00.000")
    assert update_pointing(smap).meta["x0_mp"] == pytest.approx(2046.634766)


def test_131_comes_from_the_jsoc(loopback_jsoc, day_rows):
    smap = _flare_map(131)
    new = update_pointing(smap)
    assert new.meta["x0_mp"] == pytest.approx(float(day_rows[0]["A_131_X0"]), abs=1e-9)


def test_jsoc_down_falls_back_to_the_lmsal_mirror(loopback_jsoc, day_rows):
    loopback_jsoc.inject(JSOC_INFO, *["500"] * 3)  # every attempt (1 + 2 retries) fails
    smap = _flare_map(171)
    new = update_pointing(smap)
    assert new.meta["x0_mp"] == pytest.approx(float(day_rows[0]["A_171_X0"]), abs=1e-9)
    assert any(r.startswith("/lmsal/") for r in loopback_jsoc.requests)
    # The mirror's answer is not stored as the JSOC day.
    assert not (get_settings().cache_dir / "jsoc" / "aia.master_pointing3h" / f"{POINTING_DAY}.csv").exists()


def test_jsoc_down_and_131_says_the_mirror_lacks_it(loopback_jsoc):
    loopback_jsoc.inject(JSOC_INFO, *["500"] * 3)
    with pytest.raises(RemoteUnavailableError, match=r"JSOC failed.*LMSAL mirror.*lacks the 131 A.*pointing_table="):
        update_pointing(_flare_map(131))


def test_both_down_is_an_oserror_naming_the_alternatives(loopback_jsoc):
    loopback_jsoc.inject(JSOC_INFO, *["500"] * 3)
    loopback_jsoc.inject("/lmsal/", *["500"] * 3)
    with pytest.raises(OSError, match="JSOC failed") as info:
        update_pointing(_flare_map(171))
    assert isinstance(info.value, RemoteUnavailableError)
    message = str(info.value)
    assert "LMSAL mirror" in message
    assert "pointing_table=" in message
    assert "keep the header's pointing" in message


def test_offline_fails_within_the_unreachable_budget(monkeypatch):
    # Closed ports everywhere (autouse fixture): refused connections, retried only within 1 s here.
    monkeypatch.setenv("AIAPY_NET_UNREACHABLE_BUDGET", "1")
    monkeypatch.setenv("AIAPY_NET_BACKOFF", "0.2")
    start = time.monotonic()
    with pytest.raises(RemoteUnavailableError, match="no connection could be made.*pointing_table="):
        update_pointing(_flare_map(171))
    # Back-offs 0.2 + 0.4 s fit the 1 s; the next (0.8 s) would not. 5 s: slack for a loaded machine.
    assert time.monotonic() - start < 5


def test_a_day_the_jsoc_has_not_filled_is_not_cached(loopback_jsoc):
    # The loopback JSOC holds only 00:00-06:00 of 2010-05-13 (the bundled rows): 07:00 is not covered.
    t = Time("2010-05-13T07:00:00", scale="utc")
    with pytest.raises(NoDataError, match="no row covering 2010-05-13T07:00:00.000"):
        pointing_table_for(t, 171 * u.AA)
    folder = get_settings().cache_dir / "jsoc" / "aia.master_pointing3h"
    assert sorted(p.name for p in folder.glob("*.csv")) == ["2010-05-13.partial.csv"]
    queries = len(_jsoc_queries(loopback_jsoc))
    with pytest.raises(NoDataError):
        pointing_table_for(t, 171 * u.AA)
    assert len(_jsoc_queries(loopback_jsoc)) == queries + 1  # asked again, not served from a partial copy


def test_no_record_at_all_is_no_data(loopback_jsoc):
    with pytest.raises(NoDataError, match="No data found.*pointing_table="):
        pointing_table_for(Time("2012-06-01T12:00:00", scale="utc"), 171 * u.AA)


@pytest.mark.parametrize(
    "time_range",
    [
        TimeRange(f"{POINTING_DAY}T04:00", f"{POINTING_DAY}T08:00"),
        (f"{POINTING_DAY}T04:00", f"{POINTING_DAY}T08:00"),
        [Time(f"{POINTING_DAY}T04:00"), Time(f"{POINTING_DAY}T08:00")],
        Time([f"{POINTING_DAY}T04:00", f"{POINTING_DAY}T08:00"]),
    ],
    ids=["TimeRange", "tuple-of-strings", "list-of-Time", "Time-array"],
)
def test_get_pointing_table_time_range_forms(loopback_jsoc, time_range):
    jsoc = get_pointing_table("jsoc", time_range=time_range)
    # The query starts 3 h early (01:00), so the row in force at 04:00 (T_START 03:00) is included.
    assert list(jsoc["T_START"].isot) == [f"{POINTING_DAY}T{h}:00:00.000" for h in ("03", "06")]
    # The mirror's table, cut to the same interval, has the same rows (without 131 A).
    lmsal = get_pointing_table("lmsal", time_range=time_range)
    assert list(lmsal["T_START"].isot) == [f"{POINTING_DAY}T{h}:00:00.000" for h in ("03", "06")]
    assert u.allclose(lmsal["A_171_X0"], jsoc["A_171_X0"])


def test_time_range_cuts_the_bundled_table():
    table = get_pointing_table(time_range=("2010-05-13T03:30", "2010-05-13T04:00"))
    assert list(table["T_START"].isot) == ["2010-05-13T03:00:00.000"]
    with pytest.raises(TypeError, match="time_range"):
        get_pointing_table(time_range="2010-05-13")
    whole = get_pointing_table(time_range=("2010-05-12", "2010-05-14"))
    assert np.all(whole["A_171_X0"] == get_pointing_table()["A_171_X0"])


def test_pointing_table_for_validates_its_inputs():
    with pytest.raises(TypeError, match="scalar astropy Time"):
        pointing_table_for("2011-02-15T01:00", 171 * u.AA)
    with pytest.raises(TypeError, match="scalar astropy Time"):
        pointing_table_for(Time(["2011-02-15", "2011-02-16"]), 171 * u.AA)
    with pytest.raises(ValueError, match="valid channels"):
        pointing_table_for(Time("2011-02-15T01:00"), 170 * u.AA)
