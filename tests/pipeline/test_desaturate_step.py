"""``aiapy prep --desaturate`` end to end on a synthetic saturated level-1 file (and two it cannot help)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import sunpy.map
from astropy.io import fits

from aiapy.cli import main
from aiapy.pipeline import PrepConfig, read_output
from aiapy.utils import PixelFlag

sys.path.insert(0, str(Path(__file__).parents[1] / "psf"))
from synthetic_flares import FLARES, FULL_WELL, HEADER_FILE, make_flare  # noqa: E402


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("level1")
    flare = make_flare(*FLARES[3])
    flare.smap.save(folder / "synthetic_flare_171.fits")
    quiet = sunpy.map.Map(np.minimum(flare.smap.data, 5000).astype(np.float32), flare.smap.meta)
    quiet.save(folder / "synthetic_quiet_171.fits")
    real = folder / "real_cutout_171.fits"
    real.write_bytes(HEADER_FILE.read_bytes())  # the real 67 x 67 cutout of 2011-02-15 01:54 UT, 171 A
    return folder, flare


def _run(folder, out, *flags):
    report = out.parent / f"{out.name}.json"
    code = main(["prep", str(folder), "--out", str(out), "--steps", "register", "--report", str(report), *flags])
    content = json.loads(report.read_text())
    return code, content["summary"], {Path(r["input"]).name: r for r in content["results"]}


def test_prep_desaturate_end_to_end(inputs, tmp_path):
    folder, flare = inputs
    code, summary, results = _run(folder, tmp_path / "desaturated", "--desaturate")
    assert code == 0 and "3 done" in summary and "1 desaturated" in summary
    steps = results["synthetic_flare_171.fits"]["steps"]
    print(steps)
    assert steps[0].startswith("desaturate (") and "DN restored to the core" in steps[0] and steps[1] == "register"
    assert results["synthetic_quiet_171.fits"]["steps"][0] == "desaturate skipped (no saturated pixels)"
    refused = results["real_cutout_171.fits"]
    assert refused["status"] == "done" and "too small for the diffraction fringes" in refused["steps"][0]
    smap, _ = read_output(Path(results["synthetic_flare_171.fits"]["output"]))
    assert smap.meta["lvl_num"] == 1.5
    assert smap.meta["desatflx"] > 0 and smap.meta["desatnco"] > 0 and "desaturate:" in str(smap.meta["history"])
    # the rebuilt core, registered: far above the full well; the MASK extension says which pixels are rebuilt
    assert np.nanmax(smap.data) > 4 * FULL_WELL
    assert np.nanmax(smap.data) < 1.2 * flare.truth.max()
    assert smap.mask is not None and (smap.mask & (PixelFlag.SATURATED | PixelFlag.BLOOM)).any()
    # the same run without --desaturate leaves the core at the full well
    code, summary, plain = _run(folder, tmp_path / "plain")
    assert code == 0 and "desaturated" not in summary and plain["synthetic_flare_171.fits"]["steps"] == ["register"]
    with fits.open(plain["synthetic_flare_171.fits"]["output"]) as hdus:
        assert np.nanmax(hdus[1].data if hdus[0].data is None else hdus[0].data) <= FULL_WELL * 1.01


def test_desaturate_options_in_the_config():
    config = PrepConfig(steps="desaturate,register", desaturate_iterations=40, support_level=None)
    assert config.active_steps == ("desaturate", "register")
    assert config.desaturate.iterations == 40 and config.desaturate.support_level is None
    assert config.settings()["desaturate"] == {"iterations": 40, "charge_conservation": True, "support_level": None}
    assert config.deconvolve.iterations == 25  # deconvolve's own iterations are another option
    assert PrepConfig(steps="register").config_id != config.config_id
    with pytest.raises(ValueError, match="support_level"):
        PrepConfig(steps="desaturate", support_level=1.5)
