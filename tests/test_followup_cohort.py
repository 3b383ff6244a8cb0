"""Follow-up in the cohort (issue 20, item 5): a patient scanned twice gets baseline and follow-up values,
the changes and the response in the analysis table, the stats and the report."""

import csv
import doctest
from datetime import datetime
from pathlib import Path

import pydicom
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gliopet import response
from gliopet.analyze import run_analysis
from gliopet.cohort import load_cohort_csv, load_cohort_store, write_cohort_csv
from gliopet.measure import _dynamic
from gliopet.report import write_report
from gliopet.response import followup_columns, load_response_rules
from gliopet.simulate.cohort import random_patient_spec, simulate_cohort
from gliopet.stats import analyse_cohort
from gliopet.store import open_store
from gliopet.store._models import MeasurementRow


def _record(when, **values):
    return {**values, "suv": {"inputs": {"injection_datetime": {"value": when}}}}


def test_followup_columns_by_hand():
    base = _record("2024-01-01T10:00:00", tbr_max_to_bg_mean=2.0, tbr_mean_to_bg_mean=1.6, btv_ml=10.0,
                   suvmax=4.0, bg_suvmean=1.0, tbr_max_to_bg_max=3.0)
    later = _record("2024-04-01T10:00:00", tbr_max_to_bg_mean=2.2, tbr_mean_to_bg_mean=1.2, btv_ml=13.0,
                    suvmax=4.4, bg_suvmean=1.0, tbr_max_to_bg_max=3.0)
    out = followup_columns(base, later, load_response_rules())
    # 2024 is a leap year: January 31 + February 29 + March 31 = 91 days.
    assert out["followup_days"] == 91.0
    # 2.2 / 2.0 - 1 = +10 %, 1.2 / 1.6 - 1 = -25 %, 13 / 10 - 1 = +30 % (>= +25 %: progression by the default rules)
    assert out["tbr_max_to_bg_mean_change_pct"] == pytest.approx(10.0)
    assert out["tbr_mean_to_bg_mean_change_pct"] == pytest.approx(-25.0)
    assert out["btv_ml_change_pct"] == pytest.approx(30.0) and out["btv_ml_followup"] == 13.0
    assert out["response"] == "progression"
    # BTV 10 -> 4 mL (-60 %), TBRmax unchanged: "response" (BTV at most -50 %)
    assert followup_columns(base, {**later, "btv_ml": 4.0, "tbr_max_to_bg_mean": 2.0},
                            load_response_rules())["response"] == "response"


def test_docstring_examples():
    for module in (response, _dynamic):
        failed, attempted = doctest.testmod(module)
        assert attempted > 0 and failed == 0, module.__name__


def _injection(folder: Path) -> datetime:
    """The PET's injection time, read here with pydicom."""
    ds = pydicom.dcmread(next((folder / "PET_60min").iterdir()), stop_before_pixels=True)
    return datetime.strptime(ds.RadiopharmaceuticalInformationSequence[0].RadiopharmaceuticalStartDateTime[:14],
                             "%Y%m%d%H%M%S")


@pytest.fixture(scope="module")
def scanned_twice(tmp_path_factory):
    """Two simulated studies made one patient's: SIM002's DICOM re-labelled as SIM001 (its own study UID and
    injection date kept), so SIM001 has two PET/CT studies."""
    root = tmp_path_factory.mktemp("followup")
    specs = [random_patient_spec(7, i) for i in (1, 2)]
    cohort = simulate_cohort(specs, root / "dicom", seed=7, workers=2, progress=False)
    second = cohort.root / "SIM002"
    for path in second.rglob("*"):
        if path.is_file() and path.suffix not in (".json", ".csv"):
            try:
                ds = pydicom.dcmread(path)
            except pydicom.errors.InvalidDicomError:
                continue
            ds.PatientID = "SIM001"
            ds.save_as(path)
    with open(cohort.clinical_csv, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["patient_id"] == "SIM001"]
    clinical = root / "clinical.csv"
    with open(clinical, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*rows[0], "visual"])
        writer.writeheader()
        writer.writerow({**rows[0], "visual": "positive"})
    summary = run_analysis(cohort.root, clinical, db=str(root / "g.sqlite"), workers=2, progress=False)
    assert (summary.measured, summary.failed) == (2, 0), summary.errors
    first, later = sorted((cohort.root / "SIM001", second), key=_injection)
    return root, first, later


def test_the_earlier_scan_is_the_baseline_and_the_changes_are_the_stored_values(scanned_twice, tmp_path):
    root, first, later = scanned_twice
    engine = open_store(str(root / "g.sqlite"))
    try:
        with Session(engine) as session:
            records = [m.record for m in session.scalars(sa.select(MeasurementRow))]
    finally:
        engine.dispose()
    # Each stored scan by its injection time (the SUV inputs it was measured with).
    by_injection = {r["suv"]["inputs"]["injection_datetime"]["value"]: r for r in records}
    base, follow = by_injection[_injection(first).isoformat()], by_injection[_injection(later).isoformat()]
    source = load_cohort_store(str(root / "g.sqlite"))
    (row,) = source.cohort.rows
    # The main columns are the baseline's; the follow-up columns the later scan's, changes worked out here.
    assert row["suvmax"] == base["suvmax"] and row["tbr_max_to_bg_mean"] == base["tbr_max_to_bg_mean"]
    assert row["btv_ml_followup"] == follow["btv_ml"]
    assert row["tbr_max_to_bg_mean_change_pct"] == pytest.approx(
        100 * (follow["tbr_max_to_bg_mean"] / base["tbr_max_to_bg_mean"] - 1))
    assert row["btv_ml_change_pct"] == pytest.approx(100 * (follow["btv_ml"] / base["btv_ml"] - 1))
    assert row["followup_days"] == pytest.approx((_injection(later) - _injection(first)).total_seconds() / 86400)
    assert row["response"] in ("progression", "response", "stable", "complete_metabolic_response")
    # Through the CSV (negative changes allowed), the stats and the report.
    again = load_cohort_csv(write_cohort_csv(source, tmp_path / "analysis.csv")).cohort
    assert again.rows[0]["btv_ml_change_pct"] == pytest.approx(row["btv_ml_change_pct"])
    result = analyse_cohort(source.cohort)
    assert result["followup"]["n"] == 1 and result["followup"]["responses"] == {row["response"]: 1}
    btv = next(v for v in result["followup"]["values"] if v["variable"] == "btv_ml")
    assert (btv["median_before"], btv["median_after"]) == (base["btv_ml"], follow["btv_ml"])
    html = write_report(source, tmp_path / "report.html").read_text()
    assert "1 patient(s) scanned twice" in html and f"{row['response']} 1" in html
