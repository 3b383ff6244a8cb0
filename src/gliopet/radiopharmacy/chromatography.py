"""Radiochemical purity from a radio-HPLC chromatogram or an iTLC strip scan.

Pure functions on arrays. The steps, each a function:

1. :func:`noise_sigma`: a first estimate of the detector noise, from the
   median absolute first difference (robust to a slow baseline, a little high
   where steep peaks take up much of the trace); refined, once the peaks are
   known, as the robust spread of the residuals about the baseline outside them.
2. :func:`estimate_baseline`: a polynomial (straight line by default) fitted to
   the points outside the peaks: first by iterative clipping of points above
   the line, then refitted with whole peak regions excluded.
3. :func:`find_peaks`: apexes of the baseline-corrected, lightly smoothed trace
   higher than :data:`DETECTION_SIGMAS` noise standard deviations; each peak
   runs, on either side, to where the smoothed signal returns to the baseline
   but at least :data:`TAIL_FWHM` widths from the apex, and never past the
   valley it shares with a neighbour (drop-line).
4. Each peak's area is the trapezoidal integral of the corrected signal
   between its bounds; the product's area percentage is the area of the
   peaks whose apex lies in the product window over the area of all peaks.

References
----------
European Pharmacopoeia 11, 2.2.46 Chromatographic separation techniques
(peak area, baseline, signal-to-noise); 2.2.29 Liquid chromatography;
Ph. Eur. monograph 2482 Gallium (68Ga) edotreotide injection (radio-HPLC
and TLC radiochemical purity as percent of total radioactivity).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import signal as _signal

from ..errors import MeasurementError

logger = logging.getLogger(__name__)

__all__ = [
    "DETECTION_SIGMAS",
    "CLIP_SIGMAS",
    "PEAK_EXCLUSION_FWHM",
    "TAIL_FWHM",
    "Peak",
    "TraceAnalysis",
    "PurityResult",
    "noise_sigma",
    "estimate_baseline",
    "find_peaks",
    "analyse_trace",
    "radiochemical_purity_hplc",
    "radiochemical_purity_itlc",
]

#: A peak's apex must exceed this many noise standard deviations. The usual
#: limit of detection is a signal-to-noise ratio of 3 (ICH Q2); with
#: S/N = 2H/h (Ph. Eur. 2.2.46, h the peak-to-peak noise, about 6 sigma) that
#: is a height of about 9 sigma. 5 sigma detects smaller impurities (counted
#: against the product) while staying far above noise.
DETECTION_SIGMAS = 5.0
#: Points more than this many noise sigmas above the trial baseline are
#: treated as peak points while the baseline is being fitted.
CLIP_SIGMAS = 2.0
#: On the final baseline fit, each detected peak is excluded from its bounds
#: widened by this many full widths at half maximum on each side.
PEAK_EXCLUSION_FWHM = 1.0
#: Peaks smaller than this fraction of the tallest are ignored (integration
#: noise, not impurities).
MIN_RELATIVE_HEIGHT = 1e-3
#: Each peak is integrated at least this many FWHM either side of its apex
#: (unless a neighbour's valley comes first): 2 FWHM is 4.7 sigma of a Gaussian,
#: leaving out 3e-6 of its area, where noise would stop a zero-crossing search early.
TAIL_FWHM = 2.0
#: Odd number of points of the moving average used only to find apexes and bounds.
SMOOTH_POINTS = 5
#: Fewest points outside the peaks for the final baseline fit and noise estimate.
MIN_BASELINE_POINTS = 10
_MAX_ITER = 100


@dataclass(frozen=True, slots=True)
class Peak:
    """One integrated peak. Positions are in the trace's x unit (min or Rf)."""

    apex: float
    start: float
    end: float
    height: float
    area: float
    fwhm: float
    apex_index: int
    start_index: int
    end_index: int


@dataclass(frozen=True, slots=True)
class TraceAnalysis:
    """Baseline, corrected trace, noise and peaks of one chromatogram."""

    x: np.ndarray
    baseline: np.ndarray
    corrected: np.ndarray
    noise_sigma: float
    peaks: tuple[Peak, ...]


@dataclass(frozen=True, slots=True)
class PurityResult:
    """Area percentage of the product.

    Attributes
    ----------
    purity_percent : float
        ``100 * product_area / total_area``.
    product_area, total_area : float
        In signal units x x-units.
    window : tuple of float
        The product window (x units) used.
    peaks : tuple of Peak
        All peaks; ``product_peaks`` those with the apex inside the window.
    """

    purity_percent: float
    product_area: float
    total_area: float
    window: tuple[float, float]
    peaks: tuple[Peak, ...]
    product_peaks: tuple[Peak, ...]
    noise_sigma: float


def _check_trace(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.size != y.size:
        raise MeasurementError(f"trace has {x.size} positions but {y.size} signal values")
    if x.size < 20:
        raise MeasurementError(f"trace has {x.size} points; at least 20 are needed")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise MeasurementError("trace contains non-finite values")
    if np.any(np.diff(x) <= 0):
        bad = int(np.argmax(np.diff(x) <= 0)) + 1
        raise MeasurementError(f"trace positions must increase strictly (point {bad}: "
                               f"{x[bad]} after {x[bad - 1]})")
    return x, y


def noise_sigma(y) -> float:
    """Noise standard deviation from the median absolute first difference.

    For white noise of standard deviation sigma the first differences have
    standard deviation ``sqrt(2) * sigma`` and the median absolute deviation of
    a normal variable is ``0.67449 * sd``; peaks and a slow baseline barely
    move the median.
    """
    d = np.diff(np.asarray(y, dtype=np.float64))
    mad = float(np.median(np.abs(d - np.median(d))))
    return mad / (0.6744897501960817 * np.sqrt(2.0))


def _residual_sigma(residuals: np.ndarray) -> float:
    """Robust standard deviation (1.4826 x MAD) of baseline residuals outside the peaks."""
    return float(1.482602218505602 * np.median(np.abs(residuals - np.median(residuals))))


def _smooth(y: np.ndarray, points: int) -> np.ndarray:
    if points <= 1:
        return y.copy()
    kernel = np.ones(points) / points
    padded = np.pad(y, points // 2, mode="edge")
    return np.convolve(padded, kernel, mode="valid")


def _polyfit(x: np.ndarray, y: np.ndarray, mask: np.ndarray, degree: int) -> np.ndarray:
    if np.count_nonzero(mask) <= degree + 1:
        raise MeasurementError("too few baseline points outside the peaks to fit a baseline")
    centre, scale = x.mean(), max(float(np.ptp(x)), 1e-12)
    u = (x - centre) / scale
    coefficients = np.polyfit(u[mask], y[mask], degree)
    return np.polyval(coefficients, u)


def estimate_baseline(x, y, *, degree: int = 1, exclude=None, noise: float | None = None
                      ) -> np.ndarray:
    """Polynomial baseline under a trace, fitted to the points that are not peak.

    Parameters
    ----------
    x, y : (N,) array-like
        Positions (strictly increasing) and signal.
    degree : int, keyword-only
        Polynomial degree (0 constant, 1 straight line: the default).
    exclude : (N,) bool array, optional
        Points known to be peak, left out of the fit. When not given, peak
        points are found by iterative clipping: points more than
        :data:`CLIP_SIGMAS` noise sigmas above the current fit are dropped and
        the fit repeated until the set is stable.
    noise : float, optional
        Noise sigma; estimated with :func:`noise_sigma` when not given.

    Returns
    -------
    (N,) ndarray
        The baseline at each x.
    """
    x, y = _check_trace(x, y)
    if exclude is not None:
        return _polyfit(x, y, ~np.asarray(exclude, dtype=bool), degree)
    sigma = noise_sigma(y) if noise is None else float(noise)
    floor = 1e-9 * max(float(np.ptp(y)), 1e-300)
    threshold = CLIP_SIGMAS * max(sigma, floor)
    mask = np.ones(x.size, dtype=bool)
    for _ in range(_MAX_ITER):
        baseline = _polyfit(x, y, mask, degree)
        new_mask = (y - baseline) <= threshold
        if np.array_equal(new_mask, mask):
            break
        mask = new_mask
    return baseline


def find_peaks(x, corrected, *, noise: float, detection_sigmas: float = DETECTION_SIGMAS,
               smooth_points: int = SMOOTH_POINTS) -> tuple[Peak, ...]:
    """Detect and integrate the peaks of a baseline-corrected trace.

    Parameters
    ----------
    x, corrected : (N,) array-like
        Positions and baseline-corrected signal.
    noise : float, keyword-only
        Noise standard deviation of the signal.
    detection_sigmas : float
        Minimum apex height (and prominence) in noise sigmas.
    smooth_points : int
        Width of the moving average used to locate apexes and bounds.

    Returns
    -------
    tuple of Peak
        In order of position. Areas are trapezoidal integrals of
        ``corrected`` from ``start`` to ``end``.
    """
    x, y = _check_trace(x, corrected)
    smooth = _smooth(y, smooth_points)
    tallest = float(smooth.max())
    min_height = max(detection_sigmas * noise, MIN_RELATIVE_HEIGHT * max(tallest, 0.0))
    if tallest <= 0 or tallest < min_height:
        return ()
    apexes, _ = _signal.find_peaks(smooth, height=min_height, prominence=min_height)
    if apexes.size == 0:
        return ()
    widths_pts = _signal.peak_widths(smooth, apexes, rel_height=0.5)[0]
    dx = np.diff(x)
    # valleys shared by neighbouring peaks: the lowest smoothed point between apexes
    valleys = [int(a + np.argmin(smooth[a:b + 1])) for a, b in zip(apexes[:-1], apexes[1:])]
    peaks = []
    for n, apex in enumerate(apexes):
        left_limit = valleys[n - 1] if n > 0 else 0
        right_limit = valleys[n] if n + 1 < apexes.size else x.size - 1
        reach = int(np.ceil(TAIL_FWHM * widths_pts[n]))
        seg = smooth[left_limit:apex + 1]
        below = np.nonzero(seg <= 0)[0]
        start = left_limit + int(below[-1]) if below.size else left_limit
        start = max(left_limit, min(start, apex - reach))
        seg = smooth[apex:right_limit + 1]
        below = np.nonzero(seg <= 0)[0]
        end = apex + int(below[0]) if below.size else right_limit
        end = min(right_limit, max(end, apex + reach))
        area = float(np.trapezoid(y[start:end + 1], x[start:end + 1]))
        fwhm = float(widths_pts[n] * np.median(dx[max(apex - 5, 0):apex + 5]))
        peaks.append(Peak(apex=float(x[apex]), start=float(x[start]), end=float(x[end]),
                          height=float(y[apex]), area=area, fwhm=fwhm, apex_index=int(apex),
                          start_index=start, end_index=end))
    return tuple(peaks)


def analyse_trace(x, y, *, baseline_degree: int = 1,
                  detection_sigmas: float = DETECTION_SIGMAS) -> TraceAnalysis:
    """Baseline correction, peak detection and integration of one trace.

    The baseline is fitted twice: by iterative clipping, then again with every
    detected peak (its bounds widened by :data:`PEAK_EXCLUSION_FWHM` FWHM each
    side) left out; peaks are then found and integrated on the final
    corrected trace.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.linspace(0, 20, 2001)
    >>> y = 5 + 0.5 * t + 100 * np.exp(-0.5 * ((t - 8) / 0.2) ** 2)
    >>> trace = analyse_trace(t, y)
    >>> round(trace.peaks[0].area, 2)  # 100 * 0.2 * sqrt(2 pi)
    50.13
    """
    x, y = _check_trace(x, y)
    sigma = noise_sigma(y)
    baseline = estimate_baseline(x, y, degree=baseline_degree, noise=sigma)
    peaks = find_peaks(x, y - baseline, noise=sigma, detection_sigmas=detection_sigmas)
    if peaks:
        exclude = np.zeros(x.size, dtype=bool)
        for peak in peaks:
            margin = PEAK_EXCLUSION_FWHM * peak.fwhm
            exclude |= (x >= peak.start - margin) & (x <= peak.end + margin)
        if np.count_nonzero(~exclude) > max(baseline_degree + 1, MIN_BASELINE_POINTS):
            baseline = estimate_baseline(x, y, degree=baseline_degree, exclude=exclude)
            sigma = _residual_sigma((y - baseline)[~exclude])
            peaks = find_peaks(x, y - baseline, noise=sigma, detection_sigmas=detection_sigmas)
        else:
            logger.warning("peaks cover the whole trace; baseline from clipping only")
    return TraceAnalysis(x=x, baseline=baseline, corrected=y - baseline, noise_sigma=sigma,
                         peaks=peaks)


def _area_percent(trace: TraceAnalysis, window: tuple[float, float]) -> PurityResult:
    low, high = float(window[0]), float(window[1])
    if not low < high:
        raise MeasurementError(f"product window must be [low, high] with low < high, got {window}")
    if not trace.peaks:
        raise MeasurementError("no peak found in the trace (nothing above the noise)")
    total = float(sum(p.area for p in trace.peaks))
    if not total > 0:
        raise MeasurementError("total peak area is not positive")
    product = tuple(p for p in trace.peaks if low <= p.apex <= high)
    product_area = float(sum(p.area for p in product))
    return PurityResult(purity_percent=100.0 * product_area / total, product_area=product_area,
                        total_area=total, window=(low, high), peaks=trace.peaks,
                        product_peaks=product, noise_sigma=trace.noise_sigma)


def radiochemical_purity_hplc(time_min, signal, *, product_window_min,
                              baseline_degree: int = 1) -> PurityResult:
    """Radiochemical purity (area %) of the product peak in a radio-HPLC chromatogram.

    Parameters
    ----------
    time_min : (N,) array-like
        Retention time, minutes, strictly increasing.
    signal : (N,) array-like
        Radio-detector signal (counts/s or mV).
    product_window_min : (float, float), keyword-only
        Retention window of the product, minutes: peaks whose apex lies in it
        are product.
    baseline_degree : int
        Degree of the baseline polynomial.

    Returns
    -------
    PurityResult
        ``purity_percent = 100 * sum(product peak areas) / sum(all peak areas)``;
        0 when no peak lies in the window.
    """
    trace = analyse_trace(time_min, signal, baseline_degree=baseline_degree)
    return _area_percent(trace, tuple(product_window_min))


def radiochemical_purity_itlc(position_mm, counts, *, origin_mm: float, front_mm: float,
                              product_rf, baseline_degree: int = 0) -> PurityResult:
    """Radiochemical purity from an iTLC strip scan, by retardation factor.

    ``Rf = (position - origin) / (front - origin)``; peaks whose apex Rf lies in
    ``product_rf`` are product (68Ga-Pentixafor migrates with the solvent front
    in ammonium acetate/methanol 1:1 on iTLC-SG, while colloidal 68Ga stays at
    the origin).

    Parameters
    ----------
    position_mm : (N,) array-like
        Position along the strip, mm, strictly increasing.
    counts : (N,) array-like
        Counts (or count rate) at each position.
    origin_mm, front_mm : float, keyword-only
        Positions of the application point and of the solvent front.
    product_rf : (float, float)
        Rf window of the product.
    baseline_degree : int
        Degree of the background polynomial (constant by default).

    Returns
    -------
    PurityResult
        With positions (apex, bounds, window) in Rf units.
    """
    if not front_mm != origin_mm:
        raise MeasurementError("iTLC solvent front and origin are at the same position")
    position = np.asarray(position_mm, dtype=np.float64)
    rf = (position - float(origin_mm)) / (float(front_mm) - float(origin_mm))
    if front_mm < origin_mm:  # strip scanned from the front towards the origin
        rf, counts = rf[::-1], np.asarray(counts)[::-1]
    trace = analyse_trace(rf, counts, baseline_degree=baseline_degree)
    return _area_percent(trace, tuple(product_rf))
