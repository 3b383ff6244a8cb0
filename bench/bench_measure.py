"""`gliopet measure` with automatic lesion and background on one synthetic PET/CT study.

Study: a head posed by a known rotation (12, 8, -5 degrees) and shift, written as DICOM by the
simulator's writer: PET 109 x 168 x 168 at 4.07 x 4.07 x 2.03 mm (Siemens flavour, Bq/mL), CT
150 x 512 x 512 at 0.98 x 0.98 x 1.5 mm. Timing: the whole command in a fresh process (Python start,
imports, DICOM reading, MNI template loading, brain mask, template fit, mid-sagittal plane, ROIs),
median of ``REPEATS`` runs. Memory: the largest peak RSS of those child processes (getrusage).
Also timed in-process, the template and DICOM already loaded: ``measure_pet`` alone.

    python -m bench measure
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


if __name__ == "__main__":
    main()
