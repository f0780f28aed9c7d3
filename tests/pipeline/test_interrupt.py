"""Ctrl-C gives the same guarantees in every front end (`prep_files`, `prep_jsoc`), serially and on Dask: the
report is returned and says interrupted; outputs written are kept and counted done (also one whose result had
not come back); the rest are cancelled; no partial file is left; the same call resumes."""

import distributed
import pytest

from aiapy.pipeline import INTERRUPTED_NOTE, check_output, prep_files, prep_jsoc
from aiapy.pipeline import _runner

RANGE = "2011-02-15T01:44/2011-02-15T01:47"  # 4 records: 2 times, 2 channels


@pytest.fixture(params=["files", "jsoc"])
def front_end(request, flare_inputs):
    """A call of one front end over four inputs, into a given folder."""
    if request.param == "files":
        return lambda out, **options: prep_files(flare_inputs, out, steps="exposure", progress=False, **options)
    request.getfixturevalue("jsoc_export")
    return lambda out, **options: prep_jsoc(RANGE, [171, 193], out, email="user@example.org", steps="exposure",
                                            progress=False, **options)  # fmt: skip


def _left_over(out):
    return [p.name for p in out.rglob("*") if p.name.endswith(".part")]


def _outputs(out):
    return sorted(p for p in out.glob("*_lev1.5.fits"))


def test_ctrl_c_serial(front_end, tmp_path, monkeypatch):
    """Ctrl-C arriving after the second item's output was written, before its result came back."""
    real, calls = _runner.prep_item, []

    def interrupt_after_second_write(*args):
        calls.append(args[1])
        result = real(*args)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return result

    out = tmp_path / "out"
    with monkeypatch.context() as patch:  # (the fixtures' own settings stay)
        patch.setattr(_runner, "prep_item", interrupt_after_second_write)
        report = front_end(out)
    assert report.interrupted and not report.ok
    assert [r.status for r in report.results] == ["done", "done", "cancelled", "cancelled"]
    assert report.results[1].steps == [INTERRUPTED_NOTE]
    assert len(_outputs(out)) == 2 and not _left_over(tmp_path)
    assert all(check_output(p, config_id=report.settings["config_id"])[0] for p in _outputs(out))
    resumed = front_end(out)
    assert [r.status for r in resumed.results] == ["skipped", "skipped", "done", "done"] and resumed.ok


def test_ctrl_c_dask(front_end, client, tmp_path, monkeypatch):
    """Ctrl-C while results are on their way back from the workers: every item the workers finished is done,
    with the workers' own result."""

    def interrupted(futures):
        futures = list(futures)
        distributed.wait(futures)  # every worker has finished and written its output
        yield futures[0]
        raise KeyboardInterrupt

    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        patch.setattr(distributed, "as_completed", interrupted)
        report = front_end(out, client=client)
    assert report.interrupted and report.settings["executor"] == "dask"
    assert report.counts["done"] == 4 == len(_outputs(out)) and not _left_over(tmp_path)
    assert all(result.steps == ["exposure"] for result in report.results)
    assert front_end(out, client=client).counts["skipped"] == 4
