"""The pipeline on a 2-worker Dask LocalCluster (the ``client`` fixture): same outputs as serial."""

import warnings

import numpy as np
import pytest

from aiapy.pipeline import PrepConfig, prep_files, read_output

STEPS = "update_pointing,register,degradation,exposure"


@pytest.mark.slow
def test_two_workers_match_serial(client, flare_inputs, bad_inputs, pointing_csv, tmp_path):
    options = {"steps": STEPS, "pointing": pointing_csv, "uncertainty": True, "compress": "gzip"}
    serial = prep_files(flare_inputs, tmp_path / "serial", **options)
    report = prep_files([*flare_inputs, *bad_inputs], tmp_path / "dask", client=client, **options)
    assert serial.ok and report.settings["executor"] == "dask"
    # the bad inputs fail on the workers, the good ones are done
    assert report.counts == {"done": 4, "skipped": 0, "failed": 4, "cancelled": 0}
    assert len(client.scheduler_info()["workers"]) == 2
    for expected, result in zip(serial.results, report.results[len(bad_inputs) :], strict=True):
        assert result.status == "done" and result.steps == ["update_pointing", "register", "degradation", "exposure"]
        smap, errors = read_output(result.output)
        smap_serial, errors_serial = read_output(expected.output)
        assert smap.meta["lvl_num"] == 1.5 and smap.meta["cdelt1"] == 0.6
        # serial uses all cores for the interpolation, the workers one thread: the result must not depend on it
        np.testing.assert_array_equal(smap.data, smap_serial.data)
        np.testing.assert_array_equal(errors.data, errors_serial.data)
    rerun = prep_files(flare_inputs, tmp_path / "dask", client=client, **options)
    assert rerun.counts["skipped"] == 4


def test_cli_on_a_running_scheduler(client, flare_inputs, tmp_path, capsys, monkeypatch):
    from aiapy.cli import main
    from aiapy.pipeline import _runner

    address = client.scheduler.address
    status = main(["prep", *map(str, flare_inputs), "--out", str(tmp_path / "out"), "--steps", "register,exposure",
                   "--scheduler", address, "--no-progress"])  # fmt: skip
    assert status == 0 and "4 done" in capsys.readouterr().out
    assert len(list((tmp_path / "out").glob("*_lev1.5.fits"))) == 4
    # workers that cannot import the pipeline are refused when joining, with a clear message, no task run
    monkeypatch.setattr(_runner, "WORKER_MODULE", "aiapy.pipeline._not_installed")
    status = main(["prep", str(flare_inputs[0]), "--out", str(tmp_path / "none"), "--scheduler", address])
    assert status == 1 and "cannot import aiapy.pipeline._not_installed" in capsys.readouterr().err
    assert not any((tmp_path / "none").glob("*.fits"))


@pytest.mark.slow
def test_local_cluster_workers_are_ready(tmp_path):
    """The local cluster of ``workers=N`` starts with the pipeline imported on every worker, register's
    compiled code loaded, and the settings that keep its tasks fast (no statistical profiler, glibc's
    adaptive mmap threshold left on)."""
    from aiapy.pipeline._runner import Executor, dask_client

    def state():
        import os
        import sys

        import dask

        compiled = sys.modules.get("aiapy.calibrate._compiled")
        return (
            "aiapy.pipeline._runner" in sys.modules,
            compiled is not None and any(getattr(f, "signatures", None) for f in vars(compiled).values()),
            dask.config.get("distributed.worker.profile.enabled"),
            os.environ.get("MALLOC_TRIM_THRESHOLD_"),
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed may warn about a slow start-up on a busy machine
        with dask_client(Executor(workers=1, memory_limit="1GiB"), PrepConfig()) as local:
            states = list(local.run(state).values())
    assert states == [(True, True, False, None)]
