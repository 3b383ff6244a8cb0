"""`gliopet measure` of a 40-minute dynamic FET PET/CT, end to end (issue 20: under 10 s on 2 cores, under 3 GB).

Study: one simulated patient (``gliopet.simulate.dynamic.simulate_dynamic_patient``, seed 11, patient 1,
the early-peak curve, an 18 mm lesion, 200 MBq, Siemens flavour): a CT (72 x 256 x 256 at 1 x 1 x 3 mm)
and a 0-40 min DICOM DYNAMIC PET of 26 frames of 109 x 168 x 168 at 2 mm (2834 files, int16, Bq/mL).
Simulated once (not timed) into ``--out`` (default ``bench/_data/dynamic_fet``, reused when complete).

Timed, each in a fresh process started from here (Python start and imports included), median and
maximum of ``--repeats`` runs (default 3), after one untimed run that warms the file cache:

- ``gliopet``: ``gliopet measure PET_DYNAMIC --ct CT --tracer fet --json``, the installed command: all 26
  frames' headers read, the 20-40 min frames summed to SUV, the brain from the CT, the automatic lesion and
  crescent background, SUVmax/mean/peak, BTV, TBR, and the lesion and background time-activity curves of all
  26 frames (TTP, late slope, pattern);
- ``gliopet read``: gliopet's reading of the 20-40 min window alone (``read_suv_frames``): what the read costs
  within the command;
- ``pydicom + numpy``: what a user would otherwise write: ``pydicom.dcmread`` of every file, the frames grouped
  by AcquisitionTime, the ones inside 20-40 min p.i. decoded, scaled by RescaleSlope/Intercept and to SUV (body
  weight, decay from injection to the series start) and averaged frame-duration-weighted; no lesion, no
  background, no curves. Checked against gliopet's summed image before timing.

Memory: the peak RSS of each child process (``os.wait4``'s ru_maxrss of that child, started by a bare
launcher so that it inherits no high-water mark from this process), the largest of the runs. Also the
child's CPU time (user + system), less sensitive than the wall time to other work on a shared machine.
PASS/FAIL against 10 s (median wall) and 3 GiB.

    python -m bench dynamic [--repeats N] [--out FOLDER]
    python -m bench.bench_dynamic [--repeats N] [--out FOLDER]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
DEFAULT_OUT = HERE / "_data" / "dynamic_fet"
REPEATS = 3
SEED, INDEX, PATTERN = 11, 1, "decreasing"
WINDOW_MIN = (20.0, 40.0)
TARGET_S = 10.0
TARGET_BYTES = 3 * 1024 ** 3


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _make(out: Path) -> Path:
    """The simulated study in ``out`` (``CT/``, ``PET_DYNAMIC/``); reused when it is complete."""
    from gliopet.simulate.dynamic import FET_FRAMING_S, simulate_dynamic_patient
    from gliopet.simulate.grids import CT_GRID, PET_GRID

    n_pet, n_ct = len(FET_FRAMING_S) * PET_GRID.shape[0], CT_GRID.shape[0]
    if ((out / "ground_truth_dynamic.json").exists() and len(list((out / "PET_DYNAMIC").iterdir())) == n_pet
            and len(list((out / "CT").iterdir())) == n_ct):
        return out
    from gliopet.simulate.specs import random_patient_spec

    spec = dataclasses.replace(random_patient_spec(SEED, INDEX, tracer="fet"), lesion_radius_mm=18.0,
                               necrosis=False, injected_bq=200e6, flavour="siemens")
    print(f"simulating {spec.patient_id} ({PATTERN}, 26 frames) into {out} (not timed) ...", flush=True)
    start = time.perf_counter()
    simulate_dynamic_patient(spec, out, seed=SEED, pattern=PATTERN)
    print(f"  simulated in {time.perf_counter() - start:.0f} s", flush=True)
    return out


def _dicom_time_s(value: str) -> float:
    value = str(value).strip()
    hours, minutes, seconds = int(value[0:2]), int(value[2:4]), float(value[4:] or 0)
    return 3600.0 * hours + 60.0 * minutes + seconds


def baseline_sum(folder: str | Path, start_min: float = WINDOW_MIN[0], end_min: float = WINDOW_MIN[1]) -> np.ndarray:
    """The 20-40 min static SUV image with pydicom and numpy only: [k, j, i] with k along the slice position.

    Frames are grouped by AcquisitionTime (each frame of a DYNAMIC series has its own); a frame is taken when
    it starts and ends inside the window (1 s tolerance). SUV = Bq/mL x weight (g) / (injected dose decayed
    from the injection to the series start): the series is decay corrected to its start (DecayCorrection START).
    """
    import pydicom

    frames: dict[float, list] = {}
    first = None
    for path in sorted(Path(folder).iterdir()):
        ds = pydicom.dcmread(path)
        if first is None:
            first = ds
        frames.setdefault(_dicom_time_s(ds.AcquisitionTime), []).append(ds)
    rp = first.RadiopharmaceuticalInformationSequence[0]
    injection_s = _dicom_time_s(rp.RadiopharmaceuticalStartTime)
    decay = 2.0 ** (-(_dicom_time_s(first.SeriesTime) - injection_s) / float(rp.RadionuclideHalfLife))
    suv_factor = float(first.PatientWeight) * 1000.0 / (float(rp.RadionuclideTotalDose) * decay)
    total, weight = None, 0.0
    tolerance = 1.0
    for acquisition_s, slices in sorted(frames.items()):
        start_s = acquisition_s - injection_s
        duration_s = float(slices[0].ActualFrameDuration) / 1000.0
        if start_s < 60.0 * start_min - tolerance or start_s + duration_s > 60.0 * end_min + tolerance:
            continue
        slices.sort(key=lambda ds: float(ds.ImagePositionPatient[2]))
        frame = np.stack([ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept) for ds in slices])
        total = frame * duration_s if total is None else total + frame * duration_s
        weight += duration_s
    if total is None:
        raise SystemExit(f"{folder}: no frame inside {start_min:g}-{end_min:g} min p.i.")
    return (total / weight * suv_factor).astype(np.float32)


_BASELINE_CHILD = """
import sys
sys.path.insert(0, {root!r})
from bench.bench_dynamic import baseline_sum
image = baseline_sum({folder!r})
print(image.shape, float(image.max()))
"""

_READ_CHILD = """
from gliopet.io.suv_inputs import read_suv_frames
series = read_suv_frames({folder!r}, start_min={start!r}, end_min={end!r})
print(series.volume.shape, float(series.volume.array.max()))
"""


def _gliopet_command() -> list[str]:
    script = Path(sys.executable).with_name("gliopet")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gliopet.cli"]


#: Starts one command and reports its wall time, CPU time and peak RSS: a bare interpreter (-I -S, a few MiB)
#: forks and execs the command, then ``os.wait4`` gives that child's own rusage. Not forked from the
#: benchmark itself: Linux carries a process's high-water RSS across fork and exec, so a child of this
#: (large, after the simulation) process would report at least this process's RSS.
_LAUNCHER = """
import json, os, sys, time
command, out_path = json.loads(sys.argv[1]), sys.argv[2]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 1)
        os.execvp(command[0], command)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
print(json.dumps({"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "maxrss_kib": usage.ru_maxrss,
                  "rc": os.waitstatus_to_exitcode(status)}))
"""


def _run_child(command: list[str]) -> tuple[dict, str]:
    """Wall and CPU seconds and peak RSS (KiB) of ``command`` alone (see :data:`_LAUNCHER`), and its stdout."""
    with tempfile.TemporaryDirectory() as tmp:
        out_path = Path(tmp) / "stdout"
        done = subprocess.run([sys.executable, "-I", "-S", "-c", _LAUNCHER, json.dumps(command), str(out_path)],
                              capture_output=True, text=True)
        if done.returncode != 0 or not done.stdout.strip():
            raise SystemExit(f"launcher failed ({done.returncode}):\n{done.stderr[-3000:]}")
        usage = json.loads(done.stdout.strip().splitlines()[-1])
        if usage["rc"] != 0:
            raise SystemExit(f"{' '.join(command)} failed ({usage['rc']}):\n{done.stderr[-3000:]}")
        return usage, out_path.read_text()


def _time_child(command: list[str], repeats: int) -> dict:
    _run_child(command)  # warm the file cache and the bytecode
    runs, stdout = [], ""
    for _ in range(repeats):
        usage, stdout = _run_child(command)
        runs.append(usage)
    walls = [r["wall_s"] for r in runs]
    return {"median_s": statistics.median(walls), "max_s": max(walls), "walls_s": [round(w, 2) for w in walls],
            "cpu_median_s": statistics.median(r["cpu_s"] for r in runs),
            "peak_rss_mib": max(r["maxrss_kib"] for r in runs) / 1024, "stdout": stdout}


def _launcher_floor_mib() -> float:
    """The peak RSS the launcher itself passes on to its child (a bare ``true``): the memory figures' floor."""
    usage, _ = _run_child(["true"])
    return usage["maxrss_kib"] / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=REPEATS, help="timed runs of each command (default 3)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the simulated study's folder (kept)")
    args = parser.parse_args()
    print(f"machine: {_cpu_model()}, nproc {os.cpu_count()} (affinity {len(os.sched_getaffinity(0))}), "
          f"{platform.system()} {platform.release()}, Python {platform.python_version()}", flush=True)
    data = _make(args.out)
    pet, ct = data / "PET_DYNAMIC", data / "CT"
    n_files = len(list(pet.iterdir()))
    pet_mb = sum(p.stat().st_size for p in pet.iterdir()) / 1e6

    # The baseline computes the same image as gliopet's reader (not timed).
    from gliopet.io.suv_inputs import read_suv_frames

    reference = read_suv_frames(pet, start_min=WINDOW_MIN[0], end_min=WINDOW_MIN[1]).volume.array
    mine = baseline_sum(pet)
    difference = float(np.max(np.abs(mine - reference)))
    if mine.shape != reference.shape or difference > 1e-4 * float(reference.max()):
        raise SystemExit(f"the pydicom baseline differs from gliopet's summed image (max |diff| {difference:.3g})")

    gliopet = _gliopet_command() + ["measure", str(pet), "--ct", str(ct), "--tracer", "fet", "--json"]
    commands = {
        "gliopet measure --tracer fet": gliopet,
        "gliopet read (20-40 min)": [sys.executable, "-c", _READ_CHILD.format(folder=str(pet), start=WINDOW_MIN[0],
                                                                              end=WINDOW_MIN[1])],
        "pydicom + numpy (20-40 min)": [sys.executable, "-c", _BASELINE_CHILD.format(root=str(HERE.parent),
                                                                                     folder=str(pet))],
    }
    results = {name: _time_child(command, args.repeats) for name, command in commands.items()}
    floor = _launcher_floor_mib()
    record = json.loads(results["gliopet measure --tracer fet"]["stdout"])
    dyn = record["dynamic"]
    truth = json.loads((data / "ground_truth_dynamic.json").read_text())
    print(f"study: {n_files} PET files ({len(dyn['frames']['start_min_pi'])} frames, {pet_mb:.0f} MB) + "
          f"{len(list(ct.iterdir()))} CT files; baseline vs gliopet summed image: max |diff| {difference:.2g} SUV")
    print(f"command: {' '.join(['gliopet', *gliopet[-7:]])}")
    print(f"{'run':<30} {'median s':>9} {'max s':>7} {'CPU s':>6} {'peak RSS MiB':>13}")
    for name, r in results.items():
        print(f"{name:<30} {r['median_s']:>9.2f} {r['max_s']:>7.2f} {r['cpu_median_s']:>6.2f} "
              f"{r['peak_rss_mib']:>13.0f}")
    print(f"(CPU s: user + system of the child, median; peak RSS floor passed on by the launcher: {floor:.0f} MiB;"
          f" load average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())})")
    g = results["gliopet measure --tracer fet"]
    time_ok, memory_ok = g["median_s"] < TARGET_S, g["peak_rss_mib"] * 1024 ** 2 < TARGET_BYTES
    print(f"target: median < {TARGET_S:g} s: {'PASS' if time_ok else 'FAIL'} ({g['median_s']:.2f} s, max "
          f"{g['max_s']:.2f} s); peak RSS < 3 GiB: {'PASS' if memory_ok else 'FAIL'} ({g['peak_rss_mib']:.0f} MiB)")
    print(json.dumps({
        "runs": {name: {k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items() if k != "stdout"}
                 for name, r in results.items()},
        "measured": {"ttp_min": dyn["ttp_min"], "slope_suv_per_h": round(dyn["slope_suv_per_h"], 3),
                     "pattern": dyn["pattern"], "btv_ml": round(record["btv_ml"], 2),
                     "bg_suvmean": round(record["bg_suvmean"], 4)},
        "truth": {"ttp_min": truth["ttp_min"], "slope_per_h": round(truth["slope_per_h"], 3),
                  "btv_true_ml": truth.get("btv_true_ml")},
        "pass": {"time": time_ok, "memory": memory_ok},
        "command": " ".join(["gliopet", *gliopet[-7:]]),
        "machine": f"{_cpu_model()}, nproc {os.cpu_count()}, Python {platform.python_version()}",
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "date": datetime.now().isoformat(timespec="seconds"),
    }, indent=2))


if __name__ == "__main__":
    main()
