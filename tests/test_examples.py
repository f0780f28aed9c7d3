"""Every script in docs/examples runs, so the examples cannot rot.

Each script is a command taking ``--out DIR``. ``demo.py`` (what ``make demo`` runs) is run exactly as the
Makefile does; it runs ``psf_deconvolution.py`` and ``responses.py`` itself, so their figures are checked in
its output. A new example must be run by the demo too (or get a test of its own), which the first test
enforces. The ``plot_*.py`` scripts are the documentation gallery's examples (``make docs`` runs them
too); each is run here and must draw its figures.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from astropy.io import fits

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
RUN_BY_DEMO = {"demo", "psf_deconvolution", "responses"}
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


def test_every_example_is_a_command():
    scripts = sorted(set(EXAMPLES.glob("*.py")) - set(GALLERY))
    assert {p.stem for p in scripts} == RUN_BY_DEMO, "a new example must be run by demo.py (or tested here)"
    for path in scripts:
        text = path.read_text(encoding="utf-8")
        assert '__name__ == "__main__"' in text and "--out" in text, f"{path.name} is not a --out command"


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
