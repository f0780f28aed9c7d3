"""Desaturation of AIA flare images: the saturated core recovered from its diffraction fringes."""

import copy
import dataclasses
import logging
import time

import astropy.units as u
import numpy as np
import scipy.fft
from scipy import ndimage
from sunpy.map import GenericMap

from aiapy.psf._calculate import calculate_psf
from aiapy.psf._mesh import filter_mesh_parameters
from aiapy.utils.channels import EUV_CHANNELS, check_channel
from aiapy.utils.exceptions import warn_user
from aiapy.utils.maps import add_history, check_level1, refresh_statistics
from aiapy.utils.options import Options, option
from aiapy.utils.pixelflags import PixelFlag, pixel_flags

__all__ = ["desaturate", "desaturate_array", "Desaturation", "DesaturateOptions", "MIN_ORDERS"]

log = logging.getLogger(__name__)

#: The cutout must hold the fringes of at least this many diffraction orders on every side of the saturated
#: region (``MIN_ORDERS x spacing_e`` pixels, 81 px at 171 A).
MIN_ORDERS = 5
#: Desaturation works on the flagged region's bounding box widened by this many pixels on each side (clipped to
#: the frame): enough for the fringes of 15 orders at 171 A, and a bounded PSF for a full 4096 x 4096 frame.
WINDOW_MARGIN = 256
# electrons per eV of photon energy in silicon (1 / 3.65 eV)
_EV_PER_ELECTRON = 3.65
# nominal camera gain (e-/DN) when the header has no DN_GAIN
_NOMINAL_GAIN = 17.7


@dataclasses.dataclass(frozen=True, kw_only=True)
class DesaturateOptions(Options):
    """
    The options of `desaturate`, validated: what its keywords build, and what the batch pipeline composes into
    its configuration.

    Examples
    --------
    >>> from aiapy.psf import DesaturateOptions
    >>> DesaturateOptions(iterations=80).support_level
    0.1
    """

    iterations: int = option(60, help="EM iterations of each of desaturate's two stages")
    charge_conservation: bool = option(
        True, help="impose the charge read out in each bloomed column run (bloom conserves charge)"
    )
    support_level: float | None = option(
        0.1, help="second stage: the excess kept where the estimate is >= max(full well, this x its peak)"
    )

    def _validate(self):
        iterations = self.iterations
        if not isinstance(iterations, int | np.integer) or isinstance(iterations, bool) or iterations < 1:
            raise ValueError(f"iterations must be a positive integer; got {iterations!r}.")
        object.__setattr__(self, "iterations", int(iterations))
        if not isinstance(self.charge_conservation, bool | np.bool_):
            raise TypeError(f"charge_conservation must be True or False; got {self.charge_conservation!r}.")
        object.__setattr__(self, "charge_conservation", bool(self.charge_conservation))
        level = self.support_level
        if level is not None:
            if isinstance(level, bool) or not isinstance(level, float | int | np.floating | np.integer):
                raise ValueError(f"support_level must be None or in [0, 1); got {level!r}.")
            if not 0 <= level < 1:
                raise ValueError(f"support_level must be None or in [0, 1); got {level!r}.")
            object.__setattr__(self, "support_level", float(level))


@dataclasses.dataclass(frozen=True)
class Desaturation:
    """What `desaturate_array` found: the repaired image and the figures recorded in the header."""

    #: The image with the flagged pixels and the ends of their bloom replaced.
    image: np.ndarray
    #: The pixels replaced (flagged, and the one pixel above and below each flagged column run).
    replaced: np.ndarray
    #: Pixels of the flare's excess (the primary saturated region the fringes were fitted with).
    core: np.ndarray
    #: The fringe pixels fitted.
    fringe: np.ndarray
    #: Median background under the fitted fringes (DN).
    background: float
    #: Reduced Cash C-statistic of the fringe fit (about 1 for a good fit of Poisson counts).
    cstat: float
    #: Column windows whose read-out charge was imposed (closed: none on the frame's first or last row).
    columns: int


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
    ring=10,
    charge_conservation=True,
    support_level=0.1,
    missing=None,
):
    """
    Array kernel of `desaturate` (see there for the method).

    Parameters
    ----------
    data : (rows, columns) array
        Level-1 image in DN, CCD columns along axis 0.
    flagged : (rows, columns) bool array
        Saturated or bloomed pixels (at least one).
    psf, diffraction : (2 rows, 2 columns) arrays
        The full PSF and its diffraction part, centred on ``[rows, columns]`` (every offset between two
        pixels of the image is in them).
    iterations : int
        EM iterations of each of the two stages.
    dn_per_photon, read_noise : float
        Noise model (DN per photon, DN) that selects the fringe pixels above the noise.
    full_well : float
        Value of a full pixel (DN; the 14-bit ceiling by default): the first guess of the flagged pixels, and
        the least value of the second stage's support. (The channel's level-1 detection level,
        `aiapy.utils.saturation.SATURATION_LEVEL`, was tried: L1 0.14-0.35 on the synthetic flares against
        0.13-0.22.)
    ring : int
        Unflagged pixels within this distance (px) of a flagged one are not fitted.
    charge_conservation : bool
        Impose that each column run of flagged pixels, with the pixel above and below it, holds the charge
        read out in it.
    support_level : float or None
        After the first stage the excess is kept only where the estimate is at least
        ``max(full_well, support_level x its maximum)`` (dilated by a pixel); None keeps all flagged pixels.
    missing : (rows, columns) bool array, optional
        Pixels without a measurement (also NaN data); never used and never replaced.

    Returns
    -------
    Desaturation
    """
    dtype = np.float32
    data = np.asarray(data, dtype)
    finite = np.isfinite(data) if missing is None else np.isfinite(data) & ~missing
    columns, starts, stops, closed = _column_windows(flagged)
    windows = np.zeros(flagged.shape, bool)
    for c, a, b in zip(columns, starts, stops, strict=True):
        windows[a:b, c] = True
    replaced = flagged | windows
    valid = finite & ~replaced
    rows, cols = np.nonzero(flagged)
    box = (int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1)
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
            ratio = np.where(fit, np.maximum(data, 0) / np.maximum(lit + background, read_noise), 0).astype(dtype)
            factors = target / np.maximum(window_sums(lit)[use] + base, 1e-3)
            for c, a, b, f in zip(columns[use], starts[use], stops[use], factors, strict=True):
                ratio[a:b, c] = f
            excess = np.where(inside, excess * full.adjoint(ratio) / denominator, 0).astype(dtype)
        if stage == 0 and support_level is not None:
            # sparsity: keep the excess only where the estimate reaches max(full well, support_level x its peak)
            estimate = (full.forward(excess) + background)[box[0] : box[1], box[2] : box[3]]
            level = max(full_well, support_level * float(estimate[inside].max()))
            inside = ndimage.binary_dilation(estimate >= level) & inside
            excess = np.where(inside, excess, 0).astype(dtype)
    if not np.all(np.isfinite(excess)):
        raise ValueError("desaturate: the fit of the fringes diverged (non-finite values).")
    lit = full.forward(excess)
    model = lit + background
    counts, expected = np.maximum(data[fit], 0) / dn_per_photon, np.maximum(model[fit], 1e-3) / dn_per_photon
    cash = 2 * np.sum(expected - counts + counts * np.log(np.maximum(counts, 1e-12) / expected))
    replaced &= finite | flagged
    image = np.where(replaced, floor + lit, data)
    # charge conservation, exactly: each closed window holds the charge read out in it
    found = window_sums(image)
    for c, a, b, z, f in zip(columns[use], starts[use], stops[use], observed[use], found[use], strict=True):
        if f > 0:
            image[a:b, c] *= z / f
    core = np.zeros(flagged.shape, bool)
    core[box[0] : box[1], box[2] : box[3]] = inside & (excess > 0)
    return Desaturation(
        image=image,
        replaced=replaced,
        core=core,
        fringe=fit,
        background=float(np.median(background[fit])) if fit.any() else float("nan"),
        cstat=float(cash / max(int(fit.sum()), 1)),
        columns=int(use.sum()),
    )


def _flags(smap, mask):
    """(flagged, missing) boolean arrays: from ``mask``, else the map's own flags, else `saturation_mask`'s."""
    shape = smap.data.shape
    missing = pixel_flags(smap) & PixelFlag.MISSING != 0
    if mask is None:
        own = pixel_flags(smap)
        if (own & (PixelFlag.SATURATED | PixelFlag.BLOOM)).any():
            return own & (PixelFlag.SATURATED | PixelFlag.BLOOM) != 0, missing
        from aiapy.calibrate.saturation import flag_saturation  # noqa: PLC0415 - calibrate imports the PSF package

        return flag_saturation(smap, function="desaturate") != 0, missing
    mask = np.asarray(mask)
    if mask.shape != shape or mask.dtype.kind not in "biu":
        raise TypeError(
            f"mask must be a boolean or PixelFlag (uint8) array of the data's shape {shape}; "
            f"got {mask.dtype} {mask.shape}."
        )
    if mask.dtype.kind == "b":
        return mask & ~missing, missing
    return (mask & (PixelFlag.SATURATED | PixelFlag.BLOOM) != 0) & ~missing, missing | (mask & PixelFlag.MISSING != 0)


def _in_frame(part, window, data):
    """A `Desaturation` of a window of ``data`` put back into the whole frame."""

    def whole(array, fill):
        out = np.full(data.shape, fill, dtype=array.dtype)
        out[window] = array
        return out

    image = data.copy()
    image[window] = part.image
    return dataclasses.replace(
        part,
        image=image,
        replaced=whole(part.replaced, False),
        core=whole(part.core, False),
        fringe=whole(part.fringe, False),
    )


def _keyword(meta, key, value, comment):
    """Set ``meta[key]`` with its FITS comment."""
    meta[key] = value
    comments = dict(meta.get("keycomments", {}))
    comments[key.upper()] = comment
    meta["keycomments"] = comments


def _check_size(flagged, shape, spacing):
    """Refuse a frame that cannot hold ``MIN_ORDERS`` orders of fringes around the flagged region."""
    reach = int(np.ceil(MIN_ORDERS * spacing))
    rows, cols = np.nonzero(flagged)
    width = int(cols.max() - cols.min() + 1)
    centre = (float(np.median(rows)), float(np.median(cols)))
    need = 2 * reach + width
    room = min(centre[0], shape[0] - 1 - centre[0], centre[1], shape[1] - 1 - centre[1])
    if min(shape) < need or room < reach + width / 2:
        raise ValueError(
            f"desaturate: the frame is {shape[0]} x {shape[1]} px, too small for the diffraction fringes: it needs "
            f"the fringes of {MIN_ORDERS} orders ({MIN_ORDERS} x {spacing:.2f} px) on every side of the "
            f"{int(flagged.sum())} saturated/bloomed pixels, a cutout of at least {need} x {need} px centred on them "
            f"(their centre is at row {centre[0]:.0f}, column {centre[1]:.0f})."
        )


def desaturate(
    smap,
    *,
    psf=None,
    mask=None,
    iterations=None,
    charge_conservation=True,
    support_level=0.1,
):
    """
    Recover the saturated core of a flare image from its diffraction fringes, and repair its bloom.

    Parameters
    ----------
    smap : `~sunpy.map.sources.AIAMap`
        A level-1 AIA EUV image (full frame or cutout) in DN, not registered (CCD columns along the array's
        first axis), with the flare's fringes in the frame. It is not modified.
    psf : (2 rows, 2 columns) array, optional
        The full PSF on a grid at least twice the frame's size, centred on ``[rows // 2, columns // 2]``. Its
        diffraction part is taken as the PSF beyond 3 px of its centre. Default: `calculate_psf` on twice the
        working window (below) and its ``component="diffraction"``.
    mask : (rows, columns) array, optional
        The saturated and bloomed pixels: booleans, or `~aiapy.utils.PixelFlag` bits (``SATURATED`` and
        ``BLOOM`` are replaced, ``MISSING`` never used). Default: the map's own flags if it carries any, else
        `aiapy.calibrate.saturation_mask`.
    iterations : int, optional
        EM iterations of each of the two stages (default 60). The keywords other than ``psf`` and ``mask`` are
        checked together as a `DesaturateOptions` (the batch pipeline passes one's ``as_dict()``).
    charge_conservation : bool
        Impose that each column run of flagged pixels, with the pixel that ends it above and below, holds the
        charge read out there (bloom moves charge along the column without losing it). Runs that touch the
        first or last row of the frame (charge may have left it) are not constrained. False fits the fringes
        alone.
    support_level : float or None
        Sparsity of the primary saturated region: after the first stage the flare's excess is kept only where
        the estimate is at least ``max(full well, support_level x its peak)``. None keeps every flagged pixel.

    Returns
    -------
    `~sunpy.map.GenericMap`
        A new map: float32 data with the flagged pixels, and the pixel ending each of their column runs,
        replaced; every other pixel is unchanged. The mask (flags) is kept: the replaced pixels are model
        values, not measurements. The header gets a HISTORY line and ``DESATFLX`` (DN restored to the
        recovered core: its new values less what it read out; with charge conservation the bloom gives up
        the same amount), ``DESATTOT`` (DN in the replaced pixels), ``DESATBKG`` (median background under the
        fitted fringes, DN),
        ``DESATNCO``/``DESATNBL``/``DESATNSP``/``DESATNFR`` (pixels of the fitted core, of the rest of the
        flagged region, of run ends, and fringe pixels fitted), ``DESATNCL`` (columns whose charge was
        imposed), ``DESATCST`` (reduced Cash statistic of the fringe fit) and ``DESATITR``.

    Raises
    ------
    TypeError
        For an object that is not a 2-D map, or a ``mask``/``psf`` of the wrong kind.
    ValueError
        For a map that is not level 1 (registration resamples the CCD columns along which charge blooms and
        shifts the fringes off the PSF's grid), not of an EUV channel, a frame too small to hold
        ``MIN_ORDERS`` orders of fringes around the saturated region (the message gives the size needed), a
        ``psf`` of the wrong shape, or fringes that are nowhere above the noise.

    Warns
    -----
    `~aiapy.utils.exceptions.AIApyUserWarning`
        When no pixel is saturated: the map is returned unchanged but for a HISTORY note.

    Notes
    -----
    The PSF of AIA (Grigis et al. 2012) is a core, the two filter meshes' undiffracted light (67 %), plus
    the diffraction of the entrance-filter mesh into four arms of spikes, copies of the source at multiples of
    ``spacing_e`` along each arm. In a flare the core saturates and its charge blooms along CCD columns, but
    its fringes fall on unsaturated pixels (Schwartz et al. 2014; Torre et al. 2015). With ``F`` the fringe
    pixels (unflagged, beyond 10 px of a flagged pixel, where the diffraction of the current estimate is above
    half the noise), the image is modelled as ``y = P * x + b``, ``x >= 0`` confined to the flagged pixels, and
    ``b`` the rest of the scene, interpolated into ``F`` from the unflagged pixels around it. ``x`` is the
    maximum-likelihood (Poisson) solution found by expectation maximisation (Richardson-Lucy restricted to
    ``F``), as in DESAT (Schwartz et al. 2015), with these additions:

    - charge conservation: each closed column window ``W`` of flagged pixels plus the pixel ending it above and
      below adds the datum ``sum_W y = sum_W (P * x + b)`` to the likelihood, and is imposed exactly at the end
      by scaling the window's replaced values;
    - the background under the flagged pixels is the scene continued along each CCD row from its unflagged
      neighbours on both sides (bloom runs along columns); ``x`` is the flare's excess above it;
    - a first guess from the fringes' back-projection (their correlation with the diffraction pattern), and a
      second EM stage on a sparse support: the pixels where the first estimate reaches
      ``max(full well, support_level x peak)`` (sparsity, in the spirit of SE-DESAT, Guastavino et al. 2019).

    The work is done on the flagged pixels' bounding box widened by ``WINDOW_MARGIN`` (256) pixels on each side,
    clipped to the frame (the whole frame for a 512 x 512 cutout around a flare; a bounded problem for a full
    4096 x 4096 frame). The fringes of the frame's own background outside the flagged region are part of
    ``b``. The fringe spacing
    is that of the channel's nominal wavelength; no shift to the flare's dominant line is fitted.

    References
    ----------
    .. [1] Schwartz, R. A., Torre, G., & Piana, M. 2014, ApJL 793, L23.
    .. [2] Schwartz, R. A., Torre, G., Massone, A. M., & Piana, M. 2015, Astronomy and Computing 13, 117 (DESAT).
    .. [3] Torre, G., Schwartz, R. A., Benvenuto, F., Massone, A. M., & Piana, M. 2015, Inverse Problems 31,
       095006.
    .. [4] Guastavino, S., Piana, M., Massone, A. M., Schwartz, R., & Benvenuto, F. 2019, ApJ 882, 109.
    .. [5] Grigis, P., Su, Y., Weber, M. et al. 2012, "AIA PSF Characterization and Deconvolution".
    """
    if not isinstance(smap, GenericMap) or smap.data.ndim != 2:
        raise TypeError(f"desaturate needs a two-dimensional sunpy Map; got {type(smap).__name__}.")
    check_level1(smap, function="desaturate")
    try:
        channel = check_channel(smap.wavelength, EUV_CHANNELS)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"desaturate needs an AIA EUV image ({EUV_CHANNELS}); this map's wavelength is {smap.wavelength}."
        ) from error
    options = DesaturateOptions(
        iterations=DesaturateOptions.iterations if iterations is None else iterations,
        charge_conservation=charge_conservation,
        support_level=support_level,
    )
    iterations, charge_conservation, support_level = (
        options.iterations,
        options.charge_conservation,
        options.support_level,
    )
    flagged, missing = _flags(smap, mask)
    meta = copy.deepcopy(smap.meta)
    shape = smap.data.shape
    if not flagged.any():
        warn_user("desaturate: no saturated or bloomed pixel in this map; it is returned unchanged.")
        meta["desatnco"] = 0
        add_history(meta, "desaturate: no saturated pixels, nothing done")
        return smap._new_instance(smap.data, meta, plot_settings=copy.deepcopy(smap.plot_settings), mask=smap.mask)
    spacing = filter_mesh_parameters()[channel]["spacing_e"].to_value(u.pix)
    _check_size(flagged, shape, spacing)
    rows, cols = np.nonzero(flagged)
    window = np.s_[
        max(int(rows.min()) - WINDOW_MARGIN, 0) : min(int(rows.max()) + 1 + WINDOW_MARGIN, shape[0]),
        max(int(cols.min()) - WINDOW_MARGIN, 0) : min(int(cols.max()) + 1 + WINDOW_MARGIN, shape[1]),
    ]
    grid = (2 * (window[0].stop - window[0].start), 2 * (window[1].stop - window[1].start))
    if psf is None:
        full = calculate_psf(channel, shape=grid)
        diffraction = calculate_psf(channel, shape=grid, component="diffraction")
        words = f"calculate_psf({channel}, shape={grid})"
    else:
        full = np.asarray(psf, dtype=float)
        if full.ndim != 2 or full.shape[0] < grid[0] or full.shape[1] < grid[1]:
            raise ValueError(
                f"psf has shape {full.shape}; desaturate needs it on at least twice the frame's size "
                f"(calculate_psf(channel, shape={(2 * shape[0], 2 * shape[1])})), centred on [rows // 2, columns // 2]."
            )
        top, left = full.shape[0] // 2 - grid[0] // 2, full.shape[1] // 2 - grid[1] // 2
        full = full[top : top + grid[0], left : left + grid[1]]
        diffraction = full.copy()
        diffraction[grid[0] // 2 - 3 : grid[0] // 2 + 4, grid[1] // 2 - 3 : grid[1] // 2 + 4] = 0
        words = "a user-supplied PSF"
    gain = float(meta.get("dn_gain") or _NOMINAL_GAIN)
    dn_per_photon = (1.98644586e-25 / channel.to_value(u.m)) / (_EV_PER_ELECTRON * 1.602176634e-19) / gain
    start = time.perf_counter()
    part = desaturate_array(
        np.asarray(smap.data[window], dtype=np.float32),
        flagged[window],
        full,
        diffraction,
        iterations=int(iterations),
        dn_per_photon=dn_per_photon,
        charge_conservation=charge_conservation,
        support_level=support_level,
        missing=missing[window],
    )
    result = _in_frame(part, window, np.asarray(smap.data, dtype=np.float32))
    if not result.fringe.sum():
        raise ValueError("desaturate: no fringe pixel of the saturated region is above the noise; nothing to fit.")
    log.debug("desaturate: %d flagged pixels in %.2f s", int(flagged.sum()), time.perf_counter() - start)
    total = float(result.image[result.replaced].sum(dtype=float))
    core = result.core
    restored = float(result.image[core].sum(dtype=float) - np.asarray(smap.data, dtype=float)[core].sum())
    meta = refresh_statistics(meta, result.image)
    _keyword(meta, "desatflx", round(restored, 1), "[DN] flux restored to the saturated core by desaturate")
    _keyword(meta, "desattot", round(total, 1), "[DN] flux in the replaced pixels after desaturate")
    _keyword(meta, "desatbkg", round(result.background, 2), "[DN] median background under the fitted fringes")
    _keyword(meta, "desatnco", int(result.core.sum()), "pixels of the recovered saturated core")
    _keyword(meta, "desatnbl", int((flagged & ~result.core).sum()), "other flagged (bloomed) pixels replaced")
    _keyword(meta, "desatnsp", int((result.replaced & ~flagged).sum()), "unflagged pixels ending a bloom, replaced")
    _keyword(meta, "desatnfr", int(result.fringe.sum()), "fringe pixels fitted")
    _keyword(meta, "desatncl", result.columns, "columns whose read-out charge was imposed")
    _keyword(meta, "desatcst", round(result.cstat, 4), "reduced Cash C-statistic of the fringe fit")
    _keyword(meta, "desatitr", int(iterations), "EM iterations per stage")
    add_history(
        meta,
        f"desaturate: {int(flagged.sum())} saturated/bloomed pixels rebuilt from {int(result.fringe.sum())} fringe "
        f"pixels (EM, {iterations} iterations x 2 stages, PSF {words}, charge_conservation={charge_conservation}, "
        f"support_level={support_level}); {restored:.4g} DN restored to the core",
    )
    dtype = smap.data.dtype if smap.data.dtype.kind == "f" else np.float32
    data = result.image.astype(np.promote_types(np.float32, dtype))
    data[missing] = np.nan
    return smap._new_instance(data, meta, plot_settings=copy.deepcopy(smap.plot_settings), mask=smap.mask)
