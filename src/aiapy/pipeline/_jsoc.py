"""From the archive to level 1.5 in one call: `prep_jsoc` finds level-1 records at the JSOC, downloads them
and preps them, the downloads overlapped with the prep so that the slower of the two sets the pace: the runner
(`aiapy.pipeline._runner.run`) over the archive's records (`JsocRecords`) into a folder of FITS files."""

import asyncio
import contextlib
from pathlib import Path

from aiapy.net.config import get_settings
from aiapy.pipeline._archive import (
    ArchiveOptions,
    Downloads,
    Fetched,
    check_reachable,
    exports,
    fetch_record,
    parse_channels,
    parse_time_range,
    prepare_folder,
    query_records,
)
from aiapy.pipeline._config import make_config
from aiapy.pipeline._output import FitsFolder
from aiapy.pipeline._product import Item, Source, Staged, StageError
from aiapy.pipeline._runner import Executor, run
from aiapy.utils.constants import DETECTOR_SHAPE
from aiapy.utils.quality import check_quality_flag

__all__ = ["prep_jsoc", "JsocRecords", "jsoc_source"]

_LEVEL1_DIR = ".level1"


def _configs(config, options):
    """The prep's `PrepConfig` and the `ArchiveOptions` from ``prep_jsoc``'s keywords."""
    archive_names = {f.name for f in ArchiveOptions.fields()}
    archive = ArchiveOptions(**{k: v for k, v in options.items() if k in archive_names})
    prep = make_config(config, **{k: v for k, v in options.items() if k not in archive_names})
    if prep.respike.spikes_dir is not None:
        raise ValueError(
            f"spikes_dir={prep.respike.spikes_dir!r} is not used by prep_jsoc: the spikes files come in the export."
        )
    return prep, archive


class JsocRecords(Source):
    """
    The level-1 records of a time range and channels at the JSOC (`query_records`), each an item named by its
    record and identified by its FSN; exported in chunks and downloaded into ``folder`` (``keep``: left there
    for later runs, else deleted once prepped). Prepped serially, a background thread of this process
    downloads ahead (`Downloads`); on Dask, each task downloads its record's files on its worker.
    """

    label = "aiapy prep --jsoc"

    def __init__(self, start, end, channels, archive, folder, settings):
        self.start, self.end, self.channels, self.archive = start, end, channels, archive
        self.folder, self.settings_, self.keep = Path(folder), settings, archive.keep_level1 is not None
        self.segments, self.records, self.skipped = ("image",), {}, []

    def plan(self, config):
        records = query_records(self.start, self.end, self.channels, cadence=self.archive.cadence_seconds,
                                settings=self.settings_)  # fmt: skip
        self.skipped = [r for r in records if r.quality != 0] if self.archive.quality == "good" else []
        records = [r for r in records if r not in self.skipped]
        self.segments = ("image", "spikes") if "respike" in config.active_steps else ("image",)
        self.records = {r.name: r for r in records}
        items = [
            Item(r.name, r.files(self.folder, ["image"])[0], {"FSN": r.fsn},
                 {"channel": r.channel, "shape": DETECTOR_SHAPE, "time": r.t_obs})
            for r in records
        ]  # fmt: skip
        return items, {}

    def settings(self):
        archive = {k: v for k, v in self.archive.as_dict().items() if k != "email"}
        return archive | {
            "source": "jsoc", "time_range": [self.start.isot, self.end.isot], "channels": self.channels,
            "quality_skipped": [
                {"record": r.name, "quality": f"0x{r.quality:08x}", "flags": check_quality_flag(r.quality)}
                for r in self.skipped
            ],
        }  # fmt: skip

    def _export(self):
        return {"email": self.archive.email, "export_timeout": float(self.archive.export_timeout),
                "settings": self.settings_}  # fmt: skip

    @contextlib.contextmanager
    def feed(self, items, *, serial):
        """Serially: the records as the download thread has their files (at most ``2 * in_flight`` on disk or in
        flight unless kept); on Dask: each export's records and their URLs as the export is ready."""
        records = [self.records[item.name] for item in items]
        by_record = {self.records[item.name]: item for item in items}
        if not serial:
            prepare_folder(self.folder)
            yield ([(by_record[r], source) for r, source in batch.items()]
                   for batch in exports(records, self.folder, self.segments, **self._export()))  # fmt: skip
            return
        in_flight = self.archive.in_flight
        downloads = Downloads(records, self.folder, segments=self.segments, in_flight=in_flight,
                              slots=None if self.keep else 2 * in_flight, **self._export())  # fmt: skip
        try:
            yield self._fetched(downloads.start(), by_record)
        finally:
            downloads.stop()

    @staticmethod
    def _fetched(downloads, by_record):
        for fetched in downloads:
            yield [(by_record[fetched.record], fetched)]
            if fetched.error is None:
                downloads.release()  # the record's files are prepped (and deleted unless kept)

    def item_of(self, unit):
        return unit[0]

    @contextlib.contextmanager
    def stage(self, unit):
        item, fetched = unit
        if not isinstance(fetched, Fetched):  # on a Dask worker: the export's URLs (or its error)
            record = self.records[item.name]
            fetched = asyncio.run(fetch_record(record, fetched, self.folder, self.segments, settings=self.settings_))
        if fetched.error is not None:
            raise StageError(fetched.error)
        try:
            yield Staged(fetched.paths[0], {"download": fetched.seconds}, fetched.nbytes)
        finally:
            if not self.keep:
                Downloads.remove(fetched.paths)


def prep_jsoc(
    time_range,
    channels,
    out_dir,
    *,
    cadence=None,
    email=None,
    config=None,
    workers=None,
    scheduler=None,
    client=None,
    memory_limit="auto",
    progress=None,
    **options,
):
    """
    Find level-1 AIA images at the JSOC, download them and promote them to level 1.5, downloads overlapped
    with the prep; return the same report as `prep_files`.

    Records come from ``aia.lev1_euv_12s`` (94-335 A), ``aia.lev1_uv_24s`` (1600, 1700 A) and
    ``aia.lev1_vis_1h`` (4500 A). Their
    image files are exported (``url_quick``, ``as-is``: the JSOC's own Rice-compressed files) and
    downloaded through `parfive`, each to a temporary name, checked (complete, FITS DATASUM/CHECKSUM, the
    WAVELNTH and FSN of the record), prepped and deleted (unless ``keep_level1``). Without Dask, a background
    thread downloads over ``in_flight`` connections while this one preps: where the server serves byte ranges
    (the JSOC does), one file at a time in ``in_flight`` parts, in record order, so that the first file is
    there after one file's transfer time and the others follow at an even pace (files fetched together
    would all arrive together, late, while the prep waits); otherwise ``in_flight`` files at once. At most
    ``2 * in_flight`` records' files are on disk or in flight at once. With Dask (``workers``, ``scheduler``
    or ``client``), this process queries and exports, and each record is one task that downloads its files
    (over one connection each) and preps them on a worker: Dask runs one task per worker thread, so at most
    that many records' files are on disk at once.

    Parameters
    ----------
    time_range : `sunpy.time.TimeRange`, str or (start, end)
        Records with T_REC in [start, end); a string is ``"START/END"``, e.g.
        ``"2011-02-15T00:00/2011-02-15T06:00"``.
    channels : int, `~astropy.units.Quantity`, str or iterable of them
        AIA channels in Angstrom, e.g. ``[171, 193]`` or ``"171,193"``.
    out_dir : path-like
        Output folder (created if needed); one ``<series>.<T_REC>.<channel>.image_lev1_lev1.5.fits`` per
        record.
    cadence : `~astropy.units.Quantity` or str, optional
        Keep, per channel, the first record of each interval (e.g. ``"1min"``, ``2 * u.h``); default: every
        record (12 s EUV, 24 s UV).
    email : str
        An address registered for JSOC exports (required).
    config : `PrepConfig`, optional
        The prep's steps and options, as for `prep_files` (keywords in ``**options`` change it). With the
        ``respike`` step, each record's spikes file comes in the same export; a ``"jsoc"``/``"lmsal"``
        pointing table is fetched once for the whole range.
    workers, scheduler, client, memory_limit, progress
        As for `prep_files`: the downloads and the prep run on the Dask workers (``in_flight`` does not
        apply; the output and level-1 folders must be on a file system the workers share, and the workers
        need to reach the JSOC). The progress counts records downloaded and prepped as their tasks end.
    **options
        The archive options (`ArchiveOptions`):

        - ``quality`` (``"good"``, ``"any"``): ``"good"`` (default) skips records with QUALITY != 0,
          listed with their decoded flags in ``report.settings["quality_skipped"]``; ``"any"`` preps them.
        - ``in_flight`` (int, default 4): connections downloading at once (without Dask): one file in that
          many byte ranges where the server serves them, else that many files.
        - ``keep_level1`` (path-like): keep the level-1 (and spikes) files in this folder, reused by later
          runs; default: a hidden ``.level1`` folder in ``out_dir``, emptied as the prep goes.
        - ``export_timeout`` (seconds, default 600): how long to wait for an export the JSOC has not
          finished (files staged from tape); the records of an export still pending then fail, saying so.

        and the prep options of `prep_files` (``steps``, ``pointing``, ``method``, ``iterations``,
        ``uncertainty``, ``dtype``, ``compress``, ``overwrite``, ...; see `KEYWORDS`).

    Returns
    -------
    `PrepReport`
        One `FileResult` per record (``input`` is the record, e.g. ``aia.lev1_euv_12s[2011-02-15T00:00:02Z][171]``;
        ``timings["download"]`` its download time). A record whose output is already complete is
        ``skipped`` without any download, so rerunning the same call resumes an interrupted run. A record
        that cannot be exported or downloaded intact after the configured retries, or has no image at the
        JSOC, is ``failed`` with the reason; it never stops the others.

    Raises
    ------
    TypeError, ValueError
        For invalid options, before any network access (``email`` missing included).
    aiapy.net.RemoteUnavailableError
        If the JSOC cannot be reached; the message names ``--email``/the network and the file-based
        ``aiapy prep`` alternative.
    aiapy.net.NoDataError
        If no record matches.
    """
    executor = Executor(workers, scheduler, client, memory_limit)
    out_dir = Path(out_dir).expanduser().resolve()
    source, config = jsoc_source(
        time_range, channels, out_dir / _LEVEL1_DIR, cadence=cadence, email=email, config=config, **options
    )
    return run(source, FitsFolder(out_dir), config, executor=executor, progress=progress)


def jsoc_source(time_range, channels, level1_folder, *, cadence=None, email=None, config=None, **options):
    """
    The `JsocRecords` source of a front end and its `PrepConfig`, the options checked before the JSOC is
    reached (then `~aiapy.net.RemoteUnavailableError` if it cannot be). ``level1_folder`` holds the downloads
    unless ``keep_level1`` is given; the other arguments are `prep_jsoc`'s.
    """
    start, end = parse_time_range(time_range)
    channels = parse_channels(channels)
    config, archive = _configs(config, {"cadence": cadence, "email": email, **options})
    settings = get_settings()
    check_reachable(settings)
    folder = Path(archive.keep_level1 if archive.keep_level1 is not None else level1_folder).expanduser().resolve()
    return JsocRecords(start, end, channels, archive, folder, settings), config
