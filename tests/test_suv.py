"""The SUV factor, branch by branch, against values worked out by hand from the formulas."""

import math
from datetime import datetime, timedelta

import pytest

from gliopet.errors import SuvError
from gliopet.suv import (
    PetTiming,
    average_count_rate_time_s,
    bsa_du_bois_m2,
    compute_suv,
    ibw_devine_kg,
    lbm_janmahasatian_kg,
    suv_bw_factor,
)

GA68_S = 4062.6  # 68Ga half-life, 67.71 min
F18_S = 6586.2  # 18F half-life, 109.77 min
DAY = datetime(2024, 1, 15)


def at(hh, mm=0, ss=0, day=DAY):
    return day.replace(hour=hh, minute=mm, second=ss)


def base(**overrides):
    kwargs = dict(units="BQML", decay_correction="START", corrected_image=["ATTN", "DECY"], weight_kg=70.0,
                  height_m=1.75, sex="M", injected_bq=150e6, half_life_s=GA68_S,
                  start_datetime=at(9, 0), series_datetime=at(10, 0),
                  timing=PetTiming(acquisition=(at(10, 0),) * 3), n_slices=3)
    kwargs.update(overrides)
    return kwargs


def test_style_guide_example():
    # 70 kg, 200 MBq F-18 given 3600 s before the scan (T1/2 = 6586.2 s)
    expected = 70_000 / (200e6 * 2 ** (-3600 / 6586.2))
    assert suv_bw_factor(weight_kg=70, injected_bq=200e6, decay_time_s=3600,
                         half_life_s=F18_S) == pytest.approx(expected, rel=1e-12)


def test_bqml_start_series_time_ga68():
    # 150 MBq 68Ga at 09:00, series (and acquisition) at 10:00: 3600 s of decay.
    expected = 70_000 / (150e6 * 2 ** (-3600 / 4062.6))
    result = compute_suv(**base())
    assert result.factor == pytest.approx((expected,) * 3, rel=1e-12)
    assert result.reference_rule == "series"
    assert result.decay_time_s == (3600.0, 3600.0, 3600.0)
    assert result.inputs["weight"].source == "(0010,1030) PatientWeight"
    assert result.inputs["injected_activity"].value == 150e6


def test_admin_means_no_decay():
    result = compute_suv(**base(decay_correction="ADMIN"))
    assert result.factor[0] == pytest.approx(70_000 / 150e6, rel=1e-12)


def test_series_time_reset_uses_earliest_acquisition_time():
    # Series time 10:30 is after the first acquisition (10:00): QIBA uses the earliest acquisition time.
    timing = PetTiming(acquisition=(at(10, 5), at(10, 0), at(10, 10)))
    result = compute_suv(**base(series_datetime=at(10, 30), timing=timing))
    assert result.reference_rule == "earliest_acquisition"
    assert result.factor[0] == pytest.approx(70_000 / (150e6 * 2 ** (-3600 / GA68_S)), rel=1e-12)
    assert any("reset" in w for w in result.warnings)


def test_series_time_reset_ge_private_time_wins():
    result = compute_suv(**base(series_datetime=at(10, 30), ge_scan_datetime=at(9, 45),
                                timing=PetTiming(acquisition=(at(10, 0),) * 3)))
    assert result.reference_rule == "ge_private"
    assert result.factor[0] == pytest.approx(70_000 / (150e6 * 2 ** (-2700 / GA68_S)), rel=1e-12)


def test_series_time_reset_back_computed_from_frame_timing():
    # IBSI: reference = acquisition start - FrameReferenceTime + t_avg(frame duration).
    lam = math.log(2) / GA68_S
    duration = 600.0
    t_avg = math.log(lam * duration / (1 - math.exp(-lam * duration))) / lam
    # Two beds: the true reference is 10:00; bed 2 starts 600 s later with FRT = 600 s + t_avg.
    acq = (at(10, 0), at(10, 10))
    frt_ms = (t_avg * 1000, (600 + t_avg) * 1000)
    timing = PetTiming(acquisition=acq, frame_reference_ms=frt_ms, frame_duration_ms=(600_000.0, 600_000.0))
    result = compute_suv(**base(series_datetime=at(11, 0), timing=timing, n_slices=2))
    assert result.reference_rule == "frame_timing"
    expected = 70_000 / (150e6 * 2 ** (-3600 / GA68_S))
    assert result.factor == pytest.approx((expected, expected), rel=1e-9)


def test_average_count_rate_time_is_half_frame_for_short_frames():
    assert average_count_rate_time_s(frame_duration_s=1.0, half_life_s=GA68_S) == pytest.approx(0.5, rel=1e-4)
    # Long frame (one half-life): t = ln(ln2 / (1 - 1/2)) / lambda
    lam = math.log(2) / GA68_S
    assert average_count_rate_time_s(frame_duration_s=GA68_S, half_life_s=GA68_S) == pytest.approx(
        math.log(math.log(2) / 0.5) / lam, rel=1e-12)


def test_decay_correction_none_per_slice():
    # Not decay corrected: each slice decays to its own average-count-rate time.
    acq = (at(10, 0), at(10, 3), at(10, 6))
    dur = (180_000.0,) * 3
    lam = math.log(2) / F18_S
    t_avg = math.log(lam * 180 / (1 - math.exp(-lam * 180))) / lam
    result = compute_suv(**base(decay_correction="NONE", half_life_s=F18_S,
                                timing=PetTiming(acquisition=acq, frame_duration_ms=dur)))
    expected = [70_000 / (150e6 * 2 ** (-(3600 + 180 * k + t_avg) / F18_S)) for k in range(3)]
    assert result.factor == pytest.approx(tuple(expected), rel=1e-12)
    assert not result.uniform
    assert isinstance(result.as_dict()["factor"], list)


def test_start_time_without_date_uses_series_date():
    result = compute_suv(**base(start_datetime=None, start_time=datetime(2000, 1, 1, 9, 0)))
    assert result.decay_time_s[0] == 3600.0
    assert "(0018,1072) RadiopharmaceuticalStartTime" in result.inputs["injection_datetime"].source


def test_start_datetime_preferred_over_start_time():
    result = compute_suv(**base(start_datetime=at(9, 30), start_time=datetime(2000, 1, 1, 8, 0)))
    assert result.decay_time_s[0] == 1800.0


def test_scan_crossing_midnight():
    # Injection 23:30 the day before; series 00:30 on the series date: 3600 s, not -82800 s.
    next_day = DAY + timedelta(days=1)
    result = compute_suv(**base(start_datetime=None, start_time=datetime(2000, 1, 1, 23, 30),
                                series_datetime=at(0, 30, day=next_day),
                                timing=PetTiming(acquisition=(at(0, 30, day=next_day),) * 3)))
    assert result.decay_time_s[0] == 3600.0
    assert any("midnight" in w for w in result.warnings)


def test_dose_in_mbq_is_read_as_mbq_with_warning():
    result = compute_suv(**base(injected_bq=150.0))
    assert result.inputs["injected_activity"].value == 150e6
    assert result.factor[0] == pytest.approx(70_000 / (150e6 * 2 ** (-3600 / GA68_S)), rel=1e-12)
    assert any("MBq" in w for w in result.warnings)


def test_philips_cnts_suv_scale_factor():
    result = compute_suv(**base(units="CNTS", philips_suv_factor=[0.000321] * 3))
    assert result.factor == (0.000321,) * 3


def test_philips_cnts_activity_concentration_factor():
    # (7053,1009) turns counts into Bq/mL, then the BQML rule applies.
    result = compute_suv(**base(units="CNTS", philips_activity_factor=[2.5, 2.5, 5.0]))
    bqml = 70_000 / (150e6 * 2 ** (-3600 / GA68_S))
    assert result.factor == pytest.approx((2.5 * bqml, 2.5 * bqml, 5.0 * bqml), rel=1e-12)


def test_gml_bw_is_one():
    assert compute_suv(**base(units="GML", suv_type="BW")).factor == (1.0, 1.0, 1.0)


def test_gml_lbmjanma_converted_to_bw():
    lbm = 9270 * 70 / (6680 + 216 * 70 / 1.75**2)  # Janmahasatian, male
    result = compute_suv(**base(units="GML", suv_type="LBMJANMA"))
    assert result.factor[0] == pytest.approx(70 / lbm, rel=1e-12)
    assert result.factors["lbm_janmahasatian"][0] == pytest.approx(1.0, rel=1e-12)


def test_cm2ml_bsa_converted_to_bw():
    bsa_cm2 = 0.007184 * 70**0.425 * 175**0.725 * 1e4
    result = compute_suv(**base(units="CM2ML", suv_type="BSA"))
    assert result.factor[0] == pytest.approx(70_000 / bsa_cm2, rel=1e-12)


def test_other_suv_types_from_bqml():
    result = compute_suv(**base(sex="F", weight_kg=60.0, height_m=1.62))
    decayed = 150e6 * 2 ** (-3600 / GA68_S)
    lbm_g = 9270 * 60 / (8780 + 244 * 60 / 1.62**2) * 1000
    bsa_cm2 = 0.007184 * 60**0.425 * 162**0.725 * 1e4
    ibw_g = (45.5 + 2.3 * (162 / 2.54 - 60)) * 1000
    assert result.factors["lbm_janmahasatian"][0] == pytest.approx(lbm_g / decayed, rel=1e-12)
    assert result.factors["bsa"][0] == pytest.approx(bsa_cm2 / decayed, rel=1e-12)
    assert result.factors["ibw"][0] == pytest.approx(ibw_g / decayed, rel=1e-12)


@pytest.mark.parametrize("sex, weight, height, expected", [
    ("M", 80.0, 1.80, 9270 * 80 / (6680 + 216 * 80 / 1.8**2)),
    ("F", 55.0, 1.60, 9270 * 55 / (8780 + 244 * 55 / 1.6**2)),
])
def test_lbm_janmahasatian(sex, weight, height, expected):
    assert lbm_janmahasatian_kg(weight_kg=weight, height_m=height, sex=sex) == pytest.approx(expected, rel=1e-12)


def test_bsa_and_ibw_by_hand():
    # Du Bois: 70 kg, 175 cm -> 0.007184 * 70^0.425 * 175^0.725 = 1.8481 m2 (rounded by hand)
    assert bsa_du_bois_m2(weight_kg=70, height_m=1.75) == pytest.approx(1.8481, abs=1e-4)
    # Devine: 180 cm male = 50 + 2.3 * (70.866 - 60) = 74.99 kg
    assert ibw_devine_kg(height_m=1.80, sex="M") == pytest.approx(50 + 2.3 * (180 / 2.54 - 60), rel=1e-12)


@pytest.mark.parametrize("overrides, attribute", [
    ({"weight_kg": None}, "PatientWeight"),
    ({"weight_kg": 0.0}, "PatientWeight"),
    ({"weight_kg": 700_000.0}, "PatientWeight"),  # over 1000: grams (IBSI), 700 kg is still implausible
    ({"injected_bq": None}, "RadionuclideTotalDose"),
    ({"injected_bq": -5.0}, "RadionuclideTotalDose"),
    ({"injected_bq": 1e13}, "RadionuclideTotalDose"),
    ({"half_life_s": None}, "RadionuclideHalfLife"),
    ({"half_life_s": 0.0}, "RadionuclideHalfLife"),
    ({"units": None}, "Units"),
    ({"units": "PROPCNTS"}, "Units"),
    ({"decay_correction": None}, "DecayCorrection"),
    ({"decay_correction": "WEIRD"}, "DecayCorrection"),
    ({"start_datetime": None}, "RadiopharmaceuticalStartDateTime"),
    ({"start_datetime": at(10, 30)}, "RadiopharmaceuticalStartDateTime"),
    ({"corrected_image": ["DECY"]}, "CorrectedImage"),
    ({"units": "CNTS"}, "7053,1000"),
    ({"units": "GML", "suv_type": "LBMX"}, "SUVType"),
    ({"units": "GML", "suv_type": "LBM", "sex": None}, "PatientSex"),
    ({"units": "GML", "suv_type": "IBW", "height_m": None}, "PatientSize"),
])
def test_missing_or_implausible_inputs_name_the_attribute(overrides, attribute):
    with pytest.raises(SuvError, match=attribute.replace("(", r"\(")):
        compute_suv(**base(**overrides))


def test_missing_height_omits_other_types_with_warning():
    result = compute_suv(**base(height_m=None))
    assert set(result.factors) == {"bw"}
    assert any("PatientSize" in w for w in result.warnings)


def test_missing_series_time_falls_back_with_a_warning_naming_it():
    result = compute_suv(**base(series_datetime=None))
    assert result.reference_rule == "earliest_acquisition"
    assert any("(0008,0031) SeriesTime" in w for w in result.warnings)
    assert result.decay_time_s[0] == 3600.0
