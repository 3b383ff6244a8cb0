"""Ordered-subsets expectation maximisation (OSEM) on per-slice sinograms.

Model of the mean prompts in ray ``r`` of slice ``k``:
``ybar = m * (A x) + b`` with ``A`` the projector, ``m`` the multiplicative
factors (attenuation x sensitivity x counting time) and ``b`` the additive
background (randoms + scatter). One sub-iteration on subset ``S``:

``x <- x / (A_S^T m_S) * A_S^T (m_S y_S / ybar_S)``

With one subset this is MLEM, which never lowers the Poisson log-likelihood
``sum(y log ybar - ybar)`` and, without background, makes the expected counts
equal the measured counts after every update.

References
----------
Shepp LA, Vardi Y. Maximum likelihood reconstruction for emission tomography.
IEEE Trans Med Imaging 1982;1:113-22. Hudson HM, Larkin RS. Accelerated image
reconstruction using ordered subsets of projection data. IEEE Trans Med
Imaging 1994;13:601-9.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .projector import SystemMatrix

__all__ = ["OsemResult", "osem", "poisson_log_likelihood"]

logger = logging.getLogger(__name__)

#: Expected counts below this are treated as zero in the ratio y / ybar.
_TINY = 1e-12


@dataclass(frozen=True)
class OsemResult:
    """Reconstructed images ``(K, n, n)`` and the log-likelihood after each full iteration."""

    image: np.ndarray
    log_likelihood: tuple[float, ...]


def _columns(sino: np.ndarray) -> np.ndarray:
    k = sino.shape[0]
    return np.ascontiguousarray(sino.reshape(k, -1).T, dtype=np.float32)


def poisson_log_likelihood(prompts: np.ndarray, expected: np.ndarray) -> float:
    """Poisson log-likelihood without the constant ``-log(y!)``: ``sum(y log ybar - ybar)``."""
    y = np.asarray(prompts, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    return float(np.sum(np.where(y > 0, y * np.log(np.maximum(e, _TINY)), 0.0) - e))


def osem(prompts: np.ndarray, *, system: SystemMatrix, multiplicative: np.ndarray,
         additive: np.ndarray | None = None, n_iterations: int = 2,
         track_likelihood: bool = False) -> OsemResult:
    """Reconstruct slices by OSEM with the subsets of ``system``.

    Parameters
    ----------
    prompts : (K, n_views, n_bins) array
        Measured counts per ray and slice.
    system : SystemMatrix
        Projector and its ordered subsets (``system.n_subsets``; 1 gives MLEM).
    multiplicative : (K, n_views, n_bins) array
        Counts per unit line integral of the image (attenuation, sensitivity, time).
    additive : (K, n_views, n_bins) array, optional
        Expected randoms + scatter counts.
    n_iterations : int
        Full passes over all subsets.
    track_likelihood : bool
        Compute the log-likelihood after each iteration (one extra projection each).

    Returns
    -------
    OsemResult
        ``image`` in the units that make ``multiplicative * (A image)`` counts.
    """
    g = system.geometry
    k = prompts.shape[0]
    y = _columns(prompts)
    m = _columns(multiplicative)
    b = _columns(additive) if additive is not None else np.zeros_like(y)
    n_pix = g.n_pixels ** 2
    # Start from a uniform image inside the field of view that explains the net counts.
    ones = np.zeros((n_pix, 1), np.float32)
    ones[np.asarray(system.matrix_t.getnnz(axis=1) > 0)] = 1.0
    ones_proj = system.matrix @ ones  # (n_rays, 1)
    net = np.clip(y - b, 0, None).sum(axis=0)
    expected_unit = (m * ones_proj).sum(axis=0)
    level = np.where(expected_unit > 0, net / np.maximum(expected_unit, _TINY), 0.0).astype(np.float32)
    x = ones * level[None, :]
    inv_sens: list[np.ndarray | None] = [None] * system.n_subsets
    history = []
    for _ in range(n_iterations):
        for s in range(system.n_subsets):
            rows = system.subset_rows[s]
            m_s = m[rows]
            if inv_sens[s] is None:
                sens = system.subsets_t[s] @ m_s
                inv = np.zeros_like(sens)
                np.divide(1.0, sens, out=inv, where=sens > 0)
                inv_sens[s] = inv
            ybar = system.subsets[s] @ x
            ybar *= m_s
            ybar += b[rows]
            ratio = m_s * y[rows]
            np.divide(ratio, ybar, out=ratio, where=ybar > _TINY)
            ratio[ybar <= _TINY] = 0.0
            x *= system.subsets_t[s] @ ratio
            x *= inv_sens[s]
        if track_likelihood:
            history.append(poisson_log_likelihood(y, m * (system.matrix @ x) + b))
    image = np.ascontiguousarray(x.T).reshape(k, g.n_pixels, g.n_pixels)
    return OsemResult(image=image, log_likelihood=tuple(history))
