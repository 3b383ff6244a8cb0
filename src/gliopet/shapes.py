"""Shared geometry of ROIs: disks, spheres and balls on voxel grids (pure).

The partial-voxel weights of a circle on a slice and of a sphere around a
voxel, and the voxels of a ball around a point. Both :mod:`gliopet.brain`
(placing the background circle) and :mod:`gliopet.measure` (reading the
ROIs) draw their shapes here, so neither imports the other for them.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import GeometryError
from .volume import Volume

__all__ = ["CIRCLE_SUBSAMPLES", "SPHERE_SUBSAMPLES", "subsample_offsets", "disk_weights", "sphere_kernel",
           "ball_mask"]

#: Sub-samples per in-plane axis for a circle's partial-voxel weights
#: (10 x 10 = 100 points per voxel).
CIRCLE_SUBSAMPLES = 10
#: Sub-samples per axis for a sphere's partial-voxel weights (7^3 = 343).
SPHERE_SUBSAMPLES = 7


def subsample_offsets(n: int) -> np.ndarray:
    """Centres of an ``n``-point regular sub-grid across one voxel, in voxel units (-0.5..0.5)."""
    return (np.arange(n) + 0.5) / n - 0.5


def disk_weights(shape_ji: tuple[int, int], *, centre_ij: tuple[float, float], diameter_mm: float,
                 spacing_ij_mm: tuple[float, float], subsamples: int = CIRCLE_SUBSAMPLES) -> np.ndarray:
    """Fraction of each pixel of a slice that lies inside a circle.

    Each pixel is divided into a regular ``subsamples x subsamples`` sub-grid;
    its weight is the fraction of sub-grid centres whose in-plane distance from
    the circle's centre is at most the radius. Pixels fully inside get 1, fully
    outside 0, rim pixels their covered fraction (error ~ 1/subsamples^2 of
    the rim's area).

    Parameters
    ----------
    shape_ji : (J, I)
        Slice shape (rows, columns).
    centre_ij : (i, j)
        Circle centre in (possibly fractional) voxel indices.
    diameter_mm : float
        Circle diameter.
    spacing_ij_mm : (si, sj)
        Pixel spacing along i (columns) and j (rows).
    subsamples : int
        Sub-grid points per axis.

    Returns
    -------
    weights : (J, I) float64 array in [0, 1]

    Examples
    --------
    >>> w = disk_weights((21, 21), centre_ij=(10, 10), diameter_mm=10, spacing_ij_mm=(1, 1))
    >>> round(float(w.sum()) / (math.pi * 5 ** 2), 2)  # area / (pi r^2)
    1.0
    """
    if diameter_mm <= 0:
        raise GeometryError(f"circle diameter must be > 0 mm, got {diameter_mm}")
    n_j, n_i = shape_ji
    ci, cj = float(centre_ij[0]), float(centre_ij[1])
    si, sj = float(spacing_ij_mm[0]), float(spacing_ij_mm[1])
    radius = diameter_mm / 2.0
    weights = np.zeros((n_j, n_i), dtype=np.float64)
    i0 = max(int(math.floor(ci - radius / si - 1)), 0)
    i1 = min(int(math.ceil(ci + radius / si + 1)), n_i - 1)
    j0 = max(int(math.floor(cj - radius / sj - 1)), 0)
    j1 = min(int(math.ceil(cj + radius / sj + 1)), n_j - 1)
    if i1 < i0 or j1 < j0:
        return weights
    offsets = subsample_offsets(subsamples)
    x_mm = ((np.arange(i0, i1 + 1)[:, None] + offsets[None, :]) - ci) * si  # (ni, n)
    y_mm = ((np.arange(j0, j1 + 1)[:, None] + offsets[None, :]) - cj) * sj  # (nj, n)
    inside = (y_mm[:, None, :, None] ** 2 + x_mm[None, :, None, :] ** 2) <= radius ** 2
    weights[j0:j1 + 1, i0:i1 + 1] = inside.mean(axis=(2, 3))
    return weights


def sphere_kernel(spacing_ijk_mm: tuple[float, float, float], *, diameter_mm: float,
                  subsamples: int = SPHERE_SUBSAMPLES) -> np.ndarray:
    """Partial-voxel weights of a sphere centred on a voxel centre, ``[k, j, i]``.

    Weight = fraction of a ``subsamples^3`` sub-grid of the voxel inside the
    sphere; ``kernel.sum() * voxel volume`` approximates the sphere's volume.

    Examples
    --------
    >>> k = sphere_kernel((1.0, 1.0, 1.0), diameter_mm=12.407)
    >>> abs(float(k.sum()) / 1000.0 - 1.0) < 0.01  # 1 mL within 1 %
    True
    """
    radius = diameter_mm / 2.0
    si, sj, sk = (float(s) for s in spacing_ijk_mm)
    offsets = subsample_offsets(subsamples)
    axes = []
    for s in (sk, sj, si):
        half = int(math.ceil(radius / s + 0.5))
        axes.append(((np.arange(-half, half + 1)[:, None] + offsets[None, :]) * s))  # (n_vox, n_sub) mm
    zk, yj, xi = axes
    d2 = (zk[:, None, None, :, None, None] ** 2 + yj[None, :, None, None, :, None] ** 2
          + xi[None, None, :, None, None, :] ** 2)
    return (d2 <= radius ** 2).mean(axis=(3, 4, 5))


def ball_mask(volume: Volume, centre_lps_mm, radius_mm: float) -> np.ndarray:
    """Voxels of ``volume`` whose centres lie within ``radius_mm`` of an LPS point (bool ``[k, j, i]``)."""
    out = np.zeros(volume.shape, dtype=bool)
    centre_ijk = volume.xyz_mm_to_ijk(centre_lps_mm)
    reach = np.array([radius_mm / s + 1 for s in volume.spacing_mm])
    lo = np.maximum(np.floor(centre_ijk - reach).astype(int), 0)
    hi = np.minimum(np.ceil(centre_ijk + reach).astype(int) + 1, np.array(volume.shape[::-1]))
    if np.any(hi <= lo):
        return out
    k, j, i = np.mgrid[lo[2]:hi[2], lo[1]:hi[1], lo[0]:hi[0]]
    xyz = volume.ijk_to_xyz_mm(np.stack([i, j, k], axis=-1).astype(np.float64))
    out[lo[2]:hi[2], lo[1]:hi[1], lo[0]:hi[0]] = (
        ((xyz - np.asarray(centre_lps_mm, dtype=np.float64)) ** 2).sum(axis=-1) <= radius_mm ** 2)
    return out
