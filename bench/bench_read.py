"""Reading DICOM series: gliopet.io.read_series vs SimpleITK's ImageSeriesReader, same files, same run.

Series: a 109-slice 168x168 PET (int16, per-slice slope) and a 300-slice 512x512 CT. Timing: median of
``REPEATS`` warm-cache reads in this process. Memory: each reader runs once in a fresh subprocess and
reports its peak RSS increase over the RSS after imports (VmHWM - VmRSS from /proc/self/status), as a
multiple of the float32 volume's size.

    python -m bench read
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
DATA = HERE / "_data"
REPEATS = 5

SERIES = {
    "pet_109x168x168": dict(shape=(109, 168, 168), modality="PT", spacing=(4.07, 4.07), slice_mm=2.03),
    "ct_300x512x512": dict(shape=(300, 512, 512), modality="CT", spacing=(0.98, 0.98), slice_mm=1.0),
}


def _make(name: str, spec: dict) -> Path:
    folder = DATA / name
    if folder.exists() and len(list(folder.iterdir())) == spec["shape"][0]:
        return folder
    sys.path.insert(0, str(HERE.parent / "tests"))
    from dicom_factory import pet_header, write_series

    rng = np.random.default_rng(0)
    stored = rng.integers(0, 30000, size=spec["shape"], dtype=np.int16)
    header = pet_header() if spec["modality"] == "PT" else {}
    slopes = list(rng.uniform(0.5, 2.0, spec["shape"][0])) if spec["modality"] == "PT" else 1.0
    names = [f"IM{rng.integers(1e9):010d}.dcm" for _ in range(spec["shape"][0])]  # order not by name
    write_series(folder, stored, modality=spec["modality"], spacing_mm=spec["spacing"], slice_mm=spec["slice_mm"],
                 slopes=slopes, intercept=-1024.0 if spec["modality"] == "CT" else 0.0, header=header,
                 names=names, seed=name)
    return folder


def _read_gliopet(folder: Path):
    from gliopet.io import read_series

    volume = read_series(folder)
    return volume.array, volume


def _read_sitk(folder: Path):
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    reader.SetOutputPixelType(sitk.sitkFloat32)
    image = reader.Execute()
    return sitk.GetArrayViewFromImage(image), image  # the view is valid while the image lives


READERS = {"gliopet": _read_gliopet, "SimpleITK": _read_sitk}

_CHILD = """
import sys, json
sys.path.insert(0, {root!r})
from bench.bench_read import READERS
from pathlib import Path
import gliopet.io, SimpleITK, numpy
def status_kb(key):
    with open('/proc/self/status') as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1])
base = status_kb('VmRSS')
array, keep = READERS[{reader!r}](Path({folder!r}))
peak = status_kb('VmHWM')  # high-water RSS of this process image (ru_maxrss survives exec)
print(json.dumps({{"peak_increase_bytes": (peak - base) * 1024, "nbytes": int(array.size) * 4}}))
"""


def _memory(reader: str, folder: Path) -> dict:
    code = _CHILD.format(root=str(HERE.parent), reader=reader, folder=str(folder))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    rows = []
    for name, spec in SERIES.items():
        folder = _make(name, spec)
        reference = None
        for reader, function in READERS.items():
            array, keep = function(folder)  # warm the file cache; check both readers agree
            if reference is None:
                reference = np.array(array)
            else:
                np.testing.assert_allclose(np.asarray(array), reference, rtol=1e-5, atol=1e-3)
            times = []
            for _ in range(REPEATS):
                start = time.perf_counter()
                function(folder)
                times.append(time.perf_counter() - start)
            mem = _memory(reader, folder)
            rows.append((name, reader, statistics.median(times), mem["peak_increase_bytes"] / mem["nbytes"]))
    print(f"{'series':<18} {'reader':<10} {'median s':>9} {'peak RSS / volume':>18}")
    for name, reader, median, ratio in rows:
        print(f"{name:<18} {reader:<10} {median:>9.3f} {ratio:>18.2f}")


if __name__ == "__main__":
    main()
