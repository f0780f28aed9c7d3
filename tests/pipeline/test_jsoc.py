"""`prep_jsoc` through a loopback JSOC export server (tests/loopback_export.py): the whole path, every fault,
resume, bounds and the offline error."""

import asyncio
import functools
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from aiapy.net import NoDataError, RemoteUnavailableError
from aiapy.pipeline import PrepConfig, check_output, prep_files, prep_jsoc, read_output
from aiapy.pipeline import _jsoc as jsoc_module
from aiapy.pipeline import _runner

RANGE = "2011-02-15T01:44/2011-02-15T01:47"  # 2 times
CHANNELS = [171, 193]
KEYS = [(t, c) for t in ("2011-02-15T01:44:02Z", "2011-02-15T01:46:02Z") for c in CHANNELS]
TESTS = Path(__file__).resolve().parents[1]


def _run(out, **options):
    return prep_jsoc(RANGE, CHANNELS, out, email="user@example.org", progress=False, **options)


def _name(key):
    return f"aia.lev1_euv_12s.{key[0].replace(':', '')}.{key[1]}.image_lev1_lev1.5.fits"


def _no_partial_files(folder):
    return not [p for p in Path(folder).rglob("*") if p.name.endswith(".part")]


def _downloading(out):
    """Whether a download is under way: a temporary level-1 file with some bytes."""
    folder = out / ".level1"
    return folder.is_dir() and any(p.stat().st_size for p in folder.glob(".*.part"))


def _requests(server, kind):
    return [r for r in server.requests if kind in r]


def _attempts(server, path):
    """The transfers of the file ``path``: its requests of byte 0 (the whole file or its first range)."""
    return [r for p, r in server.file_requests if p == path and (r is None or r.startswith("bytes=0-"))]


def test_whole_path_matches_prep_of_the_same_files(jsoc_export, tmp_path):
    report = _run(tmp_path / "out")
    assert report.ok and report.counts["done"] == 4
    assert [r.input for r in report.results] == [f"aia.lev1_euv_12s[{t}][{c}]" for t, c in KEYS]
    assert all(r.timings["download"] > 0 for r in report.results)
    assert len(_requests(jsoc_export, "op=exp_status")) == 3  # pending for 2 polls, then the file list
    assert list((tmp_path / "out" / ".level1").iterdir()) == []  # level-1 files deleted once prepped
    # the same level-1 files, prepped by prep_files, give the same outputs: the right file was prepped
    local = tmp_path / "lev1"
    local.mkdir()
    for key in KEYS:
        image = jsoc_export.files[jsoc_export.image_paths[key]]
        (local / f"{key[0].replace(':', '')}_{key[1]}.fits").write_bytes(image)
    reference = prep_files(local, tmp_path / "ref")
    for key, expected in zip(sorted(KEYS, key=lambda k: (k[0], k[1])), reference.results, strict=True):
        got, _ = read_output(tmp_path / "out" / _name(key))
        want, _ = read_output(expected.output)
        np.testing.assert_array_equal(got.data, want.data)
        assert got.meta["fsn"] == want.meta["fsn"] and got.meta["wavelnth"] == key[1]
    # a rerun downloads nothing
    jsoc_export.requests.clear()
    again = _run(tmp_path / "out")
    assert again.counts["skipped"] == 4
    assert not _requests(jsoc_export, "jsoc_fetch") and not _requests(jsoc_export, "/EXPORT/")


def test_config_object_and_keywords_give_the_same_settings(jsoc_export, tmp_path):
    report = _run(tmp_path / "a", config=PrepConfig(dtype="float64"), in_flight=1)
    assert report.ok and report.settings["dtype"] == "float64"
    assert read_output(report.results[0].output)[0].data.dtype == np.float64
    with pytest.raises(TypeError, match="'colour' is not an option"):
        _run(tmp_path / "b", colour="blue")
    with pytest.raises(ValueError, match="spikes files come in the export"):
        _run(tmp_path / "b", steps="respike,register", spikes_dir=str(tmp_path))


def test_bad_quality_skipped_and_listed_unless_any(jsoc_export, tmp_path):
    jsoc_export.quality[KEYS[1]] = 0x400  # bit 10: MISSVALS > 5 % of TOTVALS
    report = _run(tmp_path / "out")
    assert report.ok and len(report.results) == 3
    [skipped] = report.settings["quality_skipped"]
    assert skipped["record"] == f"aia.lev1_euv_12s[{KEYS[1][0]}][193]" and skipped["quality"] == "0x00000400"
    assert "5%" in skipped["flags"][0]
    assert not (tmp_path / "out" / _name(KEYS[1])).exists()
    report = _run(tmp_path / "out", quality="any")
    assert report.counts == {"done": 1, "skipped": 3, "failed": 0, "cancelled": 0}


def test_cadence_keeps_the_first_record_of_each_interval(jsoc_export, tmp_path):
    report = prep_jsoc("2011-02-15T01:44/2011-02-15T02:03", 171, tmp_path / "out", cadence="6min", email="a@b.org",
                       progress=False)  # fmt: skip
    assert [r.input for r in report.results] == [
        f"aia.lev1_euv_12s[2011-02-15T{t}Z][171]" for t in ("01:44:02", "01:50:02", "01:56:14", "02:02:14")
    ]
    assert report.ok


def test_record_without_image_fails_alone(jsoc_export, tmp_path):
    jsoc_export.missing.add(KEYS[2])
    report = _run(tmp_path / "out")
    assert report.counts == {"done": 3, "skipped": 0, "failed": 1, "cancelled": 0}
    [failed] = report.failed
    assert "missing image" in failed.error and failed.input.endswith(f"[{KEYS[2][0]}][171]")
    assert not Path(failed.output).exists()


def test_status_500_is_retried(jsoc_export, tmp_path):
    jsoc_export.inject("/cgi-bin/ajax/jsoc_fetch?op=exp_status", "500", "500")
    report = _run(tmp_path / "out")
    assert report.ok and len(_requests(jsoc_export, "op=exp_status")) == 5


def test_export_pending_past_the_timeout_fails_its_records(jsoc_export, tmp_path):
    jsoc_export.pending_polls = 10**6
    start = time.perf_counter()
    report = _run(tmp_path / "out", export_timeout=0.3)
    assert time.perf_counter() - start < 30  # never a hang
    assert report.counts["failed"] == 4
    assert all("still pending after 0.3 s" in r.error and "JSOC_" in r.error for r in report.results)
    assert not list((tmp_path / "out").glob("*.fits"))


@pytest.mark.parametrize("fault", ["stall", "truncate", "corrupt"])
def test_faulty_transfer_is_retried(jsoc_export, tmp_path, fault):
    path = jsoc_export.image_paths[KEYS[0]]
    jsoc_export.inject(path, fault)
    report = _run(tmp_path / "out")
    assert report.ok and report.counts["done"] == 4
    assert len(_attempts(jsoc_export, path)) == 2
    # in 4 byte ranges (in_flight), one of them faulty; after a part that did not verify, the whole file
    assert len(_requests(jsoc_export, path)) == (5 if fault == "corrupt" else 8)
    assert _no_partial_files(tmp_path / "out")


def _kept(folder, key):
    return folder / f"aia.lev1_euv_12s.{key[0].replace(':', '')}.{key[1]}.image_lev1.fits"


def test_files_come_one_after_the_other_in_byte_ranges(jsoc_export, tmp_path):
    """A server that serves byte ranges (as the JSOC's): each image in in_flight parts at once (206 answers),
    the records one after the other in order, each file verified and identical to the server's."""
    keep = tmp_path / "lev1"
    report = _run(tmp_path / "out", keep_level1=keep, in_flight=3)
    assert report.ok and report.counts["done"] == 4
    paths = [jsoc_export.image_paths[key] for key in KEYS]
    assert [p for p, _ in jsoc_export.file_requests] == [p for p in paths for _ in range(3)]
    for key, path in zip(KEYS, paths, strict=True):
        ranges = sorted((r for p, r in jsoc_export.file_requests if p == path), key=lambda r: int(r[6:].split("-")[0]))
        starts = [int(r[6:].split("-")[0]) for r in ranges]
        assert starts[0] == 0 and ranges[-1].endswith("-") and len(set(starts)) == 3  # the parts cover the file
        assert _kept(keep, key).read_bytes() == jsoc_export.files[path]


@pytest.mark.parametrize("fault", [None, "truncate"])
def test_files_reuse_kept_alive_connections(jsoc_export, tmp_path, fault):
    """The records' transfers share the connections the server keeps alive (HTTP/1.1): in_flight of them
    for the whole run, not new ones (new TCP and TLS handshakes) for every file; a transfer cut short
    closes its connection (and parfive drops the other parts of that attempt), which are replaced, not
    reused broken."""
    jsoc_export.latency = 0.05  # every new connection costs a (short) handshake
    if fault:
        jsoc_export.inject(jsoc_export.image_paths[KEYS[1]], fault)
    report = _run(tmp_path / "out", in_flight=4)
    assert report.ok and report.counts["done"] == 4
    assert len(jsoc_export.file_requests) == 4 * 4 + (4 if fault else 0)  # each image in 4 parts
    # was 4 per file and attempt (16 here); a failed attempt closes the connections of its parts still in flight
    assert len(jsoc_export.file_connections) <= 4 * (2 if fault else 1)
    assert _no_partial_files(tmp_path / "out")


def test_stopped_downloads_close_their_connections(jsoc_export, tmp_path):
    """Stopping the queue mid-transfer (as Ctrl-C does) cancels the transfers, removes their temporary files
    and closes the shared connector (an unclosed one would warn, an error here)."""
    from aiapy.net.config import get_settings
    from aiapy.pipeline._archive import Downloads, parse_time_range, query_records

    jsoc_export.bandwidth = 20_000
    settings = get_settings()
    records = query_records(*parse_time_range(RANGE), CHANNELS, settings=settings)
    downloads = Downloads(records, tmp_path / "lev1", segments=("image",), email="user@example.org", in_flight=4,
                          slots=8, export_timeout=30.0, settings=settings).start()  # fmt: skip
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size for p in (tmp_path / "lev1").glob(".*.part")):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    downloads.stop()
    assert list(downloads) == []  # every transfer was cancelled
    assert downloads._connector.closed and _no_partial_files(tmp_path / "lev1")


@pytest.mark.parametrize("ranges", [False, "announced"])
def test_server_without_byte_ranges(jsoc_export, tmp_path, ranges):
    """Without ``Accept-Ranges`` the files are fetched whole, in_flight at once; a server that announces byte
    ranges but answers with whole files costs each file one attempt (it does not verify), then it is
    fetched whole."""
    jsoc_export.ranges = ranges
    keep = tmp_path / "lev1"
    report = _run(tmp_path / "out", keep_level1=keep)
    assert report.ok and report.counts["done"] == 4
    for key in KEYS:
        path = jsoc_export.image_paths[key]
        requests = [r for p, r in jsoc_export.file_requests if p == path]
        if ranges is False:
            assert requests == [None]
        else:
            assert len(requests) == 5 and requests[-1] == "bytes=0-"  # 4 parts, then the whole file
        assert _kept(keep, key).read_bytes() == jsoc_export.files[path]
    assert _no_partial_files(tmp_path / "out")


def test_byte_ranges_are_asked_of_the_server(jsoc_export, monkeypatch):
    from aiapy.net.export import accepts_ranges

    url = jsoc_export.url.rstrip("/") + jsoc_export.image_paths[KEYS[0]]
    assert asyncio.run(accepts_ranges(url))
    jsoc_export.ranges = False
    assert not asyncio.run(accepts_ranges(url))
    jsoc_export.ranges = True
    assert not asyncio.run(accepts_ranges(url + ".missing"))  # 404
    monkeypatch.setenv("PARFIVE_DISABLE_RANGE", "1")  # parfive would not split: neither do we
    assert not asyncio.run(accepts_ranges(url))


def test_file_that_never_verifies_fails_clearly(jsoc_export, tmp_path):
    path = jsoc_export.image_paths[KEYS[3]]
    jsoc_export.inject(path, "corrupt", "corrupt", "corrupt")  # every attempt (1 + 2 retries)
    report = _run(tmp_path / "out")
    assert report.counts == {"done": 3, "skipped": 0, "failed": 1, "cancelled": 0}
    [failed] = report.failed
    assert failed.error.startswith("CorruptDownloadError: after 3 attempt(s)") and "DATASUM" in failed.error
    assert not Path(failed.output).exists() and _no_partial_files(tmp_path / "out")


def test_wrong_file_is_not_prepped(jsoc_export, tmp_path, monkeypatch):
    # the server hands out the 193 A image under the 171 A record
    other = jsoc_export.files[jsoc_export.image_paths[KEYS[1]]]
    monkeypatch.setitem(jsoc_export.files, jsoc_export.image_paths[KEYS[0]], other)
    report = _run(tmp_path / "out")
    [failed] = report.failed
    assert failed.input.endswith(f"[{KEYS[0][0]}][171]") and "not that of" in failed.error
    assert not Path(failed.output).exists()


def test_respike_gets_spikes_in_the_same_export(jsoc_export, tmp_path):
    report = _run(tmp_path / "out", steps="respike,register,degradation,exposure")
    assert report.ok
    [request] = _requests(jsoc_export, "op=exp_request")
    assert "%7Bimage%2Cspikes%7D" in request  # {image,spikes}
    assert all(r.steps[0] == "respike" for r in report.results)
    # each record's spikes file, once (a connection timed out on a loaded machine is retried: count files)
    assert len(set(_requests(jsoc_export, "spikes.fits"))) == 4


def test_disk_use_is_bounded_and_downloads_run_ahead(jsoc_export, tmp_path, monkeypatch):
    real = _runner.prep_item
    seen = []

    def slow_prep(*args):
        time.sleep(0.3)
        seen.append(len(list((tmp_path / "out" / ".level1").glob("*.fits"))))
        return real(*args)

    monkeypatch.setattr(_runner, "prep_item", slow_prep)
    report = _run(tmp_path / "out", in_flight=1)
    assert report.ok
    assert max(seen) == 2  # 2 x in_flight: the next file waits on disk, no more


def test_keep_level1_files_are_reused(jsoc_export, tmp_path):
    keep = tmp_path / "lev1"
    assert _run(tmp_path / "out", keep_level1=keep).ok
    assert len(list(keep.glob("*.image_lev1.fits"))) == 4
    for output in (tmp_path / "out").glob("*.fits"):
        output.unlink()
    jsoc_export.requests.clear()
    report = _run(tmp_path / "out", keep_level1=keep)
    assert report.counts["done"] == 4 and not _requests(jsoc_export, "/EXPORT/")


_CHILD = """
import sys
from aiapy.pipeline import prep_jsoc
prep_jsoc(sys.argv[1], [171, 193], sys.argv[2], email="user@example.org", in_flight=1, progress=False)
"""


def test_resume_after_kill_minus_9_mid_download(jsoc_export, tmp_path):
    reference = _run(tmp_path / "reference")
    assert reference.ok
    jsoc_export.bandwidth = 20_000  # bytes/s: each file takes ~1 s
    out = tmp_path / "out"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, RANGE, str(out)], env=os.environ.copy())
    try:
        deadline = time.monotonic() + 120
        while not _downloading(out):
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    assert list((out / ".level1").glob(".*.part"))  # killed in the middle of a download
    jsoc_export.bandwidth = None
    report = _run(out)
    assert report.ok and report.counts["done"] >= 1
    assert _no_partial_files(out)
    for result in reference.results:
        name = Path(result.output).name
        assert (out / name).read_bytes() == Path(result.output).read_bytes()


_KEEPING_CHILD = """
import json, sys
from aiapy.pipeline import prep_jsoc
report = prep_jsoc(sys.argv[1], [171, 193], sys.argv[2], email="user@example.org", in_flight=1, progress=False,
                   keep_level1=sys.argv[3])
print(json.dumps({"ok": report.ok, "counts": report.counts, "errors": [r.error for r in report.failed]}))
"""


def test_two_runs_sharing_keep_level1_both_finish(jsoc_export, tmp_path):
    """A second run starting while the first downloads into the same keep_level1 folder: each run's partial
    files are its own, so the second's start does not remove the first's (nor do they write into one), and
    both finish."""
    import json

    from aiapy.pipeline._archive import prepare_folder

    jsoc_export.bandwidth = 20_000  # bytes/s: each file takes ~2 s
    keep = tmp_path / "lev1"
    command = [sys.executable, "-c", _KEEPING_CHILD, RANGE, str(tmp_path / "a"), str(keep)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (partial := [p for p in keep.glob(".*.part") if p.stat().st_size] if keep.is_dir() else []):
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.02)
    prepare_folder(keep)  # what the second run does first: the first run's live partial file stays
    assert partial[0].exists()
    jsoc_export.bandwidth = None
    second = _run(tmp_path / "b", keep_level1=keep, in_flight=1)
    output, _ = first.communicate(timeout=300)
    assert first.returncode == 0 and json.loads(output) == {"ok": True, "counts": second.counts, "errors": []}
    assert second.ok and second.counts["done"] == 4
    assert len(list(keep.glob("*.image_lev1.fits"))) == 4 and _no_partial_files(keep)
    for name in (p.name for p in (tmp_path / "a").glob("*_lev1.5.fits")):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_temporaries_of_a_killed_writer_are_removed(jsoc_export, tmp_path):
    """An output temporary left in out_dir by a killed prep process (kill -9 while writing) goes on the next run."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    out = tmp_path / "out"
    out.mkdir()
    stale = out / f".{_name(KEYS[0])}.{dead.stdout.strip()}@{socket.gethostname()}@0123456789ab.part"
    stale.write_bytes(b"partial")
    assert _run(out).ok
    assert not stale.exists() and _no_partial_files(out)


def test_offline_error_is_fast_and_names_the_alternatives(tmp_path):
    # the test settings point the JSOC at a closed local port
    start = time.perf_counter()
    with pytest.raises(RemoteUnavailableError, match="--email") as error:
        _run(tmp_path / "out")
    assert "aiapy prep FILES -o DIR" in str(error.value) and "network" in str(error.value)
    assert time.perf_counter() - start < 5


def test_options_are_checked_before_the_network(jsoc_export, tmp_path):
    with pytest.raises(ValueError, match="--email"):
        prep_jsoc(RANGE, CHANNELS, tmp_path, progress=False)
    for bad, match in (
        ({"channels": [170]}, "not an AIA channel"), ({"cadence": "fast"}, "cadence"),
        ({"quality": "best"}, "quality"), ({"in_flight": 0}, "in_flight"), ({"time_range": "2011-02-15"}, "START/END"),
        ({"method": "bogus"}, "method"),
    ):  # fmt: skip
        arguments = {"time_range": RANGE, "channels": CHANNELS, **bad}
        with pytest.raises(ValueError, match=match):
            prep_jsoc(arguments.pop("time_range"), arguments.pop("channels"), tmp_path, email="a@b.org", **arguments)
    assert not jsoc_export.requests


def test_no_records_is_an_error(jsoc_export, tmp_path):
    with pytest.raises(NoDataError, match="1600, 4500"):
        prep_jsoc(RANGE, [4500, 1600], tmp_path, email="a@b.org", progress=False)
    assert _requests(jsoc_export, "aia.lev1_uv_24s%5B") and _requests(jsoc_export, "aia.lev1_vis_1h%5B")


def test_downloads_and_prep_on_dask_workers(jsoc_export, tmp_path, monkeypatch):
    """With Dask, each record is downloaded and prepped by a worker process; faults and resume as without."""
    import warnings

    import distributed

    from aiapy.pipeline import _archive

    serial = _run(tmp_path / "serial")
    assert serial.ok

    def client_side(*args, **kwargs):
        raise AssertionError("a download in the client process")

    # this process may neither start the download thread nor fetch a file: the workers (spawned) do
    monkeypatch.setattr(jsoc_module, "Downloads", client_side)
    monkeypatch.setattr(_archive, "fetch_verified", client_side)
    truncated = jsoc_export.image_paths[KEYS[3]]
    jsoc_export.inject(truncated, "truncate", "truncate", "truncate")  # every attempt (1 + 2 retries)
    jsoc_export.requests.clear()
    out = tmp_path / "dask"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a busy machine makes the cluster's start-up slow, which it warns about
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = distributed.Client(cluster)
    try:
        report = _run(out, client=client)
        fetched = _requests(jsoc_export, "/EXPORT/")
        jsoc_export.requests.clear()
        resumed = _run(out, client=client)
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client.close()
            cluster.close()
    assert report.settings["executor"] == "dask"
    assert report.counts == {"done": 3, "skipped": 0, "failed": 1, "cancelled": 0}
    [failed] = report.failed
    assert failed.input.endswith(f"[{KEYS[3][0]}][193]") and "after 3 attempt(s)" in failed.error
    assert all(r.timings["download"] > 0 for r in report.results if r.status == "done")
    assert set(fetched) == {jsoc_export.image_paths[k] for k in KEYS} and fetched.count(truncated) == 3
    # the rerun skips the complete records without a download and fetches the failed one
    assert resumed.ok and resumed.counts == {"done": 1, "skipped": 3, "failed": 0, "cancelled": 0}
    assert _requests(jsoc_export, "/EXPORT/") == [truncated]
    assert list((out / ".level1").iterdir()) == []  # level-1 files deleted by the workers once prepped
    for a, b in zip(resumed.results, serial.results, strict=True):
        assert Path(a.output).read_bytes() == Path(b.output).read_bytes()
        assert check_output(a.output, config_id=resumed.settings["config_id"])[0]


def test_command_line(jsoc_export, tmp_path, capsys):
    from aiapy.cli import main

    out = tmp_path / "out"
    common = ["prep", "--jsoc", RANGE, "--channels", "171,193", "-o", str(out), "--no-progress"]
    assert main([*common, "--email", "user@example.org", "--in-flight", "2", "--report", str(tmp_path / "r.json")]) == 0
    assert "4 done" in capsys.readouterr().out and len(list(out.glob("*_lev1.5.fits"))) == 4
    jsoc_export.missing.add(KEYS[0])
    assert main([*common, "--email", "user@example.org", "--overwrite"]) == 1  # one record failed
    assert "FAILED aia.lev1_euv_12s[2011-02-15T01:44:02Z][171]" in capsys.readouterr().err
    assert main(common) == 2 and "--email" in capsys.readouterr().err
    assert main(["prep", "--jsoc", RANGE, "-o", str(out), "--email", "a@b.org"]) == 2
    assert "--channels" in capsys.readouterr().err
    assert main(["prep", "-o", str(out), "--cadence", "1min", str(tmp_path)]) == 2
    assert "need --jsoc" in capsys.readouterr().err


def test_command_line_offline(tmp_path, capsys):
    from aiapy.cli import main

    command = ["prep", "--jsoc", RANGE, "--channels", "171", "-o", str(tmp_path), "--email", "user@example.org"]
    assert main(command) == 1
    error = capsys.readouterr().err
    assert "RemoteUnavailableError" in error and "--email" in error and "aiapy prep FILES -o DIR" in error


def test_ctrl_c_mid_download_leaves_no_partial_file(jsoc_export, tmp_path):
    jsoc_export.bandwidth = 20_000
    out = tmp_path / "out"
    command = [sys.executable, "-m", "aiapy.cli", "prep", "--jsoc", RANGE, "--channels", "171,193", "-o", str(out),
               "--email", "user@example.org", "--in-flight", "2", "--no-progress"]  # fmt: skip
    # a read timeout longer than the server's pace at this bandwidth (its 16 KiB chunks come ~1 s apart per
    # connection): the transfers must be in flight when Ctrl-C comes, not failing on their own
    environ = os.environ | {"AIAPY_NET_TIMEOUT": "30"}
    # Ctrl-C as a user's run takes it, even when this suite was started with SIGINT ignored (inherited)
    default_sigint = functools.partial(signal.signal, signal.SIGINT, signal.SIG_DFL)
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ,
                             preexec_fn=default_sigint)  # fmt: skip
    deadline = time.monotonic() + 120
    while not _downloading(out):
        assert time.monotonic() < deadline and child.poll() is None
        time.sleep(0.02)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert _no_partial_files(out)  # the downloads in flight were cancelled and their temporary files removed
    for output in out.glob("*.fits"):  # whatever is under a final name is complete
        assert check_output(output, config_id=PrepConfig().config_id)[0]


def test_pointing_table_fetched_once_for_the_whole_range(jsoc_export, tmp_path):
    report = _run(tmp_path / "out", pointing="jsoc")
    assert report.ok and all(r.steps[0] == "update_pointing" for r in report.results)
    assert len(_requests(jsoc_export, "op=rs_list&ds=aia.master_pointing3h")) == 1
    # the table holds the headers' own pointing: same data as without the step
    plain = _run(tmp_path / "plain")
    for a, b in zip(report.results, plain.results, strict=True):
        np.testing.assert_allclose(read_output(a.output)[0].data, read_output(b.output)[0].data, rtol=1e-6)


def test_export_records_are_matched_whatever_their_time_format():
    from aiapy.net.export import ExportedFile
    from aiapy.pipeline._archive import _urls_by_record

    files = [
        ExportedFile("aia.lev1_euv_12s[2011-02-15T00:00:02Z][171]{image}", "http://j/a/image_lev1.fits"),
        # a DRMS TAI time (TAI = UTC + 34 s in 2011) and no segment in the record
        ExportedFile("aia.lev1_euv_12s[2011.02.15_00:00:36_TAI][193]", "http://j/b/image_lev1.fits"),
        ExportedFile("aia.lev1_euv_12s[2011.02.15_00:00:36_TAI][193]", "http://j/b/spikes.fits"),
        ExportedFile("aia.lev1_euv_12s[2011-02-15T00:00:14Z][171]{image}", None),
    ]
    assert _urls_by_record(files) == {
        ("2011-02-15T00:00:02", 171): {"image": "http://j/a/image_lev1.fits"},
        ("2011-02-15T00:00:02", 193): {"image": "http://j/b/image_lev1.fits", "spikes": "http://j/b/spikes.fits"},
        ("2011-02-15T00:00:14", 171): {"image": None},
    }
