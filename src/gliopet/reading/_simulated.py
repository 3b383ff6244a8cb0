"""Simulated readers, for the demo: two readers who score every case of a session, and an adjudicating chief.

The demo has no physicians, but its report should show what a real read
gives (the agreement section, the consensus as ``visual``). Reads are made
from the simulator's ground truth, through the same library calls the web
app makes (:func:`save_read`, :func:`record_consensus`), so they are stored,
audited and exported exactly like real ones; every read's comment and the
report say they are simulated.

How a simulated reader reads (deterministic for a seed):

* visual: the truth (a lesion was made visible or not), except on
  ``misses[i]`` cases of reader i, chosen at random and different for each
  reader, where it is the other answer;
* score (0 none, 1 equivocal, 2 moderate, 3 intense): a negative read is 1
  where the truth is a visible lesion (an equivocal miss), else 0; a positive
  read is 3 where the true TBR is at least :data:`INTENSE_TBR`, else 2 (1 for
  a false positive);
* confidence: 5 where the read matches the truth, 3 otherwise.

The chief records the truth as the consensus of every case the readers
disagree on; as no two readers miss the same case, the consensus ``visual``
is the truth on every case.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ..store._models import Patient, Reader, ReadingAssignment, ReadingCase, ReadingSession
from ._accounts import add_reader
from ._sessions import ReadForm, new_session, record_consensus, save_read

__all__ = ["SIMULATED_COMMENT", "INTENSE_TBR", "TruthRead", "simulate_reading"]

#: Every simulated read and consensus carries this comment.
SIMULATED_COMMENT = "simulated read (gliopet demo): made from the simulator's ground truth, not by a physician"
#: A true TBR at or above this is scored 3 (intense), below it 2 (moderate).
INTENSE_TBR = 20.0


@dataclass(frozen=True)
class TruthRead:
    """What the simulator made for a patient: a visible lesion or not, and its true TBR."""

    visible: bool
    tbr: float | None


def _read(truth: TruthRead, flipped: bool) -> ReadForm:
    positive = truth.visible != flipped
    if positive:
        score = 1 if not truth.visible else (3 if (truth.tbr or 0.0) >= INTENSE_TBR else 2)
    else:
        score = 1 if truth.visible else 0
    return ReadForm(visual="positive" if positive else "negative", score=score, confidence=3 if flipped else 5,
                    lesion_lps_mm=None, comment=SIMULATED_COMMENT)


def simulate_reading(engine: Engine, name: str, truth: Mapping[str, TruthRead], *, seed: int,
                     misses: Sequence[int] = (1, 2)) -> dict:
    """Create readers ``sim-reader1``, ``sim-reader2`` and ``sim-chief``, a session, and every read.

    ``truth`` maps the clinical ``patient_id`` to its :class:`TruthRead`. The
    accounts get random passwords nobody is told: they exist to hold the
    simulated reads (create your own readers to log in).

    Returns the session summary of :func:`new_session` with ``disagreements``.
    """
    readers = [f"sim-reader{i}" for i in range(1, len(misses) + 1)]
    for reader in readers:
        add_reader(engine, reader, secrets.token_urlsafe(24))
    add_reader(engine, "sim-chief", secrets.token_urlsafe(24), admin=True)
    summary = new_session(engine, name, readers=readers, seed=seed)
    rng = random.Random(seed)
    with Session(engine) as session, session.begin():
        reading = session.scalar(sa.select(ReadingSession).where(ReadingSession.name == name))
        cases = list(session.scalars(sa.select(ReadingCase).where(ReadingCase.session_pk == reading.id)
                                     .order_by(ReadingCase.id)))
        patient_ids = dict(session.execute(sa.select(Patient.id, Patient.patient_id)).all())
        # different readers miss different cases, so every miss is a disagreement the chief settles
        chosen = rng.sample(range(len(cases)), min(sum(misses), len(cases)))
        bounds = [sum(misses[:i]) for i in range(len(misses) + 1)]
        flipped = {reader: set(chosen[bounds[i]:bounds[i + 1]]) for i, reader in enumerate(readers)}
        reads: dict[int, set[str]] = {}
        for slot, reader_name in enumerate(readers):
            reader = session.scalar(sa.select(Reader).where(Reader.name == reader_name))
            for index, case in enumerate(cases):
                assignment = session.scalar(sa.select(ReadingAssignment).where(
                    ReadingAssignment.case_pk == case.id, ReadingAssignment.reader_pk == reader.id))
                read = _read(truth[patient_ids[case.patient_pk]], index in flipped[reader_name])
                save_read(session, reader, assignment, read, submit=True)
                reads.setdefault(case.id, set()).add(read.visual)
        chief = session.scalar(sa.select(Reader).where(Reader.name == "sim-chief"))
        disagreements = 0
        for case in cases:
            if len(reads[case.id]) > 1:
                disagreements += 1
                right = _read(truth[patient_ids[case.patient_pk]], False)
                record_consensus(session, chief, case, visual=right.visual, score=right.score,
                                 comment=SIMULATED_COMMENT)
    return {**summary, "disagreements": disagreements}
