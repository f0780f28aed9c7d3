"""Fixtures shared by the whole test suite."""

import matplotlib
import numpy as np
import pytest
import sunpy.map

matplotlib.use("Agg")


@pytest.fixture
def non_aia_map():
    """A small, valid helioprojective map from another instrument."""
    meta = {
        "cdelt1": 2.0, "cdelt2": 2.0, "cunit1": "arcsec", "cunit2": "arcsec",
        "ctype1": "HPLN-TAN", "ctype2": "HPLT-TAN", "crpix1": 8.5, "crpix2": 8.5, "crval1": 0.0, "crval2": 0.0,
        "telescop": "RHESSI", "instrume": "RHESSI", "date-obs": "2011-02-15T00:00:00", "exptime": 4.0,
        "dsun_obs": 1.496e11, "hgln_obs": 0.0, "hglt_obs": 0.0, "wavelnth": 171, "waveunit": "angstrom",
        "lvl_num": 1.0,
    }  # fmt: skip
    return sunpy.map.Map(np.ones((16, 16)), meta)
