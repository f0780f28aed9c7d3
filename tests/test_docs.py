"""
The documentation site builds with no warning, so a broken docstring, reference or guide fails CI.

The site is built as ``make docs`` builds it (``-W -n``: warnings and unresolved references are errors),
but without executing the gallery (``plot_gallery=0``; ``make docs`` runs the examples), from a copy of
``docs/`` so the generated pages do not land in the working tree.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest

for _module in ("sphinx", "numpydoc", "sphinx_automodapi", "sphinx_gallery", "pydata_sphinx_theme", "myst_parser",
                "sphinx_copybutton", "sphinx_design", "sphinx-mathjax-offline"):
    pytest.importorskip(_module, reason='the docs extra is not installed: pip install -e ".[docs]"')

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ("_build", "generated", "main", "modules", "sg_execution_times.rst")  # written by the build
EXAMPLES = ROOT / "docs" / "examples"
GUIDES = ("getting_started", "preparing_data", "pipeline", "jsoc", "cli", "offline", "performance", "citing")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the HTML site once for this module; return (html folder, sphinx output, build folder)."""
    root = tmp_path_factory.mktemp("docs")
    shutil.copytree(ROOT / "docs", root / "docs", ignore=shutil.ignore_patterns(*GENERATED, "__pycache__"))
    (root / "src").symlink_to(ROOT / "src")  # for the guides' includes of src/aiapy/CITATION.rst
    (root / "CHANGELOG.md").symlink_to(ROOT / "CHANGELOG.md")  # the changelog page includes it
    html = root / "docs" / "_build" / "html"
    env = {**os.environ, "AIAPY_DOCS_INTERSPHINX": "0", "PYTHONWARNINGS": ""}
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-n", "-q",
         "-D", "plot_gallery=0", str(root / "docs"), str(html)],
        capture_output=True, text=True, env=env, cwd=root, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"sphinx failed (exit {result.returncode}):\n{output[-6000:]}"
    return html, output, root


def _pages(html):
    return sorted(path for path in html.rglob("*.html") if "_modules" not in path.parts)


def _text(path):
    """The visible text of a page's article (no navigation, scripts or markup)."""
    page = path.read_text(encoding="utf-8")
    article = re.search(r'<article class="bd-article">(.*?)</article>', page, flags=re.DOTALL)
    return unescape(re.sub(r"<[^>]+>", " ", article.group(1) if article else page))


def test_builds_without_warnings(site):
    html, output, _ = site
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
    guides = (html / "guides" / "index.html").read_text(encoding="utf-8")
    for page in GUIDES:
        assert f'href="{page}.html"' in guides, page
    assert 'href="../differences.html"' in guides
    gallery = (html / "generated" / "gallery" / "index.html").read_text(encoding="utf-8")
    for example in ("plot_psf_cutout", "plot_register_cutout", "plot_degradation", "plot_channel_responses",
                    "plot_uncertainties", "plot_pipeline", "plot_respike", "plot_full_disk_level15", "prep_jsoc"):
        assert f"{example}.html" in gallery, example
    assert "demo.html" not in gallery  # the `make demo` driver is not a gallery example


def test_every_example_is_in_the_gallery(site):
    """Every script of docs/examples but the demo has a gallery page: text, then code, then figures."""
    examples = sorted(path.stem for path in EXAMPLES.glob("*.py") if path.stem != "demo")
    assert len(examples) >= 10
    gallery = (site[0] / "generated" / "gallery" / "index.html").read_text(encoding="utf-8")
    for name in examples:
        assert f"{name}.html" in gallery, name
        page = (site[0] / "generated" / "gallery" / f"{name}.html").read_text(encoding="utf-8")
        article = re.search(r'<article class="bd-article">(.*?)</article>', page, flags=re.DOTALL).group(1)
        first_code = article.find('class="highlight')
        assert 0 < article.find("<p>") < first_code, f"{name}: no text before the code"


def test_navigation(site):
    """The top bar lists the site's sections; a guide's sidebar lists the other guides; the landing page
    has cards to the four ways in."""
    html = site[0]
    page = (html / "guides" / "getting_started.html").read_text(encoding="utf-8")
    navbar = re.search(r'<ul class="bd-navbar-elements navbar-nav">(.*?)</ul>', page, flags=re.DOTALL).group(1)
    entries = [unescape(re.sub(r"<[^>]+>", "", item)).strip() for item in re.findall(r"<a [^>]*>(.*?)</a>", navbar, flags=re.DOTALL)]
    assert entries == ["Installation", "User guide", "Examples", "API reference", "Changelog", "Help"], entries
    sidebar = re.search(r'<nav class="bd-docs-nav bd-links"(.*?)</nav>', page, flags=re.DOTALL).group(1)
    for guide in GUIDES:
        if guide != "getting_started":
            assert f'href="{guide}.html"' in sidebar, guide
    index = (html / "index.html").read_text(encoding="utf-8")
    for target in ("guides/getting_started.html", "generated/gallery/index.html", "api/index.html", "help.html"):
        assert re.search(rf'<a class="[^"]*sd-stretched-link[^"]*" href="{re.escape(target)}', index), target
    for name in ("installation", "changelog", "help", "guides/jsoc", "guides/cli"):
        assert (html / f"{name}.html").is_file(), name
    changelog = _text(html / "changelog.html")
    first = re.search(r"^## (.+)$", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), flags=re.M).group(1)
    assert first.strip() in changelog  # the changelog page is the repository's CHANGELOG.md


def test_assets_are_local(site):
    """No script, style or font from a CDN: MathJax and everything else is served from _static."""
    html = site[0]
    for path in _pages(html):
        page = path.read_text(encoding="utf-8")
        remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="((?:https?:)?//[^"]+)"', page)
        assert not remote, f"{path.relative_to(html)}: {remote}"
    page = (html / "guides" / "getting_started.html").read_text(encoding="utf-8")
    assert 'src="../_static/mathjax/tex-chtml.js"' in page and (html / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert 'class="math' in page  # the page has maths for it
    assert 'rel="icon" href="../_static/favicon.svg"' in page and (html / "_static" / "favicon.svg").is_file()
    assert "aiapy_logo.svg" in page and "copybutton.js" in page


JARGON = [r"\bpeer\b", r"today's keywords", r"today's flat keywords"]


def _jargon_and_paths(site, pages):
    """(page, word or folder) for every internal word or build-machine folder on the given pages."""
    html, _, root = site
    folders = [str(ROOT), str(root), str(Path.home()), "site-packages", "/tmp/"]
    found = []
    for path in pages:
        text = _text(path)
        found += [(path.relative_to(html), word) for word in JARGON if re.search(word, text, flags=re.I)]
        found += [(path.relative_to(html), folder) for folder in folders if folder in text]
    return found


def _is_pipeline_page(path):
    return path.name.startswith("aiapy.pipeline")


def test_no_jargon_or_build_paths(site):
    """Pages speak to users: no internal words of the developers, no folder of the machine that built them."""
    pages = [path for path in _pages(site[0]) if not _is_pipeline_page(path)]
    assert not _jargon_and_paths(site, pages)


def test_no_jargon_on_the_pipeline_pages(site):
    pages = [path for path in _pages(site[0]) if _is_pipeline_page(path)]
    assert pages and not _jargon_and_paths(site, pages)


def test_api_pages_have_descriptions_and_source_links(site):
    html = site[0]
    for path in sorted((html / "api" / "generated").glob("*.html")):
        article = re.search(r'<article class="bd-article">(.*?)</article>', path.read_text(encoding="utf-8"),
                            flags=re.DOTALL).group(1)  # fmt: skip
        description = re.search(r"</dt>\s*<dd>(.*?)</dd>", article, flags=re.DOTALL)
        assert description and len(_text_of(description.group(1))) > 15, f"{path.name} has no description"
    page = (html / "api" / "generated" / "aiapy.calibrate.register.html").read_text(encoding="utf-8")
    assert "viewcode-link" in page and (html / "_modules" / "aiapy" / "calibrate" / "register.html").is_file()
    sample = _text(html / "api" / "generated" / "aiapy.data.sample.AIA_171_IMAGE.html")
    assert "4096 x 4096 level-1 171" in sample and "PosixPath" not in sample


def _text_of(fragment):
    return unescape(re.sub(r"<[^>]+>", " ", fragment)).strip()


def test_cli_page_lists_every_option(site):
    """The CLI page is generated from the parser of ``aiapy``: every option of every command is on it."""
    from aiapy.cli import build_parser

    text = _text(site[0] / "guides" / "cli.html")
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    for name, parser in commands.choices.items():
        assert f"aiapy {name}" in text, name
        for action in parser._actions:  # noqa: SLF001
            for option in action.option_strings:
                assert option in text, f"aiapy {name} {option}"
