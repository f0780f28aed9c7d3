"""Synthetic saturated AIA flares with a known truth, to validate `aiapy.psf.desaturate`.

A scene (quiet Sun, an active region's broad glow and loops, and a flare of one to three compact kernels) is
convolved with the full AIA PSF on a field four times the area of the cutout, so that the diffraction fringes
of the flare leave the cutout as they leave a real one, and of the background outside the cutout light the
cutout. The detector then: photon noise (``DN per photon = (h c / lambda) / 3.65 eV / DN_GAIN``), charge
above the full well (16383 DN) spilling half up and half down its column into the next pixels with room
(charge conserved; what leaves the field is lost), read noise, rounding to integer DN, and the 14-bit
converter's ceiling. The map carries a real level-1 flare header (bundled 2011-02-15 171 A cutout) resized
to the cutout.

The truth is the noiseless convolved image: what the detector would have recorded without saturation.
"""

import dataclasses
from pathlib import Path

import astropy.units as u
import numpy as np
import scipy.fft
import sunpy.map

from aiapy.psf import calculate_psf

__all__ = ["FULL_WELL", "SyntheticFlare", "make_flare", "FLARES", "flare_header", "HEADER_FILE"]

#: Full well and converter ceiling of the synthetic detector (DN).
FULL_WELL = 16383.0
READ_NOISE = 1.15
HEADER_FILE = (
    Path(__file__).parents[2] / "src" / "aiapy" / "data" / "images" / "flare_2011-02-15"
    / "aia_flare_2011-02-15T01-54-24_171.fits"
)
# (seed, peak over the full well, kernels, kernel sigma range px): eight flares from 3x to 60x saturation
FLARES = (
    (1, 3.0, 1, (3.0, 4.0)),
    (2, 5.0, 2, (1.5, 3.0)),
    (3, 8.0, 1, (3.0, 4.5)),
    (4, 12.0, 3, (1.5, 3.0)),
    (5, 20.0, 2, (2.0, 4.0)),
    (6, 30.0, 1, (2.5, 4.0)),
    (7, 45.0, 3, (2.0, 3.5)),
    (8, 60.0, 2, (1.5, 2.5)),
)


@dataclasses.dataclass(frozen=True)
class SyntheticFlare:
    """One synthetic frame: the level-1 map, its truth (DN), the part of the truth that is not the flare, and
    the flagged (saturated or bloomed) pixels."""

    smap: object
    truth: np.ndarray
    background: np.ndarray
    flagged: np.ndarray
    peak_ratio: float

    def figures(self, result):
        """Recovered-over-true flux and the pixel-wise L1 error over the true flux, in the flagged pixels."""
        true = self.truth[self.flagged].astype(float)
        found = np.asarray(result, dtype=float)[self.flagged]
        return found.sum() / true.sum() - 1, np.abs(found - true).sum() / true.sum()


def flare_header(shape):
    """The real level-1 171 A header of the 2011-02-15 flare, resized to ``shape`` around the same centre."""
    meta = sunpy.map.Map(HEADER_FILE).meta.copy()
    rows, cols = shape
    meta["crpix1"] += (cols - meta["naxis1"]) / 2
    meta["crpix2"] += (rows - meta["naxis2"]) / 2
    meta["naxis1"], meta["naxis2"] = cols, rows
    meta.pop("blank", None)  # the data are float (BLANK is for integer images)
    return meta


def _scene(rng, size, peak_ratio, kernels, sigmas):
    """Background (DN, before the PSF) and flare kernels (unit peak), on a ``size`` x ``size`` field."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    centre = size / 2
    scene = np.full((size, size), 150.0, np.float32)
    for _ in range(4):  # the active region's glow
        cy, cx = centre + rng.normal(0, 60, 2)
        scene += rng.uniform(300, 1500) * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * rng.uniform(30, 90) ** 2))
    for _ in range(12):  # loops: half circles of small Gaussians
        cy, cx = centre + rng.normal(0, 80, 2)
        radius, tilt = rng.uniform(15, 70), rng.uniform(0, np.pi)
        amplitude, width = rng.uniform(300, 2500), rng.uniform(1.0, 2.5)
        for angle in np.linspace(0, np.pi, int(2 * radius)):
            py, px = cy + radius * np.sin(angle + tilt), cx + radius * np.cos(angle + tilt)
            box = (slice(max(int(py) - 8, 0), int(py) + 9), slice(max(int(px) - 8, 0), int(px) + 9))
            scene[box] += amplitude / 4 * np.exp(-((y[box] - py) ** 2 + (x[box] - px) ** 2) / (2 * width**2))
    flare = np.zeros_like(scene)
    for k in range(kernels):
        cy, cx = centre + (rng.normal(0, 6, 2) if k else np.zeros(2))
        sy, sx = rng.uniform(*sigmas, 2)
        flare += rng.uniform(0.4, 1.0) * np.exp(-((y - cy) ** 2) / (2 * sy**2) - (x - cx) ** 2 / (2 * sx**2))
    # a diffuse flare halo around the kernels: the bright, steep wings of real flares
    flare += 0.01 * np.exp(-((y - centre) ** 2 + (x - centre) ** 2) / (2 * 12.0**2))
    return scene, flare


def _bloom(charge, full_well):
    """Charge above ``full_well`` moved half up, half down each column into the nearest pixels with room."""
    out = charge.copy()
    for column in np.flatnonzero((charge > full_well).any(axis=0)):
        values = out[:, column]
        excess = np.maximum(values - full_well, 0.0) / 2
        values = np.minimum(values, full_well)
        for order in (slice(None), slice(None, None, -1)):  # downwards, then upwards
            carry = 0.0
            v, e = values[order], excess[order]
            for i in range(v.size):
                moved = min(carry, full_well - v[i])
                v[i] += moved
                carry += e[i] - moved
        out[:, column] = values
    return out


def make_flare(seed, peak_ratio, kernels, sigmas, *, shape=(512, 512), channel=171 * u.AA):
    """
    A synthetic saturated frame whose convolved flare peaks at ``peak_ratio`` times the full well.

    Returns
    -------
    SyntheticFlare
    """
    rng = np.random.default_rng(seed)
    size = 2 * max(shape)
    scene, flare = _scene(rng, size, peak_ratio, kernels, sigmas)
    psf = calculate_psf(channel, shape=(size, size))
    transfer = scipy.fft.rfft2(np.fft.ifftshift(psf))

    def convolve(image):
        return scipy.fft.irfft2(scipy.fft.rfft2(image) * transfer, s=image.shape)

    background, kernel_image = convolve(scene), convolve(flare)
    rows, cols = shape
    crop = (slice((size - rows) // 2, (size - rows) // 2 + rows), slice((size - cols) // 2, (size - cols) // 2 + cols))
    # scale the flare so that the convolved image peaks at peak_ratio x the full well
    scale = (peak_ratio * FULL_WELL - background[crop].max()) / kernel_image[crop].max()
    truth = np.maximum(background + scale * kernel_image, 0.0)
    meta = flare_header(shape)
    dn_per_photon = (1.98644586e-25 / channel.to_value(u.m)) / (3.65 * 1.602176634e-19) / meta["dn_gain"]
    charge = rng.poisson(truth[crop] / dn_per_photon) * dn_per_photon
    bloomed = _bloom(charge, FULL_WELL)
    data = np.round(bloomed + rng.normal(0, READ_NOISE, shape))
    data[bloomed >= FULL_WELL] = FULL_WELL
    data = np.clip(data, -10, FULL_WELL).astype(np.float32)
    meta["datamax"], meta["nsatpix"] = float(data.max()), int((data >= FULL_WELL).sum())
    smap = sunpy.map.Map(data, meta)
    return SyntheticFlare(smap=smap, truth=truth[crop].astype(np.float32),
                          background=background[crop].astype(np.float32), flagged=data >= FULL_WELL,
                          peak_ratio=peak_ratio)
