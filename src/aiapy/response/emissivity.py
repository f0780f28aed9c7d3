"""Emissivity tables (temperature x wavelength) and the SolarSoft "chiantifix" correction grid.

References
----------
.. [1] Dere et al. 1997, A&AS 125, 149; Dere et al. 2019, ApJS 241, 22 (CHIANTI 9).
.. [2] Feldman et al. 1992, ApJS 81, 387 (coronal abundances).
.. [3] SolarSoft ``aia_V9_fullemiss.genx``, ``aia_V9_chiantifix.genx`` and ``chiantifix_notes.txt``.
"""

import functools
import json
from typing import NamedTuple

import astropy.units as u
import numpy as np

from aiapy.data import get_file

__all__ = ["Emissivity", "EMISSIVITY_UNIT", "load_emissivity", "check_emissivity", "chiantifix_correction"]

#: Unit of an emissivity table: photons per unit emission measure, solid angle, time and wavelength.
EMISSIVITY_UNIT = u.ph * u.cm**3 / (u.s * u.sr * u.AA)


class Emissivity(NamedTuple):
    """
    An emissivity table: spectral emissivity per unit emission measure on a temperature x wavelength grid.

    Attributes
    ----------
    temperature : (M,) `~astropy.units.Quantity`, K
        Increasing temperatures.
    wavelength : (N,) `~astropy.units.Quantity`, Angstrom
        Increasing wavelengths, the centres of the bins the lines were summed into.
    emissivity : (M, N) `~astropy.units.Quantity`, ph cm3 s-1 sr-1 Angstrom-1
        Lines and continuum per unit :math:`n_e n_H` volume emission measure, as a density per unit
        wavelength (line intensities divided by the bin width).
    metadata : dict
        Provenance (CHIANTI version, abundances, ionisation equilibrium, ...).
    """

    temperature: u.Quantity
    wavelength: u.Quantity
    emissivity: u.Quantity
    metadata: dict | None = None


@functools.cache
def _bundled_emissivity():
    with np.load(get_file("instrument_emissivity_v9"), allow_pickle=False) as npz:
        log_t = npz["emiss_logte"].astype(np.float64)
        wave = npz["emiss_wave"].astype(np.float64)
        values = npz["emissivity"].astype(np.float64)
        metadata = json.loads(str(npz["metadata"]))
    for array in (log_t, wave, values):
        array.flags.writeable = False
    return log_t, wave, values, metadata


def load_emissivity():
    """
    The bundled SolarSoft V9 emissivity table.

    CHIANTI 9.0.1, Feldman (1992) coronal abundances, CHIANTI ionisation equilibrium, constant pressure
    :math:`10^{15}` K cm\\ :sup:`-3`, log T = 4.0-9.0 in steps of 0.05, 1-901 Angstrom in 0.1 Angstrom
    bins; He II 303.8 Angstrom boosted 20 times (SolarSoft's stand-in for optical depth).

    Returns
    -------
    `Emissivity`
        101 temperatures x 9001 wavelengths.

    References
    ----------
    .. [1] SolarSoft ``aia_V9_fullemiss.genx``, made by ``aia_bp_make_emiss``.

    Examples
    --------
    >>> table = load_emissivity()
    >>> table.emissivity.shape
    (101, 9001)
    """
    log_t, wave, values, metadata = _bundled_emissivity()
    return Emissivity(
        u.Quantity(10.0**log_t, u.K),
        u.Quantity(wave, u.AA),
        u.Quantity(values, EMISSIVITY_UNIT, copy=False),
        dict(metadata),
    )


def check_emissivity(emissivity):
    """
    Validate an emissivity table and return it as plain arrays.

    Parameters
    ----------
    emissivity : `Emissivity` or tuple ``(temperature, wavelength, emissivity)``
        See `Emissivity`.

    Returns
    -------
    temperature_k, wavelength_aa, values : ndarray
        (M,), (N,) and (M, N) float64 arrays in K, Angstrom and ph cm3 s-1 sr-1 Angstrom-1.

    Raises
    ------
    TypeError
        If it is not a sequence of Quantities.
    ValueError
        For wrong units, shapes, non-increasing or non-finite axes.
    """
    if not isinstance(emissivity, tuple | list) or len(emissivity) < 3:
        raise TypeError(
            "emissivity must be an aiapy.response.Emissivity or a tuple (temperature, wavelength, emissivity) of "
            f"Quantities; got {type(emissivity).__name__}."
        )
    names = ("temperature", "wavelength", "emissivity")
    units = (u.K, u.AA, EMISSIVITY_UNIT)
    arrays = []
    for name, value, unit in zip(names, emissivity[:3], units, strict=True):
        if not isinstance(value, u.Quantity):
            raise TypeError(f"emissivity's {name} must be a Quantity in {unit}; got {type(value).__name__}.")
        try:
            arrays.append(np.asarray(value.to_value(unit, equivalencies=u.temperature_energy()), dtype=np.float64))
        except u.UnitsError as error:
            raise ValueError(f"emissivity's {name} has unit {value.unit}, not convertible to {unit}.") from error
    temperature, wavelength, values = arrays
    for name, axis in zip(names[:2], (temperature, wavelength), strict=False):
        if axis.ndim != 1 or axis.size < 2 or not np.all(np.isfinite(axis)) or np.any(np.diff(axis) <= 0):
            raise ValueError(
                f"emissivity's {name} must be a finite, strictly increasing 1-D array of 2 or more values."
            )
    if values.shape != (temperature.size, wavelength.size):
        raise ValueError(
            f"emissivity's table has shape {values.shape}; it must be (temperature, wavelength) = "
            f"{(temperature.size, wavelength.size)}."
        )
    return temperature, wavelength, values


@functools.cache
def _bundled_chiantifix():
    with np.load(get_file("chiantifix_v9"), allow_pickle=False) as npz:
        grid = npz["empirical_minus_raw"].astype(np.float64)
        channels = json.loads(str(npz["metadata"]))["channels"]
    return {name.removeprefix("A"): row for name, row in zip(channels, grid, strict=True)}


def chiantifix_correction(name):
    """
    SolarSoft's empirical correction for lines missing from CHIANTI 9, on the bundled temperature grid.

    Parameters
    ----------
    name : str
        Channel name, e.g. ``"94"``.

    Returns
    -------
    (101,) ndarray
        Empirical minus CHIANTI temperature response, DN cm5 s-1 pix-1, at log T 4.0-9.0 in 0.05 steps (the
        grid of `load_emissivity`). Non-zero for 94 Angstrom only in V9.

    Raises
    ------
    ValueError
        If the grid has no such channel (the FUV channels).
    """
    rows = _bundled_chiantifix()
    if name not in rows:
        raise ValueError(f"The chiantifix grid has no {name} Angstrom channel; it covers {', '.join(rows)}.")
    return rows[name]
