"""The one rule for the floating-point dtype of every result aiapy computes from image data."""

import numpy as np

__all__ = ["supported_float_type"]

#: Input dtypes computed in single precision; everything else (integers, float64, ...) in double.
_SINGLE = (np.dtype(np.float16), np.dtype(np.float32))


def supported_float_type(dtype):
    """
    The floating-point dtype in which aiapy computes and returns results for data of ``dtype``.

    float16 and float32 data give float32 (float16 has too few bits for the arithmetic, and scipy.ndimage and
    the FFTs do not support it); every other dtype, integers included (level-1 files are int16), gives
    float64. This is scikit-image's ``_supported_float_type`` rule.

    Parameters
    ----------
    dtype : numpy dtype or anything `numpy.dtype` accepts
        The dtype of the input data.

    Returns
    -------
    `numpy.dtype`
        ``float32`` or ``float64``.

    Examples
    --------
    >>> from aiapy.utils.dtypes import supported_float_type
    >>> supported_float_type("int16"), supported_float_type("float16")
    (dtype('float64'), dtype('float32'))
    """
    dtype = np.dtype(dtype).newbyteorder("=")
    return np.dtype(np.float32) if dtype in _SINGLE else np.dtype(np.float64)
