"""The table loaders: bundled defaults, file paths, bad sources, the older module path."""

import astropy.units as u
import pytest
from astropy.time import Time

from aiapy.calibrate import utils
from aiapy.calibrate.utils import get_correction_table, get_error_table, get_pointing_table
from aiapy.data import get_file


def test_correction_table_columns_and_units():
    table = get_correction_table()
    assert tuple(table.colnames) == utils.CORRECTION_TABLE_COLUMNS
    assert isinstance(table["T_START"], Time) and isinstance(table["T_STOP"], Time)
    assert table["EFF_AREA"].unit == u.cm**2
    assert table["WAVELNTH"].unit == u.AA
    assert len(table) == 86 + 88  # V10 final + V8


def test_correction_table_from_path():
    table = get_correction_table(get_file("correction_table_v10_preliminary"))
    assert len(table) == 64
    assert str(get_file("correction_table_v8")).endswith(".txt")
    assert len(get_correction_table(str(get_file("correction_table_v8")))) == 88


def test_invalid_sources():
    with pytest.raises(ValueError, match="correction_table must be"):
        get_correction_table(-1)
    with pytest.raises(FileNotFoundError):
        get_correction_table("no_such_table.txt")
    with pytest.raises(ValueError, match="Invalid source"):
        get_pointing_table(3.5)
    with pytest.raises(ValueError, match="time_range"):
        get_pointing_table("jsoc")


def test_not_a_table(tmp_path):
    bad = tmp_path / "garbage.txt"
    bad.write_text("this is not\na table at all 1 2 3\n")
    with pytest.raises(ValueError):
        get_correction_table(bad)


def test_error_table():
    table = get_error_table()
    assert len(table) == 10
    assert table["DNPERPHT"].unit == u.DN / u.photon
    assert table["T_STOP"][0].isot.startswith("2050-05-01")


def test_pointing_table_sample_has_all_channels():
    table = get_pointing_table()
    assert len(table) == 2
    for channel in ("094", "131", "171", "193", "211", "304", "335", "1600", "1700", "4500"):
        assert table[f"A_{channel}_X0"].unit == u.pix
        assert table[f"A_{channel}_IMSCALE"].unit == u.arcsec / u.pix
        assert table[f"A_{channel}_INSTROT"].unit == u.deg
    assert table["T_START"][0].isot == "2010-05-13T00:00:00.000"


def test_returned_tables_are_independent_copies():
    first = get_error_table()
    first["COMPRESS"][0] = -1
    assert get_error_table()["COMPRESS"][0] != -1


def test_old_module_path():
    from aiapy.calibrate import util

    assert util.get_correction_table is get_correction_table
    assert util.LATEST_CORRECTION_VERSION == 10


@pytest.mark.parametrize(
    ("getter", "kind"),
    [(get_correction_table, "correction"), (get_error_table, "error"), (get_pointing_table, "pointing")],
)
def test_every_remote_source_name_is_served(getter, kind):
    # Issue 17: REMOTE_SOURCES is defined once, by this module, and every name it lists is dispatched (no
    # unreachable NotImplementedError branch). Offline (the autouse fixture's closed port) each one fails
    # with the network error, in any letter case.
    from aiapy.net import RemoteUnavailableError

    assert set(utils.REMOTE_SOURCES) == {"correction", "error", "pointing"}
    for name in utils.REMOTE_SOURCES[kind]:
        options = {"time_range": ("2015-01-01", "2015-01-02")} if (kind, name) == ("pointing", "jsoc") else {}
        with pytest.raises(RemoteUnavailableError):
            getter(name.upper(), **options)
