"""`gliopet measure` with automatic lesion and background on one synthetic PET/CT study.

Study: a head posed by a known rotation (12, 8, -5 degrees) and shift, written as DICOM by the
simulator's writer: PET 109 x 168 x 168 at 4.07 x 4.07 x 2.03 mm (Siemens flavour, Bq/mL), CT
150 x 512 x 512 at 0.98 x 0.98 x 1.5 mm. Timing: the whole command in a fresh process (Python start,
imports, DICOM reading, MNI template loading, brain mask, template fit, mid-sagittal plane, ROIs),
median of ``REPEATS`` runs. Memory: the largest peak RSS of those child processes (getrusage).
Also timed in-process, the template and DICOM already loaded: ``measure_pet`` alone.

    python -m bench measure

Validation against a simulated cohort's ground truth (docs/validation.md): the automatic measurement
against the simulator's independent implementation of the study's circles at the true positions
(on the reconstruction and on the phantom), and gliopet.measure at the true positions against it:

    gliopet simulate cohort --like src/gliopet/data/reference/table2-published.csv --out COHORT --seed 2024 \\
        --flavour mixed --workers 2
    python -m bench.bench_measure validate COHORT [--pet-only]
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
DATA = HERE / "_data" / "measure_study"
REPEATS = 3


def _make() -> Path:
    if (DATA / "pet").exists() and (DATA / "ct").exists() and len(list((DATA / "ct").iterdir())) == 150:
        return DATA
    sys.path.insert(0, str(HERE.parent / "tests"))
    from test_brain import POSE, synthetic_head
    from test_measure_cli import DECAYED_BQ, PATIENT, SERIES, STUDY, WEIGHT_KG

    from gliopet.simulate.dicom_writer import deterministic_uid, write_ct_series, write_pet_series

    pet, ct, _ = synthetic_head(**POSE, pet_shape=(109, 168, 168), pet_spacing=(4.07, 4.07, 2.03),
                                ct_shape=(150, 512, 512), ct_spacing=(0.98, 0.98, 1.5))
    for sub in ("pet", "ct"):
        (DATA / sub).mkdir(parents=True, exist_ok=True)
    write_pet_series(pet.with_array(pet.array * DECAYED_BQ / (WEIGHT_KG * 1000.0)), DATA / "pet", patient=PATIENT,
                     study=STUDY, series=SERIES)
    write_ct_series(ct, DATA / "ct", patient=PATIENT, study=STUDY, series_uid=deterministic_uid("bench-ct"),
                    series_number=2, acquisition=datetime(2022, 5, 6, 10, 0, 0))
    return DATA


def main() -> None:
    data = _make()
    command = [sys.executable, "-m", "gliopet.cli", "measure", str(data / "pet"), "--ct", str(data / "ct"), "--json"]
    walls = []
    record = None
    for _ in range(REPEATS):
        start = time.perf_counter()
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        walls.append(time.perf_counter() - start)
        record = json.loads(out.stdout)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0

    from gliopet.io.template import load_mni152
    from gliopet.measure import measure_pet

    template = load_mni152(2)
    from gliopet.io.images import read_ct, read_pet

    pet, ct = read_pet(data / "pet").volume, read_ct(data / "ct")
    inner = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        measure_pet(pet, ct=ct, template=template)
        inner.append(time.perf_counter() - start)
    result = {
        "command": " ".join(["gliopet", *command[3:]]),
        "median_wall_s": round(statistics.median(walls), 2),
        "walls_s": [round(w, 2) for w in walls],
        "peak_rss_mb": round(peak_mb, 0),
        "measure_pet_in_process_median_s": round(statistics.median(inner), 2),
        "suvmax": round(record["suvmax"], 4),
        "bg_suvmean": round(record["bg_suvmean"], 4),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
    }
    print(json.dumps(result, indent=2))


#: The background circle at the ground-truth centre moved by one PET voxel (about 2 mm) along each axis.
ONE_VOXEL_SHIFTS_MM = ((2, 0, 0), (-2, 0, 0), (0, 2, 0), (0, -2, 0), (0, 0, 2), (0, 0, -2))


def _measure_files(pet: Path, **options) -> dict:
    """``gliopet measure --json``'s object for one study (the study layer's record as a dict)."""
    from gliopet.study import measure_study_files

    return measure_study_files(pet, **options).to_dict()


def _one_voxel_envelope(pet_path: Path, mask_path: Path, centre_lps_mm: np.ndarray) -> list[float]:
    """[min, max] TBR (SUVmax / background SUVmax) of gliopet.measure's circle at the true centre and its
    six one-voxel shifts.

    How much the background's SUVmax itself moves when a reader places the 25 mm circle one voxel
    off: the scale against which the automatic placement's TBR is judged (a placement check: the
    same code at both places).
    """
    tbrs = [_measure_files(pet_path, lesion=str(mask_path),
                           background=",".join(f"{v:.3f}" for v in centre_lps_mm + np.array(shift, float)))
            ["tbr_max_to_bg_max"] for shift in ((0, 0, 0), *ONE_VOXEL_SHIFTS_MM)]
    return [round(min(tbrs), 3), round(max(tbrs), 3)]


def _rel(a: float, b: float) -> float:
    return abs(a / b - 1)


def _median_max(values: list[float]) -> list[float]:
    return [round(statistics.median(values), 5), round(max(values), 5)]


def _truth(scan: dict) -> dict:
    """The simulator's truth for one scan: on the reconstruction (``recon``) and on the phantom (``phantom``).

    Both from gliopet.simulate.truth_rois, which shares no code with gliopet.measure: the lesion's 1 cm
    circle in the true lesion mask, the 25 mm background circle at the true centrum semiovale centre.
    """
    out = {}
    for name, block in (("recon", scan["recon"]), ("phantom", scan["phantom_suv"])):
        circle = block["lesion_circle"]
        out[name] = {"suvmax": circle["suvmax"], "bg_suvmax": block["bg_suvmax"], "bg_suvmean": block["bg_suvmean"],
                     "tbr": circle["suvmax"] / block["bg_suvmax"], "tbr_mean": circle["suvmax"] / block["bg_suvmean"]}
    return out


def _validate_patient(folder: Path, truth: dict, *, pet_only: bool) -> dict:
    scan = truth["scans"][-1]  # the latest scan (60 min for Pentixafor)
    cs = truth["centrum_semiovale"]
    contra = np.array(next(v["centre_lps_mm"] for v in cs.values() if v["contralateral"]))
    ipsi = np.array(next(v["centre_lps_mm"] for v in cs.values() if not v["contralateral"]))
    pet, mask = folder / scan["pet_folder"], folder / truth["lesion"]["mask_file"]
    start = time.perf_counter()
    auto = _measure_files(pet, ct=None if pet_only else folder / "CT")
    seconds = time.perf_counter() - start
    # gliopet.measure at the true positions: only for the placement check and the two implementations'
    # agreement, never as the truth
    at_truth = _measure_files(pet, lesion=str(mask), background=",".join(f"{v:.3f}" for v in contra))
    visible = truth["lesion"]["visible"]
    centre = np.array(auto["background"]["centre_lps_mm"])
    t = _truth(scan) if visible else None
    return {
        "patient": truth["patient_id"], "visible": visible, "pose_rotation_deg": truth["pose"]["rotation_deg"],
        "bg_distance_mm": round(float(np.linalg.norm(centre - contra)), 2),
        # the fitted centrum semiovale point itself, before the search moves the circle in plane
        "fitted_point_distance_mm": round(float(np.linalg.norm(
            np.array(auto["background_placement"]["template_point_lps_mm"]) - contra)), 3),
        "bg_contralateral": bool(np.linalg.norm(centre - contra) < np.linalg.norm(centre - ipsi)),
        "lesion_distance_mm": round(float(np.linalg.norm(np.array(auto["lesion"]["centre_lps_mm"])
                                                         - truth["lesion"]["centre_lps_mm"])), 2),
        "auto": {k: auto[k] for k in ("suvmax", "bg_suvmax", "bg_suvmean", "tbr_max_to_bg_max",
                                      "tbr_max_to_bg_mean")},
        "measure_at_truth": {k: at_truth[k] for k in ("suvmax", "bg_suvmax", "bg_suvmean", "tbr_max_to_bg_max",
                                                      "tbr_max_to_bg_mean")},
        "truth": t,
        "tbr_measure_at_truth_one_voxel_envelope": _one_voxel_envelope(pet, mask, contra) if visible else None,
        "seconds": round(seconds, 2),
        "brain_volume_ml": auto["brain"]["brain_volume_ml"], "warnings": len(auto["warnings"]),
    }


def _summary(rows: list[dict]) -> dict:
    positive = [r for r in rows if r["visible"]]
    n = len(positive)
    pairs = {"suvmax": "suvmax", "tbr_max_to_bg_max": "tbr", "tbr_max_to_bg_mean": "tbr_mean",
             "bg_suvmax": "bg_suvmax", "bg_suvmean": "bg_suvmean"}

    def against(source: str, truth: str) -> dict:
        out = {}
        for measured, true in pairs.items():
            diffs = [_rel(r[source][measured], r["truth"][truth][true]) for r in positive]
            out[measured] = {"within_2pct": f"{sum(d <= 0.02 for d in diffs)}/{n}",
                             "rel_diff_median_max": _median_max(diffs)}
        return out

    def ratio(measured: str, true: str) -> list[float]:
        values = [r["auto"][measured] / r["truth"]["phantom"][true] for r in positive]
        return [round(min(values), 3), round(statistics.median(values), 3), round(max(values), 3)]

    placement = [_rel(r["auto"]["tbr_max_to_bg_max"], r["measure_at_truth"]["tbr_max_to_bg_max"]) for r in positive]
    in_envelope = sum(r["tbr_measure_at_truth_one_voxel_envelope"][0] <= r["auto"]["tbr_max_to_bg_max"]
                      <= r["tbr_measure_at_truth_one_voxel_envelope"][1] for r in positive)
    return {
        "patients": len(rows), "visually_positive": n,
        "background_within_10mm_contralateral": sum(r["bg_distance_mm"] < 10 and r["bg_contralateral"] for r in rows),
        "bg_distance_mm_median_max": [round(statistics.median(r["bg_distance_mm"] for r in rows), 2),
                                      max(r["bg_distance_mm"] for r in rows)],
        "fitted_point_distance_mm_median_max": [
            round(statistics.median(r["fitted_point_distance_mm"] for r in rows), 3),
            max(r["fitted_point_distance_mm"] for r in rows)],
        "auto_vs_independent_truth_on_reconstruction": against("auto", "recon"),
        "measure_at_truth_vs_independent_truth_on_reconstruction": against("measure_at_truth", "recon"),
        "placement_check_tbr_auto_vs_measure_at_truth": {
            "within_2pct": f"{sum(d <= 0.02 for d in placement)}/{n}", "rel_diff_median_max": _median_max(placement)},
        "tbr_auto_within_measure_at_truth_one_voxel_envelope": f"{in_envelope}/{n}",
        "auto_over_phantom_truth_min_median_max": {
            "suvmax": ratio("suvmax", "suvmax"), "bg_suvmax": ratio("bg_suvmax", "bg_suvmax"),
            "bg_suvmean": ratio("bg_suvmean", "bg_suvmean"), "tbr_max_to_bg_max": ratio("tbr_max_to_bg_max", "tbr"),
            "tbr_max_to_bg_mean": ratio("tbr_max_to_bg_mean", "tbr_mean")},
    }


def validate(cohort: Path, *, pet_only: bool = False) -> list[dict]:
    """Measure every simulated patient automatically and compare with the simulator's ground truth.

    The truth (``ground_truth.json``) is the simulator's independent implementation of the study's
    circles (gliopet.simulate.truth_rois) at the true positions, on the reconstruction (``recon``) and on
    the noise-free phantom (``phantom``). gliopet.measure at the true positions is also run, to separate
    placement (automatic vs that) from arithmetic (that vs the independent truth).

    ``pet_only``: the automatic measurement without the CT (brain mask and template fit from the PET).
    """
    rows = []
    for truth_file in sorted(cohort.glob("*/ground_truth.json")):
        rows.append(_validate_patient(truth_file.parent, json.loads(truth_file.read_text()), pet_only=pet_only))
        print(json.dumps(rows[-1]), flush=True)
    print(json.dumps(_summary(rows), indent=2))
    return rows


if __name__ == "__main__":
    if len(sys.argv) in (3, 4) and sys.argv[1] == "validate":
        validate(Path(sys.argv[2]), pet_only=sys.argv[3:] == ["--pet-only"])
    else:
        main()
