"""Registry of the array/FFT backends that run the PSF composition and the deconvolution.

Each backend is a small object with the array module it works in (``xp``), host/device transfers and the
two real 2-D FFTs the algorithms need. New backends are added with `register_backend`.
"""

from dataclasses import dataclass

import numpy as np
import scipy.fft

__all__ = ["BACKENDS", "register_backend", "get_backend", "check_backend", "describe_backends", "DEFAULT_BACKEND"]

#: Registered backends by name; see `register_backend`.
BACKENDS = {}
#: The backend used unless another is asked for.
DEFAULT_BACKEND = "scipy"


@dataclass(frozen=True)
class BackendInfo:
    """
    A registered backend: its name, where its arrays live, one line of description, and the class that
    `get_backend` instantiates. The registry's entries write the backend lists of the docstrings, the command
    line's help and the error messages (`describe_backends`).
    """

    name: str
    device: str
    description: str
    factory: object

    def __str__(self):
        return f"{self.name!r} ({self.device}: {self.description})"


def register_backend(name, *, device, description):
    """
    Class decorator registering an FFT backend under ``name``.

    Parameters
    ----------
    name : str
        The name users pass as ``backend=``.
    device : {"cpu", "gpu"}
        Where the arrays live.
    description : str
        One line for the docs and error messages.
    """

    def decorator(cls):
        BACKENDS[name] = BackendInfo(name=name, device=device, description=description, factory=cls)
        return cls

    return decorator


def describe_backends():
    """The registered backends, one ``'name' (device: description)`` per entry, joined by ``"; "``."""
    return "; ".join(str(info) for info in BACKENDS.values())


def check_backend(name):
    """
    Return the `BackendInfo` registered as ``name``.

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        If no backend has that name (the message lists the registered ones).
    """
    if not isinstance(name, str):
        raise TypeError(f"backend must be a string naming a registered backend ({describe_backends()}); got {name!r}.")
    if name not in BACKENDS:
        raise ValueError(f"backend {name!r} is not one of the registered backends: {describe_backends()}.")
    return BACKENDS[name]


def get_backend(name):
    """
    Return a ready instance of the backend registered as ``name``.

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        If no backend has that name.
    ImportError
        If the backend's optional dependency is missing or has no usable device.
    """
    return check_backend(name).factory()


@register_backend(
    "scipy", device="cpu", description="scipy.fft (pocketfft) on every CPU core, in-place complex passes"
)
class ScipyBackend:
    """CPU backend: `scipy.fft` with one worker per core, the complex pass done in place."""

    xp = np

    #: Threads per transform; -1 is one per CPU.
    workers = -1

    @staticmethod
    def asarray(array):
        return np.asarray(array)

    @staticmethod
    def asnumpy(array):
        return np.asarray(array)

    def rfft2(self, array):
        """Real-to-complex 2-D FFT (last axis halved), as `numpy.fft.rfft2`."""
        spectrum = scipy.fft.rfft(array, axis=1, workers=self.workers)
        return scipy.fft.fft(spectrum, axis=0, workers=self.workers, overwrite_x=True)

    def irfft2(self, spectrum, shape):
        """Inverse of `rfft2` for a real array of ``shape``; ``spectrum`` is overwritten."""
        spectrum = scipy.fft.ifft(spectrum, axis=0, workers=self.workers, overwrite_x=True)
        return scipy.fft.irfft(spectrum, n=shape[1], axis=1, workers=self.workers, overwrite_x=True)


@register_backend("cupy", device="gpu", description="CuPy (cuFFT) on the current CUDA device")
class CupyBackend:
    """GPU backend: CuPy arrays and cuFFT; results come back as numpy arrays."""

    def __init__(self):
        try:
            import cupy  # noqa: PLC0415 - optional dependency, imported only when asked for
        except ImportError as error:
            raise ImportError(
                'backend="cupy" needs CuPy and a CUDA GPU: pip install "aiapy[gpu]" (or cupy-cuda12x).'
            ) from error
        try:
            if cupy.cuda.runtime.getDeviceCount() < 1:
                raise ImportError('backend="cupy": CuPy found no CUDA device.')
        except cupy.cuda.runtime.CUDARuntimeError as error:
            raise ImportError(f'backend="cupy": CuPy cannot use a CUDA device ({error}).') from error
        self.xp = cupy

    def asarray(self, array):
        return self.xp.asarray(array)

    @staticmethod
    def asnumpy(array):
        return array.get()

    def rfft2(self, array):
        return self.xp.fft.rfft2(array)

    def irfft2(self, spectrum, shape):
        return self.xp.fft.irfft2(spectrum, s=shape)
