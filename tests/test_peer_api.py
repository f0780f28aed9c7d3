"""aiapy 0.12's public names (PEER-API.md section 1) import here and take aiapy 0.12's call shapes.

Names that aiapy does not provide, or provides differently, are listed with the reason in
``docs/differences.md``; they are deliberately not imported here.
"""

import importlib
import inspect

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.time import Time

T2015 = Time("2015-01-01T00:00:00", scale="utc")

# (module, name) pairs of aiapy 0.12 that work here; the call shapes are tested below.
PEER_NAMES = [
    ("aiapy", "__version__"),
    ("aiapy", "__citation__"),
    ("aiapy", "__bibtex__"),
    ("aiapy", "_SSW_MIRRORS"),
    ("aiapy.calibrate", "register"),
    ("aiapy.calibrate", "correct_degradation"),
    ("aiapy.calibrate", "degradation"),
    ("aiapy.calibrate", "estimate_error"),
    ("aiapy.calibrate", "update_pointing"),
    ("aiapy.calibrate", "respike"),
    ("aiapy.calibrate", "fetch_spikes"),
    ("aiapy.calibrate", "spikes"),
    ("aiapy.calibrate", "uncertainty"),
    *[
        (module, name)
        for module in ("aiapy.calibrate.utils", "aiapy.calibrate.util")
        for name in ("LATEST_CORRECTION_VERSION", "get_correction_table", "get_pointing_table", "get_error_table")
    ],
    ("aiapy.psf", "calculate_psf"),
    ("aiapy.psf", "psf"),
    ("aiapy.psf", "filter_mesh_parameters"),
    ("aiapy.psf", "deconvolve"),
    ("aiapy.response", "Channel"),
    *[
        (module, name)
        for module in ("aiapy.utils", "aiapy.util")
        for name in (
            "telescope_number", "sdo_location", "check_quality_flag", "validate_channel",
            "AIApyWarning", "AIApyUserWarning", "AiapyWarning", "AiapyUserWarning",
        )
    ],  # fmt: skip
    ("aiapy.utils.decorators", "validate_channel"),
    *[
        ("aiapy.data.sample", name)
        for name in ("AIA_094_IMAGE", "AIA_171_IMAGE", "AIA_193_IMAGE", "file_dict", "file_list", "download_all")
    ],
]


@pytest.mark.parametrize(("module", "name"), PEER_NAMES, ids=[f"{m}.{n}" for m, n in PEER_NAMES])
def test_peer_name_imports(module, name):
    assert getattr(importlib.import_module(module), name) is not None


def test_package_metadata():
    import aiapy

    assert "Barnes" in aiapy.__citation__ and aiapy.__bibtex__ == aiapy.__citation__
    assert aiapy._SSW_MIRRORS[:2] == ["https://soho.nascom.nasa.gov/solarsoft/", "https://hesperia.gsfc.nasa.gov/ssw/"]


def test_calibrate_call_shapes():
    from aiapy.calibrate import correct_degradation, degradation, estimate_error, register
    from aiapy.data.sample import AIA_094_IMAGE

    smap = sunpy.map.Map(AIA_094_IMAGE)
    assert register(smap, missing=None, order=3, method="scipy").meta["lvl_num"] == 1.5
    corrected = correct_degradation(smap, correction_table=None, calibration_version=10)
    factor = degradation(94 * u.AA, smap.date, correction_table=None, calibration_version=10)
    assert factor.shape == (1,)  # a scalar time gives shape (1,), as aiapy 0.12
    np.testing.assert_allclose(corrected.data, smap.data / factor.value[0], rtol=1e-6)
    error = estimate_error(
        10 * u.DN / u.pix, 94 * u.AA, n_sample=1, include_preflight=False, include_eve=False,
        include_chianti=False, error_table=None, compare_idl=True,
    )  # fmt: skip
    assert error.shape == (1,) and error.unit == u.DN / u.pix
    assert error.value[0] == pytest.approx(4.6030678176, rel=1e-9)  # PEER-API 3.2 F, compare_idl


@pytest.mark.parametrize(
    ("function", "args", "kwargs"),
    [
        ("update_pointing", ("smap",), {"pointing_table": None}),
        ("respike", ("smap",), {"spikes": None}),
        ("fetch_spikes", ("smap",), {"as_coords": False}),
    ],
)
def test_network_call_shapes_bind(function, args, kwargs):
    """These reach the JSOC by default; their call shapes bind (the calls are tested in their modules): each
    argument lands on the parameter of aiapy 0.12's name."""
    import aiapy.calibrate

    bound = inspect.signature(getattr(aiapy.calibrate, function)).bind(*args, **kwargs)
    assert bound.arguments == {"smap": "smap", **kwargs}


@pytest.mark.parametrize("module", ["aiapy.calibrate.utils", "aiapy.calibrate.util"])
def test_table_call_shapes(module):
    utils = importlib.import_module(module)
    assert utils.LATEST_CORRECTION_VERSION == 10
    assert {"T_START", "EFF_AREA", "VER_NUM"} <= set(utils.get_correction_table().colnames)
    assert len(utils.get_error_table()) == 10
    with pytest.raises(ValueError, match="correction_table"):
        utils.get_correction_table(-1)
    with pytest.raises(TypeError):
        utils.get_error_table(-1)
    with pytest.raises(ValueError, match="time_range"):
        utils.get_pointing_table("jsoc")


def test_psf_call_shapes():
    from aiapy.data.sample import AIA_094_IMAGE
    from aiapy.psf import calculate_psf, deconvolve, filter_mesh_parameters

    psf = calculate_psf(94 * u.AA, use_preflightcore=True, diffraction_orders=[-1, 0, 1])
    assert psf.shape == (4096, 4096) and psf.dtype == np.float64
    assert psf.max() == pytest.approx(0.126354160235264, rel=1e-9)  # PEER-API 3.2 G, test-fixture PSF
    parameters = filter_mesh_parameters(use_preflightcore=False)[94 * u.angstrom]
    keys = {"angle_arm", "error_angle_arm", "spacing_e", "mesh_pitch", "mesh_width", "spacing_fp", "width", "CDELT"}
    assert keys <= set(parameters)
    smap = sunpy.map.Map(AIA_094_IMAGE)
    assert deconvolve(smap, psf=None, iterations=25, clip_negative=True).data.shape == smap.data.shape


def test_channel_call_shapes():
    from aiapy.response import Channel

    channel = Channel(94 * u.AA, instrument_file=None)
    assert channel.name == "94" and channel.telescope_number == 4 and not channel.is_fuv
    for name in (
        "channel", "wavelength", "primary_reflectance", "secondary_reflectance", "focal_plane_filter_efficiency",
        "entrance_filter_efficiency", "quantum_efficiency", "contamination", "geometrical_collecting_area",
        "plate_scale", "effective_area", "crosstalk", "gain",
    ):  # fmt: skip
        assert isinstance(getattr(channel, name), u.Quantity), name
    # The tables are positional in aiapy 0.12's eve_correction; PEER-API 3.2 D (SSW V10): 0.9548415.
    assert channel.eve_correction(T2015, None, 10).value == pytest.approx(0.9548415, rel=1e-6)
    response = channel.wavelength_response(
        obstime=T2015, include_eve_correction=True, include_crosstalk=True, correction_table=None,
        calibration_version=10,
    )  # fmt: skip
    assert response.unit == u.cm**2 * u.DN / u.ph


@pytest.mark.parametrize("module", ["aiapy.utils", "aiapy.util"])
def test_utils_call_shapes(module):
    from astropy.utils.exceptions import AstropyWarning

    utils = importlib.import_module(module)
    assert utils.telescope_number(94 * u.AA) == 4
    assert utils.check_quality_flag(0) == ["nominal"]
    assert issubclass(utils.AIApyUserWarning, UserWarning) and issubclass(utils.AIApyWarning, AstropyWarning)
    assert utils.AiapyUserWarning is utils.AIApyUserWarning
    assert inspect.signature(utils.sdo_location).bind("2011-01-01").arguments == {"time": "2011-01-01"}
    echo = utils.validate_channel("channel", valid_channels="all")(lambda channel: channel)
    assert echo(17.1 * u.nm).unit == u.nm
