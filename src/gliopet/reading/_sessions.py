"""Reading sessions: cases under opaque codes, per-reader orders, reads, adjudication, export, audit.

A case code is drawn from the operating system's random source
(:mod:`secrets`): it is neither a database id nor derived from any DICOM
value. Each reader's order is a shuffle of the cases (sorted by patient and
study) by :class:`random.Random` seeded with the session's recorded seed, so
the orders can be re-derived: :func:`reader_orders`.
"""

from __future__ import annotations

import csv
import logging
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ..errors import InputError
from ..store._models import (READ_DRAFT, READ_NEW, READ_SUBMITTED, STUDY_DONE, AuditEntry, Patient, Reader,
                     ReadingAssignment, ReadingCase, ReadingConsensus, ReadingSession, Study)

logger = logging.getLogger(__name__)

__all__ = ["new_session", "reader_orders", "audit", "recent_failed_logins", "ReadForm", "parse_read_form",
           "save_read", "reopen_read", "record_consensus", "session_overview", "export_reads", "export_audit",
           "VISUAL_CHOICES", "SCORE_CHOICES", "CONFIDENCE_CHOICES", "CODE_ALPHABET", "CODE_LENGTH"]

#: Letters of a case code (no 0/O, 1/I/L): 10 of them carry about 49 bits.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
VISUAL_CHOICES = ("positive", "negative")
#: The 4-point scale: 0 none, 1 equivocal, 2 moderate, 3 intense.
SCORE_CHOICES = (0, 1, 2, 3)
CONFIDENCE_CHOICES = (1, 2, 3, 4, 5)
MAX_COMMENT_CHARS = 4000
MAX_SEED = 2**31 - 1


def _now() -> datetime:
    return datetime.now(timezone.utc)


def audit(session: Session, actor: str | None, action: str, *, case_code: str | None = None,
          previous: dict[str, Any] | None = None, new: dict[str, Any] | None = None) -> None:
    """Append one audit row (in the caller's transaction): who, when (UTC), which case, old and new value."""
    session.add(AuditEntry(at=_now(), actor=actor, action=action, case_code=case_code, previous=previous, new=new))


def recent_failed_logins(session: Session, name: str, window_s: float) -> int:
    """How many failed logins under ``name`` the audit trail holds from the last ``window_s`` seconds.

    Read from the store, so every server process on it and every restart sees the same count.
    """
    since = _now() - timedelta(seconds=window_s)
    return int(session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "login_failed", AuditEntry.actor == name, AuditEntry.at >= since)) or 0)


def reader_orders(seed: int, n_cases: int, n_readers: int) -> list[list[int]]:
    """Each reader's order of the cases (indices into the sorted cases), from the seed.

    Reader 1's order is the first shuffle of ``random.Random(seed)``, reader 2's the next.

    >>> reader_orders(1, 3, 2)
    [[1, 2, 0], [2, 0, 1]]
    """
    rng = random.Random(seed)
    orders = []
    for _ in range(n_readers):
        order = list(range(n_cases))
        rng.shuffle(order)
        orders.append(order)
    return orders


def _new_code(taken: set[str]) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if code not in taken:
            taken.add(code)
            return code


def new_session(engine: Engine, name: str, *, readers: list[str], seed: int | None = None) -> dict[str, Any]:
    """Create a reading session over every measured study of the store.

    Returns ``name``, ``seed`` (recorded), ``cases`` (count) and ``readers``.

    Raises
    ------
    InputError
        The name is taken or empty, a reader is unknown, disabled or repeated,
        the seed is outside 0..2**31-1, or the store holds no measured study.
    """
    if not name or len(name) > 128:
        raise InputError("reading session name: give 1 to 128 characters")
    if not readers or len(set(readers)) != len(readers):
        raise InputError("--readers: give distinct reader names, e.g. A,B")
    if seed is None:
        seed = secrets.randbelow(MAX_SEED + 1)
    if not 0 <= seed <= MAX_SEED:
        raise InputError(f"--seed {seed}: use 0 to {MAX_SEED}")
    with Session(engine) as session, session.begin():
        if session.scalar(sa.select(ReadingSession).where(ReadingSession.name == name)) is not None:
            raise InputError(f"reading session {name!r}: already exists")
        found = {r.name: r for r in session.scalars(sa.select(Reader).where(Reader.name.in_(readers)))}
        for reader_name in readers:
            if reader_name not in found or found[reader_name].disabled:
                raise InputError(f"--readers: {reader_name!r} is not an enabled reader (gliopet readers add)")
        studies = session.execute(sa.select(Study.patient_pk, Study.study_uid).where(Study.status == STUDY_DONE)
                                  .order_by(Study.patient_pk, Study.study_uid)).all()
        if not studies:
            raise InputError("the store holds no measured study to read; run gliopet analyze first")
        reading = ReadingSession(name=name, seed=seed, created_at=_now())
        session.add(reading)
        taken = set(session.scalars(sa.select(ReadingCase.code)))
        cases = [ReadingCase(session=reading, patient_pk=pk, study_uid=uid, code=_new_code(taken))
                 for pk, uid in studies]
        session.add_all(cases)
        session.flush()
        for slot, (reader_name, order) in enumerate(zip(readers, reader_orders(seed, len(cases), len(readers))), 1):
            for position, index in enumerate(order, 1):
                session.add(ReadingAssignment(case_pk=cases[index].id, reader_pk=found[reader_name].id,
                                              reader_slot=slot, position=position, status=READ_NEW))
        audit(session, None, "session_created", new={"session": name, "seed": seed, "readers": list(readers),
                                                     "cases": len(cases)})
    logger.info("reading session %s: %d cases, %d readers", name, len(cases), len(readers))
    return {"name": name, "seed": seed, "cases": len(cases), "readers": list(readers)}


@dataclass(frozen=True)
class ReadForm:
    """A read as typed in the score form (validated)."""

    visual: str | None
    score: int | None
    confidence: int | None
    lesion_lps_mm: tuple[float, float, float] | None
    comment: str

    def as_dict(self) -> dict[str, Any]:
        return {"visual": self.visual, "score": self.score, "confidence": self.confidence,
                "lesion_lps_mm": list(self.lesion_lps_mm) if self.lesion_lps_mm else None, "comment": self.comment}


def _choice_int(text: str, choices: tuple[int, ...], field: str) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    if text not in {str(c) for c in choices}:
        raise InputError(f"{field}: choose one of {', '.join(map(str, choices))}")
    return int(text)


def parse_read_form(form: dict[str, str], *, complete: bool) -> ReadForm:
    """Validate the score form; ``complete`` (submit) needs visual, score and confidence.

    Raises
    ------
    InputError
        A value is not one of the choices, the lesion is not three finite numbers, or the
        comment is too long.
    """
    visual = (form.get("visual") or "").strip() or None
    if visual is not None and visual not in VISUAL_CHOICES:
        raise InputError("visual: choose positive or negative")
    score = _choice_int(form.get("score", ""), SCORE_CHOICES, "score")
    confidence = _choice_int(form.get("confidence", ""), CONFIDENCE_CHOICES, "confidence")
    texts = [(form.get(f"lesion_{axis}_mm") or "").strip() for axis in "xyz"]
    lesion = None
    if any(texts):
        try:
            values = tuple(float(t) for t in texts)
        except ValueError:
            raise InputError("lesion: give x, y and z in LPS mm") from None
        if not all(abs(v) < 1e5 for v in values):
            raise InputError("lesion: give x, y and z in LPS mm")
        lesion = values
    comment = form.get("comment") or ""
    if len(comment) > MAX_COMMENT_CHARS:
        raise InputError(f"comment: at most {MAX_COMMENT_CHARS} characters")
    if complete and (visual is None or score is None or confidence is None):
        raise InputError("submit: choose positive or negative, a score and a confidence")
    return ReadForm(visual, score, confidence, lesion, comment)


def _read_values(a: ReadingAssignment) -> dict[str, Any]:
    lesion = None if a.lesion_x_mm is None else [a.lesion_x_mm, a.lesion_y_mm, a.lesion_z_mm]
    return {"status": a.status, "visual": a.visual, "score": a.score, "confidence": a.confidence,
            "lesion_lps_mm": lesion, "comment": a.comment}


def save_read(session: Session, reader: Reader, assignment: ReadingAssignment, read: ReadForm, *,
              submit: bool) -> None:
    """Save a draft or submit (in the caller's transaction); audited with the previous and new value.

    Raises
    ------
    InputError
        The read is already submitted (read-only until an admin reopens it).
    """
    if assignment.status == READ_SUBMITTED:
        raise InputError("this read is submitted and read-only")
    previous = _read_values(assignment)
    assignment.visual, assignment.score, assignment.confidence = read.visual, read.score, read.confidence
    lesion = read.lesion_lps_mm or (None, None, None)
    assignment.lesion_x_mm, assignment.lesion_y_mm, assignment.lesion_z_mm = lesion
    assignment.comment = read.comment or None
    assignment.updated_at = _now()
    assignment.status = READ_SUBMITTED if submit else READ_DRAFT
    if submit:
        assignment.submitted_at = assignment.updated_at
    audit(session, reader.name, "submit" if submit else "save", case_code=assignment.case.code,
          previous=previous, new=_read_values(assignment))


def reopen_read(session: Session, admin: Reader, assignment: ReadingAssignment) -> None:
    """An admin sends a submitted read back to draft (audited)."""
    previous = _read_values(assignment)
    assignment.status = READ_DRAFT
    assignment.submitted_at = None
    audit(session, admin.name, "reopen", case_code=assignment.case.code, previous=previous,
          new={"status": READ_DRAFT, "reader": assignment.reader.name})


def record_consensus(session: Session, admin: Reader, case: ReadingCase, *, visual: str, score: int | None,
                     comment: str) -> None:
    """Record (or replace) the consensus read of a case (audited)."""
    if visual not in VISUAL_CHOICES:
        raise InputError("consensus: choose positive or negative")
    old = session.scalar(sa.select(ReadingConsensus).where(ReadingConsensus.case_pk == case.id))
    previous = None if old is None else {"visual": old.visual, "score": old.score, "comment": old.comment}
    if old is None:
        old = ReadingConsensus(case_pk=case.id)
        session.add(old)
    old.visual, old.score, old.comment = visual, score, comment or None
    old.decided_by, old.decided_at = admin.name, _now()
    audit(session, admin.name, "adjudicate", case_code=case.code, previous=previous,
          new={"visual": visual, "score": score, "comment": comment or None})


def session_overview(session: Session, reading: ReadingSession) -> dict[str, Any]:
    """Progress per reader; when every read is submitted, each case's reads, agreement and consensus.

    ``complete`` is False until every reader has submitted every case; ``cases``
    (the reads) is then empty, so nobody sees a reader's scores before.
    """
    rows = session.execute(
        sa.select(ReadingCase, ReadingAssignment, Reader).join(ReadingAssignment.case)
        .join(ReadingAssignment.reader).where(ReadingCase.session_pk == reading.id)
        .order_by(ReadingCase.code, ReadingAssignment.reader_slot)).all()
    readers: dict[int, dict[str, Any]] = {}
    by_case: dict[str, list[ReadingAssignment]] = {}
    case_of: dict[str, ReadingCase] = {}
    for case, assignment, reader in rows:
        entry = readers.setdefault(assignment.reader_slot, {"slot": assignment.reader_slot, "name": reader.name,
                                                             "submitted": 0, "total": 0})
        entry["total"] += 1
        entry["submitted"] += assignment.status == READ_SUBMITTED
        by_case.setdefault(case.code, []).append(assignment)
        case_of[case.code] = case
    complete = bool(rows) and all(r["submitted"] == r["total"] for r in readers.values())
    consensus = {c.case_pk: c for c in session.scalars(
        sa.select(ReadingConsensus).join(ReadingCase, ReadingConsensus.case_pk == ReadingCase.id)
        .where(ReadingCase.session_pk == reading.id))}
    cases = []
    table = {(a, b): 0 for a in VISUAL_CHOICES for b in VISUAL_CHOICES}
    if complete:
        for code, reads in by_case.items():
            visuals = [a.visual for a in reads]
            agreed = len(set(visuals)) == 1
            if len(reads) == 2:
                table[(visuals[0], visuals[1])] += 1
            chosen = consensus.get(case_of[code].id)
            cases.append({"code": code, "reads": [{"slot": a.reader_slot, "reader": a.reader.name,
                                                   "visual": a.visual, "score": a.score,
                                                   "confidence": a.confidence, "comment": a.comment}
                                                  for a in reads],
                          "agreed": agreed, "consensus": None if chosen is None else chosen.visual,
                          "consensus_score": None if chosen is None else chosen.score})
    submitted = [{"code": code, "slot": a.reader_slot, "reader": a.reader.name}
                 for code, reads in by_case.items() for a in reads if a.status == READ_SUBMITTED]
    return {"name": reading.name, "id": reading.id, "seed": reading.seed, "complete": complete,
            "readers": [readers[k] for k in sorted(readers)], "cases": cases, "table": table,
            "submitted": submitted}


def _session_by_name(session: Session, name: str) -> ReadingSession:
    reading = session.scalar(sa.select(ReadingSession).where(ReadingSession.name == name))
    if reading is None:
        raise InputError(f"reading session {name!r}: no such session")
    return reading


def export_reads(engine: Engine, name: str, out: str | Path) -> Path:
    """Write one row per case: patient_id, the case code, each reader's read and the consensus ``visual``.

    Columns: ``patient_id``, ``case_code``, ``visual_reader<n>``, ``score_reader<n>``,
    ``confidence_reader<n>``, ``lesion_reader<n>`` (x;y;z LPS mm), ``visual`` (the consensus,
    else the readers' unanimous read, else empty) and ``score``. Only submitted reads count.
    Written to a temporary file, then renamed.
    """
    out = Path(out)
    with Session(engine) as session:
        reading = _session_by_name(session, name)
        cases = session.execute(sa.select(ReadingCase, Patient.patient_id)
                                .join(Patient, ReadingCase.patient_pk == Patient.id)
                                .where(ReadingCase.session_pk == reading.id).order_by(Patient.id)).all()
        slots = sorted({a.reader_slot for case, _ in cases for a in case.assignments})
        consensus = {c.case_pk: c for c in session.scalars(sa.select(ReadingConsensus))}
        header = ["patient_id", "case_code"]
        for n in slots:
            header += [f"visual_reader{n}", f"score_reader{n}", f"confidence_reader{n}", f"lesion_reader{n}"]
        header += ["visual", "score"]
        rows = []
        for case, patient_id in cases:
            row: dict[str, Any] = {"patient_id": patient_id, "case_code": case.code}
            done = [a for a in case.assignments if a.status == READ_SUBMITTED]
            for a in done:
                row[f"visual_reader{a.reader_slot}"] = a.visual
                row[f"score_reader{a.reader_slot}"] = a.score
                row[f"confidence_reader{a.reader_slot}"] = a.confidence
                if a.lesion_x_mm is not None:
                    row[f"lesion_reader{a.reader_slot}"] = f"{a.lesion_x_mm:g};{a.lesion_y_mm:g};{a.lesion_z_mm:g}"
            chosen = consensus.get(case.id)
            if chosen is not None:
                row["visual"], row["score"] = chosen.visual, chosen.score
            elif len(done) == len(slots) and len({a.visual for a in done}) == 1:
                row["visual"] = done[0].visual
                if len({a.score for a in done}) == 1:
                    row["score"] = done[0].score
            rows.append(row)
    tmp = out.with_name(f".{out.name}.partial")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=header, restval="")
            writer.writeheader()
            writer.writerows(rows)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def export_audit(session: Session) -> list[dict[str, Any]]:
    """The audit trail in order: id, at (UTC ISO), actor, action, case_code, previous, new."""
    return [{"id": e.id, "at": e.at.isoformat() if e.at else "", "actor": e.actor or "", "action": e.action,
             "case_code": e.case_code or "", "previous": e.previous, "new": e.new}
            for e in session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id))]
