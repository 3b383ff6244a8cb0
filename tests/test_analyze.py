"""gliopet analyze end to end on a small simulated cohort: local process pool, SQLite and PostgreSQL.

The cohort (tests/analyze_fixtures.py) holds SIM001 (60 min), SIM002 (30 and
60 min) and SIM000, a copy of SIM001 whose PET lacks PatientWeight: SUVbw
cannot be computed, so that study must be stored as failed while the others go on.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from analyze_fixtures import clone_study, cohort, reference, write_clinical  # noqa: F401 - fixtures
from click.testing import CliRunner
from pg_server import pg_server, pg_url  # noqa: F401 - fixtures

from gliopet.analyze import run_analysis
from gliopet.cli import main
from gliopet.store import MeasurementRow, Provenance, Series, Study, analysis_table, counts, open_store

GLIOPET = [os.path.join(os.path.dirname(sys.executable), "gliopet")]
MEASURED = ("suvmax", "suvmean_1cm", "suvpeak", "btv_ml", "bg_suvmax", "bg_suvmean", "tbr_max_to_bg_max",
            "tbr_max_to_bg_mean", "tbr_mean_to_bg_mean")


def _rows(db) -> tuple[list[str], list[dict]]:
    engine = open_store(str(db))
    try:
        table = analysis_table(engine)
        return list(table.columns), list(table.rows)
    finally:
        engine.dispose()


def test_reference_run_measures_each_time_point_and_records_the_failure(cohort, reference):
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    db, summary, (columns, rows) = reference
    assert (summary.studies_found, summary.measured, summary.failed, summary.skipped_done) == (3, 2, 1, 0)
    assert summary.patients_imported == {"added": 3, "updated": 0, "unchanged": 0}
    assert len(summary.errors) == 1 and summary.errors[0].startswith("SIM000: SuvError")
    assert "PatientWeight" in summary.errors[0]
    by_id = {r["patient_id"]: r for r in rows}
    assert by_id["SIM000"]["suvmax"] is None  # failed: no measured values
    # SIM002 was scanned at 30 and 60 min: both time points exported, 60 min is the primary measurement.
    assert by_id["SIM002"]["suvmax_60min"] == by_id["SIM002"]["suvmax"]
    assert float(by_id["SIM002"]["suvmax_30min"]) > 0
    assert "suvmax_30min" in columns and by_id["SIM001"].get("suvmax_30min") is None
    # The primary record names the PET it measured (60 min) and every PET given: inputs.pet is the first
    # (30 min), inputs.timepoints the others; the 30-min time point under timepoints names its own.
    with sqlite3.connect(db) as con:
        stored = {(folder, primary): json.loads(record) for folder, primary, record in con.execute(
            "select s.folder, m.is_primary, m.record from measurements m join studies s on s.id = m.study_pk")}
    (sim002,) = [r for (folder, primary), r in stored.items() if Path(folder).name == "SIM002" and primary]
    assert Path(sim002["pet"]).name == "PET_60min" and Path(sim002["inputs"]["pet"]).name == "PET_30min"
    assert [Path(p).name for p in sim002["inputs"]["timepoints"]] == ["PET_60min"]
    assert sim002["inputs"]["primary_time_min"] == 60 and Path(sim002["timepoints"][0]["pet"]).name == "PET_30min"
    (sim001,) = [r for (folder, primary), r in stored.items() if Path(folder).name == "SIM001" and primary]
    assert Path(sim001["pet"]).name == "PET_60min" and "timepoints" not in sim001["inputs"]
    engine = open_store(str(db))
    with Session(engine) as session:
        failed = session.scalar(sa.select(Study).where(Study.status == "failed"))
        assert Path(failed.folder).name == "SIM000" and Path(failed.folder).is_absolute() and "(0010,1030) PatientWeight" in failed.error
        assert failed.measurements == [] and failed.series == [] and failed.provenance == []
        done = session.scalars(sa.select(Study).where(Study.status == "done")).all()
        for study in done:
            pets = [s for s in study.series if s.role == "pet"]
            assert len(study.measurements) == len(pets) == len(cohort.scan_times[Path(study.folder).name])
            assert sum(m.primary for m in study.measurements) == 1
            assert sorted(m.scan_time_min for m in study.measurements) == list(cohort.scan_times[Path(study.folder).name])
            # The series start is a little after the nominal time (the simulator starts the frame then).
            for s in pets:
                nominal = min(cohort.scan_times[Path(study.folder).name], key=lambda t: abs(t - s.scan_time_min))
                assert nominal <= s.scan_time_min < nominal + 5
            (prov,) = study.provenance
            ct = [s for s in study.series if s.role == "ct"][0]
            assert set(prov.input_sha256) == {s.series_uid for s in pets} | {ct.series_uid}
            assert all(len(h) == 64 for h in prov.input_sha256.values())
            assert prov.parameters["lesion"] == "auto" and prov.gliopet_version
    engine.dispose()


def test_stored_values_equal_gliopet_measure_on_the_same_files(cohort, reference):
    from gliopet.study import measure_study_files

    _, _, (_, rows) = reference
    record = measure_study_files(cohort.root / "SIM001" / "PET_60min", ct=cohort.root / "SIM001" / "CT").to_dict()
    stored = {r["patient_id"]: r for r in rows}["SIM001"]
    for key in MEASURED:
        assert stored[key] == record[key], key
    # The BTV's judgement travels into the analysis table (a flooded BTV is left out of the statistics).
    assert isinstance(record["btv"]["separates"], bool) and stored["btv_separates"] is record["btv"]["separates"]


def test_rerun_is_idempotent_and_keeps_what_is_stored(cohort, reference, tmp_path):
    db, _, before = reference
    engine = open_store(str(db))
    counts_before = counts(engine)
    engine.dispose()
    result = CliRunner().invoke(main, ["analyze", str(cohort.root), "--clinical", str(cohort.clinical_csv),
                                       "--db", str(db), "--workers", "1"])
    # The failed study is tried again (and fails again): exit 2 with one line; the rest is skipped.
    assert result.exit_code == 2
    assert "studies: 3 found, 0 measured, 1 failed, 2 already done" in result.stdout
    assert "clinical: 0 patients added, 0 updated, 3 unchanged" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == ("gliopet: error: 1 of 3 studies could not be measured "
                                                      "(stored as failed with their error; the others are stored)")
    assert _rows(db) == before
    engine = open_store(str(db))
    assert counts(engine) == counts_before
    engine.dispose()


def test_two_workers_on_postgresql_give_identical_results(cohort, reference, pg_url):
    summary = run_analysis(cohort.root, cohort.clinical_csv, db=pg_url, workers=2, progress=False)
    assert (summary.measured, summary.failed) == (2, 1)
    assert _rows(pg_url) == reference[2]


def _stored(db) -> dict[str, int]:
    with sqlite3.connect(db) as connection:
        return {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("studies", "series", "measurements", "provenance")}


def test_worker_killed_mid_analysis_leaves_complete_rows_and_a_rerun_completes(cohort, reference, tmp_path):
    db = tmp_path / "killed.sqlite"
    argv = [*GLIOPET, "analyze", str(cohort.root), "--clinical", str(cohort.clinical_csv), "--db", str(db),
            "--workers", "2"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    try:
        # SIM000 is first and fails at once; then both workers are measuring SIM001 and SIM002.
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            if db.exists() and _table_exists(db) and _stored(db)["studies"] >= 1:
                break
            time.sleep(0.2)
        workers = [p for p in psutil.Process(proc.pid).children(recursive=True)
                   if "spawn_main" in " ".join(p.cmdline())]
        assert workers, "no worker process found"
        killed = workers[0].pid
        os.kill(killed, signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2
    assert "a worker process died" in err and "run the same command again" in err
    stored = _stored(db)
    engine = open_store(str(db))
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    with Session(engine) as session:  # every stored study is whole: done with its rows, or failed without
        for study in session.scalars(sa.select(Study)):
            if study.status == "done":
                assert study.measurements and study.provenance and study.series
            else:
                assert not study.measurements and not study.provenance
        for model in (Series, MeasurementRow, Provenance):
            orphans = session.scalar(sa.select(sa.func.count()).select_from(model).where(
                ~model.study_pk.in_(sa.select(Study.id))))
            assert orphans == 0
    engine.dispose()
    assert stored["studies"] < 3
    rerun = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 2, rerun.stderr  # SIM000 still fails, by design
    assert "0 failed" not in rerun.stdout and "studies: 3 found" in rerun.stdout
    assert _rows(db) == reference[2]


def _table_exists(db) -> bool:
    try:
        with sqlite3.connect(db) as connection:
            return connection.execute("SELECT count(*) FROM sqlite_master WHERE name='studies'").fetchone()[0] == 1
    except sqlite3.Error:
        return False


def test_two_analyses_write_the_same_sqlite_file_at_once(cohort, reference, tmp_path):
    # Two trees: SIM001 itself, and the same images under a new patient (every UID new, pixels identical).
    clone_root = tmp_path / "clone"
    clone_study(cohort.root / "SIM001", clone_root / "SIM101", "SIM101", series=("PET_60min", "CT"))
    csv_a = write_clinical(tmp_path / "a.csv", [cohort.rows["SIM001"]])
    csv_b = write_clinical(tmp_path / "b.csv", [{**cohort.rows["SIM001"], "patient_id": "SIM101"}])
    db = tmp_path / "shared.sqlite"
    procs = [subprocess.Popen([*GLIOPET, "analyze", str(tree), "--clinical", str(csv), "--db", str(db),
                               "--workers", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for tree, csv in ((cohort.root / "SIM001", csv_a), (clone_root, csv_b))]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "studies: 1 found, 1 measured, 0 failed" in out
    rows = {r["patient_id"]: r for r in _rows(db)[1]}
    expected = {r["patient_id"]: r for r in reference[2][1]}["SIM001"]
    for key in MEASURED:
        assert rows["SIM001"][key] == expected[key] and rows["SIM101"][key] == expected[key], key
