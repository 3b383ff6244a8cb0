"""Volume <-> SimpleITK image, and resampling between grids (both in LPS mm).

SimpleITK's physical space is LPS, like :class:`~gliopet.volume.Volume`, so
the conversion is exact: origin = affine translation, spacing = column norms,
direction = unit columns. ``GetArrayFromImage`` is ``[k, j, i]`` like ours.

Importing this module runs ITK on one thread in this process
(:data:`ITK_THREADS`), so that every fit is the same to the last bit on every
run.
"""

from __future__ import annotations

import itertools

import numpy as np
import SimpleITK as sitk

from ..volume import Volume

__all__ = ["to_sitk", "from_sitk", "affine_to_sitk", "transform_to_matrix", "resample_to", "isotropic_grid",
           "coarsened_grid", "box_corners_mm", "sub_volume"]

#: ITK's threads in a gliopet process, set on import. One: with two, ITK sums
#: parts of a registration's metric in whichever order its threads finish, and
#: the same study's template fit came out up to 1e-14 voxel apart from run to
#: run (measured, sequential runs), which a measurement continuous in the fit
#: (the resliced background circle) shows in its last digits; with one it is
#: identical every run. (A registration's own ``SetNumberOfThreads(1)`` was
#: not enough.) One study's measurement takes about 0.6 s longer
#: (docs/benchmarks.md); a cohort runs one study per core, and got faster.
ITK_THREADS = 1
sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(ITK_THREADS)


def to_sitk(volume: Volume, *, dtype: type = np.float32) -> sitk.Image:
    """The volume as a SimpleITK image with the same physical geometry."""
    image = sitk.GetImageFromArray(np.asarray(volume.array, dtype=dtype))
    spacing = np.array(volume.spacing_mm)
    image.SetSpacing(tuple(float(s) for s in spacing))
    image.SetOrigin(tuple(float(v) for v in volume.affine[:3, 3]))
    direction = volume.affine[:3, :3] / spacing[None, :]
    image.SetDirection(tuple(float(v) for v in direction.flatten()))
    return image


def from_sitk(image: sitk.Image, **provenance) -> Volume:
    """A SimpleITK image as a Volume."""
    spacing = np.array(image.GetSpacing())
    direction = np.array(image.GetDirection()).reshape(3, 3)
    affine = np.eye(4)
    affine[:3, :3] = direction * spacing[None, :]
    affine[:3, 3] = image.GetOrigin()
    return Volume(sitk.GetArrayFromImage(image), affine, provenance)


def affine_to_sitk(matrix_lps: np.ndarray) -> sitk.AffineTransform:
    """A 4x4 LPS->LPS matrix as a SimpleITK AffineTransform (same point mapping)."""
    transform = sitk.AffineTransform(3)
    transform.SetMatrix(tuple(float(v) for v in np.asarray(matrix_lps)[:3, :3].flatten()))
    transform.SetTranslation(tuple(float(v) for v in np.asarray(matrix_lps)[:3, 3]))
    return transform


def transform_to_matrix(transform: sitk.Transform) -> np.ndarray:
    """A SimpleITK matrix-offset transform (Euler, Similarity, Affine) as a 4x4 LPS matrix."""
    matrix = np.array(transform.GetMatrix()).reshape(3, 3)
    centre = np.array(transform.GetCenter())
    translation = np.array(transform.GetTranslation())
    out = np.eye(4)
    out[:3, :3] = matrix
    out[:3, 3] = translation + centre - matrix @ centre
    return out


def resample_to(volume: Volume, reference: Volume, *, reference_to_volume: np.ndarray | None = None,
                order: int = 1, default: float = 0.0) -> np.ndarray:
    """Values of ``volume`` on the grid of ``reference``.

    ``reference_to_volume`` (4x4, LPS -> LPS) maps a point of the reference's
    space to the volume's space (identity when both are in the same patient
    space). ``order`` 0 = nearest neighbour, 1 = linear. Points outside the
    volume get ``default``.
    """
    interpolator = sitk.sitkNearestNeighbor if order == 0 else sitk.sitkLinear
    transform = (sitk.Transform(3, sitk.sitkIdentity) if reference_to_volume is None
                 else affine_to_sitk(reference_to_volume))
    out = sitk.Resample(to_sitk(volume), to_sitk(reference, dtype=np.uint8), transform, interpolator,
                        float(default), sitk.sitkFloat32)
    return sitk.GetArrayFromImage(out)


def isotropic_grid(volume: Volume, spacing_mm: float) -> Volume:
    """An empty volume covering ``volume``'s field of view at ``spacing_mm``, same orientation."""
    return _regrid(volume, np.full(3, float(spacing_mm)))


def coarsened_grid(volume: Volume, min_spacing_mm: float) -> Volume:
    """An empty volume covering ``volume``'s field of view, same orientation, each axis's
    spacing raised to ``min_spacing_mm`` where finer (``volume``'s own grid when none is)."""
    spacing = np.array(volume.spacing_mm, dtype=np.float64)
    if np.all(spacing >= min_spacing_mm):
        return Volume(np.zeros(volume.shape, np.uint8), volume.affine.copy())
    return _regrid(volume, np.maximum(spacing, float(min_spacing_mm)))


def _regrid(volume: Volume, spacing_ijk_mm: np.ndarray) -> Volume:
    spacing = np.array(volume.spacing_mm)
    shape_ijk = np.array(volume.shape[::-1])
    extent = spacing * shape_ijk
    new_shape = np.maximum(np.ceil(extent / spacing_ijk_mm).astype(int), 1)
    direction = volume.affine[:3, :3] / spacing[None, :]
    affine = np.eye(4)
    affine[:3, :3] = direction * spacing_ijk_mm[None, :]
    # keep the field of view's corner: voxel edge -0.5 maps to the same point
    corner = volume.affine[:3, 3] - 0.5 * volume.affine[:3, :3].sum(axis=1)
    affine[:3, 3] = corner + 0.5 * affine[:3, :3].sum(axis=1)
    return Volume(np.zeros(tuple(new_shape[::-1]), np.uint8), affine)


def box_corners_mm(volume: Volume, lo_kji=None, hi_kji=None) -> np.ndarray:
    """LPS mm of the 8 outer corners of voxels ``lo_kji..hi_kji`` (inclusive; default: all)."""
    lo = np.zeros(3) if lo_kji is None else np.asarray(lo_kji, dtype=np.float64)
    hi = np.array(volume.shape, dtype=np.float64) - 1 if hi_kji is None else np.asarray(hi_kji, dtype=np.float64)
    corners_kji = np.array(list(itertools.product(*zip(lo - 0.5, hi + 0.5))))
    return volume.ijk_to_xyz_mm(corners_kji[:, ::-1])


def sub_volume(volume: Volume, points_mm: np.ndarray, *, margin: int) -> Volume:
    """The part of ``volume`` whose voxels cover ``points_mm``, ``margin`` voxels wider (a view,
    same voxels: the affine is shifted, nothing is interpolated); clipped to ``volume``."""
    ijk = volume.xyz_mm_to_ijk(np.asarray(points_mm, dtype=np.float64))
    lo = np.maximum(np.floor(ijk.min(axis=0) + 0.5).astype(int) - margin, 0)
    hi = np.minimum(np.floor(ijk.max(axis=0) + 0.5).astype(int) + margin + 1, np.array(volume.shape[::-1]))
    hi = np.maximum(hi, lo + 1)
    affine = volume.affine.copy()
    affine[:3, 3] = volume.affine[:3, :3] @ lo.astype(np.float64) + volume.affine[:3, 3]
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo[::-1], hi[::-1]))
    return Volume(np.asarray(volume.array)[box], affine, volume.provenance)
