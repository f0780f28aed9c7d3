"""Batch processing of many AIA level-1 files to level 1.5: serially, on a local Dask cluster or on a
running ``dask.distributed`` scheduler. The command line ``aiapy prep`` is a thin layer over `prep_files`."""

from aiapy.pipeline._config import DEFAULT_STEPS, POINTING_SOURCES, REGISTER_METHODS, STEP_ORDER, PrepConfig
from aiapy.pipeline._fitsfile import read_output
from aiapy.pipeline._jsoc import prep_jsoc
from aiapy.pipeline._inputs import expand_inputs, output_path
from aiapy.pipeline._output import COMPRESSIONS, check_output
from aiapy.pipeline._pointing import write_header_pointing_table
from aiapy.pipeline._report import FileResult, PrepReport
from aiapy.pipeline._run import prep_files

__all__ = [
    "prep_files",
    "prep_jsoc",
    "PrepReport",
    "FileResult",
    "PrepConfig",
    "STEP_ORDER",
    "DEFAULT_STEPS",
    "POINTING_SOURCES",
    "REGISTER_METHODS",
    "COMPRESSIONS",
    "expand_inputs",
    "output_path",
    "check_output",
    "read_output",
    "write_header_pointing_table",
]
