"""Decay arithmetic, activity units and the injected activity, checked by hand."""

from datetime import datetime, timedelta, timezone

import pytest

from gliopet.errors import InputError
from gliopet.radiopharmacy.decay import (GA68_HALF_LIFE_MIN, GA68_HALF_LIFE_S, activity_at_bq,
                                         activity_to_bq, decay_activity_bq, decay_factor,
                                         injected_activity_bq)

T_GA68_S = 67.71 * 60  # the study's nominal 68Ga half-life, 67.71 min, in seconds


def test_nominal_half_life_is_the_studys():
    assert GA68_HALF_LIFE_MIN == 67.71
    assert GA68_HALF_LIFE_S == pytest.approx(4062.6, rel=1e-12)  # 67.71 * 60


@pytest.mark.parametrize("elapsed_s, expected", [
    (0.0, 1.0),
    (T_GA68_S, 0.5),                  # one half-life
    (2 * T_GA68_S, 0.25),             # two
    (-T_GA68_S, 2.0),                 # correcting back one half-life doubles
    (3600.0, 2 ** (-60 / 67.71)),     # one hour: 2^(-60/67.71) = 0.54099...
])
def test_decay_factor(elapsed_s, expected):
    assert decay_factor(elapsed_s, T_GA68_S) == pytest.approx(expected, rel=1e-12)


def test_decay_factor_one_hour_by_hand():
    # ln 2 * 60 / 67.71 = 0.693147 * 0.886132 = 0.614221
    # exp(-0.614221) = exp(-0.6) * exp(-0.014221) = 0.548812 * 0.985880 = 0.541063
    assert decay_factor(3600.0, T_GA68_S) == pytest.approx(0.541063, abs=2e-6)


def test_activity_decayed_to_any_time():
    # 812 MBq read at 07:55, end of synthesis 07:52: corrected back 3 min
    measured = datetime(2026, 3, 14, 7, 55)
    eos = datetime(2026, 3, 14, 7, 52)
    expected = 812e6 * 2 ** (3 / 67.71)  # = 837.33 MBq
    assert activity_at_bq(812e6, measured_at=measured, target_time=eos,
                          half_life_s=T_GA68_S) == pytest.approx(expected, rel=1e-12)
    assert expected / 1e6 == pytest.approx(837.33, abs=0.01)
    # 200 MBq decays to 100 MBq one half-life (1 h 7 min 42.6 s) later
    later = measured + timedelta(minutes=67, seconds=42.6)
    assert activity_at_bq(200e6, measured_at=measured, target_time=later,
                          half_life_s=T_GA68_S) == pytest.approx(100e6, rel=1e-12)


def test_decay_activity_bq():
    assert decay_activity_bq(1e9, elapsed_time_s=2 * T_GA68_S,
                             half_life_s=T_GA68_S) == pytest.approx(0.25e9, rel=1e-12)


@pytest.mark.parametrize("value, unit, bq", [
    (1.0, "Bq", 1.0), (2.5, "kBq", 2500.0), (150.0, "MBq", 150e6), (1.2, "GBq", 1.2e9),
    (4.0, "mCi", 4 * 37e6),           # 1 mCi = 37 MBq exactly
    (10.0, "uCi", 10 * 37e3), (10.0, "µCi", 10 * 37e3), (1.0, "Ci", 3.7e10),
])
def test_activity_units(value, unit, bq):
    assert activity_to_bq(value, unit) == pytest.approx(bq, rel=1e-15)


def test_unknown_unit_is_refused():
    with pytest.raises(InputError, match="unknown activity unit 'mbq'"):
        activity_to_bq(1.0, "mbq")


def test_injected_activity_from_syringe_before_and_after():
    # full syringe 180 MBq at 08:40, injected 08:45, residual 3.1 MBq at 08:50
    before = datetime(2026, 3, 14, 8, 40)
    inject = datetime(2026, 3, 14, 8, 45)
    after = datetime(2026, 3, 14, 8, 50)
    # 180 * 2^(-5/67.71) - 3.1 * 2^(+5/67.71) = 171.016 - 3.263 = 167.753 MBq
    expected = 180e6 * 2 ** (-5 / 67.71) - 3.1e6 * 2 ** (5 / 67.71)
    got = injected_activity_bq(syringe_before_bq=180e6, before_time=before,
                               syringe_after_bq=3.1e6, after_time=after,
                               injection_time=inject, half_life_s=T_GA68_S)
    assert got == pytest.approx(expected, rel=1e-12)
    assert got / 1e6 == pytest.approx(167.75, abs=0.01)


def test_injected_activity_with_an_empty_syringe_and_same_times():
    t = datetime(2026, 3, 14, 9, 0, tzinfo=timezone.utc)
    assert injected_activity_bq(syringe_before_bq=150e6, before_time=t, syringe_after_bq=0.0,
                                after_time=t, injection_time=t,
                                half_life_s=T_GA68_S) == 150e6


@pytest.mark.parametrize("kwargs, match", [
    (dict(before_time=datetime(2026, 3, 14, 8, 50)), "before the full-syringe reading"),
    (dict(after_time=datetime(2026, 3, 14, 8, 40)), "is before the injection time"),
    (dict(syringe_after_bq=-1.0), "must not be negative"),
    (dict(syringe_after_bq=200e6), "exceeds the full syringe"),
    (dict(half_life_s=0.0), "half-life must be a positive"),
    (dict(injection_time=datetime(2026, 3, 14, 8, 45, tzinfo=timezone.utc)),
     "with a timezone and one without"),
])
def test_injected_activity_refuses_bad_input(kwargs, match):
    args = dict(syringe_before_bq=180e6, before_time=datetime(2026, 3, 14, 8, 40),
                syringe_after_bq=3.1e6, after_time=datetime(2026, 3, 14, 8, 50),
                injection_time=datetime(2026, 3, 14, 8, 45), half_life_s=T_GA68_S)
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        injected_activity_bq(**args)
