"""The settings of a batch run: the steps, their order, and the identifier stored in every output."""

import dataclasses
import hashlib
import json

from aiapy.calibrate._interpolate import KERNELS
from aiapy.psf._deconvolve import ACCELERATIONS

__all__ = [
    "STEP_ORDER",
    "DEFAULT_STEPS",
    "POINTING_SOURCES",
    "REGISTER_METHODS",
    "DECONVOLVE_ACCELERATIONS",
    "PrepConfig",
]

#: Every step, in the order SolarSoft applies them (respike and PSF deconvolution act on the level-1
#: CCD grid, so they come before registration; degradation and exposure are scalar and come last).
STEP_ORDER = ("respike", "update_pointing", "deconvolve", "register", "degradation", "exposure")
#: The standard prep (``aia_prep`` + degradation correction + exposure normalisation).
DEFAULT_STEPS = ("update_pointing", "register", "degradation", "exposure")
#: Named sources of the master pointing table; any other value is taken as a table file path.
#: ``header`` keeps the level-1 header pointing (SolarSoft ``aia_prep, /use_hdr_pnt``) and skips
#: update_pointing; ``bundled`` is the small table shipped with aiapy (2010-05-13 00-06 UT only).
POINTING_SOURCES = ("header", "bundled", "jsoc", "lmsal")
#: Interpolation kernels of ``register`` (its registry).
REGISTER_METHODS = tuple(KERNELS)
#: Richardson-Lucy variants of ``deconvolve``.
DECONVOLVE_ACCELERATIONS = ACCELERATIONS


@dataclasses.dataclass(frozen=True)
class PrepConfig:
    """
    The settings of a batch run, validated by `aiapy.pipeline.prep_files`; small and picklable.

    ``steps`` is in `STEP_ORDER`; ``pointing`` is a `POINTING_SOURCES` name or a file path.
    """

    steps: tuple = DEFAULT_STEPS
    pointing: str = "header"
    dtype: str = "float32"
    compress: str | None = None
    uncertainty: bool = False
    overwrite: bool = False
    spikes_dir: str | None = None
    iterations: int = 25
    acceleration: str | None = None
    method: str = "spline"
    order: int = 3
    threads: int | None = None  # threads of register's spline prefilter (None: all cores); not in config_id

    @property
    def active_steps(self):
        """The steps that run: update_pointing is dropped when the header pointing is kept."""
        return tuple(s for s in self.steps if not (s == "update_pointing" and self.pointing == "header"))

    @property
    def config_id(self):
        """A short hash of the settings that change the output bytes; stored in every output header."""
        fields = dataclasses.asdict(self)
        fields.pop("overwrite")
        fields.pop("threads")
        if self.acceleration is None:  # left out, so outputs made before the option existed stay valid
            fields.pop("acceleration")
        fields["steps"] = list(self.active_steps)
        text = json.dumps(fields, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
