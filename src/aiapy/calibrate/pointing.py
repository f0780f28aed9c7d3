"""Update the pointing keywords of AIA level-1 maps from the master pointing table (MPT)."""

import logging

import astropy.units as u
import numpy as np
from astropy.time import Time

from aiapy.utils.channels import channel_key
from aiapy.utils.constants import LEVEL1, PLATE_SCALE, WCS_ROTATION_KEYS
from aiapy.utils.exceptions import warn_metadata, warn_user
from aiapy.utils.header import ROTATION_TOLERANCE, checked_map, matrix_rotation, rotation_disagreement
from aiapy.utils.maps import add_history, observation_time, require_keys

__all__ = ["update_pointing"]

log = logging.getLogger(__name__)

#: Maps more than 1 % away from the level-1 plate scale (which the MPT values refer to) are warned about.
_SCALE_TOLERANCE = 0.01
#: Table columns per channel and the unit each value is read in.
_COLUMNS = {"X0": u.pix, "Y0": u.pix, "IMSCALE": u.arcsec / u.pix, "INSTROT": u.deg}


def _select_row(table, t_obs):
    """The first row with ``T_START <= t_obs < T_STOP``."""
    for name in ("T_START", "T_STOP"):
        if name not in table.colnames:
            raise KeyError(f"pointing_table has no {name} column; columns are {table.colnames}.")
    start, stop = Time(table["T_START"]), Time(table["T_STOP"])
    matches = np.flatnonzero((start <= t_obs) & (t_obs < stop))
    if matches.size == 0:
        raise IndexError(
            f"No pointing-table row covers T_OBS = {t_obs.isot}: the table spans {start.min().isot} to "
            f"{stop.max().isot}. Pass a table covering this time, e.g. pointing_table=aiapy.calibrate.utils."
            "get_pointing_table('jsoc', time_range=...), or leave pointing_table=None to fetch one."
        )
    return int(matches[0])


def _table_values(table, row, key):
    """The channel's X0, Y0, IMSCALE, INSTROT of ``row`` as plain floats (NaN where masked)."""
    names = {name: f"A_{key}_{name}" for name in _COLUMNS}
    absent = [column for column in names.values() if column not in table.colnames]
    if absent:
        raise KeyError(
            f"pointing_table has no column(s) {', '.join(absent)} for this channel. (The LMSAL mirror omits "
            "131 A; use get_pointing_table('jsoc', time_range=...) for it.)"
        )
    values = {}
    for name, column in names.items():
        value = table[column][row]
        if np.ma.is_masked(value):
            value = np.nan
        values[name] = u.Quantity(value, _COLUMNS[name]).to_value(_COLUMNS[name])
    return values


def _check_level1_frame(smap):
    """
    Refuse a map that is no longer in the level-1 frame, whose pointing keywords the table's values would mix
    with another geometry: above level 1, or rotated by something other than the level-1 roll.

    The level-1 roll is CROTA2 = SAT_ROT + INST_ROT (equal to 1e-8 degrees in real files). A header whose
    rotation is a PCi_j/CDi_j matrix (what ``Map.rotate`` and ``WCS.to_header`` write) is in the level-1 frame
    when the matrix is that roll; with CROTA2 at the level-1 roll a matrix beside it is stale and dropped.
    """
    meta = smap.meta
    level = meta.get("lvl_num")
    if level is not None and float(level) > LEVEL1:
        raise ValueError(
            f"update_pointing needs a level-1 map; this one has LVL_NUM = {level} (registered: its CRPIX, CDELT "
            "and CROTA2 no longer refer to the CCD pixels the pointing table describes). Update the level-1 map."
        )
    level1_roll = None if meta.get("inst_rot") is None else float(meta["sat_rot"]) + float(meta["inst_rot"])
    crota2 = meta.get("crota2")
    angle, pure = matrix_rotation(meta)
    if crota2 is not None:  # a matrix beside CROTA2 at the level-1 roll is stale: replaced below
        roll, stated, pure = float(crota2), f"CROTA2 = {crota2}", True
    elif angle is not None:
        roll, stated = angle, f"no CROTA2 but a PCi_j/CDi_j matrix of roll {angle:.6g} deg"
    else:
        return  # no roll stated: the table's is written
    if level1_roll is None and crota2 is not None:
        return  # INST_ROT missing: nothing to compare a CROTA2 with
    if level1_roll is not None and pure and rotation_disagreement(roll, level1_roll) <= ROTATION_TOLERANCE:
        return
    expected = "unknown (INST_ROT missing)" if level1_roll is None else f"SAT_ROT + INST_ROT = {level1_roll:.6g} deg"
    raise ValueError(
        f"update_pointing: this map is no longer in the level-1 frame: its header states {stated}"
        f"{'' if pure else ' (not a pure rotation)'}, while the level-1 roll is {expected} (rotated or "
        "resampled?). The table's pointing would replace the map's rotation; apply update_pointing to the "
        "level-1 map first, then rotate."
    )


def update_pointing(smap, *, pointing_table=None):
    """
    Update the pointing of an AIA level-1 map from the master pointing table (MPT).

    Parameters
    ----------
    smap : `~sunpy.map.sources.AIAMap`
        A level-1 map: a full frame, a cutout or a submap.
    pointing_table : `~astropy.table.QTable`, optional
        An MPT as returned by `aiapy.calibrate.utils.get_pointing_table`: ``T_START``, ``T_STOP`` and the
        ``A_<ch>_X0``, ``A_<ch>_Y0`` [pix], ``A_<ch>_IMSCALE`` [arcsec/pix], ``A_<ch>_INSTROT`` [deg] columns
        (plain numbers are read in these units). By default (None), for any date:

        * the rows bundled with aiapy, when they cover T_OBS (2010-05-13 00:00-06:00);
        * otherwise the JSOC ``aia.master_pointing3h`` records of T_OBS's UTC day (one query per day,
          cached on disk: a batch of maps of one day costs one query);
        * if the JSOC cannot be reached, the LMSAL daily mirror of that table (which lacks 131 A).

        See `aiapy.calibrate.utils.pointing_table_for`; the time this may take is bounded by the network
        budgets of `aiapy.net.config`.

    Returns
    -------
    `~sunpy.map.sources.AIAMap`
        A new map (sharing the data array) with ``CRPIX1/2``, ``CDELT1/2``, ``CROTA2``, ``X0_MP``, ``Y0_MP``,
        ``IMSCL_MP`` and ``INST_ROT`` updated, any ``PCi_j``/``CDi_j`` matrix removed, and a HISTORY line.

    Raises
    ------
    TypeError
        If ``smap`` is not an AIA map.
    ValueError
        If the map is no longer in the level-1 frame (before any work): LVL_NUM above 1, or rotated (CROTA2,
        or a PCi_j/CDi_j matrix without CROTA2, other than SAT_ROT + INST_ROT, as after ``Map.rotate``); or a
        numeric keyword holds a string that is not a number.
    KeyError
        If SAT_ROT (or both T_OBS and DATE-OBS) is missing, or the table lacks the channel's columns.
    IndexError
        If no row of a given ``pointing_table`` covers the map's T_OBS.
    aiapy.net.RemoteUnavailableError
        (An `OSError`.) With ``pointing_table=None``, for a date the bundled rows do not cover, if neither
        the JSOC nor the LMSAL mirror can be reached (or, for 131 A, the JSOC): the message names the
        alternatives, a ``pointing_table=`` read from a file or keeping the header's pointing.
    aiapy.net.NoDataError
        (A `RuntimeError`.) With ``pointing_table=None``, if the JSOC has no row covering T_OBS.

    Warns
    -----
    AIApyUserWarning
        If the plate scale is more than 1 % from 0.6"/pix (rebinned data: the update is then likely wrong),
        or a table value is NaN (that keyword is left as it is).
    AIApyMetadataWarning
        If X0_MP/Y0_MP are missing (CRPIX is then not updated) or T_OBS is missing (DATE-OBS is used).

    Notes
    -----
    The row used is the first with ``T_START <= T_OBS < T_STOP``. With ``X0, Y0`` the 0-based Sun centre on
    the CCD and ``X0_MP, Y0_MP`` the values already applied to the header,

    .. math::

        \\mathrm{CRPIX1} \\leftarrow \\mathrm{CRPIX1} + (X_0 - \\mathrm{X0\\_MP}), \\quad
        \\mathrm{CDELT} = \\mathrm{IMSCALE}, \\quad \\mathrm{CROTA2} = \\mathrm{INSTROT} + \\mathrm{SAT\\_ROT}

    (likewise CRPIX2). The update is relative, so it works on cutouts and commutes with cropping; a table
    built from a header's own values leaves that header unchanged. The PC/CD matrix is removed so that a
    stale matrix cannot override the new CROTA2.

    References
    ----------
    .. [1] SolarSoft ``aia_prep.pro`` / ``aia_reg.pro`` with ``/use_pnt_file`` and ``aia2wcsmin.pro``.
    .. [2] JSOC series ``aia.master_pointing3h``.
    """
    smap = checked_map(smap, function="update_pointing", data=False)
    require_keys(smap, ["SAT_ROT"], function="update_pointing")
    _check_level1_frame(smap)
    t_obs = observation_time(smap, function="update_pointing", prefer="T_OBS")
    if pointing_table is None:
        from aiapy.calibrate.utils import pointing_table_for  # noqa: PLC0415 (loads the remote machinery)

        pointing_table = pointing_table_for(t_obs, smap.wavelength)
    key = channel_key(smap.wavelength)
    row = _select_row(pointing_table, t_obs)
    values = _table_values(pointing_table, row, key)
    scale = u.Quantity(smap.scale).to_value(u.arcsec / u.pix)
    if np.any(np.abs(scale / PLATE_SCALE - 1) >= _SCALE_TOLERANCE):
        warn_user(
            f"The map's plate scale {scale} arcsec/pix is far from the level-1 0.6 arcsec/pix (rebinned or "
            "already registered data?); the pointing table refers to full-resolution level-1 pixels, so the "
            "updated pointing is likely incorrect.",
        )
    meta = smap.meta.copy()
    for name, value in values.items():
        if np.isnan(value):
            warn_user(f"The pointing table's A_{key}_{name} is NaN (missing) at T_START = "
                      f"{Time(pointing_table['T_START'][row]).isot}; the keywords it sets are not updated.")
    _apply(meta, values, smap)
    for pc_key in WCS_ROTATION_KEYS:
        meta.pop(pc_key, None)
    add_history(
        meta,
        f"update_pointing: MPT row T_START={Time(pointing_table['T_START'][row]).isot} "
        + ", ".join(f"{name}={value}" for name, value in values.items()),
    )
    log.debug("update_pointing: row %d of the pointing table for T_OBS %s", row, t_obs.isot)
    return smap._new_instance(smap.data, meta, plot_settings=smap.plot_settings, mask=smap.mask)


def _apply(meta, values, smap):
    """Write the finite table values into ``meta`` (a copy)."""
    if meta.get("x0_mp") is None or meta.get("y0_mp") is None:
        warn_metadata("X0_MP and/or Y0_MP are missing from this map, so the offset already applied to CRPIX is "
                      "unknown; CRPIX1/2 are not updated.")
    else:
        for axis, name in ((1, "X0"), (2, "Y0")):
            if not np.isnan(values[name]):
                meta[f"crpix{axis}"] = float(meta[f"crpix{axis}"]) + (values[name] - float(meta[f"{name.lower()}_mp"]))
                meta[f"{name.lower()}_mp"] = values[name]
    if not np.isnan(values["IMSCALE"]):
        meta["cdelt1"] = meta["cdelt2"] = values["IMSCALE"]
        meta["imscl_mp"] = values["IMSCALE"]
    if not np.isnan(values["INSTROT"]):
        meta["crota2"] = values["INSTROT"] + float(smap.meta["sat_rot"])
        meta["inst_rot"] = values["INSTROT"]
