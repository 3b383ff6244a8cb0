"""A simulated dynamic 18F-FET cohort: patients of two WHO grades, each a CT and a 0-40 min dynamic PET.

Grade IV patients (glioblastoma) get the early-peak-then-decreasing lesion
curve, grade II patients (diffuse astrocytoma) the steadily increasing one:
the typical shapes of the FET kinetics literature (Pöpperl G et al. Eur J Nucl
Med Mol Imaging 2007;34:1933), see :mod:`gliopet.simulate.dynamic`. The
folder holds ``clinical.csv`` (DESIGN.md schema plus ``visual``: every
simulated lesion is visible, so ``positive``; a simulated read, not a reader's),
``ground_truth_dynamic.csv`` (each patient's true curve metrics, computed by
the simulator from the phantom) and one ``SIMnnn/`` per patient.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Sequence

from ..errors import InputError
from .cohort import CLINICAL_COLUMNS, CohortResult, _write_csv, run_patients, staged_output
from .dynamic import FET_FRAMING_S, simulate_dynamic_patient
from .specs import PatientSpec, random_patient_spec, seeded_rng

__all__ = ["GRADE_PATTERNS", "FET_INJECTED_BQ", "dynamic_cohort_specs", "simulate_dynamic_cohort"]

#: The lesion curve of each simulated WHO grade, with the diagnosis written in the clinical CSV.
GRADE_PATTERNS = {"IV": ("decreasing", "Glioblastoma"), "II": ("increasing", "Diffuse astrocytoma")}
#: Injected 18F-FET activity (Bq): about 200 MBq, a usual adult activity.
FET_INJECTED_BQ = 200e6
#: Lesion radii are drawn uniformly in this range (mm).
LESION_RADIUS_MM = (14.0, 20.0)
GROUND_TRUTH_COLUMNS = ("patient_id", "who_grade", "pattern", "ttp_min", "slope_per_h", "relative_slope_per_h",
                        "btv_true_ml")


def dynamic_cohort_specs(n_patients: int, *, seed: int) -> list[PatientSpec]:
    """``n_patients`` FET patients alternating grade IV and grade II (seeded pose, body and lesion place)."""
    if n_patients < 1:
        raise InputError(f"a dynamic cohort needs at least one patient, got {n_patients}")
    specs = []
    grades = tuple(GRADE_PATTERNS)
    for index in range(1, n_patients + 1):
        grade = grades[(index - 1) % len(grades)]
        radius = float(seeded_rng(seed, 20_000 + index).uniform(*LESION_RADIUS_MM))
        specs.append(dataclasses.replace(random_patient_spec(seed, index, tracer="fet"), who_grade=grade,
                                         diagnosis=GRADE_PATTERNS[grade][1], lesion_radius_mm=round(radius, 1),
                                         necrosis=False, injected_bq=FET_INJECTED_BQ))
    return specs


def _run_one(args: tuple[PatientSpec, str, int, tuple[float, ...]]) -> dict[str, Any]:
    spec, folder, seed, framing_s = args
    return simulate_dynamic_patient(spec, folder, seed=seed, pattern=GRADE_PATTERNS[spec.who_grade][0],
                                    framing_s=framing_s)


def _clinical_row(spec: PatientSpec) -> dict[str, str]:
    return {"patient_id": spec.patient_id, "sex": spec.sex, "age": str(spec.age_years), "diagnosis": spec.diagnosis,
            "who_grade": spec.who_grade, "referral": spec.referral, "prior_surgery": spec.prior_surgery,
            "prior_chemotherapy": spec.prior_chemotherapy, "prior_radiotherapy": spec.prior_radiotherapy,
            "mri_date": "", "pet_date": "", "visual": "positive"}


def simulate_dynamic_cohort(specs: Sequence[PatientSpec], out_dir: str | Path, *, seed: int, workers: int = 1,
                            overwrite: bool = False, progress: bool = True,
                            framing_s: Sequence[float] = FET_FRAMING_S) -> CohortResult:
    """Simulate every patient of ``specs`` (:func:`dynamic_cohort_specs`) into ``out_dir``.

    Written into a temporary sibling folder and renamed at the end, as
    :func:`gliopet.simulate.cohort.simulate_cohort`; ``ground_truth_csv`` is
    ``ground_truth_dynamic.csv``. ``framing_s``: the frame durations (s) from the injection.
    """
    out_dir = Path(out_dir)
    for spec in specs:
        if spec.who_grade not in GRADE_PATTERNS:
            raise InputError(f"patient {spec.patient_id}: WHO grade {spec.who_grade!r} has no simulated FET curve "
                             f"(one of {', '.join(GRADE_PATTERNS)})")
    with staged_output(out_dir, overwrite) as tmp:
        jobs = [(spec, str(tmp / spec.patient_id), seed, tuple(float(d) for d in framing_s)) for spec in specs]
        truths = run_patients(_run_one, jobs, workers=workers, desc="simulate dynamic FET", progress=progress)
        _write_csv(tmp / "clinical.csv", (*CLINICAL_COLUMNS, "visual"), (_clinical_row(s) for s in specs))
        _write_csv(tmp / "ground_truth_dynamic.csv", GROUND_TRUTH_COLUMNS,
                   ({"patient_id": s.patient_id, "who_grade": s.who_grade, "pattern": t["pattern"],
                     "ttp_min": repr(t["ttp_min"]), "slope_per_h": repr(t["slope_per_h"]),
                     "relative_slope_per_h": repr(t["relative_slope_per_h"]),
                     "btv_true_ml": repr(t["btv_true_ml"]) if t.get("btv_true_ml") is not None else ""}
                    for s, t in zip(specs, truths)))
        (tmp / "cohort.json").write_text(json.dumps(
            {"schema": "gliopet.simulate.dynamic_cohort/1", "seed": seed, "n_patients": len(specs), "tracer": "fet",
             "patients": [{"patient_id": s.patient_id, "folder": s.patient_id, "who_grade": s.who_grade,
                           "pattern": GRADE_PATTERNS[s.who_grade][0]} for s in specs]}, indent=1))
    return CohortResult(root=out_dir, clinical_csv=out_dir / "clinical.csv",
                        ground_truth_csv=out_dir / "ground_truth_dynamic.csv",
                        patients=tuple(out_dir / s.patient_id for s in specs))
