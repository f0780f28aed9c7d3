"""Writing level-1.5 outputs atomically, and checking that an existing output is complete and valid."""

import contextlib
import os
import warnings

import numpy as np
from astropy.io import fits

from aiapy.pipeline._fitsfile import CONFIG_KEY, is_aiapy_output, open_images
from aiapy.pipeline._fitswrite import write_images
from aiapy.pipeline._inputs import temporary_path
from aiapy.utils.maps import refresh_statistics

__all__ = [
    "COMPRESSIONS",
    "CONFIG_KEY",
    "IDENTITY_KEYS",
    "UNCERTAINTY_EXTNAME",
    "write_output",
    "check_output",
    "is_aiapy_output",
]

#: Output compression: None (plain FITS), "rice" (tiled RICE_1, lossy: floats are quantised to 1/16 of the
#: local noise with subtractive dithering seeded from the data checksum (-1), so reruns give identical bytes)
#: or "gzip" (tiled GZIP_2, lossless).
COMPRESSIONS = {
    None: None,
    "rice": {"compression_type": "RICE_1", "quantize_level": 16.0, "dither_seed": -1},
    "gzip": {"compression_type": "GZIP_2", "quantize_level": 0.0},
}
#: Header keywords that tie an output to what it was made from, beside `CONFIG_KEY`, and what a mismatch
#: means: the input file (`~aiapy.pipeline._inputs.input_identity`) and the pointing table's content.
IDENTITY_KEYS = {"AIAPYINP": "its input changed", "AIAPYPNT": "the pointing table changed"}
#: Name of the optional uncertainty HDU.
UNCERTAINTY_EXTNAME = "UNCERTAINTY"
_BLOCK = 2880  # every FITS file is a whole number of 2880-byte blocks


def write_output(path, data, header, *, compress=None, uncertainty=None):
    """
    Write an image (and its uncertainty) with CHECKSUM/DATASUM, under a temporary name renamed on success.

    An interrupted write leaves at most the hidden temporary file, never a partial ``path``; the
    temporary file is removed when the write fails with an exception. Temporary names are unique per
    call, so concurrent writers of one ``path`` never collide (the last rename wins).

    Parameters
    ----------
    path : path-like
        Final output path.
    data : `numpy.ndarray`
        The image.
    header : `astropy.io.fits.Header`
        Its header.
    compress : {None, "rice", "gzip"}
        Tile compression (see `COMPRESSIONS`).
    uncertainty : `numpy.ndarray`, optional
        Written as a second image HDU named ``UNCERTAINTY`` with the same WCS.
    """
    images = [(data, header)]
    if uncertainty is not None:
        error_header = refresh_statistics(header.copy(), uncertainty)  # DATAMIN etc. of the uncertainty
        error_header["EXTNAME"] = UNCERTAINTY_EXTNAME
        error_header.add_comment("1-sigma uncertainty of the primary image, same units and grid")
        images.append((uncertainty, error_header))
    temporary = temporary_path(path)
    try:
        if compress is None:
            write_images(temporary, images)  # astropy's writeto(checksum=True) in one pass over the data
        else:
            hdus = [fits.PrimaryHDU()] + [fits.CompImageHDU(d, h, **COMPRESSIONS[compress]) for d, h in images]
            fits.HDUList(hdus).writeto(temporary, checksum=True, overwrite=True)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def check_output(path, *, config_id, uncertainty=False, identity=None):
    """
    Whether ``path`` is a complete, valid output of a run with settings ``config_id``.

    Valid means: its size is a whole number of FITS blocks, it opens without warnings, every HDU's CHECKSUM and
    DATASUM verify (so the bytes are exactly those written), the image header carries ``config_id`` in
    ``AIAPYCFG`` and the values of ``identity``, the image is 2-D with the shape its header states, and the
    ``UNCERTAINTY`` HDU is present when asked for.

    Parameters
    ----------
    path : path-like
    config_id : str
        `PrepConfig.config_id` of the run.
    uncertainty : bool
        Whether the ``UNCERTAINTY`` HDU must be present.
    identity : dict, optional
        ``{keyword: value}`` of `IDENTITY_KEYS` the image header must hold (the input's identity, the
        pointing table's digest).

    Returns
    -------
    valid : bool
    reason : str
        Why it is not valid ("" when it is).
    """
    if not os.path.isfile(path):
        return False, "missing"
    size = os.path.getsize(path)
    if size == 0 or size % _BLOCK:
        return False, f"truncated ({size} bytes, not a whole number of {_BLOCK}-byte FITS blocks)"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            reason = _check_hdus(path, config_id, uncertainty, identity or {})
    except (OSError, ValueError, KeyError, TypeError) as error:
        return False, f"unreadable ({type(error).__name__}: {error})"
    if not reason and caught:
        reason = f"unreadable ({caught[0].category.__name__}: {caught[0].message})"
    return not reason, reason


def _check_hdus(path, config_id, uncertainty, identity):
    with fits.open(path, disable_image_compression=True) as raw:
        for index, hdu in enumerate(raw):
            if hdu.verify_checksum() != 1 or hdu.verify_datasum() != 1:
                return f"checksum of HDU {index} does not verify"
    with open_images(path) as (hdulist, images):
        header = images[0].header
        if header.get(CONFIG_KEY) != config_id:
            return f"made with other settings or another aiapy version ({CONFIG_KEY}={header.get(CONFIG_KEY)!r})"
        for key, value in identity.items():
            if header.get(key) != value:
                return f"{IDENTITY_KEYS[key]} ({key}={header.get(key)!r}, now {value!r})"
        if uncertainty and UNCERTAINTY_EXTNAME not in [hdu.name for hdu in hdulist]:
            return f"no {UNCERTAINTY_EXTNAME} HDU"
        shape = images[0].shape
        if shape != (header["NAXIS2"], header["NAXIS1"]) or np.prod(shape) == 0:
            return f"bad image shape {shape}"
    return ""
