"""Image grids of the simulated scanners (LPS, centred on the isocentre).

PET: 168 x 168 pixels of 2 mm and 109 slices of 2 mm, whose centres span
21.6 cm (108 x 2 mm), like the Biograph 6 TrueV's axial field of view.
CT: 256 x 256 pixels of 1 mm, 72 slices of 3 mm (the study's 3 mm slices).
MR: 224 x 224 pixels of 1 mm, 60 slices of 3 mm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Grid", "PET_GRID", "CT_GRID", "MR_GRID"]


@dataclass(frozen=True)
class Grid:
    """A regular axial grid: ``shape`` (K, J, I) and voxel size (i, j, k) in mm, centred at 0."""

    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]

    @property
    def affine(self) -> np.ndarray:
        """(i, j, k, 1) -> LPS mm; i along L, j along P, k along S; centre of the grid at 0."""
        a = np.diag([*self.spacing_mm, 1.0])
        k, j, i = self.shape
        centre_ijk = np.array([(i - 1) / 2.0, (j - 1) / 2.0, (k - 1) / 2.0])
        a[:3, 3] = -np.asarray(self.spacing_mm) * centre_ijk
        return a


PET_GRID = Grid(shape=(109, 168, 168), spacing_mm=(2.0, 2.0, 2.0))
CT_GRID = Grid(shape=(72, 256, 256), spacing_mm=(1.0, 1.0, 3.0))
MR_GRID = Grid(shape=(60, 224, 224), spacing_mm=(1.0, 1.0, 3.0))
