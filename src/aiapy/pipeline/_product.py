"""What one prepped frame is, where frames come from and where they go: the contracts of the batch runner
(`aiapy.pipeline._runner.run`) with its sources and sinks.

A source plans `Item` s (one per input) and stages each item's level-1 file on the worker that preps it; the
runner preps it into a `Product` there and hands it to the run's sink, on that worker. Sources and sinks are
small picklable objects (sent once to each Dask worker), so that each worker reads and writes its own files.
"""

import abc
import dataclasses
from pathlib import Path

import numpy as np

__all__ = ["Product", "Item", "Staged", "StageError", "Source", "Sink"]


@dataclasses.dataclass
class Product:
    """
    One prepped frame.

    Attributes
    ----------
    image : `~sunpy.map.GenericMap`
        The prepped map, its header recording every step (HISTORY).
    uncertainty : `numpy.ndarray` or None
        One-sigma uncertainty in the image's unit, when asked for.
    mask : `numpy.ndarray` of uint8 or None
        `aiapy.utils.PixelFlag` bits on the image's grid (None: no pixel flagged).
    notes : dict
        Facts for the run's report, JSON-serialisable: ``steps`` (each step run, with its note) and
        ``timings`` (seconds per step).
    provenance : dict
        Header keywords that tie the product to what it was made from (``AIAPYINP``, the input's identity;
        ``AIAPYPNT``, the pointing table's digest), set by the runner on the worker, for sinks that resume.
    """

    image: object
    uncertainty: np.ndarray | None = None
    mask: np.ndarray | None = None
    notes: dict = dataclasses.field(default_factory=dict)
    provenance: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Item:
    """
    One input of a run, as its source planned it.

    Attributes
    ----------
    name : str
        What the report calls it: the input path, or the archive record (``aia.lev1_euv_12s[...][171]``).
    path : `pathlib.Path`
        Its level-1 file, where it is or will be once staged: sinks name outputs after it.
    identity : dict
        Header values an output of this item must carry to be taken as complete (the resume rule): the
        input's identity (``AIAPYINP``) or the record's ``FSN``, and the pointing table's digest (``AIAPYPNT``).
    facts : dict
        What is known of the frame before it is read: ``channel`` (Angstrom), ``shape`` (rows, columns),
        ``time``; empty when not needed.
    """

    name: str
    path: Path
    identity: dict = dataclasses.field(default_factory=dict)
    facts: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Staged:
    """An item's level-1 file, ready on the worker, and what staging it cost (``timings``, ``nbytes``)."""

    path: Path
    timings: dict = dataclasses.field(default_factory=dict)
    nbytes: int = 0


class StageError(Exception):
    """An item's file could not be staged; the message is the report's error as it stands."""


class Source(abc.ABC):
    """
    Where the level-1 files come from (files on disk, the JSOC, ...).

    ``plan``, ``settings`` and ``feed`` run on the client; ``stage`` on the worker that preps the item.
    """

    #: The first words of the run's log line (e.g. ``"aiapy prep"``).
    label = "aiapy prep"

    @abc.abstractmethod
    def plan(self, config):
        """
        The run's items (their names unique), each with its `Item.identity` but the pointing table's (the
        runner adds it), and ``{name: error}`` of those that failed already (an unreadable header).
        """

    def settings(self):
        """What the source adds to the report's settings."""
        return {}

    @abc.abstractmethod
    def feed(self, items, *, serial):
        """
        A context manager yielding an iterable of batches of work units (one per item, passed to `stage`),
        each batch handed to the workers as soon as it is ready (``serial``: prepped in this process, so
        the source may stage ahead here, e.g. download in a background thread). Leaving it stops any staging
        in flight.
        """

    @abc.abstractmethod
    def item_of(self, unit):
        """The `Item` of a work unit."""

    @abc.abstractmethod
    def stage(self, unit):
        """
        A context manager, on the worker: yields the unit's `Staged` file (or raises `StageError`) and
        cleans up after the prep (deletes a downloaded file that is not kept).
        """


class Sink(abc.ABC):
    """Where products go (a folder of FITS files, a Zarr cube, ...).

    ``open``, ``is_complete`` and ``close`` run on the client (``is_complete`` before any work); ``write`` on
    the worker that prepped the item. ``str(sink)`` names the destination in the report (``out_dir``).
    """

    #: Whether inputs already at level 1.5 are taken (their level-1 steps skipped and noted) or refused.
    accepts_level15 = False

    @abc.abstractmethod
    def open(self, items, config):
        """Validate and create the destination before any work (refuse an unwritable one, one that is an input)."""

    @abc.abstractmethod
    def target(self, item):
        """The output of ``item``, as the report names it (a path, or store + frame)."""

    @abc.abstractmethod
    def is_complete(self, item, config):
        """The one resume rule: True if ``item``'s output exists, is whole and was made from this input (its
        `Item.identity`) with these settings."""

    def stale_reason(self, item, config):
        """Why an existing output of ``item`` that is not complete is redone (None: there is none)."""
        return None

    def resume_state(self, item, config):
        """``(is_complete, stale_reason)`` of ``item`` together, as the runner asks before a run; a sink whose two
        answers come from one read of its output overrides this to read it once."""
        complete = self.is_complete(item, config)
        return complete, None if complete else self.stale_reason(item, config)

    def written_since(self, item, since):
        """Whether ``item``'s output was written at or after ``since`` (`time.time`): after Ctrl-C, a complete
        output this run wrote is counted done."""
        return True

    @abc.abstractmethod
    def write(self, item, product, config):
        """Write ``product`` atomically (never a partial output under the final name); return the target."""

    def close(self, results):  # noqa: B027 - optional hook
        """Finish the destination after the run (also after Ctrl-C): indexes, consolidated metadata."""
