"""Hypothesis tests and intervals on plain values: Mann-Whitney U, Clopper-Pearson,
Cohen's kappa, ROC AUC (DeLong), paired Wilcoxon signed-rank.

Every function takes sequences of numbers (or labels) and returns plain values
in a small frozen dataclass; nothing here reads files or clocks.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

from ..errors import InputError
from ..jsonable import dataclass_dict

logger = logging.getLogger(__name__)

__all__ = [
    "EXACT_MAX_N",
    "MannWhitneyResult",
    "mann_whitney_u",
    "mann_whitney_exact_distribution",
    "clopper_pearson",
    "KappaResult",
    "cohens_kappa",
    "RocResult",
    "roc_auc_delong",
    "PairedResult",
    "paired_wilcoxon",
]

#: Largest total sample size (n_x + n_y) for which the exact permutation
#: distribution of U is computed; above it only the asymptotic p is given
#: (SPSS likewise offers exact p for small samples).
EXACT_MAX_N = 200

#: Confidence level used for every interval unless given.
DEFAULT_CONFIDENCE = 0.95


def _as_finite_1d(values: Sequence[float], name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size and not np.all(np.isfinite(arr)):
        raise InputError(f"{name}: values must be finite numbers")
    return arr


@dataclass(frozen=True, slots=True)
class MannWhitneyResult:
    """Mann-Whitney U test of two independent samples ``x`` and ``y``.

    ``u_x`` counts pairs with x > y (ties count 1/2); ``u_y = n_x n_y - u_x``;
    ``u = min(u_x, u_y)`` is the statistic papers and SPSS print.
    """

    n_x: int
    n_y: int
    u_x: float
    u_y: float
    u: float
    z: float
    p_asymptotic: float
    p_exact: float | None
    p_exact_untied: float | None
    ties: bool

    def to_dict(self) -> dict:
        return dataclass_dict(self)


def _midranks_doubled(pooled: np.ndarray) -> np.ndarray:
    """Twice the mid-ranks of ``pooled`` as exact integers."""
    ranks = _st.rankdata(pooled, method="average")
    doubled = np.rint(2.0 * ranks).astype(np.int64)
    return doubled


def mann_whitney_exact_distribution(ranks_doubled: Sequence[int], n_x: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact permutation distribution of twice the rank sum of a sample of size ``n_x``.

    Every one of the C(N, n_x) ways to choose ``n_x`` of the ``N`` pooled
    observations is equally likely under H0; the rank sum of the chosen ones
    (with the observed mid-ranks, so ties are handled exactly) is counted by
    dynamic programming over subsets instead of listing them.

    Parameters
    ----------
    ranks_doubled : sequence of int, length N
        Twice the (mid-)ranks of the pooled sample (integers).
    n_x : int
        Size of the first sample.

    Returns
    -------
    sums2 : (K,) int array
        The attainable values of twice the rank sum.
    probability : (K,) float array
        Their null probabilities (sum to 1).
    """
    r2 = np.asarray(ranks_doubled, dtype=np.int64)
    total = int(r2[np.argsort(r2)[::-1][:n_x]].sum()) if n_x else 0
    counts = np.zeros((n_x + 1, total + 1), dtype=np.float64)
    counts[0, 0] = 1.0
    for i, r in enumerate(r2):
        r = int(r)
        for j in range(min(i + 1, n_x), 0, -1):
            if r <= total:
                counts[j, r:] += counts[j - 1, : total + 1 - r]
    dist = counts[n_x]
    support = np.flatnonzero(dist)
    prob = dist[support] / dist.sum()
    return support.astype(np.int64), prob


def mann_whitney_u(x: Sequence[float], y: Sequence[float], *, exact_max_n: int = EXACT_MAX_N) -> MannWhitneyResult:
    """Mann-Whitney U test, exact and asymptotic, as SPSS reports it.

    ``U_x = R_x - n_x (n_x + 1) / 2`` with ``R_x`` the sum of the mid-ranks
    of ``x`` in the pooled sample.

    * ``p_asymptotic``: normal approximation with the tie correction and
      without continuity correction, two-sided (SPSS "Asymp. Sig.
      (2-tailed)"): ``z = (U_x - n_x n_y / 2) / sigma`` with
      ``sigma^2 = n_x n_y / 12 * ((N + 1) - sum(t^3 - t) / (N (N - 1)))``.
    * ``p_exact``: two-sided exact permutation p, ``P(|U - n_x n_y/2| >=
      |U_obs - n_x n_y/2|)`` over all C(N, n_x) equally likely assignments
      of the observed mid-ranks (exact also with ties).
    * ``p_exact_untied``: SPSS "Exact Sig. [2*(1-tailed Sig.)]", twice the
      lower tail ``P(U <= min(U_x, U_y))`` of the no-ties distribution,
      capped at 1 (SPSS footnotes it "Not corrected for ties").

    Exact values are ``None`` when ``n_x + n_y > exact_max_n``.

    Parameters
    ----------
    x, y : sequence of float
        The two independent samples (at least one value each).
    exact_max_n : int, optional
        Largest ``n_x + n_y`` for the exact distributions.

    Returns
    -------
    MannWhitneyResult

    Raises
    ------
    InputError
        If a sample is empty or holds a non-finite value.

    References
    ----------
    Mann HB, Whitney DR. Ann Math Stat 1947;18:50-60.
    Lehmann EL. Nonparametrics: Statistical Methods Based on Ranks. 1975, ch. 1 (ties, eq. 1.47).
    IBM SPSS Statistics Algorithms, "NPAR TESTS: Mann-Whitney U test".

    Examples
    --------
    >>> r = mann_whitney_u([1, 2], [3, 4, 5])
    >>> r.u, round(r.p_exact, 4)
    (0.0, 0.2)
    """
    xa = _as_finite_1d(x, "x")
    ya = _as_finite_1d(y, "y")
    n_x, n_y = xa.size, ya.size
    if n_x == 0 or n_y == 0:
        raise InputError(f"Mann-Whitney U needs at least one value in each group (got {n_x} and {n_y})")
    pooled = np.concatenate([xa, ya])
    n = n_x + n_y
    r2 = _midranks_doubled(pooled)
    r2_x = int(r2[:n_x].sum())
    u2_x = r2_x - n_x * (n_x + 1)  # twice U_x, an integer
    u_x = u2_x / 2.0
    u_y = n_x * n_y - u_x
    _, tie_counts = np.unique(pooled, return_counts=True)
    ties = bool(np.any(tie_counts > 1))
    z, p_asym = _mann_whitney_asymptotic(u_x, n_x=n_x, n_y=n_y, tie_counts=tie_counts)
    p_exact = p_untied = None
    if n <= exact_max_n:
        p_exact, p_untied = _mann_whitney_exact(r2, n_x=n_x, n_y=n_y, u2_x=u2_x, u_min=min(u_x, u_y))
    return MannWhitneyResult(n_x=n_x, n_y=n_y, u_x=u_x, u_y=u_y, u=min(u_x, u_y), z=float(z),
                             p_asymptotic=p_asym, p_exact=p_exact, p_exact_untied=p_untied, ties=ties)


def _mann_whitney_asymptotic(u_x: float, *, n_x: int, n_y: int, tie_counts: np.ndarray) -> tuple[float, float]:
    """``z`` and the two-sided normal p of :func:`mann_whitney_u`, tie-corrected, no continuity correction.

    ``(0, 1)`` when every value is tied (no evidence of a difference).
    """
    n = n_x + n_y
    tie_term = float(np.sum(tie_counts.astype(np.float64) ** 3 - tie_counts))
    var = n_x * n_y / 12.0 * ((n + 1) - tie_term / (n * (n - 1))) if n > 1 else 0.0
    if var > 0:
        z = (u_x - n_x * n_y / 2.0) / math.sqrt(var)
        p_asym = float(min(1.0, 2.0 * _st.norm.sf(abs(z))))
    else:  # every value tied: no evidence of a difference
        z, p_asym = 0.0, 1.0
    return z, p_asym


def _mann_whitney_exact(r2: np.ndarray, *, n_x: int, n_y: int, u2_x: int, u_min: float) -> tuple[float, float]:
    """The exact two-sided p over the observed mid-ranks, and SPSS's untied 2 x lower tail (:func:`mann_whitney_u`).

    ``r2`` are the pooled sample's doubled mid-ranks, ``u2_x`` twice ``U_x``,
    ``u_min`` the smaller of ``U_x`` and ``U_y``.
    """
    n = n_x + n_y
    centre2 = n_x * n_y  # twice the null mean of U, in the doubled units of u2
    sums2, prob = mann_whitney_exact_distribution(r2, n_x)
    dev = np.abs((sums2 - n_x * (n_x + 1)) - centre2)
    p_exact = float(min(1.0, prob[dev >= abs(u2_x - centre2)].sum()))
    sums2_nt, prob_nt = mann_whitney_exact_distribution(2 * np.arange(1, n + 1), n_x)
    u_nt = (sums2_nt - n_x * (n_x + 1)) / 2.0
    p_untied = float(min(1.0, 2.0 * prob_nt[u_nt <= u_min].sum()))
    return p_exact, p_untied


def clopper_pearson(k: int, n: int, *, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """Clopper-Pearson ("exact") confidence interval of a binomial proportion k/n.

    ``lower = B^-1(alpha/2; k, n - k + 1)`` (0 when k = 0) and
    ``upper = B^-1(1 - alpha/2; k + 1, n - k)`` (1 when k = n), with
    ``B^-1`` the beta quantile; equivalently ``P(X >= k | lower) = alpha/2``
    and ``P(X <= k | upper) = alpha/2``.

    Raises
    ------
    InputError
        Unless ``0 <= k <= n`` and ``n >= 1``.

    References
    ----------
    Clopper CJ, Pearson ES. Biometrika 1934;26:404-413.

    Examples
    --------
    >>> lo, hi = clopper_pearson(0, 10)
    >>> lo, round(hi, 4)  # 1 - 0.025 ** (1 / 10)
    (0.0, 0.3085)
    """
    if not (isinstance(k, (int, np.integer)) and isinstance(n, (int, np.integer))) or n < 1 or not 0 <= k <= n:
        raise InputError(f"Clopper-Pearson interval needs integers 0 <= k <= n, n >= 1 (got k={k}, n={n})")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be between 0 and 1 (got {confidence})")
    alpha = 1.0 - confidence
    lower = 0.0 if k == 0 else float(_st.beta.ppf(alpha / 2, k, n - k + 1))
    upper = 1.0 if k == n else float(_st.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lower, upper


@dataclass(frozen=True, slots=True)
class KappaResult:
    """Cohen's kappa between two readers."""

    n: int
    categories: tuple[str, ...]
    observed_agreement: float
    expected_agreement: float
    kappa: float | None
    se: float | None
    ci95: tuple[float, float] | None

    def to_dict(self) -> dict:
        return dataclass_dict(self)


def cohens_kappa(reader1: Sequence[str], reader2: Sequence[str]) -> KappaResult:
    """Cohen's kappa of two readers' categorical scores of the same cases.

    ``kappa = (p_o - p_e) / (1 - p_e)`` with ``p_o`` the observed agreement
    and ``p_e = sum_c p1(c) p2(c)`` the agreement expected by chance from the
    readers' marginal frequencies. The standard error is the large-sample
    one of Fleiss, Cohen and Everitt (1969) (statsmodels ``cohens_kappa``,
    ``std_kappa``); the 95 % interval is kappa +/- 1.96 SE, clipped to [-1, 1].
    When both readers used one and the same category for every case, kappa
    is undefined (0 / 0) and ``kappa``, ``se`` and ``ci95`` are ``None``.

    References
    ----------
    Cohen J. Educ Psychol Meas 1960;20:37-46.
    Fleiss JL, Cohen J, Everitt BS. Psychol Bull 1969;72:323-327.

    Examples
    --------
    >>> round(cohens_kappa(["pos", "pos", "neg", "neg"], ["pos", "neg", "neg", "neg"]).kappa, 4)
    0.5
    """
    a = [str(v) for v in reader1]
    b = [str(v) for v in reader2]
    if len(a) != len(b) or not a:
        raise InputError(f"Cohen's kappa needs two equally long, non-empty score lists (got {len(a)} and {len(b)})")
    cats = tuple(sorted(set(a) | set(b)))
    index = {c: i for i, c in enumerate(cats)}
    table = np.zeros((len(cats), len(cats)), dtype=np.float64)
    for u, v in zip(a, b):
        table[index[u], index[v]] += 1
    n = len(a)
    p = table / n
    po = float(np.trace(p))
    pe = float(p.sum(axis=1) @ p.sum(axis=0))
    if pe >= 1.0:  # both readers used one and the same category throughout: kappa undefined
        return KappaResult(n=n, categories=cats, observed_agreement=po, expected_agreement=pe,
                           kappa=None, se=None, ci95=None)
    else:
        kappa = (po - pe) / (1.0 - pe)
        from statsmodels.stats.inter_rater import cohens_kappa as _sm_kappa

        se = float(_sm_kappa(table).std_kappa)
        half = _st.norm.ppf(0.5 + DEFAULT_CONFIDENCE / 2) * se
        ci = (float(max(-1.0, kappa - half)), float(min(1.0, kappa + half)))
    return KappaResult(n=n, categories=cats, observed_agreement=po, expected_agreement=pe,
                       kappa=float(kappa), se=se, ci95=ci)


@dataclass(frozen=True, slots=True)
class RocResult:
    """Area under the ROC curve of a continuous predictor for a binary outcome."""

    n_positive: int
    n_negative: int
    auc: float
    se: float
    ci95: tuple[float, float]

    def to_dict(self) -> dict:
        return dataclass_dict(self)


def roc_auc_delong(positive: Sequence[float], negative: Sequence[float], *,
                   confidence: float = DEFAULT_CONFIDENCE) -> RocResult:
    """ROC AUC with DeLong's standard error and a normal confidence interval.

    ``AUC = mean over (i, j) of psi(X_i, Y_j)`` with ``psi = 1`` when the
    positive case scores higher, ``1/2`` on a tie, 0 otherwise (this equals
    ``U / (m n)``). DeLong's variance: ``S10 / m + S01 / n`` where ``S10``
    and ``S01`` are the sample variances (ddof 1) of the structural
    components ``V10_i = mean_j psi(X_i, Y_j)`` and ``V01_j = mean_i
    psi(X_i, Y_j)``. The interval ``AUC +/- z SE`` is clipped to [0, 1] (as
    pROC does).

    Raises
    ------
    InputError
        If either group has fewer than two values (no variance).

    References
    ----------
    DeLong ER, DeLong DM, Clarke-Pearson DL. Biometrics 1988;44:837-845.

    Examples
    --------
    >>> roc_auc_delong([3, 4], [1, 2]).auc
    1.0
    """
    xp = _as_finite_1d(positive, "positive")
    xn = _as_finite_1d(negative, "negative")
    m, n = xp.size, xn.size
    if m < 2 or n < 2:
        raise InputError(f"ROC AUC with a DeLong interval needs at least 2 cases per class (got {m} and {n})")
    psi = (xp[:, None] > xn[None, :]).astype(np.float64) + 0.5 * (xp[:, None] == xn[None, :])
    auc = float(psi.mean())
    v10 = psi.mean(axis=1)
    v01 = psi.mean(axis=0)
    var = float(np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n)
    se = math.sqrt(var)
    half = _st.norm.ppf(0.5 + confidence / 2) * se
    return RocResult(n_positive=m, n_negative=n, auc=auc, se=se,
                     ci95=(float(max(0.0, auc - half)), float(min(1.0, auc + half))))


@dataclass(frozen=True, slots=True)
class PairedResult:
    """Paired comparison of two time points (e.g. 30 vs 60 min p.i.)."""

    n: int
    median_before: float
    median_after: float
    median_percent_change: float
    percent_change: tuple[float, ...]
    statistic: float | None
    p: float | None
    method: str

    def to_dict(self) -> dict:
        return dataclass_dict(self)


def paired_wilcoxon(before: Sequence[float], after: Sequence[float]) -> PairedResult:
    """Wilcoxon signed-rank test and percent change between paired measurements.

    Percent change per case: ``100 (after - before) / before``. The test is
    two-sided; exact (scipy ``method='exact'``) when there are no zero
    differences and no tied absolute differences and n <= 50, otherwise the
    normal approximation with tie correction and zero differences dropped
    (Wilcoxon's convention; scipy ``zero_method='wilcox'``, no continuity
    correction). With fewer than one non-zero difference no p is given.

    References
    ----------
    Wilcoxon F. Biometrics Bulletin 1945;1:80-83.

    Examples
    --------
    >>> r = paired_wilcoxon([5.53], [6.36])
    >>> round(r.median_percent_change, 2), r.p
    (15.01, 1.0)
    """
    b = _as_finite_1d(before, "before")
    a = _as_finite_1d(after, "after")
    if b.size != a.size or b.size == 0:
        raise InputError(f"paired comparison needs two equally long, non-empty lists (got {b.size} and {a.size})")
    if np.any(b <= 0):
        raise InputError("paired comparison: the earlier values must be > 0 for a percent change")
    pct = 100.0 * (a - b) / b
    d = a - b
    nonzero = d[d != 0]
    stat = p = None
    method = "none (no non-zero difference)"
    if nonzero.size >= 1:
        has_ties = np.unique(np.abs(nonzero)).size < nonzero.size
        if nonzero.size == d.size and not has_ties and d.size <= 50:
            res = _st.wilcoxon(a, b, method="exact", alternative="two-sided")
            method = "exact"
        else:
            res = _st.wilcoxon(a, b, method="approx", zero_method="wilcox", correction=False,
                               alternative="two-sided")
            method = "normal approximation (tie-corrected)"
        stat, p = float(res.statistic), float(res.pvalue)
    return PairedResult(n=int(b.size), median_before=float(np.median(b)), median_after=float(np.median(a)),
                        median_percent_change=float(np.median(pct)), percent_change=tuple(float(v) for v in pct),
                        statistic=stat, p=p, method=method)
