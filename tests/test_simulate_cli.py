"""`gliopet simulate` end to end through the command line (one patient, Philips flavour)."""

import csv
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest

TABLE2 = Path(__file__).resolve().parents[1] / "src" / "gliopet" / "data" / "reference" / "table2-published.csv"


def test_simulate_patient_like_the_table(tmp_path):
    out = tmp_path / "one"
    run = subprocess.run([sys.executable, "-m", "gliopet.cli", "simulate", "patient", "--like", str(TABLE2),
                          "--out", str(out), "--seed", "1", "--flavour", "philips"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "1 simulated patient(s)" in run.stdout
    assert "simulate" in run.stderr and "patient" in run.stderr  # the tqdm progress bar
    pet = sorted((out / "SIM001" / "PET_60min").glob("*.dcm"))
    assert len(pet) == 109
    ds = pydicom.dcmread(pet[54])
    assert ds.Manufacturer == "Philips Medical Systems" and ds.Units == "CNTS"
    assert str(ds.PatientName) == "SIM^PATIENT001"
    with (out / "clinical.csv").open() as fh:
        (row,) = list(csv.DictReader(fh))
    # the table's first patient: 53-year-old woman, GBM, WHO IV
    assert (row["patient_id"], row["sex"], row["age"], row["diagnosis"], row["who_grade"]) == \
        ("SIM001", "F", "53", "GBM", "IV")
    # a second run into the now non-empty folder is refused and changes nothing
    again = subprocess.run([sys.executable, "-m", "gliopet.cli", "simulate", "patient", "--out", str(out)],
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 2 and "not empty" in again.stderr
    assert pydicom.dcmread(pet[54]).SOPInstanceUID == ds.SOPInstanceUID


def test_unknown_tracer_is_a_one_line_error(tmp_path):
    run = subprocess.run([sys.executable, "-m", "gliopet.cli", "simulate", "patient", "--tracer", "xyz",
                          "--out", str(tmp_path / "x")], capture_output=True, text=True, timeout=600)
    assert run.returncode == 2
    assert run.stderr.startswith("gliopet: error:") and "xyz" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
