"""Every script in docs/examples runs, so the examples cannot rot.

``demo.py`` (what ``make demo`` runs) is a command taking ``--out DIR``, run exactly as the Makefile does.
The ``plot_*.py`` scripts are the documentation gallery's examples (``make docs`` runs them too); each is
run here and must draw its figures. The other gallery examples need a remote service and are shown
without being run when the site is built (``prep_jsoc.py``); each is run here against a loopback server.
A new script must be one of these (the first test enforces it).
"""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from astropy.io import fits

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
COMMANDS = {"demo"}
#: Gallery examples shown but not executed by ``make docs`` (they need the network), each tested below.
NOT_EXECUTED = {"prep_jsoc"}
#: Gallery examples of the documentation site (sphinx-gallery's ``plot_`` prefix): scripts without options,
#: each run by `test_gallery_example`.
GALLERY = sorted(EXAMPLES.glob("plot_*.py"))
DEMO_FILES = [
    "psf_171.png", "deconvolution_171.png", "respike_histogram.png", "pointing_register.txt",
    "wavelength_responses.png", "degradation_curves.png", "temperature_responses.png",
    "degradation_correction_335.png", "uncertainty_histograms.png", "summary.txt",
]  # fmt: skip


def _run(script, out):
    return subprocess.run([sys.executable, str(script), "--out", str(out)], capture_output=True, text=True, timeout=600)


def test_every_example_is_a_command_or_in_the_gallery():
    scripts = sorted(set(EXAMPLES.glob("*.py")) - set(GALLERY))
    assert {p.stem for p in scripts} == COMMANDS | NOT_EXECUTED, "a new example must be a plot_ example (or tested here)"
    for name in COMMANDS:
        text = (EXAMPLES / f"{name}.py").read_text(encoding="utf-8")
        assert '__name__ == "__main__"' in text and "--out" in text, f"{name}.py is not a --out command"
    for name in NOT_EXECUTED:  # the page says that it was not run
        assert "**not run**" in (EXAMPLES / f"{name}.py").read_text(encoding="utf-8"), name


def test_gallery_examples_are_narratives():
    """Gallery examples are text, code and figures: no command-line options, no backend choice, no noqa."""
    for path in [*GALLERY, *(EXAMPLES / f"{name}.py" for name in NOT_EXECUTED)]:
        text = path.read_text(encoding="utf-8")
        for word in ("argparse", "matplotlib.use(", "# noqa", "/tmp", "gettempdir()"):
            assert word not in text, f"{path.name}: {word}"
        assert not re.search(r"(?<![.\w])__file__", text), f"{path.name}: sphinx-gallery runs it without __file__"
        assert text.startswith('"""') and "\n# %%\n" in text, f"{path.name} is not text then code blocks"


def test_wavelengths_are_written_in_angstrom():
    """Titles, labels and printed lines say "171 Å", not "171 A"."""
    for path in sorted(EXAMPLES.glob("*.py")):
        plain = re.findall(r"\b\d{2,4} A\b", path.read_text(encoding="utf-8"))
        assert not plain, f"{path.name}: {plain}"


@pytest.mark.slow
def test_demo(tmp_path):
    out = tmp_path / "demo_output"
    result = _run(EXAMPLES / "demo.py", out)
    assert result.returncode == 0, result.stderr[-3000:]
    missing = [name for name in DEMO_FILES if not (out / name).is_file() or (out / name).stat().st_size == 0]
    assert not missing, f"demo did not write {missing}"
    summary = (out / "summary.txt").read_text(encoding="utf-8")
    assert "is missing" not in summary and "8 done" in summary
    outputs = sorted((out / "level1.5").glob("*_lev1.5.fits"))
    assert len(outputs) == 8
    full_frame = [path for path in outputs if path.name.startswith("aia_lev1_171a_")]  # sample.AIA_171_IMAGE
    assert len(full_frame) == 1
    with fits.open(full_frame[0]) as hdulist:
        assert hdulist[1].header["LVL_NUM"] == 1.5 and hdulist[1].data.shape == (4096, 4096)
        assert hdulist["UNCERTAINTY"].data.shape == (4096, 4096)


@pytest.mark.parametrize("script", GALLERY, ids=lambda path: path.stem)
def test_gallery_example(script, tmp_path):
    """A gallery example runs with warnings as errors and leaves figures for the gallery to show."""
    code = (
        "import runpy, sys, matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt; "
        "plt.show = lambda *args, **kwargs: None; runpy.run_path(sys.argv[1], run_name='__main__'); "
        "print('figures:', len(plt.get_fignums()))"
    )
    result = subprocess.run([sys.executable, "-W", "error", "-c", code, str(script)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = int(result.stdout.rsplit("figures:", 1)[1])
    assert figures >= 1, f"{script.name} drew no figure"
    assert " object at 0x" not in result.stdout, result.stdout  # no reprs printed
    assert tempfile.gettempdir() not in result.stdout, result.stdout  # no scratch paths of the build machine


@pytest.mark.slow
def test_prep_jsoc_example(tmp_path):
    """The JSOC example (not run by ``make docs``) runs as written against the loopback export server."""
    from loopback_export import LoopbackExport

    server = LoopbackExport().start()
    try:
        environ = {
            **os.environ, "AIAPY_CONFIG": str(tmp_path / "no-such.cfg"), "AIAPY_JSOC_URL": server.url,
            "AIAPY_CACHE_DIR": str(tmp_path / "cache"), "AIAPY_NET_TIMEOUT": "5", "AIAPY_NET_BACKOFF": "0.01",
        }  # fmt: skip
        code = (
            "import runpy, sys, matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt; "
            "plt.show = lambda *args, **kwargs: None; runpy.run_path(sys.argv[1], run_name='__main__'); "
            "print('figures:', len(plt.get_fignums()), 'axes:', len(plt.gcf().axes))"
        )
        result = subprocess.run([sys.executable, "-c", code, str(EXAMPLES / "prep_jsoc.py")], cwd=tmp_path,
                                env=environ, capture_output=True, text=True, timeout=600)  # fmt: skip
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "15 done" in result.stdout, result.stdout  # the report's summary line
    assert len(re.findall(r"^done +aia\.lev1_euv_12s\[", result.stdout, flags=re.M)) == 15, result.stdout
    outputs = sorted((tmp_path / "lev15").glob("*_lev1.5.fits"))
    assert len(outputs) == 15  # 3 channels x 5 frames (every 4 minutes of 20)
    assert "figures: 1 axes: 6" in result.stdout  # one panel and one colour bar per channel
