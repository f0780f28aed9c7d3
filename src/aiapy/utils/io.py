"""Reading AIA FITS files into maps, tolerant of the quirks of real archive files."""

import logging
import warnings

import numpy as np
import sunpy.map
from astropy.io import fits

try:  # astropy's own Rice decoder and tile settings (private: read_map falls back to hdu.data without them)
    from astropy.io.fits.hdu.compressed._compression import decompress_rice_1_c
    from astropy.io.fits.hdu.compressed._tiled_compression import _header_to_settings
except ImportError:  # pragma: no cover - another astropy layout
    decompress_rice_1_c = _header_to_settings = None

__all__ = ["read_map"]

log = logging.getLogger("aiapy")


def _image_hdu(hdulist, path):
    for hdu in hdulist:
        if hdu.is_image and hdu.header.get("NAXIS", 0) == 2:
            return hdu
    raise ValueError(f"{path} holds no two-dimensional image HDU.")


# Integer FITS types by BITPIX.
_INTEGER_TYPES = {8: np.uint8, 16: np.int16, 32: np.int32, 64: np.int64}


def _rice_rows(hdu):
    """
    The data of a Rice-compressed integer image stored one row per tile (as AIA level-1 files are), or
    None for any other layout (which `read_map` leaves to astropy).

    Astropy decompresses tile by tile through general code (quantisation, blanks, edge tiles) that costs
    more per tile than the decompression of a 4096-pixel row. For this layout none of it applies: each
    row is the Rice decoding of its heap bytes, with astropy's decoder and settings, then scaled by the
    HDU's own method, so the result is identical to ``hdu.data``.
    """
    table = getattr(hdu, "_bintable", None)
    if decompress_rice_1_c is None or table is None or not isinstance(hdu, fits.CompImageHDU):
        return None
    header = table.header
    rows, columns = header.get("ZNAXIS2"), header.get("ZNAXIS1")
    if (
        header.get("ZCMPTYPE") != "RICE_1"
        or header.get("ZBITPIX") not in _INTEGER_TYPES
        or header.get("ZNAXIS") != 2
        or header.get("ZTILE1") != columns
        or header.get("ZTILE2", 1) != 1
        or table.columns.names != ["COMPRESSED_DATA"]  # no quantisation, per-tile blanks or raw tiles
    ):
        return None
    settings = _header_to_settings(header)
    descriptors = np.array(table.data["COMPRESSED_DATA"])  # (length, offset) per row
    if len(descriptors) != rows or not descriptors[:, 0].all():  # an empty row is stored raw or gzipped
        return None
    heap = table._get_raw_data(header["PCOUNT"], np.uint8, table._data_offset + table._theap).tobytes()
    decoded = f"i{settings['bytepix']}"
    data = np.empty((rows, columns), _INTEGER_TYPES[header["ZBITPIX"]])
    for row, (length, offset) in enumerate(descriptors.tolist()):
        data[row] = np.frombuffer(
            decompress_rice_1_c(heap[offset : offset + length], settings["blocksize"], settings["bytepix"], columns),
            decoded,
        )
    # BLANK (to NaN, in floating point), BSCALE and BZERO, exactly as astropy applies them to ``hdu.data``
    return data if hdu._do_not_scale_image_data else hdu._scale_data(data)


def read_map(path):
    """
    Read a level-1 or level-1.5 AIA FITS file (Rice-compressed or not) into a sunpy Map.

    The first two-dimensional image HDU is used. A ``BLANK`` keyword on floating-point data (which FITS
    forbids, and which some archive files carry) is dropped rather than warned about; it is logged at debug.
    Rice-compressed integer images with one row per tile (AIA level-1 files) are decompressed row by row
    with astropy's decoder, skipping astropy's general per-tile code; the data are the same.

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
        data = _rice_rows(hdu)
        if data is None:
            data = hdu.data
            if data is None:
                raise ValueError(f"{path} has an image HDU without data.")
            data = np.array(data)
        if np.issubdtype(data.dtype, np.floating) and "BLANK" in header:
            log.debug("Dropping the BLANK keyword of floating-point image %s", path)
            del header["BLANK"]
    for key in ("XTENSION", "PCOUNT", "GCOUNT", "ZIMAGE", "ZBITPIX", "ZCMPTYPE"):
        header.pop(key, None)
    return sunpy.map.Map(data, header)
