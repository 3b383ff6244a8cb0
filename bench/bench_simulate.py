"""Benchmark of gliopet.simulate: projector build, OSEM 2 x 21 on 109 slices, one patient, a cohort.

Run from the repository root:

    .venv/bin/python bench/bench_simulate.py            # projector, OSEM, one patient
    .venv/bin/python bench/bench_simulate.py --cohort   # also the 29-patient cohort, 2 workers

Prints a Markdown table (wall times in seconds, peak resident memory in MB).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil


def _peak_tree_rss_mb(stop: threading.Event, out: list[float]) -> None:
    me = psutil.Process()
    peak = 0.0
    while not stop.is_set():
        try:
            procs = [me, *me.children(recursive=True)]
            rss = sum(p.memory_info().rss for p in procs if p.is_running())
        except psutil.Error:
            rss = 0
        peak = max(peak, rss / 2 ** 20)
        time.sleep(0.2)
    out.append(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", action="store_true", help="also simulate the 29-patient cohort")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--table", default=str(Path(__file__).resolve().parents[1] / "src" / "gliopet" / "data"
                                                / "reference" / "table2-published.csv"))
    args = parser.parse_args()

    from gliopet.simulate import projector
    from gliopet.simulate.cohort import patient_specs_like, read_like_csv, simulate_cohort, simulate_patient
    from gliopet.simulate.osem import osem
    from gliopet.simulate.protocol import OSEM_ITERATIONS, OSEM_SUBSETS

    rows = []
    t = time.perf_counter()
    system = projector.system_matrix(projector.CLINICAL_GEOMETRY, n_subsets=OSEM_SUBSETS)
    rows.append(("projector build (168 x 168, 136 bins x 126 views)", time.perf_counter() - t,
                 f"{system.matrix.nnz / 1e6:.1f} M non-zeros"))

    g = system.geometry
    rng = np.random.default_rng(0)
    prompts = rng.poisson(3.0, size=(109, g.n_views, g.n_bins)).astype(np.float32)
    mult = np.full_like(prompts, 0.5)
    add = np.full_like(prompts, 0.5)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        osem(prompts, system=system, multiplicative=mult, additive=add, n_iterations=OSEM_ITERATIONS)
        times.append(time.perf_counter() - t)
    rows.append((f"OSEM {OSEM_ITERATIONS} iterations x {OSEM_SUBSETS} subsets, 109 slices (median of 3)", float(np.median(times)), ""))

    specs = patient_specs_like(read_like_csv(args.table), seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        simulate_patient(specs[0], Path(tmp) / "cold", seed=0)
        rows.append(("one patient, first in the process (template load)", time.perf_counter() - t, ""))
        t = time.perf_counter()
        simulate_patient(specs[1], Path(tmp) / "warm", seed=0)
        rows.append(("one patient (PET 60 min + CT, pilot + final OSEM, DICOM)", time.perf_counter() - t,
                     f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"))
        if args.cohort:
            stop, peak = threading.Event(), []
            watcher = threading.Thread(target=_peak_tree_rss_mb, args=(stop, peak))
            watcher.start()
            t = time.perf_counter()
            simulate_cohort(specs, Path(tmp) / "cohort", seed=0, workers=args.workers, progress=False)
            elapsed = time.perf_counter() - t
            stop.set()
            watcher.join()
            rows.append((f"cohort like Table 2 (29 patients, 32 PET scans), {args.workers} workers", elapsed,
                         f"peak RSS of all processes {peak[0]:.0f} MB"))

    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    print(f"Command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print()
    print("| step | wall time (s) | note |")
    print("|---|---:|---|")
    for name, seconds, note in rows:
        print(f"| {name} | {seconds:.2f} | {note} |")


if __name__ == "__main__":
    main()
