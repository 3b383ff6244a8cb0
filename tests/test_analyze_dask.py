"""gliopet analyze on a Dask distributed cluster: an in-process LocalCluster, and a scheduler and a
worker started as separate processes on loopback. Results must equal the local process pool's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from analyze_fixtures import cohort, reference  # noqa: F401 - fixtures
from click.testing import CliRunner

from gliopet.analyze import run_analysis
from gliopet.cli import main
from gliopet.errors import InputError
from gliopet.store import analysis_table, open_store

BIN = os.path.dirname(sys.executable)


def _rows(db):
    engine = open_store(str(db))
    try:
        table = analysis_table(engine)
        return list(table.columns), list(table.rows)
    finally:
        engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_local_cluster_gives_the_same_store(cohort, reference, tmp_path):
    from distributed import Client, LocalCluster

    db = tmp_path / "dask.sqlite"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1") as cluster, Client(cluster) as client:
        summary = run_analysis(cohort.root, cohort.clinical_csv, db=str(db), scheduler=client, progress=False)
    assert (summary.studies_found, summary.measured, summary.failed) == (3, 2, 1)
    assert _rows(db) == reference[2]


def test_scheduler_and_worker_processes(cohort, reference, tmp_path):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    scheduler = subprocess.Popen([os.path.join(BIN, "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    worker = subprocess.Popen([os.path.join(BIN, "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1",
                               "--no-dashboard", "--host", "127.0.0.1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        from distributed import Client

        deadline = time.monotonic() + 120
        while True:  # wait until the worker has joined the scheduler
            try:
                with Client(address, timeout="5s") as client:
                    client.wait_for_workers(1, timeout=60)
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        db = tmp_path / "cluster.sqlite"
        result = CliRunner().invoke(main, ["analyze", str(cohort.root / "SIM001"), "--clinical",
                                           str(cohort.clinical_csv), "--db", str(db), "--scheduler", address])
        assert result.exit_code == 0, result.stderr
        assert "studies: 1 found, 1 measured, 0 failed, 0 already done" in result.stdout
        assert "2 patient(s) of the clinical CSV have no PET study" in result.stdout  # SIM000 and SIM002
    finally:
        for proc in (worker, scheduler):
            proc.terminate()
        for proc in (worker, scheduler):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    stored = {r["patient_id"]: r for r in _rows(db)[1]}["SIM001"]
    expected = {r["patient_id"]: r for r in reference[2][1]}["SIM001"]
    assert stored == expected


def test_unreachable_scheduler_is_one_clear_line(tmp_path, cohort):
    port = _free_port()
    with pytest.raises(InputError, match=rf"--scheduler tcp://127.0.0.1:{port}: cannot connect"):
        run_analysis(cohort.root / "SIM001", cohort.clinical_csv, db=str(tmp_path / "x.sqlite"),
                     scheduler=f"tcp://127.0.0.1:{port}", progress=False)


def test_workers_and_scheduler_together_is_a_usage_error(tmp_path, cohort):
    result = CliRunner().invoke(main, ["analyze", str(cohort.root), "--clinical", str(cohort.clinical_csv),
                                       "--db", str(tmp_path / "x.sqlite"), "--workers", "2",
                                       "--scheduler", "tcp://127.0.0.1:1"])
    assert result.exit_code == 2 and "give --workers or --scheduler, not both" in result.stderr
    assert not (tmp_path / "x.sqlite").exists()  # refused before anything was opened
