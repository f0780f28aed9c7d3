"""The ``aiapy`` command: ``aiapy prep`` (batch level 1 -> 1.5), ``aiapy cube`` (into a Zarr cube), ``aiapy info``
and ``aiapy psf``.

Exit status: 0 success; 1 when some file failed (``prep``) or could not be read (``info``); 2 for a usage
error (bad option, an output that would replace an input or a file that is not an aiapy output, work larger
than the available memory); 130 when interrupted by Ctrl-C.
"""

import argparse
import json
import logging
import sys
import typing
import warnings
from pathlib import Path

from aiapy._version import __version__

__all__ = ["main", "build_parser", "prep_options"]

log = logging.getLogger("aiapy")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

_BITPIX = {8: "uint8", 16: "int16", 32: "int32", -32: "float32", -64: "float64"}
_INFO_KEYS = (
    "TELESCOP", "INSTRUME", "WAVELNTH", "WAVE_STR", "IMG_TYPE", "T_OBS", "DATE-OBS", "LVL_NUM", "EXPTIME", "BUNIT",
    "CDELT1", "CDELT2", "CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2", "CROTA2", "X0_MP", "Y0_MP", "R_SUN",
    "RSUN_OBS", "DSUN_OBS", "DATAMIN", "DATAMAX", "NSPIKES", "PERCENTD", "FSN",
)  # fmt: skip


def _flag_type(hint):
    """The argparse type of an option from its annotation (``int | None`` -> int)."""
    types = [t for t in typing.get_args(hint) if t is not type(None)] or [hint]
    return types[0]


def _add_option(group, name, field, hint, *, aliases=()):
    """One ``--flag`` (and ``aliases``, other names of it) generated from an option field, stored as ``name``:
    its help, choices and default come from the field."""
    flags = ["--" + flag.replace("_", "-") for flag in (*aliases, name)]
    kind = _flag_type(hint)
    text = field.metadata["help"] + (f" (default: {field.default})" if field.default is not None else "")
    # SUPPRESS: a flag not given is not passed on, so the option set's own default applies
    if kind is bool:
        group.add_argument(*flags, dest=name, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                           help=text)  # fmt: skip
        return
    choices = field.metadata["choices"]
    if choices is not None:
        choices = [c for c in choices if c is not None]
    group.add_argument(*flags, dest=name, type=kind, choices=choices, default=argparse.SUPPRESS, help=text)


def _add_prep(subparsers, common):
    from aiapy.pipeline import STEP_ORDER

    parser = subparsers.add_parser(
        "prep",
        parents=[common],
        help="promote level-1 FITS files to level 1.5 (aia_prep), serially or on Dask",
        description=(
            "Promote level-1 AIA FITS files to level 1.5. Steps run in the SolarSoft order "
            f"({', '.join(STEP_ORDER)}). Complete, valid outputs of the same inputs and settings are skipped on "
            "a rerun, so an interrupted run resumes where it stopped; a bad input is reported and does not stop "
            "the batch. An output never replaces an input or a file that is not an aiapy output."
        ),
    )
    parser.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="FITS files, directories or glob patterns (none with --jsoc)"
    )
    parser.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder (created if needed)")
    groups = _add_step_options(parser)
    groups["desaturate"].add_argument(
        "--desaturate", action="store_true", default=argparse.SUPPRESS,
        help="add the desaturate step (saturated flare cores rebuilt from their diffraction fringes, before "
        "registration) to the steps",
    )  # fmt: skip
    groups["deconvolve"].add_argument(
        "--accelerate", dest="acceleration", action="store_const", const="biggs-andrews", default=argparse.SUPPRESS,
        help="the same as --acceleration biggs-andrews",
    )  # fmt: skip
    _add_run(parser, _prep)


def _add_step_options(parser):
    """
    The ``--steps`` flag and one flag per step option, in a group per step: ``--<set>-<option>`` (`OPTIONS`),
    and its short flag (``--iterations``) where only one set has that option (`KEYWORDS`); the groups.
    """
    from aiapy.pipeline import OPTIONS, PrepConfig, keyword_name

    steps = next(field for field in PrepConfig.fields() if field.name == "steps")
    parser.add_argument(
        "--steps",
        default=argparse.SUPPRESS,
        help=f"{steps.metadata['help']}: comma-separated, from {{{','.join(steps.metadata['choices'])}}} "
        f"(default: {','.join(steps.default)})",
    )
    groups = {}
    for qualified, (group, field, hint) in OPTIONS.items():
        if not field.metadata["cli"]:
            continue
        if group not in groups:
            groups[group] = parser.add_argument_group(f"{group} options")
        short = keyword_name(qualified)
        _add_option(groups[group], short, field, hint, aliases=(qualified,) if short != qualified else ())
    return groups


def _add_run(parser, func):
    """What every batch command shares: the archive and executor flags, the report, progress; its function."""
    _add_archive(parser)
    _add_where(parser)
    parser.add_argument("--report", metavar="FILE", help="also write the run report as JSON")
    parser.add_argument("--no-progress", action="store_true", help="log a line per file instead of a progress bar")
    parser.set_defaults(func=func)


def _add_where(parser):
    where = parser.add_argument_group("where to run").add_mutually_exclusive_group()
    where.add_argument("-w", "--workers", type=int, metavar="N", help="run on a local Dask cluster of N processes")
    where.add_argument(
        "--scheduler", metavar="ADDRESS", help="run on a dask.distributed scheduler, e.g. tcp://host:8786"
    )
    parser.add_argument("--memory-limit", default="auto", help="memory limit per local worker (default: %(default)s)")


def _add_cube(subparsers, common):
    from aiapy.pipeline import LAYOUTS

    parser = subparsers.add_parser(
        "cube",
        parents=[common],
        help="prep AIA files into one Zarr data cube (time, y, x per channel) on disk or S3",
        description=(
            "Prep AIA files to level 1.5 with the steps and options of 'aiapy prep', into one Zarr store: an "
            "aligned (time, y, x) cube per channel on the inputs' common level-1.5 grid. An existing cube is "
            "appended to in time order (stored frames of the same inputs and settings are skipped), and a killed "
            "run is completed by the next. Read it with aiapy.pipeline.open_cube or xarray.open_zarr."
        ),
    )
    parser.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="FITS files, directories or glob patterns (none with --jsoc)"
    )
    parser.add_argument("-o", "--out", required=True, metavar="STORE", help="local folder or fsspec URL (s3://...)")
    layout = parser.add_argument_group("layout")
    layout.add_argument("--layout", choices=LAYOUTS, default="aiapy", help="store layout (default: %(default)s)")
    layout.add_argument("--resolution", type=int, metavar="N", help="downsample full frames to N x N (SDOML: 512)")
    layout.add_argument("--downsample", choices=("mean", "sum"), default="mean", help="how (default: %(default)s)")
    layout.add_argument("--fixed-radius", type=float, metavar="ARCSEC", help="rescale to this solar radius (976)")
    _add_step_options(parser)
    _add_run(parser, _cube)


def _cube(args):
    from aiapy.pipeline import build_cube, build_cube_jsoc

    run = {
        "layout": args.layout, "resolution": args.resolution, "downsample": args.downsample,
        "fixed_radius": args.fixed_radius, "workers": args.workers, "scheduler": args.scheduler,
        "memory_limit": args.memory_limit, "progress": False if (args.no_progress or args.quiet) else None,
        **prep_options(args),
    }  # fmt: skip
    archive = _archive_options(args)
    selection = {name: archive.pop(name) for name in ("cadence", "quality") if name in archive}  # files too
    if args.jsoc is None and (args.channels is not None or archive):
        raise ValueError(f"--channels and {', '.join(sorted(archive)) or 'the archive options'} need --jsoc START/END.")
    if args.jsoc is not None:
        if args.inputs or args.channels is None:
            raise ValueError("--jsoc takes no INPUT files and needs --channels, e.g. --channels 171,193.")
        report = build_cube_jsoc(args.jsoc, args.channels, args.out, **run, **archive, **selection)
    elif not args.inputs:
        raise ValueError("give INPUT files, directories or patterns, or --jsoc START/END --channels LIST.")
    else:
        report = build_cube(args.inputs, args.out, **run, **selection)
    if args.report:
        report.write_json(args.report)
    for result in report.failed:
        print(f"FAILED {result.input}: {result.error}", file=sys.stderr)
    if not args.quiet:
        print(report.summary())
    return EXIT_OK if report.ok else EXIT_FAILED


def _add_archive(parser):
    from aiapy.pipeline import ArchiveOptions

    group = parser.add_argument_group(
        "from the JSOC (--jsoc)",
        "download the level-1 records of a time range and prep them as they arrive (aiapy.pipeline.prep_jsoc)",
    )
    group.add_argument("--jsoc", metavar="START/END", help="time range, e.g. 2011-02-15T00:00/2011-02-15T06:00")
    group.add_argument("--channels", metavar="LIST", help="comma-separated channels in Angstrom, e.g. 171,193")
    hints = typing.get_type_hints(ArchiveOptions)
    for field in ArchiveOptions.fields():
        _add_option(group, field.name, field, hints[field.name])


def _archive_options(args):
    from aiapy.pipeline import ArchiveOptions

    return {f.name: getattr(args, f.name) for f in ArchiveOptions.fields() if hasattr(args, f.name)}


def prep_options(args):
    """The `aiapy.pipeline.prep_files` option keywords given on the command line (``steps`` and each option by
    its `~aiapy.pipeline.keyword_name`)."""
    from aiapy.pipeline import DEFAULT_STEPS, OPTIONS, keyword_name

    options = {name: getattr(args, name) for name in ("steps", *map(keyword_name, OPTIONS)) if hasattr(args, name)}
    if getattr(args, "desaturate", False):
        options["steps"] = options.get("steps", ",".join(DEFAULT_STEPS)) + ",desaturate"
    return options


def _named_steps(args):
    """The steps named by ``--steps`` (None when not given); an empty list is refused."""
    from aiapy.pipeline import STEP_ORDER

    if not hasattr(args, "steps"):
        return None
    steps = [step.strip() for step in args.steps.split(",") if step.strip()]
    if not steps:
        raise ValueError(
            f"--steps {args.steps!r} names no step (an empty shell variable?); an output named level 1.5 must be "
            f"level 1.5. Name at least one of {','.join(STEP_ORDER)}, or leave --steps out for the default."
        )
    if "update_pointing" in steps and getattr(args, "pointing", "header") == "header":
        raise ValueError(
            "--steps names update_pointing, but --pointing is 'header' (the default), which keeps the header's "
            "pointing and skips that step. Give --pointing jsoc, lmsal, bundled or a table file, or leave "
            "update_pointing out of --steps."
        )
    return steps


def _preflight(args):
    """
    Check the arguments of ``aiapy prep`` against each other and the file system, before any work (issue 22):
    the steps, the output and report folders, the report path, the number of workers and their memory.
    """
    from aiapy.pipeline import DEFAULT_STEPS
    from aiapy.pipeline._fitsfile import image_header
    from aiapy.pipeline._inputs import expand_inputs
    from aiapy.pipeline._preflight import (
        MAX_WORKERS,
        cap_workers,
        check_memory_limit,
        check_report_path,
        check_writable_folder,
    )

    steps = _named_steps(args) or list(DEFAULT_STEPS)
    if getattr(args, "pointing", "header") == "header":
        steps = [step for step in steps if step != "update_pointing"]  # the default: the header's pointing
    inputs = expand_inputs(args.inputs) if args.inputs and args.jsoc is None else []
    check_writable_folder(args.out, what="output folder (-o)", create=True)
    if args.report:
        check_report_path(args.report, inputs)
    if args.workers is not None:
        args.workers = cap_workers(args.workers, len(inputs) if args.jsoc is None else MAX_WORKERS)
        shapes = []
        for path in inputs:
            try:
                header = image_header(path)  # of a tile-compressed image: the table's, with ZNAXISn
                shapes.append(tuple(int(header.get(f"ZNAXIS{n}", header[f"NAXIS{n}"])) for n in (2, 1)))
            except (OSError, ValueError, KeyError):
                continue  # an unreadable file is reported by the run
        frames = shapes or ([(4096, 4096)] if args.jsoc else [])
        check_memory_limit(args.memory_limit, steps, frames, workers=args.workers)


def _prep(args):
    from aiapy.pipeline import prep_files, prep_jsoc

    archive = _archive_options(args)
    if args.jsoc is None and (args.channels is not None or archive):
        raise ValueError(f"--channels and {', '.join(sorted(archive)) or 'the archive options'} need --jsoc START/END.")
    if args.jsoc is not None and (args.inputs or args.channels is None):
        raise ValueError("--jsoc takes no INPUT files and needs --channels, e.g. --channels 171,193.")
    if args.jsoc is None and not args.inputs:
        raise ValueError("give INPUT files, directories or patterns, or --jsoc START/END --channels LIST.")
    _preflight(args)
    run = {
        "workers": args.workers, "scheduler": args.scheduler, "memory_limit": args.memory_limit,
        "progress": False if (args.no_progress or args.quiet) else None, **prep_options(args),
    }  # fmt: skip
    if args.jsoc is not None:
        report = prep_jsoc(args.jsoc, args.channels, args.out, **run, **archive)
    else:
        report = prep_files(args.inputs, args.out, **run)
    if args.report:
        report.write_json(args.report)
    for result in report.failed:
        print(f"FAILED {result.input}: {result.error}", file=sys.stderr)
    if not args.quiet:
        print(report.summary())
    if report.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if report.ok else EXIT_FAILED


def _add_info(subparsers, common):
    parser = subparsers.add_parser(
        "info", parents=[common], help="key header facts of AIA FITS files, quality flags decoded"
    )
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(func=_info)


def _file_info(path):
    from astropy.io import fits

    from aiapy.pipeline._fitsfile import open_images
    from aiapy.utils.io import SHORT_FILE_WARNING, aia_image_hdu, check_complete
    from aiapy.utils.quality import check_quality_flag

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=SHORT_FILE_WARNING)  # check_complete says it, with the bytes
        with open_images(path) as (hdulist, images):
            check_complete(hdulist, path)
            hdu = aia_image_hdu(images, path)
            header = hdu.header
            facts = {"file": str(path), "hdu": hdulist.index_of(hdu), "compressed": isinstance(hdu, fits.CompImageHDU)}
            facts["shape"] = [header["NAXIS2"], header["NAXIS1"]]
            facts["dtype"] = _BITPIX.get(header["BITPIX"])
            facts |= {key: header[key] for key in _INFO_KEYS if key in header}
            quality = header.get("QUALITY")
            facts["QUALITY"] = quality
            facts["quality_flags"] = None if quality is None else check_quality_flag(int(quality))
            facts["extensions"] = [h.name for h in hdulist if h is not hdu and h.header.get("NAXIS")]
    return facts


def _info(args):
    status = EXIT_OK
    for path in args.files:
        try:
            facts = _file_info(path)
        except (OSError, ValueError, KeyError) as error:
            print(f"{path}: cannot read ({type(error).__name__}: {error})", file=sys.stderr)
            status = EXIT_FAILED
            continue
        if args.json:
            print(json.dumps(facts, default=str))
            continue
        print(facts.pop("file"))
        flags = facts.pop("quality_flags")
        for key, value in facts.items():
            print(f"  {key:<12} {value}")
            if key == "QUALITY":
                for flag in flags or []:
                    print(f"  {'':<12} - {flag}")
    return status


def _add_psf(subparsers, common):
    parser = subparsers.add_parser("psf", parents=[common], help="compute the PSF of a channel and write it as FITS")
    parser.add_argument("channel", type=float, metavar="CHANNEL", help="channel in Angstrom, e.g. 171")
    parser.add_argument("-o", "--out", required=True, metavar="FILE", help="output FITS file")
    parser.add_argument("--size", type=int, default=4096, help="PSF array size in pixels (default: %(default)s)")
    parser.add_argument("--preflight-core", action="store_true", help="use the pre-flight core (use_preflightcore)")
    parser.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    parser.set_defaults(func=_psf)


#: Peak bytes per PSF pixel: the padded float64 pattern, its FFTs, the PSF and its float32 copy for the
#: file (tracemalloc peak of this command's work: 45 bytes/pixel at 3000 x 3000, 56 at 1000 x 1000).
_PSF_BYTES_PER_PIXEL = 40


def _available_memory():
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), or None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _size(nbytes):
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.1f} MiB"


def _check_memory(nbytes, what, hint):
    """Refuse (`MemoryError` with the size needed) work that cannot fit in the available memory."""
    available = _available_memory()
    if available is not None and nbytes > available:
        raise MemoryError(f"{what} needs about {_size(nbytes)} of memory; {_size(available)} is available. {hint}")


def _psf(args):
    import astropy.units as u
    import numpy as np
    from astropy.io import fits

    from aiapy.psf import calculate_psf

    if args.size < 1:
        raise ValueError(f"--size must be a positive number of pixels; got {args.size}.")
    out = Path(args.out)
    if out.exists() and not args.overwrite:
        print(f"{out} exists; pass --overwrite to replace it.", file=sys.stderr)
        return EXIT_FAILED
    what = f"a {args.size} x {args.size} PSF"
    hint = "Choose a smaller --size (4096, the detector, is the default)."
    _check_memory(_PSF_BYTES_PER_PIXEL * args.size**2, what, hint)
    try:
        kernel = calculate_psf(args.channel * u.AA, use_preflightcore=args.preflight_core, shape=(args.size, args.size))
    except MemoryError as error:  # the computation's own temporaries did not fit
        raise MemoryError(f"{what} does not fit in the available memory ({error}). {hint}") from error
    header = fits.Header()
    header["WAVELNTH"] = (args.channel, "[Angstrom] AIA channel")
    header["PSFCORE"] = ("preflight" if args.preflight_core else "flight", "core width of the PSF model")
    header["PSFSUM"] = (float(np.sum(kernel)), "sum of the PSF")
    header.add_history(f"aiapy {__version__}: aiapy.psf.calculate_psf (Grigis et al. 2012 model)")
    fits.PrimaryHDU(np.asarray(kernel, dtype=np.float32), header).writeto(out, overwrite=True, checksum=True)
    print(f"wrote {out} ({args.size} x {args.size}, sum {header['PSFSUM']:.6f})")
    return EXIT_OK


def build_parser():
    """The argument parser of the ``aiapy`` command."""
    parser = argparse.ArgumentParser(prog="aiapy", description="Calibrate AIA level-1 data (aia_prep, PSF, info).")
    parser.add_argument("--version", action="version", version=f"aiapy {__version__}")
    # -q/-v are accepted before or after the command (SUPPRESS keeps a later default from resetting them)
    common = argparse.ArgumentParser(add_help=False)
    for target in (parser, common):
        target.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="only print errors")
        target.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug messages")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_prep, _add_cube, _add_info, _add_psf):
        add(subparsers, common)
    return parser


def _configure_logging(args):
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO)
    log.propagate = False
    return handler


def main(argv=None):
    """Run the ``aiapy`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.quiet, args.verbose = getattr(args, "quiet", False), getattr(args, "verbose", False)
    handler = _configure_logging(args)
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError,
            NotADirectoryError) as error:  # fmt: skip
        print(f"aiapy {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError as error:  # work larger than the memory: the size it needs, not a traceback
        print(f"aiapy {args.command}: error: not enough memory: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, RuntimeError) as error:  # e.g. an unreachable scheduler, workers without aiapy
        print(f"aiapy {args.command}: error: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("aiapy: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        log.removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
