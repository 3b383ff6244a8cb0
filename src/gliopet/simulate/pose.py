"""Random, seeded head pose: where the template head lies in the scanner.

A pose maps template LPS mm (MNI152, converted to LPS) to patient LPS mm in the
scanner: scale and rotate about a pivot (the template brain's centre), then put
the pivot at the scanner isocentre plus a translation. Nothing downstream may
assume an aligned head, so every simulated patient gets its own pose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["HeadPose", "random_pose", "rotation_matrix",
           "MAX_ROTATION_DEG", "MAX_TRANSLATION_MM", "SCALE_RANGE"]

#: Largest rotation about each axis (degrees).
MAX_ROTATION_DEG = 15.0
#: Largest translation along each axis (mm).
MAX_TRANSLATION_MM = 10.0
#: Range of the isotropic head scaling.
SCALE_RANGE = (0.95, 1.05)


def rotation_matrix(rotation_deg: tuple[float, float, float]) -> np.ndarray:
    """3x3 rotation: about x (L), then y (P), then z (S), angles in degrees (R = Rz Ry Rx).

    Examples
    --------
    >>> np.round(rotation_matrix((0.0, 0.0, 90.0)) @ [1.0, 0.0, 0.0], 12).tolist()
    [0.0, 1.0, 0.0]
    """
    ax, ay, az = np.deg2rad(rotation_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


@dataclass(frozen=True)
class HeadPose:
    """Rigid pose plus isotropic scaling of the template head in the scanner.

    Parameters
    ----------
    rotation_deg : (3,) float
        Rotation about the x (L), y (P) and z (S) axes, degrees.
    translation_mm : (3,) float
        Offset of the pivot from the scanner isocentre, LPS mm.
    scale : float
        Isotropic scaling of the head.
    pivot_lps_mm : (3,) float
        Template point (LPS mm) that is rotated about and placed at isocentre + translation.
    """

    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    translation_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale: float = 1.0
    pivot_lps_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def matrix(self) -> np.ndarray:
        """4x4 affine from template LPS mm to patient (scanner) LPS mm."""
        m = np.eye(4)
        m[:3, :3] = self.scale * rotation_matrix(self.rotation_deg)
        pivot = np.asarray(self.pivot_lps_mm, dtype=np.float64)
        m[:3, 3] = np.asarray(self.translation_mm, dtype=np.float64) - m[:3, :3] @ pivot
        return m

    def to_patient_mm(self, xyz_template_mm: np.ndarray) -> np.ndarray:
        """Patient LPS mm of template LPS mm points ``(..., 3)``."""
        m = self.matrix()
        return np.asarray(xyz_template_mm, dtype=np.float64) @ m[:3, :3].T + m[:3, 3]

    def as_dict(self) -> dict:
        """Plain values for the ground-truth JSON."""
        return {"rotation_deg": list(self.rotation_deg), "translation_mm": list(self.translation_mm),
                "scale": self.scale, "pivot_template_lps_mm": list(self.pivot_lps_mm),
                "template_to_patient_affine": self.matrix().tolist()}


def random_pose(rng: np.random.Generator, *, pivot_lps_mm: tuple[float, float, float],
                max_rotation_deg: float = MAX_ROTATION_DEG,
                max_translation_mm: float = MAX_TRANSLATION_MM,
                scale_range: tuple[float, float] = SCALE_RANGE) -> HeadPose:
    """A uniformly random pose within the given limits, drawn from ``rng``."""
    rotation = rng.uniform(-max_rotation_deg, max_rotation_deg, size=3)
    translation = rng.uniform(-max_translation_mm, max_translation_mm, size=3)
    scale = rng.uniform(*scale_range)
    return HeadPose(rotation_deg=tuple(round(float(v), 6) for v in rotation),
                    translation_mm=tuple(round(float(v), 6) for v in translation),
                    scale=round(float(scale), 6),
                    pivot_lps_mm=tuple(float(v) for v in pivot_lps_mm))
