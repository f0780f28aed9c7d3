"""
Sphinx configuration of the aiapy documentation (``make docs``).

Offline by default: cross-references to astropy, sunpy, numpy, scipy, dask and matplotlib go through
intersphinx only when ``AIAPY_DOCS_INTERSPHINX=1`` (the inventories are then fetched from the projects'
sites; a failed fetch is a warning, which ``-W`` turns into an error). Without it, references into those
packages are listed in ``nitpick_ignore_regex`` below (they render as code, without a link).

The gallery (``docs/examples``) is executed at build time on the bundled data; ``-D plot_gallery=0``
builds it without running the scripts (what ``tests/test_docs.py`` does).
"""

import os
import sys
from pathlib import Path

import aiapy

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

# -- Project ------------------------------------------------------------------------------------------
project = "aiapy"
author = "The aiapy developers"
copyright = "The aiapy developers; BSD-3-Clause"  # noqa: A001 (Sphinx's name)
release = aiapy.__version__
version = ".".join(release.split(".")[:2])

# -- General ------------------------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_automodapi.automodapi",
    "sphinx_automodapi.smart_resolver",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "aiapy_sphinx",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]  # automodapi pages with their gallery examples (minigallery)
exclude_patterns = ["_build", "_ext", "_templates", "examples/*.rst", "**/GALLERY_HEADER.rst", "**.ipynb_checkpoints"]
default_role = "obj"
nitpicky = True
# A numpydoc "References" section lists the sources of a module or function; not every entry is cited
# by number in the text, which docutils would report as an unreferenced citation.
suppress_warnings = ["ref.citation"]

# -- numpydoc / automodapi ----------------------------------------------------------------------------
numpydoc_show_class_members = False  # automodapi lists members itself
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
automodapi_toctreedirnm = "api/generated"
automodapi_writereprocessed = False
automodapi_inheritance_diagram = False  # needs graphviz
automodsumm_inherited_members = False
autodoc_typehints = "none"  # types are in the numpydoc Parameters sections

# -- intersphinx (opt-in, see the module docstring) ---------------------------------------------------
INTERSPHINX = os.environ.get("AIAPY_DOCS_INTERSPHINX", "0") == "1"
intersphinx_mapping = (
    {
        "python": ("https://docs.python.org/3/", None),
        "numpy": ("https://numpy.org/doc/stable/", None),
        "scipy": ("https://docs.scipy.org/doc/scipy/", None),
        "astropy": ("https://docs.astropy.org/en/stable/", None),
        "sunpy": ("https://docs.sunpy.org/en/stable/", None),
        "dask": ("https://docs.dask.org/en/stable/", None),
        "distributed": ("https://distributed.dask.org/en/stable/", None),
        "matplotlib": ("https://matplotlib.org/stable/", None),
    }
    if INTERSPHINX
    else {}
)

# Targets that cannot resolve, each with its reason.
nitpick_ignore = [
    # A module constant of aiapy.utils.maps outside its __all__ (so not in the API reference), named in
    # the docstring of refresh_statistics.
    ("py:obj", "VALUE_STATISTICS"),
]
nitpick_ignore_regex = []
if not INTERSPHINX:
    # Without inventories, references into these packages cannot resolve; they are checked when
    # AIAPY_DOCS_INTERSPHINX=1.
    _THIRD_PARTY = r"(python|builtins|os|pathlib|typing|collections|dataclasses|logging|argparse|concurrent|numpy|np|scipy|astropy|u|sunpy|dask|distributed|matplotlib|drms|parfive|cupy)"
    nitpick_ignore_regex += [
        (r"py:.*", _THIRD_PARTY + r"(\..*)?"),
        # Builtins and standard library names without a module prefix.
        (r"py:.*", r"(int|float|str|bytes|bool|dict|list|tuple|set|callable|object|None|type|Path|"
         r"Exception|ValueError|TypeError|KeyError|OSError|RuntimeError|FileNotFoundError|UserWarning|"
         r"DeprecationWarning|NamedTuple|Enum|Any|Callable|Iterable|Sequence|Mapping)"),
    ]

# -- HTML -----------------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"aiapy {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False

# -- sphinx-gallery -------------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "generated/gallery",
    # Execute every example ...
    "filename_pattern": r"\.py$",
    # ... except demo.py, the `make demo` driver: it runs the other scripts as subprocesses and writes a
    # folder of FITS files and text, so it has no figures of its own to show; its steps are examples here.
    "ignore_pattern": r"(demo\.py|__init__\.py)$",
    "reset_argv": "aiapy_gallery.reset_argv",
    "image_scrapers": ("matplotlib", "aiapy_gallery.png_scraper"),
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    # Which examples use which object, for the "Examples using ..." list of every API page.
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("aiapy",),
    "matplotlib_animations": False,
}
