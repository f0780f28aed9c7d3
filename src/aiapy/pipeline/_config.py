"""
The settings of a batch run: one option set per step, composed into `PrepConfig`, and the identifier of the
settings that decide an output's bytes.
"""

import dataclasses
import hashlib
import json
import os
import typing
from pathlib import Path

from aiapy._version import __version__
from aiapy.calibrate._interpolate import KERNELS
from aiapy.calibrate.register import RegisterOptions
from aiapy.pipeline._output import COMPRESSIONS
from aiapy.pipeline._steps import STEPS
from aiapy.psf import DeconvolveOptions, DesaturateOptions
from aiapy.utils.options import Options, option

__all__ = [
    "STEP_ORDER",
    "DEFAULT_STEPS",
    "POINTING_SOURCES",
    "REGISTER_METHODS",
    "DTYPES",
    "PrepConfig",
    "RegisterOptions",
    "DeconvolveOptions",
    "RespikeOptions",
    "PointingOptions",
    "UncertaintyOptions",
    "OutputOptions",
    "KEYWORDS",
    "OPTIONS",
    "AMBIGUOUS",
    "keyword_name",
    "make_config",
]

#: Every step (the registry of step functions), in the order SolarSoft applies them (respike, desaturation and
#: PSF deconvolution act on the level-1 CCD grid, so they come before registration; degradation and exposure
#: are scalar and come last).
STEP_ORDER = tuple(STEPS)
#: The standard prep (``aia_prep`` + degradation correction + exposure normalisation).
DEFAULT_STEPS = ("update_pointing", "register", "degradation", "exposure")
#: Named sources of the master pointing table; any other value is taken as a table file path.
#: ``header`` keeps the level-1 header pointing (SolarSoft ``aia_prep, /use_hdr_pnt``) and skips
#: update_pointing; ``bundled`` is the small table shipped with aiapy (2010-05-13 00-06 UT only).
POINTING_SOURCES = ("header", "bundled", "jsoc", "lmsal")
#: Interpolation kernels of ``register`` (its registry).
REGISTER_METHODS = tuple(KERNELS)
#: Output data types (float32 halves the size; the level-1 data have 16 bits).
DTYPES = ("float32", "float64")


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {value!r}.")


@dataclasses.dataclass(frozen=True, kw_only=True)
class RespikeOptions(Options):
    """Options of the respike step."""

    spikes_dir: str | None = option(
        None, help="where the JSOC <name>.spikes.fits files are (default: beside each image)"
    )

    def _validate(self):
        if self.spikes_dir is not None:
            if not isinstance(self.spikes_dir, str | os.PathLike):
                raise TypeError(f"spikes_dir must be None or a path, not {self.spikes_dir!r}.")
            object.__setattr__(self, "spikes_dir", str(self.spikes_dir))


@dataclasses.dataclass(frozen=True, kw_only=True)
class PointingOptions(Options):
    """Options of the update_pointing step."""

    source: str = option(
        "header",
        help=f"master pointing table: one of {', '.join(POINTING_SOURCES)} or a table file; 'header' keeps the "
        "level-1 header pointing (SolarSoft /use_hdr_pnt, no network) and skips update_pointing",
    )

    def _validate(self):
        if not isinstance(self.source, str | os.PathLike):
            raise TypeError(f"pointing must be a source name or a path, not {type(self.source).__name__}.")
        source = str(self.source)
        if source not in POINTING_SOURCES and not Path(source).is_file():
            raise ValueError(f"pointing={source!r} is neither one of {POINTING_SOURCES} nor an existing table file.")
        object.__setattr__(self, "source", source)


@dataclasses.dataclass(frozen=True, kw_only=True)
class UncertaintyOptions(Options):
    """Whether the 1-sigma uncertainty (`aiapy.calibrate.estimate_error`) is written beside the image."""

    enabled: bool = option(False, help="write the 1-sigma uncertainty as a second HDU named UNCERTAINTY")

    def _validate(self):
        _check_bool("uncertainty", self.enabled)


@dataclasses.dataclass(frozen=True, kw_only=True)
class OutputOptions(Options):
    """How outputs are written."""

    dtype: str = option("float32", help="output data type", choices=DTYPES)
    compress: str | None = option(
        None, help="tile compression: rice (lossy, fpack-like) or gzip (lossless)", choices=tuple(COMPRESSIONS)
    )
    overwrite: bool = option(False, help="redo outputs that already exist and are valid")
    skip_short_exposures: bool = option(
        False, help="leave out frames shortened by the automatic exposure control (reported as skipped)"
    )

    def _validate(self):
        object.__setattr__(self, "dtype", str(self.dtype))
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype={self.dtype!r} is not supported; choose from {DTYPES}.")
        if self.compress not in COMPRESSIONS:
            raise ValueError(f"compress={self.compress!r} is not supported; choose from {list(COMPRESSIONS)}.")
        _check_bool("overwrite", self.overwrite)
        _check_bool("skip_short_exposures", self.skip_short_exposures)


#: The option set of each group of `PrepConfig`, and the step it belongs to (None: every run).
_GROUPS = {
    "respike": (RespikeOptions, "respike"),
    "pointing": (PointingOptions, "update_pointing"),
    "desaturate": (DesaturateOptions, "desaturate"),
    "deconvolve": (DeconvolveOptions, "deconvolve"),
    "register": (RegisterOptions, "register"),
    "uncertainty": (UncertaintyOptions, None),
    "output": (OutputOptions, None),
}
#: Fields the run sets itself: register writes the output dtype and uses one thread per Dask worker.
_SET_BY_RUN = {("register", "dtype"), ("register", "workers")}
#: Fields that do not change an output's bytes, so are left out of `PrepConfig.config_id`.
_NOT_IN_ID = {("register", "workers"), ("output", "overwrite"), ("output", "skip_short_exposures")}
#: Where a keyword is not its field's name: a group's one main field takes the group's name.
_RENAMED = {
    ("pointing", "source"): "pointing",
    ("uncertainty", "enabled"): "uncertainty",
    ("desaturate", "iterations"): "desaturate_iterations",
}


def _options():
    """Every step option by its qualified name ``<group>_<field>``, and the qualified names of each short one."""
    table, short = {}, {}
    for group, (cls, _) in _GROUPS.items():
        hints = typing.get_type_hints(cls)
        for field in cls.fields():
            if (group, field.name) in _SET_BY_RUN:
                continue
            qualified = f"{group}_{field.name}"
            table[qualified] = (group, field, hints[field.name])
            short.setdefault(_RENAMED.get((group, field.name), field.name), []).append(qualified)
    return table, short


#: Every step option by its qualified name (``deconvolve_iterations``; flag ``--deconvolve-iterations``):
#: ``name -> (group, dataclass field, type)``, generated from the option sets.
OPTIONS, _SHORT = _options()
#: The short keywords (and flags), each naming one option of one set: ``name -> (group, field, type)``. A
#: field name that two sets share (two steps with ``iterations``) is no keyword: its qualified names are.
KEYWORDS = {name: OPTIONS[names[0]] for name, names in _SHORT.items() if len(names) == 1 and name != "steps"}
#: The qualified names behind each short name that is no keyword because several sets have that field.
AMBIGUOUS = {name: tuple(names) for name, names in _SHORT.items() if name not in KEYWORDS}


def keyword_name(qualified):
    """
    The name an option goes by in reports and as a command-line destination: its short keyword where that is
    unambiguous (`KEYWORDS`), else its qualified name (`OPTIONS`).
    """
    group, field, _ = OPTIONS[qualified]
    short = _RENAMED.get((group, field.name), field.name)
    return short if short in KEYWORDS else qualified


def _expand(keywords):
    """``keywords`` with each option set given as a dict (``deconvolve={"iterations": 30}``) as qualified names."""
    expanded = {}
    for name, value in keywords.items():
        if name in _GROUPS and isinstance(value, dict):
            expanded.update({f"{name}_{field}": item for field, item in value.items()})
        else:
            expanded[name] = value
    return expanded


def _normalise_steps(steps):
    if isinstance(steps, str):
        steps = [s.strip() for s in steps.split(",") if s.strip()]
    try:
        steps = list(steps)
    except TypeError:
        raise TypeError(f"steps must be a comma-separated str or an iterable of str, not {steps!r}.") from None
    unknown = [s for s in steps if s not in STEP_ORDER]
    if unknown:
        raise ValueError(f"steps {unknown} are not known; choose from {', '.join(STEP_ORDER)}.")
    if not steps:  # an output named level 1.5 must be level 1.5
        raise ValueError(f"steps names no step (an empty string or list); choose from {', '.join(STEP_ORDER)}.")
    return tuple(s for s in STEP_ORDER if s in steps)


@dataclasses.dataclass(frozen=True, init=False)
class PrepConfig(Options):
    """
    The settings of a batch run: the steps and one validated, frozen option set per step.

    Built once (by `aiapy.pipeline.prep_files`, ``prep_jsoc`` or the ``aiapy prep`` command line), small and
    picklable, and handed to every task. Each step's options are a namespace: give the option sets (or dicts
    of their options), or single options by their qualified names (`OPTIONS`: ``<set>_<option>``), or by
    their short keywords where only one set has that option (`KEYWORDS`), or both (the keywords then
    change the given sets)::

        PrepConfig(steps=("register",), register=RegisterOptions(method="cubic-convolution"))
        PrepConfig(steps="register", register={"method": "cubic-convolution"})
        PrepConfig(steps="register", register_method="cubic-convolution")
        PrepConfig(steps="register", method="cubic-convolution")    # all four the same settings

    Parameters
    ----------
    steps : iterable of str or comma-separated str
        Steps from `STEP_ORDER`; they always run in that (SolarSoft) order. Default: `DEFAULT_STEPS`.
    respike : `RespikeOptions` or dict
    pointing : `PointingOptions` or dict
    desaturate : `~aiapy.psf.DesaturateOptions` or dict
        Options of the ``desaturate`` step (`aiapy.psf.desaturate`; its ``iterations`` is the keyword
        ``desaturate_iterations``: the short ``iterations`` stays deconvolve's).
    deconvolve : `DeconvolveOptions` or dict
    register : `RegisterOptions` or dict
        Its ``dtype`` is the output's (``output.dtype``) and its ``workers`` one per Dask worker; both are
        set by the run.
    uncertainty : `UncertaintyOptions` or dict
    output : `OutputOptions` or dict
    **keywords
        Single options by their qualified name (`OPTIONS`), e.g. ``deconvolve_iterations=30``, or short
        `KEYWORDS` name, e.g. ``iterations=30``, ``method="linear"``, ``pointing="jsoc"``,
        ``uncertainty=True``, ``dtype="float64"``.

    Raises
    ------
    TypeError, ValueError
        For an unknown keyword or step, a short name that several sets share (`AMBIGUOUS`), one option given
        under two names, or an invalid value (naming the option).
    """

    steps: tuple = option(DEFAULT_STEPS, help="steps to apply, always in the SolarSoft order", choices=STEP_ORDER)
    respike: RespikeOptions = option(RespikeOptions(), help="options of respike", cli=False)
    pointing: PointingOptions = option(PointingOptions(), help="options of update_pointing", cli=False)
    desaturate: DesaturateOptions = option(DesaturateOptions(), help="options of desaturate", cli=False)
    deconvolve: DeconvolveOptions = option(DeconvolveOptions(), help="options of deconvolve", cli=False)
    register: RegisterOptions = option(RegisterOptions(), help="options of register", cli=False)
    uncertainty: UncertaintyOptions = option(UncertaintyOptions(), help="the uncertainty HDU", cli=False)
    output: OutputOptions = option(OutputOptions(), help="how outputs are written", cli=False)

    def __init__(self, *, steps=DEFAULT_STEPS, **keywords):
        object.__setattr__(self, "steps", _normalise_steps(steps))
        changes, given, named = {}, {}, {}
        for name, value in _expand(keywords).items():
            if name in _GROUPS and (isinstance(value, _GROUPS[name][0]) or name not in KEYWORDS):
                given[name] = value  # an option set ("pointing" and "uncertainty" name a set and an option)
                continue
            if name in AMBIGUOUS:
                raise TypeError(f"{name!r} is an option of several steps; give {' or '.join(AMBIGUOUS[name])}.")
            if name not in KEYWORDS and name not in OPTIONS:
                raise TypeError(
                    f"{name!r} is not an option of the pipeline; options: {', '.join(KEYWORDS)} (or qualified by "
                    f"their set: {', '.join(OPTIONS)})."
                )
            group, field, _ = KEYWORDS[name] if name in KEYWORDS else OPTIONS[name]
            if (group, field.name) in named:  # e.g. iterations= and deconvolve_iterations=: which one?
                raise TypeError(f"{group}.{field.name} is given twice ({named[group, field.name]!r} and {name!r}).")
            named[group, field.name] = name
            changes.setdefault(group, {})[field.name] = value
        for group, (cls, _) in _GROUPS.items():
            options = given.get(group, cls())
            if not isinstance(options, cls):
                raise TypeError(f"{group} must be a {cls.__name__}, not {type(options).__name__}.")
            object.__setattr__(self, group, options.replace(**changes[group]) if group in changes else options)
        self._validate()

    def _validate(self):
        if self.register.dtype is not None:
            raise ValueError("register.dtype must be None: the output dtype (output.dtype) sets it.")
        if self.deconvolve.iterations < 1:  # deconvolve allows 0 (the clipped input): no use in a batch
            raise ValueError(f"iterations must be at least 1 in the pipeline; got {self.deconvolve.iterations}.")
        # A step the user names runs: the default steps keep update_pointing for when a pointing source is given
        if self.steps != DEFAULT_STEPS and "update_pointing" in self.steps and self.pointing.source == "header":
            raise ValueError(
                "steps names update_pointing, but pointing is 'header' (the default), which keeps the header's "
                "pointing and skips that step: give pointing='jsoc', 'lmsal', 'bundled' or a table file, or leave "
                "update_pointing out of steps."
            )

    @property
    def active_steps(self):
        """The steps that run: update_pointing is dropped when the header pointing is kept."""
        return tuple(s for s in self.steps if not (s == "update_pointing" and self.pointing.source == "header"))

    def register_options(self, *, workers=None):
        """The options register is called with: the output dtype, and ``workers`` threads if given."""
        options = self.register.replace(dtype=self.output.dtype)
        return options if workers is None else options.replace(workers=workers)

    def settings(self):
        """
        The settings that decide an output's bytes, as a JSON-ready dict: the aiapy version, the steps that
        run, the options of those steps only, the output type and compression, and the uncertainty HDU.
        Options of steps that do not run are left out, so changing them keeps existing outputs valid.
        """
        active = self.active_steps
        settings = {"aiapy": __version__, "steps": list(active)}
        for group, (_, step) in _GROUPS.items():
            if step is not None and step not in active:
                continue
            values = {
                f.name: getattr(getattr(self, group), f.name)
                for f in getattr(self, group).fields()
                if (group, f.name) not in _NOT_IN_ID | _SET_BY_RUN
            }
            settings[group] = values
        if "update_pointing" in active and settings["pointing"]["source"] not in POINTING_SOURCES:
            settings["pointing"]["source"] = "file"  # the table's content is checked instead (AIAPYPNT)
        return settings

    def keywords(self):
        """Every option by its `keyword_name` (as `prep_files` takes them), and ``steps`` (those that run)."""
        values = {
            keyword_name(name): getattr(getattr(self, group), field.name) for name, (group, field, _) in OPTIONS.items()
        }
        return {"steps": list(self.active_steps)} | values

    @property
    def config_id(self):
        """A short hash of `settings`, stored in every output header (``AIAPYCFG``)."""
        text = json.dumps(self.settings(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def make_config(config=None, **keywords):
    """
    The `PrepConfig` of a run: ``config`` (default: the defaults) changed by single options (``steps=``,
    ``method=``, ``deconvolve_iterations=``, ...; see `KEYWORDS` and `OPTIONS`) or dicts per set, validated.
    """
    if config is None:
        return PrepConfig(**keywords)
    if not isinstance(config, PrepConfig):
        raise TypeError(f"config must be a PrepConfig, not {type(config).__name__}.")
    if not keywords:
        return config
    groups = {f.name: getattr(config, f.name) for f in config.fields()}
    return PrepConfig(**(groups | _expand(keywords)))
