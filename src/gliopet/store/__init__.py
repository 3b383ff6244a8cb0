"""The cohort store: patients, studies, series, measurements, reads, radiopharmacy batches, provenance.

SQLAlchemy 2 models with Alembic migrations shipped in the package. A SQLite
file by default (WAL, ``synchronous=FULL``, busy timeout, ``BEGIN
IMMEDIATE``), PostgreSQL by URL. Open with :func:`open_store`; every writer
(:func:`import_patients`, :func:`write_study`) is one transaction.
"""

from ._engine import DEFAULT_DB_FILE, head_revision, normalise_url, open_store, safe_url, upgrade
from ._models import (MEASURE_FIELDS, STUDY_DONE, STUDY_FAILED, Base, MeasurementRow, Patient, Provenance,
                      RadiopharmacyBatch, Read, Series, Study)
from ._ops import (AnalysisTable, analysis_table, counts, import_patients, read_analysis_table, store_base_dir,
                   study_states, write_study)

__all__ = [
    "DEFAULT_DB_FILE", "open_store", "upgrade", "head_revision", "normalise_url", "safe_url",
    "Base", "Patient", "Study", "Series", "MeasurementRow", "Read", "RadiopharmacyBatch", "Provenance",
    "MEASURE_FIELDS", "STUDY_DONE", "STUDY_FAILED", "AnalysisTable",
    "import_patients", "study_states", "write_study", "analysis_table", "read_analysis_table", "counts",
    "store_base_dir",
]
