"""``gliopet demo``: the whole study on data gliopet makes itself, through the product's main path.

1. Simulate a cohort like the study's Table 2 (``reference`` CSV shipped with
   the package): one PET/CT study per patient, 68Ga-Pentixafor, OSEM, DICOM.
2. Inspect the DICOM tree and compute each PET's SUV factor from its headers.
3. ``gliopet analyze`` into a SQLite store inside the demo folder: every
   patient measured automatically (lesion and contralateral centrum
   semiovale background; the 30 min scans with the 60 min ROIs), a snapshot
   of both ROIs drawn, with the registered T1 MRI beneath for the patients of
   the study's figures.
4. ``gliopet stats --db`` and ``gliopet report --db`` (HTML and PDF) from the
   store, and the analysis CSV exported from it.
5. Check the example 68Ga-Pentixafor batch record for release and write its
   certificate.
6. Export every measured study from the store as DICOM SEG, SR TID 1500 and
   NIfTI (BIDS-PET derivative) into ``export/`` (``gliopet export``).

The visual read (``visual``, a column of the clinical CSV here) comes from the
simulator's ground truth (a lesion was made visible or not): the blinded
reading app is a later capability.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import os
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Iterator

from .atomic import replacing
from .errors import InputError
from .jsonable import json_default

logger = logging.getLogger(__name__)

__all__ = ["run_demo", "clinical_with_visual", "DEFAULT_SEED", "STORE_FILE"]

DEFAULT_SEED = 2019
#: Patients of the study's Table 2 shown in its Figures 1 to 3 (PET/CT beside MRI): simulated with
#: T1, T2 and FLAIR MRI, and their snapshots show the registered T1 beneath the PET/CT.
FIGURE_PATIENTS = ("29", "22", "13")
#: The demo's store, inside its output folder (paths in it are kept relative to it).
STORE_FILE = "gliopet.sqlite"


def _data_path(*parts: str) -> Path:
    return Path(str(resources.files("gliopet").joinpath("data", *parts)))


def clinical_with_visual(clinical_csv: Path, truth_csv: Path, out: Path) -> Path:
    """The simulated clinical CSV with the ``visual`` read the simulator's truth gives."""
    with open(truth_csv, newline="") as fh:
        visible = {row["patient_id"]: row["visible"] == "yes" for row in csv.DictReader(fh)}
    with open(clinical_csv, newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        columns = [*reader.fieldnames, "visual"]
    with replacing(out) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "visual": "positive" if visible[row["patient_id"]] else "negative"})
    return out


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
    seed : int
        Simulation seed; the same seed gives the same DICOM and the same numbers.
    """
    from .analyze import run_analysis
    from .cohort import load_cohort_store, write_cohort_csv
    from .inspect import inspect_tree
    from .radiopharmacy import run_release_check, write_certificate
    from .report import write_report
    from .simulate.cohort import patient_specs_like, read_like_csv, simulate_cohort
    from .stats import analyse_cohort

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
    (out_dir / "inspect.json").write_text(json.dumps(inspection, indent=1, default=json_default))
    yield f"inspected {inspection['n_series']} series: {ready}/{len(pets)} PET series ready for SUV"

    # 3. The cohort into the store, as `gliopet analyze` does it.
    clinical_csv = clinical_with_visual(cohort.clinical_csv, cohort.ground_truth_csv, out_dir / "clinical.csv")
    store = out_dir / STORE_FILE
    summary = run_analysis(cohort.root, clinical_csv, db=str(store), workers=workers,
                           snapshots=out_dir / "measurements")
    if summary.failed:
        raise InputError(f"{summary.failed} simulated stud(ies) could not be measured: {'; '.join(summary.errors)}")
    yield (f"analyzed {summary.measured} studies into {store} (lesion 10 mm circle, background 25 mm circle; "
           f"snapshots in {out_dir / 'measurements'})")

    # 4. Statistics and the report from the store; the analysis CSV exported from it.
    source = load_cohort_store(str(store))
    analysis_csv = write_cohort_csv(source, out_dir / "analysis.csv")
    stats = analyse_cohort(source.cohort)
    (out_dir / "stats.json").write_text(json.dumps(stats, indent=1, default=json_default))
    html = write_report(source, out_dir / "report.html", figures_dir=out_dir / "figures")
    pdf = write_report(source, out_dir / "report.pdf")
    rate = stats["detection_rate"]
    yield f"analysis: {analysis_csv} (detection {rate['k']}/{rate['n']})"

    # 5. The radiopharmacy release check of the example batch.
    batch = _data_path("examples", "radiopharmacy", "batch-68ga-pentixafor.yaml")
    decision = run_release_check(batch)
    certificate = write_certificate(decision, out_dir / "release-certificate.html", issued_at=started)
    yield f"radiopharmacy: batch {'released' if decision.released else 'NOT released'}: {certificate}"

    # 6. The standard exports of every measured study, from the store (`gliopet export seg|sr|nifti`);
    # the report's two lines stay the last ones printed.
    from .export import export_store

    export_dir = out_dir / "export"
    lines = list(export_store(str(store), {kind: export_dir / kind for kind in ("seg", "sr", "nifti")}))
    yield f"exports: DICOM SEG, SR TID 1500 and NIfTI (BIDS-PET) in {export_dir} ({'; '.join(lines)})"
    yield f"report: {html}"
    yield f"report (PDF): {pdf}"
