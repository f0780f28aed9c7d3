"""Inputs for the pipeline tests: copies of real bundled level-1 files, plus bad ones."""

import shutil

import numpy as np
import pytest
from astropy.io import fits

from aiapy.data import sample
from aiapy.pipeline import write_header_pointing_table


@pytest.fixture
def flare_inputs(tmp_path):
    """Four real 67 x 67 level-1 cutouts (171, 193, 211, 335 A of 2011-02-15) copied to tmp_path/in."""
    folder = tmp_path / "in"
    folder.mkdir()
    chosen = [p for p in sample.FLARE_FILES if "01-44" in p.name and not p.name.endswith(("_094.fits", "_131.fits"))]
    for path in chosen:
        shutil.copy(path, folder / path.name)
    return sorted(folder.iterdir())


@pytest.fixture
def bad_inputs(tmp_path):
    """A corrupt file, a truncated FITS file, a non-AIA FITS file and a level-1.5 AIA file."""
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "corrupt.fits").write_bytes(b"this is not FITS at all" * 200)
    data = folder / "truncated.fits"
    data.write_bytes(sample.AIA_171_CUTOUT.read_bytes()[:20000])
    header = fits.Header(
        {"INSTRUME": "EIT", "TELESCOP": "SOHO", "WAVELNTH": 195, "DATE-OBS": "2011-01-01T00:00:00",
         "CTYPE1": "HPLN-TAN", "CTYPE2": "HPLT-TAN", "CUNIT1": "arcsec", "CUNIT2": "arcsec",
         "CDELT1": 2.6, "CDELT2": 2.6, "CRPIX1": 4.5, "CRPIX2": 4.5, "CRVAL1": 0.0, "CRVAL2": 0.0}
    )  # fmt: skip
    fits.PrimaryHDU(np.ones((8, 8), dtype=np.int16), header).writeto(folder / "not_aia.fits")
    shutil.copy(sample.SYNOPTIC_FILES[171], folder / "level15.fits.gz")
    return sorted(folder.iterdir())


@pytest.fixture
def pointing_csv(tmp_path):
    """A master pointing table built from the flare cutouts' own header values (runs update_pointing offline)."""
    return str(write_header_pointing_table(sample.flare_maps(), tmp_path / "pointing.csv"))
