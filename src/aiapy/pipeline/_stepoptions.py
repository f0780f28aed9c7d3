"""
The options of the library functions the pipeline calls (register, deconvolve), as `aiapy.utils.options`
sets, until those functions publish their own (``aiapy.calibrate.register.RegisterOptions``,
``aiapy.psf.DeconvolveOptions``): the fields are their keywords, so ``function(smap, **options.as_dict())``.
"""

import dataclasses
import numbers

import numpy as np

from aiapy.calibrate._interpolate import KERNELS
from aiapy.psf import BOUNDARIES, PRECISIONS
from aiapy.psf._backends import BACKENDS, DEFAULT_BACKEND
from aiapy.psf._deconvolve import ACCELERATIONS
from aiapy.utils.options import Options, option

__all__ = ["RegisterOptions", "DeconvolveOptions"]


def _check_int(name, value, low, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, not {value!r}.")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name}={value} is out of range [{low}, {high if high is not None else 'inf'}].")


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not known; choose from {', '.join(map(repr, choices))}.")


@dataclasses.dataclass(frozen=True, kw_only=True)
class RegisterOptions(Options):
    """The keywords of `aiapy.calibrate.register`."""

    method: str = option("spline", help="interpolation kernel of register", choices=tuple(KERNELS))
    order: int = option(3, help="B-spline order (0-5) of method spline")
    missing: float | None = option(None, help="value of output pixels outside the input (default: image minimum)")
    cubic: float = option(-0.5, help="cubic-convolution parameter a in [-1, 0) (IDL ROT's CUBIC)")
    dtype: str | None = option(None, help="output dtype of register")
    workers: int | None = option(None, help="threads of the spline prefilter (default: all cores)")

    def _validate(self):
        _check_choice("method", self.method, tuple(KERNELS))
        _check_int("order", self.order, 0, 5)
        if self.missing is not None and not isinstance(self.missing, numbers.Real):
            raise TypeError(f"missing must be None or a number, not {self.missing!r}.")
        if not isinstance(self.cubic, numbers.Real) or not -1 <= self.cubic < 0:
            raise ValueError(f"cubic must be a number in [-1, 0); got {self.cubic!r}.")
        if self.dtype is not None and not np.issubdtype(np.dtype(self.dtype), np.floating):
            raise ValueError(f"dtype must be None or a float dtype; got {self.dtype!r}.")
        if self.workers is not None:
            _check_int("workers", self.workers, 1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeconvolveOptions(Options):
    """The keywords of `aiapy.psf.deconvolve` (the PSF comes from the run's shared data)."""

    iterations: int = option(25, help="Richardson-Lucy iterations")
    acceleration: str | None = option(None, help="Richardson-Lucy variant (default: plain)", choices=ACCELERATIONS)
    clip_negative: bool = option(True, help="set negative pixels to 0 before deconvolving")
    boundary: str | None = option(None, help="edge treatment (default: periodic for full frames)", choices=BOUNDARIES)
    precision: str = option("float32", help="precision of the FFTs and iterations", choices=PRECISIONS)
    backend: str = option(DEFAULT_BACKEND, help="where the FFTs run", choices=tuple(BACKENDS))

    def _validate(self):
        _check_int("iterations", self.iterations, 1)
        _check_choice("acceleration", self.acceleration, ACCELERATIONS)
        if not isinstance(self.clip_negative, bool):
            raise TypeError(f"clip_negative must be True or False, not {self.clip_negative!r}.")
        _check_choice("boundary", self.boundary, (None, *BOUNDARIES))
        _check_choice("precision", self.precision, PRECISIONS)
        _check_choice("backend", self.backend, tuple(BACKENDS))
