"""Registry of the array/FFT backends that run the PSF composition and the deconvolution.

Each backend is a small object with the array module it works in (``xp``), host/device transfers, the two
real 2-D FFTs the PSF composition needs, and ``richardson_lucy_update``, the Richardson-Lucy step in its
fastest form on that device. New backends are added with `register_backend`.
"""

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
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


def _whole_frame_update(backend, image, transfer, floor):
    """
    The Richardson-Lucy step ``out = u ((d / max(u * P, floor)) * P^T)`` with whole-frame 2-D FFTs.

    ``transfer`` is ``rfft2`` of the PSF moved to the origin; the correlation uses its conjugate.
    """
    xp = backend.xp
    conjugate = xp.conjugate(transfer)

    def update(estimate, out=None, *, chain=False):  # noqa: ARG001 - nothing to chain across whole frames
        spectrum = backend.rfft2(estimate)
        spectrum *= transfer
        ratio = backend.irfft2(spectrum, image.shape)
        xp.maximum(ratio, floor, out=ratio)
        xp.divide(image, ratio, out=ratio)
        spectrum = backend.rfft2(ratio)
        spectrum *= conjugate
        return xp.multiply(estimate, backend.irfft2(spectrum, image.shape), out=out)

    return update


# A transfer function whose imaginary part is below this fraction of its maximum (a PSF symmetric about
# its centre, as every AIA PSF: the imaginary part is FFT rounding, ~1e-16) is used as real.
_REAL_TRANSFER_TOLERANCE = 1e-12


class _BlockedRichardsonLucy:
    """
    The Richardson-Lucy step on the CPU in four passes over cache-sized blocks, run on a thread pool.

    With ``X`` the row-wise real FFT of the estimate (rows x columns // 2 + 1, kept in one reused buffer),
    each 2-D FFT splits into row transforms and column transforms, and each step of the iteration is local
    to rows or to columns: (1) row FFTs of ``u``; (2) per column block: FFT, product with the transfer
    function, inverse FFT; (3) per row block: inverse FFT, floor, ``d / .``, FFT; (4) as (2) with the
    conjugate; (5) per row block: inverse FFT and the product with ``u``. So every pass reads and writes
    the frame once while its transforms work in the caches, instead of one full-frame pass per transform
    and per elementwise operation. The 1-D transforms are those of the whole-frame 2-D FFTs, so the result
    does not depend on the block sizes or the thread count.
    """

    def __init__(self, image, transfer, floor, *, threads, block_rows, block_columns):
        rows, columns = image.shape
        self.image, self.floor, self.columns = image, floor, columns
        self.threads = threads
        self.row_blocks = [slice(i, min(i + block_rows, rows)) for i in range(0, rows, block_rows)]
        self.column_blocks = [
            slice(i, min(i + block_columns, transfer.shape[1])) for i in range(0, transfer.shape[1], block_columns)
        ]
        self.spectrum = np.empty(transfer.shape, np.result_type(image.dtype, np.complex64))
        # the DC term (the PSF's sum) is the largest modulus of the transfer function of a non-negative PSF
        real = np.abs(transfer.imag).max() <= _REAL_TRANSFER_TOLERANCE * abs(transfer[0, 0])
        if real:  # a real factor, repeated for both numbers of each (real, imaginary) pair: one contiguous product
            self.transfer = []
            for block in self.column_blocks:
                factor = np.empty((rows, 2 * (block.stop - block.start)), image.dtype)
                factor[:, 0::2] = factor[:, 1::2] = transfer.real[:, block]
                self.transfer.append(factor)
            self.conjugate = self.transfer
        else:
            self.transfer = [np.ascontiguousarray(transfer[:, block]) for block in self.column_blocks]
            self.conjugate = [np.conjugate(factor) for factor in self.transfer]
        self.real = real
        self.pool = None
        self.chained = None  # the array whose row transforms ``spectrum`` holds, if any

    def __enter__(self):
        if self.threads > 1:
            self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="aiapy-rl")
        return self.update

    def __exit__(self, *exc_info):
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None

    def _run(self, task, blocks):
        """``task(block)`` for every block; each thread takes the next block until none is left."""
        queue = iter(blocks)  # shared: taking the next block is atomic

        def work():
            for block in queue:
                task(block)

        if self.pool is None:
            work()
            return
        for future in [self.pool.submit(work) for _ in range(self.threads)]:
            future.result()

    def _columns(self, factors):
        def task(index):
            block = self.column_blocks[index]
            part = scipy.fft.fft(self.spectrum[:, block], axis=0)
            if self.real:
                pairs = part.view(self.image.dtype)
                pairs *= factors[index]
            else:
                part *= factors[index]
            self.spectrum[:, block] = scipy.fft.ifft(part, axis=0, overwrite_x=True)

        self._run(task, range(len(self.column_blocks)))

    def _ratio(self, block):
        blurred = scipy.fft.irfft(self.spectrum[block], n=self.columns, axis=1)
        np.maximum(blurred, self.floor, out=blurred)
        np.divide(self.image[block], blurred, out=blurred)
        self.spectrum[block] = scipy.fft.rfft(blurred, axis=1)

    def update(self, estimate, out=None, *, chain=False):
        """
        ``out = u ((d / max(u * P, floor)) * P^T)`` for the estimate ``u`` (``out`` may be ``u``).

        With ``chain=True`` the row transforms of ``out`` are also taken, while its blocks are in the
        caches, for the next call, which must then be ``update(out, ...)`` with ``out`` unchanged.
        """
        out = np.empty_like(estimate) if out is None else out

        def forward(block):
            self.spectrum[block] = scipy.fft.rfft(estimate[block], axis=1)

        def finish(block):
            np.multiply(estimate[block], scipy.fft.irfft(self.spectrum[block], n=self.columns, axis=1), out=out[block])
            if chain:
                self.spectrum[block] = scipy.fft.rfft(out[block], axis=1)

        if self.chained is not estimate:
            self._run(forward, self.row_blocks)
        self._columns(self.transfer)
        self._run(self._ratio, self.row_blocks)
        self._columns(self.conjugate)
        self._run(finish, self.row_blocks)
        self.chained = out if chain else None
        return out


@register_backend(
    "scipy", device="cpu", description="scipy.fft (pocketfft) on every CPU core, in-place complex passes"
)
class ScipyBackend:
    """CPU backend: `scipy.fft` with one worker per core, the complex pass done in place."""

    xp = np

    #: Threads per transform (and of the Richardson-Lucy passes); -1 is one per CPU.
    workers = -1
    #: Rows and half-spectrum columns per block of the Richardson-Lucy passes: a block, its transforms' output
    #: and its transfer factor fit a core's L2 cache (larger blocks spill, smaller ones pay per-call overhead).
    block_rows = 16
    block_columns = 16

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

    def richardson_lucy_update(self, image, transfer, floor):
        """
        Context manager giving ``update(estimate, out=None)``: the Richardson-Lucy step
        ``u ((d / max(u * P, floor)) * P^T)`` for data ``image`` and ``transfer`` = ``rfft2`` of the PSF.
        """
        threads = os.cpu_count() if self.workers < 0 else self.workers
        return _BlockedRichardsonLucy(
            image, transfer, floor, threads=threads, block_rows=self.block_rows, block_columns=self.block_columns
        )


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

    def richardson_lucy_update(self, image, transfer, floor):
        """As `ScipyBackend.richardson_lucy_update`, with whole-frame cuFFT transforms."""
        return contextlib.nullcontext(_whole_frame_update(self, image, transfer, floor))
