"""``gliopet inspect``: what a folder holds and what is missing for SUV.

For each study and series: modality, dimensions, voxel spacing, time points,
and for PET whether the SUV can be computed and, if not, which attributes are
missing. A series that cannot be read is listed with the reason; the
inspection goes on. Output never contains patient identifiers.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import GliopetError
from .io.dicom import SeriesInfo, find_series, group_studies, load_dynamic_headers, load_series_headers
from .io.suv_inputs import frame_timing_min, suv_for_headers, suv_inputs_from_headers

logger = logging.getLogger(__name__)

__all__ = ["inspect_tree", "format_inspection", "SUV_REQUIRED"]

#: compute_suv keyword -> the attribute a user must supply (BQML/CNTS series).
SUV_REQUIRED = {
    "units": "(0054,1001) Units",
    "decay_correction": "(0054,1102) DecayCorrection",
    "weight_kg": "(0010,1030) PatientWeight",
    "injected_bq": "(0018,1074) RadionuclideTotalDose",
    "half_life_s": "(0018,1075) RadionuclideHalfLife",
}


def _missing_for_suv(kwargs: dict[str, Any]) -> list[str]:
    missing = [attribute for key, attribute in SUV_REQUIRED.items() if kwargs.get(key) is None]
    if kwargs.get("units") in ("GML", "CM2ML"):
        return [m for m in missing if "PatientWeight" in m or "Units" in m]
    if kwargs.get("start_datetime") is None and kwargs.get("start_time") is None:
        missing.append("(0018,1078) RadiopharmaceuticalStartDateTime or (0018,1072) RadiopharmaceuticalStartTime")
    if kwargs.get("series_datetime") is None and kwargs.get("start_datetime") is None:
        missing.append("(0008,0021) SeriesDate / (0008,0031) SeriesTime")
    return missing


def _series_entry(info: SeriesInfo, injections: dict[str, dict[str, Any]]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "series_instance_uid": info.series_uid,
        "series_number": info.series_number,
        "description": info.series_description,
        "modality": info.modality,
        "n_files": info.n_files,
    }
    try:
        dynamic = load_dynamic_headers(info.files[0], allow_different_duplicates=True)
    except GliopetError as exc:
        entry["readable"] = False
        entry["error"] = str(exc)
        return entry
    headers = dynamic.frames[0]
    if headers.duplicates:
        entry["duplicates"] = [d.as_dict() for d in headers.duplicates]
    first = headers.first
    spacing = np.linalg.norm(headers.affine[:3, :3], axis=0)
    entry.update({
        "readable": True,
        "dimensions": [len(headers.frames), headers.frames[0].rows, headers.frames[0].columns],
        "spacing_mm": [round(float(s), 4) for s in spacing],
        "series_datetime": f"{first.get('SeriesDate', '')} {first.get('SeriesTime', '')}".strip() or None,
        "manufacturer": str(first.get("Manufacturer", "")),
    })
    if info.modality.upper() == "PT":
        entry["suv"] = _suv_status(headers, injections)
    if dynamic.is_dynamic:
        entry["series_type"] = dynamic.series_type
        entry["n_frames"] = len(dynamic.frames)
        entry["frames"] = [_frame_entry(frame) for frame in dynamic.frames]
        if entry.get("suv", {}).get("computable"):  # the first frame's acquisition, not its decay reference
            entry["suv"]["minutes_post_injection"] = entry["frames"][0]["start_min_pi"]
    return entry


def _frame_entry(headers: Any) -> dict[str, Any]:
    """A frame of a dynamic series: its start and duration in minutes after injection (acquisition times)."""
    try:
        start, duration = frame_timing_min(headers, suv_for_headers(headers))
    except GliopetError:
        start, duration = None, None
    return {"start_min_pi": None if start is None else round(start, 2),
            "duration_min": None if duration is None else round(duration, 2)}


def _dose_check(result: Any, injection: dict[str, Any]) -> dict[str, Any]:
    """The radiopharmacy's recorded injection against the DICOM dose (flag > 5 % after decay)."""
    from datetime import datetime

    from .radiopharmacy.dosecheck import compare_injected_activity

    comparison = compare_injected_activity(
        recorded_bq=float(injection["injected_mbq"]) * 1e6,
        recorded_time=datetime.fromisoformat(str(injection["injection_time"])),
        dicom_total_dose_bq=float(result.inputs["injected_activity"].value),
        dicom_start_time=result.inputs["injection_datetime"].value,
        half_life_s=float(result.inputs["half_life"].value))
    return {"flagged": comparison.flagged, "relative_difference": comparison.relative_difference,
            "message": comparison.message}


def _suv_status(headers: Any, injections: dict[str, dict[str, Any]]) -> dict[str, Any]:
    try:
        kwargs = suv_inputs_from_headers(headers)
    except GliopetError as exc:
        return {"computable": False, "missing": [], "error": str(exc)}
    missing = _missing_for_suv(kwargs)
    try:
        result = suv_for_headers(headers)
    except GliopetError as exc:
        return {"computable": False, "missing": missing, "error": str(exc)}
    decay = result.decay_time_s
    status = {
        "computable": True,
        "missing": [],
        "factor": result.as_dict()["factor"],
        "units": result.units,
        "minutes_post_injection": None if decay is None else round(min(decay) / 60.0, 1),
        "warnings": list(result.warnings),
    }
    injection = injections.get(str(headers.first.get("PatientID", "")))
    if injection is not None and "injection_datetime" in result.inputs:
        status["dose_check"] = _dose_check(result, injection)
    return status


def _injections(batches: Sequence[str | Path]) -> dict[str, dict[str, Any]]:
    """The batches' recorded injections by subject (the PatientID they were given to)."""
    from .radiopharmacy import run_release_check

    injections: dict[str, dict[str, Any]] = {}
    for batch in batches:
        for injection in run_release_check(batch).injections:
            injections[str(injection["subject"])] = dict(injection)
    return injections


def injection_checks(path: str | Path, *, batches: Sequence[str | Path]) -> list[dict[str, Any]]:
    """The dose check of every PET series under ``path`` whose patient has a recorded injection.

    One dict per checked series: ``patient_id`` (for the report's per-patient
    listing; never logged), ``series_instance_uid``, ``flagged``,
    ``relative_difference`` and ``message`` (see :func:`inspect_tree`).
    Series that cannot be read or lack the timing for SUV are not checked.
    """
    injections = _injections(batches)
    checks = []
    for info in find_series(Path(path), progress=True):
        if info.modality.upper() != "PT":
            continue
        try:
            headers = load_series_headers(info.files[0])
        except GliopetError:
            continue
        patient_id = str(headers.first.get("PatientID", ""))
        if patient_id not in injections:
            continue
        check = _suv_status(headers, injections).get("dose_check")
        if check is not None:
            checks.append({"patient_id": patient_id, "series_instance_uid": info.series_uid, **check})
    return checks


def inspect_tree(path: str | Path, *, batches: Sequence[str | Path] = ()) -> dict[str, Any]:
    """Studies and series under ``path``, with SUV readiness of each PET series.

    ``batches`` are radiopharmacy batch records: a PET whose (0010,0020) PatientID
    equals an injection's ``subject`` gets a ``dose_check`` of the recorded
    injected activity against (0018,1074) RadionuclideTotalDose.
    """
    path = Path(path)
    injections = _injections(batches)
    series = find_series(path, progress=True)
    studies = []
    for study in group_studies(series):
        studies.append({"study_instance_uid": study.study_uid,
                        "series": [_series_entry(s, injections) for s in study.series]})
    return {"path": str(path), "n_studies": len(studies), "n_series": len(series), "studies": studies}


def format_inspection(result: dict[str, Any]) -> str:
    """Plain-text rendering of :func:`inspect_tree`."""
    lines = [f"{result['path']}: {result['n_studies']} study(ies), {result['n_series']} series"]
    for index, study in enumerate(result["studies"], 1):
        lines.append(f"study {index}: {study['study_instance_uid']}")
        for s in study["series"]:
            head = f"  series {s['series_number']} {s['modality']:<3} {s['description']!s:.30}"
            if not s.get("readable"):
                lines.append(f"{head}  NOT READABLE: {s['error']}")
                continue
            dims = "x".join(str(d) for d in s["dimensions"])
            spacing = " x ".join(f"{v:g}" for v in s["spacing_mm"])
            lines.append(f"{head}  {dims} voxels, {spacing} mm, {s['series_datetime'] or 'no series time'}")
            if "frames" in s:
                shown = ", ".join(f"{f['start_min_pi']}+{f['duration_min']}" for f in s["frames"])
                lines.append(f"    {s['series_type']} series: {s['n_frames']} frames (start+duration, min p.i.: "
                             f"{shown}); measure needs --frames START-END")
            for d in s.get("duplicates", []):
                lines.append(f"    duplicate instance: {d['dropped']} has the SOPInstanceUID of {d['kept']} "
                             f"({'byte-identical' if d['byte_identical'] else 'NOT byte-identical: measure refuses'})")
            suv = s.get("suv")
            if suv is None:
                continue
            if suv["computable"]:
                factor = suv["factor"]
                shown = f"{factor:.6g}" if not isinstance(factor, list) else "per slice"
                when = "" if suv["minutes_post_injection"] is None else \
                    f", {suv['minutes_post_injection']:g} min p.i."
                lines.append(f"    SUV: computable ({suv['units']}, factor {shown}{when})")
                lines.extend(f"    warning: {w}" for w in suv["warnings"])
                if "dose_check" in suv:
                    check = suv["dose_check"]
                    lines.append(f"    dose check: {'FLAGGED' if check['flagged'] else 'ok'}: {check['message']}")
            else:
                lines.append("    SUV: NOT computable")
                lines.extend(f"    missing: {m}" for m in suv["missing"])
                if suv.get("error"):
                    lines.append(f"    reason: {suv['error']}")
    return "\n".join(lines)
