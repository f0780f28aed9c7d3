"""The memory cache of `calculate_psf`: an explicit object with a size setting, not hidden module state."""

from collections import OrderedDict
from numbers import Integral

from aiapy.utils.constants import DETECTOR_SIZE

__all__ = ["PSFCache", "PSF_CACHE", "DEFAULT_CACHE_BYTES"]

#: The default size of `PSF_CACHE`: the seven full-detector float64 PSFs (7 x 128 MiB).
DEFAULT_CACHE_BYTES = 7 * DETECTOR_SIZE**2 * 8


class PSFCache:
    """
    PSFs kept in memory, the least recently used dropped once they hold more than ``max_bytes``.

    The arrays are made read-only when stored (they are shared by every caller that asks for them).

    Parameters
    ----------
    max_bytes : int
        Most bytes kept; 0 keeps nothing. Settable (``cache.max_bytes = ...``; a smaller size drops arrays at once).

    Examples
    --------
    >>> import astropy.units as u
    >>> from aiapy.psf import PSFCache, calculate_psf
    >>> mine = PSFCache(max_bytes=2**20)
    >>> kernel = calculate_psf(171 * u.AA, shape=(64, 64), cache=mine)
    >>> calculate_psf(171 * u.AA, shape=(64, 64), cache=mine) is kernel, len(mine), mine.nbytes
    (True, 1, 32768)
    """

    def __init__(self, max_bytes=DEFAULT_CACHE_BYTES):
        self._arrays = OrderedDict()
        self.max_bytes = max_bytes

    @property
    def max_bytes(self):
        """Most bytes kept (0: nothing)."""
        return self._max_bytes

    @max_bytes.setter
    def max_bytes(self, value):
        if not isinstance(value, Integral) or isinstance(value, bool):
            raise TypeError(f"max_bytes must be an integer number of bytes; got {value!r}.")
        if value < 0:
            raise ValueError(f"max_bytes must be 0 (no memory cache) or more; got {value}.")
        self._max_bytes = int(value)
        self._trim()

    @property
    def nbytes(self):
        """Bytes held now."""
        return sum(array.nbytes for array in self._arrays.values())

    def __len__(self):
        return len(self._arrays)

    def __repr__(self):
        return f"PSFCache({len(self)} PSF(s), {self.nbytes} of max_bytes={self.max_bytes})"

    def get(self, key):
        """The array stored under ``key`` (now the most recently used), or None."""
        if key not in self._arrays:
            return None
        self._arrays.move_to_end(key)
        return self._arrays[key]

    def put(self, key, array):
        """Store ``array`` (made read-only) under ``key``, drop the least recently used beyond `max_bytes`;
        return ``array``."""
        array.flags.writeable = False
        self._arrays[key] = array
        self._trim()
        return array

    def clear(self):
        """Forget every array."""
        self._arrays.clear()

    def _trim(self):
        while self._arrays and self.nbytes > self._max_bytes:
            self._arrays.popitem(last=False)


#: The cache `calculate_psf` uses unless given another (``cache=``): set its size with
#: ``aiapy.psf.PSF_CACHE.max_bytes``.
PSF_CACHE = PSFCache()
