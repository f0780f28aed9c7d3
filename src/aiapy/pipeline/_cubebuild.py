"""``build_cube``: the batch pipeline writing into a `ZarrCube` instead of FITS files."""

import dataclasses
import logging
import math
import numbers
import time
import warnings

import astropy.units as u
from astropy.time import Time

from aiapy.pipeline._cube import ZarrCube, steps_for
from aiapy.pipeline._fitsfile import image_header
from aiapy.pipeline._inputs import expand_inputs, input_identity
from aiapy.pipeline._product import Product
from aiapy.pipeline._report import FileResult, PrepReport
from aiapy.pipeline._config import make_config
from aiapy.pipeline._shared import build_shared, needs_headers, scan_header
from aiapy.pipeline._steps import STEPS, find_spikes_file
from aiapy.utils.io import read_map
from aiapy.utils.maps import check_aia_map

__all__ = ["build_cube"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class _FileItem:
    name: str
    path: str
    identity: str


def _prep(item, sink, config, shared):
    """Read, prep and write one item into the sink on this process; a `FileResult`."""
    start = time.perf_counter()
    result = FileResult(item.name, sink.target(item), "failed")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            smap = read_map(item.path)
            check_aia_map(smap, function="aiapy cube")
            frame = {"spikes": find_spikes_file(item.path, config.respike.spikes_dir)}
            for step in steps_for(smap, config):
                smap, note = STEPS[step](smap, config, shared, frame)
                result.steps.append(f"{step} {note}" if note else step)
            sink.write(item, Product(smap, mask=getattr(smap, "mask", None)), config)
            result.status = "done"
        except Exception as error:  # one bad file must not stop the batch
            result.error = f"{type(error).__name__}: {error}"
    result.warnings = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    result.seconds = time.perf_counter() - start
    return result


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
    storage_options=None,
    **options,
):
    """
    Prep many AIA files to level 1.5 into one Zarr data cube; return the run's report.

    Parameters
    ----------
    inputs : str, path-like, or iterable of them
        Files, directories or glob patterns of level-1 FITS files (or level-1.5 ones: their level-1 steps,
        respike, update_pointing, deconvolve and register, are skipped).
    store : str or path-like
        A local folder or an fsspec URL (``s3://bucket/cube.zarr``), created if needed; an existing cube
        is appended to.
    config : `PrepConfig`, optional
        The steps and their options, as `prep_files` takes them; ``**options`` change it.
    layout : {"aiapy", "sdoml"}
        ``aiapy``: a Zarr v3 group per channel (``171A``) holding ``data`` (time, y, x) float32 on the common
        level-1.5 grid of the inputs, one shard per frame; ``mask`` (uint8 `~aiapy.utils.PixelFlag` bits)
        where the frames have one; ``time`` and per-frame header values along time. ``sdoml``: the SDOML
        v2 conventions (Zarr v2, a group per year, an array per channel in chunks of 15 frames, Blosc zstd
        5 with bit shuffle, every keyword a per-frame list in the array's attributes).
    resolution : int, optional
        Downsample full frames to this size (SDOML: 512).
    downsample : {"mean", "sum"}
        How ``resolution`` combines pixels.
    fixed_radius : float, optional
        Rescale full frames to this solar radius in arcsec (SDOML: 976).
    cadence : `~astropy.units.Quantity` or float, optional
        Keep at most one frame per channel in each interval of this length (seconds), the first of each
        (SDOML v1: 6 minutes).
    quality : int, optional
        Keep only frames whose QUALITY is this value (SDOML v1: 0).
    workers, scheduler, client, memory_limit
        Where to run, as `prep_files`: serially (default), on a local Dask cluster of ``workers`` processes
        (each limited to ``memory_limit``), on a running scheduler, or on a client. Each worker writes the
        frames it prepped: only small reports travel back.
    storage_options : dict, optional
        fsspec options of a URL store.

    Returns
    -------
    `PrepReport`
        Per input: ``done`` (written now), ``skipped`` (its frame is in the cube, made with the same input
        and settings), ``failed`` or ``cancelled``.
    """
    config = make_config(config, **options)
    sink = ZarrCube(
        store,
        layout=layout,
        resolution=resolution,
        downsample=downsample,
        fixed_radius=fixed_radius,
        storage_options=storage_options,
    )
    start = time.perf_counter()
    paths = _select(expand_inputs(inputs), _check_selection(cadence, quality), quality)
    items = [_FileItem(str(path), str(path), input_identity(path)) for path in paths]
    sink.open(items, config)
    headers = [scan_header(path) for path in paths] if needs_headers(config) else []
    shared = build_shared(config, headers)
    results = {}
    todo = []
    for item in items:
        if not config.output.overwrite and sink.is_complete(item, config):
            results[item.name] = FileResult(item.name, sink.target(item), "skipped")
        else:
            todo.append(item)
    try:
        if workers is None and scheduler is None and client is None:
            for item in todo:
                results[item.name] = _prep(item, sink, config, shared)
        else:
            _run_dask(todo, sink, config, shared, (workers, scheduler, client, memory_limit), results)
    finally:
        sink.close(list(results.values()))
    ordered = [results.get(item.name) or FileResult(item.name, sink.target(item), "cancelled") for item in items]
    settings = config.keywords() | {"config_id": config.config_id, "store": sink.url} | sink.settings()
    return PrepReport(ordered, settings, time.perf_counter() - start, False)


def _run_dask(todo, sink, config, shared, where, results):
    from distributed import Client, LocalCluster, as_completed

    workers, scheduler, client, memory_limit = where
    config = config.replace(register=config.register.replace(workers=1))
    owned = None
    if client is None:
        if scheduler is not None:
            owned = client = Client(scheduler)
        else:
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory_limit, dashboard_address=":0"
            )
            owned = client = Client(cluster)
    try:
        [shared_future] = client.scatter([shared], broadcast=True, hash=False)
        futures = {client.submit(_prep, item, sink, config, shared_future, pure=False): item for item in todo}
        for future in as_completed(futures):
            results[futures[future].name] = future.result()
    finally:
        if owned is not None:
            cluster = owned.cluster
            owned.close()
            if cluster is not None:
                cluster.close()


def _check_selection(cadence, quality):
    """``cadence`` in seconds (float) or None; `ValueError`/`TypeError` naming the option."""
    if quality is not None and (not isinstance(quality, numbers.Integral) or isinstance(quality, bool)):
        raise TypeError(f"quality must be None or an int (the QUALITY value to keep, e.g. 0), not {quality!r}.")
    if cadence is None:
        return None
    seconds = u.Quantity(cadence, u.s).to_value(u.s) if isinstance(cadence, u.Quantity) else cadence
    if not isinstance(seconds, numbers.Real) or isinstance(seconds, bool) or not seconds > 0:
        raise ValueError(f"cadence must be None or a positive time (seconds or a Quantity), not {cadence!r}.")
    return float(seconds)


def _select(paths, cadence, quality):
    """
    The inputs kept by ``quality`` (QUALITY equal to it) and ``cadence`` (per channel, the first frame of
    each interval of that many seconds from the channel's first kept frame), logged; in input order.
    """
    if cadence is None and quality is None:
        return paths
    frames = []
    for path in paths:
        header = image_header(path)
        if quality is not None and header.get("QUALITY") != quality:
            log.info("%s: QUALITY %s, not %s: left out", path, header.get("QUALITY"), quality)
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
