"""The errors of remote data access.

* `RemoteUnavailableError` (an `OSError`): a server could not be reached, kept failing or answered with an
  error, after the bounded retries. Its message names the offline alternative to use instead.
* `NoDataError` (a `RuntimeError`, as in aiapy 0.12): the server answered, but the query matched no record.
* `aiapy.data.DataIntegrityError` (an `OSError`): every copy that could be downloaded failed its SHA-256.
"""

__all__ = ["NoDataError", "RemoteUnavailableError"]


class RemoteUnavailableError(OSError):
    """A remote service could not deliver (unreachable, timed out, server error, truncated answer)."""


class NoDataError(RuntimeError):
    """A remote query succeeded but matched no data."""
