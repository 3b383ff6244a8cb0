"""The Volume: a 3-D image ``array[k, j, i]`` with an affine to LPS millimetres.

``affine`` maps voxel indices ``(i, j, k, 1)`` (column, row, slice) to DICOM
patient coordinates (LPS, mm). NIfTI and template (RAS) space are converted at
the io boundary only, never here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from .errors import GeometryError

__all__ = ["Volume", "AFFINE_TOLERANCE", "bounding_box"]

#: Absolute tolerance on the affine's last row and on the orthogonality of its
#: direction cosines (dot products of unit columns).
AFFINE_TOLERANCE = 1e-4


def _check_affine(affine: np.ndarray) -> None:
    if affine.shape != (4, 4):
        raise GeometryError(f"affine must be 4x4, got shape {affine.shape}")
    if not np.all(np.isfinite(affine)):
        raise GeometryError("affine contains non-finite values")
    if not np.allclose(affine[3], [0, 0, 0, 1], atol=AFFINE_TOLERANCE):
        raise GeometryError(f"affine last row must be [0, 0, 0, 1], got {affine[3].tolist()}")
    columns = affine[:3, :3]
    norms = np.linalg.norm(columns, axis=0)
    if np.any(norms <= 0):
        raise GeometryError(f"affine has a zero-length axis (spacings {norms.tolist()})")
    unit = columns / norms
    gram = unit.T @ unit
    if not np.allclose(gram, np.eye(3), atol=AFFINE_TOLERANCE):
        raise GeometryError("affine axes are not orthogonal (sheared geometry, e.g. gantry tilt)")


@dataclass(frozen=True, slots=True)
class Volume:
    """A 3-D image in patient space.

    Parameters
    ----------
    array : (K, J, I) array
        Voxel values, slice-major: ``array[k, j, i]``.
    affine : (4, 4) array
        Maps ``(i, j, k, 1)`` to LPS millimetres. Checked: last row
        ``[0, 0, 0, 1]``, orthogonal axes, non-zero spacing.
    provenance : mapping
        Where the data came from (files, UIDs, hashes, attributes used).

    Examples
    --------
    >>> import numpy as np
    >>> affine = np.diag([2.0, 2.0, 3.0, 1.0]); affine[:3, 3] = (10, 60, 0)
    >>> vol = Volume(np.zeros((4, 5, 6), np.float32), affine)
    >>> vol.spacing_mm
    (2.0, 2.0, 3.0)
    >>> vol.ijk_to_xyz_mm([1, 1, 1]).tolist()
    [12.0, 62.0, 3.0]
    """

    array: np.ndarray
    affine: np.ndarray
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        array = np.asarray(self.array)
        if array.ndim != 3:
            raise GeometryError(f"Volume array must be 3-D [k, j, i], got {array.ndim}-D")
        affine = np.array(self.affine, dtype=np.float64)
        _check_affine(affine)
        if array.flags.writeable:
            array = array.view()
            array.flags.writeable = False
        affine.flags.writeable = False
        object.__setattr__(self, "array", array)
        object.__setattr__(self, "affine", affine)
        object.__setattr__(self, "provenance", MappingProxyType(dict(self.provenance)))

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(K, J, I)``: slices, rows, columns."""
        return tuple(int(n) for n in self.array.shape)  # type: ignore[return-value]

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """Voxel size along i, j, k in mm."""
        return tuple(float(s) for s in np.linalg.norm(self.affine[:3, :3], axis=0))  # type: ignore[return-value]

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in mL (1 mL = 1000 mm^3)."""
        return float(abs(np.linalg.det(self.affine[:3, :3]))) / 1000.0

    def ijk_to_xyz_mm(self, ijk: Any) -> np.ndarray:
        """LPS mm of voxel indices; ``ijk`` is ``(..., 3)`` in (i, j, k) order."""
        ijk = np.asarray(ijk, dtype=np.float64)
        return ijk @ self.affine[:3, :3].T + self.affine[:3, 3]

    def xyz_mm_to_ijk(self, xyz_mm: Any) -> np.ndarray:
        """Continuous voxel indices (i, j, k) of LPS mm positions ``(..., 3)``."""
        xyz = np.asarray(xyz_mm, dtype=np.float64)
        inverse = np.linalg.inv(self.affine)
        return xyz @ inverse[:3, :3].T + inverse[:3, 3]

    def with_array(self, array: np.ndarray, **provenance: Any) -> "Volume":
        """Same geometry, new voxel values; provenance updated with ``provenance``."""
        array = np.asarray(array)
        if array.shape != self.array.shape:
            raise GeometryError(f"new array shape {array.shape} != volume shape {self.array.shape}")
        return Volume(array, self.affine, {**self.provenance, **provenance})


def bounding_box(mask: np.ndarray, *, margin: Any = 1) -> tuple[slice, ...]:
    """Index slices ``[k, j, i]`` of the smallest box holding ``mask``'s set voxels, ``margin``
    voxels wider on each side (an int, or one per axis ``(k, j, i)``; clipped to the array);
    the whole array when none is set.

    With ``margin >= 1`` the box has a rim of unset voxels wherever it is inside the array,
    so a distance map to the unset voxels or a hole filling computed in it equals the one
    computed on the whole array (the nearest unset voxel outside the box is never nearer
    than the rim, and background reaching the rim reaches the array's edge).

    Examples
    --------
    >>> m = np.zeros((4, 5, 6), bool); m[1, 2, 3] = True
    >>> bounding_box(m, margin=1)
    (slice(0, 3, None), slice(1, 4, None), slice(2, 5, None))
    """
    idx = np.argwhere(mask)
    if not len(idx):
        return tuple(slice(0, n) for n in mask.shape)
    lo = np.maximum(idx.min(axis=0) - margin, 0)
    hi = np.minimum(idx.max(axis=0) + margin + 1, mask.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
