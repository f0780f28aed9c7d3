"""Uncertainty of AIA intensities, after SolarSoft's ``aia_bp_estimate_error``."""

import logging

import astropy.units as u
import numpy as np

from aiapy.calibrate.utils import get_error_table
from aiapy.utils.channels import READ_NOISE, telescope_number, validate_channel
from aiapy.utils.dtypes import supported_float_type

__all__ = ["estimate_error"]

log = logging.getLogger(__name__)

_DARK_NOISE = 0.18  # DN/pix, long-term residual dark (2015 analysis); not reduced by n_sample
_QUANTIZATION = 1 / np.sqrt(12)  # DN/pix, uniform rounding error
_COMPRESSION_THRESHOLD = 25  # DN: the onboard lookup table is lossless (linear) below this
#: Count dtypes the compiled kernel reads as they are (native byte order); others are converted first.
_KERNEL_INPUTS = frozenset(np.dtype(t) for t in (np.int16, np.int32, np.int64, np.uint16, np.float32, np.float64))
_IDL_READ_NOISE = 1.15  # DN/pix, the value aia_bp_estimate_error hard-codes for every camera
_NEGATIVE = ("clamp", "nan")

def _error_row(error_table, channel):
    if not hasattr(error_table, "colnames"):
        error_table = get_error_table(error_table)
    rows = error_table[np.isclose(error_table["WAVELNTH"].to_value(u.AA), channel.to_value(u.AA))]
    if len(rows) == 0:
        raise ValueError(f"The error table has no row for {channel:0.0f}.")
    return rows[0]


def _estimate_error_kernel(counts, *, n_sample, gain, compress, read_noise, fractional, clamp):
    """
    The error in DN/pix of ``counts`` (any shape; ``fractional`` the systematic fractions of the counts).

    The variance is a polynomial in the counts ``c``, ``constant + c (gain / n + sum(f^2) c)``, plus the
    compression term ``[c >= 25] max(c gain / (n compress^2), 1/12) / n``. It is evaluated in one compiled
    pass into the result array, in `supported_float_type` of the counts: no temporary besides the result.
    Negative counts give zero signal (``clamp``) or NaN (SolarSoft).
    """
    dtype = supported_float_type(counts.dtype)
    # Python floats, so that they take the array's precision (numpy scalars would promote float32 to float64)
    n_sample, gain, compress, read_noise = float(n_sample), float(gain), float(compress), float(read_noise)
    constant = _DARK_NOISE**2 + (read_noise**2 + _QUANTIZATION**2) / n_sample
    linear = gain / n_sample
    quadratic = sum(float(f) ** 2 for f in fractional)
    compression_slope = gain / (n_sample**2 * compress**2)
    compression_floor = _QUANTIZATION**2 / n_sample
    from aiapy.calibrate._uncertainty_kernel import error_values  # numba: imported on first use

    flat = np.ascontiguousarray(counts).reshape(-1)
    if flat.dtype not in _KERNEL_INPUTS:
        flat = flat.astype(dtype)  # what the compiled kernel does not read: float16, big-endian (FITS), bool
    error = np.empty(flat.shape, dtype)
    error_values(
        flat, error, constant, linear, quadratic, compression_slope, compression_floor,
        float(_COMPRESSION_THRESHOLD), bool(clamp),
    )  # fmt: skip
    return error.reshape(counts.shape)


@validate_channel("channel")
@u.quantity_input
def estimate_error(
    counts: u.DN / u.pix,
    channel: u.AA,
    *,
    n_sample=1,
    include_preflight=False,
    include_eve=False,
    include_chianti=False,
    error_table=None,
    compare_idl=False,
    negative="clamp",
    flags=None,
) -> u.DN / u.pix:
    """
    Estimate the uncertainty on AIA intensities.

    Parameters
    ----------
    counts : `~astropy.units.Quantity`
        Intensities in DN/pix, **not** divided by the exposure time; any shape.
    channel : `~astropy.units.Quantity`
        AIA channel.
    n_sample : int
        Number of images (or pixels) summed or averaged into each value; random terms scale as
        :math:`1/\\sqrt{n}`.
    include_preflight : bool
        Add the pre-flight photometric calibration error (``CALERR`` x counts).
    include_eve : bool
        Add the error of the EVE-normalised calibration (``EVEERR`` x counts). Exclusive with
        ``include_preflight``.
    include_chianti : bool
        Add the atomic-data error (``CHIANTI`` x counts), for comparisons with a model spectrum.
    error_table : `~astropy.table.QTable`, str or path-like, optional
        Table from `~aiapy.calibrate.utils.get_error_table` or a source for it; default: bundled V3.
    compare_idl : bool
        Use SolarSoft's single read noise of 1.15 DN for every camera (to compare with IDL) instead of the
        per-camera values of Boerner et al. (2012, Table 6).
    negative : {"clamp", "nan"}
        Negative counts (noise around a zero signal) give NaN in SolarSoft. ``"clamp"`` (default) treats
        them as zero signal for the count-dependent terms, so the error is the noise floor (dark, read,
        quantisation); ``"nan"`` reproduces SolarSoft.
    flags : `numpy.ndarray`, optional
        Flags of the counts, broadcastable to their shape: `~aiapy.utils.PixelFlag` bits (a map's ``mask``,
        e.g. from `~aiapy.calibrate.register`) or a boolean mask. Where any is set the count is no
        measurement (missing; or saturated or bloomed, a lower limit whose noise says nothing of the
        flux), and the uncertainty is NaN.

    Returns
    -------
    `~astropy.units.Quantity`
        Uncertainty in DN/pix, shape ``np.atleast_1d(counts).shape``; float32 for float16 or float32
        counts, float64 for any other dtype (`aiapy.utils.dtypes.supported_float_type`).

    Raises
    ------
    ValueError
        If both ``include_eve`` and ``include_preflight`` are set, ``n_sample`` < 1, ``negative`` is
        not one of the allowed values, or ``flags`` does not broadcast to the counts' shape.

    Notes
    -----
    With counts :math:`c`, DN per photon :math:`g` and :math:`n` samples:

    .. math::

        \\sigma^2 = \\frac{c g}{n} + \\sigma_{\\rm dark}^2 + \\frac{\\sigma_{\\rm read}^2}{n}
                  + \\frac{1}{12 n} + \\sigma_{\\rm comp}^2 + (f c)^2

    where :math:`\\sigma_{\\rm dark} = 0.18` DN, the compression term is
    :math:`\\max(\\sigma_{\\rm shot}/\\mathrm{COMPRESS}, 1/\\sqrt{12})/\\sqrt{n}` (zero below 25 DN) and
    :math:`f` the chosen systematic fractions.

    References
    ----------
    .. [1] Boerner et al. 2012, Sol. Phys. 275, 41 (Table 6, read noise).
    .. [2] SolarSoft ``aia_bp_estimate_error.pro`` (rev. 1.7, 2015).

    Examples
    --------
    >>> import astropy.units as u
    >>> estimate_error(10 * u.DN / u.pix, 171 * u.AA)  # doctest: +FLOAT_CMP
    <Quantity [3.55784111] DN / pix>
    """
    if include_eve and include_preflight:
        raise ValueError(
            "Cannot include both EVE and pre-flight correction: include_eve and include_preflight are two "
            "calibrations of the same quantity; choose one."
        )
    if negative not in _NEGATIVE:
        raise ValueError(f"negative must be one of {_NEGATIVE}, not {negative!r}.")
    if not np.isscalar(n_sample) or not n_sample >= 1:
        raise ValueError(f"n_sample must be a number >= 1, not {n_sample!r}.")
    row = _error_row(error_table, channel)
    values = np.atleast_1d(counts.to_value(u.DN / u.pix))
    if flags is not None:
        flags = np.asarray(flags)
        try:
            flagged = np.broadcast_to(flags != 0, values.shape)
        except ValueError:
            raise ValueError(f"flags of shape {flags.shape} do not broadcast to the counts' {values.shape}.") from None
    if negative == "clamp" and log.isEnabledFor(logging.DEBUG):
        log.debug("estimate_error: %d negative values treated as zero signal", np.count_nonzero(values < 0))
    fractional = [
        float(row[column])
        for column, wanted in (("EVEERR", include_eve), ("CALERR", include_preflight), ("CHIANTI", include_chianti))
        if wanted
    ]
    read_noise = _IDL_READ_NOISE if compare_idl else READ_NOISE[telescope_number(channel)]
    error = _estimate_error_kernel(
        values,
        n_sample=float(n_sample),
        gain=row["DNPERPHT"].to_value(u.DN / u.photon),
        compress=float(row["COMPRESS"]),
        read_noise=read_noise,
        fractional=fractional,
        clamp=negative == "clamp",
    )
    if flags is not None:
        error[flagged] = np.nan
    return error << (u.DN / u.pix)
