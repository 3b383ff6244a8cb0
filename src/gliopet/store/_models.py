"""The cohort store's tables (SQLAlchemy 2 declarative models).

One row per patient, per imaging study analysed, per series used, per
measurement (one per PET time point), per visual read, per radiopharmacy
batch, and one provenance row per analysed study. The schema itself is owned
by the Alembic migrations in ``gliopet/store/migrations``; these models must
match the latest revision (a test compares them).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (JSON, Boolean, Date, DateTime, Float, ForeignKey, Integer, MetaData, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ..measure import MEASURED_COLUMNS

__all__ = ["Base", "Patient", "Study", "Series", "MeasurementRow", "Read", "RadiopharmacyBatch", "Provenance",
           "Reader", "ReadingSession", "ReadingCase", "ReadingAssignment", "ReadingConsensus", "LoginSession",
           "AuditEntry", "STUDY_DONE", "STUDY_FAILED", "MEASURE_FIELDS",
           "READ_NEW", "READ_DRAFT", "READ_SUBMITTED"]

#: Study status values.
STUDY_DONE = "done"
STUDY_FAILED = "failed"
#: Status of one reader's read of one case in a reading session.
READ_NEW = "new"
READ_DRAFT = "draft"
READ_SUBMITTED = "submitted"
#: Measured values kept as columns (DESIGN.md measured columns, owned by :mod:`gliopet.measure`);
#: the full record is kept as JSON.
MEASURE_FIELDS = MEASURED_COLUMNS

_NAMING = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
           "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", "pk": "pk_%(table_name)s"}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Patient(Base):
    """One row of the clinical CSV (DESIGN.md schema); optional columns in ``extra``."""

    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(128), unique=True)
    sex: Mapped[str] = mapped_column(String(1))
    age_years: Mapped[float] = mapped_column(Float)
    diagnosis: Mapped[str] = mapped_column(Text)
    who_grade: Mapped[str] = mapped_column(String(3))
    referral: Mapped[str | None] = mapped_column(String(16), nullable=True)
    prior_surgery: Mapped[str | None] = mapped_column(String(3), nullable=True)
    prior_chemotherapy: Mapped[str | None] = mapped_column(String(3), nullable=True)
    prior_radiotherapy: Mapped[str | None] = mapped_column(String(3), nullable=True)
    mri_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    pet_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_file: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    studies: Mapped[list[Study]] = relationship(back_populates="patient", cascade="all, delete-orphan")


class Study(Base):
    """One analysed imaging study (a PET/CT StudyInstanceUID) and its outcome."""

    __tablename__ = "studies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_pk: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    study_uid: Mapped[str] = mapped_column(String(64))
    folder: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    patient: Mapped[Patient] = relationship(back_populates="studies")
    series: Mapped[list[Series]] = relationship(back_populates="study", cascade="all, delete-orphan")
    measurements: Mapped[list[MeasurementRow]] = relationship(back_populates="study", cascade="all, delete-orphan")
    reads: Mapped[list[Read]] = relationship(back_populates="study", cascade="all, delete-orphan")
    provenance: Mapped[list[Provenance]] = relationship(back_populates="study", cascade="all, delete-orphan")
    __table_args__ = (UniqueConstraint("patient_pk", "study_uid", name="uq_studies_patient_study"),)


class Series(Base):
    """A series used by an analysed study: ``role`` is pet, ct or mr."""

    __tablename__ = "series"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_pk: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    series_uid: Mapped[str] = mapped_column(String(64))
    modality: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(8))
    scan_time_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    folder: Mapped[str] = mapped_column(Text)
    n_files: Mapped[int] = mapped_column(Integer)
    pixel_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    study: Mapped[Study] = relationship(back_populates="series")


class MeasurementRow(Base):
    """One PET time point measured (``gliopet measure`` record; the main values as columns)."""

    __tablename__ = "measurements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_pk: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    series_uid: Mapped[str] = mapped_column(String(64))
    scan_time_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    primary: Mapped[bool] = mapped_column("is_primary", default=False)
    suvmax: Mapped[float | None] = mapped_column(Float, nullable=True)
    suvmean_1cm: Mapped[float | None] = mapped_column(Float, nullable=True)
    suvpeak: Mapped[float | None] = mapped_column(Float, nullable=True)
    btv_ml: Mapped[float | None] = mapped_column(Float, nullable=True)
    bg_suvmax: Mapped[float | None] = mapped_column(Float, nullable=True)
    bg_suvmean: Mapped[float | None] = mapped_column(Float, nullable=True)
    tbr_max_to_bg_max: Mapped[float | None] = mapped_column(Float, nullable=True)
    tbr_max_to_bg_mean: Mapped[float | None] = mapped_column(Float, nullable=True)
    tbr_mean_to_bg_mean: Mapped[float | None] = mapped_column(Float, nullable=True)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    study: Mapped[Study] = relationship(back_populates="measurements")


class Read(Base):
    """A visual read of a study by one reader (the blinded reading app writes these)."""

    __tablename__ = "reads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_pk: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    reader: Mapped[str] = mapped_column(String(128))
    visual: Mapped[str] = mapped_column(String(8))
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    study: Mapped[Study] = relationship(back_populates="reads")
    __table_args__ = (UniqueConstraint("study_pk", "reader", name="uq_reads_study_reader"),)


class RadiopharmacyBatch(Base):
    """A radiopharmaceutical batch record and its release decision."""

    __tablename__ = "radiopharmacy_batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(128), unique=True)
    tracer: Mapped[str] = mapped_column(String(64))
    released: Mapped[bool | None] = mapped_column(nullable=True)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Provenance(Base):
    """How a study's results were made: software version, parameters, input hashes, host, times."""

    __tablename__ = "provenance"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_pk: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    gliopet_version: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    input_sha256: Mapped[dict[str, Any]] = mapped_column(JSON)
    host: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    study: Mapped[Study] = relationship(back_populates="provenance")


class Reader(Base):
    """An account of the blinded reading app (``gliopet readers add``): argon2id hash, never the password."""

    __tablename__ = "readers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReadingSession(Base):
    """A blinded reading of the store's studies (``gliopet reading new``): the seed of the readers' orders."""

    __tablename__ = "reading_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    seed: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cases: Mapped[list[ReadingCase]] = relationship(back_populates="session", cascade="all, delete-orphan")


class ReadingCase(Base):
    """One study in a reading session under an opaque random code (the only name a reader sees).

    The study is named by patient and StudyInstanceUID, not by the study row, so that analysing
    the study again (which replaces its row) keeps the reads.
    """

    __tablename__ = "reading_cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_pk: Mapped[int] = mapped_column(ForeignKey("reading_sessions.id", ondelete="CASCADE"), index=True)
    patient_pk: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    study_uid: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    session: Mapped[ReadingSession] = relationship(back_populates="cases")
    assignments: Mapped[list[ReadingAssignment]] = relationship(back_populates="case", cascade="all, delete-orphan")


class ReadingAssignment(Base):
    """One reader's read of one case: its place in the reader's worklist and the score (draft or submitted).

    ``reader_slot`` is the reader's number in the session (1 for the first of ``--readers``):
    the read becomes ``visual_reader<slot>`` / ``score_reader<slot>`` in the analysis table.
    """

    __tablename__ = "reading_assignments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_pk: Mapped[int] = mapped_column(ForeignKey("reading_cases.id", ondelete="CASCADE"), index=True)
    reader_pk: Mapped[int] = mapped_column(ForeignKey("readers.id", ondelete="CASCADE"), index=True)
    reader_slot: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10))
    visual: Mapped[str | None] = mapped_column(String(8), nullable=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    confidence: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lesion_x_mm: Mapped[float | None] = mapped_column(Float, nullable=True)
    lesion_y_mm: Mapped[float | None] = mapped_column(Float, nullable=True)
    lesion_z_mm: Mapped[float | None] = mapped_column(Float, nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    case: Mapped[ReadingCase] = relationship(back_populates="assignments")
    reader: Mapped[Reader] = relationship()
    __table_args__ = (UniqueConstraint("case_pk", "reader_pk", name="uq_reading_assignments_case_reader"),)


class ReadingConsensus(Base):
    """The adjudicated read of a case the readers disagreed on (what ``visual`` becomes)."""

    __tablename__ = "reading_consensus"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_pk: Mapped[int] = mapped_column(ForeignKey("reading_cases.id", ondelete="CASCADE"), unique=True)
    visual: Mapped[str] = mapped_column(String(8))
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LoginSession(Base):
    """A logged-in browser: the SHA-256 of its cookie token (the token itself is never stored) and its CSRF token."""

    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    reader_pk: Mapped[int] = mapped_column(ForeignKey("readers.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """The reading app's audit trail: append-only (the database refuses UPDATE and DELETE on it)."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    case_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    previous: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    new: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
