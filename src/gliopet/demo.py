"""``gliopet demo``: the whole study on data gliopet makes itself, through the product's main path.

1. Simulate a cohort like the study's Table 2 (``reference`` CSV shipped with
   the package): one PET/CT study per patient, 68Ga-Pentixafor, OSEM, DICOM.
2. Inspect the DICOM tree and compute each PET's SUV factor from its headers.
3. ``gliopet analyze`` into a SQLite store inside the demo folder: every
   patient measured automatically (lesion and contralateral centrum
   semiovale background; the 30 min scans with the 60 min ROIs), a snapshot
   of both ROIs drawn, with the registered T1 MRI beneath for the patients of
   the study's figures.
4. The blinded visual read: a reading session on the store, scored by two
   simulated readers and adjudicated by a simulated chief
   (:mod:`gliopet.reading._simulated`: reads made from the simulator's ground
   truth with deliberate disagreements, through the same calls as the web
   app). The consensus becomes ``visual``; the report says the reads are
   simulated.
5. ``gliopet stats --db`` and ``gliopet report --db`` (HTML and PDF) from the
   store, and the analysis CSV exported from it.
6. Check the example 68Ga-Pentixafor batch record for release and write its
   certificate.
7. Export every measured study from the store as DICOM SEG, SR TID 1500 and
   NIfTI (BIDS-PET derivative) into ``export/`` (``gliopet export``).
8. A small dynamic 18F-FET cohort in ``fet/`` (WHO grade IV with early-peak
   curves, grade II with increasing ones: :mod:`gliopet.simulate.dynamic_cohort`),
   analysed with ``gliopet analyze --tracer fet`` into its own store, with its
   own report: time to peak, late slope and curve pattern per grade, and the
   time-activity curve figure.
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

from .errors import InputError
from .jsonable import json_default

logger = logging.getLogger(__name__)

__all__ = ["run_demo", "DEFAULT_SEED", "STORE_FILE", "READING_SESSION", "FET_PATIENTS"]

DEFAULT_SEED = 2019
#: Patients of the study's Table 2 shown in its Figures 1 to 3 (PET/CT beside MRI): simulated with
#: T1, T2 and FLAIR MRI, and their snapshots show the registered T1 beneath the PET/CT.
FIGURE_PATIENTS = ("29", "22", "13")
#: The demo's store, inside its output folder (paths in it are kept relative to it).
STORE_FILE = "gliopet.sqlite"
#: The demo's reading session: two simulated readers (gliopet.reading._simulated).
READING_SESSION = "demo-simulated-reading"
#: Patients of the demo's dynamic FET cohort (half WHO grade IV, half grade II).
FET_PATIENTS = 10
#: What the FET report says of its visual reads.
FET_READS_NOTE = ("In this simulated FET cohort every lesion is visible and 'visual' is set positive by the "
                  "simulator; no reader scored these scans.")
#: What the report says of the demo's reads.
READS_NOTE = ("In this demonstration the two readers and the adjudicating chief are simulated: their reads are "
              "made from the simulator's ground truth with deliberate disagreements, not by physicians.")


def _data_path(*parts: str) -> Path:
    return Path(str(resources.files("gliopet").joinpath("data", *parts)))


def _truth_reads(truth_csv: Path):
    """Per patient, what the simulator made at 60 min: a visible lesion or not, and its reconstructed TBR."""
    from .reading._simulated import TruthRead

    out = {}
    with open(truth_csv, newline="") as fh:
        for row in csv.DictReader(fh):
            if int(float(row["scan_time_min"])) == 60:
                tbr = float(row["recon_tbr"]) if row.get("recon_tbr") else None
                out[row["patient_id"]] = TruthRead(visible=row["visible"] == "yes", tbr=tbr)
    return out


def _fet_cohort(out_dir: Path, *, n_patients: int, seed: int, workers: int) -> str:
    """Step 8: the dynamic FET cohort simulated, analysed with the FET preset, reported; one line."""
    from .analyze import run_analysis
    from .cohort import load_cohort_store, write_cohort_csv
    from .report import ReportParameters, write_report
    from .simulate.dynamic_cohort import GRADE_PATTERNS, dynamic_cohort_specs, simulate_dynamic_cohort

    cohort = simulate_dynamic_cohort(dynamic_cohort_specs(n_patients, seed=seed), out_dir / "dicom", seed=seed,
                                     workers=workers)
    store = out_dir / STORE_FILE
    summary = run_analysis(cohort.root, cohort.clinical_csv, db=str(store), workers=workers, tracer="fet",
                           snapshots=out_dir / "measurements")
    if summary.failed:
        raise InputError(f"{summary.failed} simulated FET stud(ies) could not be measured: {'; '.join(summary.errors)}")
    source = load_cohort_store(str(store))
    write_cohort_csv(source, out_dir / "analysis.csv")
    parameters = dataclasses.replace(ReportParameters.from_recorded(source.parameters), reads_note=FET_READS_NOTE,
                                     title="Dynamic 18F-FET cohort report (simulated)")
    html = write_report(source, out_dir / "report.html", parameters=parameters, figures_dir=out_dir / "figures")
    shapes = ", ".join(f"WHO {grade} {pattern}" for grade, (pattern, _) in GRADE_PATTERNS.items())
    return (f"dynamic FET: {summary.measured} simulated patients (0-40 min, {shapes} curves) analysed with "
            f"--tracer fet into {store}; report with the time-activity curves: {html}")


def run_demo(out_dir: str | Path, *, n_patients: int | None = None, workers: int | None = None,
             seed: int = DEFAULT_SEED, fet_patients: int = FET_PATIENTS) -> Iterator[str]:
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
    fet_patients : int
        Patients of the dynamic FET cohort (0: none).
    """
    from .analyze import run_analysis
    from .cohort import load_cohort_store, write_cohort_csv
    from .inspect import inspect_tree
    from .radiopharmacy import run_release_check, write_certificate
    from .reading._simulated import simulate_reading
    from .report import ReportParameters, write_report
    from .store import open_store
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
    store = out_dir / STORE_FILE
    summary = run_analysis(cohort.root, cohort.clinical_csv, db=str(store), workers=workers,
                           snapshots=out_dir / "measurements")
    if summary.failed:
        raise InputError(f"{summary.failed} simulated stud(ies) could not be measured: {'; '.join(summary.errors)}")
    yield (f"analyzed {summary.measured} studies into {store} (lesion 10 mm circle, background 25 mm circle; "
           f"snapshots in {out_dir / 'measurements'})")

    # 4. The blinded read, by two simulated readers and an adjudicating chief (the consensus becomes `visual`).
    engine = open_store(str(store))
    try:
        reading = simulate_reading(engine, READING_SESSION, _truth_reads(cohort.ground_truth_csv), seed=seed)
    finally:
        engine.dispose()
    yield (f"reading: {reading['cases']} cases read by {len(reading['readers'])} simulated readers, "
           f"{reading['disagreements']} disagreement(s) adjudicated (session {READING_SESSION!r}; simulated, "
           "not physicians)")

    # 5. Statistics and the report from the store; the analysis CSV exported from it.
    source = load_cohort_store(str(store))
    parameters = dataclasses.replace(ReportParameters.from_recorded(source.parameters), reads_note=READS_NOTE)
    analysis_csv = write_cohort_csv(source, out_dir / "analysis.csv")
    stats = analyse_cohort(source.cohort)
    (out_dir / "stats.json").write_text(json.dumps(stats, indent=1, default=json_default))
    html = write_report(source, out_dir / "report.html", parameters=parameters, figures_dir=out_dir / "figures")
    pdf = write_report(source, out_dir / "report.pdf", parameters=parameters)
    rate = stats["detection_rate"]
    yield f"analysis: {analysis_csv} (detection {rate['k']}/{rate['n']})"

    # 6. The radiopharmacy release check of the example batch.
    batch = _data_path("examples", "radiopharmacy", "batch-68ga-pentixafor.yaml")
    decision = run_release_check(batch)
    certificate = write_certificate(decision, out_dir / "release-certificate.html", issued_at=started)
    yield f"radiopharmacy: batch {'released' if decision.released else 'NOT released'}: {certificate}"

    # 7. The standard exports of every measured study, from the store (`gliopet export seg|sr|nifti`);
    # the report's two lines stay the last ones printed.
    from .export import export_store

    export_dir = out_dir / "export"
    lines = list(export_store(str(store), {kind: export_dir / kind for kind in ("seg", "sr", "nifti")}))
    yield f"exports: DICOM SEG, SR TID 1500 and NIfTI (BIDS-PET) in {export_dir} ({'; '.join(lines)})"
    if fet_patients:
        yield _fet_cohort(out_dir / "fet", n_patients=fet_patients, seed=seed, workers=workers)
    yield f"report: {html}"
    yield f"report (PDF): {pdf}"
