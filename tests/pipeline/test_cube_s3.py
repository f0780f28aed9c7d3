"""The data cube on an object store: a real S3 server (moto in server mode) on loopback, through fsspec."""

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from aiapy.pipeline import build_cube, open_cube
from pipeline.cube_helpers import FIRST, of_times

BUCKET = "aiapy-cubes"


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def moto_server():
    """``python -m moto.server`` on 127.0.0.1 at a free port: its URL; stopped (and waited for) afterwards."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def s3(moto_server, monkeypatch, tmp_path):
    """The usual AWS settings pointing at the loopback server (no user file read), and a fresh bucket."""
    import s3fs

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    s3fs.S3FileSystem.clear_instance_cache()
    return fs


def test_cube_on_s3_reads_back_equal(s3, tmp_path):
    inputs = of_times(FIRST[:2])  # 12 cutouts: 6 channels x 2 times
    url = f"s3://{BUCKET}/flare.zarr"
    report = build_cube(inputs, url)
    assert report.counts["done"] == 12, [r.error for r in report.results if r.error]
    local = tmp_path / "flare.zarr"
    build_cube(inputs, local)
    remote, mine = open_cube(url), open_cube(local)
    assert remote.channels == mine.channels and remote.grid == mine.grid
    for channel in mine.channels:
        np.testing.assert_array_equal(remote.xarray(channel).data.values, mine.xarray(channel).data.values)
        time_ = mine.times(channel)[1]
        a, b = remote.frame_map(channel, time_), mine.frame_map(channel, time_)
        np.testing.assert_array_equal(a.data, b.data)
        assert dict(a.meta) == dict(b.meta)
    assert s3.exists(f"{BUCKET}/flare.zarr/171A/data/zarr.json")
    again = build_cube(inputs, url)  # the records are read back from the object store
    assert again.counts["skipped"] == 12
