"""Measurement: the study's lesion and background ROIs, SUVpeak, BTV and TBR (pure).

See :mod:`gliopet.measure._rois` for the definitions (DESIGN.md, "Definitions").
"""

from ._files import format_measurement, measure_study_files, read_ct, read_pet
from ._record import Measurement, measure_rois
from ._timepoints import measure_timepoints
from ._study import (
    LESION_AUTO_SKULL_MARGIN_MM,
    LESION_AUTO_SMOOTH_MM,
    LESION_AUTO_VOI_RADIUS_MM,
    LESION_POINT_SEARCH_RADIUS_MM,
    lesion_voi,
    measure_pet,
)
from ._rois import (
    BACKGROUND_CIRCLE_DIAMETER_MM,
    BTV_THRESHOLD_FACTOR,
    CIRCLE_SUBSAMPLES,
    LESION_CIRCLE_DIAMETER_MM,
    MAX_VOXEL_MIN_COVERAGE,
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
    region_roi,
    sphere_kernel,
    suv_peak,
    tumour_to_background,
)

__all__ = [
    "format_measurement",
    "measure_study_files",
    "read_ct",
    "read_pet",
    "LESION_AUTO_SKULL_MARGIN_MM",
    "LESION_AUTO_SMOOTH_MM",
    "LESION_AUTO_VOI_RADIUS_MM",
    "LESION_POINT_SEARCH_RADIUS_MM",
    "lesion_voi",
    "measure_timepoints",
    "measure_pet",
    "BACKGROUND_CIRCLE_DIAMETER_MM",
    "BTV_THRESHOLD_FACTOR",
    "CIRCLE_SUBSAMPLES",
    "LESION_CIRCLE_DIAMETER_MM",
    "MAX_VOXEL_MIN_COVERAGE",
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
    "measure_rois",
    "sphere_kernel",
    "suv_peak",
    "tumour_to_background",
]
