"""Simulated dynamic FET PET (issue 20, item 3): the truth computed by hand, a short dynamic scan written
as DICOM and measured end to end, and (GLIOPET_DYNAMIC_VALIDATION=N) the validation of docs/validation.md:

    GLIOPET_DYNAMIC_VALIDATION=4 .venv/bin/python -m pytest -q -s tests/test_dynamic_simulated.py -k validation
"""

import dataclasses
import math
import os

import numpy as np
import pytest

from gliopet.io.dicom import load_dynamic_headers
from gliopet.simulate.dynamic import (FET_FRAMING_S, FET_LESION_CURVES, LesionCurve, frame_means,
                                      simulate_dynamic_patient, truth_metrics)
from gliopet.simulate.specs import random_patient_spec
from gliopet.study import measure_study_files


def test_framing_covers_0_to_40_min():
    assert len(FET_FRAMING_S) == 26 and sum(FET_FRAMING_S) == 40 * 60
    assert FET_FRAMING_S[:12] == (10.0,) * 12 and FET_FRAMING_S[-5:] == (300.0,) * 5


def test_frame_means_by_hand():
    # A line's mean over a frame is its value at the frame's middle: 2 + 0.5 t over 0-3 min (middle 1.5)
    # and 5-15 min (middle 10): 2.75 and 7.0.
    np.testing.assert_allclose(frame_means(lambda t: 2 + 0.5 * t, [0, 300], [180, 600]), [2.75, 7.0])
    # 1 - exp(-t / 4) over 0-4 min: 1 - (4 / 4)(1 - e^-1) = e^-1 (trapezoid with 200 steps: within 1e-5).
    assert frame_means(lambda t: 1 - np.exp(-t / 4), [0], [240])[0] == pytest.approx(math.exp(-1), abs=1e-5)


def test_truth_metrics_by_hand():
    # Frames 0-10, 10-20, 20-30, 30-40 min with 1, 3, 2.5, 2.0: peak in the 10-20 frame (mid 15 min); the
    # late slope through (25, 2.5) and (35, 2.0) is -0.05 SUV/min = -3 SUV/h, level at 30 min 2.25.
    truth = truth_metrics([0, 600, 1200, 1800], [600] * 4, [1.0, 3.0, 2.5, 2.0])
    assert truth["ttp_min"] == 15.0
    assert truth["slope_per_h"] == pytest.approx(-3.0)
    assert truth["relative_slope_per_h"] == pytest.approx(-3.0 / 2.25)


def test_curve_peak_is_the_analytic_maximum():
    curve = LesionCurve("decreasing", amplitude_suv=6.0, rise_min=4.0, washout_min=25.0)
    t = np.linspace(0, 40, 400_001)
    assert curve.peak_min() == pytest.approx(4 * math.log(1 + 25 / 4))
    assert t[np.argmax(curve.suv(t))] == pytest.approx(curve.peak_min(), abs=1e-3)
    assert FET_LESION_CURVES["increasing"].peak_min() is None


def _spec(seed, index):
    return dataclasses.replace(random_patient_spec(seed, index, tracer="fet"), lesion_radius_mm=18.0,
                               necrosis=False, injected_bq=200e6)


def test_short_dynamic_scan_is_written_as_a_dynamic_series_and_measured(tmp_path):
    # Five frames: 0-5, 5-10, 10-20, 20-30, 30-40 min.
    truth = simulate_dynamic_patient(_spec(3, 1), tmp_path / "p", seed=3, pattern="decreasing",
                                     framing_s=(300, 300, 600, 600, 600))
    series = load_dynamic_headers(tmp_path / "p" / "PET_DYNAMIC", modality="PT")
    assert series.series_type == "DYNAMIC" and len(series.frames) == 5
    assert truth["frames"]["start_min_pi"] == [0, 5, 10, 20, 30]
    assert truth["ttp_min"] == 7.5  # the curve peaks at 7.9 min: in the 5-10 min frame
    record = measure_study_files(tmp_path / "p" / "PET_DYNAMIC", ct=tmp_path / "p" / "CT", tracer="fet").to_dict()
    dynamic = record["dynamic"]
    assert dynamic["frames"]["start_min_pi"] == pytest.approx([0, 5, 10, 20, 30], abs=1e-6)
    assert record["suv"]["inputs"]["frames"]["value"]["summed_min_pi"] == [20.0, 40.0]
    assert dynamic["pattern"] == "decreasing" and dynamic["ttp_min"] == 7.5
    # Two 10-min frames in 20-40 min: a loose check here (noise); the validation holds the 10 % target.
    assert dynamic["slope_suv_per_h"] == pytest.approx(truth["slope_per_h"], rel=0.20)


@pytest.mark.skipif(not os.environ.get("GLIOPET_DYNAMIC_VALIDATION"),
                    reason="the validation of docs/validation.md: set GLIOPET_DYNAMIC_VALIDATION=N patients")
def test_validation_on_simulated_dynamic_patients(tmp_path):
    n, seed = int(os.environ["GLIOPET_DYNAMIC_VALIDATION"]), 11
    rows, failures = [], []
    for index in range(1, n + 1):
        pattern = "decreasing" if index % 2 else "increasing"
        spec = _spec(seed, index)
        truth = simulate_dynamic_patient(spec, tmp_path / spec.patient_id, seed=seed, pattern=pattern)
        record = measure_study_files(tmp_path / spec.patient_id / "PET_DYNAMIC", ct=tmp_path / spec.patient_id / "CT",
                                     tracer="fet").to_dict()
        dyn = record["dynamic"]
        mids = dyn["frames"]["mid_min_pi"]
        # Within one frame: the measured peak frame is the true one or its neighbour.
        ttp_ok = abs(int(np.argmin(np.abs(np.subtract(mids, dyn["ttp_min"]))))
                     - int(np.argmin(np.abs(np.subtract(mids, truth["ttp_min"]))))) <= 1
        slope_error = dyn["slope_suv_per_h"] / truth["slope_per_h"] - 1
        row = (spec.patient_id, pattern, truth["ttp_min"], dyn["ttp_min"], truth["slope_per_h"],
               dyn["slope_suv_per_h"], slope_error, dyn["pattern"], ttp_ok)
        rows.append(row)
        print("| {} | {} | {:.2f} | {:.2f} | {:+.3f} | {:+.3f} | {:+.1%} | {} |".format(*row[:8]), flush=True)
        if not (ttp_ok and abs(slope_error) <= 0.10 and dyn["pattern"] == pattern):
            failures.append(spec.patient_id)
    assert not failures, f"outside the targets: {failures}"
