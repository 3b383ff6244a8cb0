"""A 2-D parallel-beam PET projector as a sparse system matrix, one per slice.

Why our own projector: the well-kept PET projector libraries (parallelproj, and
pytomography which needs it for PET) are distributed through conda only; no
PyPI wheel projects on CPU. A scipy sparse matrix is small for a brain
scanner's transaxial plane (about 4 million non-zeros for 168 x 168 pixels,
136 bins x 126 views), is built once per geometry and cached, and projects all
109 slices at once as one sparse x dense product (slices are the columns), so
2 iterations x 21 subsets of OSEM take about a second. The 3-D acquisition is
treated as rebinned 2-D slices (single-slice rebinning); axial resolution
enters through the image-space system blur.

Geometry: pixel ``(i, j)`` of an ``n x n`` slice sits at
``x = (i - (n-1)/2) p``, ``y = (j - (n-1)/2) p`` (mm, LPS in-plane); view ``v``
looks along the angle ``theta_v = pi v / n_views`` and bin ``b`` sits at
``s_b = (b - (n_bins-1)/2) w``. Each pixel is split into ``subsamples**2``
points, each spread linearly over the two nearest bins with weight
``p**2 / (subsamples**2 w)``, so a pixel's weights in one view add up to its
area over the bin width: the matrix computes line integrals (value x mm).
Pixels outside the circle the bins cover carry no weights.
Rows are view-major: ``row = v * n_bins + b``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp

from .protocol import OSEM_SUBSETS

__all__ = ["ProjectorGeometry", "SystemMatrix", "system_matrix", "CLINICAL_GEOMETRY"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProjectorGeometry:
    """Transaxial sampling of image and sinogram.

    Parameters
    ----------
    n_pixels : int
        Image matrix ``n x n``.
    pixel_mm : float
        Pixel size (mm).
    n_bins : int
        Radial bins per view.
    bin_mm : float
        Radial bin width (mm).
    n_views : int
        Views over 180 degrees.
    subsamples : int
        Points per pixel edge used to spread a pixel over the bins.
    """

    n_pixels: int = 168
    pixel_mm: float = 2.0
    n_bins: int = 136
    bin_mm: float = 2.0
    n_views: int = 126
    subsamples: int = 2

    @property
    def n_rays(self) -> int:
        """Rays per slice (views x bins)."""
        return self.n_views * self.n_bins

    @property
    def fov_radius_mm(self) -> float:
        """Radius of the circle whose pixels are projected."""
        return (self.n_bins / 2 - 1) * self.bin_mm


#: The clinical grid: 168 x 168 pixels of 2 mm, 136 bins of 2 mm (a 268 mm circle, enough for
#: a posed head with its scalp), 126 views (6 per subset of 21).
CLINICAL_GEOMETRY = ProjectorGeometry()


@dataclass(frozen=True)
class SystemMatrix:
    """System matrix of one slice, split into ordered subsets of views.

    ``matrix`` is ``(n_rays, n_pixels**2)`` CSR (weights in mm); ``subset_rows[s]``
    are the rows of subset ``s`` (views ``s, s + n_subsets, ...``);
    ``subsets[s]`` and ``subsets_t[s]`` are that subset's rows and their
    transpose, both CSR.
    """

    geometry: ProjectorGeometry
    n_subsets: int
    matrix: sp.csr_matrix
    matrix_t: sp.csr_matrix
    subset_rows: tuple[np.ndarray, ...]
    subsets: tuple[sp.csr_matrix, ...]
    subsets_t: tuple[sp.csr_matrix, ...]

    def forward(self, images: np.ndarray) -> np.ndarray:
        """Project images ``(K, n, n)`` to sinograms ``(K, n_views, n_bins)``."""
        g = self.geometry
        k = images.shape[0]
        cols = np.ascontiguousarray(images.reshape(k, -1).T, dtype=np.float32)
        return np.ascontiguousarray((self.matrix @ cols).T).reshape(k, g.n_views, g.n_bins)

    def back(self, sinograms: np.ndarray) -> np.ndarray:
        """Back-project sinograms ``(K, n_views, n_bins)`` to images ``(K, n, n)`` (the adjoint)."""
        g = self.geometry
        k = sinograms.shape[0]
        cols = np.ascontiguousarray(sinograms.reshape(k, -1).T, dtype=np.float32)
        return np.ascontiguousarray((self.matrix_t @ cols).T).reshape(k, g.n_pixels, g.n_pixels)


def _build_matrix(g: ProjectorGeometry) -> sp.csr_matrix:
    n = g.n_pixels
    centres = (np.arange(n) - (n - 1) / 2.0) * g.pixel_mm
    x, y = np.meshgrid(centres, centres)  # [j, i]
    inside = (x ** 2 + y ** 2) <= g.fov_radius_mm ** 2
    cols = np.flatnonzero(inside.ravel())
    offsets = ((np.arange(g.subsamples) + 0.5) / g.subsamples - 0.5) * g.pixel_mm
    ox, oy = np.meshgrid(offsets, offsets)
    sx = x.ravel()[cols][:, None] + ox.ravel()[None, :]
    sy = y.ravel()[cols][:, None] + oy.ravel()[None, :]
    weight = g.pixel_mm ** 2 / (g.subsamples ** 2 * g.bin_mm)
    col_index = np.broadcast_to(cols[:, None], sx.shape)
    rows, columns, values = [], [], []
    for v in range(g.n_views):
        theta = np.pi * v / g.n_views
        u = (sx * np.cos(theta) + sy * np.sin(theta)) / g.bin_mm + (g.n_bins - 1) / 2.0
        b0 = np.floor(u).astype(np.int64)
        frac = u - b0
        for b, w in ((b0, 1.0 - frac), (b0 + 1, frac)):
            ok = (b >= 0) & (b < g.n_bins)
            rows.append((v * g.n_bins + b)[ok])
            columns.append(col_index[ok])
            values.append((weight * w)[ok])
    matrix = sp.csr_matrix(
        (np.concatenate(values).astype(np.float32), (np.concatenate(rows), np.concatenate(columns))),
        shape=(g.n_rays, n * n))
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    return matrix


def system_matrix(geometry: ProjectorGeometry = CLINICAL_GEOMETRY, *,
                  n_subsets: int = OSEM_SUBSETS) -> SystemMatrix:
    """The (cached) system matrix of ``geometry`` with its ``n_subsets`` ordered subsets.

    ``n_views`` must be a multiple of ``n_subsets`` so every subset has the same views count.
    Built once per process for each (geometry, n_subsets) and reused.
    """
    return _cached_system_matrix(geometry, int(n_subsets))


@lru_cache(maxsize=4)
def _cached_system_matrix(geometry: ProjectorGeometry, n_subsets: int) -> SystemMatrix:
    if geometry.n_views % n_subsets:
        raise ValueError(f"n_views {geometry.n_views} is not a multiple of n_subsets {n_subsets}")
    matrix = _build_matrix(geometry)
    subset_rows = tuple(
        np.concatenate([np.arange(v * geometry.n_bins, (v + 1) * geometry.n_bins)
                        for v in range(s, geometry.n_views, n_subsets)])
        for s in range(n_subsets))
    subsets = tuple(matrix[rows] for rows in subset_rows)
    logger.debug("system matrix %s: %d non-zeros", geometry, matrix.nnz)
    return SystemMatrix(geometry=geometry, n_subsets=n_subsets, matrix=matrix,
                        matrix_t=matrix.T.tocsr(), subset_rows=subset_rows, subsets=subsets,
                        subsets_t=tuple(m.T.tocsr() for m in subsets))
