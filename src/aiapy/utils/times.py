"""Time handling shared by the table loaders."""

import contextlib
import warnings

from erfa import ErfaWarning

__all__ = ["quiet_erfa"]


@contextlib.contextmanager
def quiet_erfa():
    """
    Silence ERFA's "dubious year" warnings.

    Calibration tables end their last epoch in 2030 or 2050, beyond the leap-second table; converting
    those dates between UTC and TAI makes ERFA warn although nothing is wrong.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ErfaWarning)
        yield
