"""A master-pointing-table file built from level-1 headers, to run update_pointing offline."""

import csv
from pathlib import Path

import astropy.units as u
from astropy.time import Time

from aiapy.utils.maps import observation_time

__all__ = ["write_header_pointing_table"]

_ROW = (3 * u.h).to_value(u.s)  # rows of the real table are 3 hours long, starting at 00, 03, ... UT


def write_header_pointing_table(maps, path):
    """
    Write a pointing table, in the layout of the LMSAL/JSOC master pointing CSV, from maps' own headers.

    Like the real table, rows are 3-hour intervals (00-03 UT, 03-06 UT, ...); each row holds, for every
    channel observed in it, the values of the first such map: ``X0_MP``, ``Y0_MP``, ``CDELT1`` and
    ``CROTA2 - SAT_ROT`` (other channels are left empty). `aiapy.calibrate.update_pointing` with this table
    leaves those headers unchanged, so it exercises the pointing step offline without inventing pointing
    values (for tests, benchmarks and demos; real work uses ``pointing="jsoc"``).

    Parameters
    ----------
    maps : iterable of `~sunpy.map.sources.AIAMap`
        Level-1 maps.
    path : path-like
        The CSV file to write.

    Returns
    -------
    `pathlib.Path`
        ``path``.

    Raises
    ------
    KeyError
        If a map's header holds neither T_OBS nor DATE-OBS (the row of a map is never taken from the clock).
    ValueError
        If ``maps`` is empty.
    """
    rows, channels = {}, []
    for smap in maps:
        key = f"{int(round(float(smap.meta['wavelnth']))):03d}"
        channels += [key] if key not in channels else []
        meta = smap.meta
        values = (meta["x0_mp"], meta["y0_mp"], meta["cdelt1"], float(meta["crota2"]) - float(meta["sat_rot"]))
        when = observation_time(smap, function="write_header_pointing_table", prefer="T_OBS")
        rows.setdefault(int(when.unix // _ROW), {}).setdefault(key, values)
    if not rows:
        raise ValueError("maps must hold at least one map.")
    columns = ["T_START", "T_STOP"]
    for key in channels:
        columns += [f"A_{key}_X0", f"A_{key}_Y0", f"A_{key}_IMSCALE", f"A_{key}_INSTROT"]
    path = Path(path)
    with open(path, "w", newline="", encoding="ascii") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for index in sorted(rows):
            start, stop = Time([index * _ROW, (index + 1) * _ROW], format="unix").isot
            cells = [f"{start}Z", f"{stop}Z"]
            for key in channels:
                cells += rows[index].get(key, ("", "", "", ""))
            writer.writerow(cells)
    return path
