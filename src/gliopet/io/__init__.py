"""Reading and writing images: DICOM (pydicom), NIfTI (nibabel), the MNI template."""

from .dicom import SeriesInfo, StudyInfo, find_series, group_studies, load_series_headers, read_series
from .nifti import read_nifti, write_nifti
from .suv_inputs import read_suv_volume, suv_report_for_series
from .template import MniTemplate, load_mni152

__all__ = [
    "find_series",
    "group_studies",
    "load_series_headers",
    "read_series",
    "read_suv_volume",
    "suv_report_for_series",
    "SeriesInfo",
    "StudyInfo",
    "read_nifti",
    "write_nifti",
    "load_mni152",
    "MniTemplate",
]
