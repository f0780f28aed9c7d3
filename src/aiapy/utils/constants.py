"""Numbers of the AIA instrument and of its data levels, defined once for every subpackage.

References
----------
.. [1] Lemen et al. (2012), Sol. Phys. 275, 17 (AIA; detector, plate scale, filter meshes).
.. [2] SolarSoft ``aia_reg.pro`` (the level-1.5 reference index: 0.6 arcsec/pix, 4096 x 4096).
"""

__all__ = [
    "PLATE_SCALE",
    "DETECTOR_SIZE",
    "DETECTOR_SHAPE",
    "WCS_ROTATION_KEYS",
    "MESH_TRANSMISSION",
    "LEVEL1",
    "LEVEL15",
]

#: Plate scale in arcsec/pix of level-1 data (nominal) and of the level-1.5 grid (exact).
PLATE_SCALE = 0.6
#: Side of the AIA CCD in pixels.
DETECTOR_SIZE = 4096
#: Shape of a full level-1 or level-1.5 frame, (rows, columns).
DETECTOR_SHAPE = (DETECTOR_SIZE, DETECTOR_SIZE)
#: Header keys of the rotation/scale matrix (PCi_j, CDi_j) and CROTA1: all superseded by a new CROTA2.
WCS_ROTATION_KEYS = ("pc1_1", "pc1_2", "pc2_1", "pc2_2", "cd1_1", "cd1_2", "cd2_1", "cd2_2", "crota1")
#: Fraction of the light the 70 lines-per-inch Ni filter mesh transmits undiffracted (Lemen et al. 2012).
MESH_TRANSMISSION = 0.82
#: LVL_NUM of level-1 data (the JSOC's level 1: dark-subtracted, flat-fielded, despiked).
LEVEL1 = 1.0
#: LVL_NUM of level-1.5 data (pointing updated and registered, as SolarSoft's ``aia_prep``).
LEVEL15 = 1.5
