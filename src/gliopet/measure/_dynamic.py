"""Time-activity curves of a dynamic PET (amino-acid PET kinetics): pure.

A dynamic series is a list of SUV frames with their start and duration
(minutes after injection). From them:

- the framing is checked (:func:`check_framing`): frames in time order, none
  overlapping, none missing;
- the lesion's TAC is the mean SUV per frame inside a VOI drawn on the summed
  (static) image: the voxels >= ``isocontour`` x its maximum inside the lesion
  VOI, connected (26-neighbour) to the maximum (:func:`isocontour_voi`; 90 %
  isocontour as in the FET kinetics literature, e.g. Jansen et al. Neuro Oncol
  2015;17:1007);
- the background's TAC is the study's background ROI (the 25 mm circle or the
  crescent) applied to every frame;
- time to peak (:func:`time_to_peak_min`), late slope (:func:`late_slope`,
  least squares over a stated window) and the curve pattern
  (:func:`tac_pattern`).

Every threshold is a parameter; the defaults are named constants with their
source. The tracer presets (``data/tracers/presets.json``) carry the values
used by ``gliopet measure --tracer``.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy import ndimage

from ..errors import MeasurementError
from ..volume import Volume
from ._record import Measurement
from ._rois import RegionRoi, circle_roi, region_roi

__all__ = ["DYNAMIC_COLUMNS", "SIGNED_DYNAMIC_COLUMNS", "dynamic_columns", "FRAME_TOLERANCE_MIN", "TAC_ISOCONTOUR",
           "SLOPE_WINDOW_MIN", "PLATEAU_RELATIVE_SLOPE_PER_H",
           "TacPattern", "TimeActivity", "check_framing", "isocontour_voi", "time_to_peak_min", "late_slope",
           "tac_pattern", "time_activity"]

#: The analysis table's columns of a dynamic series (from ``record["dynamic"]``): time to peak (min p.i.),
#: late slope (SUV/h) and the curve pattern.
DYNAMIC_COLUMNS = ("tac_ttp_min", "tac_slope_suv_per_h", "tac_pattern")
#: Of those, the numbers that may be negative (a decreasing curve's slope).
SIGNED_DYNAMIC_COLUMNS = ("tac_slope_suv_per_h",)
#: Frames whose boundaries differ by less than this (1 s) are contiguous.
FRAME_TOLERANCE_MIN = 1.0 / 60.0
#: Lesion TAC VOI: 90 % isocontour of the summed image's maximum (FET kinetics literature; Law et al. 2019).
TAC_ISOCONTOUR = 0.9
#: Late-slope window, minutes after injection (issue 20; FET 20-40 min p.i.).
SLOPE_WINDOW_MIN = (20.0, 40.0)
#: |slope| / fitted SUV at the window's middle below this (per hour) is a plateau: gliopet's choice.
PLATEAU_RELATIVE_SLOPE_PER_H = 0.1


class TacPattern(str, enum.Enum):
    """The curve's late course (Pöpperl et al. 2007: increasing, plateau, early peak and decreasing)."""

    INCREASING = "increasing"
    PLATEAU = "plateau"
    DECREASING = "decreasing"


def dynamic_columns(dynamic: dict[str, Any] | None) -> dict[str, Any]:
    """The :data:`DYNAMIC_COLUMNS` of a measurement record's ``dynamic`` part (empty without one).

    >>> dynamic_columns({"ttp_min": 7.75, "slope_suv_per_h": -6.1, "pattern": "decreasing"})
    {'tac_ttp_min': 7.75, 'tac_slope_suv_per_h': -6.1, 'tac_pattern': 'decreasing'}
    """
    if not dynamic:
        return {}
    return {"tac_ttp_min": dynamic["ttp_min"], "tac_slope_suv_per_h": dynamic["slope_suv_per_h"],
            "tac_pattern": dynamic["pattern"]}


def check_framing(starts_min: Sequence[float], durations_min: Sequence[float], *, expected_n: int | None = None,
                  names: Sequence[str] | None = None, numbers: Sequence[int] | None = None,
                  tolerance_min: float = FRAME_TOLERANCE_MIN) -> None:
    """Refuse frames out of time order, overlapping, or with a gap (a missing frame).

    Parameters
    ----------
    starts_min, durations_min : (N,) floats
        Each frame's start (minutes after injection) and duration (minutes), in the order given.
    expected_n : int, optional
        The number of frames the series declares ((0054,0101) NumberOfTimeSlices).
    names : N strings, optional
        How each frame is named in messages (e.g. its first file); default ``frame <n>`` (1-based).
    numbers : N ints, optional
        Each frame's number in the series (1-based, e.g. from (0054,1330) ImageIndex): they must
        rise by one in time order (else a frame is missing or out of order).

    Raises
    ------
    MeasurementError
        Naming the frame at fault.

    Examples
    --------
    >>> check_framing([0.0, 1.0, 2.0], [1.0, 1.0, 1.0])
    >>> check_framing([0.0, 2.0], [1.0, 1.0])
    Traceback (most recent call last):
    ...
    gliopet.errors.MeasurementError: frame 2 starts at 2 min p.i., 1 min after frame 1 ends (1 min): a frame is missing
    """
    starts = [float(v) for v in starts_min]
    durations = [float(v) for v in durations_min]
    label = list(names) if names is not None else [f"frame {n + 1}" for n in range(len(starts))]
    if len(durations) != len(starts) or len(label) != len(starts):
        raise MeasurementError(f"{len(starts)} frame starts, {len(durations)} durations, {len(label)} names")
    for n, (start, duration) in enumerate(zip(starts, durations)):
        if not (math.isfinite(start) and math.isfinite(duration) and duration > 0):
            raise MeasurementError(f"{label[n]}: start {start} min, duration {duration} min; a frame needs a finite "
                                   "start and a duration > 0 ((0008,0032) AcquisitionTime, (0018,1242) "
                                   "ActualFrameDuration)")
    if numbers is not None:
        for n in range(1, len(starts)):
            if numbers[n] < numbers[n - 1]:
                raise MeasurementError(f"{label[n]} (frame number {numbers[n]}) is acquired after {label[n - 1]} "
                                       f"(frame number {numbers[n - 1]}): frames out of order")
        for n in range(1, len(starts)):
            if numbers[n] > numbers[n - 1] + 1:
                raise MeasurementError(f"frame number {numbers[n - 1] + 1} is missing (between {label[n - 1]} "
                                       f"and {label[n]})")
    if expected_n is not None and expected_n != len(starts):
        raise MeasurementError(f"{label[0]}: (0054,0101) NumberOfTimeSlices is {expected_n} but {len(starts)} "
                               f"frames were found: {expected_n - len(starts)} frame(s) missing")
    for n in range(1, len(starts)):
        end = starts[n - 1] + durations[n - 1]
        if starts[n] < starts[n - 1]:
            raise MeasurementError(f"{label[n]} starts at {starts[n]:g} min p.i., before {label[n - 1]} "
                                   f"({starts[n - 1]:g} min): frames out of order")
        if starts[n] < end - tolerance_min:
            raise MeasurementError(f"{label[n]} starts at {starts[n]:g} min p.i., before {label[n - 1]} ends "
                                   f"({end:g} min): frames overlap")
        if starts[n] > end + tolerance_min:
            raise MeasurementError(f"{label[n]} starts at {starts[n]:g} min p.i., {starts[n] - end:g} min after "
                                   f"{label[n - 1]} ends ({end:g} min): a frame is missing")


def isocontour_voi(summed: np.ndarray, within: np.ndarray, *, fraction: float = TAC_ISOCONTOUR) -> np.ndarray:
    """Voxels >= ``fraction`` x the maximum of ``summed`` inside ``within``, connected to that maximum.

    Parameters
    ----------
    summed : (K, J, I) array
        The static (summed) SUV image.
    within : (K, J, I) bool array
        The lesion VOI the maximum is searched in (and the isocontour kept to).
    fraction : float
        In (0, 1].

    Examples
    --------
    >>> a = np.zeros((1, 1, 5)); a[0, 0] = [1.0, 9.5, 10.0, 8.0, 9.2]
    >>> isocontour_voi(a, np.ones_like(a, bool)).astype(int).tolist()
    [[[0, 1, 1, 0, 0]]]
    """
    if not 0 < fraction <= 1:
        raise MeasurementError(f"TAC isocontour {fraction!r} must be in (0, 1]")
    within = np.asarray(within, dtype=bool)
    if within.shape != summed.shape or not within.any():
        raise MeasurementError("the lesion VOI for the TAC is empty or not on the PET grid")
    values = np.where(within, np.asarray(summed, dtype=np.float64), -np.inf)
    peak = np.unravel_index(int(np.argmax(values)), values.shape)
    labels, _ = ndimage.label(values >= fraction * values[peak], structure=np.ones((3, 3, 3), dtype=bool))
    return labels == labels[peak]


def time_to_peak_min(mid_times_min: Sequence[float], values: Sequence[float]) -> float:
    """The frame mid-time (minutes p.i.) of the curve's maximum (the earliest on a tie).

    >>> time_to_peak_min([5.0, 15.0, 25.0], [2.0, 3.0, 2.5])
    15.0
    """
    return float(np.asarray(mid_times_min, dtype=np.float64)[int(np.argmax(np.asarray(values)))])


def late_slope(starts_min: Sequence[float], durations_min: Sequence[float], values: Sequence[float], *,
               window_min: tuple[float, float] = SLOPE_WINDOW_MIN,
               tolerance_min: float = FRAME_TOLERANCE_MIN) -> tuple[float, float, int]:
    """Least-squares line through (frame mid-time, value) of the frames lying inside ``window_min``.

    ``slope = sum((t - t_bar)(y - y_bar)) / sum((t - t_bar)^2)`` per minute,
    reported per hour (x 60).

    Returns
    -------
    slope_per_h : float
        SUV/h.
    value_at_middle : float
        The line's value at the window's middle (for the relative slope of :func:`tac_pattern`).
    n_frames : int
        Frames fitted.

    Raises
    ------
    MeasurementError
        Fewer than two frames lie inside the window.

    Examples
    --------
    >>> late_slope([20, 25, 30, 35], [5, 5, 5, 5], [3.0, 2.9, 2.8, 2.7], window_min=(20, 40))
    (-1.2, 2.85, 4)
    """
    start, end = (float(v) for v in window_min)
    t0 = np.asarray(starts_min, dtype=np.float64)
    dt = np.asarray(durations_min, dtype=np.float64)
    inside = (t0 >= start - tolerance_min) & (t0 + dt <= end + tolerance_min)
    if np.count_nonzero(inside) < 2:
        raise MeasurementError(f"late slope over {start:g}-{end:g} min p.i.: {np.count_nonzero(inside)} frame(s) "
                               "lie inside the window; a line needs two")
    t = (t0 + dt / 2.0)[inside]
    y = np.asarray(values, dtype=np.float64)[inside]
    tc = t - t.mean()
    per_min = float((tc * (y - y.mean())).sum() / (tc * tc).sum())
    middle = float(y.mean() + per_min * ((start + end) / 2.0 - t.mean()))
    return round(per_min * 60.0, 12), round(middle, 12), int(np.count_nonzero(inside))


def tac_pattern(slope_per_h: float, value_at_middle: float, *,
                plateau_relative_slope_per_h: float = PLATEAU_RELATIVE_SLOPE_PER_H) -> TacPattern:
    """Increasing, plateau or decreasing, by the late slope relative to the curve's level.

    >>> tac_pattern(0.5, 2.0).value, tac_pattern(-0.1, 2.0).value, tac_pattern(-0.5, 2.0).value
    ('increasing', 'plateau', 'decreasing')
    """
    relative = slope_per_h / value_at_middle if value_at_middle > 0 else math.copysign(math.inf, slope_per_h)
    if abs(relative) < plateau_relative_slope_per_h:
        return TacPattern.PLATEAU
    return TacPattern.INCREASING if relative > 0 else TacPattern.DECREASING


@dataclass(frozen=True)
class TimeActivity:
    """The lesion's and background's TACs and the curve metrics."""

    starts_min: tuple[float, ...]
    durations_min: tuple[float, ...]
    lesion_suvmean: tuple[float, ...]
    background_suvmean: tuple[float, ...]
    ttp_min: float
    slope_suv_per_h: float
    pattern: TacPattern
    voi_ml: float
    settings: dict[str, Any]

    @property
    def mid_times_min(self) -> tuple[float, ...]:
        return tuple(s + d / 2.0 for s, d in zip(self.starts_min, self.durations_min))

    def to_dict(self) -> dict[str, Any]:
        return {"ttp_min": self.ttp_min, "slope_suv_per_h": self.slope_suv_per_h, "pattern": self.pattern.value,
                "frames": {"start_min_pi": list(self.starts_min), "duration_min": list(self.durations_min),
                           "mid_min_pi": [round(v, 6) for v in self.mid_times_min]},
                "lesion_tac_suvmean": list(self.lesion_suvmean), "background_tac_suvmean": list(self.background_suvmean),
                "lesion_voi_ml": self.voi_ml, **self.settings}


def _background_mean(frame: Volume, background) -> float:
    if isinstance(background, RegionRoi):
        return region_roi(frame, background.mask, method=background.method).suvmean
    return circle_roi(frame, centre_ijk=background.centre_ijk, diameter_mm=background.diameter_mm,
                      method=background.method, resliced=background.resliced).suvmean


def time_activity(frames: Sequence[np.ndarray], *, starts_min: Sequence[float], durations_min: Sequence[float],
                  summed: Volume, measurement: Measurement, isocontour: float = TAC_ISOCONTOUR,
                  slope_window_min: tuple[float, float] = SLOPE_WINDOW_MIN,
                  plateau_relative_slope_per_h: float = PLATEAU_RELATIVE_SLOPE_PER_H,
                  expected_n: int | None = None, names: Sequence[str] | None = None,
                  numbers: Sequence[int] | None = None) -> TimeActivity:
    """TACs of a dynamic series measured on its summed image (``measurement``'s lesion VOI and background).

    Parameters
    ----------
    frames : N arrays (K, J, I)
        SUV of each frame, on ``summed``'s grid, in time order.
    starts_min, durations_min : N floats
        Frame timing, minutes after injection.
    summed : Volume
        The static image ``measurement`` was made on.
    measurement : Measurement
        Its ``voi`` (the lesion VOI) and ``background`` ROI are used.

    Raises
    ------
    MeasurementError
        Bad framing (:func:`check_framing`), frames on another grid, no lesion VOI.
    """
    check_framing(starts_min, durations_min, expected_n=expected_n, names=names, numbers=numbers)
    if measurement.voi is None:
        raise MeasurementError("the measurement carries no lesion VOI for the TAC")
    stack = [np.asarray(f) for f in frames]
    if len(stack) != len(starts_min) or any(f.shape != summed.shape for f in stack):
        raise MeasurementError(f"{len(stack)} frames for {len(starts_min)} timings, or a frame not on the "
                               f"summed image's grid {summed.shape}")
    voi = isocontour_voi(summed.array, measurement.voi, fraction=isocontour)
    lesion = tuple(float(np.asarray(f, dtype=np.float64)[voi].mean()) for f in stack)
    background = tuple(float(_background_mean(summed.with_array(f), measurement.background)) for f in stack)
    mids = [s + d / 2.0 for s, d in zip(starts_min, durations_min)]
    slope, middle, n_fit = late_slope(starts_min, durations_min, lesion, window_min=slope_window_min)
    pattern = tac_pattern(slope, middle, plateau_relative_slope_per_h=plateau_relative_slope_per_h)
    settings = {"tac_isocontour": isocontour, "slope_window_min": [float(v) for v in slope_window_min],
                "slope_frames": n_fit, "pattern_plateau_relative_slope_per_h": plateau_relative_slope_per_h,
                "slope_relative_per_h": round(slope / middle, 6) if middle > 0 else None,
                "ttp_definition": "mid-time of the frame with the highest lesion mean",
                "slope_definition": "least-squares line through (frame mid-time, lesion mean) of the frames "
                                    "inside the window"}
    return TimeActivity(starts_min=tuple(float(v) for v in starts_min),
                        durations_min=tuple(float(v) for v in durations_min), lesion_suvmean=lesion,
                        background_suvmean=background, ttp_min=time_to_peak_min(mids, lesion),
                        slope_suv_per_h=slope, pattern=pattern, voi_ml=float(voi.sum()) * summed.voxel_volume_ml,
                        settings=settings)
