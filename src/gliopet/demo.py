"""``gliopet demo``: the whole study on data gliopet makes itself.

1. Simulate a cohort like the study's Table 2 (``reference`` CSV shipped with
   the package): one PET/CT study per patient, 68Ga-Pentixafor, OSEM, DICOM.
2. Inspect the DICOM tree and compute each PET's SUV factor from its headers.
3. Measure every patient (automatic lesion and contralateral centrum
   semiovale background), drawing a snapshot of both ROIs; for the patients
   of the study's figures, with their registered T1 MRI beneath.
4. Write the analysis CSV (clinical columns + measured columns), then the
   statistics, the HTML and PDF report.
5. Check the example 68Ga-Pentixafor batch record for release and write its
   certificate.

The visual read (``visual``) comes from the simulator's ground truth (a lesion
was made visible or not): the blinded reading app is a later capability.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

from .errors import InputError

logger = logging.getLogger(__name__)

__all__ = ["run_demo", "MEASURED_COLUMNS", "DEFAULT_SEED"]

DEFAULT_SEED = 2019
#: Patients of the study's Table 2 shown in its Figures 1 to 3 (PET/CT beside MRI): simulated with
#: T1, T2 and FLAIR MRI, and their snapshots show the registered T1 beneath the PET/CT.
FIGURE_PATIENTS = ("29", "22", "13")
#: The measured columns DESIGN.md adds to the clinical CSV.
MEASURED_COLUMNS = ["suvmax", "suvmean_1cm", "suvpeak", "btv_ml", "bg_suvmax", "bg_suvmean",
                    "tbr_max_to_bg_max", "tbr_max_to_bg_mean", "tbr_mean_to_bg_mean"]


def _data_path(*parts: str) -> Path:
    return Path(str(resources.files("gliopet").joinpath("data", *parts)))


def _measure_one(job: dict[str, Any]) -> dict[str, Any]:
    """Measure one simulated patient (runs in a worker process)."""
    from .measure import measure_study_files

    # Other time points (the 30 min scans) are measured with the 60 min scan's ROIs after registration.
    timepoints = job.get("timepoints", {})
    record = measure_study_files(job["pet"], ct=job["ct"], snapshot=job["snapshot"], mri=job.get("mri"),
                                 timepoints=list(timepoints.values()))
    out = {"patient_id": job["patient_id"], "snapshot": record.get("snapshot", "")}
    for column in MEASURED_COLUMNS:
        value = record.get(column)
        out[column] = "" if value is None else f"{value:.6g}"
    for minutes, other in zip(timepoints, record.get("timepoints", [])):
        out[f"suvmax_{minutes}min"] = f"{other['suvmax']:.6g}"
        out[f"tbr_max_to_bg_max_{minutes}min"] = f"{other['tbr_max_to_bg_max']:.6g}"
    return out


def _jobs(cohort_root: Path, truth_csv: Path, measure_dir: Path) -> list[dict[str, Any]]:
    by_patient: dict[str, dict[str, Any]] = {}
    with open(truth_csv, newline="") as fh:
        for row in csv.DictReader(fh):
            job = by_patient.setdefault(row["patient_id"], {
                "patient_id": row["patient_id"], "timepoints": {}, "visible": row["visible"] == "yes"})
            pet = cohort_root / row["pet_folder"]
            if int(float(row["scan_time_min"])) == 60:
                job["pet"] = str(pet)
                job["ct"] = str(pet.parent / "CT")
                job["snapshot"] = str(measure_dir / f"{row['patient_id']}.png")
                if (pet.parent / "MR_T1").is_dir():  # drawn beneath the PET/CT, as in the study's figures
                    job["mri"] = str(pet.parent / "MR_T1")
            else:
                job["timepoints"][str(int(float(row["scan_time_min"])))] = str(pet)
    return list(by_patient.values())


def _write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def run_demo(out_dir: str | Path, *, n_patients: int | None = None, workers: int | None = None,
             seed: int = DEFAULT_SEED) -> Iterator[str]:
    """Run the demo into ``out_dir``; yields one line per step for the CLI to print.

    Parameters
    ----------
    out_dir : path
        Created if missing; must be empty if it exists (nothing is overwritten).
    n_patients : int, optional
        Simulate only the first ``n_patients`` rows of the study's table (all 29 by default).
    workers : int, optional
        Processes for simulation and measurement (default: the number of CPU cores).
    """
    from .inspect import inspect_tree
    from .radiopharmacy import run_release_check, write_certificate
    from .report import write_report
    from .simulate.cohort import patient_specs_like, read_like_csv, simulate_cohort
    from .stats import stats_from_csv

    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise InputError(f"{out_dir}: output folder is not empty; give a new or empty folder")
    workers = workers or os.cpu_count() or 1
    out_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc)

    # 1. Simulated cohort, like the study's published table.
    like = _data_path("reference", "table2-published.csv")
    rows = read_like_csv(like)
    if n_patients is not None:
        if n_patients < 1:
            raise InputError(f"--patients must be >= 1, got {n_patients}")
        rows = rows[:n_patients]
    specs = [dataclasses.replace(spec, with_mr=spec.source_patient_id in FIGURE_PATIENTS)
             for spec in patient_specs_like(rows, seed=seed)]
    cohort = simulate_cohort(specs, out_dir / "dicom", seed=seed, workers=workers)
    yield f"simulated {len(cohort.patients)} patients (PET/CT DICOM): {cohort.root}"

    # 2. What the DICOM holds, and the SUV factor of each PET.
    inspection = inspect_tree(cohort.root)
    pets = [s for st in inspection["studies"] for s in st["series"] if s["modality"] == "PT"]
    ready = sum(1 for s in pets if s.get("suv", {}).get("computable"))
    (out_dir / "inspect.json").write_text(json.dumps(inspection, indent=1, default=str))
    yield f"inspected {inspection['n_series']} series: {ready}/{len(pets)} PET series ready for SUV"

    # 3. Measurements, one process per patient.
    measure_dir = out_dir / "measurements"
    measure_dir.mkdir()
    jobs = _jobs(cohort.root, cohort.ground_truth_csv, measure_dir)
    from tqdm import tqdm

    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = list(tqdm(pool.map(_measure_one, jobs), total=len(jobs), desc="measuring", unit="patient"))
    visible = {job["patient_id"]: job["visible"] for job in jobs}
    measured = {r["patient_id"]: r for r in results}
    yield f"measured {len(results)} patients (lesion 10 mm circle, background 25 mm circle): {measure_dir}"

    # 4. Analysis CSV, statistics, report.
    with open(cohort.clinical_csv, newline="") as fh:
        clinical = list(csv.DictReader(fh))
    analysis_rows = []
    for row in clinical:
        m = measured[row["patient_id"]]
        analysis_rows.append({**row, **{k: v for k, v in m.items() if k != "patient_id"},
                              "visual": "positive" if visible[row["patient_id"]] else "negative"})
    analysis_csv = out_dir / "analysis.csv"
    _write_csv(analysis_csv, analysis_rows)
    stats = stats_from_csv(analysis_csv)
    (out_dir / "stats.json").write_text(json.dumps(stats, indent=1, default=str))
    html = write_report(analysis_csv, out_dir / "report.html", figures_dir=out_dir / "figures")
    pdf = write_report(analysis_csv, out_dir / "report.pdf")
    rate = stats["detection_rate"]
    yield f"analysis: {analysis_csv} (detection {rate['k']}/{rate['n']})"

    # 5. The radiopharmacy release check of the example batch.
    batch = _data_path("examples", "radiopharmacy", "batch-68ga-pentixafor.yaml")
    decision = run_release_check(batch)
    certificate = write_certificate(decision, out_dir / "release-certificate.html", issued_at=started)
    yield f"radiopharmacy: batch {'released' if decision.released else 'NOT released'}: {certificate}"
    yield f"report: {html}"
    yield f"report (PDF): {pdf}"
