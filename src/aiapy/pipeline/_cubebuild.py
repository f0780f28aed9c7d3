"""``build_cube``: the batch runner with a `ZarrCube` sink, over files on disk (`FileList`)."""

import logging
import math
import numbers
import tempfile

import astropy.units as u
from astropy.time import Time

from aiapy.pipeline._archive import QUALITY_CHOICES, parse_cadence
from aiapy.pipeline._config import make_config
from aiapy.pipeline._cube import ZarrCube
from aiapy.pipeline._fitsfile import image_header
from aiapy.pipeline._inputs import expand_inputs
from aiapy.pipeline._jsoc import jsoc_source
from aiapy.pipeline._run import FileList
from aiapy.pipeline._runner import Executor, run

__all__ = ["build_cube", "build_cube_jsoc"]

log = logging.getLogger(__name__)


def build_cube(
    inputs,
    store,
    *,
    config=None,
    layout="aiapy",
    resolution=None,
    downsample="mean",
    fixed_radius=None,
    cadence=None,
    quality=None,
    workers=None,
    scheduler=None,
    client=None,
    memory_limit="auto",
    progress=None,
    storage_options=None,
    **options,
):
    """
    Prep many AIA files to level 1.5 into one Zarr data cube; return the run's report.

    Parameters
    ----------
    inputs : str, path-like, or iterable of them
        Files, directories or glob patterns of level-1 FITS files (or level-1.5 ones: their level-1 steps,
        respike, update_pointing, desaturate, deconvolve and register, are skipped and noted).
    store : str or path-like
        A local folder or an fsspec URL (``s3://bucket/cube.zarr``; the endpoint and credentials from the usual
        AWS settings, ``AWS_ENDPOINT_URL``...), created if needed; an existing cube is appended to.
    config : `PrepConfig`, optional
        The steps and their options, as `prep_files` takes them; ``**options`` (`KEYWORDS`) change it.
    layout : {"aiapy", "sdoml"}
        ``aiapy``: a Zarr v3 group per channel (``171A``) holding ``data`` (time, y, x) float32 on the common
        level-1.5 grid of the inputs, one shard of 256 x 256 tiles per frame; ``mask`` (uint8
        `~aiapy.utils.PixelFlag` bits) where a frame has flagged pixels; ``time`` (T_OBS) and per-frame header
        values along time. ``sdoml``: the SDOML v2 conventions (Zarr v2, a group per year, an array per
        channel in chunks of 15 frames, Blosc zstd 5 with bit shuffle, every keyword a per-frame list in the
        array's attributes, ``PIXLUNIT = 'DN/s'``, ``DEG_COR``); it needs the degradation and exposure steps.
    resolution : int, optional
        Downsample full frames to this size by ``downsample`` (SDOML: 512).
    downsample : {"mean", "sum"}
        How ``resolution`` combines pixels (SDOML v2: mean; v1: sum).
    fixed_radius : float, optional
        Rescale full frames about Sun centre to this solar radius in arcsec (SDOML: 976).
    cadence : str, `~astropy.units.Quantity` or float, optional
        Keep, per channel, the first frame of each interval of this length (``"6min"``, ``6 * u.min``,
        seconds) from the channel's first (SDOML v1: 6 minutes).
    quality : {None, "good", "any"}
        ``"good"``: keep only frames with QUALITY 0 (SDOML v1); None or ``"any"``: every frame.
    workers, scheduler, client, memory_limit, progress
        As for `prep_files`: serially (default), on a local Dask cluster, a running scheduler or a client
        (the store must be reachable from the workers: a shared file system or an object store). Each worker
        writes the frames it prepped; only small reports travel back.
    storage_options : dict, optional
        fsspec options of a URL store.

    Returns
    -------
    `PrepReport`
        Per input: ``done`` (written now), ``skipped`` (its frame is in the cube, whole, made from the same
        input with the same settings), ``failed`` or ``cancelled``; ``settings`` name the store and layout.

    Raises
    ------
    TypeError, ValueError
        For invalid options, a store of other layout settings, frames that cannot share one grid or would
        not append in time order, or two inputs of one frame (before any work).
    FileExistsError
        If the store holds something that is not an aiapy cube, or an input is inside it.

    Notes
    -----
    **Resume and append.** Each frame is written by the worker that prepped it (its chunks, then a record of
    its input, settings and header), so a killed run leaves whole frames and unrecorded ones; the next run
    skips the recorded frames of the same inputs and settings and redoes the others in place. New inputs
    later than a channel's last frame are appended in time order; an earlier one is refused (the stored
    frames would move). The common grid of cutouts grows towards higher rows and columns as new frames
    need; growing the other way is refused. One run at a time per store.

    Examples
    --------
    >>> import tempfile
    >>> from aiapy.pipeline import build_cube, open_cube
    >>> from aiapy.data import sample
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     report = build_cube(sample.FLARE_FILES[:6], f"{folder}/flare.zarr")
    ...     cube = open_cube(f"{folder}/flare.zarr")
    ...     shape = cube.xarray(171).data.shape
    >>> report.counts["done"], cube.channels, shape
    (6, [94, 131, 171, 193, 211, 335], (1, 67, 67))
    """
    config = make_config(config, **options)
    executor = Executor(workers, scheduler, client, memory_limit)
    sink = ZarrCube(
        store,
        layout=layout,
        resolution=resolution,
        downsample=downsample,
        fixed_radius=fixed_radius,
        storage_options=storage_options,
    )
    paths = _select(expand_inputs(inputs), _check_selection(cadence, quality), quality)
    return run(FileList(paths), sink, config, executor=executor, progress=progress, settings=sink.report_settings())


def build_cube_jsoc(
    time_range,
    channels,
    store,
    *,
    cadence=None,
    email=None,
    config=None,
    layout="aiapy",
    resolution=None,
    downsample="mean",
    fixed_radius=None,
    workers=None,
    scheduler=None,
    client=None,
    memory_limit="auto",
    progress=None,
    storage_options=None,
    **options,
):
    """
    From the archive to a data cube: the level-1 records of a time range and channels at the JSOC, downloaded
    and prepped as `prep_jsoc` does, into one Zarr store as `build_cube` writes it; return the run's report.

    ``time_range``, ``channels``, ``cadence``, ``email`` and the archive options in ``**options``
    (``quality``, ``in_flight``, ``keep_level1``, ``export_timeout``) are `prep_jsoc`'s; ``store``, ``layout``,
    ``resolution``, ``downsample``, ``fixed_radius`` and ``storage_options`` `build_cube`'s. The level-1
    files go to ``keep_level1`` if given (kept for later runs), else to a temporary folder emptied as the
    prep goes (with Dask, give a ``keep_level1`` folder the workers share). Records already in the cube are
    ``skipped`` without any download.
    """
    executor = Executor(workers, scheduler, client, memory_limit)
    sink = ZarrCube(
        store,
        layout=layout,
        resolution=resolution,
        downsample=downsample,
        fixed_radius=fixed_radius,
        storage_options=storage_options,
    )
    with tempfile.TemporaryDirectory(prefix="aiapy-level1-") as folder:
        source, config = jsoc_source(time_range, channels, folder, cadence=cadence, email=email, config=config,
                                     **options)  # fmt: skip
        return run(source, sink, config, executor=executor, progress=progress, settings=sink.report_settings())


def _check_selection(cadence, quality):
    """``cadence`` in seconds (or None), as the archive options take it; `ValueError` naming the option."""
    if quality not in (None, *QUALITY_CHOICES):
        raise ValueError(f"quality must be None or one of {QUALITY_CHOICES}, not {quality!r}.")
    if isinstance(cadence, numbers.Real) and not isinstance(cadence, bool):
        cadence = cadence * u.s
    return parse_cadence(cadence)


def _select(paths, cadence, quality):
    """
    The inputs kept by ``quality`` (``"good"``: QUALITY 0) and ``cadence`` (per channel, the first frame of
    each interval of that many seconds from the channel's first kept frame), logged; in input order.
    """
    if cadence is None and quality in (None, "any"):
        return paths
    frames = []
    for path in paths:
        header = image_header(path)
        if quality == "good" and header.get("QUALITY") != 0:
            log.info("%s: QUALITY %s: left out (quality='good')", path, header.get("QUALITY"))
            continue
        frames.append((int(header["WAVELNTH"]), Time(header.get("T_OBS") or header["DATE-OBS"]).unix, path))
    kept, taken = set(), {}  # taken: channel -> (its first kept time, the intervals that have a frame)
    for channel, seconds, path in sorted(frames):
        first, intervals = taken.setdefault(channel, (seconds, set()))
        interval = 0 if cadence is None else math.floor((seconds - first) / cadence)
        if cadence is None or interval not in intervals:
            intervals.add(interval)
            kept.add(path)
    left_out = len(paths) - len(kept)
    if left_out:
        log.info("cadence/quality selection: %d of %d input(s) left out", left_out, len(paths))
    return [path for path in paths if path in kept]
