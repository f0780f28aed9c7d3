"""
The documentation site builds with no warning, so a broken docstring, reference or guide fails CI.

The site is built as ``make docs`` builds it (``-W -n``: warnings and unresolved references are errors),
but without executing the gallery (``plot_gallery=0``; ``make docs`` runs the examples), from a copy of
``docs/`` so the generated pages do not land in the working tree.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

for _module in ("sphinx", "numpydoc", "sphinx_automodapi", "sphinx_gallery", "pydata_sphinx_theme", "myst_parser"):
    pytest.importorskip(_module, reason='the docs extra is not installed: pip install -e ".[docs]"')

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ("_build", "generated", "main", "modules", "sg_execution_times.rst")  # written by the build


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the HTML site once for this module; return (html folder, sphinx output)."""
    root = tmp_path_factory.mktemp("docs")
    shutil.copytree(ROOT / "docs", root / "docs", ignore=shutil.ignore_patterns(*GENERATED, "__pycache__"))
    (root / "src").symlink_to(ROOT / "src")  # for the guides' includes of src/aiapy/CITATION.rst
    html = root / "docs" / "_build" / "html"
    env = {**os.environ, "AIAPY_DOCS_INTERSPHINX": "0", "PYTHONWARNINGS": ""}
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-n", "-q",
         "-D", "plot_gallery=0", str(root / "docs"), str(html)],
        capture_output=True, text=True, env=env, cwd=root, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"sphinx failed (exit {result.returncode}):\n{output[-6000:]}"
    return html, output


def test_builds_without_warnings(site):
    html, output = site
    assert "WARNING" not in output and "ERROR" not in output, output
    assert (html / "index.html").is_file()


@pytest.mark.parametrize(
    ("page", "sections"),
    [
        ("aiapy.calibrate.register", ["Parameters", "Returns", "References", "Examples using"]),
        ("aiapy.psf.calculate_psf", ["Parameters", "References", "Examples", "Examples using"]),
        ("aiapy.response.Channel", ["Parameters", "References", "Examples", "wavelength_response"]),
        ("aiapy.pipeline.prep_files", ["Parameters", "Returns", "Examples using"]),
    ],
)
def test_api_pages_render_their_docstrings(site, page, sections):
    """The numpydoc sections become rendered headings, and the gallery examples using the object are listed."""
    text = (site[0] / "api" / "generated" / f"{page}.html").read_text(encoding="utf-8")
    missing = [section for section in sections if section not in text]
    assert not missing, f"{page}: {missing} not rendered"
    assert "Parameters:</dt>" in text or 'class="field-list' in text  # numpydoc's field lists, not raw text
    assert ":Parameters:" not in text and "----------" not in text  # no unparsed numpydoc markup


def test_every_module_and_guide_is_linked(site):
    html = site[0]
    index = (html / "api" / "index.html").read_text(encoding="utf-8")
    for module in ("calibrate", "calibrate.utils", "psf", "response", "pipeline", "data", "net", "utils", "cli"):
        assert f'href="main/aiapy.{module}.html"' in index, module
    # every other public module has a generated page listing what the pages above do not
    for module in ("aiapy.net.config", "aiapy.utils.channels", "aiapy.response.emissivity"):
        assert f'href="modules/{module}.html"' in index, module
    channels = (html / "api" / "modules" / "aiapy.utils.channels.html").read_text(encoding="utf-8")
    assert "aiapy.utils.channels.channel_key.html" in channels  # not re-exported by aiapy.utils
    assert "aiapy.utils.channels.validate_channel.html" not in channels  # documented on the aiapy.utils page
    toc = (html / "index.html").read_text(encoding="utf-8")
    for page in ("getting_started", "preparing_data", "pipeline", "offline", "performance", "citing"):
        assert f"guides/{page}.html" in toc, page
    assert "differences.html" in toc
    gallery = (html / "generated" / "gallery" / "index.html").read_text(encoding="utf-8")
    for example in ("psf_deconvolution", "responses", "plot_psf_cutout", "plot_register_cutout",
                    "plot_degradation", "plot_channel_responses", "plot_uncertainties", "plot_pipeline"):
        assert f"{example}.html" in gallery, example
    assert "demo.html" not in gallery  # the `make demo` driver is not a gallery example
