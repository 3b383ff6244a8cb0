"""The cohort store: patients, studies, series, measurements, reads, radiopharmacy batches, provenance.

SQLAlchemy 2 models with Alembic migrations shipped in the package. A SQLite
file by default (WAL, ``synchronous=FULL``, busy timeout, ``BEGIN
IMMEDIATE``), PostgreSQL by URL. Open with :func:`open_store`; every writer
(:func:`import_patients`, :func:`write_study`) is one transaction.
"""

from ._engine import DEFAULT_DB_FILE, head_revision, normalise_url, open_store, safe_url, upgrade
from ._models import (MEASURE_FIELDS, STUDY_DONE, STUDY_FAILED, Base, Measurement, Patient, Provenance,
                      RadiopharmacyBatch, Read, Series, Study)
from ._export import cohort_from_store, write_analysis_csv, write_report_from_store
from ._ops import analysis_rows, counts, import_patients, study_states, write_study

__all__ = [
    "DEFAULT_DB_FILE", "open_store", "upgrade", "head_revision", "normalise_url", "safe_url",
    "Base", "Patient", "Study", "Series", "Measurement", "Read", "RadiopharmacyBatch", "Provenance",
    "MEASURE_FIELDS", "STUDY_DONE", "STUDY_FAILED",
    "import_patients", "study_states", "write_study", "analysis_rows", "counts",
    "cohort_from_store", "write_analysis_csv", "write_report_from_store",
]
