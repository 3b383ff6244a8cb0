"""``gliopet inspect``: series found, dimensions, spacing, SUV readiness and what is missing."""

import json
import subprocess
import sys

import numpy as np
import pytest
from pathlib import Path

from dicom_factory import pet_header, write_series


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "gliopet.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_inspect_lists_series_and_suv_status(tmp_path):
    write_series(tmp_path / "pet", np.ones((5, 4, 6), np.int16), seed="study-a", spacing_mm=(2.0, 2.5),
                 slice_mm=3.0, header=pet_header(start_time="090000", series_time="100000"))
    broken = pet_header()
    del broken["PatientWeight"]
    write_series(tmp_path / "pet2", np.ones((2, 4, 6), np.int16), seed="study-b", header=broken)
    write_series(tmp_path / "ct", np.zeros((3, 8, 8), np.int16), modality="CT", seed="study-c",
                 intercept=-1024.0)
    out = run_cli("inspect", tmp_path, "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["n_series"] == 3
    series = {(s["modality"], s["n_files"]): s for st in result["studies"] for s in st["series"]}
    pet = series[("PT", 5)]
    assert pet["dimensions"] == [5, 4, 6]
    assert pet["spacing_mm"] == [2.5, 2.0, 3.0]  # i: column spacing, j: row spacing, k: slice
    assert pet["suv"]["computable"] is True
    assert pet["suv"]["minutes_post_injection"] == 60.0  # 09:00 injection, 10:00 scan
    bad = series[("PT", 2)]
    assert bad["suv"]["computable"] is False
    assert bad["suv"]["missing"] == ["(0010,1030) PatientWeight"]
    assert "suv" not in series[("CT", 3)]
    text = run_cli("inspect", tmp_path)
    assert "missing: (0010,1030) PatientWeight" in text.stdout
    assert "PHANTOM" not in text.stdout  # no patient identifiers


def test_inspect_reports_unreadable_series_and_goes_on(tmp_path):
    positions = [(0, 0, 0), (0, 0, 3), (0, 0, 3)]
    write_series(tmp_path / "dup", np.ones((3, 2, 2), np.int16), positions=positions, seed="d",
                 header=pet_header())
    out = run_cli("inspect", tmp_path, "--json")
    assert out.returncode == 0
    entry = json.loads(out.stdout)["studies"][0]["series"][0]
    assert entry["readable"] is False
    assert "duplicate" in entry["error"]


BATCH = (Path(__file__).resolve().parents[1] / "src" / "gliopet" / "data" / "examples" / "radiopharmacy"
         / "batch-68ga-pentixafor.yaml")


@pytest.mark.parametrize("dicom_dose_bq, flagged", [(167.76e6, False), (180e6, True)])
def test_inspect_checks_the_dose_against_the_radiopharmacy_record(tmp_path, dicom_dose_bq, flagged):
    # The example batch records subject P01 injected at 08:45 from a syringe of 180 MBq at 08:40 and
    # 3.1 MBq left at 08:50 (68Ga, T1/2 = 4062.6 s): 180 * 2**(-300/4062.6) - 3.1 * 2**(300/4062.6)
    recorded = 180 * 2 ** (-300 / 4062.6) - 3.1 * 2 ** (300 / 4062.6)
    assert recorded == pytest.approx(167.756, abs=1e-3)
    header = {**pet_header(dose_bq=dicom_dose_bq, start_datetime="20260314084500", series_date="20260314",
                           series_time="094500", acq_time="094500"), "PatientID": "P01"}
    write_series(tmp_path / "pet", np.ones((2, 4, 4), np.int16), header=header)
    out = run_cli("inspect", tmp_path, "--json", "--batch", BATCH)
    assert out.returncode == 0, out.stderr
    check = json.loads(out.stdout)["studies"][0]["series"][0]["suv"]["dose_check"]
    assert check["flagged"] is flagged
    assert check["relative_difference"] == pytest.approx((dicom_dose_bq / 1e6 - recorded) / recorded, rel=1e-3)
    text = run_cli("inspect", tmp_path, "--batch", BATCH).stdout
    assert ("dose check: FLAGGED" in text) is flagged
    assert "P01" not in text  # the subject is matched, never printed


@pytest.mark.parametrize("dicom_dose_bq, flagged", [(167.76e6, False), (180e6, True)])
def test_report_lists_the_injection_checks(tmp_path, dicom_dose_bq, flagged):
    published = BATCH.parents[2] / "reference" / "table2-published.csv"
    header = {**pet_header(dose_bq=dicom_dose_bq, start_datetime="20260314084500", series_date="20260314",
                           series_time="094500", acq_time="094500"), "PatientID": "P01"}
    write_series(tmp_path / "dicom" / "pet", np.ones((2, 4, 4), np.int16), header=header)
    out = tmp_path / "out"
    out.mkdir()
    # --dicom and --batch go together: refused alone, nothing written
    alone = run_cli("report", published, "--out", out / "r.html", "--dicom", tmp_path / "dicom")
    assert alone.returncode == 2 and list(out.iterdir()) == []
    res = run_cli("report", published, "--out", out / "r.html", "--dicom", tmp_path / "dicom", "--batch", BATCH)
    assert res.returncode == 0, res.stderr
    html = (out / "r.html").read_text(encoding="utf-8")
    section = html[html.index('<section id="injections">'):]
    section = section[:section.index("</section>")]
    # recorded 180 * 2**(-300/4062.6) - 3.1 * 2**(300/4062.6) MBq at 08:45, the DICOM's dose at the same time
    recorded = 180 * 2 ** (-300 / 4062.6) - 3.1 * 2 ** (300 / 4062.6)
    difference = 100 * (dicom_dose_bq / 1e6 - recorded) / recorded
    assert "<td>P01</td>" in section
    assert f"{difference:+.1f} %" in section
    assert ("FLAGGED" in section) is flagged and ("<td>ok</td>" in section) is not flagged
    assert "P01" not in res.stderr  # matched and listed in the report, never logged
