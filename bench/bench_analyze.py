"""`gliopet analyze`: the demo cohort end to end, and throughput / memory per worker at scale.

1. Demo cohort: a simulated cohort like Table 2 (29 patients, 32 PET scans) analysed into a new
   SQLite store with 2 local workers (wall time of ``run_analysis``: clinical import, DICOM
   discovery, measurement, store), then ``gliopet stats --db``; the medians are compared with the
   published ones (docs/validation.md).
2. Scale: ``--studies N`` studies made from a few simulated patients re-used under new patient IDs
   (every UID rewritten, pixels unchanged; PET 60 min + CT each), analysed with 1 and 2 local
   workers and on a Dask LocalCluster of 2 single-thread workers: studies per minute, and the peak
   resident memory of each worker process (sampled every 0.2 s with psutil), at N and at N / 4 to
   show whether memory per worker depends on cohort size.

    gliopet simulate cohort --like src/gliopet/data/reference/table2-published.csv \
        --out /tmp/demo29 --seed 2019 --workers 2
    python -m bench.bench_analyze --cohort /tmp/demo29 --studies 1000 --small 100 --out /tmp/bench-analyze

(``python -m bench analyze`` runs the scale part only, with a 2-patient cohort it simulates and 16 studies.)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).parent
REPO = HERE.parent
LIKE = REPO / "src" / "gliopet" / "data" / "reference" / "table2-published.csv"


class PeakMemory:
    """Peak RSS (bytes) of each descendant process of this one, sampled in a thread."""

    def __init__(self, interval_s: float = 0.2) -> None:
        import psutil

        self._me = psutil.Process()
        self._interval_s = interval_s
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            for child in self._me.children(recursive=True):
                try:
                    rss = child.memory_info().rss
                except psutil.Error:
                    continue
                self.peaks[child.pid] = max(self.peaks.get(child.pid, 0), rss)
            time.sleep(self._interval_s)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def worker_peak_mb(self, min_mb: float = 150.0) -> float:
        """Largest peak among processes big enough to be measuring (not helper processes)."""
        peaks = [p / 2**20 for p in self.peaks.values() if p / 2**20 >= min_mb]
        return max(peaks) if peaks else 0.0


def _clinical_with_visual(cohort: Path, out: Path) -> Path:
    """The simulator's clinical CSV plus ``visual`` from its ground truth (a lesion was made visible or not)."""
    with open(cohort / "ground_truth.csv", newline="") as fh:
        visible = {r["patient_id"]: r["visible"] == "yes" for r in csv.DictReader(fh)}
    with open(cohort / "clinical.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*rows[0].keys(), "visual"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "visual": "positive" if visible[row["patient_id"]] else "negative"})
    return out


def demo(cohort: Path, out: Path, workers: int = 2) -> dict:
    from gliopet.analyze import run_analysis
    from gliopet.stats import analyse_cohort
    from gliopet.cohort import load_cohort_store

    clinical = _clinical_with_visual(cohort, out / "clinical-visual.csv")
    db = out / "demo.sqlite"
    if db.exists():
        db.unlink()
    with PeakMemory() as memory:
        start = time.perf_counter()
        summary = run_analysis(cohort, clinical, db=str(db), workers=workers, progress=True)
        wall_s = time.perf_counter() - start
    stats = analyse_cohort(load_cohort_store(str(db)).cohort)
    (out / "demo-stats.json").write_text(json.dumps(stats, indent=1, default=str))
    return {"studies": summary.studies_found, "measured": summary.measured, "failed": summary.failed,
            "workers": workers, "wall_s": round(wall_s, 1), "worker_peak_mb": round(memory.worker_peak_mb()),
            "db": str(db)}


def make_scaled(sources: list[Path], n_studies: int, root: Path, clinical_row: dict) -> tuple[Path, Path]:
    """``n_studies`` studies cloned from ``sources`` (patient folders), and their clinical CSV."""
    sys.path.insert(0, str(REPO / "tests"))
    from analyze_fixtures import write_clinical

    from concurrent.futures import ProcessPoolExecutor

    tree = root / f"scaled-{n_studies}"
    rows, todo = [], []
    for i in range(n_studies):
        pid = f"S{i:05d}"
        rows.append({**clinical_row, "patient_id": pid})
        if not (tree / pid).exists():
            todo.append((sources[i % len(sources)], tree / pid, pid))
    with ProcessPoolExecutor(max_workers=2) as pool:  # cloning is pydicom parsing: CPU-bound
        list(pool.map(_clone, todo, chunksize=8))
    return tree, write_clinical(root / f"scaled-{n_studies}.csv", rows)


def _clone(job: tuple[Path, Path, str]) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from analyze_fixtures import clone_study

    src, dst, pid = job
    partial = dst.with_name(f".{dst.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    clone_study(src, partial, pid, series=("PET_60min", "CT"))
    partial.rename(dst)  # a study is in the tree whole or not at all


def scale_run(tree: Path, clinical: Path, db: Path, *, workers: int | None = None, dask: bool = False) -> dict:
    from gliopet.analyze import run_analysis

    if db.exists():
        db.unlink()
    with PeakMemory() as memory:
        start = time.perf_counter()
        if dask:
            from distributed import Client, LocalCluster

            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                              host="127.0.0.1") as cluster, Client(cluster) as client:
                start = time.perf_counter()  # cluster start-up not counted
                summary = run_analysis(tree, clinical, db=str(db), scheduler=client, progress=False)
                wall_s = time.perf_counter() - start
        else:
            summary = run_analysis(tree, clinical, db=str(db), workers=workers, progress=False)
            wall_s = time.perf_counter() - start
    return {"mode": "dask LocalCluster 2x1" if dask else f"{workers} local worker(s)", "studies": summary.measured,
            "failed": summary.failed, "wall_s": round(wall_s, 1),
            "studies_per_min": round(60.0 * summary.measured / wall_s, 2),
            "worker_peak_mb": round(memory.worker_peak_mb())}


def scale(sources: list[Path], clinical_row: dict, n_studies: int, out: Path, small: int | None = None) -> list[dict]:
    results = []
    small = small or max(2, n_studies // 4)
    for n in (small, n_studies):
        tree, clinical = make_scaled(sources, n, out, clinical_row)
        for kwargs in ({"workers": 1}, {"workers": 2}, {"dask": True}):
            result = scale_run(tree, clinical, out / "scaled.sqlite", **kwargs)
            result["n"] = n
            print(json.dumps(result), flush=True)
            results.append(result)
    return results


def _small_cohort(out: Path) -> Path:
    from gliopet.simulate.cohort import patient_specs_like, read_like_csv, simulate_cohort

    root = out / "small-cohort"
    if (root / "clinical.csv").exists():
        return root
    rows = [r for r in read_like_csv(LIKE) if r["patient_id"] in ("1", "2")]
    simulate_cohort(patient_specs_like(rows, seed=7), root, seed=7, workers=2, overwrite=True)
    return root


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", type=Path, help="a simulated cohort like Table 2 (for the demo part)")
    parser.add_argument("--studies", type=int, default=16, help="studies in the scale part (default 16)")
    parser.add_argument("--small", type=int, help="the smaller cohort size for the memory comparison "
                                                  "(default: a quarter of --studies)")
    parser.add_argument("--out", type=Path, default=HERE / "_data" / "analyze")
    args = parser.parse_args(argv)  # None: sys.argv[1:] (`python -m bench analyze ARGS` sets sys.argv)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
              "load_average": os.getloadavg()}
    if args.cohort:
        report["demo"] = demo(args.cohort, args.out)
        print(json.dumps(report["demo"]), flush=True)
    source = args.cohort or _small_cohort(args.out)
    sources = sorted(p for p in source.iterdir() if (p / "PET_60min").is_dir())[:4]
    with open(source / "clinical.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    row["visual"] = "positive"
    report["scale"] = scale(sources, row, args.studies, args.out, args.small)
    report["load_average_after"] = os.getloadavg()
    (args.out / "bench-analyze.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
