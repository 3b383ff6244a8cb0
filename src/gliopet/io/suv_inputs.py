"""Read the SUV inputs of a PET series from DICOM and apply the factor.

This is the only place where DICOM attributes are turned into the plain values
that :func:`gliopet.suv.compute_suv` takes; every error is prefixed with the
file it concerns. Private tags are found through their private creators
(GE ``GEMS_PETD_01`` group 0009, Philips ``Philips PET Private Group`` group
7053), never by a fixed element number alone.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from ..errors import DicomError, GliopetError, InputError, SuvError
from ..suv import PetTiming, SuvInput, SuvResult, compute_suv, duration_weighted_mean, identify_radionuclide
from ..volume import Volume
from .dicom import DynamicHeaders, SeriesHeaders, load_dynamic_headers, load_series_headers, volume_from_headers

logger = logging.getLogger(__name__)

__all__ = ["suv_inputs_from_headers", "suv_for_headers", "suv_report_for_series", "read_suv_volume",
           "format_suv_report", "read_suv_series", "read_suv_frames", "frame_timing_min", "frames_with_suv",
           "SuvSeries", "parse_da",
           "parse_tm", "parse_dt"]

GE_CREATOR = "GEMS_PETD_01"
PHILIPS_CREATOR = "Philips PET Private Group"

_TM = re.compile(r"^(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?$")
_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,6}))?([+-]\d{4})?$")


def parse_da(value: Any, *, tag: str) -> date | None:
    """DICOM DA ``YYYYMMDD`` (or ``YYYY.MM.DD``) to a date; ``None`` if empty."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip().replace(".", "")
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise SuvError(f"{tag} value '{value}' is not a DICOM date (YYYYMMDD)") from None


def parse_tm(value: Any, *, tag: str) -> time | None:
    """DICOM TM ``HHMMSS.FFFFFF`` (parts optional) to a time; ``None`` if empty."""
    if value is None or str(value).strip() == "":
        return None
    match = _TM.match(str(value).strip())
    if not match:
        raise SuvError(f"{tag} value '{value}' is not a DICOM time (HHMMSS.FFFFFF)")
    hh, mm, ss, frac = match.groups()
    try:
        return time(int(hh), int(mm or 0), min(int(ss or 0), 59), int((frac or "0").ljust(6, "0")))
    except ValueError:
        raise SuvError(f"{tag} value '{value}' is not a valid time of day") from None


def parse_dt(value: Any, *, tag: str) -> datetime | None:
    """DICOM DT ``YYYYMMDDHHMMSS.FFFFFF&ZZXX`` to a datetime; ``None`` if empty."""
    if value is None or str(value).strip() == "":
        return None
    match = _DT.match(str(value).strip())
    if not match:
        raise SuvError(f"{tag} value '{value}' is not a DICOM date-time (YYYYMMDDHHMMSS)")
    year, month, day, hh, mm, ss, frac, offset = match.groups()
    try:
        result = datetime(int(year), int(month or 1), int(day or 1), int(hh or 0), int(mm or 0),
                          min(int(ss or 0), 59), int((frac or "0").ljust(6, "0")))
    except ValueError:
        raise SuvError(f"{tag} value '{value}' is not a valid date-time") from None
    if offset:
        sign = 1 if offset[0] == "+" else -1
        delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
        result = result.replace(tzinfo=timezone(sign * delta))
    return result


def _combine(d: date | None, t: time | None) -> datetime | None:
    return None if d is None or t is None else datetime.combine(d, t)


def _private(ds: Dataset, group: int, creator: str, element: int) -> Any:
    try:
        block = ds.private_block(group, creator)
    except KeyError:
        return None
    try:
        return block[element].value
    except KeyError:
        return None


def _number(value: Any, tag: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SuvError(f"{tag} value '{value}' is not a number") from None


#: The attributes the SUV depends on that every instance of a series must share (issue 16, rule 3).
#: Per-slice RescaleSlope and per-frame times are per-instance by design and not listed.
_SERIES_CONSTANT = (
    ("(0054,1001) Units", lambda ds, rp: _text_value(ds.get("Units"))),
    ("(0054,1102) DecayCorrection", lambda ds, rp: _text_value(ds.get("DecayCorrection"))),
    ("(0028,0051) CorrectedImage", lambda ds, rp: _text_value(ds.get("CorrectedImage"))),
    ("(0010,1030) PatientWeight", lambda ds, rp: _number_value(ds.get("PatientWeight"))),
    ("(0010,1020) PatientSize", lambda ds, rp: _number_value(ds.get("PatientSize"))),
    ("(0010,0040) PatientSex", lambda ds, rp: _text_value(ds.get("PatientSex"))),
    ("(0054,1006) SUVType", lambda ds, rp: _text_value(ds.get("SUVType"))),
    ("(0018,1074) RadionuclideTotalDose", lambda ds, rp: _number_value(rp.get("RadionuclideTotalDose"))),
    ("(0018,1075) RadionuclideHalfLife", lambda ds, rp: _number_value(rp.get("RadionuclideHalfLife"))),
    ("(0018,1078) RadiopharmaceuticalStartDateTime",
     lambda ds, rp: _text_value(rp.get("RadiopharmaceuticalStartDateTime"))),
    ("(0018,1072) RadiopharmaceuticalStartTime", lambda ds, rp: _text_value(rp.get("RadiopharmaceuticalStartTime"))),
    ("(0009,100D) GE private scan date/time", lambda ds, rp: _text_value(_private(ds, 0x0009, GE_CREATOR, 0x0D))),
    ("(7053,1000) Philips private SUV scale factor",
     lambda ds, rp: _number_value(_private(ds, 0x7053, PHILIPS_CREATOR, 0x00))),
    ("(7053,1009) Philips private activity concentration scale factor",
     lambda ds, rp: _number_value(_private(ds, 0x7053, PHILIPS_CREATOR, 0x09))),
)


def _text_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return tuple(str(v).strip().upper() for v in value)
    return str(value).strip().upper() or None


def _number_value(value: Any) -> Any:
    if value is None or str(value).strip() == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value).strip()


def check_one_set_of_inputs(instances: list[tuple[Path, Dataset]]) -> None:
    """Refuse a series whose instances disagree on an attribute the SUV depends on (naming two files).

    Raises
    ------
    SuvError
        ``"<file>: (0010,1030) PatientWeight differs between instances of one series: 70 in A, 72 in B"``.
    """
    first_path, first = instances[0]
    first_values = [read(first, _radiopharmaceutical(first)) for _, read in _SERIES_CONSTANT]
    for path, ds in instances[1:]:
        if ds is first:
            continue
        rp = _radiopharmaceutical(ds)
        for (attribute, read), expected in zip(_SERIES_CONSTANT, first_values):
            value = read(ds, rp)
            if value != expected:
                raise SuvError(f"{attribute} differs between instances of one series: {_shown(expected)} in "
                               f"{first_path}, {_shown(value)} in {path}; one series must have one set of SUV inputs")


def _shown(value: Any) -> str:
    if value is None:
        return "absent"
    return "\\".join(value) if isinstance(value, tuple) else f"{value:g}" if isinstance(value, float) else str(value)


def _radiopharmaceutical(ds: Dataset) -> Dataset:
    sequence = ds.get("RadiopharmaceuticalInformationSequence")
    return sequence[0] if sequence else Dataset()


def suv_inputs_from_headers(headers: SeriesHeaders) -> dict[str, Any]:
    """Keyword arguments of :func:`gliopet.suv.compute_suv` for one series."""
    first = headers.first
    check_one_set_of_inputs([(f.path, f.header) for f in headers.frames]
                            + [(d.path, d.header) for d in getattr(headers, "duplicates", ())])
    radiopharm = first.get("RadiopharmaceuticalInformationSequence")
    rp = radiopharm[0] if radiopharm else Dataset()
    corrected = first.get("CorrectedImage")
    if corrected is not None and isinstance(corrected, str):
        corrected = [corrected]
    series_dt = _combine(parse_da(first.get("SeriesDate"), tag="(0008,0021) SeriesDate"),
                         parse_tm(first.get("SeriesTime"), tag="(0008,0031) SeriesTime"))
    acquisitions = []
    for frame in headers.frames:
        acq = None
        if frame.acquisition_datetime:
            acq = parse_dt(frame.acquisition_datetime, tag="(0018,9074) FrameAcquisitionDateTime")
        if acq is None:
            h = frame.header
            acq = _combine(parse_da(h.get("AcquisitionDate") or h.get("SeriesDate"),
                                    tag="(0008,0022) AcquisitionDate"),
                           parse_tm(h.get("AcquisitionTime"), tag="(0008,0032) AcquisitionTime"))
        if acq is None:
            acq = parse_dt(frame.header.get("AcquisitionDateTime"), tag="(0008,002A) AcquisitionDateTime")
        if acq is not None:
            acquisitions.append(acq)
    timing = PetTiming(acquisition=tuple(acquisitions) if len(acquisitions) == len(headers.frames) else (),
                       frame_reference_ms=tuple(f.frame_reference_ms for f in headers.frames),
                       frame_duration_ms=tuple(f.frame_duration_ms for f in headers.frames))
    height = _number(first.get("PatientSize"), "(0010,1020) PatientSize")
    sex = str(first.get("PatientSex", "") or "").strip().upper() or None
    ge_scan = _private(first, 0x0009, GE_CREATOR, 0x0D)
    philips_suv = [_number(_private(f.header, 0x7053, PHILIPS_CREATOR, 0x00), "(7053,1000) SUV scale factor")
                   for f in headers.frames]
    philips_acf = [_number(_private(f.header, 0x7053, PHILIPS_CREATOR, 0x09),
                           "(7053,1009) activity concentration scale factor") for f in headers.frames]
    units = first.get("Units")
    return dict(
        units=None if units in (None, "") else str(units),
        decay_correction=str(first.get("DecayCorrection")) if first.get("DecayCorrection") else None,
        corrected_image=None if corrected is None else [str(c) for c in corrected],
        weight_kg=_number(first.get("PatientWeight"), "(0010,1030) PatientWeight"),
        height_m=height if height else None,
        sex=sex,
        injected_bq=_number(rp.get("RadionuclideTotalDose"), "(0018,1074) RadionuclideTotalDose"),
        half_life_s=_number(rp.get("RadionuclideHalfLife"), "(0018,1075) RadionuclideHalfLife"),
        start_datetime=parse_dt(rp.get("RadiopharmaceuticalStartDateTime"),
                                tag="(0018,1078) RadiopharmaceuticalStartDateTime"),
        start_time=(lambda t: None if t is None else datetime.combine(date(2000, 1, 1), t))(
            parse_tm(rp.get("RadiopharmaceuticalStartTime"), tag="(0018,1072) RadiopharmaceuticalStartTime")),
        series_datetime=series_dt,
        timing=timing,
        ge_scan_datetime=parse_dt(ge_scan, tag="(0009,100D) GE private scan date/time") if ge_scan else None,
        philips_suv_factor=philips_suv if any(v is not None for v in philips_suv) else None,
        philips_activity_factor=philips_acf if any(v is not None for v in philips_acf) else None,
        suv_type=str(first.get("SUVType")) if first.get("SUVType") else None,
        n_slices=len(headers.frames),
        radionuclide=_radionuclide(rp),
    )


def _radionuclide(rp: Dataset) -> str | None:
    """The radionuclide the (0054,0016) item names: its (0054,0300) code sequence, else the radiopharmaceutical."""
    codes = rp.get("RadionuclideCodeSequence") or []
    from_code = identify_radionuclide(*(str(c.get("CodeMeaning", "")) for c in codes))
    if from_code is not None:
        return from_code
    return identify_radionuclide(str(rp.get("Radiopharmaceutical", "") or ""))


def suv_for_headers(headers: SeriesHeaders) -> SuvResult:
    """The SUV factor of a loaded series; errors are prefixed with the series' first file."""
    return _suv_and_inputs(headers)[0]


def _suv_and_inputs(headers: SeriesHeaders) -> tuple[SuvResult, dict[str, Any]]:
    """:func:`suv_for_headers` and the inputs it was computed from (read from the headers once)."""
    label = headers.frames[0].path
    modality = headers.info.modality.upper()
    if modality != "PT":
        raise DicomError(f"{label}: (0008,0060) Modality is '{headers.info.modality}'; SUV needs a PET (PT) series")
    try:
        inputs = suv_inputs_from_headers(headers)
        result = compute_suv(**inputs)
        if headers.warnings:
            result = replace(result, warnings=tuple(headers.warnings) + result.warnings)
        return result, inputs
    except SuvError as exc:
        raise SuvError(f"{label}: {exc}") from None
    except GliopetError:
        raise
    except Exception as exc:  # noqa: BLE001 - pydicom parses values lazily: damage surfaces on access
        # Damaged header values (wrong VR, wrong multiplicity) that pydicom hands over as odd types.
        raise DicomError(f"{label}: damaged SUV attribute ({type(exc).__name__}: {str(exc)[:120]})") from None


def suv_report_for_series(path: str | Path) -> dict[str, Any]:
    """The ``gliopet suv --json`` object for the series at ``path``."""
    dynamic = load_dynamic_headers(path, modality=None if Path(path).is_file() else "PT",
                                   allow_different_duplicates=True)
    headers = dynamic.frames[0]
    result = suv_for_headers(headers)
    report = result.as_dict()
    if dynamic.is_dynamic:
        report.update(_dynamic_report(dynamic))
    report["duplicates"] = [d.as_dict() for d in headers.duplicates]
    report["series"] = {
        "series_instance_uid": headers.info.series_uid,
        "n_slices": len(headers.frames),
        "first_file": str(headers.frames[0].path),
        "manufacturer": str(headers.first.get("Manufacturer", "")),
    }
    for inp in report["inputs"].values():
        inp["file"] = str(headers.frames[0].path)
    return report


def _check_frames_share_inputs(dynamic: DynamicHeaders) -> None:
    """Rule 3 across the frames of a dynamic series (each frame checks its own slices)."""
    instances = [(h.frames[0].path, h.frames[0].header) for h in dynamic.frames]
    try:
        check_one_set_of_inputs(instances)
    except SuvError as exc:
        raise SuvError(f"{instances[0][0]}: {exc}") from None


def frame_timing_min(headers: SeriesHeaders, result: SuvResult,
                     inputs: dict[str, Any] | None = None) -> tuple[float | None, float | None]:
    """A frame's start (its earliest acquisition date/time) in minutes after injection, and its
    (0018,1242) ActualFrameDuration in minutes; None where the attributes are absent.

    The start is the acquisition's, not the decay-reference time: a frame of a dynamic series
    acquired 16 min after injection reads 16 min p.i. whatever its DecayCorrection. ``inputs``:
    :func:`suv_inputs_from_headers` of ``headers`` when already read.
    """
    injection = result.inputs.get("injection_datetime")
    acquisitions = (inputs or suv_inputs_from_headers(headers))["timing"].acquisition
    start = None
    if injection is not None and injection.value is not None and acquisitions:
        first, inj = min(acquisitions), injection.value
        if (first.tzinfo is None) != (inj.tzinfo is None):
            first, inj = first.replace(tzinfo=None), inj.replace(tzinfo=None)
        start = (first - inj).total_seconds() / 60.0
    duration = headers.frames[0].frame_duration_ms
    return start, None if duration is None else duration / 60_000.0


FrameWithSuv = tuple[SeriesHeaders, SuvResult, "float | None", "float | None"]


def frames_with_suv(dynamic: DynamicHeaders) -> list[FrameWithSuv]:
    """Each frame of a dynamic series with its SUV result, start (min p.i.) and duration (min), the
    frames' inputs checked to agree (rule 3); each frame's headers are read once."""
    _check_frames_share_inputs(dynamic)
    out = []
    for headers in dynamic.frames:
        result, inputs = _suv_and_inputs(headers)
        out.append((headers, result, *frame_timing_min(headers, result, inputs)))
    return out


def _dynamic_report(dynamic: DynamicHeaders) -> dict[str, Any]:
    """``suv --json`` keys of a DYNAMIC / GATED series: the factor of every frame, with its timing."""
    frames = []
    for index, (headers, result, start, duration) in enumerate(frames_with_suv(dynamic)):
        report = result.as_dict()
        frames.append({"index": index, "start_min_pi": None if start is None else round(start, 4),
                       "duration_min": None if duration is None else round(duration, 4),
                       "n_slices": len(headers.frames), "factor": report["factor"],
                       "reference_rule": result.reference_rule, "first_file": str(headers.frames[0].path)})
    factors = [json_factor for json_factor in (f["factor"] for f in frames)]
    common = factors[0] if all(f == factors[0] for f in factors) else None
    out: dict[str, Any] = {"series_type": dynamic.series_type, "n_frames": len(frames), "frames": frames,
                           "factor": common}
    if common is None:
        out["factor_note"] = "the factor differs per frame: see frames[].factor"
    return out


def read_suv_frames(path: str | Path, *, start_min: float, end_min: float, suv_type: str = "bw",
                    dynamic: DynamicHeaders | None = None, frames: list[FrameWithSuv] | None = None) -> SuvSeries:
    """The frames of a dynamic series acquired within ``[start_min, end_min]`` minutes after injection,
    each scaled to SUV by its own factor and summed frame-duration-weighted into one static image
    (:func:`gliopet.suv.duration_weighted_mean`).

    A frame is taken when it starts and ends inside the window (1 s tolerance). The result's inputs
    gain ``frames`` (the window asked for, the one summed, the frames used); a warning says when the
    summed window differs from the one asked for. ``dynamic`` and ``frames``: the series' headers
    (:func:`gliopet.io.dicom.load_dynamic_headers`) and :func:`frames_with_suv` when already read.

    Raises
    ------
    InputError
        No frame lies inside the window (the frames' windows are listed), or the series is not dynamic.
    """
    if not (math.isfinite(start_min) and math.isfinite(end_min) and 0 <= start_min < end_min):
        raise InputError(f"--frames {start_min:g}-{end_min:g}: expected START-END minutes after injection, START < END")
    dynamic = dynamic or load_dynamic_headers(path, modality=None if Path(path).is_file() else "PT")
    label = dynamic.frames[0].frames[0].path
    if not dynamic.is_dynamic:
        raise InputError(f"{label}: (0054,1000) SeriesType {dynamic.series_type} has one frame; --frames is for "
                         "DYNAMIC or GATED series")
    frames = frames if frames is not None else frames_with_suv(dynamic)
    tolerance = 1.0 / 60.0
    chosen = [f for f in frames if f[2] is not None and f[3] is not None
              and f[2] >= start_min - tolerance and f[2] + f[3] <= end_min + tolerance]
    if not chosen:
        windows = ", ".join("?" if f[2] is None or f[3] is None else f"{f[2]:.2f}-{f[2] + f[3]:.2f}" for f in frames)
        raise InputError(f"{label}: no frame of the (0054,1000) SeriesType {dynamic.series_type} series lies within "
                         f"{start_min:g}-{end_min:g} min after injection (frames, min p.i.: {windows})")
    arrays, durations, volume = [], [], None
    for headers, result, start, duration in chosen:
        if suv_type not in result.factors:
            raise SuvError(f"{label}: SUV type '{suv_type}' cannot be computed for this series")
        frame_volume = volume_from_headers(headers)
        if volume is not None and not np.allclose(frame_volume.affine, volume.affine, atol=1e-3):
            raise DicomError(f"{headers.frames[0].path}: (0020,0032) ImagePositionPatient: the frame's grid differs "
                             f"from the first frame's ({label}); frames on different grids cannot be summed")
        volume = volume or frame_volume
        factors = np.asarray(result.factors[suv_type], dtype=np.float64)
        arrays.append(frame_volume.array * factors[:, None, None])
        durations.append(duration * 60.0)
    summed = duration_weighted_mean(arrays, durations).astype(np.float32)
    first_start, last = chosen[0][2], chosen[-1]
    summed_window = [round(first_start, 4), round(last[2] + last[3], 4)]
    result = chosen[0][1]
    warnings = list(result.warnings)
    if abs(summed_window[0] - start_min) > tolerance or abs(summed_window[1] - end_min) > tolerance:
        warnings.append(f"--frames {start_min:g}-{end_min:g}: the frames inside the window cover "
                        f"{summed_window[0]:g}-{summed_window[1]:g} min after injection; that window is summed")
    inputs = {**result.inputs, "frames": SuvInput(
        {"requested_min_pi": [start_min, end_min], "summed_min_pi": summed_window, "n_frames": len(chosen),
         "series_type": dynamic.series_type, "weights": "frame duration"}, "min",
        "(0008,0032) AcquisitionTime and (0018,1242) ActualFrameDuration of each frame")}
    result = replace(result, inputs=inputs, warnings=tuple(warnings))
    unit = "cm2/mL" if suv_type == "bsa" else "g/mL"
    return SuvSeries(volume.with_array(summed, suv_type=suv_type, units=unit, frames_summed_min_pi=summed_window),
                     result, suv_type)


@dataclass(frozen=True)
class SuvSeries:
    """A PET series scaled to SUV, with the typed factor report it was scaled by."""

    volume: Volume
    result: SuvResult
    suv_type: str


def read_suv_series(path: str | Path, *, suv_type: str = "bw", series_uid: str | None = None,
                    progress: bool = False) -> SuvSeries:
    """Read a PET series and scale it to SUV (g/mL; cm2/mL for ``bsa``).

    ``suv_type`` is one of ``bw``, ``lbm_janmahasatian``, ``bsa``, ``ibw``.
    The volume's provenance gains ``suv_type`` and ``units``; the factor and
    its inputs are :attr:`SuvSeries.result`.
    """
    headers = load_series_headers(path, series_uid=series_uid,
                                  modality=None if Path(path).is_file() or series_uid else "PT")
    result = suv_for_headers(headers)
    if suv_type not in result.factors:
        raise SuvError(f"{headers.frames[0].path}: SUV type '{suv_type}' cannot be computed for this series "
                       f"(computable: {', '.join(result.factors)}); it needs (0010,1020) PatientSize "
                       "and (0010,0040) PatientSex")
    volume = volume_from_headers(headers, progress=progress)
    factors = np.asarray(result.factors[suv_type], dtype=np.float64)
    scaled = (volume.array * factors[:, None, None]).astype(np.float32)
    unit = "cm2/mL" if suv_type == "bsa" else "g/mL"
    return SuvSeries(volume.with_array(scaled, suv_type=suv_type, units=unit), result, suv_type)


def read_suv_volume(path: str | Path, *, suv_type: str = "bw", series_uid: str | None = None,
                    progress: bool = False) -> Volume:
    """The SUV volume of :func:`read_suv_series` alone."""
    return read_suv_series(path, suv_type=suv_type, series_uid=series_uid, progress=progress).volume


def format_suv_report(report: dict[str, Any]) -> str:
    """Human-readable text of a ``suv_report_for_series`` object."""
    factor = report["factor"]
    lines = []
    if factor is None:
        lines.append(f"SUVbw factor: per frame ({report.get('n_frames')} frames of a "
                     f"{report.get('series_type')} series)")
    elif isinstance(factor, list):
        lines.append(f"SUVbw factor: per slice, {min(factor):.6g} to {max(factor):.6g} g/mL per unit "
                     f"({len(factor)} slices)")
    else:
        lines.append(f"SUVbw factor: {factor:.6g} g/mL per {report['units']} unit")
    for name, value in report["factors"].items():
        if name == "bw":
            continue
        unit = "cm2/mL" if name == "bsa" else "g/mL"
        shown = f"{value:.6g}" if not isinstance(value, list) else f"{min(value):.6g}..{max(value):.6g}"
        lines.append(f"  {name}: {shown} {unit}")
    lines.append(f"Units: {report['units']}; reference: {report['reference_rule']}")
    lines.append("Inputs:")
    for name, inp in report["inputs"].items():
        unit = f" {inp['unit']}" if inp["unit"] and inp["unit"] != "datetime" else ""
        lines.append(f"  {name}: {inp['value']}{unit}  <- {inp['source']}")
    for frame in report.get("frames", []):
        lines.append(f"  frame {frame['index']}: {frame['start_min_pi']} min p.i., {frame['duration_min']} min, "
                     f"factor {frame['factor']}")
    for warning in report["warnings"]:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)
