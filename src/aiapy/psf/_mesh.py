"""The entrance-filter and focal-plane-filter mesh parameters of the seven EUV channels.

Values from Grigis et al. (2012), Table 2, as tabulated by SolarSoft's ``aia_getmeshinfo.pro``.
"""

import astropy.units as u

from aiapy.utils.constants import MESH_TRANSMISSION

__all__ = ["filter_mesh_parameters", "MESH_PITCH", "MESH_WIDTH", "MESH_TRANSMISSION"]

#: Pitch of the Ni mesh that supports every filter (70 lines per inch).
MESH_PITCH = 363.0 * u.um
#: Width of one mesh wire.
MESH_WIDTH = 34.0 * u.um

# channel: (entrance-filter arm angles [deg], their errors [deg], spacing_e [px], spacing_fp [px],
#           preflight core width [px^-2], CDELT [arcsec/px])
_TABLE = {
    94: ((49.81, 40.16, -40.28, -49.92), (0.02, 0.02, 0.02, 0.02), 8.99, 0.207, 0.951, 0.600109),
    131: ((50.27, 40.17, -39.70, -49.95), (0.02, 0.02, 0.02, 0.02), 12.37, 0.289, 1.033, 0.600698),
    171: ((49.81, 39.57, -40.13, -50.38), (0.02, 0.02, 0.02, 0.02), 16.26, 0.377, 0.962, 0.599489),
    193: ((49.82, 39.57, -40.12, -50.37), (0.02, 0.02, 0.03, 0.04), 18.39, 0.425, 1.512, 0.600758),
    211: ((49.78, 40.08, -40.34, -49.95), (0.02, 0.02, 0.02, 0.02), 19.97, 0.465, 1.199, 0.600758),
    304: ((49.76, 40.18, -40.14, -49.90), (0.02, 0.02, 0.02, 0.02), 28.87, 0.670, 1.247, 0.600165),
    335: ((50.40, 39.80, -39.64, -50.25), (0.02, 0.02, 0.02, 0.02), 31.83, 0.738, 0.962, 0.600737),
}
#: Core coefficient used by default in every channel ("within error budget limits, optimised by visual
#: evaluation", aia_calc_psf.pro).
DEFAULT_CORE_WIDTH = 4.5


def filter_mesh_parameters(*, use_preflightcore=False):
    """
    Geometric parameters of the meshes that diffract light in each EUV channel.

    Parameters
    ----------
    use_preflightcore : bool
        If True, ``width`` is the preflight core coefficient of each channel (built from the component
        error budget); otherwise the default 4.5 in every channel.

    Returns
    -------
    dict
        Keyed by channel (``94 * u.angstrom`` ... ``335 * u.angstrom``). Each value is a dict with

        ``angle_arm`` : `~astropy.units.Quantity` (4,), deg
            Angles of the four diffraction arms of the entrance filter, from the +x (column) axis.
        ``error_angle_arm`` : `~astropy.units.Quantity` (4,), deg
            Their measurement errors.
        ``spacing_e`` : `~astropy.units.Quantity`, pix
            Distance between successive diffraction orders of the entrance filter.
        ``spacing_fp`` : `~astropy.units.Quantity`, pix
            The same for the focal-plane filter, whose two arms are at +45 and -45 deg.
        ``mesh_pitch``, ``mesh_width`` : `~astropy.units.Quantity`, um
            Mesh pitch (363 um) and wire width (34 um); their ratio sets the order intensities.
        ``width`` : `~astropy.units.Quantity`, pix
            Coefficient ``w`` of the Gaussians ``exp(-w r^2)`` that make the core and every spike
            (a coefficient in px^-2, not a standard deviation; the unit follows SolarSoft).
        ``CDELT`` : `~astropy.units.Quantity` (2,), arcsec
            Nominal plate scale of the channel.

    Notes
    -----
    Measured from flare images of 2010-10-16 (image, then reference image): 94 AIA20101016_191039_0094 /
    190903; 131 191035 / 190911; 171 191037 / 190901; 193 191056 / 190844; 211 191038 / 190902;
    304 191021 / 190845; 335 191041 / 190905.

    References
    ----------
    .. [1] Grigis, P., Su, Y., Weber, M. et al. 2012, "AIA PSF Characterization and Deconvolution",
       SolarSoft ``sdo/aia/idl/psf/DOC/psfreport.pdf``, Table 2.
    .. [2] SolarSoft ``aia_getmeshinfo.pro``.

    Examples
    --------
    >>> import astropy.units as u
    >>> filter_mesh_parameters()[171 * u.AA]["spacing_e"]
    <Quantity 16.26 pix>
    """
    parameters = {}
    for channel, (angles, errors, spacing_e, spacing_fp, preflight_width, cdelt) in _TABLE.items():
        width = preflight_width if use_preflightcore else DEFAULT_CORE_WIDTH
        parameters[channel * u.angstrom] = {
            "angle_arm": angles * u.deg,
            "error_angle_arm": errors * u.deg,
            "spacing_e": spacing_e * u.pix,
            "mesh_pitch": MESH_PITCH,
            "mesh_width": MESH_WIDTH,
            "spacing_fp": spacing_fp * u.pix,
            "width": width * u.pix,
            "CDELT": [cdelt, cdelt] * u.arcsec,
        }
    return parameters
