"""Simulated cohorts: many patients -> ``clinical.csv``, ``ground_truth.csv``, ``cohort.json``, ``SIMnnn/``.

``simulate_cohort`` writes one folder per patient (:func:`simulate_patient`)
plus ``clinical.csv`` (DESIGN.md schema) and ``ground_truth.csv``, into a
temporary folder renamed at the end. The same seed writes byte-identical
files, whatever the number of workers.

The names the rest of gliopet imports from here (specs, patients, columns)
are re-exported: :mod:`gliopet.simulate.specs`, :mod:`~gliopet.simulate.patient`,
:mod:`~gliopet.simulate.truth` and :mod:`~gliopet.simulate.pilots` hold them.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from tqdm import tqdm

from ..atomic import write_text
from ..errors import InputError
from .patient import simulate_patient
from .pilots import BG_MAX_OVER_MEAN, EFFECTIVE_OSEM_FWHM_MM
from .specs import PatientSpec, patient_specs_like, random_patient_spec, read_like_csv
from .truth import GROUND_TRUTH_COLUMNS, json_dump, truth_rows

__all__ = [
    "PatientSpec", "CohortResult", "random_patient_spec", "patient_specs_like", "read_like_csv",
    "simulate_patient", "simulate_cohort", "CLINICAL_COLUMNS", "GROUND_TRUTH_COLUMNS",
    "EFFECTIVE_OSEM_FWHM_MM", "BG_MAX_OVER_MEAN", "run_patients", "staged_output",
]

#: Columns of the clinical CSV (DESIGN.md schema).
CLINICAL_COLUMNS = ("patient_id", "sex", "age", "diagnosis", "who_grade", "referral", "prior_surgery",
                    "prior_chemotherapy", "prior_radiotherapy", "mri_date", "pet_date")


@dataclass(frozen=True)
class CohortResult:
    """Where a cohort was written."""

    root: Path
    clinical_csv: Path
    ground_truth_csv: Path
    patients: tuple[Path, ...]


def _clinical_row(spec: PatientSpec, truth: dict[str, Any]) -> dict[str, str]:
    pet_date = truth["scans"][0]["scan_start"][:10]
    mri_date = truth["mr"]["date"][:10] if truth.get("mr") else ""
    if not mri_date:
        mri = datetime.fromisoformat(truth["scans"][0]["scan_start"]) - timedelta(days=7 + spec.index % 7)
        mri_date = mri.date().isoformat()
    return {"patient_id": spec.patient_id, "sex": spec.sex, "age": str(spec.age_years),
            "diagnosis": spec.diagnosis, "who_grade": spec.who_grade, "referral": spec.referral,
            "prior_surgery": spec.prior_surgery, "prior_chemotherapy": spec.prior_chemotherapy,
            "prior_radiotherapy": spec.prior_radiotherapy, "mri_date": mri_date, "pet_date": pet_date}




def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, str]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    write_text(path, buf.getvalue())


def run_patients(run: Callable[[Any], dict[str, Any]], jobs: Sequence[Any], *, workers: int, desc: str,
                 progress: bool) -> list[dict[str, Any]]:
    """``run(job)`` of every job, in order, on ``workers`` processes (in this one when 1), with a progress bar."""
    truths: list[dict[str, Any]] = []
    with tqdm(total=len(jobs), desc=desc, unit="patient", file=sys.stderr, disable=not progress) as bar:
        if workers > 1 and len(jobs) > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for truth in pool.map(run, jobs):
                    truths.append(truth)
                    bar.update()
        else:
            for job in jobs:
                truths.append(run(job))
                bar.update()
    return truths


def _run_one(args: tuple[PatientSpec, str, int]) -> dict[str, Any]:
    spec, folder, seed = args
    return simulate_patient(spec, folder, seed=seed)


def _prepare_output(out_dir: Path, overwrite: bool) -> Path:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise InputError(f"{out_dir}: exists and is not a folder")
        if any(out_dir.iterdir()) and not overwrite:
            raise InputError(f"{out_dir}: output folder is not empty (use --force to replace it)")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))


def _finish_output(tmp: Path, out_dir: Path) -> None:
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        out_dir.rename(old)
    tmp.rename(out_dir)
    if old is not None:
        shutil.rmtree(old)


@contextmanager
def staged_output(out_dir: Path, overwrite: bool) -> Iterator[Path]:
    """A temporary sibling folder to write a cohort into, renamed to ``out_dir`` when the block ends
    (removed instead if it raises), so an interrupted run leaves nothing half-written at ``out_dir``.
    Refuses a non-empty ``out_dir`` unless ``overwrite``."""
    tmp = _prepare_output(out_dir, overwrite)
    try:
        yield tmp
        _finish_output(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def simulate_cohort(specs: Sequence[PatientSpec], out_dir: str | Path, *, seed: int, workers: int = 1,
                    overwrite: bool = False, progress: bool = True) -> CohortResult:
    """Simulate every patient of ``specs`` into ``out_dir`` (one folder per patient).

    Written into a temporary sibling folder and renamed at the end, so an
    interrupted run leaves nothing half-written at ``out_dir``. Refuses a
    non-empty ``out_dir`` unless ``overwrite``.

    Parameters
    ----------
    specs : sequence of PatientSpec
        From :func:`patient_specs_like` or :func:`random_patient_spec`.
    out_dir : path
        Cohort folder (``clinical.csv``, ``ground_truth.csv``, ``cohort.json``, ``SIMnnn/``).
    seed : int
        The cohort seed (the specs should come from the same seed).
    workers : int
        Processes; results do not depend on it.
    """
    out_dir = Path(out_dir)
    ids = [s.patient_id for s in specs]
    if len(set(ids)) != len(ids):
        raise InputError("patient specs: patient_id values are not unique")
    with staged_output(out_dir, overwrite) as tmp:
        jobs = [(spec, str(tmp / spec.patient_id), seed) for spec in specs]
        truths = run_patients(_run_one, jobs, workers=workers, desc="simulate", progress=progress)
        _write_csv(tmp / "clinical.csv", CLINICAL_COLUMNS, (_clinical_row(s, t) for s, t in zip(specs, truths)))
        _write_csv(tmp / "ground_truth.csv", GROUND_TRUTH_COLUMNS,
                   (row for t in truths for row in truth_rows(t)))
        json_dump({"schema": "gliopet.simulate.cohort/1", "seed": seed, "n_patients": len(specs),
                    "patients": [{"patient_id": s.patient_id, "folder": s.patient_id,
                                  "source_patient_id": s.source_patient_id} for s in specs]},
                   tmp / "cohort.json")
    return CohortResult(root=out_dir, clinical_csv=out_dir / "clinical.csv",
                        ground_truth_csv=out_dir / "ground_truth.csv",
                        patients=tuple(out_dir / s.patient_id for s in specs))
