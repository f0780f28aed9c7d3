"""The slow, literal PSF model and Richardson-Lucy loop that the fast code is tested against."""

import astropy.units as u
import numpy as np
import pytest
import scipy.fft

from aiapy.psf import filter_mesh_parameters


def direct_psf(channel, *, use_preflightcore=False, orders=(-1, 0, 1), size=4096):
    """The PSF computed the direct way: every Gaussian over the whole grid, FFT composition.

    A literal transcription of PEER-API.md section 4.1 (aia_calc_psf): pixel centres x = i + 0.5, centre
    N/2 + 0.5, each mesh 0.18 spikes/sum + 0.82 core/sum, composite |FFT2(FFT2(E) FFT2(F))| / N^2, fftshift.
    """
    parameters = filter_mesh_parameters(use_preflightcore=use_preflightcore)[channel]
    width = parameters["width"].value
    ratio = (parameters["mesh_pitch"] / parameters["mesh_width"]).decompose().value
    x = np.arange(size) + 0.5
    centre = size / 2 + 0.5

    def mesh(angles, spacing):
        spikes = np.zeros((size, size))
        for order in orders:
            if order == 0:
                continue
            intensity = np.sinc(order / ratio) ** 2
            for angle in angles:
                gx = np.exp(-width * (x - centre - order * spacing * np.cos(angle)) ** 2)
                gy = np.exp(-width * (x - centre - order * spacing * np.sin(angle)) ** 2)
                spikes += intensity * np.outer(gy, gx)
        core = np.outer(np.exp(-width * (x - centre) ** 2), np.exp(-width * (x - centre) ** 2))
        return 0.18 * spikes / spikes.sum() + 0.82 * core / core.sum()

    entrance = mesh(parameters["angle_arm"].to_value(u.rad), parameters["spacing_e"].value)
    focal = mesh(np.deg2rad([45.0, -45.0]), parameters["spacing_fp"].value)
    fft2 = scipy.fft.fft2
    composite = np.abs(fft2(fft2(entrance, workers=-1) * fft2(focal, workers=-1), workers=-1)) / size**2
    return np.fft.fftshift(composite)


def plain_richardson_lucy(image, psf, iterations):
    """The peer's CPU loop: numpy.fft float64, PSF moved to the origin, estimate starting from the image."""
    transfer = np.fft.rfft2(np.fft.ifftshift(psf))
    conjugate = np.conj(transfer)
    current = image.copy()
    for _ in range(iterations):
        estimate = np.fft.irfft2(np.fft.rfft2(current) * transfer, s=image.shape)
        current = current * np.fft.irfft2(np.fft.rfft2(image / estimate) * conjugate, s=image.shape)
    return current


@pytest.fixture
def oracle_psf():
    return direct_psf


@pytest.fixture
def oracle_rl():
    return plain_richardson_lucy


@pytest.fixture
def cuda():
    """CuPy with a usable CUDA device; the test is skipped where there is none."""
    cupy = pytest.importorskip("cupy")
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("CuPy found no CUDA device")
    except cupy.cuda.runtime.CUDARuntimeError:
        pytest.skip("CuPy cannot use a CUDA device")
    return cupy
