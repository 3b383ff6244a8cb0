"""Link to patients: the recorded injected activity against the PET DICOM's dose.

The radiopharmacy records the activity injected into a patient (from the
syringe before and after, at the injection time); the PET series carries
RadionuclideTotalDose (0018,1074), the activity administered, in Bq, at the
radiopharmaceutical start time (0018,1072)/(0018,1078) (DICOM PS3.3 C.8.9.2,
PET Isotope Module, Radiopharmaceutical Information Sequence). Both are brought to that start time by decay and compared; a
difference larger than :data:`INJECTED_ACTIVITY_TOLERANCE` is flagged, because
the SUV divides by this dose.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime

from ..errors import DicomError, InputError
from .decay import activity_at_bq, elapsed_s

logger = logging.getLogger(__name__)

__all__ = ["INJECTED_ACTIVITY_TOLERANCE", "InjectedActivityComparison",
           "compare_injected_activity"]

#: Relative difference (fraction) above which the two doses are flagged: 5 %.
INJECTED_ACTIVITY_TOLERANCE = 0.05


@dataclass(frozen=True, slots=True)
class InjectedActivityComparison:
    """Result of :func:`compare_injected_activity`.

    Attributes
    ----------
    recorded_bq : float
        The radiopharmacy's injected activity at ``recorded_time``.
    recorded_at_dicom_time_bq : float
        The same decayed (or corrected back) to the DICOM start time.
    dicom_total_dose_bq : float
        RadionuclideTotalDose as stored (activity at the DICOM start time).
    elapsed_s : float
        DICOM start time minus recorded time, seconds.
    relative_difference : float
        ``(dicom - recorded_at_dicom_time) / recorded_at_dicom_time``.
    flagged : bool
        ``abs(relative_difference) > tolerance``.
    message : str
        One line for ``gliopet inspect`` and the report.
    """

    recorded_bq: float
    recorded_at_dicom_time_bq: float
    dicom_total_dose_bq: float
    elapsed_s: float
    relative_difference: float
    tolerance: float
    flagged: bool
    message: str


def compare_injected_activity(*, recorded_bq: float, recorded_time: datetime,
                              dicom_total_dose_bq: float, dicom_start_time: datetime,
                              half_life_s: float,
                              tolerance: float = INJECTED_ACTIVITY_TOLERANCE
                              ) -> InjectedActivityComparison:
    """Compare the recorded injected activity with the DICOM dose at a common time.

    Parameters
    ----------
    recorded_bq : float
        Injected activity from the radiopharmacy record, Bq, at ``recorded_time``
        (e.g. ``ReleaseDecision.injections[i]['injected_mbq'] * 1e6`` at its
        ``injection_time``).
    recorded_time : datetime
        When ``recorded_bq`` applies.
    dicom_total_dose_bq : float
        (0018,1074) RadionuclideTotalDose, Bq.
    dicom_start_time : datetime
        (0018,1078) RadiopharmaceuticalStartDateTime (or StudyDate +
        (0018,1072) RadiopharmaceuticalStartTime).
    half_life_s : float
        (0018,1075) RadionuclideHalfLife or the nuclide's nominal half-life, s.
    tolerance : float, keyword-only
        Largest accepted relative difference (fraction), default 0.05.

    Returns
    -------
    InjectedActivityComparison

    Raises
    ------
    InputError
        ``recorded_bq`` not positive, or one time with and one without UTC offset.
    DicomError
        ``dicom_total_dose_bq`` not positive.

    References
    ----------
    DICOM PS3.3 C.8.9.2 PET Isotope Module, Radiopharmaceutical Information
    Sequence (0054,0016):
    RadionuclideTotalDose (0018,1074) is the activity at
    RadiopharmaceuticalStartDateTime (0018,1078).

    Examples
    --------
    >>> from datetime import datetime
    >>> c = compare_injected_activity(
    ...     recorded_bq=150e6, recorded_time=datetime(2026, 3, 14, 10, 0),
    ...     dicom_total_dose_bq=150e6, dicom_start_time=datetime(2026, 3, 14, 10, 0),
    ...     half_life_s=67.71 * 60)
    >>> c.relative_difference, c.flagged
    (0.0, False)
    """
    if not (math.isfinite(recorded_bq) and recorded_bq > 0):
        raise InputError(f"recorded injected activity must be > 0 Bq, got {recorded_bq!r}")
    if not (math.isfinite(dicom_total_dose_bq) and dicom_total_dose_bq > 0):
        raise DicomError(f"(0018,1074) RadionuclideTotalDose must be > 0 Bq, got "
                         f"{dicom_total_dose_bq!r}")
    if not tolerance >= 0:
        raise InputError(f"tolerance must be >= 0, got {tolerance!r}")
    gap = elapsed_s(recorded_time, dicom_start_time)
    recorded_then = activity_at_bq(recorded_bq, measured_at=recorded_time,
                                   target_time=dicom_start_time, half_life_s=half_life_s)
    relative = (dicom_total_dose_bq - recorded_then) / recorded_then
    flagged = abs(relative) > tolerance
    message = (f"injected activity: DICOM RadionuclideTotalDose {dicom_total_dose_bq / 1e6:.1f} MBq"
               f" vs radiopharmacy record {recorded_then / 1e6:.1f} MBq at the DICOM start time "
               f"({100 * relative:+.1f} %)"
               + (f": differs by more than {100 * tolerance:g} %" if flagged else ""))
    if flagged:
        logger.warning(message)
    return InjectedActivityComparison(recorded_bq=float(recorded_bq),
                                      recorded_at_dicom_time_bq=recorded_then,
                                      dicom_total_dose_bq=float(dicom_total_dose_bq),
                                      elapsed_s=gap, relative_difference=relative,
                                      tolerance=float(tolerance), flagged=flagged,
                                      message=message)
