"""Synthetic 68Ga-Pentixafor batch records with their raw data, for the tests.

Every trace is a sum of Gaussian peaks given by (position, sigma, area) on a
straight baseline with seeded Gaussian noise, so the expected areas are
known by hand: a Gaussian of height h and standard deviation s has area
h * s * sqrt(2 * pi). Half-life readings follow A0 * 2**(-t / T) with seeded
multiplicative noise.

``python tests/data/radiopharmacy/make_batch.py`` rewrites the committed
example (batch-pass.json and its CSVs) next to this file, and the demo
example src/gliopet/data/examples/radiopharmacy/ (a YAML record without the optional
stability series).
"""

from __future__ import annotations

import copy
import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parents[2] / "src" / "gliopet" / "data" / "examples" / "radiopharmacy"
EXAMPLE_NAME = "batch-68ga-pentixafor.yaml"
GA68_T_HALF_MIN = 67.71

# Radio-HPLC: 28-min run sampled every 0.01 min; product at 11.2 min, free 68Ga at 2.3 min.
HPLC_STEP_MIN = 0.01
HPLC_RUN_MIN = 28.0
HPLC_BASELINE = (20.0, 1.5)          # cps at t = 0, cps per min
HPLC_NOISE_CPS = 2.0
PRODUCT_RT_MIN, PRODUCT_SIGMA_MIN = 11.2, 0.15
FREE_GA_RT_MIN, FREE_GA_SIGMA_MIN = 2.3, 0.10
PRODUCT_WINDOW_MIN = [10.5, 12.0]

# iTLC: 100 mm strip scanned every 0.5 mm; origin 10 mm, front 90 mm.
ITLC_STEP_MM = 0.5
ITLC_ORIGIN_MM, ITLC_FRONT_MM = 10.0, 90.0
ITLC_BACKGROUND = 15.0
ITLC_NOISE = 2.0
PRODUCT_POS_MM, PRODUCT_SIGMA_MM = 82.0, 2.5
COLLOID_POS_MM, COLLOID_SIGMA_MM = 10.0, 2.0

SYNTHESIS_START = datetime(2026, 3, 14, 7, 30)
SYNTHESIS_END = datetime(2026, 3, 14, 7, 52)


def gaussian(x, *, centre, sigma, area):
    """Gaussian peak of the given area: height = area / (sigma * sqrt(2 pi))."""
    height = area / (sigma * math.sqrt(2 * math.pi))
    return height * np.exp(-0.5 * ((np.asarray(x) - centre) / sigma) ** 2)


def hplc_trace(*, product_area, impurity_area, seed, slope=HPLC_BASELINE[1]):
    t = np.round(np.arange(0.0, HPLC_RUN_MIN + HPLC_STEP_MIN / 2, HPLC_STEP_MIN), 4)
    y = (HPLC_BASELINE[0] + slope * t
         + gaussian(t, centre=FREE_GA_RT_MIN, sigma=FREE_GA_SIGMA_MIN, area=impurity_area)
         + gaussian(t, centre=PRODUCT_RT_MIN, sigma=PRODUCT_SIGMA_MIN, area=product_area)
         + np.random.default_rng(seed).normal(0.0, HPLC_NOISE_CPS, t.size))
    return t, y


def itlc_trace(*, product_area, colloid_area, seed):
    x = np.arange(0.0, 100.0 + ITLC_STEP_MM / 2, ITLC_STEP_MM)
    y = (ITLC_BACKGROUND
         + gaussian(x, centre=COLLOID_POS_MM, sigma=COLLOID_SIGMA_MM, area=colloid_area)
         + gaussian(x, centre=PRODUCT_POS_MM, sigma=PRODUCT_SIGMA_MM, area=product_area)
         + np.random.default_rng(seed).normal(0.0, ITLC_NOISE, x.size))
    return x, y


def write_csv(path, header, x, y):
    lines = [",".join(header)] + [f"{a:.4f},{b:.4f}" for a, b in zip(x, y)]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def half_life_readings(*, start, t_half_min=GA68_T_HALF_MIN, a0_mbq=50.0, minutes=(0, 10, 20, 30,
                       40, 50, 60), noise=0.003, seed=11):
    rng = np.random.default_rng(seed)
    out = []
    for m in minutes:
        a = a0_mbq * 2 ** (-m / t_half_min) * (1 + rng.normal(0.0, noise))
        out.append({"time": (start + timedelta(minutes=m)).isoformat(), "activity": round(a, 4),
                    "unit": "MBq"})
    return out


#: (hours after end of synthesis, product area, impurity area) of the stability series.
STABILITY = [(0, 990.0, 10.0), (1, 989.0, 11.0), (2, 988.0, 12.0), (3, 987.0, 13.0),
             (4, 986.0, 14.0)]


def write_batch(folder, *, hplc=(990.0, 10.0), itlc=(9900.0, 100.0), ph=7.0, stability=STABILITY,
                name="batch-pass.json", overrides=None):
    """Write a batch record (JSON or YAML by suffix) and its CSVs into ``folder``.

    ``hplc`` and ``itlc`` are (product area, impurity area); ``overrides`` is a
    function applied to the record dict before it is written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    t, y = hplc_trace(product_area=hplc[0], impurity_area=hplc[1], seed=1)
    write_csv(folder / "hplc.csv", ("time_min", "signal"), t, y)
    x, c = itlc_trace(product_area=itlc[0], colloid_area=itlc[1], seed=2)
    write_csv(folder / "itlc.csv", ("position_mm", "counts"), x, c)
    measurements = []
    for n, (hours, product, impurity) in enumerate(stability or []):
        t, y = hplc_trace(product_area=product, impurity_area=impurity, seed=100 + n)
        write_csv(folder / f"stability-{hours}h.csv", ("time_min", "signal"), t, y)
        measurements.append({"time": (SYNTHESIS_END + timedelta(hours=hours)).isoformat(),
                             "chromatogram": {"file": f"stability-{hours}h.csv"}})
    record = {
        "schema_version": 1,
        "batch_id": "PTX-20260314-01",
        "tracer": "68Ga-Pentixafor",
        "specification": "68ga-pentixafor",
        "generator": {"name": "68Ge/68Ga generator", "serial": "G-0001"},
        "elution": {"time": "2026-03-14T07:25:00", "eluent": "0.1 M HCl", "volume_ml": 5.0},
        "synthesis": {"start": SYNTHESIS_START.isoformat(), "end": SYNTHESIS_END.isoformat(),
                      "module": "automated labelling module"},
        "product": {"volume_ml": 22.0,
                    "activity_readings": [{"time": "2026-03-14T07:55:00", "activity": 812.0,
                                           "unit": "MBq"}]},
        "qc": {
            "radiochemical_purity_hplc": {"chromatogram": {"file": "hplc.csv"},
                                          "product_window_min": PRODUCT_WINDOW_MIN},
            "radiochemical_purity_itlc": {"scan": {"file": "itlc.csv"},
                                          "origin_mm": ITLC_ORIGIN_MM,
                                          "front_mm": ITLC_FRONT_MM},
            "radionuclide_purity": {"time": "2026-03-14T08:05:00",
                                    "nuclides": [{"nuclide": "Ga-68", "activity": 40.0,
                                                  "unit": "MBq"},
                                                 {"nuclide": "Ge-68", "activity": 0.4,
                                                  "unit": "kBq"}]},
            "endotoxin": {"value": 5.0, "unit": "EU/mL"},
            "ph": {"value": ph},
            "half_life": {"readings": half_life_readings(start=datetime(2026, 3, 14, 8, 0))},
            "filter_integrity": {"filter": "0.22 um sterilising filter",
                                 "bubble_point_bar": 3.9, "minimum_bubble_point_bar": 3.5},
        },
        "injections": [
            {"subject": "P01",
             "syringe_before": {"time": "2026-03-14T08:40:00", "activity": 180.0, "unit": "MBq"},
             "injection_time": "2026-03-14T08:45:00",
             "syringe_after": {"time": "2026-03-14T08:50:00", "activity": 3.1, "unit": "MBq"}},
        ],
    }
    if measurements:
        record["qc"]["stability"] = {"product_window_min": PRODUCT_WINDOW_MIN,
                                     "measurements": measurements}
    if overrides is not None:
        record = overrides(copy.deepcopy(record)) or record
    path = folder / name
    if path.suffix == ".json":
        path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    else:
        import yaml

        path.write_text(yaml.safe_dump(record, sort_keys=False), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_batch(HERE))
    print(write_batch(EXAMPLE, stability=[], name=EXAMPLE_NAME))
