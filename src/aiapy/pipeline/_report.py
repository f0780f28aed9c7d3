"""What a batch run did, file by file: the report returned by `aiapy.pipeline.prep_files`."""

import dataclasses
import json
import os
from collections import Counter
from pathlib import Path

__all__ = ["FileResult", "PrepReport", "STATUSES", "REDONE", "SHORT_EXPOSURE", "is_report"]

#: Every status a file can end with. ``done`` and ``skipped`` (a complete, valid output already existed)
#: are successes; ``failed`` carries the error; ``cancelled`` files were not processed (Ctrl-C).
STATUSES = ("done", "skipped", "failed", "cancelled")
#: The first note of a file whose existing output was replaced: ``"existing output redone (<reason>)"``.
REDONE = "existing output redone"
#: The note of a frame shortened by the automatic exposure control (`aiapy.utils.is_short_exposure`):
#: ``"short exposure (AEC): ..."``; with ``skip_short_exposures`` such a frame is ``skipped``, not written.
SHORT_EXPOSURE = "short exposure (AEC)"
#: The keys of the JSON report `PrepReport.write_json` writes: a file without them is not a report.
_REPORT_KEYS = frozenset({"summary", "counts", "settings", "results"})


def is_report(path):
    """Whether ``path`` holds a JSON report written by aiapy (`PrepReport.write_json`)."""
    try:
        with open(path, encoding="utf-8") as handle:
            content = json.load(handle)
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(content, dict) and _REPORT_KEYS <= content.keys()


@dataclasses.dataclass
class FileResult:
    """
    The outcome for one input file.

    Attributes
    ----------
    input : str
        The input path.
    output : str or None
        The output path (None when no output could be named).
    status : {"done", "skipped", "failed", "cancelled"}
        What happened (``skipped``: a complete output existed, or a short exposure was left out, noted
        `SHORT_EXPOSURE` in ``steps``).
    seconds : float
        Wall time spent on the file by whichever process handled it.
    error : str or None
        ``"ExceptionType: message"`` for a failed file.
    timings : dict
        Seconds per stage (``read``, each step, ``write``) for a processed file.
    steps : list of str
        The steps applied, in order, with notes (e.g. ``"respike (no spikes file)"``).
    warnings : list of str
        Warnings raised while processing the file (they are collected, logged and never stop the batch).
    peak_memory_mib : float or None
        Peak resident memory of the process while it handled the file, in MiB (Linux: the peak mark is
        reset at the start of each file; None where the OS does not report it).
    """

    input: str
    output: str | None
    status: str
    seconds: float = 0.0
    error: str | None = None
    timings: dict = dataclasses.field(default_factory=dict)
    steps: list = dataclasses.field(default_factory=list)
    warnings: list = dataclasses.field(default_factory=list)
    peak_memory_mib: float | None = None

    @property
    def ok(self):
        """True when the file has a complete output (processed now or before)."""
        return self.status in ("done", "skipped")

    @property
    def short_exposure(self):
        """True when the frame was taken with an exposure shortened by the automatic exposure control."""
        return any(step.startswith(SHORT_EXPOSURE) for step in self.steps)

    @property
    def replaced(self):
        """True when an existing output was redone (other settings, a changed input, corrupt...)."""
        return bool(self.steps) and self.steps[0].startswith(REDONE)


@dataclasses.dataclass
class PrepReport:
    """
    The report of one batch run: a `FileResult` per input, in input order, and the run's settings.

    Attributes
    ----------
    results : list of `FileResult`
    settings : dict
        The options of the run: the steps that ran and every option by its keyword name
        (`PrepConfig.keywords`), the executor, ``config_id`` and the output folder.
    seconds : float
        Wall time of the whole run, set-up included.
    interrupted : bool
        True when the run was stopped by Ctrl-C (remaining files are ``cancelled``).
    """

    results: list
    settings: dict = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def counts(self):
        """Number of files per status, every status present as a key."""
        found = Counter(result.status for result in self.results)
        return {status: found.get(status, 0) for status in STATUSES}

    @property
    def ok(self):
        """True when every input has a complete output and the run was not interrupted."""
        return not self.interrupted and all(result.ok for result in self.results)

    @property
    def failed(self):
        """The results of the files that failed."""
        return [result for result in self.results if result.status == "failed"]

    def summary(self):
        """One line: counts per status, wall time and throughput of the processed files."""
        counts = self.counts
        parts = [f"{counts[status]} {status}" for status in STATUSES if counts[status]]
        rate = counts["done"] / self.seconds * 60 if self.seconds > 0 else 0.0
        text = f"{len(self.results)} file(s): {', '.join(parts) or 'nothing to do'} in {self.seconds:.1f} s"
        if counts["done"]:
            text += f" ({rate:.1f} images/min)"
        replaced = sum(result.replaced for result in self.results)
        if replaced:
            text += f"; {replaced} existing output(s) replaced (reasons in the report)"
        short = sum(result.short_exposure for result in self.results)
        if short:
            text += f"; {short} short exposure(s) (AEC)"
        desaturated = sum(any(step.startswith("desaturate (") for step in result.steps) for result in self.results)
        if desaturated:
            text += f"; {desaturated} desaturated (flux restored in each file's steps)"
        warned = sum(bool(result.warnings) for result in self.results)
        if warned:
            text += f"; {warned} with warnings (in the report, or logged with -v)"
        return text + (" [interrupted]" if self.interrupted else "")

    def to_dict(self):
        """A JSON-ready dictionary of the whole report."""
        return {
            "summary": self.summary(),
            "counts": self.counts,
            "seconds": self.seconds,
            "interrupted": self.interrupted,
            "settings": self.settings,
            "results": [dataclasses.asdict(result) for result in self.results],
        }

    def write_json(self, path):
        """
        Write `to_dict` to ``path`` as indented JSON; an existing file is replaced only if it is an aiapy report.

        Raises
        ------
        FileExistsError
            If ``path`` exists and is not an aiapy JSON report (`is_report`): a report never replaces a file it
            did not write.
        """
        path = Path(path)
        if path.exists() and not is_report(path):
            raise FileExistsError(f"{path} exists and is not an aiapy report; the report would replace it.")
        temporary = path.with_name(f".{path.name}.{os.getpid()}.part")
        temporary.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
        temporary.replace(path)
