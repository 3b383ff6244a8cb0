"""The images of a study as gliopet reads them: the PET in SUV, the CT, an MRI, a lesion mask.

DICOM (one series; the wanted modality chosen in a folder of several) or
NIfTI. A NIfTI PET is taken to be SUV (g/mL) already: there is no header to
compute the factor from, and the record says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..suv import SuvResult
from ..volume import Volume

logger = logging.getLogger(__name__)

__all__ = ["PetImage", "is_nifti", "read_pet", "read_ct", "read_mri", "read_seg_mask"]


def is_nifti(path: str | Path) -> bool:
    """True for a ``.nii`` or ``.nii.gz`` file name."""
    name = str(path).lower()
    return name.endswith(".nii") or name.endswith(".nii.gz")


@dataclass(frozen=True)
class PetImage:
    """A PET in SUV and where its SUV came from.

    Attributes
    ----------
    volume : Volume
        SUV (g/mL; cm2/mL for ``bsa``).
    suv : SuvResult or None
        The factor and every input (DICOM); None for a NIfTI taken as SUV.
    suv_type : str
        ``bw``, ``lbm_janmahasatian``, ``bsa`` or ``ibw``.
    path : str
        The file or folder read.
    """

    volume: Volume
    suv: SuvResult | None
    suv_type: str
    path: str

    @property
    def minutes_after_injection(self) -> float | None:
        """Scan reference time minus injection time (min), as the SUV factor dated them; None if undated.

        Both times are those :func:`gliopet.suv.compute_suv` used (the QIBA
        rules for a reset series time, the injection on the previous day for
        a scan crossing midnight), so a time point and its SUV agree.
        """
        if self.suv is None:
            return None
        scan = self.suv.inputs.get("scan_reference_datetime")
        injection = self.suv.inputs.get("injection_datetime")
        if scan is None or injection is None or scan.value is None or injection.value is None:
            return None
        return (scan.value - injection.value).total_seconds() / 60.0

    def suv_record(self) -> dict[str, Any]:
        """The record's ``suv`` object: the factor report, or the NIfTI's source."""
        if self.suv is None:
            return {"source": f"{self.path}: NIfTI input, voxel values taken as SUV (g/mL)"}
        return self.suv.as_dict()


def read_pet(path: str | Path, *, suv_type: str = "bw") -> PetImage:
    """A PET as SUV: DICOM via the QIBA SUV factor, or a NIfTI taken to be SUV (g/mL) already."""
    if is_nifti(path):
        from .nifti import read_nifti

        volume = read_nifti(path)
        return PetImage(volume.with_array(volume.array, units="g/mL"), None, suv_type, str(path))
    from .suv_inputs import read_suv_series

    series = read_suv_series(path, suv_type=suv_type)
    return PetImage(series.volume, series.result, suv_type, str(path))


def read_ct(path: str | Path) -> Volume:
    """A CT in HU: DICOM (one series; CT chosen in a folder of several) or NIfTI."""
    return _read_anatomy(path, "CT")


def read_mri(path: str | Path) -> Volume:
    """An MRI (T1, T2, FLAIR; any units): DICOM (one series; MR chosen in a folder of several) or NIfTI."""
    return _read_anatomy(path, "MR")


def _read_anatomy(path: str | Path, modality: str) -> Volume:
    if is_nifti(path):
        from .nifti import read_nifti

        return read_nifti(path)
    from .dicom import read_series

    return read_series(path, modality=None if Path(path).is_file() else modality)


#: The segmented property category of a lesion (PS3.16 CID 7150): SNOMED CT 49755003
#: "Morphologically Abnormal Structure", and its older SNOMED RT form (SRT M-01000).
LESION_CATEGORY_CODES = (("SCT", "49755003"), ("SRT", "M-01000"))


def _lesion_segment(seg) -> int | None:
    """The segment a SEG's lesion is: the lowest-numbered of category Morphologically Abnormal Structure.

    None when the SEG has one segment or none of that category (then every
    segment is the lesion). gliopet's own SEG (:mod:`gliopet.export.seg`)
    holds the lesion circle as segment 1 and the BTV as segment 4, both of
    that category, beside the background and the SUVpeak sphere: segment 1
    is chosen.
    """
    items = list(getattr(seg, "SegmentSequence", []))
    if len(items) < 2:
        return None
    lesions = []
    for item in items:
        categories = getattr(item, "SegmentedPropertyCategoryCodeSequence", [])
        if any((str(c.CodingSchemeDesignator), str(c.CodeValue)) in LESION_CATEGORY_CODES for c in categories):
            lesions.append(int(item.SegmentNumber))
    return min(lesions) if lesions else None


def read_seg_mask(path: str | Path, *, option: str = "--lesion") -> Volume:
    """A DICOM Segmentation (SEG) as one mask Volume, LPS affine.

    A SEG of several segments gives its lesion segment (:func:`_lesion_segment`:
    the lowest-numbered segment whose Segmented Property Category is
    Morphologically Abnormal Structure, SCT 49755003); without one, or with
    a single segment, every segment combined. The provenance names the
    segment read (``segment_number``, None for all).

    highdicom's volume is indexed ``[slice, row, column]`` with an affine
    from those indices; gliopet's affine takes ``(column, row, slice)``, so
    its first and third columns are swapped here.

    Raises
    ------
    InputError
        The file is not a DICOM SEG, or its frames do not form one regular volume.
    """
    import pydicom

    path = Path(path)
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as exc:  # pydicom raises many types for non-DICOM files
        raise InputError(f"{option} {path}: not NIfTI and not a readable DICOM file ({type(exc).__name__})") from None
    if getattr(header, "Modality", None) != "SEG":
        raise InputError(f"{option} {path}: (0008,0060) Modality is {getattr(header, 'Modality', None)!r}; "
                         "a lesion mask must be NIfTI or a DICOM SEG")
    import highdicom

    segment = _lesion_segment(header)
    try:
        seg = highdicom.seg.segread(path)
        chosen = {} if segment is None else {"segment_numbers": [segment]}
        hd_volume = seg.get_volume(combine_segments=True, relabel=True, **chosen)
    except Exception as exc:  # highdicom: irregular frames, missing plane positions, ...
        raise InputError(f"{option} {path}: the segmentation's frames do not form one regular volume "
                         f"({type(exc).__name__}: {exc})") from None
    array = np.asarray(hd_volume.array)
    affine = np.asarray(hd_volume.affine, dtype=np.float64)[:, [2, 1, 0, 3]]
    return Volume((array > 0).astype(np.uint8), affine,
                  {"files": [str(path)], "format": "dicom-seg", "segment_number": segment,
                   "frame_of_reference_uid": str(getattr(header, "FrameOfReferenceUID", ""))})
