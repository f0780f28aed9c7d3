"""Fixtures of the pipeline tests: copies of real bundled level-1 files, bad ones, the loopback JSOC export
server and a local Dask cluster."""

import shutil
import warnings

import distributed
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


@pytest.fixture(scope="session")
def _export_server():
    from loopback_export import LoopbackExport

    server = LoopbackExport().start()
    yield server
    server.stop()


@pytest.fixture
def jsoc_export(_export_server, monkeypatch, tmp_path):
    """The loopback export server, aiapy pointed at it: 1 s timeouts, 2 retries, 10 ms back-off."""
    server = _export_server
    server.reset()
    environ = {
        "AIAPY_CONFIG": str(tmp_path / "no-such.cfg"), "AIAPY_JSOC_URL": server.url,
        "AIAPY_CACHE_DIR": str(tmp_path / "cache"), "AIAPY_NET_TIMEOUT": "1", "AIAPY_NET_RETRIES": "2",
        "AIAPY_NET_BACKOFF": "0.01",
    }  # fmt: skip
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    yield server
    server.reset()


@pytest.fixture(scope="module")
def client():
    """A 2-worker local Dask cluster (started once per module) and its client."""
    with warnings.catch_warnings():
        # a busy test machine can make the cluster's start-up or shutdown slow, which distributed warns about
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, memory_limit="2GiB"
        )
        dask_client = distributed.Client(cluster)
    yield dask_client
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dask_client.close()
        cluster.close()
