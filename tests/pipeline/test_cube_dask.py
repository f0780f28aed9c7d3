"""The data cube built on a real Dask LocalCluster: each worker writes the frames it prepped."""

import json
import os

import numpy as np
from distributed import Client, LocalCluster

from aiapy.pipeline import build_cube, open_cube
from pipeline.cube_helpers import FIRST, of_times


def test_cube_on_a_local_cluster_equals_the_serial_cube(tmp_path):
    inputs = of_times(FIRST[:2])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with Client(cluster) as client:
            report = build_cube(inputs, tmp_path / "dask.zarr", client=client)
            workers = {f"{pid}@{host}" for host, pid in _worker_ids(client)}
    assert report.counts["done"] == 12, [r.error for r in report.results if r.error]
    build_cube(inputs, tmp_path / "serial.zarr")
    dask_cube, serial = open_cube(tmp_path / "dask.zarr"), open_cube(tmp_path / "serial.zarr")
    for channel in serial.channels:
        np.testing.assert_array_equal(dask_cube.xarray(channel).data.values, serial.xarray(channel).data.values)
    records = (tmp_path / "dask.zarr" / "_aiapy" / "frames").glob("*/*/*.json")
    writers = {json.loads(path.read_text())["writer"] for path in records}
    assert writers <= workers and f"{os.getpid()}" not in {w.split("@")[0] for w in writers}


def _worker_ids(client):
    import socket

    return client.run(lambda: (socket.gethostname(), os.getpid())).values()
