"""DICOM Segmentation (SEG) of a measurement's ROIs, on the PET grid (highdicom).

One binary SEG instance per study and PET time point (PS3.3 A.51
Segmentation IOD, C.8.20 Segmentation Image Module), its frames on that
PET's slices, each frame referencing the PET instance it derives from (Derivation Image Sequence,
PS3.3 C.7.6.16.2.6). Segments (PS3.3 C.8.20.4, Segment Description Macro),
numbered in :data:`~gliopet.export._masks.ROI_NAMES` order:

1. ``Lesion circle``: Morphologically Abnormal Structure / Neoplasm, in the
   brain (PS3.16 CID 7150 / CID 7151).
2. ``Background circle`` (or ``Background crescent``): Spatial and Relational
   Concept / Background (DCM 125040, CID 7151 and CID 7196), in the
   cerebral white matter.
3. ``SUVpeak sphere``: Spatial and Relational Concept / Sphere (DCM 122485, CID 7151).
4. ``Biological tumour volume``: Morphologically Abnormal Structure / Neoplasm.

Binary, not fractional: the ROIs are whole-voxel sets as the export draws
them (:mod:`gliopet.export._masks`). The lesion segment is the first with
the category Morphologically Abnormal Structure, which is how
:func:`gliopet.io.images.read_seg_mask` picks it when the SEG is given back
as ``--lesion``. A ROI with no voxel (a BTV whose seed is below the
threshold) is written as a segment with no frame. A time point other than
the primary has the primary's ROIs as ``gliopet analyze`` carried them onto
its own grid (its own record); its Series Description ends with the time
point (``... at 30 min p.i.``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
from pydicom.uid import generate_uid

from .._version import __version__
from ..jsonable import json_default
from ..measure import BTV_THRESHOLD_FACTOR, SUVPEAK_SPHERE_ML
from . import _codes as codes
from ._files import atomic_write_dataset
from ._source import ExportStudy, pet_source_headers

__all__ = ["SEGMENT_NUMBERS", "SEG_SERIES_NUMBER", "build_seg", "write_seg", "segment_label", "export_uid", "described"]

#: Segment number of each ROI (PS3.3 C.8.20.4: numbered from 1).
SEGMENT_NUMBERS = {"lesion": 1, "background": 2, "peak": 3, "btv": 4}
#: Series numbers of gliopet's derived series (beyond the scanner's usual numbering).
SEG_SERIES_NUMBER = 9901
MANUFACTURER = "gliopet"
#: Algorithm Family of gliopet's ROIs (PS3.3 C.8.20.4 Segmentation Algorithm Identification, PS3.16
#: CID 7162 Surface Processing Algorithm Families): voxels chosen by their neighbourhood (the circle,
#: the sphere, the connected region above a threshold).
_ALGORITHM_FAMILY = codes.NEIGHBORHOOD_ANALYSIS


def export_uid(study: ExportStudy, role: str) -> str:
    """A UID for one of the export's series or instances, fixed by the PET and the record.

    The same stored measurement exported twice gives the same UIDs, so an SR
    exported on its own references the SEG that ``export seg`` writes.
    """
    digest = hashlib.sha256(json.dumps(study.record, sort_keys=True, default=json_default).encode()).hexdigest()
    uids = list(study.pet.volume.provenance.get("sop_instance_uids", []))
    return generate_uid(entropy_srcs=["gliopet-export", role, digest, *uids])


def segment_label(name: str, background_kind: str) -> str:
    """The segment's label (PS3.3 C.8.20.4 Segment Label)."""
    return {"lesion": "Lesion circle", "background": f"Background {background_kind}",
            "peak": "SUVpeak sphere", "btv": "Biological tumour volume"}[name]


def _definitions(record: dict[str, Any], background_kind: str) -> dict[str, str]:
    lesion, bg = record["lesion"], record["background"]
    where = (f"{bg['diameter_mm']:g} mm circle on the axial plane at slice level k = {bg['centre_ijk'][2]:.3f} "
             f"(PET linear between the two nearest slices), drawn on slice {bg['slice_index']}"
             if background_kind == "circle" else "crescent region of whole voxels")
    return {
        "lesion": (f"{lesion['diameter_mm']:g} mm circle on the axial slice through the lesion VOI's hottest "
                   f"voxel ({lesion['method']}); SUVmax = highest voxel whose centre is inside, SUVmean = "
                   "partial-voxel-weighted mean"),
        "background": f"contralateral background ({bg['method']}): {where}",
        "peak": (f"{SUVPEAK_SPHERE_ML:g} mL sphere centred on the lesion voxel that maximises its mean "
                 "(PERCIST); voxels whose centres are inside"),
        "btv": (f"voxels >= {BTV_THRESHOLD_FACTOR:g} x background SUVmean connected (26-neighbour) to the "
                "lesion circle's centre, within the brain (RANO/EANM)"),
    }


def _descriptions(study: ExportStudy) -> list[hd.seg.SegmentDescription]:
    record, kind = study.record, study.masks.background_kind
    algorithm = hd.AlgorithmIdentificationSequence(name=MANUFACTURER, family=_ALGORITHM_FAMILY,
                                                   version=__version__)
    automatic = {"lesion": record["lesion"]["method"] == "auto", "background": record["background"]["method"] != "point",
                 "peak": True, "btv": True}
    types = {"lesion": (codes.MORPHOLOGICALLY_ABNORMAL_STRUCTURE, codes.NEOPLASM, codes.BRAIN),
             "background": (codes.SPATIAL_AND_RELATIONAL_CONCEPT, codes.BACKGROUND, codes.CEREBRAL_WHITE_MATTER),
             "peak": (codes.SPATIAL_AND_RELATIONAL_CONCEPT, codes.SPHERE, codes.BRAIN),
             "btv": (codes.MORPHOLOGICALLY_ABNORMAL_STRUCTURE, codes.NEOPLASM, codes.BRAIN)}
    definitions = _definitions(record, kind)
    out = []
    for name, number in SEGMENT_NUMBERS.items():
        category, kind_code, region = types[name]
        description = hd.seg.SegmentDescription(
            segment_number=number, segment_label=segment_label(name, kind), segmented_property_category=category,
            segmented_property_type=kind_code,
            algorithm_type="AUTOMATIC" if automatic[name] else "SEMIAUTOMATIC", algorithm_identification=algorithm,
            tracking_uid=export_uid(study, f"tracking-{name}"), tracking_id=segment_label(name, kind),
            anatomic_regions=[region])
        description.SegmentDescription = definitions[name][:1024]
        out.append(description)
    return out




def build_seg(study: ExportStudy) -> hd.seg.Segmentation:
    """The SEG dataset of one study (in memory).

    Raises
    ------
    DicomError
        The PET is not one single-frame DICOM file per slice.
    """
    headers = pet_source_headers(study.pet)
    masks = study.masks.by_name()
    pixels = np.stack([masks[name] for name in SEGMENT_NUMBERS], axis=-1).astype(np.uint8)  # [k, j, i, segment]
    return hd.seg.Segmentation(
        source_images=headers, pixel_array=pixels, segmentation_type="BINARY",
        segment_descriptions=_descriptions(study), series_instance_uid=export_uid(study, "seg-series"),
        series_number=SEG_SERIES_NUMBER, sop_instance_uid=export_uid(study, "seg-instance"), instance_number=1,
        manufacturer=MANUFACTURER, manufacturer_model_name=MANUFACTURER, software_versions=__version__,
        device_serial_number="0", content_description="gliopet ROIs"[:64], content_label="GLIOPET_ROIS",
        series_description=described("gliopet ROIs (lesion, background, SUVpeak, BTV)", study))


def described(description: str, study: ExportStudy) -> str:
    """A Series Description (LO, 64 characters at most), ending with the time point when the study has one.

    A study just measured (``gliopet measure``, no time point) keeps ``description`` as it is.
    """
    if study.timepoint is None:
        return description[:64]
    return f"{description} at {study.timepoint.short}"[:64]


def write_seg(study: ExportStudy, path: str | Path) -> Path:
    """Write the study's SEG to ``path`` (a temporary name, then renamed)."""
    return atomic_write_dataset(build_seg(study), path)
