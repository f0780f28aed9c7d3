"""Array kernels of the AIA PSF model (Grigis et al. 2012): meshes of separable Gaussians and their composition.

Everything here works on plain floats and numpy arrays. Offsets are in pixels from the PSF centre, rows (y)
first. Each Gaussian ``exp(-w dx^2) exp(-w dy^2)`` is built from two 1-D windows outside which it underflows
to exactly 0.0 in float64, so the windowed sums equal sums over the whole grid.
"""

import numpy as np
import scipy.signal

from aiapy.utils.constants import DETECTOR_SIZE, MESH_TRANSMISSION

__all__ = ["MeshModel", "mesh_terms", "detector_psf", "window_psf", "COMPONENTS"]

#: Parts of the composite PSF: all of it, the core (the two meshes' undiffracted Gaussians convolved), or the
#: diffraction (everything else: the entrance-filter spikes and the focal-plane halo), ``full = core + diffraction``.
COMPONENTS = ("full", "core", "diffraction")

# exp(-x) is exactly 0.0 in float64 for x > 745.14 (below the smallest subnormal).
_UNDERFLOW = 745.2
# The focal-plane mesh is rotated 45 degrees with respect to the detector rows.
_FOCAL_PLANE_ANGLES = np.deg2rad([45.0, -45.0])


class MeshModel:
    """
    The diffraction pattern of one mesh: spike offsets and intensities plus the core coefficient.

    Parameters
    ----------
    angles : array of float, rad
        Directions of the arms, from the +x (column) axis towards +y (rows).
    spacing : float
        Distance in pixels between successive orders.
    orders : array of int
        Diffraction orders; order 0 is the core and is skipped in the spikes.
    mesh_ratio : float
        Mesh pitch over wire width; order ``m`` has intensity ``sinc^2(m / mesh_ratio)``.
    width : float
        Coefficient ``w`` (px^-2) of every Gaussian ``exp(-w r^2)``.
    """

    def __init__(self, angles, spacing, orders, mesh_ratio, width):
        self.dy, self.dx, self.amplitude = mesh_terms(angles, spacing, orders, mesh_ratio)
        self.width = width

    @property
    def radius(self):
        """Largest offset (px) from the centre at which any of the Gaussians is non-zero."""
        reach = np.max(np.abs(np.concatenate([self.dy, self.dx, [0.0]])))
        return int(np.ceil(reach + np.sqrt(_UNDERFLOW / self.width))) + 1

    def detector_sums(self, size=DETECTOR_SIZE):
        """Sums over the ``size`` x ``size`` detector of the spikes and of the core (the model's norms)."""
        low, high = -(size // 2), size - size // 2
        spikes = sum(
            amp * _window_sum(dy, self.width, low, high) * _window_sum(dx, self.width, low, high)
            for dy, dx, amp in zip(self.dy, self.dx, self.amplitude, strict=True)
        )
        core = _window_sum(0.0, self.width, low, high) ** 2
        return spikes, core

    def render(self, shape, origin, *, size=DETECTOR_SIZE, spikes=True):
        """
        The normalised mesh PSF ``0.18 spikes / sum(spikes) + 0.82 core / sum(core)`` on a grid.

        Pixel ``[i, j]`` of the result lies at offset ``(i - origin[0], j - origin[1])`` from the centre.
        The sums are taken over the detector of side ``size``, as in the model. With ``spikes=False`` only
        the core term ``0.82 core / sum(core)`` is drawn.
        """
        spike_sum, core_sum = self.detector_sums(size)
        out = np.zeros(shape)
        if spikes:
            amplitude = self.amplitude * ((1 - MESH_TRANSMISSION) / spike_sum)
            _add_gaussians(out, origin, self.dy, self.dx, amplitude, self.width)
        _add_gaussians(out, origin, [0.0], [0.0], [MESH_TRANSMISSION / core_sum], self.width)
        return out


def mesh_terms(angles, spacing, orders, mesh_ratio):
    """
    Offsets and intensities of every spike of one mesh.

    Returns
    -------
    dy, dx, amplitude : arrays of float, one entry per (order, arm), orders outer
        ``dy = m s sin(angle)``, ``dx = m s cos(angle)``, ``amplitude = sinc^2(m / mesh_ratio)``.
    """
    orders = np.asarray(orders)
    orders = orders[orders != 0].astype(float)
    angles = np.asarray(angles, dtype=float)
    step = orders[:, np.newaxis] * spacing
    dy = (step * np.sin(angles)).ravel()
    dx = (step * np.cos(angles)).ravel()
    amplitude = np.repeat(np.sinc(orders / mesh_ratio) ** 2, angles.size)
    return dy, dx, amplitude


def _window(offset, width, low, high):
    """First integer offset and values of ``exp(-w (o - offset)^2)`` for integer ``o`` in ``[low, high)``,
    restricted to where it is non-zero; values is None when it vanishes everywhere there."""
    half = np.sqrt(_UNDERFLOW / width)
    start = max(low, int(np.floor(offset - half)))
    stop = min(high, int(np.ceil(offset + half)) + 1)
    if stop <= start:
        return start, None
    return start, np.exp(-width * (np.arange(start, stop, dtype=float) - offset) ** 2)


def _window_sum(offset, width, low, high):
    values = _window(offset, width, low, high)[1]
    return 0.0 if values is None else values.sum()


def _add_gaussians(out, origin, dys, dxs, amplitudes, width):
    """Add ``a exp(-w (y - dy)^2) exp(-w (x - dx)^2)`` for each term to ``out``, in place."""
    (rows, cols), (oy, ox) = out.shape, origin
    for dy, dx, amp in zip(dys, dxs, amplitudes, strict=True):
        y0, gy = _window(dy, width, -oy, rows - oy)
        x0, gx = _window(dx, width, -ox, cols - ox)
        if gy is None or gx is None:
            continue
        out[y0 + oy : y0 + oy + gy.size, x0 + ox : x0 + ox + gx.size] += np.multiply.outer(amp * gy, gx)


def focal_plane_kernel(focal, size=DETECTOR_SIZE, *, spikes=True):
    """The focal-plane mesh PSF as a small centred array (side ``2 r + 1``) and its radius ``r``."""
    radius = min(focal.radius, size // 2 - 1)
    return focal.render((2 * radius + 1, 2 * radius + 1), (radius, radius), size=size, spikes=spikes), radius


def _focal_plane_spectrum(focal, size, spikes):
    """``rfft2`` of the focal-plane mesh PSF moved to the origin, transforming only its non-zero rows."""
    kernel, radius = focal_plane_kernel(focal, size, spikes=spikes)
    index = np.arange(-radius, radius + 1) % size
    rows = np.zeros((index.size, size))
    rows[:, index] = kernel
    spectrum = np.zeros((size, size // 2 + 1), dtype=complex)
    spectrum[index] = scipy.fft.rfft(rows, axis=1, workers=-1)
    return scipy.fft.fft(spectrum, axis=0, workers=-1, overwrite_x=True)


def _split(full, core, component):
    """``full`` normalised to sum 1, or its ``core`` part or the rest, on the same normalisation."""
    total = full.sum()
    if component == "full":
        return full / total
    core = core / total
    if component == "core":
        return core
    return np.maximum(full / total - core, 0.0)


def detector_psf(entrance, focal, backend, component="full"):
    """
    The composite PSF on the full detector, exactly as the model defines it, or one of its `COMPONENTS`.

    ``|FFT2(FFT2(E) FFT2(F))| / N^2`` followed by ``fftshift``: the circular convolution of the two mesh
    PSFs, reflected through the centre, with its peak on pixel ``[N/2, N/2]``. Here it is computed as
    ``irfft2(conj(rfft2(E) rfft2(F0)))`` with ``F0`` the focal-plane PSF moved to the origin, which is the
    same array (for even N the fftshift and the origin shift of ``F`` cancel). The core is the same
    composition of the two core terms alone, divided by the sum of the full PSF; the diffraction part is
    the full PSF less the core.
    """
    size = DETECTOR_SIZE
    shape = (size, size)
    xp = backend.xp

    def compose(spikes):
        spectrum = backend.rfft2(backend.asarray(entrance.render(shape, (size // 2, size // 2), spikes=spikes)))
        spectrum *= backend.asarray(_focal_plane_spectrum(focal, size, spikes))
        xp.conjugate(spectrum, out=spectrum)
        psf = backend.irfft2(spectrum, shape)
        xp.abs(psf, out=psf)
        return backend.asnumpy(psf)

    return _split(compose(True), None if component == "full" else compose(False), component)


def window_psf(entrance, focal, shape, component="full"):
    """
    The composite PSF on a ``shape`` grid centred on pixel ``[ny // 2, nx // 2]``, renormalised to sum 1, or
    one of its `COMPONENTS` on the same normalisation (``full = core + diffraction``).

    The two mesh PSFs keep the detector's normalisation and are convolved linearly (no wrap-around), so for
    a window well inside the detector this is the central crop of `detector_psf`, divided by its sum.
    """
    ny, nx = shape

    def compose(spikes):
        kernel, radius = focal_plane_kernel(focal, spikes=spikes)
        extended = (ny + 2 * radius, nx + 2 * radius)
        pattern = entrance.render(extended, (ny // 2 + radius, nx // 2 + radius), spikes=spikes)
        return np.abs(scipy.signal.fftconvolve(pattern, kernel, mode="valid"))

    return _split(compose(True), None if component == "full" else compose(False), component)
