"""Reading and writing images: DICOM (pydicom), NIfTI (nibabel), the MNI template."""

from .nifti import read_nifti, write_nifti
from .template import MniTemplate, load_mni152

__all__ = ["read_nifti", "write_nifti", "load_mni152", "MniTemplate"]
