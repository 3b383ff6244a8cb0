"""The patient link: recorded injected activity vs the PET DICOM dose, by hand."""

from datetime import datetime, timedelta, timezone

import pytest

from gliopet.errors import DicomError, InputError
from gliopet.radiopharmacy import INJECTED_ACTIVITY_TOLERANCE, compare_injected_activity

T_GA68_S = 67.71 * 60
INJECTED = datetime(2026, 3, 14, 8, 45)


def test_tolerance_is_five_percent():
    assert INJECTED_ACTIVITY_TOLERANCE == 0.05


def test_same_dose_logged_at_a_later_start_time_agrees_after_decay():
    # 167.75 MBq injected at 08:45; the scanner console logged the dose at 09:00 as the
    # decayed value 167.75 * 2^(-15/67.71) MBq: no difference.
    # 15/67.71 = 0.221533; x ln 2 = 0.153555; exp(-0.153555) = 0.857653; x 167.75 = 143.87
    dicom_dose = 167.75e6 * 2 ** (-15 / 67.71)
    assert dicom_dose / 1e6 == pytest.approx(143.87, abs=0.01)
    c = compare_injected_activity(recorded_bq=167.75e6, recorded_time=INJECTED,
                                  dicom_total_dose_bq=dicom_dose,
                                  dicom_start_time=INJECTED + timedelta(minutes=15),
                                  half_life_s=T_GA68_S)
    assert c.relative_difference == pytest.approx(0.0, abs=1e-12)
    assert c.recorded_at_dicom_time_bq == pytest.approx(dicom_dose, rel=1e-12)
    assert c.elapsed_s == 900.0
    assert c.flagged is False


def test_undecayed_dose_at_a_later_start_time_is_flagged():
    # the undecayed 167.75 MBq typed in with start time 09:00 is 2^(15/67.71) - 1 high:
    # 1 / 0.857653 - 1 = 0.16597, +16.6 %
    c = compare_injected_activity(recorded_bq=167.75e6, recorded_time=INJECTED,
                                  dicom_total_dose_bq=167.75e6,
                                  dicom_start_time=INJECTED + timedelta(minutes=15),
                                  half_life_s=T_GA68_S)
    assert c.relative_difference == pytest.approx(2 ** (15 / 67.71) - 1, rel=1e-12)
    assert c.relative_difference == pytest.approx(0.16597, abs=2e-5)
    assert c.flagged is True
    assert "differs by more than 5 %" in c.message
    assert "+16.6 %" in c.message


@pytest.mark.parametrize("dicom_mbq, flagged", [
    (157.5, False),   # 157.5 / 150 - 1 = +5.0 %: not over 5 %
    (157.6, True),    # +5.07 %
    (142.5, False),   # -5.0 %
    (142.4, True),    # -5.07 %
])
def test_five_percent_boundary_at_the_same_time(dicom_mbq, flagged):
    c = compare_injected_activity(recorded_bq=150e6, recorded_time=INJECTED,
                                  dicom_total_dose_bq=dicom_mbq * 1e6, dicom_start_time=INJECTED,
                                  half_life_s=T_GA68_S)
    assert c.relative_difference == pytest.approx(dicom_mbq / 150 - 1, rel=1e-9)
    assert c.flagged is flagged


def test_dicom_start_before_the_recorded_time_corrects_back():
    # record 150 MBq at 08:45; DICOM start 08:40 with 150 * 2^(5/67.71) MBq: agrees.
    # 5/67.71 = 0.073844; x ln 2 = 0.051185; exp(0.051185) = 1.052518; x 150 = 157.88
    c = compare_injected_activity(recorded_bq=150e6, recorded_time=INJECTED,
                                  dicom_total_dose_bq=150e6 * 2 ** (5 / 67.71),
                                  dicom_start_time=INJECTED - timedelta(minutes=5),
                                  half_life_s=T_GA68_S)
    assert c.recorded_at_dicom_time_bq / 1e6 == pytest.approx(157.88, abs=0.01)
    assert c.flagged is False


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(recorded_bq=0.0), InputError, "recorded injected activity must be > 0"),
    (dict(dicom_total_dose_bq=-1.0), DicomError, r"\(0018,1074\) RadionuclideTotalDose"),
    (dict(dicom_start_time=datetime(2026, 3, 14, 9, 0, tzinfo=timezone.utc)), InputError,
     "with a timezone and one without"),
])
def test_bad_input(kwargs, error, match):
    args = dict(recorded_bq=150e6, recorded_time=INJECTED, dicom_total_dose_bq=150e6,
                dicom_start_time=INJECTED, half_life_s=T_GA68_S)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        compare_injected_activity(**args)
