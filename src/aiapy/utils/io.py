"""Reading AIA FITS files into maps, tolerant of the quirks of real archive files."""

import logging
import warnings

import numpy as np
import sunpy.map
from astropy.io import fits

__all__ = ["read_map"]

log = logging.getLogger("aiapy")


def _image_hdu(hdulist, path):
    for hdu in hdulist:
        if hdu.is_image and hdu.header.get("NAXIS", 0) == 2:
            return hdu
    raise ValueError(f"{path} holds no two-dimensional image HDU.")


def read_map(path):
    """
    Read a level-1 or level-1.5 AIA FITS file (Rice-compressed or not) into a sunpy Map.

    The first two-dimensional image HDU is used. A ``BLANK`` keyword on floating-point data (which FITS
    forbids, and which some archive files carry) is dropped rather than warned about; it is logged at debug.

    Parameters
    ----------
    path : str or `pathlib.Path`
        The FITS file.

    Returns
    -------
    `~sunpy.map.GenericMap`
        An `~sunpy.map.sources.AIAMap` for AIA files.

    Raises
    ------
    OSError
        If the file cannot be read as FITS (missing, truncated or corrupt).
    ValueError
        If it holds no two-dimensional image.
    """
    with warnings.catch_warnings():
        # Archive files (JSOC cutout services, rebinned test files) carry BLANK on float data; astropy
        # ignores it with a VerifyWarning. It means nothing here, so it is dropped below instead.
        warnings.filterwarnings("ignore", message=".*BLANK.*", category=fits.verify.VerifyWarning)
        hdulist = fits.open(path, memmap=False)
    with hdulist:
        hdu = _image_hdu(hdulist, path)
        header = hdu.header.copy()
        data = hdu.data
        if data is None:
            raise ValueError(f"{path} has an image HDU without data.")
        if np.issubdtype(data.dtype, np.floating) and "BLANK" in header:
            log.debug("Dropping the BLANK keyword of floating-point image %s", path)
            del header["BLANK"]
        data = np.array(data)
    for key in ("XTENSION", "PCOUNT", "GCOUNT", "ZIMAGE", "ZBITPIX", "ZCMPTYPE"):
        header.pop(key, None)
    return sunpy.map.Map(data, header)
