"""Radioactive decay arithmetic: activity at any time, and the injected activity.

Pure functions on plain values. Times are :class:`datetime.datetime` (all naive
or all timezone-aware, never mixed) or elapsed seconds; activities are in
becquerels; half-lives in seconds.

The decay law is ``A(t) = A(t0) * 2 ** (-(t - t0) / T_half)`` (ICRU Report 85,
section 3.2). It runs both ways: a negative elapsed time decay-corrects back.
"""

from __future__ import annotations

import logging
from datetime import datetime

from ..decay import decay_factor, decayed_activity_bq
from ..errors import InputError

logger = logging.getLogger(__name__)

__all__ = [
    "GA68_HALF_LIFE_MIN",
    "GA68_HALF_LIFE_S",
    "ACTIVITY_UNITS_BQ",
    "activity_to_bq",
    "decay_factor",
    "decay_activity_bq",
    "activity_at_bq",
    "injected_activity_bq",
    "elapsed_s",
]

#: Nominal 68Ga half-life in minutes (the study's specification; NNDC/ENSDF 67.71 min).
GA68_HALF_LIFE_MIN = 67.71
#: The same in seconds.
GA68_HALF_LIFE_S = GA68_HALF_LIFE_MIN * 60.0

#: Becquerels per unit for the activity units a dose calibrator shows
#: (1 Ci = 3.7e10 Bq exactly, by definition).
ACTIVITY_UNITS_BQ = {
    "Bq": 1.0,
    "kBq": 1e3,
    "MBq": 1e6,
    "GBq": 1e9,
    "uCi": 3.7e4,
    "µCi": 3.7e4,
    "mCi": 3.7e7,
    "Ci": 3.7e10,
}


def activity_to_bq(value: float, unit: str) -> float:
    """Convert an activity ``value`` in ``unit`` (one of :data:`ACTIVITY_UNITS_BQ`) to Bq.

    Examples
    --------
    >>> activity_to_bq(4.0, "mCi")  # 4 x 37 MBq
    148000000.0
    """
    try:
        return float(value) * ACTIVITY_UNITS_BQ[unit]
    except KeyError:
        raise InputError(f"unknown activity unit {unit!r}; use one of "
                         f"{', '.join(ACTIVITY_UNITS_BQ)}") from None


def elapsed_s(start: datetime, end: datetime) -> float:
    """Seconds from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    if (start.tzinfo is None) != (end.tzinfo is None):
        raise InputError(f"cannot compare a time with a timezone and one without "
                         f"({start.isoformat()} and {end.isoformat()})")
    return (end - start).total_seconds()


def decay_activity_bq(activity_bq: float, *, elapsed_time_s: float, half_life_s: float) -> float:
    """Activity after ``elapsed_time_s`` seconds of decay (before, if negative): :mod:`gliopet.decay`."""
    return decayed_activity_bq(activity_bq, elapsed_s=elapsed_time_s, half_life_s=half_life_s)


def activity_at_bq(activity_bq: float, *, measured_at: datetime, target_time: datetime,
                   half_life_s: float) -> float:
    """Activity measured at ``measured_at`` decayed (or corrected back) to ``target_time``.

    References
    ----------
    ICRU Report 85 (2011), section 3.2, the exponential decay law.

    Examples
    --------
    >>> from datetime import datetime
    >>> round(activity_at_bq(200e6, measured_at=datetime(2026, 1, 1, 9, 0),
    ...                      target_time=datetime(2026, 1, 1, 10, 7, 42, 600000),
    ...                      half_life_s=67.71 * 60))
    100000000
    """
    return decay_activity_bq(activity_bq, elapsed_time_s=elapsed_s(measured_at, target_time),
                             half_life_s=half_life_s)


def injected_activity_bq(*, syringe_before_bq: float, before_time: datetime,
                         syringe_after_bq: float, after_time: datetime,
                         injection_time: datetime, half_life_s: float) -> float:
    """Activity injected into the patient, at the injection time.

    The full syringe is decayed to the injection time and the residual activity
    left in the syringe (measured after the injection) is corrected back to it:
    ``A_inj = A_before * 2**(-(t_inj - t_before)/T) - A_after * 2**((t_after - t_inj)/T)``.

    Parameters
    ----------
    syringe_before_bq, syringe_after_bq : float
        Dose-calibrator readings of the syringe before and after injection, Bq.
    before_time, after_time, injection_time : datetime
        When each reading was taken and when the activity was injected;
        ``before_time <= injection_time <= after_time``.
    half_life_s : float
        Physical half-life of the nuclide, seconds.

    Returns
    -------
    float
        Injected activity at ``injection_time``, Bq.

    Raises
    ------
    InputError
        Times out of order, a negative reading, or a residual larger than
        the syringe's content.

    References
    ----------
    Boellaard R. et al., FDG PET/CT: EANM procedure guidelines for tumour
    imaging, version 2.0, Eur J Nucl Med Mol Imaging 2015;42:328-354: the
    residual activity in the syringe is measured and subtracted, both
    decay-corrected to the time of injection.
    """
    if syringe_before_bq < 0 or syringe_after_bq < 0:
        raise InputError("syringe activities must not be negative "
                         f"(before {syringe_before_bq} Bq, after {syringe_after_bq} Bq)")
    if elapsed_s(before_time, injection_time) < 0:
        raise InputError(f"injection time {injection_time.isoformat()} is before the full-syringe "
                         f"reading at {before_time.isoformat()}")
    if elapsed_s(injection_time, after_time) < 0:
        raise InputError(f"residual-syringe reading at {after_time.isoformat()} is before the "
                         f"injection time {injection_time.isoformat()}")
    full = activity_at_bq(syringe_before_bq, measured_at=before_time, target_time=injection_time,
                          half_life_s=half_life_s)
    residual = activity_at_bq(syringe_after_bq, measured_at=after_time,
                              target_time=injection_time, half_life_s=half_life_s)
    if residual > full:
        raise InputError(f"residual syringe activity ({residual / 1e6:.2f} MBq at injection) "
                         f"exceeds the full syringe ({full / 1e6:.2f} MBq at injection)")
    return full - residual
