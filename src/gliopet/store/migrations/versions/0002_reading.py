"""Blinded reading: readers, reading sessions, cases, assignments, consensus, login sessions, audit.

The audit table is append-only: triggers refuse UPDATE and DELETE on it (and TRUNCATE on PostgreSQL).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)

_PG_FUNCTION = """
CREATE FUNCTION gliopet_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit table is append-only: % refused', TG_OP;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "readers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_readers"),
        sa.UniqueConstraint("name", name="uq_readers_name"),
    )
    op.create_table(
        "reading_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reading_sessions"),
        sa.UniqueConstraint("name", name="uq_reading_sessions_name"),
    )
    op.create_table(
        "reading_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_pk", sa.Integer(), nullable=False),
        sa.Column("patient_pk", sa.Integer(), nullable=False),
        sa.Column("study_uid", sa.String(64), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(["session_pk"], ["reading_sessions.id"],
                                name="fk_reading_cases_session_pk_reading_sessions", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["patient_pk"], ["patients.id"], name="fk_reading_cases_patient_pk_patients",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_reading_cases"),
        sa.UniqueConstraint("code", name="uq_reading_cases_code"),
    )
    op.create_index("ix_reading_cases_session_pk", "reading_cases", ["session_pk"])
    op.create_index("ix_reading_cases_patient_pk", "reading_cases", ["patient_pk"])
    op.create_table(
        "reading_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_pk", sa.Integer(), nullable=False),
        sa.Column("reader_pk", sa.Integer(), nullable=False),
        sa.Column("reader_slot", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("visual", sa.String(8), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("confidence", sa.Integer(), nullable=True),
        sa.Column("lesion_x_mm", sa.Float(), nullable=True),
        sa.Column("lesion_y_mm", sa.Float(), nullable=True),
        sa.Column("lesion_z_mm", sa.Float(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("updated_at", _TS, nullable=True),
        sa.Column("submitted_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(["case_pk"], ["reading_cases.id"],
                                name="fk_reading_assignments_case_pk_reading_cases", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reader_pk"], ["readers.id"], name="fk_reading_assignments_reader_pk_readers",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_reading_assignments"),
        sa.UniqueConstraint("case_pk", "reader_pk", name="uq_reading_assignments_case_reader"),
    )
    op.create_index("ix_reading_assignments_case_pk", "reading_assignments", ["case_pk"])
    op.create_index("ix_reading_assignments_reader_pk", "reading_assignments", ["reader_pk"])
    op.create_table(
        "reading_consensus",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_pk", sa.Integer(), nullable=False),
        sa.Column("visual", sa.String(8), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("decided_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["case_pk"], ["reading_cases.id"],
                                name="fk_reading_consensus_case_pk_reading_cases", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_reading_consensus"),
        sa.UniqueConstraint("case_pk", name="uq_reading_consensus_case_pk"),
    )
    op.create_table(
        "login_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("reader_pk", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["reader_pk"], ["readers.id"], name="fk_login_sessions_reader_pk_readers",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_login_sessions"),
        sa.UniqueConstraint("token_sha256", name="uq_login_sessions_token_sha256"),
    )
    op.create_index("ix_login_sessions_reader_pk", "login_sessions", ["reader_pk"])
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("actor", sa.String(64), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("case_code", sa.String(32), nullable=True),
        sa.Column("previous", sa.JSON(), nullable=True),
        sa.Column("new", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute("CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit "
                   "FOR EACH ROW EXECUTE FUNCTION gliopet_audit_append_only()")
        op.execute("CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit "
                   "FOR EACH STATEMENT EXECUTE FUNCTION gliopet_audit_append_only()")
    elif op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_no_{event.lower()} BEFORE {event} ON audit "
                       f"BEGIN SELECT RAISE(ABORT, 'the audit table is append-only: {event} refused'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_no_truncate ON audit")
        op.execute("DROP TRIGGER IF EXISTS audit_append_only ON audit")
        op.execute("DROP FUNCTION IF EXISTS gliopet_audit_append_only()")
    for table in ("audit", "login_sessions", "reading_consensus", "reading_assignments", "reading_cases",
                  "reading_sessions", "readers"):
        op.drop_table(table)
