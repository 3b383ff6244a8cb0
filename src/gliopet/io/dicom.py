"""DICOM: find studies and series in a tree, and read a series into a Volume.

Files are found by walking the tree (any depth, any file names); a DICOMDIR,
when present, is skipped like any other non-image object: no path is ever
built from a DICOM value. Input trees are only read.

A series becomes a :class:`~gliopet.volume.Volume`: float32 ``array[k, j, i]``
in real units (RescaleSlope/Intercept applied per slice or per frame), slices
sorted by position along the slice normal (never by file name or
InstanceNumber), and an affine to LPS mm built from ImageOrientationPatient,
ImagePositionPatient and PixelSpacing. Refused, with the file and attribute
named: mixed orientations, duplicate positions, missing slices, non-uniform
spacing, gantry tilt, multi-frame objects without per-frame geometry, headers
that claim more pixel data than the file holds, and files that are not DICOM.

References
----------
DICOM PS3.3 C.7.6.2 Image Plane Module; C.7.6.3 Image Pixel Module;
C.7.6.16 Multi-frame Functional Groups; C.11.1 Modality LUT Module.
"""

from __future__ import annotations

import filecmp
import hashlib
from concurrent.futures import ThreadPoolExecutor
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from ..errors import DicomError, GeometryError
from ..volume import Volume

logger = logging.getLogger(__name__)

__all__ = [
    "SeriesInfo",
    "FoundStudy",
    "find_series",
    "group_studies",
    "read_series",
    "load_series_headers",
    "load_dynamic_headers",
    "DynamicHeaders",
    "is_dicom_file",
    "ORIENTATION_TOLERANCE",
    "SPACING_RTOL",
]

#: Largest difference between direction cosines of two slices still "the same orientation".
ORIENTATION_TOLERANCE = 1e-4
#: Relative deviation of a slice gap from the smallest gap still "uniform".
SPACING_RTOL = 0.01
#: Smallest gap (mm) between two slice positions still "different positions".
DUPLICATE_TOLERANCE_MM = 1e-3
#: In-plane drift (mm, relative to slice spacing) of successive slice origins beyond which
#: the stack is sheared (gantry tilt).
SHEAR_RTOL = 0.01
#: Refuse images with more voxels than this before allocating anything (1 G voxels = 4 GB as float32).
MAX_VOXELS = 2**30
MAX_ROWS_COLUMNS = 2**14

_DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
#: Threads decoding pixel data (file reads, hashing and conversion release the GIL).
DECODE_THREADS = 2
#: Values longer than this are not read when a file is parsed, only when used (the pixel data).
DEFER_BYTES = 4096
_PIXEL_DATA_TAG = 0x7FE00010
_UNDEFINED_LENGTH = 0xFFFFFFFF


@dataclass(frozen=True)
class SeriesInfo:
    """One series found in a tree (from headers only)."""

    study_uid: str
    series_uid: str
    modality: str
    files: tuple[Path, ...]
    series_number: int | None = None
    series_description: str = ""
    rows: int | None = None
    columns: int | None = None
    n_frames: int = 0
    #: (0010,0020) PatientID, to match the series to a clinical table; data, never printed.
    patient_id: str = field(default="", repr=False)

    @property
    def n_files(self) -> int:
        return len(self.files)


@dataclass(frozen=True)
class FoundStudy:
    """The series of one StudyInstanceUID found in a tree."""

    study_uid: str
    series: tuple[SeriesInfo, ...]


@dataclass
class _Frame:
    """One 2-D image (a single-frame file or one frame of a multi-frame file)."""

    path: Path
    header: Dataset
    frame_index: int | None
    orientation: np.ndarray  # (6,) row then column direction cosines
    position: np.ndarray  # (3,) LPS mm of the first pixel's centre
    pixel_spacing: tuple[float, float]  # (row spacing, column spacing) mm
    slope: float
    intercept: float
    rows: int
    columns: int
    slice_thickness: float | None = None
    spacing_between_slices: float | None = None
    acquisition_datetime: Any = None
    frame_reference_ms: float | None = None
    frame_duration_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --- finding files -----------------------------------------------------------------------


def is_dicom_file(path: Path) -> bool:
    """True when ``path`` has the DICOM Part 10 preamble ('DICM' at byte 128)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _walk_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                yield path


def _read_header(path: Path) -> Dataset:
    """Parse a file once; values above ``DEFER_BYTES`` (the pixel data) are read only when used."""
    try:
        return pydicom.dcmread(path, defer_size=DEFER_BYTES)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on damaged headers
        raise DicomError(f"{path}: unreadable DICOM header ({type(exc).__name__})") from None


#: The attributes a series summary (:class:`SeriesInfo`) reads from each file.
_SUMMARY_KEYWORDS = ("Modality", "SeriesNumber", "SeriesDescription", "Rows", "Columns", "NumberOfFrames",
                     "PatientID")


def _scan(root: Path, *, progress: bool) -> dict[tuple[str, str], list[tuple[Path, Dataset]]]:
    """Parse every DICOM image file under ``root`` once, grouped by (study UID, series UID)."""
    if not root.exists():
        raise DicomError(f"{root}: no such file or directory")
    groups: dict[tuple[str, str], list[tuple[Path, Dataset]]] = {}
    ignored = 0
    files = list(_walk_files(root))
    iterator: Iterable[Path] = files
    if progress and len(files) > 200:
        from tqdm import tqdm

        iterator = tqdm(files, desc="scanning", unit="file", leave=False)
    for path in iterator:
        try:
            ds = pydicom.dcmread(path, defer_size=DEFER_BYTES)
        except InvalidDicomError:  # no 'DICM' marker: not a DICOM file, silently skipped
            ignored += 1
            continue
        except Exception as exc:  # noqa: BLE001 - pydicom raises many types on damaged headers
            logger.warning("%s: unreadable DICOM header (%s); file ignored", path, type(exc).__name__)
            ignored += 1
            continue
        try:
            sop_class = str(getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", ""))
            is_image = sop_class != _DICOMDIR_SOP_CLASS and "Rows" in ds
            study = _text(ds, "StudyInstanceUID")
            series = _text(ds, "SeriesInstanceUID")
            for keyword in _SUMMARY_KEYWORDS:  # convert now what _info reads, so damage surfaces here
                ds.get(keyword)
        except Exception as exc:  # noqa: BLE001 - values are parsed lazily; damage surfaces here
            logger.warning("%s: damaged DICOM header (%s); file ignored", path, type(exc).__name__)
            ignored += 1
            continue
        if not is_image:
            ignored += 1
            continue
        if not series:
            logger.warning("%s: (0020,000E) SeriesInstanceUID is missing; file ignored", path)
            ignored += 1
            continue
        groups.setdefault((study, series), []).append((path, ds))
    if ignored:
        logger.info("%s: %d non-image or unreadable files ignored", root, ignored)
    if not groups:
        raise DicomError(f"{root}: no DICOM image files found")
    return groups


def _info(study: str, series: str, members: list[tuple[Path, Dataset]]) -> SeriesInfo:
    first = members[0][1]
    try:
        n_frames = sum(int(ds.get("NumberOfFrames", 1) or 1) for _, ds in members)
    except (TypeError, ValueError):
        n_frames = len(members)
    return SeriesInfo(
        study_uid=study, series_uid=series, modality=str(first.get("Modality", "")),
        files=tuple(sorted(p for p, _ in members)),
        series_number=_int_or_none(first.get("SeriesNumber")),
        series_description=str(first.get("SeriesDescription", "")),
        rows=_int_or_none(first.get("Rows")), columns=_int_or_none(first.get("Columns")),
        n_frames=n_frames, patient_id=str(first.get("PatientID", "") or ""))


def _sort_key(info: SeriesInfo) -> tuple:
    number = info.series_number if info.series_number is not None else 1 << 30
    return (info.study_uid, number, info.series_uid)


def _find(root: Path, *, progress: bool) -> list[tuple[SeriesInfo, dict[Path, Dataset]]]:
    found = [(_info(study, series, members), dict(members))
             for (study, series), members in _scan(root, progress=progress).items()]
    found.sort(key=lambda item: _sort_key(item[0]))
    return found


def find_series(root: str | Path, *, progress: bool = False) -> list[SeriesInfo]:
    """Group the DICOM image files under ``root`` into series by UID.

    Non-DICOM files, DICOMDIRs and objects without pixel data are ignored;
    the count of ignored files is logged. Series are ordered by study UID,
    then series number, then series UID.

    Raises
    ------
    DicomError
        ``root`` holds no DICOM image.
    """
    return [info for info, _ in _find(Path(root), progress=progress)]


def group_studies(series: Sequence[SeriesInfo]) -> list[FoundStudy]:
    """Series grouped by StudyInstanceUID, in first-seen order."""
    studies: dict[str, list[SeriesInfo]] = {}
    for s in series:
        studies.setdefault(s.study_uid, []).append(s)
    return [FoundStudy(uid, tuple(members)) for uid, members in studies.items()]


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


def _select_series(path: Path, series_uid: str | None, modality: str | None,
                   progress: bool = False) -> tuple[SeriesInfo, dict[Path, Dataset]]:
    """The one series that ``path`` designates (a file of it, or a folder holding it), with its headers."""
    if path.is_file():
        if not is_dicom_file(path):
            raise DicomError(f"{path}: not a DICOM file (no 'DICM' marker at byte 128)")
        header = _read_header(path)
        uid = str(header.get("SeriesInstanceUID", ""))
        if not uid:
            raise DicomError(f"{path}: (0020,000E) SeriesInstanceUID is missing")
        return next(item for item in _find(path.parent, progress=progress) if item[0].series_uid == uid)
    found = _find(path, progress=progress)
    if series_uid is not None:
        found = [item for item in found if item[0].series_uid == series_uid]
        if not found:
            raise DicomError(f"{path}: no series with the requested SeriesInstanceUID")
    if modality is not None:
        found = [item for item in found if item[0].modality.upper() == modality.upper()]
        if not found:
            raise DicomError(f"{path}: no {modality} series found ((0008,0060) Modality)")
    if len(found) > 1:
        listing = "; ".join(f"{s.modality} series {s.series_number} ({s.n_files} files)" for s, _ in found)
        raise DicomError(f"{path}: holds {len(found)} series ({listing}); give one series' folder or a file of it")
    return found[0]


# --- reading -----------------------------------------------------------------------------


_TEXT_NUMBER_VRS = {"DS", "IS"}


def _numbers(ds: Dataset, keyword: str) -> Any:
    """Numeric value(s) of a DS/IS attribute, parsed from the raw bytes when pydicom has not yet.

    pydicom's value conversion and validation cost more than the parse of the file itself; for the
    handful of geometry and rescale attributes read from every slice, the raw ``DS``/``IS`` text is
    split and handed to ``float`` here (same result, several times faster). Returns ``None`` when the
    attribute is absent or empty, a list for multi-valued attributes, a single value otherwise.
    """
    element = ds.get_item(keyword_tag(keyword))
    if element is None:
        return None
    raw = element.value
    if isinstance(raw, bytes) and getattr(element, "VR", None) in _TEXT_NUMBER_VRS:
        parts = raw.decode("ascii", "replace").strip(" \0").split("\\")
        if parts == [""]:
            return None
        values: list[Any] = [part.strip() for part in parts]
        return values if len(values) > 1 else values[0]
    value = ds[keyword_tag(keyword)].value
    return None if value in (None, "") else value


def _uint(ds: Dataset, keyword: str, default: int | None = None) -> int | None:
    """An ``US`` attribute's value, read from its raw bytes when not yet converted (see :func:`_numbers`)."""
    element = ds.get_item(keyword_tag(keyword))
    if element is None:
        return default
    raw = element.value
    if isinstance(raw, bytes) and getattr(element, "VR", None) == "US" and len(raw) == 2:
        little = ds.original_encoding[1] is not False
        return int.from_bytes(raw, "little" if little else "big")
    value = ds[keyword_tag(keyword)].value
    if value in (None, ""):
        return default
    return int(value)


def _text(ds: Dataset, keyword: str) -> str:
    """A text attribute's value (UI, CS, LO, ...), from its raw bytes when not yet converted."""
    element = ds.get_item(keyword_tag(keyword))
    if element is None:
        return ""
    raw = element.value
    if isinstance(raw, bytes):
        return raw.decode("ascii", "replace").strip(" \0")
    value = ds[keyword_tag(keyword)].value
    return "" if value is None else str(value)


def keyword_tag(keyword: str) -> int:
    tag = _TAGS.get(keyword)
    if tag is None:
        tag = _TAGS[keyword] = pydicom.datadict.tag_for_keyword(keyword)
    return tag


_TAGS: dict[str, int] = {}


def _float_list(value: Any, n: int, path: Path, tag: str) -> np.ndarray:
    if value is None:
        raise DicomError(f"{path}: {tag} is empty")
    if isinstance(value, (str, bytes, int, float)):
        value = [value]
    try:
        arr = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        raise DicomError(f"{path}: {tag} value is not numeric") from None
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        raise DicomError(f"{path}: {tag} must have {n} finite values, got {value!r}")
    return arr


def _optional_float(ds: Dataset, keyword: str) -> float | None:
    value = _numbers(ds, keyword)
    if value is None or value == "" or isinstance(value, list):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _rescale(ds: Dataset, path: Path) -> tuple[float, float]:
    slope = _numbers(ds, "RescaleSlope")
    intercept = _numbers(ds, "RescaleIntercept")
    try:
        slope, intercept = float(slope if slope not in (None, "") else 1.0), float(
            intercept if intercept not in (None, "") else 0.0)
    except (TypeError, ValueError):
        raise DicomError(f"{path}: (0028,1053) RescaleSlope / (0028,1052) RescaleIntercept are not numeric") from None
    if not (np.isfinite(slope) and np.isfinite(intercept)):
        raise DicomError(f"{path}: (0028,1053) RescaleSlope / (0028,1052) RescaleIntercept are not finite")
    return slope, intercept


def _check_dimensions(ds: Dataset, path: Path) -> tuple[int, int, int]:
    try:
        rows, columns, bits = _uint(ds, "Rows"), _uint(ds, "Columns"), _uint(ds, "BitsAllocated")
        frames = int(_numbers(ds, "NumberOfFrames") or 1)
        samples = _uint(ds, "SamplesPerPixel", 1)
    except (TypeError, ValueError):
        raise DicomError(f"{path}: (0028,0010) Rows / (0028,0011) Columns / (0028,0100) BitsAllocated "
                         "are not integers") from None
    for keyword, tag, value in (("Rows", "(0028,0010)", rows), ("Columns", "(0028,0011)", columns),
                                ("BitsAllocated", "(0028,0100)", bits)):
        if value is None:
            raise DicomError(f"{path}: {tag} {keyword} is missing")
    if not (0 < rows <= MAX_ROWS_COLUMNS and 0 < columns <= MAX_ROWS_COLUMNS and frames > 0):
        raise DicomError(f"{path}: (0028,0010) Rows {rows} x (0028,0011) Columns {columns} x "
                         f"(0028,0008) NumberOfFrames {frames} is out of range")
    if rows * columns * frames > MAX_VOXELS:
        raise DicomError(f"{path}: (0028,0008) NumberOfFrames {frames} x {rows} x {columns} is absurdly large")
    if samples != 1:
        raise DicomError(f"{path}: (0028,0002) SamplesPerPixel {samples} is not supported (need 1)")
    if bits not in (8, 16, 32, 64):
        raise DicomError(f"{path}: (0028,0100) BitsAllocated {bits} is not supported")
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if ts is not None and (not isinstance(ts, pydicom.uid.UID) or not ts.is_transfer_syntax):
        raise DicomError(f"{path}: (0002,0010) TransferSyntaxUID is not a transfer syntax")
    if ts is not None and not ts.is_compressed:
        # Uncompressed: the header must not claim more pixel data than the file holds.
        expected = rows * columns * frames * bits // 8
        size = path.stat().st_size
        if expected > size:
            raise DicomError(f"{path}: header claims {expected} bytes of pixel data "
                             f"((0028,0010) Rows x (0028,0011) Columns x (0028,0008) NumberOfFrames) "
                             f"but the file holds {size} bytes")
    return rows, columns, frames


def _frames_of(path: Path, ds: Dataset) -> list[_Frame]:
    """Geometry and rescale of each 2-D frame in one file (headers only)."""
    rows, columns, n_frames = _check_dimensions(ds, path)
    if n_frames == 1 and "PerFrameFunctionalGroupsSequence" not in ds:
        if "ImageOrientationPatient" not in ds:
            raise DicomError(f"{path}: (0020,0037) ImageOrientationPatient is missing")
        if "ImagePositionPatient" not in ds:
            raise DicomError(f"{path}: (0020,0032) ImagePositionPatient is missing")
        if "PixelSpacing" not in ds:
            raise DicomError(f"{path}: (0028,0030) PixelSpacing is missing")
        orientation = _float_list(_numbers(ds, "ImageOrientationPatient"), 6, path,
                                  "(0020,0037) ImageOrientationPatient")
        position = _float_list(_numbers(ds, "ImagePositionPatient"), 3, path, "(0020,0032) ImagePositionPatient")
        spacing = _float_list(_numbers(ds, "PixelSpacing"), 2, path, "(0028,0030) PixelSpacing")
        if np.any(spacing <= 0):
            raise DicomError(f"{path}: (0028,0030) PixelSpacing must be > 0, got {spacing.tolist()}")
        tilt = _optional_float(ds, "GantryDetectorTilt")
        if tilt is not None and abs(tilt) > 1e-3:
            raise GeometryError(f"{path}: (0018,1120) GantryDetectorTilt is {tilt:g} degrees; "
                                "tilted stacks are not supported")
        slope, intercept = _rescale(ds, path)
        return [_Frame(path=path, header=ds, frame_index=None, orientation=orientation, position=position,
                       pixel_spacing=(float(spacing[0]), float(spacing[1])), slope=slope, intercept=intercept,
                       rows=rows, columns=columns,
                       slice_thickness=_optional_float(ds, "SliceThickness"),
                       spacing_between_slices=_optional_float(ds, "SpacingBetweenSlices"),
                       frame_reference_ms=_optional_float(ds, "FrameReferenceTime"),
                       frame_duration_ms=_optional_float(ds, "ActualFrameDuration"))]
    return _enhanced_frames(path, ds, rows, columns, n_frames)


def _group_item(ds: Dataset, per_frame: Dataset | None, sequence: str) -> Dataset | None:
    for source in (per_frame, ds.get("SharedFunctionalGroupsSequence", [None])[0]
                   if ds.get("SharedFunctionalGroupsSequence") else None):
        if source is not None and sequence in source and len(source[sequence].value) > 0:
            return source[sequence].value[0]
    return None


def _enhanced_frames(path: Path, ds: Dataset, rows: int, columns: int, n_frames: int) -> list[_Frame]:
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is None or len(per_frame) != n_frames:
        raise GeometryError(f"{path}: multi-frame object without per-frame geometry "
                            "((5200,9230) PerFrameFunctionalGroupsSequence missing or not one item per frame)")
    frames = []
    for index, item in enumerate(per_frame):
        position_item = _group_item(ds, item, "PlanePositionSequence")
        orientation_item = _group_item(ds, item, "PlaneOrientationSequence")
        measures = _group_item(ds, item, "PixelMeasuresSequence")
        if position_item is None or "ImagePositionPatient" not in position_item:
            raise GeometryError(f"{path}: frame {index + 1} has no (0020,9113) PlanePositionSequence "
                                "ImagePositionPatient (no per-frame geometry)")
        if orientation_item is None or "ImageOrientationPatient" not in orientation_item:
            raise GeometryError(f"{path}: frame {index + 1} has no (0020,9116) PlaneOrientationSequence")
        if measures is None or "PixelSpacing" not in measures:
            raise GeometryError(f"{path}: frame {index + 1} has no (0028,9110) PixelMeasuresSequence PixelSpacing")
        orientation = _float_list(orientation_item.ImageOrientationPatient, 6, path,
                                  "(0020,0037) ImageOrientationPatient")
        position = _float_list(position_item.ImagePositionPatient, 3, path, "(0020,0032) ImagePositionPatient")
        spacing = _float_list(measures.PixelSpacing, 2, path, "(0028,0030) PixelSpacing")
        transform = _group_item(ds, item, "PixelValueTransformationSequence")
        slope, intercept = _rescale(transform if transform is not None else ds, path)
        content = _group_item(ds, item, "FrameContentSequence")
        frame = _Frame(path=path, header=ds, frame_index=index, orientation=orientation, position=position,
                       pixel_spacing=(float(spacing[0]), float(spacing[1])), slope=slope, intercept=intercept,
                       rows=rows, columns=columns,
                       slice_thickness=_optional_float(measures, "SliceThickness"),
                       spacing_between_slices=_optional_float(measures, "SpacingBetweenSlices"))
        if content is not None:
            frame.acquisition_datetime = content.get("FrameAcquisitionDateTime")
            frame.frame_reference_ms = None
            duration = _optional_float(content, "FrameAcquisitionDuration")
            frame.frame_duration_ms = duration
            frame.extra["FrameReferenceDateTime"] = content.get("FrameReferenceDateTime")
        frames.append(frame)
    return frames


@dataclass(frozen=True)
class DuplicateInstance:
    """A file holding the same (0008,0018) SOPInstanceUID as another file of its series; it was not used."""

    sop_instance_uid: str
    kept: Path
    path: Path
    header: Dataset = field(repr=False, compare=False)
    identical: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"sop_instance_uid": self.sop_instance_uid, "kept": str(self.kept), "dropped": str(self.path),
                "byte_identical": self.identical}


@dataclass(frozen=True)
class SeriesHeaders:
    """The frames of one series, sorted along the slice normal, with the stack geometry.

    ``duplicates`` are the files not used because another file of the series
    holds the same SOPInstanceUID; ``warnings`` say so.
    """

    info: SeriesInfo
    frames: tuple[_Frame, ...]
    affine: np.ndarray
    normal: np.ndarray
    duplicates: tuple[DuplicateInstance, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def first(self) -> Dataset:
        return self.frames[0].header


def _stack_geometry(frames: list[_Frame], label: str) -> tuple[list[_Frame], np.ndarray, np.ndarray]:
    """Sort frames along the normal, check the stack, and build the affine."""
    reference = frames[0]
    for f in frames[1:]:
        if np.max(np.abs(f.orientation - reference.orientation)) > ORIENTATION_TOLERANCE:
            raise GeometryError(f"{f.path}: (0020,0037) ImageOrientationPatient differs from {reference.path} "
                                "(mixed orientations in one series)")
        if (f.rows, f.columns) != (reference.rows, reference.columns):
            raise GeometryError(f"{f.path}: (0028,0010) Rows / (0028,0011) Columns {f.rows}x{f.columns} differ "
                                f"from {reference.rows}x{reference.columns} in {reference.path}")
        if not np.allclose(f.pixel_spacing, reference.pixel_spacing, rtol=1e-4, atol=1e-6):
            raise GeometryError(f"{f.path}: (0028,0030) PixelSpacing {list(f.pixel_spacing)} differs from "
                                f"{list(reference.pixel_spacing)} in {reference.path}")
    row_cos = reference.orientation[:3]
    col_cos = reference.orientation[3:]
    if not (np.isclose(np.linalg.norm(row_cos), 1, atol=1e-3) and np.isclose(np.linalg.norm(col_cos), 1, atol=1e-3)
            and abs(float(np.dot(row_cos, col_cos))) < 1e-3):
        raise GeometryError(f"{reference.path}: (0020,0037) ImageOrientationPatient is not two orthogonal unit "
                            "vectors")
    row_cos = row_cos / np.linalg.norm(row_cos)
    col_cos = col_cos / np.linalg.norm(col_cos)
    normal = np.cross(row_cos, col_cos)
    distances = np.array([float(np.dot(f.position, normal)) for f in frames])
    order = np.argsort(distances, kind="stable")
    frames = [frames[i] for i in order]
    distances = distances[order]
    row_spacing, col_spacing = reference.pixel_spacing
    if len(frames) == 1:
        thickness = reference.spacing_between_slices or reference.slice_thickness
        if thickness is None or thickness <= 0:
            raise GeometryError(f"{reference.path}: single slice without (0018,0088) SpacingBetweenSlices or "
                                "(0018,0050) SliceThickness; the slice spacing is unknown")
        k_axis = normal * thickness
    else:
        gaps = np.diff(distances)
        for i, gap in enumerate(gaps):
            if gap < DUPLICATE_TOLERANCE_MM:
                raise GeometryError(f"{frames[i + 1].path}: (0020,0032) ImagePositionPatient duplicates the "
                                    f"position of {frames[i].path} (duplicate slice)")
        step = float(np.min(gaps))
        if np.max(np.abs(gaps - step)) > SPACING_RTOL * step:
            ratios = gaps / step
            worst = int(np.argmax(np.abs(gaps - step)))
            if np.allclose(ratios, np.round(ratios), atol=SPACING_RTOL * 2) and np.median(ratios) < 1.5:
                missing = int(round(ratios[worst])) - 1
                raise GeometryError(f"{frames[worst + 1].path}: (0020,0032) ImagePositionPatient: {missing} "
                                    f"missing slice(s) before this one (gap {gaps[worst]:.3f} mm, spacing "
                                    f"{step:.3f} mm)")
            raise GeometryError(f"{frames[worst + 1].path}: (0020,0032) ImagePositionPatient: non-uniform slice "
                                f"spacing (gap {gaps[worst]:.3f} mm vs {step:.3f} mm)")
        # The stack must advance along the normal: an in-plane drift of the origin is a shear (gantry tilt).
        first, last = frames[0].position, frames[-1].position
        k_axis = (last - first) / (len(frames) - 1)
        in_plane = k_axis - np.dot(k_axis, normal) * normal
        if np.linalg.norm(in_plane) > SHEAR_RTOL * abs(float(np.dot(k_axis, normal))):
            raise GeometryError(f"{label}: (0020,0032) ImagePositionPatient drifts in-plane by "
                                f"{np.linalg.norm(in_plane):.3f} mm per slice (gantry tilt / sheared stack)")
        k_axis = normal * float(np.dot(k_axis, normal))
    affine = np.eye(4)
    affine[:3, 0] = row_cos * col_spacing  # i runs along a row: column spacing
    affine[:3, 1] = col_cos * row_spacing  # j runs down a column: row spacing
    affine[:3, 2] = k_axis
    affine[:3, 3] = frames[0].position
    return frames, affine, normal


def _same_bytes(a: Path, b: Path) -> bool:
    return filecmp.cmp(a, b, shallow=False)


def _duplicate_instances(files: Sequence[Path], datasets: dict[Path, Dataset], *,
                         allow_different: bool) -> tuple[list[Path], list[DuplicateInstance]]:
    """The files to use (the first of each SOPInstanceUID, in path order) and the duplicates left out.

    Raises
    ------
    DicomError
        Two files with one SOPInstanceUID that are not byte-identical, unless ``allow_different``.
    """
    first_of: dict[str, Path] = {}
    kept: list[Path] = []
    duplicates: list[DuplicateInstance] = []
    for file in files:
        uid = _text(datasets[file], "SOPInstanceUID")
        if not uid or uid not in first_of:
            if uid:
                first_of[uid] = file
            kept.append(file)
            continue
        identical = _same_bytes(first_of[uid], file)
        if not identical and not allow_different:
            raise DicomError(f"{file}: (0008,0018) SOPInstanceUID is also that of {first_of[uid]} and the two files "
                             "differ; one instance, two contents: remove the wrong file")
        duplicates.append(DuplicateInstance(uid, first_of[uid], file, datasets[file], identical))
    return kept, duplicates


def _duplicate_warnings(duplicates: Sequence[DuplicateInstance]) -> tuple[str, ...]:
    return tuple(f"{d.path}: (0008,0018) SOPInstanceUID duplicates {d.kept} "
                 f"({'byte-identical' if d.identical else 'NOT byte-identical'}): only {d.kept} is used"
                 for d in duplicates)


def load_series_headers(path: str | Path, *, series_uid: str | None = None,
                        modality: str | None = None, progress: bool = False,
                        allow_different_duplicates: bool = False) -> SeriesHeaders:
    """Headers and stack geometry of the series at ``path`` (no pixel data read).

    Files sharing a SOPInstanceUID: the first (in path order) is used and the
    others are listed in ``duplicates`` with a warning when byte-identical;
    otherwise the series is refused, unless ``allow_different_duplicates``
    (``inspect`` and ``suv``, which report them).
    """
    dynamic = load_dynamic_headers(path, series_uid=series_uid, modality=modality, progress=progress,
                                   allow_different_duplicates=allow_different_duplicates)
    if len(dynamic.frames) > 1:
        first = dynamic.frames[0]
        raise DicomError(f"{first.frames[0].path}: (0054,1000) SeriesType {dynamic.series_type}: "
                         f"{len(dynamic.frames)} frames of {len(first.frames)} slices; choose the frames to sum "
                         "(gliopet measure --frames START-END, minutes after injection)")
    return dynamic.frames[0]


@dataclass(frozen=True)
class DynamicHeaders:
    """A series as time frames (DYNAMIC) or gates (GATED): one checked stack per frame, in time order.

    A static series is one frame.
    """

    series_type: str
    frames: tuple[SeriesHeaders, ...]

    @property
    def is_dynamic(self) -> bool:
        return len(self.frames) > 1


#: (0054,1000) SeriesType values whose series hold several frames per position.
MULTI_FRAME_SERIES_TYPES = ("DYNAMIC", "GATED")


def _time_slot(frame: _Frame) -> tuple:
    """Which time frame (or gate) a slice belongs to: (0054,1330) ImageIndex over (0054,0081)
    NumberOfSlices when both are given (PS3.3 C.8.9.4.1.9), else its timing attributes."""
    ds = frame.header
    index, per_frame = _optional_float(ds, "ImageIndex"), _optional_float(ds, "NumberOfSlices")
    if frame.frame_index is None and index is not None and per_frame:
        return (int((index - 1) // per_frame),)
    return (str(frame.acquisition_datetime or ""), _text(ds, "AcquisitionDate"), _text(ds, "AcquisitionTime"),
            frame.frame_reference_ms, _optional_float(ds, "TriggerTime"))


def load_dynamic_headers(path: str | Path, *, series_uid: str | None = None, modality: str | None = None,
                         progress: bool = False, allow_different_duplicates: bool = False) -> DynamicHeaders:
    """The series at ``path`` as one stack per time frame (SeriesType DYNAMIC or GATED with several
    frames per position), each checked like a static series; a static series is one frame.

    Frames are ordered by their earliest acquisition date/time text (then the grouping key).
    """
    path = Path(path)
    if not path.exists():
        raise DicomError(f"{path}: no such file or directory")
    info, datasets = _select_series(path, series_uid, modality, progress=progress)
    files, duplicates = _duplicate_instances(info.files, datasets, allow_different=allow_different_duplicates)
    frames: list[_Frame] = []
    for file in files:
        frames.extend(_guarded(_frames_of, file, datasets[file]))
    series_type = _text(frames[0].header, "SeriesType").split("\\")[0].strip().upper() or "STATIC"
    groups: dict[tuple, list[_Frame]] = {}
    if series_type in MULTI_FRAME_SERIES_TYPES:
        for frame in frames:
            groups.setdefault(_time_slot(frame), []).append(frame)
    if len(groups) <= 1:
        groups = {(): frames}
    warnings = _duplicate_warnings(duplicates)
    stacks = []
    for key, members in sorted(groups.items(), key=lambda item: (str(_frame_start_key(item[1])), str(item[0]))):
        members, affine, normal = _stack_geometry(members, str(path))
        stacks.append(SeriesHeaders(info=info, frames=tuple(members), affine=affine, normal=normal,
                                    duplicates=tuple(duplicates), warnings=warnings))
    return DynamicHeaders(series_type=series_type, frames=tuple(stacks))


def _frame_start_key(members: list[_Frame]) -> str:
    return min(f"{_text(f.header, 'AcquisitionDate')}{_text(f.header, 'AcquisitionTime')}" for f in members)


def _stored_pixel_bytes(path: Path, ds: Dataset) -> bytes:
    """The stored (7FE0,0010) PixelData bytes of one file.

    When the parse deferred them (native pixel data of defined length), they are read straight from
    the file at the recorded offset and not kept in the header, so headers stay small.
    """
    element = ds.get_item(_PIXEL_DATA_TAG, keep_deferred=True)
    if element is None:
        raise DicomError(f"{path}: (7FE0,0010) PixelData is missing")
    if (isinstance(element, RawDataElement) and element.value is None and element.value_tell is not None
            and element.length != _UNDEFINED_LENGTH):
        with open(path, "rb") as fh:
            fh.seek(element.value_tell)
            data = fh.read(element.length)
        if len(data) != element.length:
            raise DicomError(f"{path}: (7FE0,0010) PixelData is truncated ({len(data)} of {element.length} bytes)")
        return data
    return ds.PixelData


def _native_pixels(ds: Dataset, raw: bytes) -> np.ndarray | None:
    """Uncompressed little-endian pixels as a view on the stored bytes, or None if another path is needed."""
    ts = ds.file_meta.TransferSyntaxUID
    if ts.is_compressed or not ts.is_little_endian:
        return None
    bits = _uint(ds, "BitsAllocated")
    if _uint(ds, "BitsStored", bits) != bits or bits not in (8, 16, 32):
        return None  # sign extension / masking: let pydicom do it
    signed = _uint(ds, "PixelRepresentation", 0) == 1
    dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
    frames = int(_numbers(ds, "NumberOfFrames") or 1)
    rows, columns = _uint(ds, "Rows"), _uint(ds, "Columns")
    expected = frames * rows * columns * dtype.itemsize
    if len(raw) < expected:
        raise DicomError(f"{ds.filename}: (7FE0,0010) PixelData holds {len(raw)} bytes, "
                         f"Rows x Columns x NumberOfFrames needs {expected}")
    return np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize).reshape(frames, rows, columns)


def _decode(path: Path, ds: Dataset) -> tuple[np.ndarray, bytes]:
    """Stored pixel values ``[frame, row, column]`` of one file, and its stored pixel bytes."""
    raw = _stored_pixel_bytes(path, ds)
    pixels = _native_pixels(ds, raw)
    if pixels is None:
        pixels = ds.pixel_array
    if pixels.ndim == 2:
        pixels = pixels[np.newaxis]
    return pixels, raw


def read_series(path: str | Path, *, series_uid: str | None = None, modality: str | None = None,
                progress: bool = False) -> Volume:
    """Read one series into a float32 :class:`Volume` in real units (LPS affine).

    Parameters
    ----------
    path : path
        A file of the series (the series is gathered from its folder), or a
        folder holding exactly one series (or one of ``modality`` / ``series_uid``).
    series_uid, modality : str, optional
        Choose a series in a folder holding several.

    Returns
    -------
    Volume
        ``provenance`` holds ``files`` and ``sop_instance_uids`` in slice order,
        ``pixel_sha256`` (of the stored pixel data in slice order), UIDs,
        ``modality`` and the geometry attributes used.

    Raises
    ------
    DicomError, GeometryError
        Naming the file and the attribute at fault.
    """
    headers = load_series_headers(path, series_uid=series_uid, modality=modality, progress=progress)
    return volume_from_headers(headers, progress=progress)


def volume_from_headers(headers: SeriesHeaders, *, progress: bool = False) -> Volume:
    """Decode the pixel data of an already-checked stack into a Volume."""
    frames = headers.frames
    rows, columns = frames[0].rows, frames[0].columns
    array = np.empty((len(frames), rows, columns), dtype=np.float32)
    digest = hashlib.sha256()
    by_file: dict[Path, list[tuple[int, _Frame]]] = {}
    for k, frame in enumerate(frames):
        by_file.setdefault(frame.path, []).append((k, frame))
    # Pixel hash in slice order: hash each file's stored bytes, then combine in slice order.
    file_hashes: dict[Path, str] = {}

    def fill(file: Path) -> None:
        pixels, raw = _guarded(_decode, file, by_file[file][0][1].header)
        file_hashes[file] = hashlib.sha256(raw).hexdigest()  # releases the GIL
        if pixels.shape[1:] != (rows, columns):
            raise DicomError(f"{file}: decoded pixel data shape {pixels.shape[1:]} != (0028,0010) Rows x "
                             f"(0028,0011) Columns {rows}x{columns}")
        for k, frame in by_file[file]:
            index = frame.frame_index or 0
            if index >= pixels.shape[0]:
                raise DicomError(f"{file}: frame {index + 1} is beyond the decoded pixel data")
            out = array[k]
            out[...] = pixels[index]  # exact: stored integers fit float32's 24-bit mantissa
            if frame.slope != 1.0:
                out *= np.float32(frame.slope)
            if frame.intercept:
                out += np.float32(frame.intercept)

    # Hashing, the int->float conversion and file reads release the GIL: two threads overlap them.
    with ThreadPoolExecutor(max_workers=DECODE_THREADS) as pool:
        jobs = [pool.submit(fill, file) for file in by_file]
        iterator: Iterable[Any] = jobs
        if progress and len(jobs) > 100:
            from tqdm import tqdm

            iterator = tqdm(jobs, desc="reading", unit="file", leave=False)
        try:
            for job in iterator:
                job.result()
        except BaseException:
            for job in jobs:
                job.cancel()
            raise
    seen: set[Path] = set()
    for frame in frames:
        if frame.path not in seen:
            digest.update(file_hashes[frame.path].encode())
            seen.add(frame.path)
    first = headers.first
    info = headers.info
    provenance = {
        "format": "dicom",
        "modality": info.modality,
        "study_instance_uid": info.study_uid,
        "series_instance_uid": info.series_uid,
        "frame_of_reference_uid": str(first.get("FrameOfReferenceUID", "")),
        "files": [str(f.path) for f in frames],
        "frame_indices": [f.frame_index for f in frames],
        "sop_instance_uids": [str(f.header.get("SOPInstanceUID", "")) for f in frames],
        "pixel_sha256": digest.hexdigest(),
        "attributes": {
            "ImageOrientationPatient": frames[0].orientation.tolist(),
            "PixelSpacing": list(frames[0].pixel_spacing),
            "slice_spacing_mm": float(np.linalg.norm(headers.affine[:3, 2])),
            "RescaleSlope": _compact([f.slope for f in frames]),
            "RescaleIntercept": _compact([f.intercept for f in frames]),
            "Units": str(first.get("Units", "")) or None,
        },
    }
    return Volume(array, headers.affine, provenance)


def _guarded(function, path: Path, *args: Any) -> Any:
    """Run ``function(path, *args)``; a damaged file's unexpected exception becomes a DicomError.

    pydicom raises many exception types on damaged files (truncated elements, wrong VRs, impossible
    values); at this boundary each is reported as one line naming the file, never as a traceback.
    """
    try:
        return function(path, *args)
    except (DicomError, GeometryError):
        raise
    except Exception as exc:  # noqa: BLE001 - the boundary between bytes from disk and gliopet
        detail = str(exc).splitlines()[0][:120] if str(exc) else ""
        raise DicomError(f"{path}: damaged or unsupported DICOM ({type(exc).__name__}: {detail})") from None


def _compact(values: list[float]) -> float | list[float]:
    return values[0] if all(v == values[0] for v in values) else values
