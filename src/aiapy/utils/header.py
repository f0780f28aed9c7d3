"""The one check and normalisation of the maps every public function of aiapy takes.

Headers rebuilt by other tools carry the same information in other forms: numbers written as strings (drms
and JSON keyword lists), coordinates in degrees (``astropy.wcs.WCS.to_header``), int16 fill without its
``BLANK`` keyword. `checked_map` turns each into the form the calibration code reads, or refuses it naming the
keyword, before any work: the numbers never depend on the spelling of the input.
"""

import logging
import math
import numbers

import astropy.units as u
import numpy as np
from sunpy.map import GenericMap, MapSequence

from aiapy.utils.exceptions import warn_metadata, warn_user
from aiapy.utils.maps import check_aia_map

__all__ = [
    "NUMERIC_KEYS", "INT16_FILL", "checked_map", "header_changes", "with_changes", "matrix_rotation",
    "rotation_disagreement",
]

log = logging.getLogger(__name__)

#: Header keywords whose value is a number that decides aiapy's results (lower case, as in ``smap.meta``).
NUMERIC_KEYS = (
    "cdelt1", "cdelt2", "crpix1", "crpix2", "crval1", "crval2", "crota1", "crota2",
    "pc1_1", "pc1_2", "pc2_1", "pc2_2", "cd1_1", "cd1_2", "cd2_1", "cd2_2",
    "exptime", "wavelnth", "lvl_num", "rsun_obs", "rsun_ref", "dsun_obs", "hgln_obs", "hglt_obs",
    "crln_obs", "crlt_obs", "sat_rot", "inst_rot", "x0_mp", "y0_mp", "imscl_mp", "blank", "nspikes",
)  # fmt: skip
#: The value AIA level-1 int16 images hold where there is no measurement (their BLANK).
INT16_FILL = -32768
#: Largest difference (degrees) between two header statements of the roll angle that still count as equal: the
#: level-1 CROTA2 equals SAT_ROT + INST_ROT to 1e-8 degrees in real files.
ROTATION_TOLERANCE = 1e-3


def _numeric(meta, function):
    """The numeric keywords of ``meta`` written as strings, converted; `ValueError` naming a non-number."""
    changes = {}
    for key in NUMERIC_KEYS:
        value = meta.get(key)
        if isinstance(value, numbers.Number) or value is None:
            continue
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        try:
            changes[key] = float(str(value).strip())
        except ValueError:
            raise ValueError(
                f"{function}: the header keyword {key.upper()} = {value!r} is not a number; fix it, e.g. "
                f"smap.meta[{key!r}] = <value>, before calling {function}."
            ) from None
    return changes


def _angle_unit(meta, axis, function):
    """The unit of axis ``axis``'s CUNIT (None if absent or arcsec); `ValueError` if it is not an angle."""
    text = meta.get(f"cunit{axis}")
    if text is None or str(text).strip().lower() == "arcsec":
        return None
    try:
        unit = u.Unit(str(text).strip().lower())
    except ValueError:
        unit = None
    if unit is None or unit.physical_type != "angle":
        raise ValueError(
            f"{function}: CUNIT{axis} = {text!r} is not an angle unit; AIA coordinates are in arcsec (or deg)."
        )
    return None if unit == u.arcsec else unit


def _to_arcsec(meta, function):
    """The keyword updates that express CDELT, CRVAL and CDi_j of an axis in degrees (etc.) in arcsec."""
    changes = {}
    for axis in (1, 2):
        unit = _angle_unit(meta, axis, function)
        if unit is None:
            continue
        factor = unit.to(u.arcsec)
        changes[f"cunit{axis}"] = "arcsec"
        for key in (f"cdelt{axis}", f"crval{axis}", f"cd{axis}_1", f"cd{axis}_2"):
            if meta.get(key) is not None:
                changes[key] = float(meta[key]) * factor
        log.debug("%s: axis %d converted from %s to arcsec", function, axis, unit)
    return changes


def _int16_fill(smap, meta, function):
    """``{"blank": -32768}`` with a warning when int16 data without BLANK hold that fill value, else ``{}``."""
    data = smap.data
    if data.dtype.newbyteorder("=") != np.int16 or meta.get("blank") is not None:
        return {}
    count = int(np.count_nonzero(data == INT16_FILL))
    if not count:
        return {}
    warn_metadata(
        f"This int16 map has no BLANK keyword but {count} pixels of {INT16_FILL}, the AIA fill value, which is never "
        f"a measurement; {function} treats them as missing (BLANK = {INT16_FILL})."
    )
    return {"blank": INT16_FILL}


def checked_map(smap, *, function, aia=True, data=True):
    """
    ``smap`` with its header in the form aiapy reads, or a refusal naming the keyword, before any work.

    * a `~sunpy.map.MapSequence` or a list is refused (`TypeError` saying to call ``function`` on each map);
    * unless ``aia`` is False, anything but an AIA map is refused (`TypeError`);
    * a frame whose IMG_TYPE is not LIGHT (a DARK calibration frame) is warned about
      (`~aiapy.utils.AIApyUserWarning`);
    * numeric keywords written as strings (`NUMERIC_KEYS`) are converted, a non-number is refused
      (`ValueError` naming the keyword);
    * CDELT, CRVAL (and CDi_j) in another angle unit than arcsec (CUNIT = 'deg') are converted to arcsec and
      CUNIT set to 'arcsec'; a CUNIT that is not an angle is refused (`ValueError`);
    * with ``data``: int16 data without BLANK that hold -32768, the AIA fill, get BLANK = -32768 (with an
      `~aiapy.utils.AIApyMetadataWarning`), so that they are treated as missing.

    Parameters
    ----------
    smap : `~sunpy.map.GenericMap`
    function : str
        The public function's name, for the messages.
    aia : bool
        Require an AIA map.
    data : bool
        Check the data for int16 fill (the function computes with the values).

    Returns
    -------
    `~sunpy.map.GenericMap`
        ``smap`` itself when nothing changes, else a new map of the same class sharing the data (and mask).
    """
    return with_changes(smap, header_changes(smap, function=function, aia=aia, data=data))


def with_changes(smap, changes):
    """``smap`` with the header updates ``changes`` (of `header_changes`): itself when there are none."""
    if not changes:
        return smap
    new_meta = smap.meta.copy()
    new_meta.update(changes)
    return smap._new_instance(smap.data, new_meta, plot_settings=smap.plot_settings, mask=smap.mask)


def header_changes(smap, *, function, aia=True, data=True):
    """The checks of `checked_map`, and the header updates it makes (a dict, empty when none is needed)."""
    if aia or isinstance(smap, MapSequence | list | tuple):
        check_aia_map(smap, function=function)
    elif not isinstance(smap, GenericMap):
        raise TypeError(f"{function} needs a sunpy Map; got {type(smap).__name__}.")
    meta = smap.meta
    image_type = meta.get("img_type")
    if image_type is not None and str(image_type).strip().upper() != "LIGHT":
        warn_user(
            f"{function}: IMG_TYPE = {image_type!r}: this is not a science (LIGHT) image of the Sun; the result is "
            "of a calibration frame."
        )
    changes = _numeric(meta, function)
    changes |= _to_arcsec({**meta, **changes}, function)
    if data:
        changes |= _int16_fill(smap, {**meta, **changes}, function)
    return changes


def matrix_rotation(meta):
    """
    The roll angle (degrees) of the header's PCi_j or CDi_j matrix, and whether it is a rotation (with the
    CDELT scales); ``(None, True)`` without a matrix.
    """
    for prefix in ("pc", "cd"):
        keys = [f"{prefix}{i}_{j}" for i in (1, 2) for j in (1, 2)]
        if any(meta.get(key) is not None for key in keys):
            m11, m12, m21, m22 = (float(meta.get(key, 1.0 if key[-3] == key[-1] else 0.0)) for key in keys)
            if prefix == "cd":  # CD = diag(CDELT) PC
                s1, s2 = math.hypot(m11, m21), math.hypot(m12, m22)
            else:
                s1 = s2 = 1.0
                c1, c2 = float(meta.get("cdelt1", 1.0)), float(meta.get("cdelt2", 1.0))
                m12, m21 = m12 * c1 / c2, m21 * c2 / c1  # PC of the CROTA2 form: -sin c2/c1, sin c1/c2
            angle = math.degrees(math.atan2(m21 / s1, m11 / s1))
            rotation = np.array([[m11 / s1, m12 / s2], [m21 / s1, m22 / s2]])
            pure = np.allclose(rotation.T @ rotation, np.eye(2), atol=1e-6) and np.linalg.det(rotation) > 0
            return angle, pure
    return None, True


def rotation_disagreement(first, second):
    """The difference of two angles in degrees, wrapped to [0, 180]."""
    return abs((first - second + 180.0) % 360.0 - 180.0)
