"""Batch processing of many AIA level-1 files to level 1.5 (FITS files, or one Zarr data cube): serially, on a local Dask cluster or on a
running ``dask.distributed`` scheduler. The command line ``aiapy prep`` is a thin layer over `prep_files`,
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
)
from aiapy.pipeline._fitsfile import is_aiapy_output, read_output
from aiapy.pipeline._archive import ArchiveOptions
from aiapy.pipeline._cube import LAYOUTS, ZarrCube
from aiapy.pipeline._cubebuild import build_cube
from aiapy.pipeline._cuberead import Cube, open_cube
from aiapy.pipeline._jsoc import prep_jsoc
from aiapy.pipeline._inputs import expand_inputs, output_path
from aiapy.pipeline._output import COMPRESSIONS, check_output
from aiapy.pipeline._pointing import write_header_pointing_table
from aiapy.pipeline._report import FileResult, PrepReport
from aiapy.pipeline._run import make_config, plan_outputs, prep_files
from aiapy.pipeline._shared import SharedData

__all__ = [
    "prep_files",
    "prep_jsoc",
    "build_cube",
    "open_cube",
    "Cube",
    "ZarrCube",
    "LAYOUTS",
    "ArchiveOptions",
    "PrepReport",
    "FileResult",
    *_config.__all__,  # the option sets and their registries
    "SharedData",
    "make_config",
    "plan_outputs",
    "COMPRESSIONS",
    "expand_inputs",
    "output_path",
    "check_output",
    "is_aiapy_output",
    "read_output",
    "write_header_pointing_table",
]
