"""Half-life by least squares on log activity, with its standard uncertainty."""

import math

import numpy as np
import pytest

from gliopet.errors import MeasurementError
from gliopet.radiopharmacy.halflife import fit_half_life, half_life_within


def test_two_readings_give_the_exact_half_life_and_no_uncertainty():
    # 100 MBq then 50 MBq 67.71 min later: T = 67.71 min exactly
    fit = fit_half_life([0.0, 67.71 * 60], [100e6, 50e6])
    assert fit.half_life_s == pytest.approx(67.71 * 60, rel=1e-12)
    assert fit.uncertainty_s is None
    assert fit.n_readings == 2
    assert fit.span_s == pytest.approx(67.71 * 60)


def test_noise_free_readings_on_any_origin_and_unit():
    t_half_s = 109.77 * 60  # 18F, to show nothing is tied to 68Ga
    t = np.array([1000.0, 1600.0, 2500.0, 4000.0])
    a = 3.2 * 2 ** (-(t - 1000.0) / t_half_s)  # in GBq: only ratios matter
    fit = fit_half_life(t, a)
    assert fit.half_life_s == pytest.approx(t_half_s, rel=1e-10)
    assert fit.uncertainty_s == pytest.approx(0.0, abs=1e-6)
    assert fit.decay_constant_per_s == pytest.approx(math.log(2) / t_half_s, rel=1e-10)


def test_hand_computed_three_point_fit():
    # ln A at t = 0, 1, 2 (in units of 1000 s): y = 0, -0.5, -1.2 (A = exp(y))
    # slope = sum((t - 1)(y - ybar)) / sum((t - 1)^2) = ((-1)(0.5667) + 1(-0.6333)) / 2 = -0.6
    # residuals: y - (ybar + slope (t - 1)) with ybar = -0.56667: 0.03333, -0.06667... let us
    # write them: fit = -0.56667 + 0.6, -0.56667, -0.56667 - 0.6 = 0.03333, -0.56667, -1.16667
    # residuals = -0.03333, 0.06667, -0.03333; RSS = 0.0066667; s^2 = RSS / (3 - 2)
    # u(slope) = sqrt(s^2 / 2) = 0.057735 per 1000 s
    t = np.array([0.0, 1000.0, 2000.0])
    a = np.exp([0.0, -0.5, -1.2])
    fit = fit_half_life(t, a)
    lam = 0.6 / 1000.0
    assert fit.decay_constant_per_s == pytest.approx(lam, rel=1e-10)
    assert fit.half_life_s == pytest.approx(math.log(2) / lam, rel=1e-10)  # 1155.245 s
    u_lam = math.sqrt((0.0066667 / 1) / 2) / 1000.0
    assert fit.uncertainty_s == pytest.approx(fit.half_life_s * u_lam / lam, rel=1e-4)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_known_half_life_with_seeded_noise_is_recovered_within_its_uncertainty(seed):
    # 68Ga (67.71 min), 13 readings over 2 h, 0.5 % multiplicative dose-calibrator noise
    true_s = 67.71 * 60
    rng = np.random.default_rng(seed)
    t = np.arange(0, 121, 10) * 60.0
    a = 50e6 * 2 ** (-t / true_s) * (1 + rng.normal(0, 0.005, t.size))
    fit = fit_half_life(t, a)
    # a 0.5 % noise over 2 h gives u(T) of about 0.2 min: 1/3 to 3 times that
    assert 0.05 * 60 < fit.uncertainty_s < 0.6 * 60
    # the estimate is within 2.5 standard uncertainties of the truth...
    assert abs(fit.half_life_s - true_s) <= 2.5 * fit.uncertainty_s
    # ...and within 1 % of it
    assert fit.half_life_s == pytest.approx(true_s, rel=0.01)


def test_uncertainty_matches_the_spread_over_many_seeded_repeats():
    # the reported u(T) must describe the actual scatter of the estimates
    true_s = 67.71 * 60
    rng = np.random.default_rng(2026)
    t = np.arange(0, 61, 10) * 60.0
    estimates, uncertainties = [], []
    for _ in range(400):
        a = 40e6 * 2 ** (-t / true_s) * np.exp(rng.normal(0, 0.003, t.size))
        fit = fit_half_life(t, a)
        estimates.append(fit.half_life_s)
        uncertainties.append(fit.uncertainty_s)
    spread = float(np.std(estimates, ddof=1))
    typical = float(np.sqrt(np.mean(np.square(uncertainties))))
    assert typical == pytest.approx(spread, rel=0.15)
    assert float(np.mean(estimates)) == pytest.approx(true_s, rel=0.002)


@pytest.mark.parametrize("t, a, match", [
    ([0.0], [1.0], "at least 2 readings"),
    ([0.0, 60.0], [1.0, 0.0], "must be > 0"),
    ([0.0, 60.0], [1.0, -2.0], "must be > 0"),
    ([60.0, 60.0], [2.0, 1.0], "same time"),
    ([0.0, 60.0], [1.0, 1.0], "do not decrease"),
    ([0.0, 60.0], [1.0, 2.0], "do not decrease"),
    ([0.0, 60.0, 120.0], [1.0, 2.0], "3 reading times but 2"),
])
def test_bad_readings_are_refused(t, a, match):
    with pytest.raises(MeasurementError, match=match):
        fit_half_life(t, a)


@pytest.mark.parametrize("minutes, ok", [(62.0, True), (61.99, False), (74.0, True),
                                         (74.01, False), (67.71, True)])
def test_identity_window(minutes, ok):
    assert half_life_within(minutes * 60, low_s=62 * 60, high_s=74 * 60) is ok
