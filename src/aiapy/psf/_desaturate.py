"""Desaturation of AIA flare images: the saturated core recovered from its diffraction fringes."""

import dataclasses

import numpy as np
import scipy.fft
from scipy import ndimage

__all__ = ["desaturate_array", "DesaturationResult"]


@dataclasses.dataclass(frozen=True)
class DesaturationResult:
    """What `desaturate_array` found: the repaired image and the figures recorded in the header."""

    image: np.ndarray
    replaced: np.ndarray
    source: np.ndarray
    background: float
    flux: float
    n_core: int
    n_bloom: int
    n_fringe: int
    n_columns: int
    cstat: float
    iterations: int


def _column_windows(flagged):
    """
    Vertical runs of flagged pixels with the one unflagged pixel above and below each (where the spilled
    charge of a bloom ends), merged where they touch.

    Returns ``(columns, starts, stops, closed)``: window ``k`` is rows ``starts[k]:stops[k]`` of column
    ``columns[k]``; ``closed`` is False where a flagged pixel of the window is on the first or last row (charge
    may have left the frame there).
    """
    rows = flagged.shape[0]
    grown = flagged.copy()
    grown[1:] |= flagged[:-1]
    grown[:-1] |= flagged[1:]
    columns, starts, stops = [], [], []
    for column in np.flatnonzero(grown.any(axis=0)):
        edges = np.diff(np.concatenate([[0], grown[:, column].astype(np.int8), [0]]))
        begin, end = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        columns += [column] * begin.size
        starts += begin.tolist()
        stops += end.tolist()
    columns, starts, stops = np.array(columns, int), np.array(starts, int), np.array(stops, int)
    closed = ~((starts == 0) & flagged[0, columns]) & ~((stops == rows) & flagged[rows - 1, columns])
    return columns, starts, stops, closed


class _Blur:
    """Linear convolution by a PSF of a source confined to a box, evaluated on the whole frame, and its adjoint.

    Both are circular FFT products on a grid at least ``frame + box`` large, so nothing wraps.
    """

    def __init__(self, psf, frame, box, dtype):
        (rows, cols), (r0, r1, c0, c1) = frame, box
        self.box, self.frame = box, frame
        grid = (scipy.fft.next_fast_len(rows + r1 - r0, real=True), scipy.fft.next_fast_len(cols + c1 - c0, real=True))
        self.grid = grid
        centre = (psf.shape[0] // 2, psf.shape[1] // 2)
        # offsets (frame pixel - source pixel) that occur: from -(r1 - 1 - ... ) to rows - 1 - r0
        dr = np.arange(-(r1 - 1), rows - r0)
        dc = np.arange(-(c1 - 1), cols - c0)
        dr, dc = dr[np.abs(dr) <= centre[0] - 1], dc[np.abs(dc) <= centre[1] - 1]
        kernel = np.zeros(grid, dtype)
        kernel[np.ix_(dr % grid[0], dc % grid[1])] = psf[np.ix_(dr + centre[0], dc + centre[1])]
        self.transfer = scipy.fft.rfft2(kernel, workers=-1)
        self.rows = (np.arange(rows) - r0) % grid[0]
        self.cols = (np.arange(cols) - c0) % grid[1]
        self.dtype = dtype

    def forward(self, source):
        """The frame lit by ``source`` (the box's pixels)."""
        r0, r1, c0, c1 = self.box
        padded = np.zeros(self.grid, self.dtype)
        padded[: r1 - r0, : c1 - c0] = source
        image = scipy.fft.irfft2(scipy.fft.rfft2(padded, workers=-1) * self.transfer, s=self.grid, workers=-1)
        return image[np.ix_(self.rows, self.cols)]

    def adjoint(self, image):
        """The box's pixels weighted by how much of their light each frame pixel of ``image`` receives."""
        r0, r1, c0, c1 = self.box
        padded = np.zeros(self.grid, self.dtype)
        padded[np.ix_(self.rows, self.cols)] = image
        back = scipy.fft.irfft2(
            scipy.fft.rfft2(padded, workers=-1) * np.conj(self.transfer), s=self.grid, workers=-1
        )
        return back[: r1 - r0, : c1 - c0]


def _fill(values, known, scales=(1.5, 4.0, 12.0, 36.0)):
    """``values`` where ``known``, elsewhere normalised Gaussian averages of the known values at growing scales."""
    out = np.where(known, values, 0).astype(values.dtype)
    todo = ~known
    weights = known.astype(values.dtype)
    for sigma in scales:
        if not todo.any():
            break
        num = ndimage.gaussian_filter(out * weights, sigma, mode="nearest", truncate=3.0)
        den = ndimage.gaussian_filter(weights, sigma, mode="nearest", truncate=3.0)
        ok = todo & (den > 0.05)
        out[ok] = num[ok] / den[ok]
        todo &= ~ok
    if todo.any():
        out[todo] = values[known].mean()
    return out


def _row_fill(data, valid, replaced):
    """Replaced pixels linearly interpolated along their row between the nearest valid pixels on each side."""
    out = np.where(replaced, 0, data).astype(data.dtype)
    columns = np.arange(data.shape[1])
    for row in np.flatnonzero(replaced.any(axis=1)):
        good = valid[row]
        if not good.any():
            continue
        todo = replaced[row]
        out[row, todo] = np.interp(columns[todo], columns[good], data[row, good])
    return out


def desaturate_array(
    data,
    flagged,
    psf,
    diffraction,
    *,
    iterations=60,
    dn_per_photon=1.0,
    read_noise=1.15,
    full_well=16383.0,
    ring=6,
    charge_conservation=True,
    support_level=1.0,
):
    """Array kernel of `aiapy.psf.desaturate` (see there for the method)."""
    dtype = np.float32
    data = np.asarray(data, dtype)
    finite = np.isfinite(data)
    columns, starts, stops, closed = _column_windows(flagged)
    windows = np.zeros(flagged.shape, bool)
    for c, a, b in zip(columns, starts, stops, strict=True):
        windows[a:b, c] = True
    replaced = flagged | windows
    valid = finite & ~replaced
    rows, cols = np.nonzero(flagged)
    box = (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1)
    inside = flagged[box[0] : box[1], box[2] : box[3]]
    full = _Blur(psf, data.shape, box, dtype)
    fringe_op = _Blur(diffraction, data.shape, box, dtype)
    far = ndimage.distance_transform_edt(~flagged) > ring
    noise = np.sqrt(dn_per_photon * np.maximum(np.where(finite, data, 0), 0) + read_noise**2)
    use = closed & np.array([finite[a:b, c].all() for c, a, b in zip(columns, starts, stops, strict=True)], bool)
    if not charge_conservation:
        use[:] = False
    observed = np.array([data[a:b, c].sum(dtype=float) for c, a, b in zip(columns, starts, stops, strict=True)])
    windows_used = np.zeros(flagged.shape, dtype)
    for c, a, b in zip(columns[use], starts[use], stops[use], strict=True):
        windows_used[a:b, c] = 1

    def window_sums(image):
        cumulative = np.concatenate([np.zeros((1, image.shape[1])), np.cumsum(image, axis=0, dtype=float)])
        return cumulative[stops, columns] - cumulative[starts, columns]

    # the scene under the bloom continued along each row from both sides; the flare's excess comes on top
    floor = _row_fill(data, valid, replaced)
    excess = np.where(inside, np.maximum(full_well - floor[box[0] : box[1], box[2] : box[3]], 1.0), 0).astype(dtype)
    fit = None
    for stage in range(2):
        # fringe pixels: unflagged, away from the flagged region, where the source's diffraction is above noise
        fit = valid & far & (fringe_op.forward(excess) > 0.5 * noise)
        known = valid & ~fit
        background = _fill(np.where(known, data - full.forward(excess), 0).astype(dtype), known)
        background = np.where(replaced, floor, background).astype(dtype)
        if stage == 0:
            # first guess: the back-projection of the fringes (correlation with the diffraction pattern)
            guess = fringe_op.adjoint(np.where(fit, data - background, 0)) / np.maximum(
                fringe_op.adjoint(fit.astype(dtype)), 1e-12
            )
            excess = np.where(inside, np.maximum(guess, 0) + 1.0, 0).astype(dtype)
        target = observed[use]
        base = window_sums(background)[use]
        denominator = np.maximum(full.adjoint(fit.astype(dtype) + windows_used), 1e-12)
        for _ in range(iterations):
            lit = full.forward(excess)
            ratio = np.where(fit, data / np.maximum(lit + background, 1e-3), 0).astype(dtype)
            factors = target / np.maximum(window_sums(lit)[use] + base, 1e-3)
            for c, a, b, f in zip(columns[use], starts[use], stops[use], factors, strict=True):
                ratio[a:b, c] = f
            excess = np.where(inside, excess * full.adjoint(ratio) / denominator, 0).astype(dtype)
        if stage == 0 and support_level is not None:
            # sparsity: keep the excess only where the estimate is at least support_level x the full well
            estimate = (full.forward(excess) + background)[box[0] : box[1], box[2] : box[3]]
            level = max(full_well, support_level * float(estimate[inside].max()))
            inside = ndimage.binary_dilation(estimate >= level) & inside
            excess = np.where(inside, excess, 0).astype(dtype)
    lit = full.forward(excess)
    image = np.where(replaced, floor + lit, data)
    # charge conservation, exactly: each closed window holds the charge read out in it
    found = window_sums(image)
    for c, a, b, z, f in zip(columns[use], starts[use], stops[use], observed[use], found[use], strict=True):
        image[a:b, c] *= z / f
    return image, replaced, excess, background, fit
