"""Level 1 to 1.5 of AIA images ("aia_prep"): registration to a common solar-north, 0.6"/pix grid."""

import logging
import numbers

import astropy.units as u
import numpy as np

from aiapy.calibrate._interpolate import KERNELS, affine_resample
from aiapy.calibrate.pointing import update_pointing
from aiapy.utils.constants import DETECTOR_SIZE, LEVEL15, PLATE_SCALE, WCS_ROTATION_KEYS
from aiapy.utils.maps import add_history, check_aia_map, check_level1, refresh_statistics

__all__ = ["prep", "register"]

log = logging.getLogger(__name__)

#: Peer-compatible spellings of the method names.
_ALIASES = {"scipy": "spline"}
#: Keys that no longer describe the resampled data besides the value statistics `refresh_statistics`
#: handles: the pixel counts of the level-1 frame, and BLANK (integer data only).
_STALE_KEYS = ("datavals", "missvals", "blank")


def _method_list():
    return "; ".join(f"{name!r} ({kernel.matches})" for name, kernel in KERNELS.items())


def _validate_options(method, order, missing, dtype, cubic, workers):
    """Check every option before any work; return the canonical method name and output dtype (or None)."""
    if not isinstance(method, str) or _ALIASES.get(method, method) not in KERNELS:
        raise ValueError(f"method must be one of {_method_list()}; got {method!r}.")
    method = _ALIASES.get(method, method)
    if isinstance(order, bool) or not isinstance(order, numbers.Integral) or not 0 <= order <= 5:
        raise ValueError(f"order must be an integer from 0 to 5 (B-spline order of method='spline'); got {order!r}.")
    if missing is not None and not isinstance(missing, numbers.Real):
        raise TypeError(f"missing must be None (the image minimum) or a number (NaN allowed); got {missing!r}.")
    if dtype is not None and not np.issubdtype(np.dtype(dtype), np.floating):
        raise ValueError(f"dtype must be None or a floating-point dtype (float32, float64); got {dtype!r}.")
    if not isinstance(cubic, numbers.Real) or not -1 <= cubic < 0:
        raise ValueError(f"cubic must be a number in [-1, 0) (IDL ROT's CUBIC; -0.5 in aia_prep); got {cubic!r}.")
    if workers is not None and (not isinstance(workers, numbers.Integral) or workers < 1):
        raise ValueError(f"workers must be None (all cores) or a positive integer; got {workers!r}.")
    return method


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


def register(smap, *, missing=None, order=3, method="spline", dtype=None, cubic=-0.5, workers=None):
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
        Order (0-5) of the B-spline of ``method="spline"``; 3 by default as in the peer aiapy and sunpy.
    method : str
        The interpolation kernel:

        ``"spline"``
            B-spline of order ``order`` (scipy.ndimage); the same numbers as aiapy/sunpy ``register`` and
            ``Map.rotate`` with scipy (``"scipy"`` is accepted as an alias).
        ``"cubic-convolution"``
            Keys cubic convolution with ``a = cubic`` (-0.5), applied as IDL ``ROT(..., CUBIC=-0.5)`` in
            SolarSoft ``aia_prep``: matches SolarSoft's default.
        ``"linear"``
            Bilinear: SolarSoft ``aia_prep, /interp``.
        ``"nearest"``
            Nearest neighbour: SolarSoft ``aia_prep, /nearest``.
    dtype : numpy float dtype, optional
        Output dtype. Default: float32 for float32 input, float64 otherwise (integers are promoted).
        ``float32`` halves memory and time in pipelines (results within ~2e-7 of the image maximum).
    cubic : float
        The cubic-convolution parameter ``a`` in [-1, 0), for ``method="cubic-convolution"``.
    workers : int, optional
        Threads of the B-spline prefilter (``method="spline"``); all cores by default. The interpolation
        itself runs on one thread (~0.35 s for a 4096 x 4096 float32 frame): to use many cores, register
        many images at once, as `aiapy.pipeline.prep_files` does with worker processes.

    Returns
    -------
    `~sunpy.map.sources.AIAMap`
        A new level-1.5 map. A full frame (4096 x 4096 at 0.6"/pix, or 4096/b square for data binned by b)
        keeps its size, with CRPIX1 = CRPIX2 = 2048.5 on the reference coordinate (Sun centre). A cutout is
        resampled onto the part of that same full-frame grid that its footprint covers, so a cutout of a
        registered frame equals the registered cutout (away from its edges). Header: LVL_NUM 1.5,
        CDELT 0.6, CROTA2 0 with no PC matrix, CRPIX, NAXIS, R_SUN, DATAMIN/DATAMAX/DATAMEAN, and a HISTORY
        line naming the aiapy version and the options; BLANK and stale statistics are removed.

    Raises
    ------
    TypeError
        If ``smap`` is not an AIA map, or ``missing`` is not a number.
    ValueError
        For an unknown ``method`` or a bad ``order``, ``dtype``, ``cubic`` or ``workers``.

    Warns
    -----
    AIApyUserWarning
        If the map is already above level 1 (it is registered anyway).

    Notes
    -----
    Output pixel :math:`q` (0-based, full-frame grid) is taken from input position

    .. math::

        p = r_\\mathrm{in} + 0.6\\,(\\mathrm{CDELT}\\,\\mathrm{PC})^{-1} (q - r_\\mathrm{out}),
        \\qquad r_\\mathrm{out} = (4096 - 1)/2,

    with :math:`r_\\mathrm{in} = \\mathrm{CRPIX} - 1`. For the usual CROTA2 = INSTROT + SAT_ROT this is
    IDL ``ROT(image, -CROTA2, CDELT/0.6, CRPIX1-1, CRPIX2-1)``: rotation by CROTA2 and magnification about
    the reference pixel, which lands on the output centre. Input positions outside ``[0, n-1]`` give
    ``missing``. NaN pixels in the input spread over the kernel's support (4 x 4 pixels, or further for
    the B-spline, whose prefilter is global).

    References
    ----------
    .. [1] SolarSoft ``aia_prep.pro``, ``aia_reg.pro``, ``ssw_reg.pro`` and IDL ``ROT``/``POLY_2D``.
    .. [2] Keys, R. (1981), "Cubic convolution interpolation for digital image processing", IEEE Trans.
       ASSP 29, 1153.
    .. [3] Lemen et al. (2012), Sol. Phys. 275, 17 (AIA; level-1.5 definition).
    """
    check_aia_map(smap, function="register")
    method = _validate_options(method, order, missing, dtype, cubic, workers)
    check_level1(smap, function="register", strict=False)
    data = smap.data
    if dtype is None:
        dtype = np.float32 if data.dtype.kind == "f" and data.dtype.itemsize == 4 else np.float64
    dtype = np.dtype(dtype)
    if missing is None:
        missing = float(np.nanmin(data))
    matrix, offset, shape, crpix, scale = level15_geometry(smap)
    log.debug("register: %s -> %s at %s arcsec/pix, CRPIX %s", data.shape, shape, scale, crpix)
    params = {"a": float(cubic)} if method == "cubic-convolution" else {}
    out = affine_resample(
        data.astype(data.dtype.newbyteorder("="), copy=False),
        matrix,
        offset,
        shape,
        method=method,
        order=int(order),
        missing=float(missing),
        dtype=dtype,
        workers=workers,
        **params,
    )
    options = f"method={method!r}" + (f", order={order}" if method == "spline" else "")
    options += f", cubic={cubic}" if method == "cubic-convolution" else ""
    meta = _level15_meta(smap, out, crpix, scale)
    add_history(meta, f"register: level 1.5 at {scale} arcsec/pix, {options}, missing={missing}, dtype={dtype}")
    return smap._new_instance(out, meta, plot_settings=smap.plot_settings)


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
        Passed to `update_pointing` (default: `aiapy.calibrate.utils.get_pointing_table`).
    **register_options
        Keyword options of `register` (``missing``, ``order``, ``method``, ``dtype``, ``cubic``,
        ``workers``).

    Returns
    -------
    `~sunpy.map.sources.AIAMap`
        The level-1.5 map.

    References
    ----------
    .. [1] SolarSoft ``aia_prep.pro`` (``/use_pnt_file``).
    """
    return register(update_pointing(smap, pointing_table=pointing_table), **register_options)
