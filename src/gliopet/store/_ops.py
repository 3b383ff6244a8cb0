"""Reading and writing the cohort store: clinical import, one study's results, the analysis table.

Each function runs in one transaction: a patient table is imported whole or
not at all, and a study's series, measurements and provenance are replaced
together, so a process killed at any moment leaves either the old rows or
the new ones, never a mixture.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ..errors import InputError
from ..measure import dynamic_columns
from ..paths import keep_path, resolve_kept_path
from ..response import followup_columns, injection_text, load_response_rules
from ._models import (MEASURE_FIELDS, READ_SUBMITTED, STUDY_DONE, STUDY_FAILED, MeasurementRow, Patient,
                      Provenance, Read, ReadingAssignment, ReadingCase, ReadingConsensus, ReadingSession, Series,
                      Study)

logger = logging.getLogger(__name__)

__all__ = ["AnalysisTable", "import_patients", "study_states", "write_study", "analysis_table", "read_analysis_table",
           "counts", "store_base_dir"]

_CLINICAL_FIELDS = ("sex", "age_years", "diagnosis", "who_grade", "referral", "prior_surgery",
                    "prior_chemotherapy", "prior_radiotherapy", "mri_date", "pet_date", "extra")


def store_base_dir(engine: Engine) -> Path | None:
    """The folder the store's kept paths are relative to: a SQLite file's; None for a server database.

    See :mod:`gliopet.paths`: paths inside it are kept relative, so the
    folder holding the store (e.g. the demo's) can be moved.
    """
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(os.path.abspath(url.database)).parent


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
    base = store_base_dir(engine)
    with Session(engine) as session, session.begin():
        patient = session.scalar(sa.select(Patient).where(Patient.patient_id == result["patient_id"]))
        if patient is None:
            raise InputError(f"{result['folder']}: the study's patient is not in the clinical table of the store")
        old = session.scalar(sa.select(Study).where(Study.patient_pk == patient.id,
                                                    Study.study_uid == result["study_uid"]))
        if old is not None:
            session.delete(old)
            session.flush()
        study = Study(patient=patient, study_uid=result["study_uid"], folder=keep_path(result["folder"], base),
                      status=result["status"], error=result.get("error"), updated_at=_now())
        session.add(study)
        for s in result.get("series", []):
            values = {k: s.get(k) for k in ("series_uid", "modality", "role", "scan_time_min", "n_files",
                                            "pixel_sha256")}
            study.series.append(Series(folder=keep_path(s["folder"], base), **values))
        for m in result.get("measurements", []):
            record = dict(m["record"])
            if record.get("snapshot"):
                record["snapshot"] = keep_path(record["snapshot"], base)
            study.measurements.append(MeasurementRow(
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
        for model in (Patient, Study, Series, MeasurementRow, Provenance):
            out[model.__tablename__] = connection.scalar(sa.select(sa.func.count()).select_from(model))
        for status in (STUDY_DONE, STUDY_FAILED):
            out[f"studies_{status}"] = connection.scalar(
                sa.select(sa.func.count()).select_from(Study).where(Study.status == status))
    return out


#: Clinical columns of the analysis table, in DESIGN.md's order (``age`` is the stored ``age_years``).
CLINICAL_COLUMNS = ("patient_id", "sex", "age", "diagnosis", "who_grade", "referral", "prior_surgery",
                    "prior_chemotherapy", "prior_radiotherapy", "mri_date", "pet_date")


@dataclass(frozen=True)
class AnalysisTable:
    """The store as one row per patient, with typed values and how they were measured.

    Attributes
    ----------
    source : str
        The store's URL without its password, for messages.
    columns : tuple of str
        Clinical columns, the primary PET's measured columns, the other time
        points' ``suvmax_<min>min`` / ``tbr_max_to_bg_max_<min>min``,
        pass-through columns, ``visual`` and ``snapshot``.
    rows : tuple of dict
        Numbers as ``float`` (``None`` when missing), dates as
        :class:`datetime.date`, text as ``str``; ``snapshot`` as an absolute path.
    parameters : tuple of dict
        The distinct measurement parameters of the measured studies' provenance.
    versions : tuple of str
        The gliopet versions that measured them.
    curves : tuple of dict
        The time-activity curves of the patients measured on a dynamic series
        (``patient_id``, ``who_grade``, ``pattern``, ``mid_min_pi``,
        ``lesion_suvmean``, ``background_suvmean``), in row order.
    """

    source: str
    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]
    parameters: tuple[dict[str, Any], ...]
    versions: tuple[str, ...]
    curves: tuple[dict[str, Any], ...] = ()


def _patient_row(p: Patient) -> dict[str, Any]:
    row: dict[str, Any] = {"patient_id": p.patient_id, "sex": p.sex, "age": p.age_years,
                           "diagnosis": p.diagnosis, "who_grade": p.who_grade}
    for col in CLINICAL_COLUMNS[5:]:
        row[col] = getattr(p, col)
    return row


def _measured_values(row: dict[str, Any], found: list[MeasurementRow], base: Path | None) -> None:
    primary = [m for m in found if m.primary]
    for f in MEASURE_FIELDS:
        row[f] = getattr(primary[0], f) if primary else None
    for m in found:
        if m.primary or m.scan_time_min is None:
            continue
        minutes = int(round(m.scan_time_min))
        for f in ("suvmax", "tbr_max_to_bg_max"):
            row[f"{f}_{minutes}min"] = getattr(m, f)
    if primary and primary[0].scan_time_min is not None and len(found) > 1:
        minutes = int(round(primary[0].scan_time_min))
        row[f"suvmax_{minutes}min"] = row["suvmax"]
        row[f"tbr_max_to_bg_max_{minutes}min"] = row["tbr_max_to_bg_max"]
    separates = (primary[0].record.get("btv") or {}).get("separates") if primary else None
    if separates is not None:  # measurements stored before the flag have none
        row["btv_separates"] = bool(separates)
    row.update(dynamic_columns(primary[0].record.get("dynamic") if primary else None))
    snapshot = primary[0].record.get("snapshot") if primary else None
    if snapshot:
        row["snapshot"] = str(resolve_kept_path(snapshot, base))


def _studies_in_order(found: list[MeasurementRow]) -> list[list[MeasurementRow]]:
    """A patient's measured studies, each its measurements, the earliest injection first (the baseline)."""
    by_study: dict[int, list[MeasurementRow]] = {}
    for m in found:
        by_study.setdefault(m.study_pk, []).append(m)

    def injected(study: list[MeasurementRow]) -> tuple[bool, str, int]:
        when = injection_text(_primary_record(study) or study[0].record)
        return when is None, when or "", study[0].study_pk

    return sorted(by_study.values(), key=injected)


def _primary_record(study: list[MeasurementRow]) -> dict[str, Any] | None:
    return next((m.record for m in study if m.primary), None)


def _curve(row: dict[str, Any], found: list[MeasurementRow]) -> dict[str, Any] | None:
    """The primary measurement's time-activity curves, for the report's figure (None without any)."""
    dynamic = (_primary_record(found) or {}).get("dynamic")
    if not dynamic:
        return None
    return {"patient_id": row["patient_id"], "who_grade": row["who_grade"], "pattern": dynamic["pattern"],
            "mid_min_pi": list(dynamic["frames"]["mid_min_pi"]),
            "lesion_suvmean": list(dynamic["lesion_tac_suvmean"]),
            "background_suvmean": list(dynamic["background_tac_suvmean"])}


def _reading_columns(session: Session) -> dict[int, dict[str, Any]]:
    """Per patient: the latest reading session's submitted reads and its consensus.

    ``visual_reader<n>`` / ``score_reader<n>`` (n: the reader's number in the
    session), and ``visual``: the adjudicated consensus, else the readers'
    unanimous read once every reader has submitted the case.
    """
    latest = session.scalar(sa.select(ReadingSession.id).join(ReadingCase, ReadingCase.session_pk == ReadingSession.id)
                            .join(ReadingAssignment, ReadingAssignment.case_pk == ReadingCase.id)
                            .where(ReadingAssignment.status == READ_SUBMITTED)
                            .order_by(ReadingSession.id.desc()).limit(1))
    if latest is None:
        return {}
    slots = sorted(set(session.scalars(sa.select(ReadingAssignment.reader_slot).join(ReadingAssignment.case)
                                       .where(ReadingCase.session_pk == latest))))
    out: dict[int, dict[str, Any]] = {}
    for case in session.scalars(sa.select(ReadingCase).where(ReadingCase.session_pk == latest)):
        row: dict[str, Any] = {}
        for n in slots:
            row[f"visual_reader{n}"], row[f"score_reader{n}"] = "", ""
        done = [a for a in case.assignments if a.status == READ_SUBMITTED]
        for a in done:
            row[f"visual_reader{a.reader_slot}"] = a.visual or ""
            row[f"score_reader{a.reader_slot}"] = "" if a.score is None else str(a.score)
        chosen = session.scalar(sa.select(ReadingConsensus.visual).where(ReadingConsensus.case_pk == case.id))
        if chosen is None and len(done) == len(slots) and len({a.visual for a in done}) == 1:
            chosen = done[0].visual
        row["visual"] = chosen or ""
        out[case.patient_pk] = row
    return out


def analysis_table(engine: Engine) -> AnalysisTable:
    """The analysis table, one row per patient, typed (the shape :mod:`gliopet.stats.cohort` validates).

    Clinical columns, then the primary PET's measured columns (DESIGN.md), then
    ``suvmax_<min>min`` and ``tbr_max_to_bg_max_<min>min`` for every time
    point when there are several, ``btv_separates`` (False where the BTV's threshold did not separate
    the lesion from normal brain: :func:`gliopet.measure.judge_btv`; absent for measurements stored
    before the flag), a dynamic series' ``tac_*`` columns, then
    pass-through columns (e.g. ``visual``), then ``snapshot``. A patient with
    several measured studies is described by the earliest (by injection, the
    baseline); the latest is its follow-up: ``followup_days``,
    ``<value>_followup`` and ``<value>_change_pct`` and ``response``
    (:func:`gliopet.response.followup_columns`, the default response rules;
    each scan measured on its own, with the same definitions). Patients whose study is not measured have empty
    measured columns. ``visual`` comes from the latest reading session (the
    adjudicated consensus, else the readers' unanimous submitted read) where
    it has decided the case, else from the clinical table's column, else from
    the stored reads (unanimous readers; empty otherwise). The reading session's submitted reads become
    ``visual_reader<n>`` and ``score_reader<n>`` (unless the clinical table has them).

    Raises
    ------
    InputError
        The store holds no patient.
    """
    base = store_base_dir(engine)
    source = engine.url.render_as_string(hide_password=True)
    with Session(engine) as session:
        patients = list(session.scalars(sa.select(Patient).order_by(Patient.id)))
        if not patients:
            raise InputError(f"{source}: the store holds no patient; run gliopet analyze first")
        measurements = session.execute(
            sa.select(Study.patient_pk, MeasurementRow).join(MeasurementRow.study)
            .where(Study.status == STUDY_DONE).order_by(MeasurementRow.scan_time_min)).all()
        reads = session.execute(sa.select(Study.patient_pk, Read.visual).join(Read.study)).all()
        reading = _reading_columns(session)
        provenance = session.execute(sa.select(Provenance.parameters, Provenance.gliopet_version)
                                     .order_by(Provenance.id)).all()
        by_patient: dict[int, list[MeasurementRow]] = {}
        for pk, m in measurements:
            by_patient.setdefault(pk, []).append(m)
        visual_reads: dict[int, set[str]] = {}
        for pk, visual in reads:
            visual_reads.setdefault(pk, set()).add(visual)
        columns = [*CLINICAL_COLUMNS, *MEASURE_FIELDS]
        rows: list[dict[str, Any]] = []
        curves: list[dict[str, Any]] = []
        rules = None
        for p in patients:
            row = _patient_row(p)
            studies = _studies_in_order(by_patient.get(p.id, []))
            _measured_values(row, studies[0] if studies else [], base)
            curve = _curve(row, studies[0] if studies else [])
            if curve is not None:
                curves.append(curve)
            first, last = (_primary_record(studies[0]), _primary_record(studies[-1])) if studies else (None, None)
            if len(studies) > 1 and first and last:
                rules = rules or load_response_rules()
                row.update(followup_columns(first, last, rules))
            snapshot = row.pop("snapshot", None)
            row.update({key: value for key, value in (p.extra or {}).items() if key not in row})
            read = dict(reading.get(p.id, {}))
            if reading and not read:
                read = {key: "" for key in next(iter(reading.values()))}
            session_visual = read.pop("visual", "")
            row.update({key: value for key, value in read.items() if key not in row})
            if session_visual:  # the readers' consensus is what visual becomes (over a typed-in column)
                row["visual"] = session_visual
            if not row.get("visual"):
                votes = visual_reads.get(p.id, set())
                row["visual"] = votes.pop() if len(votes) == 1 else ""
            if snapshot is not None:
                row["snapshot"] = snapshot
            columns.extend(col for col in row if col not in columns)
            rows.append(row)
    parameters: list[dict[str, Any]] = []
    for params, _ in provenance:
        if params not in parameters:
            parameters.append(params)
    versions = tuple(dict.fromkeys(version for _, version in provenance))
    return AnalysisTable(source=source, columns=tuple(columns), rows=tuple(rows), parameters=tuple(parameters),
                         versions=versions, curves=tuple(curves))


def read_analysis_table(db: str | None) -> AnalysisTable:
    """Open the store at ``db`` (URL or SQLite file), read :func:`analysis_table`, close it.

    Raises
    ------
    InputError
        The store cannot be opened or holds no patient.
    """
    from ._engine import open_store

    engine = open_store(db)
    try:
        return analysis_table(engine)
    finally:
        engine.dispose()
