"""
Wavelength responses, degradation and temperature responses of the AIA channels.
================================================================================

Draws three figures from the data bundled with aiapy (no network):

* ``wavelength_responses.png``: the wavelength responses of the seven EUV channels;
* ``degradation_curves.png``: their degradation factors from May 2010 to 2026 with the version-10
  calibration, and the 335 Å channel with version 8 too (as in the aiapy blog post);
* ``temperature_responses.png``: their temperature responses (CHIANTI 9.0.1, as SolarSoft V10).

Run ``python docs/examples/responses.py --out DIR``.
"""

import argparse
from pathlib import Path

import astropy.units as u
import matplotlib
from astropy.time import Time

from aiapy.response.plot import plot_degradation_curves, plot_temperature_responses, plot_wavelength_responses

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 (after choosing the backend)


def main(out_dir):
    """Write the three figures into ``out_dir`` and return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []

    fig, axes = plt.subplots(figsize=(8, 5))
    plot_wavelength_responses(axes=axes)
    axes.set_xlim(50, 400)
    axes.set_ylim(1e-6, 10)
    axes.set_title("AIA EUV wavelength responses (pre-launch, with cross-talk)")
    paths.append(out_dir / "wavelength_responses.png")
    fig.savefig(paths[-1], dpi=120, bbox_inches="tight")
    plt.close(fig)

    # Monthly from 2010-05 to 2026-01.
    months = [f"{year}-{month:02d}-01" for year in range(2010, 2026) for month in range(1, 13)]
    months = Time(months[4:] + ["2026-01-01"])
    fig, axes = plt.subplots(figsize=(8, 5))
    plot_degradation_curves(months, axes=axes)
    plot_degradation_curves(months, channels=[335] * u.AA, calibration_versions=(8,), axes=axes)
    axes.set_ylim(0, 1.3)
    axes.set_title("AIA EUV degradation (V10; 335 Å also V8, dashed)")
    paths.append(out_dir / "degradation_curves.png")
    fig.savefig(paths[-1], dpi=120, bbox_inches="tight")
    plt.close(fig)

    fig, axes = plt.subplots(figsize=(8, 5))
    plot_temperature_responses(axes=axes)
    axes.set_xlim(4.5, 8)
    axes.set_ylim(1e-28, 1e-23)
    axes.set_title("AIA EUV temperature responses (CHIANTI 9.0.1, SolarSoft V10)")
    paths.append(out_dir / "temperature_responses.png")
    fig.savefig(paths[-1], dpi=120, bbox_inches="tight")
    plt.close(fig)
    return paths


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--out", default=".", help="directory for the figures (default: current directory)")
    for path in main(parser.parse_args().out):
        print(path)  # noqa: T201 (a script's output)
