"""The cohort store on SQLite and on a real PostgreSQL server: schema, import, atomic writes, concurrency."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import date

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from pg_server import pg_server, pg_url  # noqa: F401 - fixtures

from gliopet.errors import InputError
from gliopet.store import (Base, analysis_table, counts, head_revision, import_patients, open_store, study_states,
                           write_study)

PY = sys.executable


def _patient(pid: str, grade: str = "IV", visual: str = "positive", **extra) -> dict:
    return {"patient_id": pid, "sex": "F", "age_years": 50.0, "diagnosis": "GBM", "who_grade": grade,
            "referral": "staging", "prior_surgery": "no", "prior_chemotherapy": "no", "prior_radiotherapy": "no",
            "mri_date": date(2021, 3, 1), "pet_date": date(2021, 3, 8), "extra": {"visual": visual, **extra}}


def _result(pid: str, suvmax: float, bg_suvmax: float, *, study_uid: str = "1.2.3", status: str = "done",
            times=(60.0,)) -> dict:
    """A study's outcome as gliopet.analyze.measure_study returns it, with hand-chosen values."""
    measurements = [{"series_uid": f"{study_uid}.{i}", "scan_time_min": t, "primary": t == 60.0,
                     "record": {"suvmax": suvmax + i, "bg_suvmax": bg_suvmax,
                                "tbr_max_to_bg_max": (suvmax + i) / bg_suvmax}}
                    for i, t in enumerate(times)] if status == "done" else []
    series = [{"series_uid": m["series_uid"], "modality": "PT", "role": "pet", "scan_time_min": m["scan_time_min"],
               "folder": "PET", "n_files": 3, "pixel_sha256": "0" * 64} for m in measurements]
    return {"patient_id": pid, "study_uid": study_uid, "folder": pid, "status": status,
            "error": None if status == "done" else "SuvError: PatientWeight is missing",
            "series": series, "measurements": measurements,
            "provenance": {"gliopet_version": "test", "parameters": {"lesion": "auto"}, "input_sha256": {},
                           "host": "h", "started_at": "2026-01-01T00:00:00+00:00",
                           "finished_at": "2026-01-01T00:00:10+00:00"} if status == "done" else None}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("pg_url")


def test_migrations_build_exactly_the_models(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = open_store(db_url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
    open_store(db_url).dispose()  # opening again: already at head, nothing to do
    engine.dispose()


def test_sqlite_is_durable_and_waits_for_writers(tmp_path):
    engine = open_store(str(tmp_path / "s.sqlite"))
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # 2 = FULL (sqlite.org/pragma.html)
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 120_000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_import_is_idempotent_and_studies_replace(db_url):
    engine = open_store(db_url)
    rows = [_patient("P1", "III"), _patient("P2", "IV"), _patient("P3", "IV", visual="negative")]
    assert import_patients(engine, rows, source_file="c.csv") == {"added": 3, "updated": 0, "unchanged": 0}
    assert import_patients(engine, rows, source_file="c.csv") == {"added": 0, "updated": 0, "unchanged": 3}
    rows[0] = {**rows[0], "age_years": 51.0}
    assert import_patients(engine, rows, source_file="c.csv") == {"added": 0, "updated": 1, "unchanged": 2}
    write_study(engine, _result("P1", 2.0, 0.5))
    write_study(engine, _result("P2", 6.0, 0.25, times=(30.0, 60.0)))
    write_study(engine, _result("P3", 0.0, 0.5, status="failed"))
    before = counts(engine)
    write_study(engine, _result("P2", 6.0, 0.25, times=(30.0, 60.0)))  # the same study again: replaced, not added
    assert counts(engine) == before
    assert before == {"patients": 3, "studies": 3, "series": 3, "measurements": 3, "provenance": 2,
                      "studies_done": 2, "studies_failed": 1}
    assert study_states(engine) == {("P1", "1.2.3"): "done", ("P2", "1.2.3"): "done", ("P3", "1.2.3"): "failed"}
    table = analysis_table(engine).rows
    by_id = {r["patient_id"]: r for r in table}
    assert by_id["P1"]["age"] == 51.0 and by_id["P1"]["who_grade"] == "III"
    assert float(by_id["P1"]["suvmax"]) == 2.0 and float(by_id["P1"]["tbr_max_to_bg_max"]) == 2.0 / 0.5
    # P2: 30 min is measurement 0 (suvmax 6.0), 60 min is measurement 1 (6.0 + 1 = 7.0) and primary.
    assert float(by_id["P2"]["suvmax"]) == 7.0 and float(by_id["P2"]["suvmax_30min"]) == 6.0
    assert float(by_id["P2"]["suvmax_60min"]) == 7.0 and float(by_id["P2"]["tbr_max_to_bg_max_30min"]) == 6.0 / 0.25
    assert by_id["P3"]["suvmax"] is None and by_id["P3"]["visual"] == "negative"
    assert by_id["P1"]["mri_date"].isoformat() == "2021-03-01"
    engine.dispose()


def test_a_failed_write_changes_nothing(db_url):
    engine = open_store(db_url)
    import_patients(engine, [_patient("P1")], source_file="c.csv")
    write_study(engine, _result("P1", 2.0, 0.5))
    before = analysis_table(engine)
    with pytest.raises(InputError, match="not in the clinical table"):
        write_study(engine, _result("NOPE", 3.0, 0.5))
    broken = _result("P1", 9.0, 0.5)
    broken["measurements"][0]["record"]["bad"] = object()  # not JSON: fails inside the transaction
    with pytest.raises(Exception):
        write_study(engine, broken)
    assert analysis_table(engine) == before
    engine.dispose()


_KILLED_WRITER = textwrap.dedent("""
    import sys, time
    from sqlalchemy.orm import Session
    from gliopet.store import MeasurementRow, Patient, Study, open_store
    import sqlalchemy as sa
    from datetime import datetime, timezone
    engine = open_store(sys.argv[1])
    session = Session(engine)
    session.begin()
    patient = session.scalar(sa.select(Patient))
    study = Study(patient=patient, study_uid="9.9", folder="x", status="done", updated_at=datetime.now(timezone.utc))
    study.measurements.append(MeasurementRow(series_uid="9.9.1", scan_time_min=60.0, primary=True, suvmax=1.0,
                                          record={}))
    session.add(study)
    session.flush()
    print("flushed", flush=True)
    time.sleep(120)
""")


def test_a_process_killed_mid_transaction_leaves_no_rows(db_url):
    engine = open_store(db_url)
    import_patients(engine, [_patient("P1")], source_file="c.csv")
    proc = subprocess.Popen([PY, "-c", _KILLED_WRITER, db_url], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "flushed"  # rows inserted, transaction open
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert counts(engine)["studies"] == 0 and counts(engine)["measurements"] == 0
    write_study(engine, _result("P1", 2.0, 0.5))  # the lock died with the process: writing goes on
    assert counts(engine)["studies_done"] == 1
    engine.dispose()


_WRITER = textwrap.dedent("""
    import sys
    from datetime import date
    from gliopet.store import import_patients, open_store, write_study
    url, prefix = sys.argv[1], sys.argv[2]
    engine = open_store(url)
    for i in range(40):
        pid = f"{prefix}{i:03d}"
        import_patients(engine, [{"patient_id": pid, "sex": "M", "age_years": 40.0, "diagnosis": "GBM",
                                  "who_grade": "IV", "extra": {}}], source_file=prefix)
        write_study(engine, {"patient_id": pid, "study_uid": "1", "folder": pid, "status": "failed",
                             "error": "x", "series": [], "measurements": [], "provenance": None})
""")


def test_two_processes_write_the_same_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    procs = [subprocess.Popen([PY, "-c", _WRITER, url, prefix], stderr=subprocess.PIPE, text=True)
             for prefix in ("A", "B")]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    engine = open_store(url)
    assert counts(engine)["patients"] == 80 and counts(engine)["studies_failed"] == 80  # 2 x 40, none lost
    engine.dispose()


def test_unreachable_database_is_one_clear_line(pg_server, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: nothing answers there
        url = f"postgresql://gliopet:secret@127.0.0.1:{port}/nowhere"
        with pytest.raises(InputError) as info:
            open_store(url)
    message = str(info.value)
    assert message.startswith(f"--db postgresql+psycopg://gliopet:***@127.0.0.1:{port}/nowhere: cannot open")
    assert "secret" not in message
    with pytest.raises(InputError, match="cannot open the database"):
        open_store(str(tmp_path / "no" / "such" / "dir" / "x.sqlite"))
    with pytest.raises(InputError, match="not a usable database URL"):
        open_store("nosuchdialect://x")
    from gliopet.cli import main

    result = CliRunner().invoke(main, ["stats", "--db", url])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("gliopet: error: --db ")


def test_stats_and_report_read_the_store(db_url, tmp_path):
    from gliopet.cli import main

    engine = open_store(db_url)
    import_patients(engine, [_patient("P1", "III"), _patient("P2", "IV"), _patient("P3", "IV"),
                             _patient("P4", "IV", visual="negative")], source_file="c.csv")
    for pid, suvmax in (("P1", 2.0), ("P2", 4.0), ("P3", 9.0)):
        write_study(engine, _result(pid, suvmax, 0.5))
    engine.dispose()
    result = CliRunner().invoke(main, ["stats", "--db", db_url, "--json"])
    assert result.exit_code == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["n_patients"] == 4
    assert (stats["detection_rate"]["k"], stats["detection_rate"]["n"]) == (3, 4)
    # Grade IV positives: SUVmax 4.0 and 9.0 -> median (4 + 9) / 2 = 6.5; grade III: 2.0 alone.
    suvmax = [t for t in stats["tests"] if t["variable"] == "suvmax"][0]
    medians = dict(zip(suvmax["groups"], suvmax["median"]))
    assert medians == {"III": 2.0, "IV": 6.5}
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", "--db", db_url, "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert "report written" in result.stdout and out.stat().st_size > 1000
