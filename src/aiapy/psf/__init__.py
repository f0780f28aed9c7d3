"""The AIA point-spread function (Grigis et al. 2012), Richardson-Lucy deconvolution and desaturation."""

from aiapy.psf._backends import BACKENDS, register_backend
from aiapy.psf._cache import PSF_CACHE, PSFCache
from aiapy.psf._calculate import DEFAULT_ORDERS, calculate_psf, clear_psf_cache, psf
from aiapy.psf._deconvolve import ACCELERATIONS, BOUNDARIES, PRECISIONS, DeconvolveOptions, deconvolve
from aiapy.psf._desaturate import DesaturateOptions, desaturate
from aiapy.psf._model import COMPONENTS
from aiapy.psf._mesh import filter_mesh_parameters

__all__ = [
    "calculate_psf",
    "psf",
    "filter_mesh_parameters",
    "deconvolve",
    "DeconvolveOptions",
    "desaturate",
    "DesaturateOptions",
    "COMPONENTS",
    "clear_psf_cache",
    "register_backend",
    "BACKENDS",
    "ACCELERATIONS",
    "BOUNDARIES",
    "PRECISIONS",
    "DEFAULT_ORDERS",
    "PSFCache",
    "PSF_CACHE",
]
