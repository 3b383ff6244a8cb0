"""Radio-HPLC and iTLC: baseline, peaks, integration, area %, against hand-known areas.

A Gaussian of height h and standard deviation s has area h * s * sqrt(2 * pi).
"""

import math

import numpy as np
import pytest

from gliopet.errors import MeasurementError
from gliopet.radiopharmacy.chromatography import (analyse_trace, estimate_baseline, noise_sigma,
                                                  radiochemical_purity_hplc,
                                                  radiochemical_purity_itlc)

SQRT_2PI = math.sqrt(2 * math.pi)


def gauss(x, height, centre, sigma):
    return height * np.exp(-0.5 * ((x - centre) / sigma) ** 2)


def two_peak_chromatogram(seed=7, noise=1.0):
    """0-25 min at 0.01 min; baseline 30 + 2.4 t cps; peaks at 4.5 and 12.0 min."""
    t = np.round(np.arange(0, 25.0 + 1e-9, 0.01), 4)
    y = (30.0 + 2.4 * t + gauss(t, 400.0, 4.5, 0.12) + gauss(t, 1500.0, 12.0, 0.25)
         + np.random.default_rng(seed).normal(0.0, noise, t.size))
    return t, y


# areas by hand (sqrt(2 pi) = 2.5066283): 400 * 0.12 * 2.5066283 = 48 * 2.5066283 = 120.3182,
# 1500 * 0.25 * 2.5066283 = 375 * 2.5066283 = 939.9856
AREA_1 = 400 * 0.12 * SQRT_2PI
AREA_2 = 1500 * 0.25 * SQRT_2PI


def test_fixture_areas():
    assert AREA_1 == pytest.approx(120.3182, abs=1e-4)
    assert AREA_2 == pytest.approx(939.9856, abs=1e-4)


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_two_gaussian_peaks_on_a_sloping_baseline_within_half_a_percent(seed):
    t, y = two_peak_chromatogram(seed=seed)
    trace = analyse_trace(t, y)
    assert [round(p.apex, 2) for p in trace.peaks] == [4.5, 12.0]
    assert trace.peaks[0].area == pytest.approx(AREA_1, rel=0.005)
    assert trace.peaks[1].area == pytest.approx(AREA_2, rel=0.005)
    # the baseline found is the line drawn: 30 + 2.4 t within a fraction of a count
    assert np.max(np.abs(trace.baseline - (30.0 + 2.4 * t))) < 0.5
    assert trace.noise_sigma == pytest.approx(1.0, rel=0.1)


def test_noise_free_integration_is_exact_to_the_trapezoid():
    t, y = two_peak_chromatogram(noise=0.0)
    trace = analyse_trace(t, y)
    assert trace.peaks[0].area == pytest.approx(AREA_1, rel=1e-4)
    assert trace.peaks[1].area == pytest.approx(AREA_2, rel=1e-4)


def test_area_percent_of_the_product_in_its_window():
    t, y = two_peak_chromatogram()
    result = radiochemical_purity_hplc(t, y, product_window_min=(11.5, 12.5))
    # 939.9856 / (120.3182 + 939.9856) = 88.6525 %
    expected = 100 * AREA_2 / (AREA_1 + AREA_2)
    assert expected == pytest.approx(88.6525, abs=1e-4)
    assert result.purity_percent == pytest.approx(expected, abs=0.1)
    assert [p.apex for p in result.product_peaks] == [12.0]
    assert result.window == (11.5, 12.5)


def test_no_peak_in_the_window_is_zero_purity():
    t, y = two_peak_chromatogram()
    result = radiochemical_purity_hplc(t, y, product_window_min=(20.0, 21.0))
    assert result.purity_percent == 0.0
    assert result.product_peaks == ()


def test_overlapping_peaks_split_at_the_valley():
    # two equal Gaussians 1.0 min apart, sigma 0.2: the drop-line at the valley (midpoint)
    # gives each exactly half of the total by symmetry: 2 * 500 * 0.2 * sqrt(2 pi) / 2
    t = np.round(np.arange(0, 20.0 + 1e-9, 0.01), 4)
    y = 10 + 0.5 * t + gauss(t, 500.0, 9.5, 0.2) + gauss(t, 500.0, 10.5, 0.2)
    trace = analyse_trace(t, y)
    assert len(trace.peaks) == 2
    assert trace.peaks[0].end == pytest.approx(10.0, abs=0.011)
    for peak in trace.peaks:
        assert peak.area == pytest.approx(500 * 0.2 * SQRT_2PI, rel=0.005)


def test_noise_sigma_of_white_noise():
    y = np.random.default_rng(3).normal(0, 2.5, 20000) + np.linspace(0, 100, 20000)
    assert noise_sigma(y) == pytest.approx(2.5, rel=0.03)


def test_baseline_degree_zero_and_two():
    x = np.linspace(0, 10, 501)
    for degree, base in ((0, 7.0 + 0 * x), (2, 3 + 0.2 * x + 0.05 * x**2)):
        y = base + gauss(x, 80, 5.0, 0.3)
        # with the peak region excluded the fit is exact
        got = analyse_trace(x, y, baseline_degree=degree).baseline
        assert np.max(np.abs(got - base)) < 1e-6
        # by clipping alone the Gaussian's far tails bias it by < 0.01 % of the peak height
        assert np.max(np.abs(estimate_baseline(x, y, degree=degree) - base)) < 0.01


def test_non_monotonic_time_is_refused():
    t, y = two_peak_chromatogram()
    t[100] = t[98]
    with pytest.raises(MeasurementError, match="increase strictly"):
        analyse_trace(t, y)


def test_flat_trace_has_no_peak():
    x = np.linspace(0, 10, 200)
    with pytest.raises(MeasurementError, match="no peak"):
        radiochemical_purity_hplc(x, np.full(200, 5.0), product_window_min=(4, 6))


def test_itlc_purity_by_rf():
    # strip 0-100 mm, origin 10 mm, front 90 mm; colloid at the origin (Rf 0), product at
    # 82 mm (Rf 0.9); areas 300 and 9700 counts*mm: purity 97 % (ratios do not depend on
    # the mm -> Rf scaling, which divides both areas by 80)
    x = np.arange(0, 100.01, 0.5)
    y = (15.0 + gauss(x, 300 / (2.0 * SQRT_2PI), 10.0, 2.0)
         + gauss(x, 9700 / (2.5 * SQRT_2PI), 82.0, 2.5)
         + np.random.default_rng(5).normal(0, 0.5, x.size))
    result = radiochemical_purity_itlc(x, y, origin_mm=10.0, front_mm=90.0, product_rf=(0.5, 1.0))
    assert result.purity_percent == pytest.approx(97.0, abs=0.05)
    assert [round(p.apex, 3) for p in result.peaks] == [0.0, 0.9]
    # product area in Rf units: 9700 / 80 = 121.25
    assert result.product_area == pytest.approx(121.25, rel=0.005)
    # the same strip scanned from the front end gives the same answer
    reversed_result = radiochemical_purity_itlc(100 - x[::-1], y[::-1], origin_mm=90.0,
                                                front_mm=10.0, product_rf=(0.5, 1.0))
    assert reversed_result.purity_percent == pytest.approx(result.purity_percent, abs=1e-9)


@pytest.mark.parametrize("tau_min", [0.1, 0.3, 0.6])
def test_tailing_peaks_keep_their_area(tau_min):
    # exponentially modified Gaussian (a tailing HPLC peak): a Gaussian convolved with a
    # unit-area exponential, so its area is the Gaussian's: 500 and 10 cps*min here
    from scipy.stats import exponnorm

    t = np.round(np.arange(0, 25.0 + 1e-9, 0.01), 4)
    y = (20 + 1.5 * t
         + 500 * exponnorm.pdf(t, tau_min / 0.15, loc=11.0, scale=0.15)
         + 10 * exponnorm.pdf(t, tau_min / 0.10, loc=3.0, scale=0.10)
         + np.random.default_rng(1).normal(0, 1.0, t.size))
    trace = analyse_trace(t, y)
    assert len(trace.peaks) == 2
    assert trace.peaks[1].area == pytest.approx(500.0, rel=0.005)
    assert trace.peaks[0].area == pytest.approx(10.0, rel=0.05)  # 10 cps*min at S/N ~ 30
    result = radiochemical_purity_hplc(t, y, product_window_min=(10.5, 12.5))
    assert result.purity_percent == pytest.approx(100 * 500 / 510, abs=0.1)  # 98.04 %
