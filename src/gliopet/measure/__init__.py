"""Measurement: the study's lesion and background ROIs, SUVpeak, BTV and TBR (pure).

Volumes, arrays, typed ROI specifications and the template in; the
:class:`Measurement` out. No file, option text or clock: the study layer
(:mod:`gliopet.study`) reads the images and parses the options. See
:mod:`gliopet.measure._rois` for the definitions (DESIGN.md, "Definitions").
"""

from ._spec import BackgroundMethod, BackgroundSpec, LesionMethod, LesionSpec
from ._record import BTV_WARN_BRAIN_FRACTION, BTV_WARN_ML, MEASURED_COLUMNS, Measurement, judge_btv, measure_rois
from ._timepoints import measure_timepoints
from ._dynamic import (DYNAMIC_COLUMNS, SIGNED_DYNAMIC_COLUMNS, TacPattern, TimeActivity, check_framing,
                       dynamic_columns, isocontour_voi, late_slope, tac_pattern, time_activity, time_to_peak_min)
from ._study import (
    LESION_AUTO_SKULL_MARGIN_MM,
    LESION_AUTO_SMOOTH_MM,
    LESION_AUTO_VOI_RADIUS_MM,
    LESION_POINT_SEARCH_RADIUS_MM,
    lesion_voi,
    measure_pet,
    mri_mask_to_pet,
    register_mri,
)
from ._rois import (
    BACKGROUND_CIRCLE_DIAMETER_MM,
    BTV_THRESHOLD_FACTOR,
    CIRCLE_SUBSAMPLES,
    LESION_CIRCLE_DIAMETER_MM,
    LESION_EXTENT_FRACTION,
    SPHERE_SUBSAMPLES,
    SUVPEAK_SPHERE_DIAMETER_MM,
    SUVPEAK_SPHERE_ML,
    Btv,
    CircleRoi,
    PeakSphere,
    RegionRoi,
    Tbr,
    biological_tumour_volume,
    circle_roi,
    disk_weights,
    hottest_voxel,
    lesion_circle,
    lesion_extent,
    region_roi,
    sphere_kernel,
    suv_peak,
    tumour_to_background,
)

__all__ = [
    "BTV_WARN_BRAIN_FRACTION",
    "BTV_WARN_ML",
    "MEASURED_COLUMNS",
    "DYNAMIC_COLUMNS",
    "SIGNED_DYNAMIC_COLUMNS",
    "dynamic_columns",
    "BackgroundMethod",
    "BackgroundSpec",
    "LesionMethod",
    "LesionSpec",
    "mri_mask_to_pet",
    "register_mri",
    "LESION_AUTO_SKULL_MARGIN_MM",
    "LESION_AUTO_SMOOTH_MM",
    "LESION_AUTO_VOI_RADIUS_MM",
    "LESION_POINT_SEARCH_RADIUS_MM",
    "lesion_voi",
    "measure_timepoints",
    "TacPattern", "TimeActivity", "check_framing", "isocontour_voi", "late_slope", "tac_pattern", "time_activity",
    "time_to_peak_min",
    "measure_pet",
    "BACKGROUND_CIRCLE_DIAMETER_MM",
    "BTV_THRESHOLD_FACTOR",
    "CIRCLE_SUBSAMPLES",
    "LESION_CIRCLE_DIAMETER_MM",
    "LESION_EXTENT_FRACTION",
    "SPHERE_SUBSAMPLES",
    "SUVPEAK_SPHERE_DIAMETER_MM",
    "SUVPEAK_SPHERE_ML",
    "Btv",
    "CircleRoi",
    "Measurement",
    "PeakSphere",
    "RegionRoi",
    "region_roi",
    "Tbr",
    "biological_tumour_volume",
    "circle_roi",
    "disk_weights",
    "hottest_voxel",
    "lesion_circle",
    "lesion_extent",
    "measure_rois", "judge_btv",
    "sphere_kernel",
    "suv_peak",
    "tumour_to_background",
]
