"""Batch processing of many AIA level-1 files to level 1.5: serially, on a local Dask cluster or on a
running ``dask.distributed`` scheduler. One runner (`run`) takes items from a source (`FileList`: files on
disk; `JsocRecords`: the archive), preps each (`prep_map`) and hands the `Product` to a sink (`FitsFolder`:
FITS files; `ZarrCube`: one Zarr data cube); `prep_files`, `prep_jsoc` and `build_cube` are its front ends
(`open_cube` reads a cube). The command line ``aiapy prep`` / ``aiapy cube`` is a thin layer over them,
generated from the option sets composed in `PrepConfig`."""

from aiapy.pipeline import _config
from aiapy.pipeline._config import (
    DEFAULT_STEPS,
    DTYPES,
    KEYWORDS,
    POINTING_SOURCES,
    REGISTER_METHODS,
    STEP_ORDER,
    DeconvolveOptions,
    OutputOptions,
    PointingOptions,
    PrepConfig,
    RegisterOptions,
    RespikeOptions,
    UncertaintyOptions,
    make_config,
    OPTIONS,
    AMBIGUOUS,
    keyword_name,
)
from aiapy.pipeline._fitsfile import is_aiapy_output, read_output
from aiapy.pipeline._archive import ArchiveOptions
from aiapy.pipeline._cube import LAYOUTS, ZarrCube
from aiapy.pipeline._cubebuild import build_cube, build_cube_jsoc
from aiapy.pipeline._cuberead import Cube, open_cube
from aiapy.pipeline._jsoc import JsocRecords, prep_jsoc
from aiapy.pipeline._inputs import expand_inputs, output_path
from aiapy.pipeline._output import COMPRESSIONS, FitsFolder, check_output, plan_outputs
from aiapy.pipeline._pointing import write_header_pointing_table
from aiapy.pipeline._product import Item, Product, Sink, Source, Staged, StageError
from aiapy.pipeline._report import FileResult, PrepReport
from aiapy.pipeline._run import FileList, prep_files
from aiapy.pipeline._runner import INTERRUPTED_NOTE, Executor, run
from aiapy.pipeline._shared import SharedData
from aiapy.pipeline._steps import prep_map

__all__ = [
    "prep_files",
    "prep_jsoc",
    "build_cube",
    "build_cube_jsoc",
    "open_cube",
    "Cube",
    "ZarrCube",
    "LAYOUTS",
    "ArchiveOptions",
    "PrepReport",
    "FileResult",
    *_config.__all__,  # the option sets and their registries
    "SharedData",
    "run",
    "Executor",
    "INTERRUPTED_NOTE",
    "Source",
    "Sink",
    "Item",
    "Staged",
    "StageError",
    "Product",
    "FileList",
    "JsocRecords",
    "FitsFolder",
    "prep_map",
    "plan_outputs",
    "COMPRESSIONS",
    "expand_inputs",
    "output_path",
    "check_output",
    "is_aiapy_output",
    "read_output",
    "write_header_pointing_table",
]
