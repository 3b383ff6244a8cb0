"""Write simulated PET, CT and MR series as DICOM (pydicom), one file per slice.

PET Image Storage with every attribute SUV needs, in three vendor flavours:

- ``siemens``: Units BQML, DecayCorrection START (the study's Biograph).
- ``ge``: Units BQML, DecayCorrection START, and GE's private PET block
  (creator ``GEMS_PETD_01``) with (0009,100D) scan start and (0009,103B)
  tracer administration date-times, as GE scanners write them.
- ``philips``: Units CNTS with Philips' private block (creator
  ``Philips PET Private Group``): (7053,1000) SUV scale factor (g/mL per
  rescaled count) and (7053,1009) activity concentration scale factor
  (Bq/mL per rescaled count).

Pixels are int16 with a per-slice RescaleSlope (PET) or RescaleIntercept
-1024 (CT). UIDs come from the caller's seed strings (``deterministic_uid``)
and every date and time is given by the caller, so a seeded run writes
byte-identical files. Each file is written to a temporary name and renamed.

References
----------
DICOM PS3.3 A.21 (PET Image IOD), C.8.9 (PET Series, PET Isotope, PET Image
modules); QIBA PET SUV vendor-neutral pseudo-code (GE and Philips private tags).
"""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID

from ..atomic import replacing
from ..decay import average_count_rate_time_s, decay_factor, decayed_activity_bq
from ..errors import InputError
from ..volume import Volume
from .protocol import OSEM_ITERATIONS, OSEM_SUBSETS, POST_FILTER_FWHM_MM

__all__ = [
    "Flavour", "PatientInfo", "StudyInfo", "PetSeriesInfo", "deterministic_uid",
    "write_pet_series", "write_ct_series", "write_mr_series",
    "PET_IMAGE_STORAGE", "CT_IMAGE_STORAGE", "MR_IMAGE_STORAGE", "PHILIPS_BQML_PER_COUNT",
    "INT16_MAX",
]

logger = logging.getLogger(__name__)

PET_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
INT16_MAX = 32767
#: Philips flavour: Bq/mL per rescaled count in (7053,1009); the counts image is Bq/mL / this.
PHILIPS_BQML_PER_COUNT = 2.5
_CT_INTERCEPT = -1024.0
_GE_CREATOR = "GEMS_PETD_01"
_PHILIPS_CREATOR = "Philips PET Private Group"
_UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "gliopet:simulate")


class Flavour(str, enum.Enum):
    """Vendor flavour of the PET series."""

    SIEMENS = "siemens"
    GE = "ge"
    PHILIPS = "philips"


_MANUFACTURER = {
    Flavour.SIEMENS: ("SIEMENS", "Biograph 6 TrueV"),
    Flavour.GE: ("GE MEDICAL SYSTEMS", "Discovery 690"),
    Flavour.PHILIPS: ("Philips Medical Systems", "GEMINI TF TOF 16"),
}


def deterministic_uid(*parts: str) -> str:
    """A ``2.25.`` UID from a name-based UUID of the given strings: same strings, same UID.

    DICOM PS3.5 B.2 allows UIDs ``2.25.<UUID as integer>`` (ISO/IEC 9834-8); the
    UUID is version 5 (SHA-1, RFC 4122) of the joined strings in gliopet's own
    namespace, so simulated studies never collide with real ones' UIDs by design.
    """
    name = "\x1f".join(str(p) for p in parts)
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, name).int}"


@dataclass(frozen=True)
class PatientInfo:
    """Synthetic patient: name and ID that are clearly not real people."""

    name: str
    patient_id: str
    birth_date: str  # YYYYMMDD
    sex: str  # M | F
    age_years: int
    weight_kg: float
    height_m: float


@dataclass(frozen=True)
class StudyInfo:
    """One imaging study (PET/CT or MR) of a patient."""

    study_uid: str
    frame_of_reference_uid: str
    study_datetime: datetime
    accession_number: str
    study_id: str
    description: str = "PET^Brain"


@dataclass(frozen=True)
class PetSeriesInfo:
    """What a PET series records about its acquisition.

    ``scan_start`` is the series and acquisition start (DecayCorrection START
    reference); ``injection`` the tracer administration time.
    """

    series_uid: str
    series_number: int
    description: str
    scan_start: datetime
    injection: datetime
    frame_duration_s: float
    injected_bq: float
    half_life_s: float
    radiopharmaceutical: str
    nuclide_code: tuple[str, str, str]  # (value, scheme, meaning)
    positron_fraction: float
    iterations: int = OSEM_ITERATIONS
    subsets: int = OSEM_SUBSETS
    filter_fwhm_mm: float = POST_FILTER_FWHM_MM
    #: One frame of a DYNAMIC series: (frame index from 0, number of frames, the frame's acquisition start).
    #: The image stays decay corrected to ``scan_start`` (the series start, DecayCorrection START).
    dynamic_frame: tuple[int, int, datetime] | None = None


def _check_volume(volume: Volume, what: str) -> None:
    if not np.all(np.isfinite(volume.array)):
        raise InputError(f"{what}: volume contains non-finite values")


def _atomic_write(ds: Dataset, path: Path) -> None:
    with replacing(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)


def _da(dt: datetime) -> str:
    return dt.strftime("%Y%m%d")


def _time(dt: datetime) -> str:
    return dt.strftime("%H%M%S") + (f".{dt.microsecond:06d}" if dt.microsecond else ".00")


def _file_meta(sop_class: str, sop_instance: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "GLIOPET_SIM"
    return meta


def _common(ds: Dataset, *, patient: PatientInfo, study: StudyInfo, modality: str,
            manufacturer: str, model: str, series_uid: str, series_number: int, description: str,
            series_time: datetime) -> None:
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    ds.PatientAge = f"{patient.age_years:03d}Y"
    ds.PatientWeight = f"{patient.weight_kg:.1f}"
    ds.PatientSize = f"{patient.height_m:.2f}"
    ds.StudyInstanceUID = study.study_uid
    ds.StudyDate = _da(study.study_datetime)
    ds.StudyTime = _time(study.study_datetime)
    ds.StudyID = study.study_id
    ds.AccessionNumber = study.accession_number
    ds.ReferringPhysicianName = "SIM^REFERRER"
    ds.StudyDescription = study.description
    ds.Modality = modality
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.SeriesDescription = description
    ds.SeriesDate = _da(series_time)
    ds.SeriesTime = _time(series_time)
    ds.BodyPartExamined = "HEAD"
    if modality != "PT":  # PET carries PatientOrientationCodeSequence instead
        ds.PatientPosition = "HFS"
    ds.FrameOfReferenceUID = study.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = manufacturer
    ds.ManufacturerModelName = model
    ds.InstitutionName = "gliopet simulation"
    ds.StationName = "SIMULATOR"
    ds.SoftwareVersions = "gliopet-simulate"
    ds.DeviceSerialNumber = "0000"


def _geometry(ds: Dataset, volume: Volume, k: int) -> None:
    affine = volume.affine
    spacing = volume.spacing_mm
    row_dir = affine[:3, 0] / spacing[0]
    col_dir = affine[:3, 1] / spacing[1]
    position = affine[:3, :3] @ np.array([0.0, 0.0, float(k)]) + affine[:3, 3]
    ds.ImagePositionPatient = [f"{v:.6g}" if abs(v) >= 1e-9 else "0" for v in position]
    ds.ImageOrientationPatient = [f"{v:.6g}" if abs(v) >= 1e-12 else "0" for v in (*row_dir, *col_dir)]
    ds.PixelSpacing = [f"{spacing[1]:.6g}", f"{spacing[0]:.6g}"]
    ds.SliceThickness = f"{spacing[2]:.6g}"
    normal = np.cross(row_dir, col_dir)
    ds.SliceLocation = f"{float(position @ normal):.6g}"


def _pixels(ds: Dataset, stored: np.ndarray) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(stored.shape[0]), int(stored.shape[1])
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.PixelData = np.ascontiguousarray(stored, dtype="<i2").tobytes()


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _pet_series_module(ds: Dataset, series: PetSeriesInfo, *, units: str, n_slices: int) -> None:
    """PET Series module (DICOM PS3.3 C.8.9.1): units, corrections, reconstruction, energy window."""
    ds.Units = units
    ds.CountsSource = "EMISSION"
    ds.SeriesType = ["STATIC", "IMAGE"]
    ds.CorrectedImage = ["NORM", "DTIM", "ATTN", "SCAT", "DECY", "RAN"]
    ds.DecayCorrection = "START"
    ds.RandomsCorrectionMethod = "DLYD"
    ds.AttenuationCorrectionMethod = "measured, CT-based (bilinear HU to 511 keV)"
    ds.ScatterCorrectionMethod = "model-based"
    ds.ReconstructionMethod = f"OSEM2D {series.iterations}i{series.subsets}s"
    ds.ConvolutionKernel = f"GAUSSIAN {series.filter_fwhm_mm:g} mm"
    ds.NumberOfSlices = n_slices
    ds.CollimatorType = "NONE"
    ds.AxialAcceptance = "27"
    ds.AxialMash = [5, 6]
    ds.CoincidenceWindowWidth = "4.5"
    ds.EnergyWindowRangeSequence = Sequence([Dataset()])
    ds.EnergyWindowRangeSequence[0].EnergyWindowLowerLimit = "425"
    ds.EnergyWindowRangeSequence[0].EnergyWindowUpperLimit = "650"


def _pet_isotope_and_orientation(ds: Dataset, series: PetSeriesInfo) -> None:
    """PET Isotope module (C.8.9.2) and NM/PET Patient Orientation module (C.8.4.6): supine, head first."""
    rp = Dataset()
    rp.Radiopharmaceutical = series.radiopharmaceutical
    rp.RadiopharmaceuticalStartTime = _time(series.injection)
    rp.RadiopharmaceuticalStartDateTime = series.injection.strftime("%Y%m%d%H%M%S") + ".00"
    rp.RadionuclideTotalDose = f"{series.injected_bq:.6g}"
    rp.RadionuclideHalfLife = f"{series.half_life_s:.6g}"
    rp.RadionuclidePositronFraction = f"{series.positron_fraction:.6g}"
    rp.RadionuclideCodeSequence = Sequence([_code(*series.nuclide_code)])
    ds.RadiopharmaceuticalInformationSequence = Sequence([rp])
    ds.PatientOrientationCodeSequence = Sequence([_code("102538003", "SCT", "recumbent")])
    ds.PatientOrientationCodeSequence[0].PatientOrientationModifierCodeSequence = Sequence(
        [_code("40199007", "SCT", "supine")])
    ds.PatientGantryRelationshipCodeSequence = Sequence([_code("102540008", "SCT", "headfirst")])


def _pet_image_module(ds: Dataset, series: PetSeriesInfo, *, k: int, elapsed_s: float) -> None:
    """PET Image module (C.8.9.4): frame timing and the decay factor back to injection.

    FrameReferenceTime is the time of the frame's average count rate after the
    series reference time (the frame starts at it), as scanners write it:
    ``t_avg(T) = ln(lambda T / (1 - exp(-lambda T))) / lambda`` (IBSI).
    """
    frame_reference_ms = 1000.0 * average_count_rate_time_s(frame_duration_s=series.frame_duration_s,
                                                             half_life_s=series.half_life_s)
    ds.FrameReferenceTime = f"{frame_reference_ms:.1f}"
    ds.ImageIndex = k + 1
    ds.ActualFrameDuration = int(round(series.frame_duration_s * 1000))
    ds.DecayFactor = f"{1.0 / decay_factor(elapsed_s, series.half_life_s):.6g}"
    ds.DoseCalibrationFactor = "1"
    ds.SliceSensitivityFactor = "1"
    ds.PrimaryPromptsCountsAccumulated = 0


def _vendor_private(ds: Dataset, series: PetSeriesInfo, flavour: Flavour, *, suv_factor: float) -> None:
    """GE's scan start and administration date-times, or Philips' SUV and activity scale factors."""
    if flavour is Flavour.GE:
        block = ds.private_block(0x0009, _GE_CREATOR, create=True)
        block.add_new(0x0D, "DT", series.scan_start.strftime("%Y%m%d%H%M%S") + ".00")
        block.add_new(0x3B, "DT", series.injection.strftime("%Y%m%d%H%M%S") + ".00")
    elif flavour is Flavour.PHILIPS:
        block = ds.private_block(0x7053, _PHILIPS_CREATOR, create=True)
        block.add_new(0x00, "DS", f"{suv_factor * PHILIPS_BQML_PER_COUNT:.8g}")
        block.add_new(0x09, "DS", f"{PHILIPS_BQML_PER_COUNT:.8g}")


def _pet_slice(volume: Volume, plane: np.ndarray, k: int, *, patient: PatientInfo, study: StudyInfo,
               series: PetSeriesInfo, flavour: Flavour, units: str, suv_factor: float) -> Dataset:
    """Slice ``k`` of a PET series, ``plane`` in the stored units (Bq/mL, or counts for Philips)."""
    manufacturer, model = _MANUFACTURER[flavour]
    peak = float(plane.max())
    slope = peak / INT16_MAX if peak > 0 else 1.0
    stored = np.rint(plane / slope).astype(np.int16)
    sop_uid = deterministic_uid(series.series_uid, "slice", str(k))
    ds = Dataset()
    ds.file_meta = _file_meta(PET_IMAGE_STORAGE, sop_uid)
    ds.SOPClassUID = PET_IMAGE_STORAGE
    ds.SOPInstanceUID = sop_uid
    _common(ds, patient=patient, study=study, modality="PT", manufacturer=manufacturer, model=model,
            series_uid=series.series_uid, series_number=series.series_number,
            description=series.description, series_time=series.scan_start)
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.AcquisitionDate = _da(series.scan_start)
    ds.AcquisitionTime = _time(series.scan_start)
    ds.ContentDate = _da(series.scan_start)
    ds.ContentTime = _time(series.scan_start)
    ds.InstanceNumber = k + 1
    ds.PatientOrientation = ""
    _pet_series_module(ds, series, units=units, n_slices=volume.shape[0])
    _pet_isotope_and_orientation(ds, series)
    _geometry(ds, volume, k)
    _pixels(ds, stored)
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = f"{slope:.10g}"
    ds.SmallestImagePixelValue = int(stored.min())
    ds.LargestImagePixelValue = int(stored.max())
    _pet_image_module(ds, series, k=k, elapsed_s=(series.scan_start - series.injection).total_seconds())
    if series.dynamic_frame is not None:
        _dynamic_frame(ds, series, k=k, n_slices=volume.shape[0])
    _vendor_private(ds, series, flavour, suv_factor=suv_factor)
    return ds


def _dynamic_frame(ds: Dataset, series: PetSeriesInfo, *, k: int, n_slices: int) -> None:
    """A DYNAMIC series' frame (PS3.3 C.8.9.1, C.8.9.4): its own acquisition time, ImageIndex numbered
    frame by frame, FrameReferenceTime from the series start; SOP Instance UID per frame and slice."""
    index, n_frames, start = series.dynamic_frame
    ds.SeriesType = ["DYNAMIC", "IMAGE"]
    ds.NumberOfTimeSlices = n_frames
    ds.AcquisitionDate = ds.ContentDate = _da(start)
    ds.AcquisitionTime = ds.ContentTime = _time(start)
    ds.ImageIndex = index * n_slices + k + 1
    ds.InstanceNumber = index * n_slices + k + 1
    offset_ms = 1000.0 * (start - series.scan_start).total_seconds()
    ds.FrameReferenceTime = f"{offset_ms + float(ds.FrameReferenceTime):.1f}"
    sop_uid = deterministic_uid(series.series_uid, "frame", str(index), "slice", str(k))
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = sop_uid


def write_pet_series(volume_bq_per_ml: Volume, out_dir: Path, *, patient: PatientInfo, study: StudyInfo,
                     series: PetSeriesInfo, flavour: str | Flavour = Flavour.SIEMENS) -> list[Path]:
    """Write a PET volume (Bq/mL, decay corrected to ``series.scan_start``) as one file per slice.

    Each slice is stored as int16 with its own RescaleSlope (its maximum at
    32767); negative values are clipped to 0.

    Parameters
    ----------
    volume_bq_per_ml : Volume
        Activity concentration ``[k, j, i]``, LPS affine; slice ``k`` becomes
        instance ``k + 1``.
    out_dir : Path
        Existing folder; files ``IM000001.dcm``, ... are created.
    flavour : {'siemens', 'ge', 'philips'}

    Returns
    -------
    list of Path
        The written files in slice order.
    """
    flavour = Flavour(flavour)
    _check_volume(volume_bq_per_ml, str(out_dir))
    data = np.asarray(volume_bq_per_ml.array, dtype=np.float64)
    if float(data.min()) < 0:
        data = np.clip(data, 0.0, None)
    elapsed_s = (series.scan_start - series.injection).total_seconds()
    decayed_dose_bq = decayed_activity_bq(series.injected_bq, elapsed_s=elapsed_s, half_life_s=series.half_life_s)
    suv_factor = patient.weight_kg * 1000.0 / decayed_dose_bq  # g/mL per Bq/mL
    units = "CNTS" if flavour is Flavour.PHILIPS else "BQML"
    if flavour is Flavour.PHILIPS:
        data = data / PHILIPS_BQML_PER_COUNT
    out_dir = Path(out_dir)
    paths = []
    for k in range(data.shape[0]):
        ds = _pet_slice(volume_bq_per_ml, data[k], k, patient=patient, study=study, series=series,
                        flavour=flavour, units=units, suv_factor=suv_factor)
        number = k + 1 if series.dynamic_frame is None else series.dynamic_frame[0] * data.shape[0] + k + 1
        path = out_dir / f"IM{number:06d}.dcm"
        _atomic_write(ds, path)
        paths.append(path)
    return paths


def _image_slice(sop_class: str, k: int, *, patient: PatientInfo, study: StudyInfo, modality: str,
                 manufacturer: str, model: str, series_uid: str, series_number: int, description: str,
                 acquisition: datetime, image_type: list[str]) -> Dataset:
    """Slice ``k`` of a single-frame CT or MR series: identity, study, series and acquisition attributes."""
    sop_uid = deterministic_uid(series_uid, "slice", str(k))
    ds = Dataset()
    ds.file_meta = _file_meta(sop_class, sop_uid)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    _common(ds, patient=patient, study=study, modality=modality, manufacturer=manufacturer, model=model,
            series_uid=series_uid, series_number=series_number, description=description,
            series_time=acquisition)
    ds.ImageType = image_type
    ds.AcquisitionDate = _da(acquisition)
    ds.AcquisitionTime = _time(acquisition)
    ds.ContentDate = _da(acquisition)
    ds.ContentTime = _time(acquisition)
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = k + 1
    ds.PatientOrientation = ""
    return ds


def write_ct_series(volume_hu: Volume, out_dir: Path, *, patient: PatientInfo, study: StudyInfo,
                    series_uid: str, series_number: int, acquisition: datetime,
                    description: str = "CT Brain 3.0 H31s", kvp: float = 130.0,
                    exposure_mas: float = 240.0, manufacturer: str = "SIEMENS",
                    model: str = "Biograph 6 TrueV") -> list[Path]:
    """Write a CT volume (HU) as CT Image Storage, int16 with RescaleIntercept -1024."""
    _check_volume(volume_hu, str(out_dir))
    hu = np.asarray(volume_hu.array, dtype=np.float64)
    stored_all = np.clip(np.rint(hu - _CT_INTERCEPT), -32768, INT16_MAX).astype(np.int16)
    out_dir = Path(out_dir)
    paths = []
    for k in range(hu.shape[0]):
        ds = _image_slice(CT_IMAGE_STORAGE, k, patient=patient, study=study, modality="CT",
                          manufacturer=manufacturer, model=model, series_uid=series_uid,
                          series_number=series_number, description=description, acquisition=acquisition,
                          image_type=["ORIGINAL", "PRIMARY", "AXIAL"])
        ds.KVP = f"{kvp:g}"
        ds.Exposure = int(round(exposure_mas))
        ds.ConvolutionKernel = "H31s"
        _geometry(ds, volume_hu, k)
        _pixels(ds, stored_all[k])
        ds.RescaleIntercept = f"{_CT_INTERCEPT:g}"
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        ds.WindowCenter = "40"
        ds.WindowWidth = "80"
        path = out_dir / f"IM{k + 1:06d}.dcm"
        _atomic_write(ds, path)
        paths.append(path)
    return paths


def write_mr_series(volume: Volume, out_dir: Path, *, patient: PatientInfo, study: StudyInfo,
                    series_uid: str, series_number: int, acquisition: datetime, description: str,
                    repetition_time_ms: float, echo_time_ms: float, inversion_time_ms: float | None = None,
                    manufacturer: str = "SIEMENS", model: str = "Sonata") -> list[Path]:
    """Write an MR volume (arbitrary intensity, scaled to 0..4095) as MR Image Storage."""
    _check_volume(volume, str(out_dir))
    data = np.asarray(volume.array, dtype=np.float64)
    peak = float(data.max()) if data.size else 0.0
    stored_all = np.rint(np.clip(data, 0, None) / (peak if peak > 0 else 1.0) * 4095).astype(np.int16)
    out_dir = Path(out_dir)
    paths = []
    for k in range(data.shape[0]):
        ds = _image_slice(MR_IMAGE_STORAGE, k, patient=patient, study=study, modality="MR",
                          manufacturer=manufacturer, model=model, series_uid=series_uid,
                          series_number=series_number, description=description, acquisition=acquisition,
                          image_type=["ORIGINAL", "PRIMARY", "OTHER"])
        ds.ScanningSequence = "IR" if inversion_time_ms else ("GR" if echo_time_ms < 10 else "SE")
        ds.SequenceVariant = "SK"
        ds.ScanOptions = ""
        ds.MRAcquisitionType = "2D"
        ds.RepetitionTime = f"{repetition_time_ms:g}"
        ds.EchoTime = f"{echo_time_ms:g}"
        if inversion_time_ms:
            ds.InversionTime = f"{inversion_time_ms:g}"
        ds.EchoTrainLength = 1
        ds.MagneticFieldStrength = "1.5"
        ds.ImagedNucleus = "1H"
        _geometry(ds, volume, k)
        _pixels(ds, stored_all[k])
        ds.WindowCenter = "2048"
        ds.WindowWidth = "4096"
        path = out_dir / f"IM{k + 1:06d}.dcm"
        _atomic_write(ds, path)
        paths.append(path)
    return paths
