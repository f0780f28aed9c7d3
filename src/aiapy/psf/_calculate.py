"""Public entry points of the PSF model: `calculate_psf` (and its old name `psf`) with caching."""

import hashlib
import json
import logging
import os
import tempfile
import time
from numbers import Integral
from pathlib import Path

import astropy.units as u
import numpy as np

from aiapy._version import __version__
from aiapy.psf._backends import DEFAULT_BACKEND, check_backend, describe_backends, get_backend
from aiapy.psf._cache import PSF_CACHE, PSFCache
from aiapy.psf._mesh import filter_mesh_parameters
from aiapy.psf._model import _FOCAL_PLANE_ANGLES, COMPONENTS, MeshModel, detector_psf, window_psf
from aiapy.utils.constants import DETECTOR_SIZE
from aiapy.utils.channels import EUV_CHANNELS, check_channel, validate_channel

__all__ = ["calculate_psf", "psf", "clear_psf_cache", "DEFAULT_ORDERS"]

log = logging.getLogger(__name__)

#: Diffraction orders used unless ``diffraction_orders`` is given (as in SolarSoft).
DEFAULT_ORDERS = np.arange(-100, 101)


def clear_psf_cache():
    """Forget every PSF kept in `PSF_CACHE` (files in a ``cache_dir`` are left alone)."""
    PSF_CACHE.clear()


def _check_orders(diffraction_orders):
    if diffraction_orders is None:
        return DEFAULT_ORDERS
    orders = np.asarray(diffraction_orders)
    if orders.ndim != 1 or orders.dtype.kind not in "iuf" or not np.all(np.isfinite(orders)):
        raise TypeError(f"diffraction_orders must be a 1-D sequence of integers; got {diffraction_orders!r}.")
    if np.any(orders != np.round(orders)) or not np.any(orders != 0):
        raise ValueError(
            f"diffraction_orders must be whole numbers with at least one non-zero order; got {diffraction_orders!r}."
        )
    return orders.astype(int)


def _check_shape(shape):
    if (
        not isinstance(shape, tuple | list)
        or len(shape) != 2
        or not all(isinstance(n, Integral) and not isinstance(n, bool) for n in shape)
    ):
        raise TypeError(f"shape must be a (rows, columns) pair of integers; got {shape!r}.")
    if min(shape) < 1:
        raise ValueError(f"shape must have two positive sizes; got {tuple(shape)}.")
    return int(shape[0]), int(shape[1])


def _mesh_models(channel, use_preflightcore, orders):
    parameters = filter_mesh_parameters(use_preflightcore=use_preflightcore)[check_channel(channel, EUV_CHANNELS)]
    mesh_ratio = (parameters["mesh_pitch"] / parameters["mesh_width"]).to_value(u.dimensionless_unscaled)
    width = parameters["width"].to_value(u.pix)
    entrance = MeshModel(
        parameters["angle_arm"].to_value(u.rad), parameters["spacing_e"].to_value(u.pix), orders, mesh_ratio, width
    )
    focal = MeshModel(_FOCAL_PLANE_ANGLES, parameters["spacing_fp"].to_value(u.pix), orders, mesh_ratio, width)
    return entrance, focal, parameters


def _disk_path(cache_dir, key, parameters):
    record = {
        "aiapy": __version__,
        "key": [key[0], key[1], key[2].tolist(), list(key[3]), *key[4:]],
        "parameters": {name: np.atleast_1d(value.value).tolist() for name, value in parameters.items()},
    }
    digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:32]
    return Path(cache_dir).expanduser() / f"aiapy-psf-{key[0]}-{digest}.npy"


@validate_channel("channel", valid_channels=EUV_CHANNELS)
def calculate_psf(
    channel,
    *,
    use_preflightcore=False,
    diffraction_orders=None,
    shape=(DETECTOR_SIZE, DETECTOR_SIZE),
    component="full",
    backend=DEFAULT_BACKEND,
    cache_dir=None,
    cache=None,
):
    """
    The point-spread function of an AIA EUV channel (Grigis et al. 2012).

    Parameters
    ----------
    channel : `~astropy.units.Quantity`
        94, 131, 171, 193, 211, 304 or 335 Angstrom.
    use_preflightcore : bool
        Use the preflight core widths instead of the default 4.5 (see `filter_mesh_parameters`).
    diffraction_orders : sequence of int, optional
        Orders of the diffraction spikes; default ``-100 ... 100`` (order 0 is the core).
    shape : (int, int)
        Grid of the result. The default ``(4096, 4096)`` is the full detector, computed exactly as
        SolarSoft's ``aia_calc_psf``. Any other shape (cutouts, padded cutouts) gives the same model on a grid
        centred on pixel ``[rows // 2, columns // 2]`` (where `deconvolve` expects it), without wrap-around,
        renormalised to sum 1; well inside the detector it is the central crop of the full PSF over its sum.
    component : {"full", "core", "diffraction"}
        ``"full"``: the whole PSF. ``"core"``: the part that neither mesh diffracts, the two meshes' core
        Gaussians convolved (0.82 x 0.82 = 67 % of the light on the full detector). ``"diffraction"``: the
        rest, the entrance-filter spikes and the focal-plane mesh's halo around the core. Both parts use
        the normalisation of the full PSF on the same ``shape``, so ``core + diffraction == full`` (to
        rounding) and their sums add to 1; only the diffraction part reaches far from the core, which is
        what `desaturate` fits.
    backend : str
        Where the full-detector composition runs, one of the registered backends (`aiapy.psf.BACKENDS`):
        <backends>. They agree to 1e-10. Other shapes are always computed on the CPU.
    cache_dir : str or `~pathlib.Path`, optional
        Also keep the result in this folder, as ``.npy`` files named by a hash of every parameter, the
        mesh table and the aiapy version, and read it back from there in later sessions.
    cache : `PSFCache`, optional
        Where results are kept in memory: by default ``aiapy.psf.PSF_CACHE`` (up to its ``max_bytes``, by
        default one full-detector PSF per channel); ``PSFCache(max_bytes=0)`` keeps nothing.

    Returns
    -------
    (rows, columns) `~numpy.ndarray` of float64, read-only
        The PSF (``component="full"``), summing to 1, peaked at ``[rows // 2, columns // 2]``. Results are
        kept in ``cache``, so the array is shared and read-only; use ``.copy()`` to modify it.

    Raises
    ------
    TypeError
        If ``channel`` is not a Quantity, or ``shape``/``diffraction_orders``/``backend`` have the wrong kind.
    ValueError
        If ``channel`` is not an EUV channel, ``shape`` is not positive, the orders are not whole numbers
        or are all zero, ``component`` is not one of ``"full"``, ``"core"``, ``"diffraction"``, or
        ``backend`` is not registered.

    Notes
    -----
    Each of the two filter meshes (entrance filter: four arms at ``angle_arm`` with order spacing
    ``spacing_e``; focal-plane filter: arms at +-45 deg with spacing ``spacing_fp``) gives

    .. math::

        P = 0.18 \\frac{\\sum_{m \\ne 0, k} I_m G(x - m s \\cos\\theta_k, y - m s \\sin\\theta_k)}{\\Sigma}
            + 0.82 \\frac{G(x, y)}{\\Sigma_0},
        \\qquad I_m = \\mathrm{sinc}^2(m\\,w_{mesh}/p_{mesh}), \\quad G = e^{-w x^2} e^{-w y^2},

    with the sums taken over the detector, and the PSF is the (reflected, circular) convolution of the two.
    Every Gaussian is separable and underflows to exactly 0 beyond ``sqrt(745/w)`` pixels, so each is added
    as the outer product of two short 1-D windows; the composition takes two real FFTs of the detector and
    a pruned one of the compact focal-plane pattern. This reproduces the direct model to 1e-12.

    References
    ----------
    .. [1] Grigis, P., Su, Y., Weber, M. et al. 2012, "AIA PSF Characterization and Deconvolution",
       SolarSoft ``sdo/aia/idl/psf/DOC/psfreport.pdf``.
    .. [2] SolarSoft ``aia_calc_psf.pro``, ``aia_diffractionpattern.pro``.

    Examples
    --------
    >>> import astropy.units as u
    >>> psf = calculate_psf(171 * u.AA, shape=(64, 64))
    >>> psf.shape, round(float(psf.sum()), 12)
    ((64, 64), 1.0)
    """
    if not isinstance(use_preflightcore, bool | np.bool_):
        raise TypeError(f"use_preflightcore must be True or False; got {use_preflightcore!r}.")
    orders = _check_orders(diffraction_orders)
    shape = _check_shape(shape)
    if not isinstance(component, str) or component not in COMPONENTS:
        raise ValueError(f"component must be one of {COMPONENTS}; got {component!r}.")
    check_backend(backend)
    key = (round(channel.to_value(u.AA)), bool(use_preflightcore), orders, shape, backend, component)
    memory_key = (*key[:2], orders.tobytes(), *key[3:])
    cache = PSF_CACHE if cache is None else cache
    if not isinstance(cache, PSFCache):
        raise TypeError(f"cache must be None or an aiapy.psf.PSFCache; got {type(cache).__name__}.")
    if (cached := cache.get(memory_key)) is not None:
        return cached
    entrance, focal, parameters = _mesh_models(channel, use_preflightcore, orders)
    path = None if cache_dir is None else _disk_path(cache_dir, key, parameters)
    if path is not None and path.is_file():
        log.debug("Reading the %s PSF from %s", channel, path)
        return cache.put(memory_key, np.load(path))
    start = time.perf_counter()
    if shape == (DETECTOR_SIZE, DETECTOR_SIZE):
        result = detector_psf(entrance, focal, get_backend(backend), component)
    else:
        result = window_psf(entrance, focal, shape, component)
    log.debug("Computed the %s PSF %s in %.2f s", channel, shape, time.perf_counter() - start)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npy", delete=False) as handle:
            np.save(handle, result)
        os.replace(handle.name, path)
    return cache.put(memory_key, result)


calculate_psf.__doc__ = calculate_psf.__doc__.replace("<backends>", describe_backends())


def psf(channel, **kwargs):
    """
    The PSF of an AIA channel; the name used by aiapy before 0.11, kept working.

    Identical to `calculate_psf`, which takes the same arguments.

    Parameters
    ----------
    channel : `~astropy.units.Quantity`
        94, 131, 171, 193, 211, 304 or 335 Angstrom.
    **kwargs
        Keyword options of `calculate_psf`.

    Returns
    -------
    `~numpy.ndarray`
        See `calculate_psf`.
    """
    return calculate_psf(channel, **kwargs)
