"""Bounded retries with exponential back-off for transient network failures."""

import http.client
import json
import logging
import socket
import time
import urllib.error

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
    Call ``attempt()`` until it succeeds, at most ``1 + settings.retries`` times.

    Between attempts it sleeps ``settings.backoff * 2**i`` seconds. A non-transient error (see
    `is_transient`) is raised at once; after the last transient failure `RemoteUnavailableError` is raised
    from it, naming ``what``.
    """
    for i in range(settings.retries + 1):
        try:
            return attempt()
        except Exception as error:
            if isinstance(error, urllib.error.HTTPError):
                error.close()  # an HTTPError holds the open response
            if not is_transient(error):
                raise
            last = error
            log.debug("%s: attempt %d failed: %s", what, i + 1, error)
            if i < settings.retries:
                time.sleep(settings.backoff * 2**i)
    raise RemoteUnavailableError(
        f"{what} failed after {settings.retries + 1} attempt(s) (timeout {settings.timeout} s each): "
        f"{type(last).__name__}: {last}"
    ) from last
