"""The radioactive decay law, once for the whole of gliopet (pure).

``A(t) = A(t0) * 2 ** (-(t - t0) / T_half)`` (ICRU Report 85, section 3.2). It
runs both ways: a negative elapsed time corrects back. The SUV factor
(:mod:`gliopet.suv`), the radiopharmacy's activity records
(:mod:`gliopet.radiopharmacy.decay`) and the simulator's acquisition
(:mod:`gliopet.simulate`) all decay through these functions.

References
----------
ICRU Report 85 (2011), section 3.2, the exponential decay law.
IBSI, "Reference manual: standardised uptake value calculation" (time of the
average count rate within a frame).
DICOM PS3.3 C.8.9.4, DecayCorrection START (frame-average activity).
"""

from __future__ import annotations

import math

import numpy as np

from .errors import InputError

__all__ = ["decay_factor", "decayed_activity_bq", "frame_average_factor", "average_count_rate_time_s"]


def _check_half_life(half_life_s: float) -> None:
    if not half_life_s > 0 or not math.isfinite(half_life_s):
        raise InputError(f"half-life must be a positive number of seconds, got {half_life_s!r}")


def decay_factor(elapsed_s: float | np.ndarray, half_life_s: float) -> float | np.ndarray:
    """``2 ** (-elapsed_s / half_life_s)``: the fraction left after ``elapsed_s``.

    Parameters
    ----------
    elapsed_s : float or array
        Seconds; negative values give the factor > 1 that corrects back.
    half_life_s : float
        Physical half-life in seconds, > 0.

    Raises
    ------
    InputError
        A half-life that is not a positive finite number.

    Examples
    --------
    >>> decay_factor(67.71 * 60, 67.71 * 60)
    0.5
    """
    _check_half_life(half_life_s)
    if isinstance(elapsed_s, np.ndarray):
        return np.power(2.0, -elapsed_s.astype(np.float64) / half_life_s)
    return 2.0 ** (-float(elapsed_s) / float(half_life_s))


def decayed_activity_bq(activity_bq: float, *, elapsed_s: float, half_life_s: float) -> float:
    """Activity after ``elapsed_s`` seconds of decay (before it, if negative): ``A * 2 ** (-t / T1/2)``.

    Examples
    --------
    >>> decayed_activity_bq(100e6, elapsed_s=4062.6, half_life_s=4062.6)
    50000000.0
    """
    return float(activity_bq) * decay_factor(elapsed_s, half_life_s)


def frame_average_factor(frame_s: float, *, half_life_s: float) -> float:
    """Activity at a frame's start over the frame's average activity: ``lambda T / (1 - exp(-lambda T))``.

    Counts in a frame of length T from activity A0 at its start are
    ``A0 (1 - exp(-lambda T)) / lambda``; divided by T they give the frame
    average, so multiplying the frame average by this factor gives the
    activity at the frame's start (DecayCorrection START).

    Examples
    --------
    >>> round(frame_average_factor(600.0, half_life_s=4062.6), 6)
    1.052058
    """
    _check_half_life(half_life_s)
    lam = math.log(2.0) / half_life_s
    return lam * frame_s / (1.0 - math.exp(-lam * frame_s))


def average_count_rate_time_s(*, frame_duration_s: float, half_life_s: float) -> float:
    """Time after a frame's start at which the decaying activity equals its frame average.

    ``t_avg = ln(lambda T / (1 - exp(-lambda T))) / lambda`` with
    ``lambda = ln 2 / T1/2`` (IBSI; tends to T/2 for short frames).

    Raises
    ------
    InputError
        A frame duration that is not > 0.

    Examples
    --------
    >>> round(average_count_rate_time_s(frame_duration_s=1.0, half_life_s=4062.6), 4)
    0.5
    """
    _check_half_life(half_life_s)
    if not frame_duration_s > 0:
        raise InputError(f"frame duration must be > 0 s, got {frame_duration_s!r}")
    lam = math.log(2.0) / half_life_s
    x = lam * frame_duration_s
    return math.log(x / -math.expm1(-x)) / lam
