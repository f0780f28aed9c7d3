"""Writing level-1.5 outputs atomically, checking that an existing output is complete and valid, and the sink
that does both for a folder of FITS files (`FitsFolder`)."""

import contextlib
import os
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits

from aiapy._version import __version__
from aiapy.pipeline._fitsfile import (
    CONFIG_KEY,
    MASK_EXTNAME,
    UNCERTAINTY_EXTNAME,
    is_aiapy_output,
    open_images,
)
from aiapy.pipeline._fitswrite import write_images
from aiapy.pipeline._header import output_header
from aiapy.pipeline._inputs import output_path, remove_stale_temporaries, temporary_path
from aiapy.pipeline._preflight import check_writable_folder
from aiapy.pipeline._product import Sink
from aiapy.utils.maps import add_history, refresh_statistics
from aiapy.utils.pixelflags import PixelFlag

__all__ = [
    "COMPRESSIONS",
    "CONFIG_KEY",
    "IDENTITY_KEYS",
    "UNCERTAINTY_EXTNAME",
    "MASK_EXTNAME",
    "write_output",
    "check_output",
    "is_aiapy_output",
    "plan_outputs",
    "prepare_out_dir",
    "FitsFolder",
    "product_header",
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
#: means: the input file (`~aiapy.pipeline._inputs.input_identity`), the archive record's frame number and the
#: pointing table's content.
IDENTITY_KEYS = {"AIAPYINP": "its input changed", "FSN": "made from another record",
                 "AIAPYPNT": "the pointing table changed"}  # fmt: skip
#: The flags a `MASK` HDU is written for: missing pixels are already NaN in the float image.
_MASK_WORTHY = PixelFlag.SATURATED | PixelFlag.BLOOM
_BLOCK = 2880  # every FITS file is a whole number of 2880-byte blocks


def write_output(path, data, header, *, compress=None, uncertainty=None, mask=None):
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
        Written as an image HDU named ``UNCERTAINTY`` with the same WCS.
    mask : `numpy.ndarray` of uint8, optional
        `aiapy.utils.PixelFlag` bits, written as an image HDU named ``MASK`` with the same WCS.
    """
    images = [(data, header)]
    for extra, name, comment in (
        (uncertainty, UNCERTAINTY_EXTNAME, "1-sigma uncertainty of the primary image, same units and grid"),
        (mask, MASK_EXTNAME, "pixel flags (1 missing, 2 saturated, 4 bloom), same grid"),
    ):
        if extra is not None:
            extra_header = refresh_statistics(header.copy(), extra)  # DATAMIN etc. of this HDU's data
            extra_header["EXTNAME"] = name
            extra_header.add_comment(comment)
            images.append((extra, extra_header))
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


def plan_outputs(paths, out_dir):
    """
    The output path of each input, checked before any work: refused (`FileExistsError`, naming the file)
    when an output would replace an input or a file that is not an aiapy output, and (`ValueError`) when
    two inputs share an output name.
    """
    outputs = [output_path(path, Path(out_dir).expanduser().resolve()) for path in paths]
    inputs, seen = set(paths), {}
    for path, output in zip(paths, outputs, strict=True):
        if output in seen:
            raise ValueError(f"inputs {seen[output]} and {path} would both be written to {output}; rename one.")
        seen[output] = path
        if output in inputs:
            raise FileExistsError(f"the output of {path} would replace the input {output}; choose another --out.")
        if output.exists() and not is_aiapy_output(output):
            raise FileExistsError(
                f"{output} exists and is not an aiapy output; it would be replaced by the output of {path}. "
                "Move it or choose another --out."
            )
    return outputs


def prepare_out_dir(out_dir):
    """
    Create the output folder if needed (refused first if it cannot be written: nothing is computed) and remove
    the temporary files killed runs of this host left there.
    """
    check_writable_folder(out_dir, what="output folder", create=True)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out_dir)


def product_header(smap, provenance, config):
    """
    The FITS header of a prepped frame as every sink stores it: the map's metadata, a HISTORY line naming the
    steps and settings, the settings identifier (`CONFIG_KEY`), the aiapy version and the ``provenance``
    (`IDENTITY_KEYS` values: the input's identity, the pointing table's digest).
    """
    meta = smap.meta.copy()  # every step keeps DATAMIN/DATAMAX/DATAMEAN true: no pass over the data
    add_history(meta, f"pipeline: {', '.join(config.active_steps) or 'no steps'} (settings {config.config_id})")
    extra = [
        (CONFIG_KEY, config.config_id, "aiapy pipeline settings identifier"),
        ("AIAPYVER", __version__, "aiapy version that wrote this file"),
    ]
    if "AIAPYINP" in provenance:
        # the comment as astropy truncated the longer one it was given before (with a warning per file)
        extra.append(("AIAPYINP", provenance["AIAPYINP"], "identity of the input (size, mtime, T_OBS, FSN."))
    if "AIAPYPNT" in provenance:
        extra.append(("AIAPYPNT", provenance["AIAPYPNT"], "digest of the master pointing table used"))
    return output_header(meta, extra)


class FitsFolder(Sink):
    """
    A folder of FITS files, one ``<input name>_lev1.5.fits`` per item: the level-1.5 image (its header with
    the settings identifier ``AIAPYCFG``, the aiapy version and the item's identity), an ``UNCERTAINTY``
    image when asked for, and a ``MASK`` image (uint8 `~aiapy.utils.PixelFlag` bits) when a pixel is
    saturated or bloomed. Each file is written with CHECKSUM/DATASUM under a temporary name unique to the
    writer and renamed (`write_output`).

    Parameters
    ----------
    out_dir : path-like
        The folder, created if needed.
    """

    def __init__(self, out_dir):
        self.out_dir = Path(out_dir).expanduser().resolve()

    def __str__(self):
        return str(self.out_dir)

    def open(self, items, config):
        plan_outputs([item.path for item in items], self.out_dir)
        prepare_out_dir(self.out_dir)

    def target(self, item):
        return output_path(item.path, self.out_dir)

    def _check(self, item, config):
        return check_output(
            self.target(item),
            config_id=config.config_id,
            uncertainty=config.uncertainty.enabled,
            identity=item.identity,
        )

    def is_complete(self, item, config):
        return self._check(item, config)[0]

    def stale_reason(self, item, config):
        return self.resume_state(item, config)[1]

    def resume_state(self, item, config):  # one checksum pass over the output for both answers
        valid, reason = self._check(item, config)
        return valid, None if valid or reason == "missing" else reason

    def written_since(self, item, since):
        try:
            return os.stat(self.target(item)).st_mtime >= since
        except OSError:
            return False

    def write(self, item, product, config):
        dtype = np.dtype(config.output.dtype)
        mask = product.mask
        target = self.target(item)
        write_output(
            target,
            np.asarray(product.image.data, dtype=dtype),
            product_header(product.image, product.provenance, config),
            compress=config.output.compress,
            uncertainty=None if product.uncertainty is None else np.asarray(product.uncertainty, dtype=dtype),
            mask=mask if mask is not None and np.any(mask & _MASK_WORTHY) else None,
        )
        return target
