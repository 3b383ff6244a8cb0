"""Brain: masks from CT or PET, the mid-sagittal plane, the MNI152 affine fit, background placement.

Pure computation on :class:`~gliopet.volume.Volume` objects (LPS mm); the
template comes in as an argument (``gliopet.io.template.load_mni152``).
"""

from ._background import (
    BACKGROUND_SEARCH_MM,
    MIDLINE_TIE_MM,
    CRESCENT_DEPTH_MM,
    CRESCENT_HALF_ANGLE_DEG,
    CRESCENT_THICKNESS_MM,
    BackgroundPlacement,
    crescent_background_mask,
    lesion_side,
    place_background_circle,
)
from ._geometry import BrainGeometry, brain_geometry
from ._mask import BRAIN_HU_RANGE, MIN_BRAIN_ML, SKULL_HU, ct_brain_mask, pet_brain_mask
from ._midline import MidsagittalPlane, midsagittal_plane, plane_from_template_fit
from ._register import RigidFit, register_rigid, resample_mask_to
from ._sitk import resample_to
from ._template import (CENTRUM_SEMIOVALE_MNI_RAS_MM, TemplateFit, centrum_semiovale_lps_mm, fit_mni_affine,
                        refine_mni_affine_with_ct)

__all__ = [
    "BACKGROUND_SEARCH_MM",
    "BRAIN_HU_RANGE",
    "CRESCENT_DEPTH_MM",
    "CRESCENT_HALF_ANGLE_DEG",
    "CRESCENT_THICKNESS_MM",
    "crescent_background_mask",
    "CENTRUM_SEMIOVALE_MNI_RAS_MM",
    "MIDLINE_TIE_MM",
    "MIN_BRAIN_ML",
    "SKULL_HU",
    "BackgroundPlacement",
    "BrainGeometry",
    "MidsagittalPlane",
    "TemplateFit",
    "brain_geometry",
    "centrum_semiovale_lps_mm",
    "ct_brain_mask",
    "fit_mni_affine",
    "refine_mni_affine_with_ct",
    "lesion_side",
    "midsagittal_plane",
    "pet_brain_mask",
    "place_background_circle",
    "plane_from_template_fit",
    "resample_to",
    "RigidFit",
    "register_rigid",
    "resample_mask_to",
]
