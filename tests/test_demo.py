"""``gliopet demo`` end to end on one simulated patient: DICOM -> SUV -> ROIs -> CSV -> report -> QC."""

import csv
import subprocess
import sys

import pytest


def test_demo_one_patient(tmp_path):
    out = tmp_path / "demo"
    run = subprocess.run([sys.executable, "-m", "gliopet.cli", "demo", "--out", str(out), "--patients", "1",
                          "--workers", "1"], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert lines[-2] == f"report: {out / 'report.html'}"
    assert (out / "report.html").stat().st_size > 10_000
    assert (out / "report.pdf").read_bytes()[:5] == b"%PDF-"
    assert "batch released" in run.stdout
    with open(out / "analysis.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["patient_id"] for r in rows] == ["SIM001"]
    # Patient 1 of the study's Table 2: SUVmax 4.09, TBR 10.77. The simulator aims at these values
    # through a real acquisition and OSEM reconstruction; the automatic measurement must land near them.
    assert float(rows[0]["suvmax"]) == pytest.approx(4.09, rel=0.10)
    assert float(rows[0]["tbr_max_to_bg_max"]) == pytest.approx(10.77, rel=0.30)
    assert rows[0]["visual"] == "positive"
    assert (out / "measurements" / "SIM001.png").exists()


def test_demo_refuses_a_non_empty_output_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("precious")
    run = subprocess.run([sys.executable, "-m", "gliopet.cli", "demo", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "not empty" in run.stderr
    assert (tmp_path / "keep.txt").read_text() == "precious"
