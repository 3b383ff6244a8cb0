"""The release decision against the study's 68Ga-Pentixafor specification.

Limits (the study, "Radiopharmaceutical Production"): radiochemical purity > 98 %
(radio-HPLC, iTLC), radionuclide purity > 99 %, endotoxin < 175 EU/mL, pH 5 to 8.5,
68Ga half-life 62 to 74 min, sterility by filter integrity, stability > 98 % by
radio-HPLC over 4 h.
"""

import math
import sys
from datetime import datetime
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data" / "radiopharmacy"
sys.path.insert(0, str(DATA))
import make_batch  # noqa: E402

from gliopet.radiopharmacy import (check_limits, evaluate_batch, format_limits,  # noqa: E402
                                   load_batch_record, load_specification)

SPEC = load_specification("68ga-pentixafor")


def test_the_shipped_specification_is_the_studys():
    assert SPEC.tracer == "68Ga-Pentixafor"
    assert SPEC.half_life_min == 67.71
    shown = {t.name: format_limits(t.limits, t.unit) for t in SPEC.tests}
    assert shown == {
        "radiochemical_purity_hplc": "> 98 %",
        "radiochemical_purity_itlc": "> 98 %",
        "radionuclide_purity": "> 99 %",
        "endotoxin": "< 175 EU/mL",
        "ph": "5 to 8.5",
        "half_life": "62 to 74 min",
        "filter_integrity": "passes",
        "stability": "> 98 %",
    }
    assert {t.name for t in SPEC.tests if not t.mandatory} == {"stability"}
    assert SPEC.test("stability").options["duration_h"] == 4


# (test, value just inside, value just outside); "> 98" excludes 98 itself
LIMIT_CASES = [
    ("radiochemical_purity_hplc", 98.01, 98.0),
    ("radiochemical_purity_hplc", 98.01, 97.99),
    ("radiochemical_purity_itlc", 98.01, 98.0),
    ("radionuclide_purity", 99.01, 99.0),
    ("endotoxin", 174.9, 175.0),
    ("endotoxin", 0.0, 175.1),
    ("ph", 5.0, 4.99),
    ("ph", 8.5, 8.51),
    ("half_life", 62.0, 61.99),
    ("half_life", 74.0, 74.01),
    ("stability", 98.01, 98.0),
]


@pytest.mark.parametrize("name, inside, outside", LIMIT_CASES)
def test_every_limit_just_inside_and_just_outside(name, inside, outside):
    limits = SPEC.test(name).limits
    assert check_limits(inside, limits) == (True, None)
    passed, reason = check_limits(outside, limits)
    assert passed is False
    assert f"{outside:g}" in reason


# -------------------------------------------------------------- whole batches


@pytest.fixture(scope="module")
def passing_decision(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pass")
    return evaluate_batch(load_batch_record(make_batch.write_batch(folder)))


def test_passing_batch_is_released_with_hand_checked_numbers(passing_decision):
    d = passing_decision
    assert d.released is True
    assert d.reasons == ()
    results = {t.name: t for t in d.tests}
    assert all(t.passed for t in d.tests)
    # radio-HPLC: product 990, free 68Ga 10 (cps*min): 990 / 1000 = 99.0 %
    assert results["radiochemical_purity_hplc"].result == pytest.approx(99.0, abs=0.05)
    # iTLC: product 9900, colloid 100 (counts*mm): 99.0 %
    assert results["radiochemical_purity_itlc"].result == pytest.approx(99.0, abs=0.05)
    # gamma spectrometry: 40 MBq Ga-68, 0.4 kBq Ge-68: 40 / 40.0004 = 99.999 %
    assert results["radionuclide_purity"].result == pytest.approx(100 * 40 / 40.0004, rel=1e-12)
    assert results["ph"].result == 7.0
    assert results["endotoxin"].result == 5.0
    # readings made with T = 67.71 min and 0.3 % noise: within 1 %, and u(T) covers it
    hl = results["half_life"]
    assert hl.result == pytest.approx(67.71, rel=0.01)
    assert abs(hl.result - 67.71) <= 2.5 * hl.details["uncertainty_min"]
    assert results["filter_integrity"].result == 3.9
    # stability: lowest of 99.0, 98.9, 98.8, 98.7, 98.6 % over 0..4 h
    st = results["stability"]
    assert st.result == pytest.approx(98.6, abs=0.05)
    assert [round(p["elapsed_h"], 6) for p in st.details["series"]] == [0, 1, 2, 3, 4]
    # product 812 MBq at 07:55, end of synthesis 07:52: 812 * 2^(3/67.71)
    assert d.activity["at_end_of_synthesis_mbq"] == pytest.approx(812 * 2 ** (3 / 67.71),
                                                                  rel=1e-12)
    # injection: 180 MBq at 08:40, injected 08:45, 3.1 MBq left at 08:50
    assert d.injections[0]["injected_mbq"] == pytest.approx(
        180 * 2 ** (-5 / 67.71) - 3.1 * 2 ** (5 / 67.71), rel=1e-12)


def _decide(tmp_path, **kwargs):
    return evaluate_batch(load_batch_record(make_batch.write_batch(tmp_path, **kwargs)))


def test_ph_4_8_is_not_released(tmp_path):
    d = _decide(tmp_path, ph=4.8)
    assert d.released is False
    assert d.reasons == ("pH: 4.8 is not >= 5",)
    assert [t.name for t in d.tests if t.passed is False] == ["ph"]


def test_radiochemical_purity_97_9_is_not_released(tmp_path):
    # product 979, free 68Ga 21 (cps*min): 979 / 1000 = 97.9 %
    d = _decide(tmp_path, hplc=(979.0, 21.0))
    hplc = next(t for t in d.tests if t.name == "radiochemical_purity_hplc")
    assert hplc.result == pytest.approx(97.9, abs=0.05)
    assert hplc.passed is False
    assert d.released is False
    assert d.reasons == (f"Radiochemical purity (radio-HPLC): {hplc.result:.6g} is not > 98",)


def test_itlc_purity_just_inside_and_outside_through_the_strip(tmp_path):
    # 98.2 % passes, 97.8 % fails, each computed from a strip scan
    assert _decide(tmp_path / "a", itlc=(9820.0, 180.0)).released is True
    d = _decide(tmp_path / "b", itlc=(9780.0, 220.0))
    itlc = next(t for t in d.tests if t.name == "radiochemical_purity_itlc")
    assert itlc.result == pytest.approx(97.8, abs=0.05)  # 9780 / 10000
    assert d.released is False
    assert d.reasons == (f"Radiochemical purity (iTLC): {itlc.result:.6g} is not > 98",)


@pytest.mark.parametrize("t_half_min, released", [(62.5, True), (61.5, False), (73.5, True),
                                                  (74.5, False)])
def test_half_life_identity_through_the_readings(tmp_path, t_half_min, released):
    start = datetime(2026, 3, 14, 8, 0)

    def readings(record):
        record["qc"]["half_life"]["readings"] = make_batch.half_life_readings(
            start=start, t_half_min=t_half_min, noise=0.0)
        return record

    d = _decide(tmp_path, overrides=readings)
    hl = next(t for t in d.tests if t.name == "half_life")
    assert hl.result == pytest.approx(t_half_min, rel=1e-4)  # readings rounded to 0.1 kBq
    assert d.released is released


def test_radionuclide_purity_just_outside(tmp_path):
    def impure(record):
        # 99 MBq Ga-68 and 1 MBq Ge-68: exactly 99 %, not > 99 %
        record["qc"]["radionuclide_purity"]["nuclides"] = [
            {"nuclide": "68Ga", "activity": 99.0, "unit": "MBq"},
            {"nuclide": "68Ge", "activity": 1.0, "unit": "MBq"}]
        return record

    d = _decide(tmp_path, overrides=impure)
    assert d.released is False
    assert d.reasons == ("Radionuclide purity: 99 is not > 99",)


@pytest.mark.parametrize("bubble, released", [(3.5, True), (3.49, False)])
def test_filter_integrity_at_the_filters_minimum(tmp_path, bubble, released):
    def filter_test(record):
        record["qc"]["filter_integrity"]["bubble_point_bar"] = bubble
        return record

    d = _decide(tmp_path, overrides=filter_test)
    assert d.released is released
    if not released:
        assert "bubble point 3.49 bar is below the filter's minimum 3.5 bar" in d.reasons[0]


def test_filter_recorded_as_not_intact(tmp_path):
    def broken(record):
        record["qc"]["filter_integrity"] = {"intact": False}
        return record

    d = _decide(tmp_path, overrides=broken)
    assert d.released is False
    assert d.reasons == ("Sterility (0.22 um filter integrity): filter integrity test failed",)


def test_missing_mandatory_test_is_not_released_and_says_which(tmp_path):
    def drop(record):
        del record["qc"]["endotoxin"]
        return record

    d = _decide(tmp_path, overrides=drop)
    assert d.released is False
    assert d.reasons == ("Bacterial endotoxins: mandatory test missing from the batch record "
                         "(qc.endotoxin)",)
    endotoxin = next(t for t in d.tests if t.name == "endotoxin")
    assert endotoxin.result is None and endotoxin.passed is False


def test_missing_optional_stability_does_not_block_release(tmp_path):
    d = _decide(tmp_path, stability=[])
    assert d.released is True
    stability = next(t for t in d.tests if t.name == "stability")
    assert stability.passed is None


def test_stability_that_falls_below_98_or_stops_short_of_4_h(tmp_path):
    d = _decide(tmp_path / "low", stability=[(0, 990.0, 10.0), (2, 985.0, 15.0),
                                             (4, 978.0, 22.0)])
    assert d.released is False
    series = next(t for t in d.tests if t.name == "stability").details["series"]
    assert series[-1]["purity_percent"] == pytest.approx(97.8, abs=0.05)  # 978 / 1000
    assert d.reasons == ("Stability at room temperature (radio-HPLC): at 4.00 h: "
                         f"{series[-1]['purity_percent']:.6g} is not > 98",)
    d = _decide(tmp_path / "short", stability=[(0, 990.0, 10.0), (3, 987.0, 13.0)])
    assert d.released is False
    assert d.reasons == ("Stability at room temperature (radio-HPLC): the series covers 3.00 h "
                         "after the end of synthesis, less than the 4 h required",)


def test_no_product_peak_fails_the_test_with_the_reason(tmp_path):
    def wrong_window(record):
        record["qc"]["radiochemical_purity_hplc"]["product_window_min"] = [20.0, 21.0]
        return record

    d = _decide(tmp_path, overrides=wrong_window)
    assert d.released is False
    assert "Radiochemical purity (radio-HPLC): no peak in the product window 20 to 21 min" \
        in d.reasons


def test_json_shape(passing_decision):
    out = passing_decision.to_dict()
    assert out["released"] is True
    assert out["batch_id"] == "PTX-20260314-01" and out["tracer"] == "68Ga-Pentixafor"
    for test in out["tests"]:
        assert {"name", "result", "unit", "specification", "passed"} <= set(test)
    assert math.isfinite(out["tests"][0]["result"])


def test_a_new_tracer_is_a_data_file(tmp_path):
    # an 18F tracer: no code, only a specification file next to the record
    (tmp_path / "spec.yaml").write_text(
        "schema_version: 1\nname: 18f-example\ntracer: 18F-Example\nnuclide: F-18\n"
        "half_life_min: 109.77\ntests:\n"
        "  - {name: ph, title: pH, method: reading, unit: '', limits: {at_least: 4.5, "
        "at_most: 7.5}, mandatory: true}\n"
        "  - {name: half_life, title: Identity (half-life), method: half_life, unit: min, "
        "limits: {at_least: 105, at_most: 115}, mandatory: true}\n", encoding="utf-8")

    def other_tracer(record):
        start = datetime(2026, 3, 14, 8, 0)
        record.update(tracer="18F-Example", specification="spec.yaml", injections=[])
        record["product"] = {}
        record["qc"] = {"ph": {"value": 4.6},
                        "half_life": {"readings": make_batch.half_life_readings(
                            start=start, t_half_min=109.77, noise=0.0)}}
        return record

    d = _decide(tmp_path, overrides=other_tracer)
    assert d.released is True
    assert d.specification == "18f-example"
    assert [t.name for t in d.tests] == ["ph", "half_life"]
    assert d.tests[1].result == pytest.approx(109.77, rel=1e-4)
