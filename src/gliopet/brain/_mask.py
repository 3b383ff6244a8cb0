"""Brain masks: from CT (skull by HU, the filled inside of the skull) or, as a fallback, from PET."""

from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage

from ..errors import MeasurementError
from ..volume import Volume, bounding_box

logger = logging.getLogger(__name__)

__all__ = ["SKULL_HU", "BRAIN_HU_RANGE", "MIN_BRAIN_ML", "ct_brain_mask", "pet_brain_mask", "pet_head_mask"]

#: Bone threshold: cortical bone of the skull is several hundred to ~2000 HU;
#: brain, CSF, blood and scalp are below ~100 HU.
SKULL_HU = 300.0
#: Intracranial soft tissue kept in the mask (CSF ~0-15, white/grey matter
#: ~20-45, fresh blood ~60-80 HU); air in the sinuses and any bone excluded.
BRAIN_HU_RANGE = (-20.0, 120.0)
#: Closing radius that bridges small gaps in the skull ring (sutures, foramina).
SKULL_CLOSING_MM = 4.0
#: A mask smaller than this is not a brain (partial coverage or wrong series).
MIN_BRAIN_ML = 300.0
#: PET-only fallback: the head is where the smoothed PET exceeds this fraction
#: of its 99th percentile; the brain is the head eroded by the scalp and skull.
PET_HEAD_FRACTION = 0.15
PET_SMOOTH_MM = 6.0
PET_SCALP_SKULL_MM = 10.0


def _ball(radius_mm: float, spacing_ijk: tuple[float, float, float]) -> np.ndarray:
    si, sj, sk = spacing_ijk
    rk, rj, ri = (max(int(radius_mm // s), 0) for s in (sk, sj, si))
    k, j, i = np.ogrid[-rk:rk + 1, -rj:rj + 1, -ri:ri + 1]
    return (k * sk) ** 2 + (j * sj) ** 2 + (i * si) ** 2 <= radius_mm ** 2


def _largest_component(mask: np.ndarray) -> np.ndarray:
    labels, n = ndimage.label(mask)
    if n == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def _fill_slices(mask: np.ndarray) -> np.ndarray:
    out = np.empty_like(mask)
    for k in range(mask.shape[0]):
        out[k] = ndimage.binary_fill_holes(mask[k])
    return out


def ct_brain_mask(ct: Volume, *, skull_hu: float = SKULL_HU, name: str = "CT") -> np.ndarray:
    """Intracranial mask (bool ``[k, j, i]`` on the CT grid) from a CT in HU.

    Bone is ``HU > skull_hu``; it is closed by :data:`SKULL_CLOSING_MM` to
    bridge sutures and small foramina; on every axial slice of the CT grid the
    holes of the closed bone are filled, and the filled region minus the bone
    and outside :data:`BRAIN_HU_RANGE` is the intracranial region. Its
    largest 3-D connected component (after a 1-voxel opening that cuts thin
    bridges through the orbits or foramen magnum), hole-filled, is returned.

    Raises
    ------
    MeasurementError
        No skull found, or an intracranial region smaller than
        :data:`MIN_BRAIN_ML` (the CT does not cover the head).
    """
    hu = np.asarray(ct.array, dtype=np.float32)
    bone = hu > skull_hu
    if bone.sum() * ct.voxel_volume_ml < 10.0:
        raise MeasurementError(f"{name}: no skull found (fewer than 10 mL of voxels > {skull_hu:g} HU); "
                               "is this a head CT in HU?")
    # Everything below happens inside the skull's bounding box, widened by the closing ball's
    # width and a voxel (more than its dilation can reach and its erosion look at): a clinical CT's
    # 500 mm field of view holds a head of 200 mm, so this is the same result several times faster.
    ball = _ball(SKULL_CLOSING_MM, ct.spacing_mm)
    box = bounding_box(bone, margin=np.array(ball.shape) + 1)
    closed = ndimage.binary_closing(bone[box], structure=ball, iterations=1, border_value=0)
    inside = _fill_slices(closed) & ~closed
    inside &= (hu[box] >= BRAIN_HU_RANGE[0]) & (hu[box] <= BRAIN_HU_RANGE[1])
    inside = ndimage.binary_opening(inside, structure=ndimage.generate_binary_structure(3, 1))
    brain = np.zeros(bone.shape, dtype=bool)
    brain[box] = ndimage.binary_fill_holes(_largest_component(inside))
    volume_ml = brain.sum() * ct.voxel_volume_ml
    logger.debug("CT brain mask: %.0f mL", volume_ml)
    if volume_ml < MIN_BRAIN_ML:
        raise MeasurementError(f"{name}: intracranial region is {volume_ml:.0f} mL (< {MIN_BRAIN_ML:g} mL); "
                               "the CT does not cover the brain")
    return brain


def pet_head_mask(pet: Volume, *, name: str = "PET") -> np.ndarray:
    """The head in a PET (bool ``[k, j, i]``): smoothed PET above :data:`PET_HEAD_FRACTION`
    of its 99th percentile, largest component, holes filled per slice and in 3-D."""
    values = np.nan_to_num(np.asarray(pet.array, dtype=np.float32))
    sigma = [PET_SMOOTH_MM / 2.3548 / s for s in pet.spacing_mm[::-1]]
    smooth = ndimage.gaussian_filter(values, sigma)
    top = float(np.percentile(smooth, 99))
    if not top > 0:
        raise MeasurementError(f"{name}: image is empty (99th percentile {top:g}); no brain to find")
    head = _largest_component(smooth > PET_HEAD_FRACTION * top)
    box = bounding_box(head, margin=1)  # the same filling, on the head's box only
    head[box] = ndimage.binary_fill_holes(_fill_slices(head[box]))
    return head


def pet_brain_mask(pet: Volume, *, name: str = "PET") -> np.ndarray:
    """A rough intracranial mask from PET alone (fallback when there is no CT).

    The PET is smoothed (Gaussian, :data:`PET_SMOOTH_MM` FWHM); the head is
    where it exceeds :data:`PET_HEAD_FRACTION` of its 99th percentile (largest
    component, holes filled per slice and in 3-D); the brain is the head
    eroded by :data:`PET_SCALP_SKULL_MM` (scalp and skull). Less exact than the
    CT mask: use a CT whenever there is one.

    Raises
    ------
    MeasurementError
        The result is smaller than :data:`MIN_BRAIN_ML` (no brain in the PET).
    """
    head = pet_head_mask(pet, name=name)
    brain = ndimage.binary_erosion(head, structure=_ball(PET_SCALP_SKULL_MM, pet.spacing_mm), border_value=0)
    brain = _largest_component(brain)
    volume_ml = brain.sum() * pet.voxel_volume_ml
    if volume_ml < MIN_BRAIN_ML:
        raise MeasurementError(f"{name}: brain region found from PET is {volume_ml:.0f} mL (< {MIN_BRAIN_ML:g} mL);"
                               " the PET does not cover the brain")
    return brain
