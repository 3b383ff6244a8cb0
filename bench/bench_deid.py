"""De-identification: gliopet deid vs dicognito, pydicom's deid and dicom-anonymizer, same corpora.

Corpora: the canary corpus of ``tests/test_deid_canary.py`` (every Table E.1-1 attribute to remove or
replace set to a canary, in the main dataset and two sequence depths, private tags, dates in text,
file meta, preamble, file names) and a simulated cohort (``gliopet simulate cohort --flavour mixed``:
Siemens, GE and Philips PET with CT). Measured per tool:

- canaries leaked: canary tokens found in any output byte or output path;
- SUV factors changed: PET series whose ``gliopet suv`` factor (bw) differs from the input's, or
  cannot be computed any more (output series matched to input series by their pixels, which no
  tool changes);
- files per second on the cohort with 2 workers (gliopet ``--workers 2``; each other tool as 2
  processes over the two halves of the file list, through its library, file by file), median of
  ``--repeats`` runs, wall time from start to the last file written.

The peers run in their own virtual environment (/tmp/gliopet-deid-bench, from
bench/requirements-deid.txt), never in the project's. Their default settings are used.

    python -m bench deid [--repeats 3] [--patients 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
DATA = HERE / "_data"
VENV = Path("/tmp/gliopet-deid-bench")
REQUIREMENTS = HERE / "requirements-deid.txt"
TOOLS = ("gliopet", "dicognito", "deid", "dicom-anonymizer")
WORKERS = 2

#: Run in the peers' environment: ``peer.py TOOL OUT_ROOT IN_ROOT REL...`` de-identifies each file.
PEER_SCRIPT = r'''
import sys, warnings, logging
from pathlib import Path
import pydicom
warnings.simplefilter("ignore")
logging.disable(logging.CRITICAL)
tool, out_root, in_root, rels = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4:]
if tool == "dicognito":
    from dicognito.anonymizer import Anonymizer
    anonymizer = Anonymizer(seed="gliopet-bench")
elif tool == "deid":
    from deid.dicom import replace_identifiers
    from deid.logger import bot
    bot.level = 0
elif tool == "dicom-anonymizer":
    from dicomanonymizer import anonymize_dicom_file
for rel in rels:
    src, dst = in_root / rel, out_root / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        if tool == "dicognito":
            ds = pydicom.dcmread(src)
            anonymizer.anonymize(ds)
            ds.save_as(dst)
        elif tool == "deid":
            ds = replace_identifiers(dicom_files=[str(src)], save=False)[0]
            ds.save_as(dst)
        else:
            anonymize_dicom_file(str(src), str(dst))
    except Exception as exc:
        print(f"{rel}: {type(exc).__name__}", file=sys.stderr)
'''


def _bench_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True)
    return python


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.suffix == ".dcm")


def _cohort(n_patients: int) -> Path:
    folder = DATA / f"deid_cohort_{n_patients}"
    if not (folder / "clinical.csv").exists():
        subprocess.run([sys.executable, "-m", "gliopet.cli", "simulate", "cohort", "--n", str(n_patients),
                        "--flavour", "mixed", "--seed", "7", "--workers", str(WORKERS), "--force",
                        "--out", str(folder)], check=True)
    return folder


def _test_module():
    sys.path.insert(0, str(ROOT / "tests"))
    import test_deid_canary

    return test_deid_canary


def _canaries() -> tuple[Path, dict[bytes, str]]:
    build_canary_corpus = _test_module().build_canary_corpus

    folder = Path(tempfile.mkdtemp(prefix="gliopet-canary-"))
    return folder, build_canary_corpus(folder)


def _run(tool: str, src: Path, out: Path, python: Path, script: Path, key: Path) -> float:
    """Wall seconds to de-identify every .dcm under ``src`` into ``out`` with 2 workers."""
    out.mkdir(parents=True)
    start = time.perf_counter()
    if tool == "gliopet":
        subprocess.run([sys.executable, "-m", "gliopet.cli", "deid", str(src), str(out), "--key-file", str(key),
                        "--workers", str(WORKERS)], check=True, capture_output=True)
    else:
        files = _files(src)
        halves = [files[i::WORKERS] for i in range(WORKERS)]
        procs = [subprocess.Popen([str(python), str(script), tool, str(out), str(src), *half],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for half in halves]
        for proc in procs:
            proc.wait()
    return time.perf_counter() - start


def _leaks(out: Path, tokens: dict[bytes, str]) -> int:
    canary_in = _test_module().canary_in
    found = set()
    for path in out.rglob("*"):
        data = path.read_bytes() if path.is_file() else b""
        name = str(path.relative_to(out)).encode()
        found |= {t for t in tokens if canary_in(t, data) or t in name}
    return len(found)


def _suv_by_first_slice(root: Path) -> dict[str, float | str]:
    """{sha256 of the series' pixels in instance order: SUV bw factor (or the error)} for each PET series under ``root``."""
    import pydicom

    from gliopet.io.suv_inputs import suv_report_for_series

    series: dict[str, list[Path]] = {}
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 - not DICOM
            continue
        if ds.get("Modality") == "PT":
            series.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append(path)
    result = {}
    for paths in series.values():
        with tempfile.TemporaryDirectory() as tmp:
            for i, path in enumerate(paths):
                os.symlink(path.resolve(), Path(tmp) / f"{i:06d}.dcm")
            slices = sorted((int(d.InstanceNumber), d.PixelData) for d in map(pydicom.dcmread, paths))
            pixels = hashlib.sha256(b"".join(data for _, data in slices)).hexdigest()
            try:
                result[pixels] = suv_report_for_series(tmp)["factor"]
            except Exception as exc:  # noqa: BLE001 - a tool that broke SUV
                result[pixels] = f"error: {type(exc).__name__}"
    return result


def _suv_changes(src: Path, out: Path, before: dict) -> int:
    after = _suv_by_first_slice(out)
    return sum(1 for k, v in before.items() if after.get(k, "missing") != v)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--patients", type=int, default=3)
    args = parser.parse_args()
    python = _bench_python()
    with tempfile.TemporaryDirectory(prefix="gliopet-bench-deid-") as tmp:
        work = Path(tmp)
        script = work / "peer.py"
        script.write_text(PEER_SCRIPT)
        cohort = _cohort(args.patients)
        n_files = len(_files(cohort))
        canary_dir, tokens = _canaries()
        suv_before = _suv_by_first_slice(cohort)
        rows = {}
        for tool in TOOLS:
            leak_out = work / f"{tool}-canary"
            _run(tool, canary_dir, leak_out, python, script, work / "key-canary")
            suv_out = work / f"{tool}-cohort"
            _run(tool, cohort, suv_out, python, script, work / "key")
            times = []
            for r in range(args.repeats):
                out = work / f"{tool}-rep{r}"
                times.append(_run(tool, cohort, out, python, script, work / "key"))
                shutil.rmtree(out)
            rows[tool] = dict(leaked=_leaks(leak_out, tokens), canaries=len(tokens),
                              suv_changed=_suv_changes(cohort, suv_out, suv_before), pet_series=len(suv_before),
                              files=n_files, median_s=statistics.median(times),
                              files_per_s=n_files / statistics.median(times), times_s=times)
            print(json.dumps({tool: rows[tool]}), flush=True)
        shutil.rmtree(canary_dir)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print("| tool | canaries leaked | SUV factors changed | files/s (median) |")
    print("|---|---:|---:|---:|")
    for tool, r in rows.items():
        print(f"| {tool} | {r['leaked']} / {r['canaries']} | {r['suv_changed']} / {r['pet_series']} | "
              f"{r['files_per_s']:.1f} |")


if __name__ == "__main__":
    main()
