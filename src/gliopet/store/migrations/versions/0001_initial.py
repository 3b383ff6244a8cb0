"""Initial cohort store: patients, studies, series, measurements, reads, radiopharmacy batches, provenance.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.String(128), nullable=False),
        sa.Column("sex", sa.String(1), nullable=False),
        sa.Column("age_years", sa.Float(), nullable=False),
        sa.Column("diagnosis", sa.Text(), nullable=False),
        sa.Column("who_grade", sa.String(3), nullable=False),
        sa.Column("referral", sa.String(16), nullable=True),
        sa.Column("prior_surgery", sa.String(3), nullable=True),
        sa.Column("prior_chemotherapy", sa.String(3), nullable=True),
        sa.Column("prior_radiotherapy", sa.String(3), nullable=True),
        sa.Column("mri_date", sa.Date(), nullable=True),
        sa.Column("pet_date", sa.Date(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=False),
        sa.Column("imported_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_patients"),
        sa.UniqueConstraint("patient_id", name="uq_patients_patient_id"),
    )
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_pk", sa.Integer(), nullable=False),
        sa.Column("study_uid", sa.String(64), nullable=False),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["patient_pk"], ["patients.id"], name="fk_studies_patient_pk_patients",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_studies"),
        sa.UniqueConstraint("patient_pk", "study_uid", name="uq_studies_patient_study"),
    )
    op.create_index("ix_studies_patient_pk", "studies", ["patient_pk"])
    op.create_table(
        "series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_pk", sa.Integer(), nullable=False),
        sa.Column("series_uid", sa.String(64), nullable=False),
        sa.Column("modality", sa.String(16), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("scan_time_min", sa.Float(), nullable=True),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("n_files", sa.Integer(), nullable=False),
        sa.Column("pixel_sha256", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["study_pk"], ["studies.id"], name="fk_series_study_pk_studies", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_series"),
    )
    op.create_index("ix_series_study_pk", "series", ["study_pk"])
    op.create_table(
        "measurements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_pk", sa.Integer(), nullable=False),
        sa.Column("series_uid", sa.String(64), nullable=False),
        sa.Column("scan_time_min", sa.Float(), nullable=True),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        *[sa.Column(name, sa.Float(), nullable=True) for name in (
            "suvmax", "suvmean_1cm", "suvpeak", "btv_ml", "bg_suvmax", "bg_suvmean",
            "tbr_max_to_bg_max", "tbr_max_to_bg_mean", "tbr_mean_to_bg_mean")],
        sa.Column("record", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["study_pk"], ["studies.id"], name="fk_measurements_study_pk_studies",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_measurements"),
    )
    op.create_index("ix_measurements_study_pk", "measurements", ["study_pk"])
    op.create_table(
        "reads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_pk", sa.Integer(), nullable=False),
        sa.Column("reader", sa.String(128), nullable=False),
        sa.Column("visual", sa.String(8), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("read_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["study_pk"], ["studies.id"], name="fk_reads_study_pk_studies", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_reads"),
        sa.UniqueConstraint("study_pk", "reader", name="uq_reads_study_reader"),
    )
    op.create_index("ix_reads_study_pk", "reads", ["study_pk"])
    op.create_table(
        "radiopharmacy_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(128), nullable=False),
        sa.Column("tracer", sa.String(64), nullable=False),
        sa.Column("released", sa.Boolean(), nullable=True),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_radiopharmacy_batches"),
        sa.UniqueConstraint("batch_id", name="uq_radiopharmacy_batches_batch_id"),
    )
    op.create_table(
        "provenance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_pk", sa.Integer(), nullable=False),
        sa.Column("gliopet_version", sa.String(64), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("input_sha256", sa.JSON(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["study_pk"], ["studies.id"], name="fk_provenance_study_pk_studies",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_provenance"),
    )
    op.create_index("ix_provenance_study_pk", "provenance", ["study_pk"])


def downgrade() -> None:
    for table in ("provenance", "radiopharmacy_batches", "reads", "measurements", "series", "studies", "patients"):
        op.drop_table(table)
