"""Network time budgets (issue 12): stalled servers, three stalled mirrors, refused connections.

The real-server tests use a loopback socket that accepts connections into its backlog and never answers,
with small configured budgets; one test runs the default settings on a simulated clock, to check the
arithmetic of the documented defaults (30 s per source, 60 s for three mirrors, 10 s when unreachable)
without waiting for it.
"""

import importlib
import socket
import time
import urllib.error

import pytest

import aiapy.net
from aiapy.calibrate.utils import get_correction_table
from aiapy.data import get_file
from aiapy.net import RemoteUnavailableError, get_settings

# The modules (``aiapy.net.download`` the attribute is the function of that name).
_budget = importlib.import_module("aiapy.net.budget")
_download = importlib.import_module("aiapy.net.download")
_jsoc = importlib.import_module("aiapy.net.jsoc")

_BUDGET_VARIABLES = ("AIAPY_NET_TIMEOUT", "AIAPY_NET_RETRIES", "AIAPY_NET_BACKOFF", "AIAPY_NET_SOURCE_BUDGET",
                     "AIAPY_NET_TOTAL_BUDGET", "AIAPY_NET_UNREACHABLE_BUDGET")  # fmt: skip


@pytest.fixture
def silent_servers():
    """Three loopback ports that accept connections and never send a byte."""
    sockets = []
    for _ in range(3):
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        sockets.append(server)
    yield [f"http://127.0.0.1:{s.getsockname()[1]}/" for s in sockets]
    for server in sockets:
        server.close()


@pytest.fixture
def small_budgets(monkeypatch, tmp_path):
    monkeypatch.setenv("AIAPY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AIAPY_NET_TIMEOUT", "0.3")
    monkeypatch.setenv("AIAPY_NET_RETRIES", "5")
    monkeypatch.setenv("AIAPY_NET_BACKOFF", "0.05")
    monkeypatch.setenv("AIAPY_NET_SOURCE_BUDGET", "0.8")
    monkeypatch.setenv("AIAPY_NET_TOTAL_BUDGET", "1.5")


def test_stalled_mirrors_fail_within_the_total_budget(silent_servers, small_budgets, monkeypatch):
    monkeypatch.setenv("AIAPY_SSW_MIRRORS", ",".join(silent_servers))
    start = time.monotonic()
    with pytest.raises(RemoteUnavailableError) as info:
        get_correction_table("ssw")
    elapsed = time.monotonic() - start
    # 1.5 s in all (each mirror 0.5 s: an equal share); 1 s of slack for a loaded 2-core machine.
    assert 1.2 < elapsed < 2.5
    message = str(info.value)
    for url in silent_servers:
        assert url in message  # every mirror was tried, even after two stalled ones
    assert "timed out" in message
    assert "get_correction_table()" in message  # the offline alternative


def test_stalled_jsoc_fails_within_the_source_budget(silent_servers, small_budgets, monkeypatch):
    monkeypatch.setenv("AIAPY_JSOC_URL", silent_servers[0])
    start = time.monotonic()
    with pytest.raises(RemoteUnavailableError, match="timed out.*get_correction_table"):
        get_correction_table("jsoc")
    elapsed = time.monotonic() - start
    # 0.8 s: two 0.3 s timeouts, the back-offs, and a last attempt cut to what is left.
    assert 0.5 < elapsed < 1.8


def test_refused_connections_stop_within_the_unreachable_budget(small_budgets, monkeypatch):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{closed.getsockname()[1]}/"
    closed.close()
    monkeypatch.setenv("AIAPY_SSW_MIRRORS", f"{url}a/,{url}b/,{url}c/")
    monkeypatch.setenv("AIAPY_NET_RETRIES", "20")
    monkeypatch.setenv("AIAPY_NET_BACKOFF", "0.1")
    monkeypatch.setenv("AIAPY_NET_SOURCE_BUDGET", "30")
    monkeypatch.setenv("AIAPY_NET_TOTAL_BUDGET", "60")
    monkeypatch.setenv("AIAPY_NET_UNREACHABLE_BUDGET", "0.5")
    start = time.monotonic()
    with pytest.raises(RemoteUnavailableError, match="no connection could be made"):
        aiapy.net.error_table_ssw()
    # Back-offs 0.1 + 0.2 s fit the 0.5 s, 0.4 s more would not; then one try per other mirror.
    assert time.monotonic() - start < 1.5


def test_trickling_server_cannot_outlast_the_budget(loopback_jsoc, monkeypatch):
    # Each byte arrives well within the 0.5 s read timeout, so only the budget stops the download
    # (the 17 kB table would take 15 minutes); the second mirror then delivers it.
    monkeypatch.setenv("AIAPY_NET_TIMEOUT", "0.5")
    monkeypatch.setenv("AIAPY_NET_SOURCE_BUDGET", "1")
    loopback_jsoc.inject("/mirror0/", *["trickle"] * 3)
    start = time.monotonic()
    path = aiapy.net.correction_table_ssw()
    assert time.monotonic() - start < 3  # 1 s on mirror0, then a fast mirror1; slack for a loaded machine
    assert loopback_jsoc.requests[-1].startswith("/mirror1/")
    assert path.read_bytes() == get_file("correction_table_v10").read_bytes()


class _Clock:
    """A simulated monotonic clock; `sleep` and blocking reads advance it."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_default_budget_arithmetic(monkeypatch, tmp_path):
    for name in _BUDGET_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIAPY_CACHE_DIR", str(tmp_path / "cache"))
    settings = get_settings()
    assert (settings.timeout, settings.retries, settings.backoff) == (20, 3, 1)
    assert (settings.source_budget, settings.total_budget, settings.unreachable_budget) == (30, 60, 10)

    clock = _Clock()
    monkeypatch.setattr(_budget, "_clock", clock)
    monkeypatch.setattr(_budget, "_sleep", clock.sleep)
    tried = []

    def stalled(url, *, timeout):  # the server accepts and never answers: the read times out
        tried.append((url, clock(), timeout))
        clock.sleep(timeout)
        raise TimeoutError("timed out")

    # A loader with three stalled mirrors: within 60 s, every mirror tried, none more than 30 s.
    monkeypatch.setattr(_download, "http_get", stalled)
    mirrors = ["http://a.example/", "http://b.example/", "http://c.example/"]
    start = clock()
    with pytest.raises(RemoteUnavailableError):
        aiapy.net.download([m + "f.txt" for m in mirrors], "f.txt", what="f", offline_hint="", settings=settings)
    assert clock() - start <= 60
    assert {url[:17] for url, _, _ in tried} == set(mirrors)
    for mirror in mirrors:
        times = [(t, timeout) for url, t, timeout in tried if url.startswith(mirror)]
        assert times[-1][0] + times[-1][1] - times[0][0] <= 30

    # One stalled source (the JSOC): within 30 s.
    tried.clear()
    monkeypatch.setattr(_jsoc, "http_get", stalled)
    start = clock()
    with pytest.raises(RemoteUnavailableError):
        aiapy.net.query("aia.response[][!1=1!]", key="**ALL**", settings=settings)
    assert 20 <= clock() - start <= 30

    # Refused connections (or a failed DNS lookup, which fails at once): within 10 s, all mirrors tried.
    def refused(url, *, timeout):
        tried.append((url, clock(), timeout))
        raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))

    tried.clear()
    monkeypatch.setattr(_download, "http_get", refused)
    start = clock()
    with pytest.raises(RemoteUnavailableError, match="no connection could be made"):
        aiapy.net.download([m + "f.txt" for m in mirrors], "f.txt", what="f", offline_hint="", settings=settings)
    assert clock() - start <= 10
    assert {url[:17] for url, _, _ in tried} == set(mirrors)

    def dns_failure(url, *, timeout):
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(_download, "http_get", dns_failure)
    start = clock()
    with pytest.raises(RemoteUnavailableError):
        aiapy.net.download([m + "f.txt" for m in mirrors], "f.txt", what="f", offline_hint="", settings=settings)
    assert clock() - start <= 10


def test_budget_settings_are_validated(monkeypatch):
    monkeypatch.setenv("AIAPY_NET_SOURCE_BUDGET", "0")
    with pytest.raises(ValueError, match="source_budget"):
        get_settings()
    monkeypatch.delenv("AIAPY_NET_SOURCE_BUDGET")
    assert get_settings(total_budget="5").total_budget == 5.0
