"""Remote calibration data: the JSOC (through `drms`), SolarSoft mirrors and the LMSAL pointing mirror.

Every request has a timeout and bounded retries with exponential back-off, all within time budgets per
source and per loader (`aiapy.net.budget`); downloads land in a cache
directory through atomic writes and are checked by SHA-256; the JSOC URL, the mirrors, the cache
directory and the patience are configurable (see `aiapy.net.config`). Nothing here imports
`aiapy.calibrate`: the table loaders there register these sources.
"""

from aiapy.net.config import NetSettings, get_settings
from aiapy.net.download import download
from aiapy.net.exceptions import NoDataError, RemoteUnavailableError
from aiapy.net.jsoc import query, segment_file
from aiapy.net.sources import (
    correction_table_jsoc,
    correction_table_ssw,
    error_table_ssw,
    instrument_file,
    pointing_table_jsoc,
    pointing_table_jsoc_day,
    pointing_table_lmsal,
)

__all__ = [
    "NetSettings",
    "NoDataError",
    "RemoteUnavailableError",
    "correction_table_jsoc",
    "correction_table_ssw",
    "download",
    "error_table_ssw",
    "get_settings",
    "instrument_file",
    "pointing_table_jsoc",
    "pointing_table_jsoc_day",
    "pointing_table_lmsal",
    "query",
    "segment_file",
]
