"""Level 1 to 1.5 of AIA images ("aia_prep"): registration to a common solar-north, 0.6"/pix grid."""

import dataclasses
import logging
import numbers

import astropy.units as u
import numpy as np

from aiapy.calibrate._interpolate import KERNELS, affine_resample, resample_flagged, valid_range
from aiapy.calibrate.pointing import update_pointing
from aiapy.calibrate.saturation import input_flags
from aiapy.utils.constants import DETECTOR_SIZE, LEVEL15, PLATE_SCALE, WCS_ROTATION_KEYS
from aiapy.utils.dtypes import supported_float_type
from aiapy.utils.header import ROTATION_TOLERANCE, checked_map, matrix_rotation, rotation_disagreement
from aiapy.utils.maps import add_history, check_level1, refresh_statistics
from aiapy.utils.options import Options, option
from aiapy.utils.pixelflags import PixelFlag
from aiapy.utils.saturation import FLAG_COUNT_KEYS, GUARDED, flag_counts

__all__ = ["RegisterOptions", "prep", "register"]

log = logging.getLogger(__name__)

#: Other spellings of the method names, as aiapy 0.12 accepts them.
_ALIASES = {"scipy": "spline"}
#: Output dtypes `register` computes in (``dtype=None`` follows `supported_float_type`).
_DTYPES = ("float32", "float64")
#: The words of aiapy 0.12's warning for data above level 1 (code written for it matches on them).
_LEVEL_PHRASE = "Image registration should only be applied to level 1 data. "
#: Keys that no longer describe the resampled data besides the value statistics `refresh_statistics`
#: handles: the pixel counts of the level-1 frame, and BLANK (integer data only).
_STALE_KEYS = ("datavals", "missvals", "blank")


def _method_list():
    """The methods of the `KERNELS` registry with what each reproduces, for docstrings and messages."""
    return "; ".join(f"{name!r} ({kernel.matches})" for name, kernel in KERNELS.items())


def _is_integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _dtype_name(dtype):
    """The name of an output dtype of `_DTYPES`; `ValueError` for any other."""
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in _DTYPES:
        raise ValueError(f"dtype must be None or one of {_DTYPES}; got {dtype!r}.")
    return name


@dataclasses.dataclass(frozen=True, kw_only=True)
class RegisterOptions(Options):
    """
    The options of `register` (and of the pipeline's register step), validated when made.

    ``method`` is normalised to its registry name (``"scipy"`` -> ``"spline"``), ``missing`` to a float
    and ``dtype`` to a dtype name; `clip_for_method` resolves ``clip=None``.
    """

    method: str = option("spline", help="interpolation kernel (see register)", choices=KERNELS.keys())
    order: int = option(3, help="order (0-5) of the B-spline of method 'spline'")
    missing: float | None = option(None, help="value of output pixels outside the input (default: image minimum)")
    dtype: str | None = option(None, help="output dtype (default: float32 for float16/32 input, else float64)",
                               choices=_DTYPES)  # fmt: skip
    cubic: float = option(-0.5, help="parameter a in [-1, 0) of method 'cubic-convolution' (IDL ROT's CUBIC)")
    clip: bool | None = option(None, help="clip the output to the input's range (default: the method's)")
    workers: int | None = option(None, help="threads of the prefilter and resampling (default: all cores)")
    guard_saturation: bool = option(
        True,
        help="keep outputs next to saturated or bloomed pixels within the range of their taps (off: the unguarded "
        "kernel, as SolarSoft and sunpy)",
    )

    def _validate(self):
        method = _ALIASES.get(self.method, self.method) if isinstance(self.method, str) else self.method
        if method not in KERNELS:
            raise ValueError(f"method must be one of {_method_list()}; got {self.method!r}.")
        object.__setattr__(self, "method", method)
        if not _is_integer(self.order) or not 0 <= self.order <= 5:
            raise ValueError(f"order must be an integer from 0 to 5 (method='spline'); got {self.order!r}.")
        if self.missing is not None:
            if not isinstance(self.missing, numbers.Real) or isinstance(self.missing, bool):
                raise TypeError(f"missing must be None (image minimum) or a number, NaN allowed; got {self.missing!r}")
            object.__setattr__(self, "missing", float(self.missing))
        if self.dtype is not None:
            object.__setattr__(self, "dtype", _dtype_name(self.dtype))
        if not isinstance(self.cubic, numbers.Real) or isinstance(self.cubic, bool) or not -1 <= self.cubic < 0:
            raise ValueError(f"cubic must be a number in [-1, 0) (IDL ROT's CUBIC: -0.5); got {self.cubic!r}.")
        if self.clip is not None and not isinstance(self.clip, bool | np.bool_):
            raise TypeError(f"clip must be None (the method's default), True or False; got {self.clip!r}.")
        if self.workers is not None and (not _is_integer(self.workers) or self.workers < 1):
            raise ValueError(f"workers must be None (all cores) or a positive integer; got {self.workers!r}.")
        if not isinstance(self.guard_saturation, bool | np.bool_):
            raise TypeError(f"guard_saturation must be True or False; got {self.guard_saturation!r}.")
        object.__setattr__(self, "guard_saturation", bool(self.guard_saturation))

    @property
    def clip_for_method(self):
        """``clip``, or the method's default when None (True for the spline, False for the others)."""
        return KERNELS[self.method].clip if self.clip is None else bool(self.clip)


def level15_geometry(smap):
    """
    The affine map from the level-1.5 output grid to ``smap``'s pixels, and the output window.

    Returns
    -------
    matrix, offset : ndarray
        ``p = matrix @ q + offset`` in (row, column) order, 0-based, from output pixel ``q`` of the window.
    shape : tuple
        Output shape.
    crpix : ndarray
        1-based (CRPIX1, CRPIX2) of the output.
    scale : float
        Output plate scale in arcsec/pix: 0.6, or 0.6 times the binning of rebinned data.
    """
    scale_in = u.Quantity(smap.scale).to_value(u.arcsec / u.pix)
    binning = max(1, round(scale_in[0] / PLATE_SCALE))
    scale = PLATE_SCALE * binning
    n_full = DETECTOR_SIZE // binning
    # World offsets from the reference point (x, y order): w = CD (p - r_in) in, w = scale (q - r_full) out.
    cd = np.diag(scale_in) @ np.asarray(smap.rotation_matrix, dtype=np.float64)
    to_input = scale * np.linalg.inv(cd)
    r_in = np.array([float(smap.meta["crpix1"]), float(smap.meta["crpix2"])]) - 1
    r_full = np.full(2, (n_full - 1) / 2)
    ny, nx = smap.data.shape
    if (ny, nx) == (n_full, n_full):
        q_lo, size = np.zeros(2), np.array([n_full, n_full])
    else:
        # Cutout: the part of the full level-1.5 frame its footprint covers, at integer offsets in that frame.
        corners = np.array([[0, 0], [nx - 1, 0], [0, ny - 1], [nx - 1, ny - 1]], dtype=np.float64) - r_in
        q = r_full + corners @ np.linalg.inv(to_input).T
        q_lo = np.ceil(q.min(axis=0) - 1e-6)
        size = (np.floor(q.max(axis=0) + 1e-6) - q_lo + 1).astype(int)
    offset_xy = r_in + to_input @ (q_lo - r_full)
    matrix = to_input[::-1, ::-1]
    return matrix, offset_xy[::-1], (int(size[1]), int(size[0])), r_full - q_lo + 1, scale


def register(
    smap,
    *,
    missing=None,
    order=3,
    method="spline",
    dtype=None,
    cubic=-0.5,
    clip=None,
    workers=None,
    guard_saturation=True,
):
    """
    Register an AIA level-1 map to level 1.5: solar north up, 0.6"/pix, Sun centre at the frame centre.

    Parameters
    ----------
    smap : `~sunpy.map.sources.AIAMap`
        A level-1 map (full frame, cutout or submap), ideally after `update_pointing`.
    missing : float, optional
        Value of output pixels that map outside the input. Default: the image minimum (as aia_prep). NaN is
        allowed.
    order : int
        Order (0-5) of the B-spline of ``method="spline"``; 3 by default, as in aiapy 0.12 and sunpy.
    method : str
        The interpolation kernel, a name of the kernel registry (``"scipy"`` is accepted for ``"spline"``):

        METHODS
    dtype : {None, "float32", "float64"} or numpy dtype, optional
        Output dtype. Default: `~aiapy.utils.dtypes.supported_float_type` of the input's (float32 for
        float16 and float32 input, float64 otherwise: integers are promoted).
    cubic : float
        The cubic-convolution parameter ``a`` in [-1, 0), for ``method="cubic-convolution"``.
    clip : bool, optional
        Clip the output to the range of the input data and ``missing``, as sunpy's ``Map.rotate``. Default:
        the method's: True for ``"spline"`` (whose ringing otherwise overshoots the input range next to hot
        pixels, as in sunpy and aiapy); False for the others (IDL ROT does not clip; the weights of
        ``"linear"`` and ``"nearest"`` are non-negative, so their output is within the range anyway).
    workers : int, optional
        Threads of the prefilter and the resampling; all cores by default. The result is the same whatever
        their number. To use many cores on many images, `aiapy.pipeline.prep_files` runs worker processes.
    guard_saturation : bool
        True (default): an output pixel whose taps touch a saturated or bloomed input pixel is kept within
        the range of the input over those taps (see Notes); the others do not change. False: the numbers of
        earlier versions (and of SolarSoft, sunpy and aiapy 0.12), with their ringing at saturated cores.

    Returns
    -------
    `~sunpy.map.sources.AIAMap`
        A new level-1.5 map. A full frame (4096 x 4096 at 0.6"/pix, or 4096/b square for data binned by b)
        keeps its size, with CRPIX1 = CRPIX2 = 2048.5 on the reference coordinate (Sun centre). A cutout is
        resampled onto the part of that same full-frame grid that its footprint covers, so a cutout of a
        registered frame equals the registered cutout (away from its edges). Header: LVL_NUM 1.5,
        CDELT 0.6, CROTA2 0 with no PC matrix, CRPIX, NAXIS, R_SUN, DATAMIN/DATAMAX/DATAMEAN, and a HISTORY
        line naming the aiapy version and the options; BLANK and stale statistics are removed. Its ``mask``
        holds the `~aiapy.utils.PixelFlag` bits on the output grid (``uint8``): ``MISSING`` where the data
        are NaN, ``SATURATED`` / ``BLOOM`` where the nearest input pixel is; None when no pixel is flagged.
        With saturated or bloomed pixels the header counts them on the output grid: ``NSATFLAG``,
        ``NBLMFLAG`` (`aiapy.utils.saturation.flag_counts`).

    Raises
    ------
    TypeError
        If ``smap`` is not an AIA map, or ``missing`` or ``clip`` is of the wrong type.
    ValueError
        For an unknown ``method`` or a bad ``order``, ``dtype``, ``cubic`` or ``workers``; and, before any
        work, for a map register cannot place on the level-1.5 grid (each would otherwise give a crash deep
        inside or a silently wrong frame, so none is only a warning): smaller than 2 x 2; CDELT1 or CDELT2
        not within 0.1-100 arcsec/pix (AIA's 0.6, binned); no roll angle (CROTA2 missing and no PCi_j or
        CDi_j: a roll of 0 would be a guess); CROTA2 or CRPIX not finite; RSUN_OBS or DSUN_OBS (kept in
        the level-1.5 header, R_SUN and the WCS observer) not positive; every pixel missing; CROTA2 and a
        PCi_j/CDi_j matrix that state different rolls; a numeric keyword holding a string that is not a number
        or a CUNIT that is not an angle (`aiapy.utils.header.checked_map`: numeric strings are read as numbers,
        CDELT/CRVAL in degrees are converted and the output is written in arcsec).

    Warns
    -----
    AIApyUserWarning
        If the map is already above level 1 (LVL_NUM > 1), starting "Image registration should only be applied
        to level 1 data" as aiapy 0.12's. It is registered anyway, and a warning suffices:
        the geometry of a level-1.5 map is the identity (integer positions, where every kernel returns its
        samples), so a second registration changes no number beyond rounding.

    Notes
    -----
    Output pixel :math:`q` (0-based, full-frame grid) is taken from input position

    .. math::

        p = r_\\mathrm{in} + 0.6\\,(\\mathrm{CDELT}\\,\\mathrm{PC})^{-1} (q - r_\\mathrm{out}),
        \\qquad r_\\mathrm{out} = (4096 - 1)/2,

    with :math:`r_\\mathrm{in} = \\mathrm{CRPIX} - 1`. For the usual CROTA2 = INSTROT + SAT_ROT this is
    IDL ``ROT(image, -CROTA2, CDELT/0.6, CRPIX1-1, CRPIX2-1)``: rotation by CROTA2 and magnification about
    the reference pixel, which lands on the output centre. Input positions outside ``[0, n-1]`` give
    ``missing``.

    Missing input pixels (NaN or infinite values; in integer data also the header's BLANK value) stay
    local: they are first filled with the mean of their valid neighbours (inward, ring by ring, from a
    hole's border), then the data are resampled, and exactly the output pixels whose taps touch a missing
    pixel are set to NaN (4 x 4 taps for the cubic kernels, 2 x 2 for ``"linear"``, 1 for ``"nearest"``).
    The fill reaches no other pixel of the 4-tap kernels; for the B-spline, whose prefilter is global, a
    local value keeps its spread as small as the local gradient (the image minimum, as sunpy uses, would
    spread a step of the local level). The default ``missing`` and the clip range come from the valid
    pixels only.

    Flagged input pixels: the map's ``mask`` (`~aiapy.utils.PixelFlag` bits; a boolean mask means missing)
    is honoured: its ``MISSING`` pixels are treated as NaN ones. A level-1 frame in DN whose mask carries no
    flag bits (no ``uint8`` mask made by an earlier aiapy step) is searched for saturated and bloomed pixels
    (`~aiapy.calibrate.saturation_mask`). Next to a saturated core the cubic kernels ring: the 2011-02-15
    flare frames registered with the spline (clipped to the input range) get chains of near-minimum pixels
    along the core's edge, and cubic convolution values far below zero. With ``guard_saturation`` each
    output whose taps touch a saturated or bloomed pixel is clamped to the minimum and maximum of the input
    over its taps (4 x 4 for the cubic kernels): it makes no new extreme and keeps the kernel's value
    wherever that is in range. Falling back to bilinear interpolation there makes no new extreme either but
    blurs: rotating the 14 frames that reach 16383 DN by 0.7 degrees (and a sub-pixel shift) and back, the
    rms error of the unflagged pixels within 3 pixels of flagged ones is, for the spline, 568 DN without
    the guard, 626 DN clamped and 1198 DN with the bilinear fallback (cubic convolution: 748, 781, 1201 DN;
    clamping to the 2 x 2 nearest pixels: 659 and 800 DN). Every other output is bit for bit as without
    flags.

    The arithmetic is done in the output dtype, on all ``workers`` threads; the result does not depend on
    their number.

    References
    ----------
    .. [1] SolarSoft ``aia_prep.pro``, ``aia_reg.pro``, ``ssw_reg.pro`` and IDL ``ROT``/``POLY_2D``.
    .. [2] Keys, R. (1981), "Cubic convolution interpolation for digital image processing", IEEE Trans.
       ASSP 29, 1153.
    .. [3] Lemen et al. (2012), Sol. Phys. 275, 17 (AIA; level-1.5 definition).

    Examples
    --------
    >>> from aiapy.data.sample import load_map
    >>> level1 = load_map("aia_171_cutout")
    >>> level15 = register(level1)
    >>> level15.meta["lvl_num"], level15.meta["crota2"], level15.meta["cdelt1"]
    (1.5, 0.0, 0.6)
    >>> level1.data.dtype, level15.data.dtype  # float32 stays float32 (integers give float64)
    (dtype('float32'), dtype('float32'))
    """
    smap = checked_map(smap, function="register")
    options = RegisterOptions(
        missing=missing, order=order, method=method, dtype=dtype, cubic=cubic, clip=clip, workers=workers,
        guard_saturation=guard_saturation,
    )  # fmt: skip
    check_level1(smap, function="register", strict=False, lead=_LEVEL_PHRASE)
    _check_header(smap)
    data = smap.data
    dtype = supported_float_type(data.dtype) if options.dtype is None else np.dtype(options.dtype)
    data = data.astype(dtype if data.dtype == np.float16 else data.dtype.newbyteorder("="), copy=False)
    blank = smap.meta.get("blank") if data.dtype.kind in "iu" else None
    bad, low, high = valid_range(data, blank)
    flags = input_flags(smap, function="register")
    if bad is not None:
        flags[bad] |= np.uint8(PixelFlag.MISSING)
    present = int(np.bitwise_or.reduce(flags.ravel()))  # the bits set anywhere
    if not np.isnan(low) and present & PixelFlag.MISSING:  # the mask's missing pixels: not in the range
        bad = (flags & np.uint8(PixelFlag.MISSING)) != 0
        low, high = (np.nan, np.nan) if bad.all() else (float(data[~bad].min()), float(data[~bad].max()))
    if np.isnan(low):
        what = "NaN" if blank is None else f"NaN or BLANK = {blank}"
        raise ValueError(f"register: every pixel of this map is missing ({what}); there is nothing to register.")
    missing = low if options.missing is None else options.missing
    bounds = (np.nanmin([low, missing]), np.nanmax([high, missing])) if options.clip_for_method else None
    matrix, offset, shape, crpix, scale = level15_geometry(smap)
    method = options.method
    log.debug("register: %s -> %s at %s arcsec/pix, CRPIX %s, %s missing pixels", data.shape, shape, scale, crpix,
              0 if bad is None else int(bad.sum()))  # fmt: skip
    params = {"a": float(options.cubic)} if method == "cubic-convolution" else {}
    resample_options = {"method": method, "order": options.order, "missing": missing, "dtype": dtype,
                        "workers": options.workers, "clip": bounds, **params}  # fmt: skip
    if present:
        out, out_flags = resample_flagged(
            data, matrix, offset, shape, flags=flags, guard=options.guard_saturation, **resample_options
        )
    else:  # the plain path, as without flags
        out, out_flags = affine_resample(data, matrix, offset, shape, **resample_options), None
    text = f"method={method!r}" + (f", order={options.order}" if method == "spline" else "")
    text += f", cubic={options.cubic}" if method == "cubic-convolution" else ""
    text += f", clip={options.clip_for_method}"
    guarded = 0
    if present & GUARDED:
        guarded = int(np.count_nonzero(flags if not present & PixelFlag.MISSING else flags & np.uint8(GUARDED)))
    if guarded:
        text += f", guard_saturation={options.guard_saturation} ({guarded} saturated/bloomed input pixels)"
    meta = _level15_meta(smap, out, crpix, scale)
    add_history(meta, f"register: level 1.5 at {scale} arcsec/pix, {text}, missing={missing}, dtype={dtype}")
    mask = out_flags if out_flags is not None and out_flags.any() else None
    if mask is not None and present & GUARDED:
        comments = dict(meta.get("keycomments", {}))  # a new dict: the input's is shared by the copied meta
        for key, value in flag_counts(mask).items():
            meta[key.lower()] = value
            comments[key] = FLAG_COUNT_KEYS[key][1]
        meta["keycomments"] = comments
    return smap._new_instance(out, meta, plot_settings=smap.plot_settings, mask=mask)


#: Plate scales (arcsec/pix, after any binning) that `register` accepts: AIA's 0.6 binned up to ~160x.
_SCALE_RANGE = (0.1, 100.0)


def _check_header(smap):
    """
    Refuse, before any work, a map whose geometry register cannot use: `ValueError` naming the key and value.

    Each of these would give a silently wrong frame or a crash deep inside (singular matrix, an empty or
    huge output), so none is only a warning.
    """
    ny, nx = smap.data.shape
    if ny < 2 or nx < 2:
        raise ValueError(f"register needs a map of at least 2 x 2 pixels; this one has shape {smap.data.shape}.")
    for key, value in zip(("CDELT1", "CDELT2"), u.Quantity(smap.scale).to_value(u.arcsec / u.pix), strict=True):
        if not _SCALE_RANGE[0] <= value <= _SCALE_RANGE[1]:  # also NaN
            raise ValueError(
                f"register: {key} = {value} arcsec/pix is not a plate scale of AIA data (0.6, or 0.6 times a "
                f"binning; accepted {_SCALE_RANGE[0]}-{_SCALE_RANGE[1]})."
            )
    meta = smap.meta
    if meta.get("crota2") is None and not any(key in meta for key in WCS_ROTATION_KEYS if key != "crota1"):
        raise ValueError(
            "register: CROTA2 = None: the header gives no roll angle (no CROTA2, PCi_j or CDi_j); "
            "registering would assume 0 degrees. Set CROTA2 (or run update_pointing)."
        )
    for key in ("crota2", "crpix1", "crpix2"):
        if (meta.get(key) is None and key != "crota2") or not np.isfinite(float(meta.get(key, 0.0))):
            raise ValueError(f"register: {key.upper()} = {meta.get(key)} is not a finite number.")
    angle, _ = matrix_rotation(meta)
    if angle is not None and meta.get("crota2") is not None:
        if rotation_disagreement(angle, float(meta["crota2"])) > ROTATION_TOLERANCE:
            raise ValueError(
                f"register: the header states the roll twice and the two disagree: CROTA2 = {meta['crota2']} deg, "
                f"its PCi_j/CDi_j matrix {angle:.6g} deg. Remove the stale one (update_pointing rewrites CROTA2 "
                "and drops the matrix)."
            )
    for key in ("rsun_obs", "dsun_obs"):
        if meta.get(key) is not None and not float(meta[key]) > 0:
            raise ValueError(f"register: {key.upper()} = {meta[key]} is not positive (level-1.5 R_SUN and WCS).")


def _document_methods(function):
    """Write the `KERNELS` registry into the METHODS placeholder of ``function``'s docstring."""
    if function.__doc__:  # None under python -OO
        items = "\n\n        ".join(f"``{name!r}``\n            {kernel.matches}." for name, kernel in KERNELS.items())
        function.__doc__ = function.__doc__.replace("METHODS", items, 1)


_document_methods(register)


def _level15_meta(smap, out, crpix, scale):
    """The level-1.5 header of the registered data ``out`` (a new dict)."""
    meta = smap.meta.copy()
    for key in (*WCS_ROTATION_KEYS, *_STALE_KEYS):
        meta.pop(key, None)
    ny, nx = out.shape
    meta.update(
        {
            "naxis1": nx, "naxis2": ny, "crpix1": float(crpix[0]), "crpix2": float(crpix[1]), "cdelt1": scale,
            "cdelt2": scale, "crota2": 0.0, "lvl_num": LEVEL15, "bitpix": -8 * out.dtype.itemsize,
        }
    )  # fmt: skip
    crval = (float(meta.get("crval1", 0.0)), float(meta.get("crval2", 0.0)))
    meta["xcen"] = crval[0] + scale * ((nx + 1) / 2 - crpix[0])
    meta["ycen"] = crval[1] + scale * ((ny + 1) / 2 - crpix[1])
    if meta.get("rsun_obs") is not None:
        meta["r_sun"] = float(meta["rsun_obs"]) / scale
    else:
        meta.pop("r_sun", None)
    return refresh_statistics(meta, out)


def prep(smap, *, pointing_table=None, **register_options):
    """
    Level 1 to 1.5 in one call, like SolarSoft ``aia_prep``: `update_pointing`, then `register`.

    Parameters
    ----------
    smap : `~sunpy.map.sources.AIAMap`
        A level-1 map.
    pointing_table : `~astropy.table.QTable`, optional
        Passed to `update_pointing`. By default (None) the table is chosen for the map's T_OBS as
        `update_pointing` does (`aiapy.calibrate.utils.pointing_table_for`): the rows bundled with aiapy
        when they cover it, otherwise the JSOC ``aia.master_pointing3h`` records of that UTC day (cached on
        disk), or the LMSAL mirror if the JSOC cannot be reached.
    **register_options
        Keyword options of `register` (the fields of `RegisterOptions`).

    Returns
    -------
    `~sunpy.map.sources.AIAMap`
        The level-1.5 map.

    References
    ----------
    .. [1] SolarSoft ``aia_prep.pro`` (``/use_pnt_file``).
    """
    RegisterOptions(**register_options)  # bad options are refused before the pointing update
    return register(update_pointing(smap, pointing_table=pointing_table), **register_options)
