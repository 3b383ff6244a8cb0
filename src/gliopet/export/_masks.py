"""The ROIs of a measurement as voxel masks on the PET grid (pure).

The exports draw four ROIs, each a boolean array ``[k, j, i]`` on the PET
grid: the lesion circle, the background (circle or crescent), the SUVpeak
sphere and the biological tumour volume. They are made from the typed
:class:`~gliopet.measure.Measurement` (``gliopet measure --seg``), or
rebuilt from a stored record's ROI geometry (:func:`rebuild_masks`):

* circles (:func:`circle_mask`): the voxels of one axial slice whose centres
  lie within the radius of the centre (mm, in-plane). For the lesion circle
  these are exactly the voxels its SUVmax is taken over
  (:func:`gliopet.measure.circle_roi`, ``resliced=False``). SUVmean uses
  partial-voxel weights and the background circle is read on the plane at
  its fractional level, which a binary mask cannot carry: the background
  circle is drawn on its nearest slice (``slice_index``).
* the SUVpeak sphere (:func:`sphere_mask`): voxels whose centres lie within
  the radius of the 1 mL sphere (12.407 mm diameter) around its centre voxel;
  empty when the record has no SUVpeak (no whole sphere fitted).
* the BTV (:func:`regrown_btv`): regrown from the lesion circle's centre at
  the stored threshold. The measurement limited it to the brain mask, which
  the record does not keep; the regrown region (not limited) contains the
  limited one, so when both have the stored voxel count they are the same
  region: exact. When the counts differ, the caller re-measures instead
  (:mod:`gliopet.export._source`).
* a crescent background is a region of whole voxels the record does not
  keep: it cannot be rebuilt from the record (the caller re-measures).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import MeasurementError
from ..measure import (BTV_THRESHOLD_FACTOR, SUVPEAK_SPHERE_DIAMETER_MM, Measurement, RegionRoi,
                       biological_tumour_volume)
from ..volume import Volume

__all__ = ["RoiMasks", "ROI_NAMES", "circle_mask", "sphere_mask", "regrown_btv", "masks_from_measurement",
           "rebuild_masks", "CrescentNotRebuildable"]

#: The ROIs, in segment order (SEG segment numbers 1 to 4; SR groups; NIfTI masks).
ROI_NAMES = ("lesion", "background", "peak", "btv")


class CrescentNotRebuildable(Exception):
    """A stored crescent background: its voxels are not in the record (re-measure)."""


@dataclass(frozen=True)
class RoiMasks:
    """The four ROIs as bool masks ``[k, j, i]`` on the PET grid, and how each was obtained.

    ``how`` maps each of :data:`ROI_NAMES` to ``"measurement"`` (from the
    typed measurement), ``"rebuilt"`` (from the stored geometry, exact) or
    ``"re-measured"`` (through :mod:`gliopet.study`, checked equal to the
    stored record).
    """

    lesion: np.ndarray
    background: np.ndarray
    peak: np.ndarray
    btv: np.ndarray
    background_kind: str
    how: dict[str, str]

    def by_name(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in ROI_NAMES}


def circle_mask(shape: tuple[int, int, int], *, spacing_ij_mm: tuple[float, float], centre_ij: tuple[float, float],
                slice_index: int, diameter_mm: float) -> np.ndarray:
    """Voxels of slice ``slice_index`` whose centres lie within ``diameter_mm / 2`` of the centre.

    Examples
    --------
    >>> m = circle_mask((3, 5, 5), spacing_ij_mm=(2.0, 2.0), centre_ij=(2.0, 2.0), slice_index=1,
    ...                 diameter_mm=4.0)
    >>> int(m.sum()), bool(m[1, 2, 0]), bool(m[1, 2, 1])
    (5, False, True)
    """
    n_k, n_j, n_i = shape
    if not 0 <= slice_index < n_k:
        raise MeasurementError(f"circle slice {slice_index} is outside the PET (slices 0 to {n_k - 1})")
    jj, ii = np.ogrid[0:n_j, 0:n_i]
    ci, cj = centre_ij
    si, sj = spacing_ij_mm
    radius = diameter_mm / 2.0
    out = np.zeros(shape, dtype=bool)
    out[slice_index] = ((ii - ci) * si) ** 2 + ((jj - cj) * sj) ** 2 <= radius ** 2
    return out


def sphere_mask(shape: tuple[int, int, int], *, spacing_ijk_mm: tuple[float, float, float],
                centre_ijk: tuple[int, int, int], diameter_mm: float = SUVPEAK_SPHERE_DIAMETER_MM) -> np.ndarray:
    """Voxels whose centres lie within ``diameter_mm / 2`` of voxel ``centre_ijk`` (axes orthogonal, mm).

    Examples
    --------
    >>> int(sphere_mask((5, 5, 5), spacing_ijk_mm=(2.0, 2.0, 2.0), centre_ijk=(2, 2, 2), diameter_mm=4.0).sum())
    7
    """
    kk, jj, ii = np.ogrid[0:shape[0], 0:shape[1], 0:shape[2]]
    ci, cj, ck = centre_ijk
    si, sj, sk = spacing_ijk_mm
    radius = diameter_mm / 2.0
    return ((ii - ci) * si) ** 2 + ((jj - cj) * sj) ** 2 + ((kk - ck) * sk) ** 2 <= radius ** 2


def regrown_btv(pet: Volume, *, seed_ijk: tuple[int, int, int], bg_suvmean: float) -> np.ndarray:
    """The BTV grown again from ``seed_ijk`` at :data:`BTV_THRESHOLD_FACTOR` x ``bg_suvmean``, not limited.

    The same threshold as the measurement (:func:`gliopet.measure.biological_tumour_volume`, the
    same product of the same two numbers); without the brain mask it can only be larger.
    """
    return biological_tumour_volume(pet, seed_ijk=seed_ijk, bg_mean=bg_suvmean, factor=BTV_THRESHOLD_FACTOR).mask


def _lesion_and_peak(pet: Volume, lesion: dict[str, Any] | Any, peak_centre_ijk) -> tuple[np.ndarray, np.ndarray]:
    si, sj, _ = pet.spacing_mm
    if isinstance(lesion, dict):
        centre, slice_index, diameter = lesion["centre_ijk"], lesion["slice_index"], lesion["diameter_mm"]
    else:
        centre, slice_index, diameter = lesion.centre_ijk, lesion.slice_index, lesion.diameter_mm
    lesion_mask = circle_mask(pet.shape, spacing_ij_mm=(si, sj), centre_ij=(float(centre[0]), float(centre[1])),
                              slice_index=int(slice_index), diameter_mm=float(diameter))
    # no SUVpeak (no whole 1 mL sphere fits around the lesion): an empty sphere segment
    peak = (np.zeros(pet.shape, dtype=bool) if peak_centre_ijk is None
            else sphere_mask(pet.shape, spacing_ijk_mm=pet.spacing_mm, centre_ijk=tuple(int(v) for v in peak_centre_ijk)))
    return lesion_mask, peak


def _background_circle(pet: Volume, centre_ijk, slice_index: int, diameter_mm: float) -> np.ndarray:
    si, sj, _ = pet.spacing_mm
    return circle_mask(pet.shape, spacing_ij_mm=(si, sj), centre_ij=(float(centre_ijk[0]), float(centre_ijk[1])),
                       slice_index=int(slice_index), diameter_mm=float(diameter_mm))


def masks_from_measurement(pet: Volume, measurement: Measurement) -> RoiMasks:
    """The four masks of a typed measurement (the crescent and the BTV are its own masks)."""
    lesion, peak = _lesion_and_peak(pet, measurement.lesion, measurement.peak.centre_ijk)
    bg = measurement.background
    if isinstance(bg, RegionRoi):
        background, kind = np.asarray(bg.mask, bool), "crescent"
    else:
        background, kind = _background_circle(pet, bg.centre_ijk, bg.slice_index, bg.diameter_mm), "circle"
    return RoiMasks(lesion=lesion, background=background, peak=peak, btv=np.asarray(measurement.btv.mask, bool),
                    background_kind=kind, how={name: "measurement" for name in ROI_NAMES})


def rebuild_masks(pet: Volume, record: dict[str, Any]) -> RoiMasks | None:
    """The four masks rebuilt from a stored record's geometry, or None when the BTV cannot be.

    Raises
    ------
    CrescentNotRebuildable
        The background is a crescent (its voxels are not stored).
    MeasurementError
        A ROI of the record lies outside this PET (not the PET it was measured on).
    """
    bg = record["background"]
    if bg.get("diameter_mm") is None:
        raise CrescentNotRebuildable(bg.get("method", "region"))
    lesion, peak = _lesion_and_peak(pet, record["lesion"], record["suvpeak_sphere"]["centre_ijk"])
    background = _background_circle(pet, bg["centre_ijk"], bg["slice_index"], bg["diameter_mm"])
    n_stored = int(record["btv"]["n_voxels"])
    seed = tuple(int(round(v)) for v in record["lesion"]["centre_ijk"])
    btv = regrown_btv(pet, seed_ijk=seed, bg_suvmean=float(record["bg_suvmean"]))
    if int(btv.sum()) != n_stored or not math.isclose(
            BTV_THRESHOLD_FACTOR * float(record["bg_suvmean"]), float(record["btv"]["threshold"]), rel_tol=1e-12):
        return None
    return RoiMasks(lesion=lesion, background=background, peak=peak, btv=btv, background_kind="circle",
                    how={name: "rebuilt" for name in ROI_NAMES})
