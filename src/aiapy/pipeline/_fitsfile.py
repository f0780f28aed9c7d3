"""Opening AIA FITS files (level 1 or pipeline outputs) and finding their images."""

import contextlib
import os
import warnings

import sunpy.map
from astropy.io import fits

__all__ = ["open_images", "read_output", "image_header", "is_aiapy_output", "CONFIG_KEY", "UNCERTAINTY_EXTNAME",
           "MASK_EXTNAME"]  # fmt: skip

#: Header keyword holding the identifier of the settings an output was made with.
CONFIG_KEY = "AIAPYCFG"
#: Name of the optional uncertainty HDU.
UNCERTAINTY_EXTNAME = "UNCERTAINTY"
#: Name of the optional pixel-flag HDU (uint8 `aiapy.utils.PixelFlag` bits).
MASK_EXTNAME = "MASK"


@contextlib.contextmanager
def open_images(path):
    """
    Open a FITS file and yield ``(hdulist, images)``, the two-dimensional image HDUs in file order.

    Astropy's warning about a BLANK keyword on float data (archive cutouts carry one) is silenced; it
    means nothing for these files.

    Raises
    ------
    OSError
        If the file is not FITS.
    ValueError
        If it holds no two-dimensional image.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*BLANK.*", category=fits.verify.VerifyWarning)
        with fits.open(path) as hdulist:
            images = [hdu for hdu in hdulist if hdu.is_image and hdu.header.get("NAXIS") == 2]
            if not images:
                raise ValueError(f"{path} holds no two-dimensional image.")
            yield hdulist, images


def _native(hdu):
    """An HDU's data in native byte order, so that the arrays behave like any other."""
    return hdu.data.astype(hdu.data.dtype.newbyteorder("="))


def read_output(path):
    """
    Read a pipeline output back: the level-1.5 map and, when present, the uncertainty map.

    The HDUs are found by name: the uncertainty is the image named ``UNCERTAINTY``, and an image named
    ``MASK`` (`aiapy.utils.PixelFlag` bits) becomes the level-1.5 map's ``mask``; the level-1.5 image is the
    first other one.

    Returns
    -------
    smap : `~sunpy.map.GenericMap`
        With ``smap.mask`` the uint8 flags of the ``MASK`` HDU when the file has one.
    errors : `~sunpy.map.GenericMap` or None
    """
    with open_images(path) as (_, images):
        named = {hdu.name: hdu for hdu in images if hdu.name in (UNCERTAINTY_EXTNAME, MASK_EXTNAME)}
        image = next((hdu for hdu in images if hdu.name not in named), None)
        if image is None:
            raise ValueError(f"{path} holds no level-1.5 image (only {', '.join(named)}).")
        mask = _native(named[MASK_EXTNAME]) if MASK_EXTNAME in named else None
        smap = sunpy.map.Map(_native(image), image.header.copy(), mask=mask)
        errors = named.get(UNCERTAINTY_EXTNAME)
        errors = None if errors is None else sunpy.map.Map(_native(errors), errors.header.copy())
    return smap, errors


def image_header(path):
    """
    The header of the first image of a FITS file, read quickly: tile-compressed images are not decoded (their
    table header carries the image's keywords), and no data are read. Warnings about odd cards are silenced.

    Raises
    ------
    OSError
        If the file is not FITS.
    ValueError
        If it holds no two-dimensional image.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fits.open(path, disable_image_compression=True) as hdulist:
            for hdu in hdulist:
                header = hdu.header
                if header.get("ZIMAGE") or (hdu.is_image and header.get("NAXIS") == 2):
                    return header  # parsed: independent of the closed file
    size = os.path.getsize(path)
    truncated = f" (truncated: {size} bytes, not a whole number of 2880-byte FITS blocks)" if size % 2880 else ""
    raise ValueError(f"{path} holds no two-dimensional image{truncated}.")


def is_aiapy_output(path):
    """Whether ``path`` is a FITS file whose image header carries `CONFIG_KEY` (False if unreadable)."""
    try:
        return CONFIG_KEY in image_header(path)
    except (OSError, ValueError, KeyError, TypeError):
        return False
