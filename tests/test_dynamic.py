"""Time-activity curves of a dynamic PET (issue 20, item 2): the core's pieces by hand, then
``gliopet measure PET_DYNAMIC --tracer fet`` on a pydicom-written series (as tests/test_suv_series.py)."""

import json
import math
import subprocess
import sys

import numpy as np
import pydicom
import pytest

from dicom_factory import pet_header, write_series
from gliopet.errors import MeasurementError
from gliopet.measure import measure_rois
from gliopet.measure import (TacPattern, check_framing, isocontour_voi, late_slope, tac_pattern,
                                     time_activity, time_to_peak_min)
from gliopet.volume import Volume


# ------------------------------------------------------------ framing


def test_contiguous_framing_passes():
    # 12 x 10 s, 3 x 30 s, 3 x 60 s: 2 + 1.5 + 3 = 6.5 min, each frame starting where the last ended.
    durations = [10 / 60] * 12 + [0.5] * 3 + [1.0] * 3
    starts = list(np.concatenate([[0.0], np.cumsum(durations)[:-1]]))
    check_framing(starts, durations)
    assert starts[-1] + durations[-1] == pytest.approx(6.5)


@pytest.mark.parametrize("starts, durations, numbers, message", [
    ([0, 5, 15], [5, 5, 5], None, "frame 3 starts at 15 min p.i., 5 min after frame 2 ends .*: a frame is missing"),
    ([0, 5, 9], [5, 5, 5], None, "frame 3 starts at 9 min p.i., before frame 2 ends \\(10 min\\): frames overlap"),
    ([0, 10, 5], [10, 5, 5], None, "frame 3 starts at 5 min p.i., before frame 2 \\(10 min\\): frames out of order"),
    ([0, 5, 10], [5, 5, 5], [1, 3, 2], "frame 3 \\(frame number 2\\) is acquired after frame 2 .*out of order"),
    ([0, 5, 10], [5, 5, 5], [1, 2, 4], "frame number 3 is missing \\(between frame 2 and frame 3\\)"),
])
def test_bad_framing_is_refused_naming_the_frame(starts, durations, numbers, message):
    with pytest.raises(MeasurementError, match=message):
        check_framing(starts, durations, numbers=numbers)


def test_declared_frame_count_must_match():
    with pytest.raises(MeasurementError, match="NumberOfTimeSlices is 4 but 3 frames were found: 1 frame"):
        check_framing([0, 5, 10], [5, 5, 5], expected_n=4, names=["a.dcm", "b.dcm", "c.dcm"])


# ------------------------------------------------------------ curve metrics by hand


def test_late_slope_by_hand():
    # Frames 20-25, 25-30, 30-35, 35-40 min: mid-times 22.5, 27.5, 32.5, 37.5 (mean 30), SUV 3.0, 2.9, 2.8, 2.7
    # (mean 2.85). Slope = sum((t - 30)(y - 2.85)) / sum((t - 30)^2)
    #   = (-7.5 * 0.15 - 2.5 * 0.05 + 2.5 * -0.05 + 7.5 * -0.15) / (2 * 7.5^2 + 2 * 2.5^2) = -2.5 / 125
    #   = -0.02 SUV/min = -1.2 SUV/h; the line at the window's middle (30 min) is 2.85.
    # The 10-20 min frame lies outside 20-40 and is not fitted.
    slope, middle, n = late_slope([10, 20, 25, 30, 35], [10, 5, 5, 5, 5], [9.9, 3.0, 2.9, 2.8, 2.7],
                                  window_min=(20, 40))
    assert slope == pytest.approx(-2.5 / 125 * 60, rel=1e-12) and middle == pytest.approx(2.85) and n == 4


def test_late_slope_of_noisy_points_is_the_least_squares_line():
    # Points (22.5, 2), (27.5, 3), (32.5, 3), (37.5, 5): t_bar = 30, y_bar = 3.25;
    # sum((t - t_bar)(y - y_bar)) = -7.5*-1.25 + -2.5*-0.25 + 2.5*-0.25 + 7.5*1.75 = 9.375 + 13.125 = 22.5
    # slope = 22.5 / 125 = 0.18 SUV/min = 10.8 SUV/h.
    slope, middle, _ = late_slope([20, 25, 30, 35], [5, 5, 5, 5], [2, 3, 3, 5], window_min=(20, 40))
    assert slope == pytest.approx(10.8) and middle == pytest.approx(3.25)


def test_late_slope_needs_two_frames_in_the_window():
    with pytest.raises(MeasurementError, match="1 frame\\(s\\) lie inside the window"):
        late_slope([0, 10, 30], [10, 20, 10], [1, 2, 3], window_min=(20, 40))


def test_time_to_peak_is_the_mid_time_of_the_highest_frame_first_on_a_tie():
    # Frames 0-1, 1-3, 3-8, 8-18 min: mid-times 0.5, 2, 5.5, 13.
    mids = [0.5, 2.0, 5.5, 13.0]
    assert time_to_peak_min(mids, [1.0, 2.0, 4.0, 3.0]) == 5.5
    assert time_to_peak_min(mids, [1.0, 4.0, 4.0, 3.0]) == 2.0


@pytest.mark.parametrize("slope, level, expected", [
    (0.3, 2.0, TacPattern.INCREASING),   # 0.15 / h
    (0.19, 2.0, TacPattern.PLATEAU),     # 0.095 / h
    (-0.19, 2.0, TacPattern.PLATEAU),
    (-0.21, 2.0, TacPattern.DECREASING),  # -0.105 / h
])
def test_pattern_by_relative_slope(slope, level, expected):
    assert tac_pattern(slope, level, plateau_relative_slope_per_h=0.1) is expected


def test_isocontour_keeps_the_connected_voxels_above_the_fraction():
    # Max 10 at i = 2; 90 % = 9: i = 1 (9.5) and 2 (10) connect; i = 4 (9.2) is cut off by i = 3 (8).
    a = np.array([[[1.0, 9.5, 10.0, 8.0, 9.2]]])
    assert isocontour_voi(a, np.ones_like(a, bool), fraction=0.9).tolist() == [[[False, True, True, False, False]]]
    # 80 % = 8: i = 1 to 4 (8 >= 8), not i = 0 (1).
    assert isocontour_voi(a, np.ones_like(a, bool), fraction=0.8).sum() == 4


# ------------------------------------------------------------ TACs of frames (core, no files)


def test_time_activity_of_a_lesion_block_and_flat_background():
    # 20 x 20 x 20 voxels of 2 mm; background 1.0 in every frame; lesion block 2x2x2 with 3.0, 5.0, 4.0, 3.0
    # in frames 0-10, 10-20, 20-30, 30-40 min; frame-duration-weighted sum over 20-40 = 3.5.
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    levels = [3.0, 5.0, 4.0, 3.0]
    frames = []
    for level in levels:
        a = np.ones((20, 20, 20))
        a[9:11, 9:11, 4:6] = level
        frames.append(a)
    summed = Volume((frames[2] + frames[3]) / 2, affine)
    voi = np.zeros((20, 20, 20), bool)
    voi[7:13, 7:13, 2:8] = True
    m = measure_rois(summed, voi_mask=voi, background_centre_ijk=(14.0, 10.0, 10.0))
    tac = time_activity(frames, starts_min=[0, 10, 20, 30], durations_min=[10] * 4, summed=summed, measurement=m)
    assert tac.lesion_suvmean == tuple(levels)
    assert tac.background_suvmean == pytest.approx((1.0,) * 4)
    assert tac.ttp_min == 15.0  # the 10-20 min frame
    # Slope over 20-40: frames at 25 and 35 min, 4.0 -> 3.0: -0.1 SUV/min = -6 SUV/h; level at 30 min 3.5.
    assert tac.slope_suv_per_h == pytest.approx(-6.0) and tac.pattern is TacPattern.DECREASING
    assert tac.voi_ml == pytest.approx(8 * 0.008)
    assert tac.to_dict()["slope_window_min"] == [20.0, 40.0]


# ------------------------------------------------------------ gliopet measure PET_DYNAMIC --tracer fet

# Eight 5-min frames from 09:00 (the injection) to 09:40, DecayCorrection START to the series time 09:00:
# no decay, factor = 70 kg / 150 MBq = 70000 / 150e6 g/mL per Bq/mL for every frame.
FACTOR = 70_000 / 150e6
LESION_BQ = [2000, 6000, 5000, 4500, 4000, 3600, 3200, 2800]
SHAPE = (8, 32, 32)


def _write_dynamic(folder, *, skip=(), durations_s=None, swap_index=False):
    lam = math.log(2) / 6586.2
    for frame in range(8):
        if frame in skip:
            continue
        duration = 300 if durations_s is None else durations_s[frame]
        t_avg = math.log(lam * duration / (1 - math.exp(-lam * duration))) / lam
        stored = np.full(SHAPE, 1000, np.int16)
        stored[3:5, 4:6, 4:6] = LESION_BQ[frame]
        number = {5: 6, 6: 5}.get(frame, frame) if swap_index else frame
        header = {**pet_header(half_life_s=6586.2, series_time="090000", acq_time=f"09{5 * frame:02d}00"),
                  "SeriesType": ["DYNAMIC", "IMAGE"], "ActualFrameDuration": duration * 1000,
                  "NumberOfSlices": SHAPE[0], "FrameReferenceTime": f"{(300 * frame + t_avg) * 1000:.1f}"}
        paths = write_series(folder, stored, header=header, seed="fetdyn",
                             names=[f"f{frame}_s{k}.dcm" for k in range(SHAPE[0])],
                             per_slice=[{"ImageIndex": number * SHAPE[0] + k + 1} for k in range(SHAPE[0])])
        for path in paths:
            ds = pydicom.dcmread(path)
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
            ds.save_as(path)
    return folder


# Lesion block at i, j = 4..5, k = 3..4: LPS x = -100 + 2i, y = -120 + 2j, z = -50 + 3k.
LESION_POINT = "-91,-111,-39.5"
BACKGROUND_POINT = "-56,-76,-41"  # i = j = 22, k = 3: a 25 mm circle in the flat 1000 Bq/mL


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "gliopet.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_measure_dynamic_fet_gives_the_curves_by_hand(tmp_path):
    out = run_cli("measure", _write_dynamic(tmp_path), "--tracer", "fet", "--lesion", LESION_POINT,
                  "--background", BACKGROUND_POINT, "--json")
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    # Static image: the FET window 20-40 min, frames 20-25 ... 35-40 summed, the block (4000 + 3600 + 3200 +
    # 2800) / 4 = 3400 Bq/mL.
    assert record["suv"]["inputs"]["frames"]["value"]["summed_min_pi"] == [20.0, 40.0]
    assert record["suvmax"] == pytest.approx(3400 * FACTOR, rel=1e-5)
    dyn = record["dynamic"]
    assert dyn["lesion_tac_suvmean"] == pytest.approx([b * FACTOR for b in LESION_BQ], rel=1e-5)
    assert dyn["background_tac_suvmean"] == pytest.approx([1000 * FACTOR] * 8, rel=1e-5)
    assert dyn["ttp_min"] == pytest.approx(7.5)  # the 5-10 min frame
    # 20-40 min: -400 Bq/mL per 5 min = -4800 Bq/mL/h; relative -4800 / 3400 per hour.
    assert dyn["slope_suv_per_h"] == pytest.approx(-4800 * FACTOR, rel=1e-5)
    assert dyn["slope_relative_per_h"] == pytest.approx(-4800 / 3400, rel=1e-5)
    assert dyn["pattern"] == "decreasing" and dyn["tac_isocontour"] == 0.9
    assert dyn["lesion_voi_ml"] == pytest.approx(8 * 0.2 * 0.2 * 0.3)
    assert record["inputs"]["tracer"]["name"] == "fet"


def test_measure_dynamic_with_snapshot_draws_the_tacs(tmp_path):
    out = run_cli("measure", _write_dynamic(tmp_path / "pet"), "--tracer", "fet", "--lesion", LESION_POINT,
                  "--background", BACKGROUND_POINT, "--snapshot", tmp_path / "snap.png", "--json")
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["dynamic"]["tac_plot"] == str(tmp_path / "snap_tac.png")
    assert (tmp_path / "snap_tac.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("kwargs, needle", [
    ({"skip": (2,)}, "frame number 3 is missing"),
    ({"durations_s": [300, 300, 360, 300, 300, 300, 300, 300]}, "frames overlap"),
    ({"swap_index": True}, "frames out of order"),
])
def test_measure_dynamic_refuses_bad_framing_naming_the_frame(tmp_path, kwargs, needle):
    out = run_cli("measure", _write_dynamic(tmp_path, **kwargs), "--tracer", "fet", "--lesion", LESION_POINT,
                  "--background", BACKGROUND_POINT)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and ".dcm" in lines[0]
