"""The AIA point-spread function (Grigis et al. 2012), Richardson-Lucy deconvolution and desaturation."""

import sys
import types

from aiapy.psf import _calculate
from aiapy.psf._backends import BACKENDS, register_backend
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
    "PSF_CACHE_BYTES",
]


class _Package(types.ModuleType):
    """This package, with ``PSF_CACHE_BYTES`` a checked view of the one setting `calculate_psf` reads."""

    @property
    def PSF_CACHE_BYTES(self):  # noqa: N802 - a module constant's name
        return _calculate.PSF_CACHE_BYTES

    @PSF_CACHE_BYTES.setter
    def PSF_CACHE_BYTES(self, value):  # noqa: N802
        _calculate.PSF_CACHE_BYTES = _calculate.check_cache_bytes(value)


sys.modules[__name__].__class__ = _Package
