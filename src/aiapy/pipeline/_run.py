"""`prep_files`: the runner (`aiapy.pipeline._runner.run`) over level-1 files on disk (`FileList`) into a folder of
FITS files (`FitsFolder`)."""

import contextlib

from aiapy.pipeline._config import make_config
from aiapy.pipeline._inputs import expand_inputs, input_identity
from aiapy.pipeline._output import FitsFolder
from aiapy.pipeline._product import Item, Source, Staged
from aiapy.pipeline._runner import Executor, run
from aiapy.pipeline._shared import needs_headers, scan_header

__all__ = ["prep_files", "FileList"]


class FileList(Source):
    """
    Level-1 files on disk: files, directories (their FITS files) and glob patterns (`expand_inputs`), each an
    item named by its path and identified by its size, modification time and observation keys
    (`input_identity`), prepped where it is.
    """

    def __init__(self, inputs):
        self.inputs = inputs

    def plan(self, config):
        items, failed = [], {}
        scan = needs_headers(config)
        for path in expand_inputs(self.inputs):
            identity, facts = {}, {}
            try:
                identity["AIAPYINP"] = input_identity(path)
                facts = scan_header(path) if scan else {}
            except (OSError, ValueError, KeyError, TypeError) as error:  # fails alone, before any work
                failed[str(path)] = f"{type(error).__name__}: {error}"
            items.append(Item(str(path), path, identity, facts))
        return items, failed

    @contextlib.contextmanager
    def feed(self, items, *, serial):
        yield [items]

    def item_of(self, unit):
        return unit

    @contextlib.contextmanager
    def stage(self, unit):
        yield Staged(unit.path)


def prep_files(
    inputs,
    out_dir,
    *,
    config=None,
    workers=None,
    scheduler=None,
    client=None,
    memory_limit="auto",
    progress=None,
    **options,
):
    """
    Promote many level-1 AIA files to level 1.5, writing one FITS file per input; return a report.

    Parameters
    ----------
    inputs : str, path-like, or iterable of them
        Files, directories (their FITS files) or glob patterns of level-1 FITS files, Rice-compressed or not.
        Directories and patterns never yield aiapy's own outputs.
    out_dir : path-like
        Output folder, created if needed. Output names are the input names with ``_lev1.5.fits``.
    config : `PrepConfig`, optional
        The steps and their options; default ``PrepConfig()`` (the standard prep: update_pointing with the
        header pointing, i.e. skipped, register, degradation, exposure; float32 outputs).
    workers : int, optional
        Run on a local Dask cluster of this many single-threaded worker processes.
    scheduler : str, optional
        Address of a running ``dask.distributed`` scheduler (e.g. ``"tcp://10.0.0.1:8786"``). Inputs and
        ``out_dir`` must be visible at the same paths on the workers (a shared file system).
    client : `distributed.Client`, optional
        An existing client to run on (not closed afterwards).
    memory_limit : str or int
        Memory limit per local worker (Dask syntax, e.g. ``"4GiB"``); ``"auto"`` divides the machine's memory.
    progress : bool, optional
        Show a progress bar; default: when stderr is a terminal. Otherwise a log line per file (INFO).
    **options
        Single options of ``config``, by short (`KEYWORDS`) or qualified (`OPTIONS`) name: ``steps`` (iterable or
        comma-separated str from `STEP_ORDER`), ``pointing`` (`POINTING_SOURCES` name or table path),
        ``spikes_dir``; register's ``method``, ``order``, ``missing``, ``cubic``...; deconvolve's
        ``iterations``, ``acceleration``...; ``uncertainty`` (bool: write the 1-sigma uncertainty as a
        second HDU, estimated on the counts after the geometric steps and scaled by degradation and
        exposure; the correlation interpolation introduces between pixels is not propagated, as in
        SolarSoft); ``dtype`` (``"float32"``/``"float64"``), ``compress`` (None, ``"rice"``: lossy
        quantisation to 1/16 of the noise as fpack, ``"gzip"``: lossless) and ``overwrite`` (redo valid
        outputs too).

    Returns
    -------
    `PrepReport`
        Per file: status, output path, timings, error; ``report.ok`` is True when every input has a
        complete output. Ctrl-C stops the run cleanly: finished outputs are kept and counted (those this
        run wrote are ``done``, read back from the disk), no partial file is left under an output name, the
        rest are reported ``cancelled`` and ``report.interrupted`` is set.

    Raises
    ------
    TypeError, ValueError
        For invalid options (checked before any file is read), or two inputs with one output name.
    FileNotFoundError
        If an input matches nothing.
    FileExistsError
        If an output would replace an input, or an existing file that is not an aiapy output (checked
        before any work).

    Notes
    -----
    **Resume.** An existing output is skipped only when it is complete (its checksums verify) and was made
    from the same input (size, modification time, and T_OBS, WAVELNTH, FSN, EXPTIME of its header), by
    the same aiapy version, with the same settings of the steps that run (`PrepConfig.config_id`: options
    of steps that do not run are left out) and the same pointing table content; otherwise it is redone
    and the reason noted in its `FileResult`. Outputs are written under a temporary name unique to the
    writing process and renamed, so concurrent runs into one folder never collide (the last one wins).

    **Execution.** The calibration tables and PSFs are computed once in this process and, with Dask,
    scattered to every worker once (``client.scatter(..., broadcast=True)``); each file is one task that
    reads its input and writes its own output, so only small reports travel back. Memory is bounded per
    task, not per batch: a worker holds one image at a time. For the standard prep of a 4096 x 4096 frame
    the peak resident memory of a worker process is about 0.6 GiB (about 0.3 GiB of it the imported
    libraries; measured by ``benchmarks/bench_pipeline.py`` and reported per file in
    ``FileResult.peak_memory_mib``); deconvolution adds the FFT buffers (several 4096 x 4096 complex
    arrays). Each local worker is limited to ``memory_limit``; Dask restarts a worker that exceeds it, and
    its file is reported failed.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from aiapy.data.sample import AIA_171_CUTOUT
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     report = prep_files(AIA_171_CUTOUT, Path(folder) / "lev15")
    ...     rerun = prep_files(AIA_171_CUTOUT, Path(folder) / "lev15")  # the valid output is skipped
    ...     names = [path.name for path in (Path(folder) / "lev15").iterdir()]
    >>> report.ok, report.settings["steps"], rerun.counts["skipped"]
    (True, ['register', 'degradation', 'exposure'], 1)
    >>> names
    ['aia_171_level1_cutout_769x705_2013-03-10_lev1.5.fits']
    """
    config = make_config(config, **options)
    executor = Executor(workers, scheduler, client, memory_limit)
    return run(FileList(inputs), FitsFolder(out_dir), config, executor=executor, progress=progress)
