"""Reading and writing images: DICOM (pydicom), NIfTI (nibabel), the MNI template."""

from .dicom import FoundStudy, SeriesInfo, find_series, group_studies, load_series_headers, read_series
from .nifti import read_nifti, write_nifti
from .images import PetImage, read_ct, read_mri, read_pet, read_seg_mask
from .suv_inputs import read_suv_series, read_suv_volume, suv_report_for_series
from .template import MniTemplate, load_mni152

__all__ = [
    "find_series",
    "group_studies",
    "load_series_headers",
    "read_series",
    "read_suv_volume",
    "read_suv_series",
    "read_pet",
    "read_ct",
    "read_mri",
    "read_seg_mask",
    "PetImage",
    "suv_report_for_series",
    "SeriesInfo",
    "FoundStudy",
    "read_nifti",
    "write_nifti",
    "load_mni152",
    "MniTemplate",
]
