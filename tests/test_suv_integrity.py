"""The remaining QIBA / IBSI SUV rules (issue 16), each against values worked out by hand.

Rules: 1 series-time reset and FrameReferenceTime 0, 2 injection after the
scan (also ADMIN), 4 CorrectedImage ATTN and DECY, 5 SUV types of images that
already hold an SUV, 6 weight in grams and half-life in minutes. The DICOM
level rules (3 one set of inputs, 7 duplicates, 8 dynamic series) are in
tests/test_suv_series.py.

References: QIBA SUV vendor-neutral pseudo-code; IBSI SUV reference manual;
DICOM PS3.3 C.8.9.1 (SUVType defined terms).
"""

import math
from datetime import datetime

import numpy as np
import pytest

from gliopet.errors import SuvError
from gliopet.suv import PetTiming, compute_suv, duration_weighted_mean, identify_radionuclide

GA68_S = 4062.6  # 67.71 min
F18_S = 6586.2  # 109.77 min
DAY = datetime(2024, 1, 15)


def at(hh, mm=0, ss=0):
    return DAY.replace(hour=hh, minute=mm, second=ss)


def base(**overrides):
    kwargs = dict(units="BQML", decay_correction="START", corrected_image=["ATTN", "DECY"], weight_kg=70.0,
                  height_m=1.75, sex="M", injected_bq=150e6, half_life_s=GA68_S,
                  start_datetime=at(9, 0), series_datetime=at(10, 0),
                  timing=PetTiming(acquisition=(at(10, 0),) * 3), n_slices=3)
    kwargs.update(overrides)
    return kwargs


# ------------------------------------------------------------ rule 1: series time reset, frame timing


def test_frame_reference_time_zero_is_not_given_earliest_acquisition_is_used():
    # F-18, injection 09:00, one bed acquired from 10:00 for 180 s, series time reset to 10:30,
    # FrameReferenceTime 0 ("not given", QIBA): the reference is the earliest acquisition, 3600 s.
    timing = PetTiming(acquisition=(at(10, 0),) * 3, frame_reference_ms=(0.0,) * 3,
                       frame_duration_ms=(180_000.0,) * 3)
    result = compute_suv(**base(half_life_s=F18_S, series_datetime=at(10, 30), timing=timing))
    assert result.reference_rule == "earliest_acquisition"
    assert result.decay_time_s == (3600.0,) * 3
    expected = 70_000 / (150e6 * 2 ** (-3600 / F18_S))
    assert result.factor == pytest.approx((expected,) * 3, rel=1e-12)
    # Back-computing with FRT 0 would have put the reference t_avg(180 s) ~ 90 s later: 0.95 % high.
    lam = math.log(2) / F18_S
    t_avg = math.log(lam * 180 / (1 - math.exp(-lam * 180))) / lam
    assert 2 ** (t_avg / F18_S) - 1 == pytest.approx(0.0095, abs=0.0001)


@pytest.mark.parametrize("frt_ms, duration_ms", [(0.0, 180_000.0), (90_000.0, 0.0), (None, 180_000.0)])
def test_frame_timing_needs_both_frame_reference_time_and_duration_above_zero(frt_ms, duration_ms):
    timing = PetTiming(acquisition=(at(10, 0),) * 3, frame_reference_ms=(frt_ms,) * 3,
                       frame_duration_ms=(duration_ms,) * 3)
    result = compute_suv(**base(series_datetime=at(10, 30), timing=timing))
    assert result.reference_rule == "earliest_acquisition"
    assert result.decay_time_s == (3600.0,) * 3


def test_reference_rule_and_conversion_are_stated_in_the_json():
    report = compute_suv(**base(series_datetime=at(10, 30))).as_dict()
    assert report["reference_rule"] == "earliest_acquisition"
    assert "earliest" in report["reference_rule_text"] and "QIBA" in report["reference_rule_text"]
    assert report["suv_type_conversion"].startswith("SUVbw = C [Bq/mL] x W [g]")


# ------------------------------------------------------------ rule 2: injection after the scan


def test_injection_after_the_scan_is_refused_for_start():
    with pytest.raises(SuvError, match=r"\(0018,1078\) RadiopharmaceuticalStartDateTime is 1800 s after"):
        compute_suv(**base(start_datetime=at(10, 30)))


def test_injection_after_the_scan_is_refused_for_admin_too():
    with pytest.raises(SuvError, match=r"\(0018,1078\) RadiopharmaceuticalStartDateTime is 1800 s after"):
        compute_suv(**base(decay_correction="ADMIN", start_datetime=at(10, 30)))


def test_admin_with_injection_before_the_scan_has_no_decay_and_records_the_scan_time():
    # ADMIN: decay corrected to the administration time, factor = 70 kg / 150 MBq.
    result = compute_suv(**base(decay_correction="ADMIN"))
    assert result.factor == pytest.approx((70_000 / 150e6,) * 3, rel=1e-12)
    assert result.decay_time_s == (0.0,) * 3
    assert result.inputs["scan_datetime"].value == at(10, 0)
    assert result.inputs["injection_datetime"].value == at(9, 0)


def test_admin_without_an_injection_time_still_gives_the_factor():
    result = compute_suv(**base(decay_correction="ADMIN", start_datetime=None))
    assert result.factor[0] == pytest.approx(70_000 / 150e6, rel=1e-12)


# ------------------------------------------------------------ rule 4: CorrectedImage


@pytest.mark.parametrize("decay", ["START", "ADMIN"])
def test_without_decy_a_decay_corrected_series_is_refused(decay):
    with pytest.raises(SuvError, match=r"\(0028,0051\) CorrectedImage \['ATTN'\] lacks DECY"):
        compute_suv(**base(corrected_image=["ATTN"], decay_correction=decay))


def test_without_decy_the_ibsi_none_rule_applies():
    # Not decay corrected: slice k is at 10:00 + 180 k s + t_avg(180 s), F-18 (IBSI NONE).
    lam = math.log(2) / F18_S
    t_avg = math.log(lam * 180 / (1 - math.exp(-lam * 180))) / lam
    timing = PetTiming(acquisition=(at(10, 0), at(10, 3), at(10, 6)), frame_duration_ms=(180_000.0,) * 3)
    result = compute_suv(**base(corrected_image=["ATTN"], decay_correction="NONE", half_life_s=F18_S,
                                timing=timing))
    expected = [70_000 / (150e6 * 2 ** (-(3600 + 180 * k + t_avg) / F18_S)) for k in range(3)]
    assert result.factor == pytest.approx(tuple(expected), rel=1e-12)


def test_without_attn_is_refused_and_missing_corrected_image_too():
    with pytest.raises(SuvError, match=r"\(0028,0051\) CorrectedImage \['DECY'\] lacks ATTN"):
        compute_suv(**base(corrected_image=["DECY"]))
    with pytest.raises(SuvError, match=r"\(0028,0051\) CorrectedImage is missing"):
        compute_suv(**base(corrected_image=None))


def test_an_suv_image_without_corrected_image_gets_a_warning():
    result = compute_suv(**base(units="GML", suv_type="BW", corrected_image=None))
    assert result.factor == (1.0,) * 3
    assert any("CorrectedImage is missing" in w for w in result.warnings)


# ------------------------------------------------------------ rule 5: SUV types of GML / CM2ML images


@pytest.mark.parametrize("suv_type, weight, height, sex, normaliser_kg", [
    # James (DICOM LBM), H in cm: 1.10 x 70 - 120 x (70 / 175)^2 = 77 - 19.2 = 57.8 kg
    ("LBM", 70.0, 1.75, "M", 1.10 * 70 - 120 * (70 / 175) ** 2),
    ("LBM", 60.0, 1.62, "F", 1.07 * 60 - 148 * (60 / 162) ** 2),
    # James 128: 77 - 128 x 0.16 = 56.52 kg
    ("LBMJAMES128", 70.0, 1.75, "M", 1.10 * 70 - 128 * (70 / 175) ** 2),
    ("LBMJAMES128", 60.0, 1.62, "F", 1.07 * 60 - 148 * (60 / 162) ** 2),
    # Janmahasatian: 9270 W / (6680 + 216 BMI)
    ("LBMJANMA", 70.0, 1.75, "M", 9270 * 70 / (6680 + 216 * 70 / 1.75 ** 2)),
    ("LBMJANMA", 60.0, 1.62, "F", 9270 * 60 / (8780 + 244 * 60 / 1.62 ** 2)),
    # IBW (IBSI): 48.0 + 1.06 x (175 - 152) = 72.38 kg; 45.5 + 0.91 x (162 - 152) = 54.6 kg
    ("IBW", 70.0, 1.75, "M", 48.0 + 1.06 * (175 - 152)),
    ("IBW", 60.0, 1.62, "F", 45.5 + 0.91 * (162 - 152)),
    ("BW", 70.0, None, None, 70.0),
])
def test_gml_suv_types_converted_to_suvbw(suv_type, weight, height, sex, normaliser_kg):
    result = compute_suv(**base(units="GML", suv_type=suv_type, weight_kg=weight, height_m=height, sex=sex))
    assert result.factor == pytest.approx((weight / normaliser_kg,) * 3, rel=1e-12)
    assert result.reference_rule == f"suv_image_{suv_type.lower()}"
    assert result.as_dict()["suv_type_conversion"]


def test_cm2ml_bsa_conversion_names_du_bois():
    bsa_cm2 = 0.007184 * 70 ** 0.425 * 175 ** 0.725 * 1e4
    result = compute_suv(**base(units="CM2ML", suv_type="BSA"))
    assert result.factor[0] == pytest.approx(70_000 / bsa_cm2, rel=1e-12)
    assert "Du Bois" in result.conversion


def test_sex_other_takes_the_mean_of_the_male_and_female_factors_with_a_warning():
    # LBM James, 70 kg, 175 cm: male 57.8 kg, female 1.07 x 70 - 148 x 0.16 = 51.22 kg.
    male, female = 1.10 * 70 - 120 * 0.16, 1.07 * 70 - 148 * 0.16
    result = compute_suv(**base(units="GML", suv_type="LBM", sex="O"))
    assert result.factor[0] == pytest.approx((70 / male + 70 / female) / 2, rel=1e-12)
    assert any("PatientSex is O" in w for w in result.warnings)
    assert "mean of the male and female" in result.conversion


def test_sex_other_gives_sul_and_suvibw_of_bqml_images_as_the_mean():
    decayed = 150e6 * 2 ** (-3600 / GA68_S)
    lbm_m = 9270 * 70 / (6680 + 216 * 70 / 1.75 ** 2)
    lbm_f = 9270 * 70 / (8780 + 244 * 70 / 1.75 ** 2)
    result = compute_suv(**base(sex="O"))
    assert result.factors["lbm_janmahasatian"][0] == pytest.approx(
        (lbm_m * 1000 / decayed + lbm_f * 1000 / decayed) / 2, rel=1e-12)
    assert any("PatientSex is O" in w for w in result.warnings)


@pytest.mark.parametrize("overrides, attribute", [
    ({"suv_type": "LBM", "sex": None}, r"\(0010,0040\) PatientSex"),
    ({"suv_type": "IBW", "sex": "X"}, r"\(0010,0040\) PatientSex"),
    ({"suv_type": "LBMJAMES128", "height_m": None}, r"\(0010,1020\) PatientSize"),
    ({"suv_type": "BW", "units": "CM2ML"}, r"\(0054,1006\) SUVType BW does not match"),
])
def test_suv_type_conversion_refused_only_without_height_or_sex(overrides, attribute):
    with pytest.raises(SuvError, match=attribute):
        compute_suv(**base(**{"units": "GML", **overrides}))


# ------------------------------------------------------------ rule 6: units IBSI allows


def test_weight_over_1000_is_grams_with_a_warning():
    # 70 000 g = 70 kg: the factor of the 70 kg case.
    result = compute_suv(**base(weight_kg=70_000.0))
    assert result.inputs["weight"].value == 70.0
    assert "grams" in result.inputs["weight"].source
    assert result.factor[0] == pytest.approx(70_000 / (150e6 * 2 ** (-3600 / GA68_S)), rel=1e-12)
    assert any("read as grams" in w for w in result.warnings)


def test_half_life_in_minutes_is_converted_when_the_radionuclide_is_identified():
    # 67.71 min x 60 = 4062.6 s, the Ga-68 half-life.
    result = compute_suv(**base(half_life_s=67.71, radionuclide="Ga-68"))
    assert result.inputs["half_life"].value == pytest.approx(67.71 * 60, rel=1e-12)
    assert result.factor[0] == pytest.approx(70_000 / (150e6 * 2 ** (-3600 / (67.71 * 60))), rel=1e-12)
    assert any("half-life in minutes" in w for w in result.warnings)


@pytest.mark.parametrize("radionuclide, named", [(None, "is not identified"), ("F-18", "is identified as F-18")])
def test_half_life_in_minutes_is_refused_otherwise(radionuclide, named):
    with pytest.raises(SuvError, match=rf"\(0018,1075\) RadionuclideHalfLife 67.71 s is plausible only in "
                                       rf"minutes \(Ga-68.*{named}"):
        compute_suv(**base(half_life_s=67.71, radionuclide=radionuclide))


def test_half_life_in_seconds_is_kept():
    result = compute_suv(**base(radionuclide="Ga-68"))
    assert result.inputs["half_life"].value == GA68_S
    assert not any("RadionuclideHalfLife" in w for w in result.warnings)


@pytest.mark.parametrize("texts, expected", [
    (("^68^Gallium",), "Ga-68"), (("^18^Fluorine",), "F-18"), (("Ga-68",), "Ga-68"), (("18F",), "F-18"),
    (("68Ga-Pentixafor",), "Ga-68"), (("Fluorine^18^",), "F-18"), (("[11C]methionine",), "C-11"),
    (("Pentixafor",), None), ((None, ""), None), (("^18^Fluorine", "Ga-68"), None),
])
def test_identify_radionuclide(texts, expected):
    assert identify_radionuclide(*texts) == expected


# ------------------------------------------------------------ rule 8 (pure part): frame sum


def test_duration_weighted_mean_by_hand():
    # 5-min frame of 2 and 10-min frame of 5: (300 x 2 + 600 x 5) / 900 = 4.
    frames = [np.full((2, 2, 2), 2.0), np.full((2, 2, 2), 5.0)]
    np.testing.assert_allclose(duration_weighted_mean(frames, [300.0, 600.0]), 4.0, rtol=1e-15)
    with pytest.raises(SuvError, match="ActualFrameDuration"):
        duration_weighted_mean(frames, [300.0, 0.0])


# ------------------------------------------------------------ rule 9: volumes too thin for the SUVpeak sphere


def _volume(array, spacing_mm=2.0):
    from gliopet.volume import Volume

    affine = np.diag([spacing_mm, spacing_mm, spacing_mm, 1.0])
    return Volume(np.asarray(array, dtype=np.float32), affine, {})


def test_suvpeak_is_null_with_a_warning_when_the_sphere_does_not_fit():
    # 1 mL sphere: diameter 2 (3000 / 4 pi)^(1/3) = 12.4 mm; 3 slices of 2 mm span 6 mm: it never fits.
    from gliopet.measure import measure_rois, suv_peak

    thin = _volume(np.full((3, 21, 21), 3.0))
    voi = np.ones(thin.shape, bool)
    peak = suv_peak(thin, voi)
    assert peak.suvpeak is None and peak.centre_ijk is None
    assert "fits inside the image at no centre of the lesion VOI" in peak.warning
    record = measure_rois(thin, voi_mask=voi, background_centre_ijk=(10.0, 10.0, 1.0)).to_dict()
    assert record["suvpeak"] is None and record["suvpeak_sphere"]["centre_ijk"] is None
    assert any("SUVpeak not computed" in w for w in record["warnings"])


def test_suvpeak_uses_only_whole_spheres():
    # Uniform 3.0 in 15 slices of 2 mm (30 mm): a whole sphere fits in the middle: SUVpeak = 3.0 exactly.
    # A hot edge slice (10.0 on k = 0) would raise a sphere cut by the edge; only whole spheres count,
    # so the centre is at least the sphere's radius (6.2 mm) from the image's edge, the outer face of
    # slice 0 (1 mm before its centre): 2 k + 1 >= 6.2, k >= 2.6, so k >= 3.
    from gliopet.measure import suv_peak

    array = np.full((15, 21, 21), 3.0)
    assert suv_peak(_volume(array), np.ones(array.shape, bool)).suvpeak == pytest.approx(3.0, rel=1e-12)
    array[0] = 10.0
    peak = suv_peak(_volume(array), np.ones(array.shape, bool))
    assert peak.centre_ijk[2] >= 3 and peak.suvpeak < 10.0
