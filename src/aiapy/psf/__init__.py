"""The AIA point-spread function (Grigis et al. 2012) and Richardson-Lucy deconvolution."""

from aiapy.psf._backends import BACKENDS, register_backend
from aiapy.psf._calculate import DEFAULT_ORDERS, PSF_CACHE_BYTES, calculate_psf, clear_psf_cache, psf
from aiapy.psf._deconvolve import BOUNDARIES, PRECISIONS, deconvolve
from aiapy.psf._mesh import filter_mesh_parameters

__all__ = [
    "calculate_psf",
    "psf",
    "filter_mesh_parameters",
    "deconvolve",
    "clear_psf_cache",
    "register_backend",
    "BACKENDS",
    "BOUNDARIES",
    "PRECISIONS",
    "DEFAULT_ORDERS",
    "PSF_CACHE_BYTES",
]
