"""
Sphinx configuration of the aiapy documentation (``make docs``).

Offline by default: cross-references to astropy, sunpy, numpy, scipy, dask and matplotlib go through
intersphinx only when ``AIAPY_DOCS_INTERSPHINX`` is set: ``1`` fetches the inventories from the projects'
sites (a failed fetch is a warning, which ``-W`` turns into an error), a folder reads saved inventories
from it. Without it, references into those packages are listed in ``nitpick_ignore_regex`` below (they
render as code, without a link), so an offline build has no warning to turn into an error.

The gallery (``docs/examples``) is executed at build time on the bundled data; ``-D plot_gallery=0``
builds it without running the scripts (what ``tests/test_docs.py`` does).
"""

import builtins
import os
import re
import shutil
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
    "sphinx.ext.viewcode",  # the [source] links of the API pages
    "sphinx-mathjax-offline",  # MathJax served from _static (a copy from the PyPI package): no CDN
    "sphinx_copybutton",
    "sphinx_design",  # the cards of the landing page
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
# Quotes and ellipses only: "--" stays two hyphens (command-line options in text, e.g. "--jsoc").
smartquotes_action = "qe"
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

# -- API pages ----------------------------------------------------------------------------------------
# One page per public module (no "_" in its dotted name), written here before Sphinx reads the sources:
# the main modules in docs/api/main/, in the order of the toctree of docs/api/index.rst, then every other
# public module in docs/api/modules/, so a module added to the package is in the reference without editing
# docs/. An object re-exported by several modules is documented on the first page that lists it (the
# others ``:skip:`` it), so it has one page. Not given pages: the older names aiapy.util and
# aiapy.calibrate.util (they re-export aiapy.utils and aiapy.calibrate.utils), and modules hidden by a
# function of the same name (aiapy.calibrate.degradation is the function `aiapy.calibrate.degradation`).
API_ALIASES = {"aiapy.util", "aiapy.calibrate.util"}
#: Text under the title of a page, before the module docstring.
API_INTROS = {
    "aiapy.calibrate": "The calibration tables these functions read are in :doc:`aiapy.calibrate.utils`.",
    "aiapy.calibrate.utils": "``aiapy.calibrate.util`` is its older name; it re-exports the same objects.",
    "aiapy.pipeline": "The ``aiapy prep`` command runs this pipeline (see :doc:`aiapy.cli`).",
    "aiapy.cli": "Every command and option of ``aiapy`` is listed in :doc:`../../guides/cli`.",
    "aiapy.utils": "``aiapy.util`` is its older name; it re-exports the same objects.",
}
_SCALARS = (int, float, str, bytes, bool, type(None))


def _public_names(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [name for name, value in vars(module).items() if not name.startswith("_")
                 and getattr(value, "__module__", module.__name__) == module.__name__]
    return [name for name in names if not name.startswith("_")]


def _skips(module, parent, documented):
    """Public names of ``module`` that an earlier page documents; the others are added to ``documented``."""
    skip, here = [], set()
    for attr in _public_names(module):
        value = getattr(module, attr)
        if isinstance(value, type(module)):
            continue  # a submodule: automodapi lists none, it has its own page
        if isinstance(value, _SCALARS):
            if parent is not None and attr in _public_names(parent) and getattr(parent, attr) == value:
                skip.append(attr)
        elif id(value) in documented:
            skip.append(attr)
        else:
            here.add(id(value))  # two names of one object on one page (aliases) are both listed
    documented |= here
    return skip


def _api_pages():
    """The text of every API page, by path relative to docs/api."""
    import importlib
    import pkgutil

    def parent_of(name):
        return importlib.import_module(name.rpartition(".")[0]) if "." in name else None

    index = (DOCS / "api" / "index.rst").read_text(encoding="utf-8")
    main = re.findall(r"^   main/(\S+)$", index, flags=re.M)
    others = sorted(
        (info.name for info in pkgutil.walk_packages(aiapy.__path__, "aiapy.")
         if not any(part.startswith("_") for part in info.name.split("."))),
        key=lambda name: (name.count("."), name),
    )
    documented = set()  # ids of documented objects (not scalars: equal small values share an id)
    pages = {}
    for folder, names in (("main", main), ("modules", others)):
        for name in names:
            module, parent = importlib.import_module(name), parent_of(name)
            hidden = getattr(parent, name.rpartition(".")[2], module) is not module
            if folder == "modules" and (name in main or name in API_ALIASES or hidden):
                continue
            intro = f"{API_INTROS[name]}\n\n" if name in API_INTROS else ""
            options = "".join(f"   :skip: {attr}\n" for attr in _skips(module, parent, documented))
            pages[f"{folder}/{name}.rst"] = (
                f"{name}\n{'=' * len(name)}\n\n{intro}.. automodapi:: {name}\n   :no-heading:\n"
                f"   :include-all-objects:\n{options}"
            )
    return pages


def _write_api_pages(pages):
    for folder in ("main", "modules"):
        (DOCS / "api" / folder).mkdir(exist_ok=True)
        for stale in set((DOCS / "api" / folder).glob("*.rst")) - {DOCS / "api" / path for path in pages}:
            stale.unlink()
    for path, text in pages.items():
        path = DOCS / "api" / path
        if not path.is_file() or path.read_text(encoding="utf-8") != text:  # unchanged: no rebuild
            path.write_text(text, encoding="utf-8")


_write_api_pages(_api_pages())
# automodapi writes a stub page per object but never removes one; a stale stub (an object no longer listed)
# would be a page outside every toctree, so the stubs are rewritten on every build.
shutil.rmtree(DOCS / "api" / "generated", ignore_errors=True)

# -- The user guide's table of contents ---------------------------------------------------------------
#: Pages of the user guide (docs/guides/index.rst), in this order; any other page in docs/guides follows
#: them, before the last three (written into docs/generated/guides_toctree.txt, which the index includes).
GUIDES = ["getting_started", "preparing_data", "desaturation", "pipeline", "jsoc", "cli", "offline"]
GUIDES_LAST = ["../differences", "performance", "citing"]


def _write_guides_toctree():
    found = sorted(path.stem for path in (DOCS / "guides").iterdir() if path.suffix in (".rst", ".md"))
    others = [name for name in found if name not in GUIDES + GUIDES_LAST + ["index"]]
    entries = "".join(f"   {name}\n" for name in [g for g in GUIDES if g in found] + others + GUIDES_LAST)
    text = f".. toctree::\n   :maxdepth: 2\n\n{entries}"
    path = DOCS / "generated" / "guides_toctree.txt"
    path.parent.mkdir(exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


_write_guides_toctree()

# -- intersphinx (opt-in, see the module docstring) ---------------------------------------------------
# AIAPY_DOCS_INTERSPHINX=1 fetches the inventories from the projects' sites; =<folder> reads saved copies
# named <project>.inv from that folder (e.g. objects.inv files downloaded once), with no network.
_INTERSPHINX_SITES = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "scipy": "https://docs.scipy.org/doc/scipy/",
    "astropy": "https://docs.astropy.org/en/stable/",
    "sunpy": "https://docs.sunpy.org/en/stable/",
    "dask": "https://docs.dask.org/en/stable/",
    "distributed": "https://distributed.dask.org/en/stable/",
    "matplotlib": "https://matplotlib.org/stable/",
}
_INTERSPHINX = os.environ.get("AIAPY_DOCS_INTERSPHINX", "0")
INTERSPHINX = _INTERSPHINX not in ("", "0")
if _INTERSPHINX == "1":
    intersphinx_mapping = {name: (url, None) for name, url in _INTERSPHINX_SITES.items()}
elif INTERSPHINX:
    _saved = Path(_INTERSPHINX)
    intersphinx_mapping = {
        name: (url, str(_saved / f"{name}.inv"))
        for name, url in _INTERSPHINX_SITES.items()
        if (_saved / f"{name}.inv").is_file()
    }
else:
    intersphinx_mapping = {}

# Targets that cannot resolve, each with its reason.
# (Constants of aiapy modules that the API reference does not list are shown as code by aiapy_sphinx.)
nitpick_ignore = []
# References into other packages resolve only through their inventories. For each package without one in
# this build (all of them offline), its names are ignored: they render as code, without a link. Names no
# inventory here covers (drms, parfive, cupy) are always ignored.
_NAMES_BY_INVENTORY = {
    # the standard library's modules and the builtins (int, ValueError, ...), and typing names used bare
    "python": "|".join(sorted(sys.stdlib_module_names | {n for n in dir(builtins) if not n.startswith("_")}))
    + r"|Path|NamedTuple|Enum|Any|Callable|Iterable|Iterator|Sequence|Mapping|MutableMapping",
    "numpy": r"numpy|np",
    "scipy": r"scipy",
    "astropy": r"astropy|u",
    "sunpy": r"sunpy",
    "dask": r"dask",
    "distributed": r"distributed",
    "matplotlib": r"matplotlib|mpl|plt",
}
_UNRESOLVABLE = ["drms", "parfive", "cupy"] + [
    names for inventory, names in _NAMES_BY_INVENTORY.items() if inventory not in intersphinx_mapping
]
nitpick_ignore_regex = [(r"py:.*", rf"({'|'.join(_UNRESOLVABLE)})(\..*)?")]

# -- HTML -----------------------------------------------------------------------------------------------
# The top bar lists the pages of the root toctree (index.rst): installation, the user guide, the examples,
# the API reference, the changelog and help; the left sidebar lists the pages of the current section.
html_theme = "pydata_sphinx_theme"
html_title = f"aiapy {release}"
html_static_path = ["_static"]
html_css_files = ["aiapy.css"]
html_favicon = "_static/favicon.svg"
html_logo = "_static/aiapy_logo.svg"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "logo": {"text": "aiapy", "alt_text": "aiapy"},
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "installation": [], "changelog": [], "help": []}  # single pages: full width
html_show_sourcelink = False
# The copy button leaves out prompts and the output of doctest-style blocks.
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = False

# -- sphinx-gallery -------------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "generated/gallery",
    # Execute the plot_*.py examples; the others (prep_jsoc.py, which needs the JSOC) are shown, not run
    # (the tests run them against loopback servers) ...
    "filename_pattern": r"/plot_[^/]*\.py$",
    # ... and demo.py, the `make demo` driver, is not shown: it writes a folder of figures, FITS files and
    # text, whose steps are the examples here.
    "ignore_pattern": r"(demo\.py|__init__\.py)$",
    # No repr of a block's last expression ("<matplotlib.legend.Legend object at 0x...>"): examples print
    # what they mean to show.
    "capture_repr": (),
    "within_subsection_order": "aiapy_gallery.example_order",
    "download_all_examples": False,
    # No page of execution times: sphinx-gallery styles it with scripts from CDNs.
    "write_computation_times": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    # Which examples use which object, for the "Examples using ..." list of every API page.
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("aiapy",),
    "matplotlib_animations": False,
}
