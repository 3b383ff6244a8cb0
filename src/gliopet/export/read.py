"""Reading TID 1500 Measurement Reports back: every measurement, with its group, codes, value and unit.

Reads gliopet's reports (:mod:`gliopet.export.sr`) and other TID 1500
reports written with highdicom: the measurements of the Volumetric ROI
(TID 1411), Planar ROI (TID 1410) and image (TID 1501) groups. UCUM SUV
units in the older form with the annotation first (``{SUVbw}g/ml``) are read
as the current form (``g/ml{SUVbw}``, PS3.16 CID 7181). A group's TID 1502
Time Point Context (gliopet states it in each report of a stored study's
time point) is given with each of its measurements.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ._codes import OLD_UCUM_SUV_UNITS, PROTOCOL_TIME_POINT_IDENTIFIER, SUBJECT_TIME_POINT_IDENTIFIER, TIME_POINT

__all__ = ["ReportedMeasurement", "read_measurement_report", "normalise_ucum"]


def normalise_ucum(unit: str) -> str:
    """A UCUM SUV unit in its current form.

    Examples
    --------
    >>> normalise_ucum("{SUVbw}g/ml")
    'g/ml{SUVbw}'
    >>> normalise_ucum("cm3")
    'cm3'
    """
    return OLD_UCUM_SUV_UNITS.get(unit, unit)


@dataclass(frozen=True)
class ReportedMeasurement:
    """One measurement of a report.

    ``concept``, ``derivation`` and ``method`` are ``(scheme, code, meaning)``
    (the last two None when absent); ``unit`` is the UCUM code (older SUV forms
    normalised); ``group`` the group's tracking identifier, ``segment_number``
    the SEG segment the group references (None for none). ``time_point``,
    ``subject_time_point`` and ``protocol_time_point`` are the group's TID
    1502 Time Point, Subject and Protocol Time Point Identifiers (None where
    the group has none).
    """

    group: str | None
    tracking_uid: str | None
    segment_number: int | None
    concept: tuple[str, str, str]
    derivation: tuple[str, str, str] | None
    method: tuple[str, str, str] | None
    value: float
    unit: str
    time_point: str | None = None
    subject_time_point: str | None = None
    protocol_time_point: str | None = None


def _code(concept) -> tuple[str, str, str] | None:
    if concept is None:
        return None
    return (str(concept.scheme_designator), str(concept.value), str(concept.meaning))


def _segment_number(group) -> int | None:
    segment = getattr(group, "referenced_segment", None)
    if segment is None:
        return None
    for item in segment:
        for ref in getattr(item, "ReferencedSOPSequence", []):
            if "ReferencedSegmentNumber" in ref:
                return int(ref.ReferencedSegmentNumber)
    return None


def _time_point(group) -> dict[str, str | None]:
    """The group's TID 1502 text items: Time Point, Subject and Protocol Time Point Identifiers."""
    keys = {(c.scheme_designator, c.value): key for c, key in (
        (TIME_POINT, "time_point"), (SUBJECT_TIME_POINT_IDENTIFIER, "subject_time_point"),
        (PROTOCOL_TIME_POINT_IDENTIFIER, "protocol_time_point"))}
    found: dict[str, str | None] = dict.fromkeys(keys.values())
    for item in getattr(group[0], "ContentSequence", []):
        name = item.ConceptNameCodeSequence[0]
        key = keys.get((str(name.CodingSchemeDesignator), str(name.CodeValue)))
        if key is not None and "TextValue" in item:
            found[key] = str(item.TextValue)
    return found


def read_measurement_report(path: str | Path) -> list[ReportedMeasurement]:
    """Every measurement of a TID 1500 report, group by group, in document order.

    Raises
    ------
    InputError
        The file is not a readable DICOM SR, or its content is not a TID 1500
        Measurement Report.
    """
    import highdicom as hd

    path = Path(path)
    try:
        sr = hd.sr.srread(path)
    except Exception as exc:  # pydicom/highdicom raise many types for what is not an SR
        raise InputError(f"{path}: not a readable DICOM SR ({type(exc).__name__})") from None
    report = getattr(sr, "content", None)
    if not isinstance(report, hd.sr.MeasurementReport):
        raise InputError(f"{path}: (0040,A043) ConceptNameCodeSequence of the root is not a TID 1500 "
                         "Measurement Report (126000, DCM)")
    groups = [*report.get_volumetric_roi_measurement_groups(), *report.get_planar_roi_measurement_groups(),
              *report.get_image_measurement_groups()]
    out: list[ReportedMeasurement] = []
    for group in groups:
        identifier = getattr(group, "tracking_identifier", None)
        uid = getattr(group, "tracking_uid", None)
        segment = _segment_number(group)
        when = _time_point(group)
        # a measurement is a NUM the group CONTAINS (not a NUM of its observation context)
        for m in (m for m in group.get_measurements() if getattr(m, "RelationshipType", "CONTAINS") == "CONTAINS"):
            out.append(ReportedMeasurement(
                group=None if identifier is None else str(identifier), tracking_uid=None if uid is None else str(uid),
                segment_number=segment, concept=_code(m.name), derivation=_code(m.derivation),
                method=_code(m.method), value=float(m.value), unit=normalise_ucum(str(m.unit.value)), **when))
    return out
