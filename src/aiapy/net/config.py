"""Where aiapy looks for remote calibration data, and how patiently.

Every setting is resolved, in this order, from: the argument of the calling function, an environment
variable, the ``[net]`` section of the aiapy configuration file, the built-in default.

=================  ======================  ===========================================================
Setting            Environment variable    Default
=================  ======================  ===========================================================
``jsoc_url``       ``AIAPY_JSOC_URL``      ``http://jsoc.stanford.edu/`` (CGIs under ``cgi-bin/ajax/``)
``ssw_mirrors``    ``AIAPY_SSW_MIRRORS``   `aiapy._SSW_MIRRORS` (comma- or space-separated list)
``pointing_url``   ``AIAPY_POINTING_URL``  the LMSAL daily CSV mirror of ``aia.master_pointing3h``
``cache_dir``      ``AIAPY_CACHE_DIR``     ``<sunpy remote_data_manager_dir>/aiapy``
``timeout``        ``AIAPY_NET_TIMEOUT``   30 s, for each connect and each read
``retries``        ``AIAPY_NET_RETRIES``   3 more attempts after a transient failure
``backoff``        ``AIAPY_NET_BACKOFF``   1 s, doubled after each failed attempt
=================  ======================  ===========================================================

The configuration file is ``$AIAPY_CONFIG`` if set, else ``~/.config/aiapy/aiapy.cfg`` (INI format)::

    [net]
    jsoc_url = http://jsoc.stanford.edu/
    timeout = 60
"""

import configparser
import os
from dataclasses import dataclass, replace
from pathlib import Path

from aiapy import _SSW_MIRRORS

__all__ = ["NetSettings", "config_file", "get_settings"]

#: The LMSAL daily mirror of the master pointing table (the repository is ``backup-files``, with a hyphen).
DEFAULT_POINTING_URL = (
    "https://raw.githubusercontent.com/LM-SAL/backup-files/refs/heads/aia/generated/aia_pointing_table.csv"
)
DEFAULT_JSOC_URL = "http://jsoc.stanford.edu/"

_ENV = {
    "jsoc_url": "AIAPY_JSOC_URL",
    "ssw_mirrors": "AIAPY_SSW_MIRRORS",
    "pointing_url": "AIAPY_POINTING_URL",
    "cache_dir": "AIAPY_CACHE_DIR",
    "timeout": "AIAPY_NET_TIMEOUT",
    "retries": "AIAPY_NET_RETRIES",
    "backoff": "AIAPY_NET_BACKOFF",
}


@dataclass(frozen=True)
class NetSettings:
    """Resolved network settings (see the module docstring for the sources of each value)."""

    jsoc_url: str
    ssw_mirrors: tuple
    pointing_url: str
    cache_dir: Path
    timeout: float
    retries: int
    backoff: float


def config_file():
    """The path of the aiapy configuration file (it need not exist)."""
    return Path(os.environ.get("AIAPY_CONFIG", Path.home() / ".config" / "aiapy" / "aiapy.cfg"))


def _from_file():
    parser = configparser.ConfigParser()
    parser.read(config_file(), encoding="utf-8")
    return dict(parser["net"]) if parser.has_section("net") else {}


def _default_cache_dir():
    import sunpy  # only needed when no cache directory is configured

    return Path(sunpy.config.get("downloads", "remote_data_manager_dir")) / "aiapy"


def _with_slash(url):
    return url if url.endswith("/") else url + "/"


def _number(name, text, kind, minimum):
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"The network setting {name} must be a number >= {minimum}; got {text!r}.") from None
    if not value >= minimum:
        raise ValueError(f"The network setting {name} must be >= {minimum}; got {value}.")
    return value


def get_settings(**overrides):
    """
    The network settings in force: ``overrides`` (non-None keyword arguments) win over the environment,
    which wins over the configuration file, which wins over the defaults.

    Raises
    ------
    TypeError
        If an override names an unknown setting.
    ValueError
        If ``timeout``, ``retries`` or ``backoff`` is not a number in range.
    """
    unknown = set(overrides) - set(_ENV)
    if unknown:
        raise TypeError(f"Unknown network setting(s) {sorted(unknown)}; known: {sorted(_ENV)}.")
    raw = _from_file()
    for name, variable in _ENV.items():
        if variable in os.environ:
            raw[name] = os.environ[variable]
    raw.update({name: value for name, value in overrides.items() if value is not None})
    mirrors = raw.get("ssw_mirrors", _SSW_MIRRORS)
    if isinstance(mirrors, str):
        mirrors = mirrors.replace(",", " ").split()
    settings = NetSettings(
        jsoc_url=_with_slash(str(raw.get("jsoc_url", DEFAULT_JSOC_URL))),
        ssw_mirrors=tuple(_with_slash(str(m)) for m in mirrors),
        pointing_url=str(raw.get("pointing_url", DEFAULT_POINTING_URL)),
        cache_dir=Path(raw["cache_dir"]) if "cache_dir" in raw else None,
        timeout=_number("timeout", raw.get("timeout", 30), float, 0.001),
        retries=_number("retries", raw.get("retries", 3), int, 0),
        backoff=_number("backoff", raw.get("backoff", 1.0), float, 0),
    )
    if settings.cache_dir is None:
        settings = replace(settings, cache_dir=_default_cache_dir())
    return settings
