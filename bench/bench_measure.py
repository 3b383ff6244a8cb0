"""`gliopet measure` with automatic lesion and background on one synthetic PET/CT study.

Study: a head posed by a known rotation (12, 8, -5 degrees) and shift, written as DICOM by the
simulator's writer: PET 109 x 168 x 168 at 4.07 x 4.07 x 2.03 mm (Siemens flavour, Bq/mL), CT
150 x 512 x 512 at 0.98 x 0.98 x 1.5 mm. Timing: the whole command in a fresh process (Python start,
imports, DICOM reading, MNI template loading, brain mask, template fit, mid-sagittal plane, ROIs),
median of ``REPEATS`` runs. Memory: the largest peak RSS of those child processes (getrusage).
Also timed in-process, the template and DICOM already loaded: ``measure_pet`` alone.

    python -m bench measure

Validation against a simulated cohort's ground truth (issue 5's acceptance numbers):

    gliopet simulate cohort --like reference/table2-published.csv --out COHORT --seed 2024 --flavour mixed
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
    from gliopet.measure import measure_pet, read_ct, read_pet

    template = load_mni152(2)
    pet, ct = read_pet(data / "pet"), read_ct(data / "ct")
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


def _one_voxel_envelope(pet_path: Path, mask_path: Path, centre_lps_mm: np.ndarray) -> list[float]:
    """[min, max] TBR (SUVmax / background SUVmax) over the true circle and its six one-voxel shifts.

    How much the background's SUVmax itself moves when a reader places the 25 mm circle one voxel
    off: the scale against which the automatic placement's TBR is judged.
    """
    from gliopet.io.nifti import read_nifti
    from gliopet.measure import measure_pet, read_pet

    pet, mask = read_pet(pet_path), read_nifti(mask_path)
    tbrs = [measure_pet(pet, lesion=mask, background=tuple(centre_lps_mm + np.array(shift, float))).tbr.max_to_bg_max
            for shift in ((0, 0, 0), *ONE_VOXEL_SHIFTS_MM)]
    return [round(min(tbrs), 3), round(max(tbrs), 3)]


def validate(cohort: Path, *, pet_only: bool = False) -> list[dict]:
    """Measure every simulated patient automatically and at its true positions; compare with the truth.

    ``pet_only``: the automatic measurement without the CT (brain mask and template fit from the PET).
    """
    from gliopet.measure import measure_study_files

    rows = []
    for truth_file in sorted(cohort.glob("*/ground_truth.json")):
        folder = truth_file.parent
        truth = json.loads(truth_file.read_text())
        scan = truth["scans"][-1]  # the latest scan (60 min for Pentixafor)
        cs = truth["centrum_semiovale"]
        contra = np.array(next(v["centre_lps_mm"] for v in cs.values() if v["contralateral"]))
        ipsi = np.array(next(v["centre_lps_mm"] for v in cs.values() if not v["contralateral"]))
        pet = folder / scan["pet_folder"]
        start = time.perf_counter()
        auto = measure_study_files(pet, ct=None if pet_only else folder / "CT")
        seconds = time.perf_counter() - start
        at_truth = measure_study_files(pet, lesion=str(folder / truth["lesion"]["mask_file"]),
                                       background=",".join(f"{v:.3f}" for v in contra))
        envelope = _one_voxel_envelope(pet, folder / truth["lesion"]["mask_file"], contra) if truth["lesion"]["visible"] else None
        centre = np.array(auto["background"]["centre_lps_mm"])
        lesion_distance = float(np.linalg.norm(np.array(auto["lesion"]["centre_lps_mm"])
                                               - truth["lesion"]["centre_lps_mm"]))
        rows.append({
            "patient": truth["patient_id"], "visible": truth["lesion"]["visible"],
            "pose_rotation_deg": truth["pose"]["rotation_deg"],
            "bg_distance_mm": round(float(np.linalg.norm(centre - contra)), 2),
            # the fitted centrum semiovale point itself, before the search moves the circle in plane
            "fitted_point_distance_mm": round(float(np.linalg.norm(
                np.array(auto["background_placement"]["template_point_lps_mm"]) - contra)), 3),
            "bg_contralateral": bool(np.linalg.norm(centre - contra) < np.linalg.norm(centre - ipsi)),
            "lesion_distance_mm": round(lesion_distance, 2),
            "suvmax_auto": round(auto["suvmax"], 4), "suvmax_truth_position": round(at_truth["suvmax"], 4),
            "suvmax_sim": scan["recon"]["lesion_suvmax"],
            "tbr_auto": round(auto["tbr_max_to_bg_max"], 3),
            "tbr_truth_position": round(at_truth["tbr_max_to_bg_max"], 3),
            "bg_suvmax_auto": round(auto["bg_suvmax"], 4), "bg_suvmax_truth_position": round(at_truth["bg_suvmax"], 4),
            "bg_suvmean_auto": round(auto["bg_suvmean"], 4),
            "bg_suvmean_truth_position": round(at_truth["bg_suvmean"], 4),
            "tbr_mean_auto": round(auto["tbr_max_to_bg_mean"], 3),
            "tbr_mean_truth_position": round(at_truth["tbr_max_to_bg_mean"], 3),
            "tbr_truth_one_voxel_envelope": envelope,
            "seconds": round(seconds, 2),
            "brain_volume_ml": auto["brain"]["brain_volume_ml"], "warnings": len(auto["warnings"]),
        })
        print(json.dumps(rows[-1]), flush=True)
    ok_bg = sum(r["bg_distance_mm"] < 10 and r["bg_contralateral"] for r in rows)
    positive = [r for r in rows if r["visible"]]
    found = sum(abs(r["suvmax_auto"] / r["suvmax_truth_position"] - 1) <= 0.02 for r in positive)
    tbr_ok = sum(abs(r["tbr_auto"] / r["tbr_truth_position"] - 1) <= 0.02 for r in positive)
    tbr_mean_ok = sum(abs(r["tbr_mean_auto"] / r["tbr_mean_truth_position"] - 1) <= 0.02 for r in positive)
    in_envelope = sum(r["tbr_truth_one_voxel_envelope"][0] <= r["tbr_auto"] <= r["tbr_truth_one_voxel_envelope"][1]
                      for r in positive)
    truth_stable = sum((r["tbr_truth_one_voxel_envelope"][1] / r["tbr_truth_position"] - 1) <= 0.02
                       and (1 - r["tbr_truth_one_voxel_envelope"][0] / r["tbr_truth_position"]) <= 0.02
                       for r in positive)

    def rel(a: str, b: str) -> list[float]:
        return [abs(r[a] / r[b] - 1) for r in positive]

    print(json.dumps({
        "patients": len(rows),
        "background_within_10mm_contralateral": ok_bg,
        "lesion_suvmax_within_2pct_of_truth_position": f"{found}/{len(positive)} visually positive",
        "tbr_max_to_bg_max_within_2pct": f"{tbr_ok}/{len(positive)}",
        "tbr_max_to_bg_mean_within_2pct": f"{tbr_mean_ok}/{len(positive)}",
        "tbr_auto_within_truth_one_voxel_envelope": f"{in_envelope}/{len(positive)}",
        "tbr_truth_within_2pct_under_one_voxel_shifts": f"{truth_stable}/{len(positive)}",
        "tbr_max_to_bg_max_rel_diff_median_max": [round(statistics.median(rel("tbr_auto", "tbr_truth_position")), 4),
                                                  round(max(rel("tbr_auto", "tbr_truth_position")), 4)],
        "bg_suvmean_rel_diff_median_max": [
            round(statistics.median(rel("bg_suvmean_auto", "bg_suvmean_truth_position")), 4),
            round(max(rel("bg_suvmean_auto", "bg_suvmean_truth_position")), 4)],
        "bg_distance_mm_median_max": [round(statistics.median(r["bg_distance_mm"] for r in rows), 2),
                                      max(r["bg_distance_mm"] for r in rows)],
        "fitted_point_distance_mm_median_max": [
            round(statistics.median(r["fitted_point_distance_mm"] for r in rows), 3),
            max(r["fitted_point_distance_mm"] for r in rows)],
    }, indent=2))
    return rows


if __name__ == "__main__":
    if len(sys.argv) in (3, 4) and sys.argv[1] == "validate":
        validate(Path(sys.argv[2]), pet_only=sys.argv[3:] == ["--pet-only"])
    else:
        main()
