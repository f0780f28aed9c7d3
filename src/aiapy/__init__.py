"""aiapy: calibration of level-1 data from the Atmospheric Imaging Assembly (AIA) on SDO.

Subpackages
-----------
calibrate
    Level 1 to 1.5 ("aia_prep"), degradation, uncertainties, exposure normalisation, spikes.
psf
    The instrument point-spread function and Richardson-Lucy deconvolution.
response
    Effective areas, wavelength and temperature responses.
data
    Bundled calibration tables and sample images, behind one registry.
pipeline
    Batch processing of many files, serially or on Dask.
"""

import textwrap
from importlib.resources import files as _files

from aiapy._version import __version__

#: Base URLs of the SolarSoft mirrors, tried in this order for remote calibration files.
_SSW_MIRRORS = [
    "https://soho.nascom.nasa.gov/solarsoft/",
    "https://hesperia.gsfc.nasa.gov/ssw/",
    "https://raw.githubusercontent.com/LM-SAL/backup-files/refs/heads/aia/static/",
]


def _read_citation():
    text = _files("aiapy").joinpath("CITATION.rst").read_text(encoding="utf-8")
    block = text[text.index("@") :]
    lines = block.splitlines()
    end = next(i for i, line in enumerate(lines) if line.strip() == "}")
    return textwrap.dedent("\n".join(["    " + lines[0], *lines[1 : end + 1]]))


__citation__ = __bibtex__ = _read_citation()

__all__ = ["__version__", "__citation__", "__bibtex__", "_SSW_MIRRORS"]
