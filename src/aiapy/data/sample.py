"""Named access to the real AIA images bundled with aiapy, and a full-frame image built from them.

The names of aiapy 0.12 (``aiapy.data.sample``) work, offline; each is a path to a level-1 file of its
channel:

``AIA_094_IMAGE``
    The bundled real level-1 94 Å cutout (67 x 67 px at 0.6"/px, float32 DN) of 2011-02-15T01:44:02,
    before the X2.2 flare. aiapy 0.12 downloads a 4096 x 4096 image of 2019-01-01 instead; no
    full-resolution 94 Å level-1 file is bundled.
``AIA_171_IMAGE``
    A 4096 x 4096 level-1 171 Å file (Rice-compressed int16, as JSOC level-1 files), written once into
    the aiapy cache (``AIAPY_CACHE_DIR``, see `aiapy.net.config`) from `full_frame_171`: the real
    2011-02-15T00:00:01 full-disk image of 128 x 128 px, upsampled 32 times, so its structure is coarser
    than a real 4096 x 4096 image. aiapy 0.12 downloads a real image of 2019-01-01.
``AIA_193_IMAGE``
    The bundled real level-1 193 Å cutout (67 x 67 px) of 2011-02-15T01:44:07. aiapy 0.12 downloads a
    4096 x 4096 image of 2013-03-15.
``file_dict``, ``file_list``
    The named sample files below, by name, and their paths.

These names are resolved when first used: ``AIA_171_IMAGE``, ``file_dict`` and ``file_list`` write the
4096 x 4096 file into the cache the first time (a few seconds). They are in ``__all__`` but not in
``dir()``, so that tools which inspect every attribute of a module (pytest, IDEs) write nothing.

aiapy's own names give further verified paths:

``AIA_171_FULLDISK_128PX``
    Full-disk level-1 171 Å image of 2011-02-15T00:00:01, rebinned by JSOC users to 128 x 128.
``AIA_171_CUTOUT``
    Native-resolution level-1 171 Å cutout (769 x 705, Rice-compressed int16) of 2013-03-10T12:00:12.
``FLARE_FILES``
    60 level-1 cutouts (67 x 67) around the 2011-02-15 X2.2 flare, 6 EUV channels x 10 times.
``SYNOPTIC_FILES``
    Six JSOC level-1.5 synoptic images (1024 x 1024, 2.4"/px) of 2014-01-01T00:00, keyed by channel.

`full_frame_171` builds a 4096 x 4096 level-1 map from the full-disk image so that full-frame code (PSF
deconvolution, registration, the pipeline) runs offline on real solar structure; `download_all` (aiapy
0.12's name) writes ``AIA_171_IMAGE`` if it is not in the cache yet.
"""

import functools
import logging
import os
import uuid

import numpy as np
import sunpy.map
from astropy.io import fits
from astropy.wcs import WCS
from scipy import ndimage

from aiapy.data._registry import REGISTRY, get_file, sha256sum
from aiapy.utils.constants import DETECTOR_SIZE
from aiapy.utils.io import read_map

__all__ = [
    "AIA_094_IMAGE",
    "AIA_171_IMAGE",
    "AIA_193_IMAGE",
    "file_dict",
    "file_list",
    "download_all",
    "load_map",
    "full_frame_171",
    "flare_maps",
    "AIA_171_FULLDISK_128PX",
    "AIA_171_CUTOUT",
    "FLARE_FILES",
    "SYNOPTIC_FILES",
]

log = logging.getLogger("aiapy")

# Public name -> registry name of a bundled file.
_NAMES = {
    "AIA_094_IMAGE": "flare_2011-02-15T01-44-02_094",
    "AIA_193_IMAGE": "flare_2011-02-15T01-44-07_193",
    "AIA_171_FULLDISK_128PX": "aia_171_fulldisk_128px",
    "AIA_171_CUTOUT": "aia_171_cutout",
}
# Public names of files built into the cache, and the builder's version (bump it when the file changes).
_BUILT = {"AIA_171_IMAGE": "aia_lev1_171a_2011_02_15t00_00_01_4096px_upsampled_from_128px_b1.fits"}
_SAMPLES = sorted(name for name, entry in REGISTRY.items() if entry.kind == "sample")


def _sample_dir():
    from aiapy.net.config import get_settings  # only needed for the files built into the cache

    return get_settings().cache_dir / "sample"


def _write_full_frame_171(path):
    """Write `full_frame_171` as a JSOC-like level-1 file (Rice-compressed int16 in HDU 1), atomically."""
    smap = full_frame_171()
    skip = ("comment", "history", "keycomments")
    header = fits.Header({key.upper(): value for key, value in smap.meta.items() if key not in skip})
    header["HISTORY"] = (
        "aiapy.data.sample: the real 128 x 128 px full-disk image of 2011-02-15T00:00:01 upsampled to "
        f"4096 x 4096 (bilinear, on pixel centres); source SHA-256 {sha256sum(get_file('aia_171_fulldisk_128px'))}"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own for each writer, so concurrent first uses never see a partial file.
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex}.part")
    try:
        hdu = fits.CompImageHDU(smap.data, header, compression_type="RICE_1")
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(temporary, checksum=True)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    log.info("Wrote the sample file %s", path)
    return path


def _built_file(name, *, force=False):
    path = _sample_dir() / _BUILT[name]
    if force or not path.is_file():
        _write_full_frame_171(path)
    return path


def _file_dict():
    paths = {name: get_file(key) for name, key in _NAMES.items()} | {name: _built_file(name) for name in _BUILT}
    return dict(sorted(paths.items()))


def download_all(*, force_download=False):
    """
    Make every named sample file available and return their paths (aiapy 0.12's call).

    Nothing is downloaded: the bundled files are verified against their SHA-256 and ``AIA_171_IMAGE`` is
    written into the cache if it is not there (or again, with ``force_download=True``).

    Parameters
    ----------
    force_download : bool
        Rewrite the files built into the cache.

    Returns
    -------
    list of `pathlib.Path`
        The paths, in the order of ``file_list``.
    """
    if not isinstance(force_download, bool):
        raise TypeError(f"force_download must be True or False, not {force_download!r}.")
    for name in _BUILT:
        _built_file(name, force=force_download)
    return list(_file_dict().values())


def load_map(name):
    """
    Read the bundled sample image registered as ``name`` into a map.

    Parameters
    ----------
    name : str
        A registry name, e.g. ``"aia_171_cutout"`` or ``"flare_2011-02-15T01-44-12_171"``.
    """
    return read_map(get_file(name))


def flare_maps(channel=None):
    """
    The 2011-02-15 flare cutouts as maps, in time order.

    Parameters
    ----------
    channel : int or None
        Keep only this channel (94, 131, 171, 193, 211 or 335); all six when None.
    """
    names = [name for name in _SAMPLES if name.startswith("flare_")]
    if channel is not None:
        names = [name for name in names if name.endswith(f"_{int(channel):03d}")]
        if not names:
            raise ValueError(f"No bundled flare cutouts for channel {channel}; have 94, 131, 171, 193, 211, 335.")
    return [load_map(name) for name in names]


@functools.lru_cache(maxsize=2)
def _full_frame_arrays(dtype):
    smap = load_map("aia_171_fulldisk_128px")
    factor = DETECTOR_SIZE // smap.data.shape[0]
    # Pixel centres of the new grid in old-pixel coordinates: (j + 0.5) / factor - 0.5.
    coords = (np.arange(DETECTOR_SIZE) + 0.5) / factor - 0.5
    data = ndimage.map_coordinates(
        smap.data, np.meshgrid(coords, coords, indexing="ij"), order=1, mode="nearest"
    )
    if np.issubdtype(np.dtype(dtype), np.integer):
        data = np.round(data)
    data = data.astype(dtype)
    data.flags.writeable = False
    return data, smap.meta, factor


def full_frame_171(*, dtype=np.int16):
    """
    A 4096 x 4096 level-1 171 Å map built from the real 128 x 128 full-disk image.

    The image is bilinearly upsampled by 32 on pixel centres. The header stays consistent with the data:
    NAXIS 4096, CDELT divided by 32, CRVAL (0, 0) with CRPIX at Sun centre, ``X0_MP``/``Y0_MP`` equal to
    CRPIX - 1 (as in a real level-1 header), R_SUN in the new pixels, DATAMIN/DATAMAX recomputed.

    Parameters
    ----------
    dtype : numpy dtype
        ``int16`` (default, as in real level-1 files; values rounded) or a float type.

    Returns
    -------
    `~sunpy.map.sources.AIAMap`
        A new map; modifying it does not affect later calls.
    """
    data, meta, factor = _full_frame_arrays(np.dtype(dtype))
    header = dict(meta)
    header.pop("blank", None)
    header["naxis1"] = header["naxis2"] = DETECTOR_SIZE
    header["cdelt1"] = header["cdelt1"] / factor
    header["cdelt2"] = header["cdelt2"] / factor
    for axis in (1, 2):
        old = header[f"crpix{axis}"] - 0.5
        header[f"crpix{axis}"] = old * factor + 0.5
    keys = ("ctype1", "ctype2", "cunit1", "cunit2", "crval1", "crval2", "cdelt1", "cdelt2", "crpix1", "crpix2")
    new_wcs = WCS({key: header[key] for key in keys} | {"crota2": header["crota2"]}, naxis=2)
    # Move the reference point to Sun centre (CRVAL = 0, 0), as in a level-1 header.
    x0, y0 = new_wcs.world_to_pixel_values(0.0, 0.0)
    header.update(crval1=0.0, crval2=0.0, crpix1=float(x0) + 1, crpix2=float(y0) + 1)
    header.update(x0_mp=float(x0), y0_mp=float(y0))
    header["r_sun"] = header["rsun_obs"] / header["cdelt1"]
    header["datamin"], header["datamax"] = float(data.min()), float(data.max())
    return sunpy.map.Map(np.array(data), header)


def __getattr__(name):
    if name in _NAMES:
        return get_file(_NAMES[name])
    if name in _BUILT:
        return _built_file(name)
    if name == "file_dict":
        return _file_dict()
    if name == "file_list":
        return list(_file_dict().values())
    if name == "FLARE_FILES":
        return [get_file(key) for key in _SAMPLES if key.startswith("flare_")]
    if name == "SYNOPTIC_FILES":
        return {int(key.split("_")[1]): get_file(key) for key in _SAMPLES if key.startswith("synoptic_")}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

