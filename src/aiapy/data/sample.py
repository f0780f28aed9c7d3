"""Named access to the real AIA images bundled with aiapy, and a full-frame image built from them.

Module attributes give verified file paths:

``AIA_171_FULLDISK_128PX``
    Full-disk level-1 171 A image of 2011-02-15T00:00:01, rebinned by JSOC users to 128 x 128.
``AIA_171_CUTOUT``
    Native-resolution level-1 171 A cutout (769 x 705, Rice-compressed int16) of 2013-03-10T12:00:12.
``FLARE_FILES``
    60 level-1 cutouts (67 x 67) around the 2011-02-15 X2.2 flare, 6 EUV channels x 10 times.
``SYNOPTIC_FILES``
    Six JSOC level-1.5 synoptic images (1024 x 1024, 2.4"/px) of 2014-01-01T00:00, keyed by channel.

`full_frame_171` builds a 4096 x 4096 level-1 map from the full-disk image so that full-frame code (PSF
deconvolution, registration, the pipeline) runs offline on real solar structure.
"""

import functools

import numpy as np
import sunpy.map
from astropy.wcs import WCS
from scipy import ndimage

from aiapy.data._registry import REGISTRY, get_file
from aiapy.utils.constants import DETECTOR_SIZE
from aiapy.utils.io import read_map

__all__ = [
    "file_dict",
    "file_list",
    "load_map",
    "full_frame_171",
    "flare_maps",
    "AIA_171_FULLDISK_128PX",
    "AIA_171_CUTOUT",
    "FLARE_FILES",
    "SYNOPTIC_FILES",
]

_NAMES = {"AIA_171_FULLDISK_128PX": "aia_171_fulldisk_128px", "AIA_171_CUTOUT": "aia_171_cutout"}
_SAMPLES = sorted(name for name, entry in REGISTRY.items() if entry.kind == "sample")


def file_dict():
    """Every bundled sample image: registry name -> verified path."""
    return {name: get_file(name) for name in _SAMPLES}


def file_list():
    """Verified paths of every bundled sample image."""
    return list(file_dict().values())


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
    A 4096 x 4096 level-1 171 A map built from the real 128 x 128 full-disk image.

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
    if name == "FLARE_FILES":
        return [path for key, path in file_dict().items() if key.startswith("flare_")]
    if name == "SYNOPTIC_FILES":
        return {int(key.split("_")[1]): path for key, path in file_dict().items() if key.startswith("synoptic_")}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
