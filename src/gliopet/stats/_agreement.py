"""Agreement between two readers beyond Cohen's kappa: percent agreement, PABAK, Gwet's AC1, weighted kappa.

A cohort like the founding study's is 93 % positive. There Cohen's kappa is
known to be paradoxically low for readers who almost always agree (Feinstein
& Cicchetti 1990): its chance agreement, from the product of the readers'
marginals, approaches 1. The prevalence- and bias-adjusted kappa (PABAK,
Byrt et al. 1993) and Gwet's AC1 (Gwet 2008) take chance agreement from a
uniform or from the categories' mean propensity, and stay interpretable.
All are reported with their 95 % confidence intervals. The 4-point scale
(0 none, 1 equivocal, 2 moderate, 3 intense) is ordinal: weighted kappa.

Pure functions of the readers' paired scores (equal length, same cases).

References
----------
Byrt T, Bishop J, Carlin JB. Bias, prevalence and kappa. J Clin Epidemiol 1993;46:423-9.
Brennan RL, Prediger DJ. Coefficient kappa: some uses, misuses, and alternatives.
Educ Psychol Meas 1981;41:687-99.
Gwet KL. Computing inter-rater reliability and its variance in the presence of high
agreement. Br J Math Stat Psychol 2008;61:29-48.
Gwet KL. Handbook of Inter-Rater Reliability, 4th ed. Advanced Analytics, 2014 (ch. 2 and 5:
the two-rater variances used here, with the t quantile on n - 1 degrees of freedom).
Cohen J. Weighted kappa. Psychol Bull 1968;70:213-20.
Fleiss JL, Cohen J, Everitt BS. Large sample standard errors of kappa and weighted kappa.
Psychol Bull 1969;72:323-7.
Feinstein AR, Cicchetti DV. High agreement but low kappa. J Clin Epidemiol 1990;43:543-9.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

from ..errors import InputError
from ..jsonable import dataclass_dict

__all__ = ["AgreementResult", "WeightedKappaResult", "agreement_table", "percent_agreement", "pabak",
           "gwet_ac1", "weighted_kappa", "VISUAL_SCALE"]

#: The study's 4-point visual scale, in order.
VISUAL_SCALE = (0, 1, 2, 3)
#: Confidence level of every interval here.
CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class AgreementResult:
    """One agreement coefficient, its standard error and 95 % interval (clipped to its range)."""

    name: str
    n: int
    value: float
    se: float
    ci95: tuple[float, float]

    def to_dict(self) -> dict:
        return dataclass_dict(self)


@dataclass(frozen=True, slots=True)
class WeightedKappaResult:
    """Weighted kappa (linear or quadratic weights) with its large-sample standard error."""

    weights: str
    n: int
    kappa: float | None
    se: float | None
    ci95: tuple[float, float] | None

    def to_dict(self) -> dict:
        return dataclass_dict(self)


def agreement_table(reader1: Sequence, reader2: Sequence,
                    categories: Sequence | None = None) -> tuple[np.ndarray, tuple]:
    """The q x q table of counts (rows reader 1, columns reader 2) and its categories.

    ``categories`` fixes the categories and their order (needed for the
    scale); by default the sorted union of both readers' values.

    Raises
    ------
    InputError
        Lists of different lengths, empty lists, or a value outside ``categories``.
    """
    a, b = list(reader1), list(reader2)
    if len(a) != len(b) or not a:
        raise InputError(f"agreement needs two equally long, non-empty score lists (got {len(a)} and {len(b)})")
    cats = tuple(categories) if categories is not None else tuple(sorted(set(a) | set(b), key=str))
    index = {c: i for i, c in enumerate(cats)}
    table = np.zeros((len(cats), len(cats)), dtype=np.float64)
    for u, v in zip(a, b):
        if u not in index or v not in index:
            bad = u if u not in index else v
            raise InputError(f"agreement: score {bad!r} is not one of {', '.join(map(str, cats))}")
        table[index[u], index[v]] += 1
    return table, cats


def _interval(value: float, se: float, n: int, *, lowest: float = -1.0) -> tuple[float, float]:
    """value +/- t(0.975, n - 1) SE (Gwet 2014), clipped to [lowest, 1] (a proportion's lowest is 0)."""
    half = float(_st.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * se if n >= 2 else math.inf
    return (max(lowest, value - half), min(1.0, value + half))


def percent_agreement(table: np.ndarray) -> AgreementResult:
    """Observed agreement ``p_a = sum_k p_kk``, SE ``sqrt(p_a (1 - p_a) / n)``.

    Examples
    --------
    >>> round(percent_agreement(np.array([[13, 0, 0], [0, 20, 7], [0, 4, 56]])).value, 2)
    0.89
    """
    n = int(table.sum())
    pa = float(np.trace(table)) / n
    se = math.sqrt(pa * (1.0 - pa) / n)
    return AgreementResult("percent agreement", n, pa, se, _interval(pa, se, n, lowest=0.0))


def pabak(table: np.ndarray) -> AgreementResult:
    """Prevalence- and bias-adjusted kappa: ``(q p_a - 1) / (q - 1)`` for q categories.

    For two categories this is Byrt's ``2 p_a - 1``; for q it is Brennan and
    Prediger's coefficient (chance agreement ``1 / q``). It is linear in
    ``p_a``, so its SE is ``SE(p_a) q / (q - 1)``.

    Examples
    --------
    >>> round(pabak(np.array([[25, 1], [1, 2]])).value, 4)  # p_a = 27 / 29
    0.8621
    """
    q = table.shape[0]
    if q < 2:
        raise InputError("PABAK needs at least two categories")
    agreement = percent_agreement(table)
    value = (q * agreement.value - 1.0) / (q - 1.0)
    se = agreement.se * q / (q - 1.0)
    return AgreementResult("PABAK", agreement.n, value, se, _interval(value, se, agreement.n))


def gwet_ac1(table: np.ndarray) -> AgreementResult:
    """Gwet's AC1 and its SE for two raters (Gwet 2008; Handbook 2014, ch. 2).

    ``pi_k = (p_k. + p_.k) / 2`` is the mean propensity for category k,
    chance agreement ``p_e = sum_k pi_k (1 - pi_k) / (q - 1)``, and
    ``AC1 = (p_a - p_e) / (1 - p_e)``. The variance (simple random sample of
    subjects, no finite-population correction) is::

        var = [sum_kl p_kl (d_kl - 2 (1 - AC1) c_kl)^2 - (p_a - 2 (1 - AC1) p_e)^2] / (n (1 - p_e)^2)

    with ``d_kl`` 1 on the diagonal, 0 elsewhere, and
    ``c_kl = (1 - (pi_k + pi_l) / 2) / (q - 1)``.

    Examples
    --------
    >>> round(gwet_ac1(np.array([[13, 0, 0], [0, 20, 7], [0, 4, 56]])).value, 7)  # Gwet's irrCAC example
    0.8493305
    """
    q = table.shape[0]
    if q < 2:
        raise InputError("Gwet's AC1 needs at least two categories")
    n = int(table.sum())
    p = table / n
    pa = float(np.trace(p))
    pi = (p.sum(axis=1) + p.sum(axis=0)) / 2.0
    pe = float((pi * (1.0 - pi)).sum()) / (q - 1.0)
    ac1 = (pa - pe) / (1.0 - pe)
    c = (1.0 - (pi[:, None] + pi[None, :]) / 2.0) / (q - 1.0)
    term = (p * (np.eye(q) - 2.0 * (1.0 - ac1) * c) ** 2).sum()
    var = (float(term) - (pa - 2.0 * (1.0 - ac1) * pe) ** 2) / (n * (1.0 - pe) ** 2)
    se = math.sqrt(max(var, 0.0))
    return AgreementResult("Gwet's AC1", n, float(ac1), se, _interval(float(ac1), se, n))


def weighted_kappa(reader1: Sequence[int], reader2: Sequence[int], *, weights: str = "linear",
                   scale: Sequence[int] = VISUAL_SCALE) -> WeightedKappaResult:
    """Cohen's weighted kappa of an ordinal scale (disagreement weights linear ``|i - j|`` or quadratic).

    ``kappa_w = 1 - sum w_ij p_ij / sum w_ij p_i. p_.j`` (Cohen 1968), the
    large-sample SE of Fleiss, Cohen and Everitt (1969) as statsmodels
    computes it (``statsmodels.stats.inter_rater.cohens_kappa``), interval
    kappa +/- 1.96 SE clipped to [-1, 1]. None when undefined (both readers
    gave one and the same score throughout).
    """
    if weights not in ("linear", "quadratic"):
        raise InputError(f"weighted kappa: weights must be linear or quadratic, got {weights!r}")
    table, _ = agreement_table(reader1, reader2, categories=scale)
    n = int(table.sum())
    p = table / n
    i = np.arange(len(scale), dtype=np.float64)
    w = np.abs(i[:, None] - i[None, :]) ** (1 if weights == "linear" else 2)
    expected = float((w * np.outer(p.sum(axis=1), p.sum(axis=0))).sum())
    if expected == 0.0:
        return WeightedKappaResult(weights, n, None, None, None)
    from statsmodels.stats.inter_rater import cohens_kappa as _sm_kappa

    kappa = 1.0 - float((w * p).sum()) / expected
    se = float(_sm_kappa(table, wt=weights).std_kappa)
    half = float(_st.norm.ppf(0.5 + CONFIDENCE / 2)) * se
    return WeightedKappaResult(weights, n, kappa, se, (max(-1.0, kappa - half), min(1.0, kappa + half)))
