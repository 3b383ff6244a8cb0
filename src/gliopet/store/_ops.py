"""Reading and writing the cohort store: clinical import, one study's results, the analysis table.

Each function runs in one transaction: a patient table is imported whole or
not at all, and a study's series, measurements and provenance are replaced
together, so a process killed at any moment leaves either the old rows or
the new ones, never a mixture.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timezone
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ..errors import InputError
from ._models import (MEASURE_FIELDS, STUDY_DONE, STUDY_FAILED, Measurement, Patient, Provenance, Read,
                      Series, Study)

logger = logging.getLogger(__name__)

__all__ = ["import_patients", "study_states", "write_study", "analysis_rows", "counts"]

_CLINICAL_FIELDS = ("sex", "age_years", "diagnosis", "who_grade", "referral", "prior_surgery",
                    "prior_chemotherapy", "prior_radiotherapy", "mri_date", "pet_date", "extra")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def import_patients(engine: Engine, rows: Iterable[dict[str, Any]], *, source_file: str) -> dict[str, int]:
    """Insert or update patients by ``patient_id`` in one transaction.

    ``rows`` are :class:`gliopet.clinical.ClinicalTable` rows. A row equal to
    the stored one is left alone, so importing the same file twice changes
    nothing. Returns the counts ``added``, ``updated``, ``unchanged``.
    """
    out = {"added": 0, "updated": 0, "unchanged": 0}
    with Session(engine) as session, session.begin():
        stored = {p.patient_id: p for p in session.scalars(sa.select(Patient))}
        for row in rows:
            values = {k: row.get(k) for k in _CLINICAL_FIELDS}
            values["extra"] = dict(values["extra"] or {})
            patient = stored.get(row["patient_id"])
            if patient is None:
                session.add(Patient(patient_id=row["patient_id"], source_file=source_file, imported_at=_now(),
                                    **values))
                out["added"] += 1
            elif any(getattr(patient, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(patient, k, v)
                patient.source_file, patient.imported_at = source_file, _now()
                out["updated"] += 1
            else:
                out["unchanged"] += 1
    return out


def study_states(engine: Engine) -> dict[tuple[str, str], str]:
    """``{(patient_id, study_uid): status}`` of every stored study."""
    query = sa.select(Patient.patient_id, Study.study_uid, Study.status).join(Study.patient)
    with engine.connect() as connection:
        return {(pid, uid): status for pid, uid, status in connection.execute(query)}


def write_study(engine: Engine, result: dict[str, Any]) -> None:
    """Store one study's outcome (replacing any earlier one) in one transaction.

    ``result`` is what :func:`gliopet.analyze.measure_study` returns:
    ``patient_id``, ``study_uid``, ``folder``, ``status`` (done|failed),
    ``error``, ``series`` (dicts with ``series_uid``, ``modality``, ``role``,
    ``scan_time_min``, ``folder``, ``n_files``, ``pixel_sha256``),
    ``measurements`` (dicts with ``series_uid``, ``scan_time_min``,
    ``primary``, ``record``) and ``provenance``.

    Raises
    ------
    InputError
        The patient is not in the store (import the clinical CSV first).
    """
    if result["status"] not in (STUDY_DONE, STUDY_FAILED):
        raise ValueError(f"unknown study status {result['status']!r}")
    with Session(engine) as session, session.begin():
        patient = session.scalar(sa.select(Patient).where(Patient.patient_id == result["patient_id"]))
        if patient is None:
            raise InputError(f"{result['folder']}: the study's patient is not in the clinical table of the store")
        old = session.scalar(sa.select(Study).where(Study.patient_pk == patient.id,
                                                    Study.study_uid == result["study_uid"]))
        if old is not None:
            session.delete(old)
            session.flush()
        study = Study(patient=patient, study_uid=result["study_uid"], folder=result["folder"],
                      status=result["status"], error=result.get("error"), updated_at=_now())
        session.add(study)
        for s in result.get("series", []):
            study.series.append(Series(**{k: s.get(k) for k in (
                "series_uid", "modality", "role", "scan_time_min", "folder", "n_files", "pixel_sha256")}))
        for m in result.get("measurements", []):
            record = m["record"]
            study.measurements.append(Measurement(
                series_uid=m["series_uid"], scan_time_min=m["scan_time_min"], primary=bool(m["primary"]),
                record=record, **{f: record.get(f) for f in MEASURE_FIELDS}))
        prov = result.get("provenance")
        if prov is not None:
            study.provenance.append(Provenance(
                gliopet_version=prov["gliopet_version"], parameters=prov["parameters"],
                input_sha256=prov["input_sha256"], host=prov["host"],
                started_at=datetime.fromisoformat(prov["started_at"]),
                finished_at=datetime.fromisoformat(prov["finished_at"])))


def counts(engine: Engine) -> dict[str, int]:
    """Rows per table, and studies per status (for summaries and tests)."""
    out: dict[str, int] = {}
    with engine.connect() as connection:
        for model in (Patient, Study, Series, Measurement, Provenance):
            out[model.__tablename__] = connection.scalar(sa.select(sa.func.count()).select_from(model))
        for status in (STUDY_DONE, STUDY_FAILED):
            out[f"studies_{status}"] = connection.scalar(
                sa.select(sa.func.count()).select_from(Study).where(Study.status == status))
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def analysis_rows(engine: Engine) -> tuple[list[str], list[dict[str, str]]]:
    """The analysis table (the CSV shape :mod:`gliopet.stats.cohort` reads), one row per patient.

    Clinical columns, then the primary PET's measured columns (DESIGN.md), then
    ``suvmax_<min>min`` and ``tbr_max_to_bg_max_<min>min`` for every other
    time point, then pass-through columns (e.g. ``visual``). Patients whose
    study is not measured have empty measured columns. ``visual`` comes from
    the clinical table's column or, when absent, from the stored reads
    (unanimous readers; empty otherwise).

    Raises
    ------
    InputError
        The store holds no patient.
    """
    with Session(engine) as session:
        patients = list(session.scalars(sa.select(Patient).order_by(Patient.id)))
        if not patients:
            raise InputError(f"{engine.url.render_as_string(hide_password=True)}: the store holds no patient; "
                             "run gliopet analyze first")
        measurements = session.execute(
            sa.select(Study.patient_pk, Measurement).join(Measurement.study)
            .where(Study.status == STUDY_DONE).order_by(Measurement.scan_time_min)).all()
        reads = session.execute(sa.select(Study.patient_pk, Read.visual).join(Read.study)).all()
        by_patient: dict[int, list[Measurement]] = {}
        for pk, m in measurements:
            by_patient.setdefault(pk, []).append(m)
        visual_reads: dict[int, set[str]] = {}
        for pk, visual in reads:
            visual_reads.setdefault(pk, set()).add(visual)
        columns = ["patient_id", "sex", "age", "diagnosis", "who_grade", "referral", "prior_surgery",
                   "prior_chemotherapy", "prior_radiotherapy", "mri_date", "pet_date", *MEASURE_FIELDS]
        rows: list[dict[str, str]] = []
        for p in patients:
            row = {"patient_id": p.patient_id, "sex": p.sex, "age": f"{p.age_years:g}", "diagnosis": p.diagnosis,
                   "who_grade": p.who_grade}
            for col in ("referral", "prior_surgery", "prior_chemotherapy", "prior_radiotherapy", "mri_date",
                        "pet_date"):
                row[col] = _fmt(getattr(p, col))
            found = by_patient.get(p.id, [])
            primary = [m for m in found if m.primary]
            for f in MEASURE_FIELDS:
                row[f] = _fmt(getattr(primary[0], f)) if primary else ""
            for m in found:
                if m.primary or m.scan_time_min is None:
                    continue
                minutes = int(round(m.scan_time_min))
                for f in ("suvmax", "tbr_max_to_bg_max"):
                    col = f"{f}_{minutes}min"
                    row[col] = _fmt(getattr(m, f))
            if primary and primary[0].scan_time_min is not None and len(found) > 1:
                minutes = int(round(primary[0].scan_time_min))
                row[f"suvmax_{minutes}min"] = row["suvmax"]
                row[f"tbr_max_to_bg_max_{minutes}min"] = row["tbr_max_to_bg_max"]
            for key, value in (p.extra or {}).items():
                row[key] = _fmt(value)
            if not row.get("visual"):
                votes = visual_reads.get(p.id, set())
                row["visual"] = votes.pop() if len(votes) == 1 else ""
            for col in row:
                if col not in columns:
                    columns.append(col)
            rows.append(row)
    return columns, rows
