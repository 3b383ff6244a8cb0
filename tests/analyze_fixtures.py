"""A small simulated cohort for the analysis tests, built once per test session.

Two patients simulated like rows 1 and 13 of the study's Table 2 (seed 7):
SIM001 scanned at 60 min only, SIM002 at 30 and 60 min (the study scanned
patient 13 at 30 min too). Larger cohorts reuse these studies under new
patient IDs (:func:`clone_study`: every UID rewritten, pixels unchanged) rather
than simulating more. A third, unmeasurable study (SIM000: its PET lacks
PatientWeight, so SUVbw cannot be computed) sits in the same tree.

Import the fixtures into a test module: ``from analyze_fixtures import cohort, reference``.
"""

from __future__ import annotations

import csv
import dataclasses
import shutil
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

SEED = 7
#: Rows of the study's Table 2 simulated (patient_id in the published table).
TABLE_ROWS = ("1", "13")
CLINICAL_HEADER = ["patient_id", "sex", "age", "diagnosis", "who_grade", "referral", "prior_surgery",
                   "prior_chemotherapy", "prior_radiotherapy", "mri_date", "pet_date", "visual"]


def clone_study(src: Path, dst: Path, patient_id: str, *, series: tuple[str, ...] | None = None,
                drop: tuple[str, ...] = ()) -> None:
    """Copy a simulated patient's DICOM folders under a new PatientID with new UIDs (same pixels).

    ``series``: sub-folders to copy (default: all DICOM folders); ``drop``: attribute
    keywords removed from PET files (to make an unmeasurable study).
    """
    folders = series or tuple(sorted(p.name for p in src.iterdir() if p.is_dir()))
    for folder in folders:
        (dst / folder).mkdir(parents=True, exist_ok=True)
        for path in sorted((src / folder).iterdir()):
            ds = pydicom.dcmread(path)
            ds.PatientID = patient_id
            ds.PatientName = f"CLONE^{patient_id}"
            for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
                if keyword in ds:
                    setattr(ds, keyword, generate_uid(entropy_srcs=[str(getattr(ds, keyword)), patient_id]))
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            if ds.Modality == "PT":
                for keyword in drop:
                    if keyword in ds:
                        delattr(ds, keyword)
            ds.save_as(dst / folder / path.name, enforce_file_format=True)


def write_clinical(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CLINICAL_HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path


@dataclasses.dataclass(frozen=True)
class SmallCohort:
    root: Path            # SIM000 (unmeasurable), SIM001, SIM002
    clinical_csv: Path    # the three patients, visual = positive
    rows: dict            # patient_id -> clinical row (strings)
    scan_times: dict      # patient_id -> scan times (min) the simulator used


#: Built once per process: several test modules import these fixtures, and pytest would otherwise
#: build a session fixture once per importing module.
_BUILT: dict[str, object] = {}


@pytest.fixture(scope="session")
def cohort(tmp_path_factory) -> SmallCohort:
    if "cohort" not in _BUILT:
        _BUILT["cohort"] = _build_cohort(tmp_path_factory)
    return _BUILT["cohort"]


def _build_cohort(tmp_path_factory) -> SmallCohort:
    from gliopet.simulate.cohort import patient_specs_like, read_like_csv, simulate_cohort

    base = tmp_path_factory.mktemp("analyze-cohort")
    like = Path(__file__).parents[1] / "src" / "gliopet" / "data" / "reference" / "table2-published.csv"
    table = [r for r in read_like_csv(like) if r["patient_id"] in TABLE_ROWS]
    specs = patient_specs_like(table, seed=SEED)
    specs = [dataclasses.replace(specs[0], scan_times_min=(60.0,)),
             dataclasses.replace(specs[1], scan_times_min=(30.0, 60.0))]
    result = simulate_cohort(specs, base / "sim", seed=SEED, progress=False)
    root = base / "tree"
    root.mkdir()
    for patient in result.patients:
        shutil.copytree(patient, root / patient.name, ignore=shutil.ignore_patterns("*.json", "*.nii.gz"))
    clone_study(result.root / "SIM001", root / "SIM000", "SIM000", series=("PET_60min", "CT"),
                drop=("PatientWeight",))
    with open(result.clinical_csv, newline="") as fh:
        rows = {r["patient_id"]: {**r, "visual": "positive"} for r in csv.DictReader(fh)}
    rows["SIM000"] = {**rows["SIM001"], "patient_id": "SIM000"}
    clinical = write_clinical(base / "clinical.csv", [rows[k] for k in sorted(rows)])
    return SmallCohort(root=root, clinical_csv=clinical, rows=rows,
                       scan_times={s.patient_id: s.scan_times_min for s in specs})


@pytest.fixture(scope="session")
def reference(cohort, tmp_path_factory):
    """The cohort analysed once: 1 local worker, SQLite. Returns (db path, summary, analysis rows)."""
    if "reference" not in _BUILT:
        _BUILT["reference"] = _build_reference(cohort, tmp_path_factory)
    return _BUILT["reference"]


def _build_reference(cohort, tmp_path_factory):
    from gliopet.analyze import run_analysis
    from gliopet.store import analysis_table, open_store

    db = tmp_path_factory.mktemp("analyze-reference") / "reference.sqlite"
    summary = run_analysis(cohort.root, cohort.clinical_csv, db=str(db), workers=1, progress=False)
    engine = open_store(str(db))
    try:
        table = analysis_table(engine)
        rows = (list(table.columns), list(table.rows))
    finally:
        engine.dispose()
    return db, summary, rows
