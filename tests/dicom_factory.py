"""Tiny but real DICOM series for the tests, written with pydicom.

Each function writes one file per slice (or one multi-frame file) with a valid
file meta header, so the reader under test sees exactly what a scanner writes.
Values are explicit arguments: a test states what it put in and checks what
comes out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

PET_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_PET_STORAGE = "1.2.840.10008.5.1.4.1.1.130"

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def _uid(seed: str) -> str:
    return generate_uid(entropy_srcs=[seed])


def base_dataset(path: Path, sop_class: str, sop_uid: str) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = _uid("gliopet-tests")
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    return ds


def write_series(folder: Path, stored: np.ndarray, *, modality: str = "PT", spacing_mm=(2.0, 2.0),
                 slice_mm: float = 3.0, origin=(-100.0, -120.0, -50.0), orientation=AXIAL,
                 slopes: Sequence[float] | float = 1.0, intercept: float = 0.0, seed: str = "series",
                 header: dict | None = None, per_slice: list[dict] | None = None,
                 names: Sequence[str] | None = None, positions: Sequence[Sequence[float]] | None = None,
                 orientations: Sequence[Sequence[float]] | None = None) -> list[Path]:
    """Write ``stored[k, j, i]`` (int16) as one file per slice; returns the paths in slice order.

    Slice ``k`` sits at ``origin + k * slice_mm * normal`` unless ``positions`` is given.
    ``header`` sets attributes on every file; ``per_slice[k]`` on slice ``k`` only.
    """
    folder.mkdir(parents=True, exist_ok=True)
    stored = np.asarray(stored)
    n = stored.shape[0]
    row = np.array(orientation[:3], float)
    col = np.array(orientation[3:], float)
    normal = np.cross(row, col)
    slopes = [slopes] * n if np.isscalar(slopes) else list(slopes)
    study_uid, series_uid, for_uid = _uid(seed + "study"), _uid(seed + "series"), _uid(seed + "for")
    sop_class = PET_STORAGE if modality == "PT" else CT_STORAGE
    paths = []
    for k in range(n):
        name = names[k] if names is not None else f"slice_{k:04d}.dcm"
        path = folder / name
        ds = base_dataset(path, sop_class, _uid(f"{seed}-sop-{k}"))
        ds.Modality = modality
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = for_uid
        ds.SeriesNumber = 1
        ds.InstanceNumber = k + 1
        ds.PatientName = "TEST^PHANTOM"
        ds.PatientID = "PHANTOM-0001"
        pos = positions[k] if positions is not None else np.array(origin) + k * slice_mm * normal
        ds.ImagePositionPatient = [float(v) for v in pos]
        ds.ImageOrientationPatient = list(orientations[k] if orientations is not None else orientation)
        ds.PixelSpacing = [float(spacing_mm[0]), float(spacing_mm[1])]
        ds.SliceThickness = float(slice_mm)
        ds.Rows, ds.Columns = stored.shape[1], stored.shape[2]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleSlope = float(slopes[k])
        ds.RescaleIntercept = float(intercept)
        for key, value in (header or {}).items():
            setattr(ds, key, value)
        for key, value in (per_slice[k] if per_slice else {}).items():
            setattr(ds, key, value)
        ds.PixelData = np.ascontiguousarray(stored[k].astype("<i2")).tobytes()
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def radiopharmaceutical(*, dose_bq=None, half_life_s=None, start_time=None, start_datetime=None,
                        nuclide="Ga-68") -> DicomSequence:
    item = Dataset()
    item.Radiopharmaceutical = "Pentixafor" if nuclide == "Ga-68" else "FDG"
    if dose_bq is not None:
        item.RadionuclideTotalDose = dose_bq
    if half_life_s is not None:
        item.RadionuclideHalfLife = half_life_s
    if start_time is not None:
        item.RadiopharmaceuticalStartTime = start_time
    if start_datetime is not None:
        item.RadiopharmaceuticalStartDateTime = start_datetime
    return DicomSequence([item])


def pet_header(*, units="BQML", decay="START", weight=70.0, size=1.75, sex="M", dose_bq=150e6,
               half_life_s=4062.6, start_time="090000", start_datetime=None, series_date="20240115",
               series_time="100000", acq_time="100000", corrected=("ATTN", "DECY")) -> dict:
    """A PET header as a dict of attributes (None leaves an attribute out)."""
    header = {
        "Units": units, "DecayCorrection": decay, "CorrectedImage": list(corrected) if corrected else None,
        "PatientWeight": weight, "PatientSize": size, "PatientSex": sex,
        "SeriesDate": series_date, "SeriesTime": series_time,
        "AcquisitionDate": series_date, "AcquisitionTime": acq_time,
        "RadiopharmaceuticalInformationSequence": radiopharmaceutical(
            dose_bq=dose_bq, half_life_s=half_life_s, start_time=start_time, start_datetime=start_datetime),
        "Manufacturer": "SIEMENS",
    }
    return {k: v for k, v in header.items() if v is not None}


def add_private(ds: Dataset, group: int, creator: str, element: int, vr: str, value) -> None:
    block = ds.private_block(group, creator, create=True)
    block.add_new(element, vr, value)
