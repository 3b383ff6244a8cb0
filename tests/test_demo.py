"""``gliopet demo`` end to end, as a new user runs it: DICOM -> SUV -> store -> ROIs -> CSV -> report -> QC."""

import csv
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _panels(html: str) -> tuple[int, str]:
    """How many snapshot images the report's "Image panels" section embeds, and its status line."""
    section = html[html.index("Image panels"):]
    section = section[:section.index("</section>")] if "</section>" in section else section
    status = re.search(r"(\d+ of \d+ snapshot\(s\) embedded\.)", section)
    return section.count('src="data:image/png;base64,'), status.group(1) if status else ""


def test_demo_two_patients_from_a_relative_folder_through_the_store(tmp_path):
    # As a new user runs it: a relative --out, from a working directory that is not the repository
    here = tmp_path / "work"
    here.mkdir()
    run = subprocess.run([sys.executable, "-m", "gliopet.cli", "demo", "--out", "demo-output", "--patients", "2",
                          "--workers", "2", "--fet-patients", "2"], capture_output=True, text=True, timeout=1200, cwd=here)
    assert run.returncode == 0, run.stderr[-2000:]
    out = here / "demo-output"
    lines = run.stdout.splitlines()
    assert lines[-2] == "report: demo-output/report.html"
    assert (out / "report.pdf").read_bytes()[:5] == b"%PDF-"
    assert "batch released" in run.stdout
    # the demo went through the store: it is there, and the CSV was exported from it
    assert (out / "gliopet.sqlite").stat().st_size > 0
    with open(out / "analysis.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["patient_id"] for r in rows] == ["SIM001", "SIM002"]
    # Patient 1 of the study's Table 2: SUVmax 4.09, TBR 10.77. The simulator aims at these values
    # through a real acquisition and OSEM reconstruction; the automatic measurement must land near them.
    assert float(rows[0]["suvmax"]) == pytest.approx(4.09, rel=0.10)
    assert float(rows[0]["tbr_max_to_bg_max"]) == pytest.approx(10.77, rel=0.30)
    assert rows[0]["visual"] == "positive"
    # every snapshot path is relative to the CSV's folder and names a PNG there
    for row in rows:
        assert not Path(row["snapshot"]).is_absolute()
        assert (out / row["snapshot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # every panel is embedded in both the HTML report and the one written from the store again below
    html = (out / "report.html").read_text()
    assert "not found or not readable" not in html
    assert _panels(html) == (2, "2 of 2 snapshot(s) embedded.")
    # the standard exports of both patients (issue 19): SEG and SR that dciodvfy accepts, a BIDS-PET tree
    export = out / "export"
    for kind, suffix in (("seg", "seg"), ("sr", "sr")):
        files = sorted(p.name for p in (export / kind).glob("*.dcm"))
        # both demo patients were scanned at 30 and 60 min: the 30-min scan leaves as run 1 (scan-time order)
        assert files == [f"sub-SIM001_ses-1_run-1_{suffix}.dcm", f"sub-SIM001_ses-1_{suffix}.dcm",
                         f"sub-SIM002_ses-1_run-1_{suffix}.dcm", f"sub-SIM002_ses-1_{suffix}.dcm"]
        for name in files:
            check = subprocess.run(["dciodvfy", str(export / kind / name)], capture_output=True, text=True)
            assert not [l for l in (check.stdout + check.stderr).splitlines() if l.startswith("Error")], name
    for pid in ("SIM001", "SIM002"):
        pet = export / "nifti" / f"sub-{pid}" / "ses-1" / "pet"
        assert (pet / f"sub-{pid}_ses-1_desc-suv_pet.nii.gz").stat().st_size > 0
        assert (pet / f"sub-{pid}_ses-1_label-lesion_mask.nii.gz").stat().st_size > 0
        assert (pet / f"sub-{pid}_ses-1_run-1_desc-suv_pet.nii.gz").stat().st_size > 0
    assert any(line.startswith("exports: DICOM SEG, SR TID 1500 and NIfTI") for line in lines)
    # the dynamic FET cohort (issue 20): its own store and report; each patient's curve pattern and time to
    # peak are the simulator's truth (computed from the phantom's curves), the report carries the TAC figure
    assert any(line.startswith("dynamic FET: 2 simulated patients") and line.endswith("demo-output/fet/report.html")
               for line in lines)
    with open(out / "fet" / "dicom" / "ground_truth_dynamic.csv", newline="") as fh:
        truth = {r["patient_id"]: r for r in csv.DictReader(fh)}
    with open(out / "fet" / "analysis.csv", newline="") as fh:
        fet_rows = list(csv.DictReader(fh))
    assert [(r["who_grade"], r["tac_pattern"]) for r in fet_rows] == [("IV", "decreasing"), ("II", "increasing")]
    for row in fet_rows:
        assert row["tac_pattern"] == truth[row["patient_id"]]["pattern"]
        # within one frame: neighbouring frames' mid-times are at most 5 min apart (the 5-min frames)
        assert float(row["tac_ttp_min"]) == pytest.approx(float(truth[row["patient_id"]]["ttp_min"]), abs=5.0)
    fet_html = (out / "fet" / "report.html").read_text()
    assert "Lesion time-activity curves" in fet_html and "WHO IV (n = 1): increasing 0, plateau 0, decreasing 1" in fet_html
    assert (out / "fet" / "figures" / "tac_lesion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The folder moved elsewhere and read from a third working directory: the store's paths are relative
    # to the store's own folder, so the panels are still found.
    moved = tmp_path / "moved" / "study"
    moved.parent.mkdir()
    shutil.move(str(out), str(moved))
    other = tmp_path / "other"
    other.mkdir()
    again = subprocess.run([sys.executable, "-m", "gliopet.cli", "report", "--db", str(moved / "gliopet.sqlite"),
                            "--out", "again.html"], capture_output=True, text=True, timeout=600, cwd=other)
    assert again.returncode == 0, again.stderr[-2000:]
    assert _panels((other / "again.html").read_text()) == (2, "2 of 2 snapshot(s) embedded.")
    # and the moved analysis CSV reports the same panels (its paths are relative to it)
    from_csv = subprocess.run([sys.executable, "-m", "gliopet.cli", "report", str(moved / "analysis.csv"),
                               "--out", "csv.html"], capture_output=True, text=True, timeout=600, cwd=other)
    assert from_csv.returncode == 0, from_csv.stderr[-2000:]
    assert _panels((other / "csv.html").read_text()) == (2, "2 of 2 snapshot(s) embedded.")


def test_demo_refuses_a_non_empty_output_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("precious")
    run = subprocess.run([sys.executable, "-m", "gliopet.cli", "demo", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "not empty" in run.stderr
    assert (tmp_path / "keep.txt").read_text() == "precious"
