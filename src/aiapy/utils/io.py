"""Reading AIA FITS files into maps, tolerant of the quirks of real archive files."""

import logging
import warnings

import numpy as np
import sunpy.map
from astropy.io import fits
from sunpy.map.mapbase import MapMetaValidationError

try:  # astropy's own Rice decoder and tile settings (private: read_map falls back to hdu.data without them)
    from astropy.io.fits.hdu.compressed._compression import decompress_rice_1_c
    from astropy.io.fits.hdu.compressed._tiled_compression import _header_to_settings
except ImportError:  # pragma: no cover - another astropy layout
    decompress_rice_1_c = _header_to_settings = None

__all__ = ["read_map", "aia_image_hdu", "check_complete", "check_sums", "is_aia_header"]

log = logging.getLogger("aiapy")


def is_aia_header(header):
    """Whether a FITS header describes an AIA image (INSTRUME ``AIA...`` or TELESCOP ``SDO/AIA``)."""
    return str(header.get("INSTRUME", "")).upper().startswith("AIA") or "AIA" in str(header.get("TELESCOP", "")).upper()


def _describe(index, hdu):
    header = hdu.header
    shape = "x".join(str(header.get(f"NAXIS{axis}", "?")) for axis in range(1, header.get("NAXIS", 0) + 1))
    what = "AIA" if is_aia_header(header) else "no AIA keywords"
    return f"HDU {index} {hdu.name or '-'} ({type(hdu).__name__}, {shape or 'no data'}, {what})"


def aia_image_hdu(hdulist, path):
    """
    The image HDU of ``hdulist`` that holds the AIA image: the first two-dimensional image with the AIA keywords
    (`is_aia_header`), else the only two-dimensional image.

    A thumbnail with a bare header in the primary HDU and the image in an extension gives the extension.

    Raises
    ------
    ValueError
        If there is no two-dimensional image, or several and none has the AIA keywords; the message lists the
        HDUs found.
    """
    images = [hdu for hdu in hdulist if hdu.is_image and hdu.header.get("NAXIS", 0) == 2]
    for hdu in images:
        if is_aia_header(hdu.header):
            return hdu
    if len(images) == 1:
        return images[0]
    found = "; ".join(_describe(index, hdu) for index, hdu in enumerate(hdulist))
    problem = "no two-dimensional image HDU" if not images else "several images and none with the AIA keywords"
    raise ValueError(f"{path} holds {problem} (INSTRUME = 'AIA...' or TELESCOP = 'SDO/AIA'). Found: {found}.")


def _declared_bytes(hdu):
    """The bytes the header of ``hdu`` says its data take (FITS: |BITPIX|/8 GCOUNT (PCOUNT + NAXIS1...NAXISn))."""
    header = getattr(hdu, "_bintable", hdu).header  # a tile-compressed image is stored as a table
    count = 1 if header.get("NAXIS", 0) else 0
    for axis in range(1, header.get("NAXIS", 0) + 1):
        count *= header.get(f"NAXIS{axis}", 0)
    return abs(header.get("BITPIX", 8)) // 8 * header.get("GCOUNT", 1) * (header.get("PCOUNT", 0) + count)


def check_complete(hdulist, path):
    """
    Raise `OSError` if the file of ``hdulist`` is shorter than its headers declare (a truncated download or
    copy), naming the bytes expected and present; compressed (gzip) files are left to their decompressor.
    """
    source = getattr(hdulist, "_file", None)
    if source is None or source.compression or not source.size:
        return
    for index, hdu in enumerate(hdulist):
        expected = hdu._data_offset + _declared_bytes(hdu)
        if source.size < expected:
            raise OSError(
                f"{path} is truncated: its FITS headers declare {expected} bytes (up to the end of the data of "
                f"HDU {index}), but the file has {source.size} bytes. Download or copy it again."
            )


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


#: astropy's note on a file shorter than its padded size: `check_complete` refuses one that lacks data (naming
#: the bytes); one that lacks only the zeros padding its last 2880-byte block holds every value and is read.
SHORT_FILE_WARNING = "File may have been truncated"


def check_sums(hdu, path):
    """
    Raise `OSError` if ``hdu`` carries a DATASUM (else a CHECKSUM) keyword that its stored bytes do not match (a
    tile-compressed image: those of its table); one pass over the bytes, none without the keywords.
    """
    stored = getattr(hdu, "_bintable", None) or hdu
    for key, verify in (("DATASUM", stored.verify_datasum), ("CHECKSUM", stored.verify_checksum)):
        if key in stored.header:
            if verify() == 0:
                raise OSError(
                    f"{path} is corrupt: HDU {hdu.name or '-'} fails its {key} check (its bytes no longer match the "
                    "sum the file carries). Download or copy it again."
                )
            return


def read_map(path):
    """
    Read a level-1 or level-1.5 AIA FITS file (Rice-compressed or not) into a sunpy Map.

    The image HDU is the first two-dimensional image with the AIA keywords, else the only image
    (`aia_image_hdu`); a file shorter than its headers declare is refused (`check_complete`), and so is an HDU
    whose CHECKSUM or DATASUM keyword (when it carries one) does not match its bytes. A ``BLANK``
    keyword on floating-point data (which FITS forbids, and which some archive files carry) is dropped rather
    than warned about; it is logged at debug.
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
        If the file cannot be read as FITS (missing, truncated or corrupt); for a truncated file the message
        gives the bytes expected and present, for one that fails its CHECKSUM/DATASUM the HDU.
    ValueError
        If it holds no two-dimensional image, or several without AIA keywords, or one sunpy cannot make a map
        of (the message lists the HDUs found).
    """
    with warnings.catch_warnings():
        # Archive files (JSOC cutout services, rebinned test files) carry BLANK on float data; astropy
        # ignores it with a VerifyWarning. It means nothing here, so it is dropped below instead.
        warnings.filterwarnings("ignore", message=".*BLANK.*", category=fits.verify.VerifyWarning)
        warnings.filterwarnings("ignore", message=SHORT_FILE_WARNING)
        hdulist = fits.open(path, memmap=False)
    with hdulist, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=SHORT_FILE_WARNING)
        check_complete(hdulist, path)
        hdus = list(hdulist)
        hdu = aia_image_hdu(hdus, path)
        check_sums(hdu, path)
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
    try:
        return sunpy.map.Map(data, header)
    except MapMetaValidationError as error:
        found = "; ".join(_describe(index, item) for index, item in enumerate(hdus))
        index = hdus.index(hdu)
        raise ValueError(f"{path}: sunpy cannot make a map of HDU {index} ({error}). Found: {found}.") from None
