"""The study's circular ROIs, implemented a second time for the simulator's ground truth.

Why this module exists: the simulator's ground truth is what the automatic
measurement (:mod:`gliopet.measure`) is validated against. If the truth were
computed by the measurement's own ROI code, a comparison at the true positions
would only check where the circle was placed, never the circle's arithmetic:
an error in that arithmetic would be in the truth too. So this module computes
the same definitions a second way and shares no code with
:mod:`gliopet.measure` or :mod:`gliopet.shapes` (it imports neither, and uses a
different discretisation): two implementations checking each other.

The definitions (DESIGN.md, "Lesion" and "Background"; the study's text):

- Background circle, 25 mm: on the axial plane at the centre's own
  (fractional) slice level, the PET linear between the two nearest slices
  (the slice itself on a slice centre). SUVmax is the maximum over the disk
  of that plane's bilinear interpolant. A bilinear function is harmonic
  inside each cell between four voxel centres, so its maximum over a piece of
  the disk is at a voxel centre inside the disk or on the rim: here, the
  voxel centres inside plus the rim sampled every :data:`RIM_ARC_STEP_MM`
  with a bilinear interpolation written out below. SUVmean is the disk's mean
  of the piecewise-constant image (each voxel weighted by the area of it
  inside the disk), estimated on a cartesian grid of points
  :data:`DISK_SAMPLE_STEP_MM` apart laid on the disk's own centre.
- Lesion circle, 10 mm: on the axial slice holding the hottest voxel of the
  lesion VOI, centred on that voxel; SUVmax is the hottest voxel whose centre
  lies inside the circle, SUVmean the disk's area-weighted mean (as above).

Everything here is pure: arrays and plain values in, a small frozen
dataclass out. The in-plane axes are taken orthogonal (the simulator's PET
grid is axis-aligned).

References
----------
The study: "A circular ROI with a diameter of 1 cm was placed in the region of
highest activity"; "a 2.5 cm ROI ... in the contralateral hemisphere at the
level of the centrum semiovale".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "STUDY_LESION_DIAMETER_MM", "STUDY_BACKGROUND_DIAMETER_MM", "RIM_ARC_STEP_MM", "DISK_SAMPLE_STEP_MM",
    "DiskTruth", "axial_plane", "bilinear", "disk_mean", "disk_max_interpolated", "disk_max_voxel_centres",
    "background_disk_truth", "lesion_disk_truth",
]

#: The study's lesion circle: "a circular ROI with a diameter of 1 cm".
STUDY_LESION_DIAMETER_MM = 10.0
#: The study's background circle: "a 2.5 cm ROI ... in the contralateral hemisphere".
STUDY_BACKGROUND_DIAMETER_MM = 25.0
#: Arc step (mm) of the rim sampling for the interpolated maximum: the sampled
#: maximum is within ``RIM_ARC_STEP_MM / 2`` x the plane's largest gradient of the exact one.
RIM_ARC_STEP_MM = 0.002
#: Spacing (mm) of the cartesian points that estimate a disk's area-weighted mean; the
#: estimate's area error is of the order of the rim length x this step / 2, averaged out
#: over the rim.
DISK_SAMPLE_STEP_MM = 0.02


@dataclass(frozen=True, slots=True)
class DiskTruth:
    """A circle's statistics and where it is.

    ``centre_ijk`` is (i, j, k) in voxel indices; ``k`` is the fractional plane
    level of a resliced (background) circle, the slice of a lesion circle.
    """

    suvmax: float
    suvmean: float
    centre_ijk: tuple[float, float, float]
    diameter_mm: float

    def to_dict(self) -> dict:
        return {"suvmax": float(self.suvmax), "suvmean": float(self.suvmean),
                "centre_ijk": [round(float(v), 4) for v in self.centre_ijk], "diameter_mm": float(self.diameter_mm)}


def _spacing_and_inverse(affine: np.ndarray) -> tuple[tuple[float, float, float], np.ndarray]:
    affine = np.asarray(affine, dtype=np.float64)
    spacing = tuple(float(np.linalg.norm(affine[:3, c])) for c in range(3))
    return spacing, np.linalg.inv(affine)


def axial_plane(array_kji: np.ndarray, level_k: float) -> np.ndarray:
    """The axial plane at fractional slice level ``level_k``: linear between the two nearest slices.

    ``level_k`` is clamped to ``[0, K - 1]`` (beyond the outer slice centres
    the outer slice holds).

    Parameters
    ----------
    array_kji : (K, J, I) array
    level_k : float
        Slice level in voxel units (``k`` of (i, j, k)).

    Returns
    -------
    (J, I) float64 array

    Examples
    --------
    >>> a = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 3.0)])
    >>> float(axial_plane(a, 0.25)[0, 0])
    1.5
    """
    n_k = array_kji.shape[0]
    level = min(max(float(level_k), 0.0), n_k - 1.0)
    below = int(math.floor(level))
    frac = level - below
    lower = np.asarray(array_kji[below], dtype=np.float64)
    if frac == 0.0 or below + 1 >= n_k:
        return lower
    return lower + frac * (np.asarray(array_kji[below + 1], dtype=np.float64) - lower)


def bilinear(plane_ji: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """The plane's bilinear interpolant at points (``i``, ``j``) in voxel indices.

    Points are clamped to the outer voxel centres (the edge voxel holds out to
    the image's edge).

    Examples
    --------
    >>> p = np.array([[0.0, 1.0], [2.0, 3.0]])  # value = i + 2 j
    >>> float(bilinear(p, np.array([0.5]), np.array([0.25]))[0])
    1.0
    """
    n_j, n_i = plane_ji.shape
    i = np.clip(np.asarray(i, dtype=np.float64), 0.0, n_i - 1.0)
    j = np.clip(np.asarray(j, dtype=np.float64), 0.0, n_j - 1.0)
    i0 = np.minimum(np.floor(i).astype(np.int64), max(n_i - 2, 0))
    j0 = np.minimum(np.floor(j).astype(np.int64), max(n_j - 2, 0))
    i1 = np.minimum(i0 + 1, n_i - 1)
    j1 = np.minimum(j0 + 1, n_j - 1)
    ti, tj = i - i0, j - j0
    top = plane_ji[j0, i0] * (1.0 - ti) + plane_ji[j0, i1] * ti
    bottom = plane_ji[j1, i0] * (1.0 - ti) + plane_ji[j1, i1] * ti
    return top * (1.0 - tj) + bottom * tj


def _inside_image(i: np.ndarray, j: np.ndarray, shape_ji: tuple[int, int]) -> np.ndarray:
    n_j, n_i = shape_ji
    return (i >= -0.5) & (i <= n_i - 0.5) & (j >= -0.5) & (j <= n_j - 0.5)


def disk_max_voxel_centres(plane_ji: np.ndarray, *, centre_ij: tuple[float, float], radius_mm: float,
                           spacing_ij_mm: tuple[float, float]) -> float:
    """Highest voxel whose centre lies inside the disk (at most ``radius_mm`` from its centre), or -inf."""
    n_j, n_i = plane_ji.shape
    ci, cj = centre_ij
    si, sj = spacing_ij_mm
    jj, ii = np.mgrid[0:n_j, 0:n_i]
    inside = np.hypot((ii - ci) * si, (jj - cj) * sj) <= radius_mm
    return float(plane_ji[inside].max()) if inside.any() else -math.inf


def disk_max_interpolated(plane_ji: np.ndarray, *, centre_ij: tuple[float, float], radius_mm: float,
                          spacing_ij_mm: tuple[float, float], rim_step_mm: float = RIM_ARC_STEP_MM) -> float:
    """Maximum of the plane's bilinear interpolant over the disk (its part inside the image).

    The larger of :func:`disk_max_voxel_centres` and the interpolant on the rim,
    sampled every ``rim_step_mm`` of arc.
    """
    ci, cj = centre_ij
    si, sj = spacing_ij_mm
    n = max(int(math.ceil(2.0 * math.pi * radius_mm / rim_step_mm)), 16)
    theta = np.linspace(0.0, 2.0 * math.pi, n, endpoint=False)
    i = ci + radius_mm * np.cos(theta) / si
    j = cj + radius_mm * np.sin(theta) / sj
    keep = _inside_image(i, j, plane_ji.shape)
    rim = float(bilinear(plane_ji, i[keep], j[keep]).max()) if keep.any() else -math.inf
    return max(rim, disk_max_voxel_centres(plane_ji, centre_ij=centre_ij, radius_mm=radius_mm,
                                           spacing_ij_mm=spacing_ij_mm))


def disk_mean(plane_ji: np.ndarray, *, centre_ij: tuple[float, float], radius_mm: float,
              spacing_ij_mm: tuple[float, float], step_mm: float = DISK_SAMPLE_STEP_MM) -> float:
    """Area-weighted mean of the piecewise-constant plane over the disk (its part inside the image).

    Points on a cartesian grid ``step_mm`` apart, symmetric about the disk's
    centre (at odd multiples of ``step_mm / 2``), inside the disk and the
    image, each take the value of the voxel holding it.

    Raises
    ------
    ValueError
        The disk holds no grid point inside the image.
    """
    ci, cj = centre_ij
    si, sj = spacing_ij_mm
    half = int(math.ceil(radius_mm / step_mm))
    offsets = (np.arange(2 * half) - (2 * half - 1) / 2.0) * step_mm  # +-step/2, +-3 step/2, ...
    dx, dy = np.meshgrid(offsets, offsets, indexing="xy")
    inside = dx * dx + dy * dy <= radius_mm * radius_mm
    i = ci + dx[inside] / si
    j = cj + dy[inside] / sj
    keep = _inside_image(i, j, plane_ji.shape)
    if not keep.any():
        raise ValueError(f"disk at (i, j) = ({ci:.2f}, {cj:.2f}) holds no point of the image")
    n_j, n_i = plane_ji.shape
    col = np.clip(np.floor(i[keep] + 0.5).astype(np.int64), 0, n_i - 1)
    row = np.clip(np.floor(j[keep] + 0.5).astype(np.int64), 0, n_j - 1)
    return float(np.asarray(plane_ji, dtype=np.float64)[row, col].mean())


def background_disk_truth(array_kji: np.ndarray, affine: np.ndarray, *, centre_lps_mm,
                          diameter_mm: float = STUDY_BACKGROUND_DIAMETER_MM) -> DiskTruth:
    """The background circle at ``centre_lps_mm``, read on the axial plane through it (resliced).

    Parameters
    ----------
    array_kji : (K, J, I) array
        SUV image.
    affine : (4, 4) array
        (i, j, k, 1) -> LPS mm, axis-aligned in plane.
    centre_lps_mm : (3,) array-like
        The circle's centre; its level is clamped to the image's slices.
    """
    spacing, inverse = _spacing_and_inverse(affine)
    ci, cj, ck = inverse[:3, :3] @ np.asarray(centre_lps_mm, dtype=np.float64) + inverse[:3, 3]
    ck = min(max(float(ck), 0.0), array_kji.shape[0] - 1.0)
    plane = axial_plane(array_kji, ck)
    radius = diameter_mm / 2.0
    kwargs = dict(centre_ij=(float(ci), float(cj)), radius_mm=radius, spacing_ij_mm=spacing[:2])
    return DiskTruth(suvmax=disk_max_interpolated(plane, **kwargs), suvmean=disk_mean(plane, **kwargs),
                     centre_ijk=(float(ci), float(cj), ck), diameter_mm=float(diameter_mm))


def _hottest_voxel_kji(array_kji: np.ndarray, mask_kji: np.ndarray,
                       spacing_ijk_mm: tuple[float, float, float]) -> tuple[int, int, int]:
    """(k, j, i) of the VOI's highest voxel; a tie goes to the tied voxel nearest (mm) to the ties' centroid."""
    values = np.asarray(array_kji, dtype=np.float64)[mask_kji]
    where = np.argwhere(mask_kji)
    tied = where[values == values.max()]
    if len(tied) > 1:
        mm = tied * np.asarray(spacing_ijk_mm[::-1])
        tied = tied[[int(np.argmin(((mm - mm.mean(axis=0)) ** 2).sum(axis=1)))]]
    k, j, i = (int(v) for v in tied[0])
    return k, j, i


def lesion_disk_truth(array_kji: np.ndarray, affine: np.ndarray, mask_kji: np.ndarray, *,
                      diameter_mm: float = STUDY_LESION_DIAMETER_MM) -> DiskTruth | None:
    """The lesion circle: on the slice of the VOI's hottest voxel, centred on it; None for an empty VOI.

    SUVmax is the hottest voxel whose centre lies inside the circle (a hotter
    voxel just outside the VOI counts, as a reader would see it), SUVmean the
    disk's area-weighted mean on that slice.
    """
    mask_kji = np.asarray(mask_kji, dtype=bool)
    if not mask_kji.any():
        return None
    spacing, _ = _spacing_and_inverse(affine)
    k, j, i = _hottest_voxel_kji(array_kji, mask_kji, spacing)
    plane = np.asarray(array_kji[k], dtype=np.float64)
    kwargs = dict(centre_ij=(float(i), float(j)), radius_mm=diameter_mm / 2.0, spacing_ij_mm=spacing[:2])
    return DiskTruth(suvmax=disk_max_voxel_centres(plane, **kwargs), suvmean=disk_mean(plane, **kwargs),
                     centre_ijk=(float(i), float(j), float(k)), diameter_mm=float(diameter_mm))
