"""Half-life from dose-calibrator readings over time, and the identity check.

A least-squares straight line through ``ln A`` against time gives the decay
constant ``lambda = -slope`` and the half-life ``T = ln 2 / lambda``. Its
standard uncertainty propagates the slope's standard error (from the
residuals, ``n - 2`` degrees of freedom): ``u(T) = T * u(lambda) / lambda``.
Two readings define the line exactly and carry no uncertainty estimate.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from ..errors import MeasurementError

logger = logging.getLogger(__name__)

__all__ = ["HalfLifeFit", "fit_half_life", "half_life_within"]


@dataclass(frozen=True, slots=True)
class HalfLifeFit:
    """Result of :func:`fit_half_life`.

    Attributes
    ----------
    half_life_s : float
        Estimated half-life, seconds.
    uncertainty_s : float or None
        Its standard uncertainty (k = 1), seconds; ``None`` from two readings.
    decay_constant_per_s : float
        ``lambda = ln 2 / half_life_s``.
    n_readings : int
        Number of readings used.
    span_s : float
        Time from the first to the last reading, seconds.
    """

    half_life_s: float
    uncertainty_s: float | None
    decay_constant_per_s: float
    n_readings: int
    span_s: float


def fit_half_life(times_s, activities_bq) -> HalfLifeFit:
    """Least-squares half-life from activity readings.

    Parameters
    ----------
    times_s : (N,) array-like
        Reading times in seconds from any origin, N >= 2, not all equal.
    activities_bq : (N,) array-like
        Readings in Bq (any unit works: only ratios matter), all > 0.

    Returns
    -------
    HalfLifeFit

    Raises
    ------
    MeasurementError
        Fewer than two readings, a reading <= 0, all at one time, or an
        activity that does not decrease.

    References
    ----------
    JCGM 100:2008 (GUM), section 5.1.2 (first-order propagation);
    Press et al., Numerical Recipes, 3rd ed., section 15.2 (straight-line fit
    and the standard error of its slope).

    Examples
    --------
    >>> fit = fit_half_life([0, 67.71 * 60], [100e6, 50e6])
    >>> round(fit.half_life_s / 60, 2), fit.uncertainty_s
    (67.71, None)
    """
    t = np.asarray(times_s, dtype=np.float64).ravel()
    a = np.asarray(activities_bq, dtype=np.float64).ravel()
    if t.size != a.size:
        raise MeasurementError(f"{t.size} reading times but {a.size} activities")
    if t.size < 2:
        raise MeasurementError(f"a half-life needs at least 2 readings, got {t.size}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(a))):
        raise MeasurementError("reading times and activities must be finite numbers")
    if np.any(a <= 0):
        raise MeasurementError("every activity reading must be > 0 to fit a half-life")
    t_centred = t - t.mean()
    sxx = float(np.sum(t_centred**2))
    if sxx <= 0:
        raise MeasurementError("all readings are at the same time; a half-life needs a time span")
    y = np.log(a)
    slope = float(np.sum(t_centred * (y - y.mean())) / sxx)
    decay_constant = -slope
    if not decay_constant > 0:
        raise MeasurementError("the readings do not decrease with time; no half-life can be fitted")
    half_life = math.log(2.0) / decay_constant
    uncertainty = None
    if t.size > 2:
        residuals = y - (y.mean() + slope * t_centred)
        s2 = float(np.sum(residuals**2)) / (t.size - 2)
        u_slope = math.sqrt(s2 / sxx)
        uncertainty = half_life * u_slope / decay_constant
    span = float(t.max() - t.min())
    logger.debug("half-life %.3f min from %d readings over %.1f min", half_life / 60, t.size,
                 span / 60)
    return HalfLifeFit(half_life_s=half_life, uncertainty_s=uncertainty,
                       decay_constant_per_s=decay_constant, n_readings=int(t.size), span_s=span)


def half_life_within(half_life_s: float, *, low_s: float, high_s: float) -> bool:
    """Identity check: ``low_s <= half_life_s <= high_s`` (68Ga: 62 to 74 min)."""
    return low_s <= half_life_s <= high_s
