"""Bounded retries with exponential back-off for transient network failures, within the time budgets."""

import http.client
import json
import logging
import socket
import urllib.error

from aiapy.net import budget as _budget
from aiapy.net.exceptions import RemoteUnavailableError

__all__ = ["TruncatedError", "is_transient", "with_retries"]

log = logging.getLogger(__name__)


class TruncatedError(OSError):
    """A response body was shorter than its announced length."""


def is_transient(error):
    """
    Whether a failed attempt is worth repeating: server errors (5xx, 429), timeouts, refused or reset
    connections and truncated or garbled bodies are; client errors (4xx) are not.
    """
    if isinstance(error, urllib.error.HTTPError):
        return error.code >= 500 or error.code == 429
    return isinstance(
        error,
        urllib.error.URLError | TimeoutError | socket.timeout | ConnectionError | http.client.HTTPException
        | TruncatedError | json.JSONDecodeError,
    )  # fmt: skip


def with_retries(attempt, *, what, settings):
    """
    Call ``attempt()`` until it succeeds, at most ``1 + settings.retries`` times, within the budgets.

    Between attempts it sleeps ``settings.backoff * 2**i`` seconds, if the attempt after the sleep still
    fits the source's time budget (and, while no server could be connected to, ``unreachable_budget``;
    see `aiapy.net.budget`). A non-transient error (see `is_transient`) is raised at once; after the last
    transient failure `RemoteUnavailableError` is raised from it, naming ``what``.
    """
    with _budget.budget(settings) as limits, limits.source():
        attempts = 0
        while True:
            attempts += 1
            try:
                return attempt()
            except Exception as error:
                if isinstance(error, urllib.error.HTTPError):
                    error.close()  # an HTTPError holds the open response
                if not is_transient(error):
                    raise
                last = error
                log.debug("%s: attempt %d failed: %s", what, attempts, error)
                delay = settings.backoff * 2 ** (attempts - 1)
                if attempts > settings.retries or not limits.may_retry(error, delay):
                    break
                _budget._sleep(delay)
    reason = "no connection could be made" if _budget.is_unreachable(last) else f"timeout {settings.timeout:g} s each"
    raise RemoteUnavailableError(
        f"{what} failed after {attempts} attempt(s) ({reason}; budget {settings.source_budget:g} s per source, "
        f"{settings.total_budget:g} s in all): {type(last).__name__}: {last}"
    ) from last
