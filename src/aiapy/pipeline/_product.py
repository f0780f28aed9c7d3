"""What one prepped frame is, and what a sink does with it: the contract between the runner and its sinks.

The runner (serial or Dask) takes items from a source, preps each into a `Product` on a worker and hands it to
the run's sink there; sinks are plain picklable objects so that each Dask worker writes its own outputs.
"""

import abc
import dataclasses

import numpy as np

__all__ = ["Product", "Sink"]


@dataclasses.dataclass
class Product:
    """One prepped frame.

    Attributes
    ----------
    image : `~sunpy.map.GenericMap`
        The prepped map, its header recording every step (HISTORY).
    uncertainty : `numpy.ndarray` or None
        One-sigma uncertainty in the image's unit, when asked for.
    mask : `numpy.ndarray` of uint8 or None
        `aiapy.utils.PixelFlag` bits on the image's grid (None: no pixel flagged).
    notes : dict
        Facts for the run's report (short exposure, desaturated flux, warnings, ...), JSON-serialisable.
    """

    image: object
    uncertainty: np.ndarray | None = None
    mask: np.ndarray | None = None
    notes: dict = dataclasses.field(default_factory=dict)


class Sink(abc.ABC):
    """Where products go (a folder of FITS files, a Zarr cube, ...).

    ``open`` and ``close`` run on the client; ``is_complete`` on the client before any work; ``write`` on the
    worker that prepped the item. ``item`` is what the source planned for one input (its ``name`` and
    ``identity``).
    """

    @abc.abstractmethod
    def open(self, items, config):
        """Validate and create the destination before any work (refuse an unwritable one, one that is an input)."""

    @abc.abstractmethod
    def target(self, item):
        """The output of ``item``, as the report names it (a path, or store + frame)."""

    @abc.abstractmethod
    def is_complete(self, item, config):
        """The one resume rule: True if ``item``'s output exists, is whole and was made from this input with
        these settings."""

    @abc.abstractmethod
    def write(self, item, product, config):
        """Write ``product`` atomically (never a partial output under the final name); return the target."""

    def close(self, results):  # noqa: B027 - optional hook
        """Finish the destination after the run (also after Ctrl-C): indexes, consolidated metadata."""
