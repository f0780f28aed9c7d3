"""
Sphinx-gallery hooks for the example scripts that write PNG files instead of leaving figures open.

``psf_deconvolution.py`` and ``responses.py`` are also plain command-line scripts (``--out DIR``, used by
``make demo`` and the tests): they save their figures and close them, so sphinx-gallery's matplotlib
scraper sees none. `reset_argv` gives each of them an empty scratch folder as ``--out``, and
`png_scraper` moves the PNG files that appear there into the gallery, as the figures of that code block.
Sphinx-gallery runs an example with ``__doc__ = ""`` (it shows the docstring as text); these scripts
build their ``--help`` from their docstring, so `reset_argv` gives it back, as Python would.
"""

import ast
import shutil
import tempfile
from pathlib import Path

from sphinx_gallery.scrapers import figure_rst

#: Scripts run with ``--out <scratch folder>`` (file names in docs/examples/).
FILE_WRITING_SCRIPTS = ("psf_deconvolution.py", "responses.py")
_SCRATCH = Path(tempfile.gettempdir()) / "aiapy-gallery"


def _scratch(src_file):
    return _SCRATCH / Path(src_file).stem


def reset_argv(gallery_conf, script_vars):
    """Command-line arguments of an example: ``--out`` an emptied scratch folder for file-writing scripts."""
    source = Path(script_vars["src_file"]).read_text(encoding="utf-8")
    script_vars["example_globals"]["__doc__"] = ast.get_docstring(ast.parse(source), clean=False)
    if Path(script_vars["src_file"]).name not in FILE_WRITING_SCRIPTS:
        return []
    out = _scratch(script_vars["src_file"])
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    return ["--out", str(out)]


def png_scraper(block, block_vars, gallery_conf):
    """Move the PNG files a block wrote into its scratch folder into the gallery (sorted by name)."""
    out = _scratch(block_vars["src_file"])
    if Path(block_vars["src_file"]).name not in FILE_WRITING_SCRIPTS or not out.is_dir():
        return ""
    images = []
    for png, target in zip(sorted(out.glob("*.png")), block_vars["image_path_iterator"]):
        shutil.move(png, target)
        images.append(target)
    return figure_rst(images, gallery_conf["src_dir"])
