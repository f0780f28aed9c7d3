"""Time budgets of remote calls: how long aiapy waits for servers before it gives up.

Four settings of `aiapy.net.config` bound the wall-clock time of every remote call:

* ``timeout``: each connect and each read (the longest silence tolerated from a server);
* ``source_budget``: one source (one URL, or one JSOC query) with all its retries and back-off;
* ``total_budget``: one loader with all its sources (the SolarSoft mirrors; the JSOC then the LMSAL
  mirror). Each source gets at most an equal share of what is left, so a third mirror is still tried
  after two stalled ones;
* ``unreachable_budget``: retries stop once this much time has passed while no server could even be
  connected to (name resolution failed, connection refused, network unreachable): an offline machine
  is told so quickly.

With the defaults (20 s, 30 s, 60 s, 10 s) a server that accepts and never answers fails within 30 s, a
loader with three stalled mirrors within 60 s (20 s each), and an offline machine within 10 s plus the
time the system resolver itself takes to fail (not bounded by aiapy; immediate when there is no network).

A loader opens a budget with `budget`; nested loaders and the requests they make share the outermost
budget of the thread (a `contextvars.ContextVar`, so Dask or thread workers each have their own).
"""

import contextlib
import contextvars
import errno
import socket
import time
import urllib.error

__all__ = ["Budget", "BudgetExceededError", "budget", "current", "is_unreachable"]

# Module-level so that the budget arithmetic can be tested with a simulated clock.
_clock = time.monotonic
_sleep = time.sleep

#: The shortest attempt worth starting: a retry is skipped if less than this would be left.
MIN_ATTEMPT = 0.05

_ACTIVE = contextvars.ContextVar("aiapy_net_budget", default=None)
_UNREACHABLE_ERRNOS = {errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN}


class BudgetExceededError(TimeoutError):
    """The time budget of a source or loader is spent."""


def is_unreachable(error):
    """Whether ``error`` means no connection could be made at all (DNS failure, refused, unreachable)."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, socket.gaierror | ConnectionRefusedError):
        return True
    return isinstance(reason, OSError) and reason.errno in _UNREACHABLE_ERRNOS


class Budget:
    """
    The deadlines of one loader call: a total deadline, and the deadline of the source being tried.

    Parameters
    ----------
    settings : `~aiapy.net.config.NetSettings`
        Supplies ``timeout``, ``source_budget``, ``total_budget`` and ``unreachable_budget``.
    """

    def __init__(self, settings):
        self.settings = settings
        self.start = _clock()
        self.deadline = self.start + settings.total_budget
        self._source_deadline = self.deadline

    def elapsed(self):
        """Seconds since the budget was opened."""
        return _clock() - self.start

    def remaining(self):
        """Seconds left to the current source (negative when overdue)."""
        return self._source_deadline - _clock()

    def exhausted(self):
        """Whether the total budget is spent."""
        return self.deadline - _clock() < MIN_ATTEMPT

    @contextlib.contextmanager
    def source(self, remaining_sources=1):
        """
        Give the next source ``min(source_budget, what is left / remaining_sources)``, never more than an
        enclosing source has.
        """
        now = _clock()
        share = (self.deadline - now) / max(int(remaining_sources), 1)
        outer = self._source_deadline
        self._source_deadline = min(outer, now + min(self.settings.source_budget, share))
        try:
            yield self
        finally:
            self._source_deadline = outer

    def timeout(self):
        """
        The timeout of the next socket operation: ``timeout``, cut to what the source has left.

        Raises
        ------
        BudgetExceededError
            If nothing is left.
        """
        left = self.remaining()
        if left < MIN_ATTEMPT:
            raise BudgetExceededError(f"its time budget ({self._budget_text()}) is spent")
        return min(self.settings.timeout, left)

    def check(self):
        """Raise `BudgetExceededError` if the current source is overdue (checked between reads)."""
        if self.remaining() <= 0:
            raise BudgetExceededError(f"it did not finish within its time budget ({self._budget_text()})")

    def may_retry(self, error, delay):
        """Whether a retry after sleeping ``delay`` seconds fits the budgets, given the last ``error``."""
        if self.remaining() - delay < MIN_ATTEMPT:
            return False
        return not (is_unreachable(error) and self.elapsed() + delay > self.settings.unreachable_budget)

    def _budget_text(self):
        s = self.settings
        return f"{s.source_budget:g} s per source, {s.total_budget:g} s in all"


@contextlib.contextmanager
def budget(settings):
    """Open a `Budget` for a loader call, or join the one already open in this thread."""
    active = _ACTIVE.get()
    if active is not None:
        yield active
        return
    new = Budget(settings)
    token = _ACTIVE.set(new)
    try:
        yield new
    finally:
        _ACTIVE.reset(token)


def current(settings):
    """The budget open in this thread, or a new one for ``settings`` (a request made outside any loader)."""
    return _ACTIVE.get() or Budget(settings)
