"""Automatic placement of the study's background circle in the contralateral centrum semiovale."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import MeasurementError
from ..shapes import disk_weights
from ..volume import Volume
from ._midline import MidsagittalPlane
from ._template import TemplateFit, centrum_semiovale_lps_mm

logger = logging.getLogger(__name__)

__all__ = ["BackgroundPlacement", "lesion_side", "place_background_circle", "crescent_background_mask"]

#: A lesion whose hottest voxel is closer than this to the mid-sagittal plane
#: is assigned to a hemisphere by the mass of its VOI rather than by that voxel.
MIDLINE_TIE_MM = 3.0
#: In-plane search radius around the template's centrum semiovale point.
BACKGROUND_SEARCH_MM = 12.0
#: Largest fraction of the circle's area allowed outside the brain mask.
BACKGROUND_MAX_OUTSIDE_BRAIN = 0.01
#: Preference for staying near the template point: score = mean WM probability
#: - this x distance (mm), so a one-voxel (2 mm) move must gain 0.04 of WM
#: probability and 10 mm away costs 0.2. The CT-refined template fit puts the
#: point within about 1 mm of the centrum semiovale, so the circle moves only
#: where the white matter there is clearly poorer than nearby (a fit without
#: CT, an enlarged ventricle, atrophy), not for the template map's ripples.
BACKGROUND_DISTANCE_PENALTY_PER_MM = 0.02
#: Margin kept between the circle and the lesion VOI.
BACKGROUND_LESION_MARGIN_MM = 5.0


@dataclass(frozen=True)
class BackgroundPlacement:
    """Where the automatic background circle went, and why."""

    centre_ijk: tuple[float, float, float]
    centre_lps_mm: tuple[float, float, float]
    side: str
    lesion_side: str
    template_point_lps_mm: tuple[float, float, float]
    shift_mm: float
    wm_probability: float | None
    midline_distance_mm: float

    def to_dict(self) -> dict:
        return {"side": self.side, "lesion_side": self.lesion_side,
                "template_point_lps_mm": [round(v, 3) for v in self.template_point_lps_mm],
                "shift_from_template_point_mm": round(self.shift_mm, 3),
                "white_matter_probability": None if self.wm_probability is None else round(self.wm_probability, 4),
                "midline_distance_mm": round(self.midline_distance_mm, 3)}


def lesion_side(plane: MidsagittalPlane, pet: Volume, *, lesion_lps_mm, lesion_mask: np.ndarray | None = None) -> str:
    """The patient's hemisphere (``"left"``/``"right"``) holding the lesion.

    Decided by the lesion's hottest point, unless it lies within
    :data:`MIDLINE_TIE_MM` of the plane (a lesion touching or crossing the
    midline, e.g. a butterfly glioma): then by the SUV-weighted mean signed
    distance of the lesion mask's voxels, i.e. the side holding most of the
    lesion's activity.
    """
    distance = float(plane.signed_distance_mm(lesion_lps_mm))
    if abs(distance) < MIDLINE_TIE_MM and lesion_mask is not None and np.any(lesion_mask):
        kji = np.argwhere(lesion_mask)
        weights = np.clip(np.asarray(pet.array, dtype=np.float64)[tuple(kji.T)], 0, None)
        d = plane.signed_distance_mm(pet.ijk_to_xyz_mm(kji[:, ::-1].astype(np.float64)))
        if weights.sum() > 0:
            distance = float((weights * d).sum() / weights.sum())
    return "left" if distance > 0 else "right"


def place_background_circle(pet: Volume, *, brain_mask: np.ndarray, plane: MidsagittalPlane, fit: TemplateFit,
                            lesion_lps_mm, lesion_mask: np.ndarray | None = None,
                            wm_probability: np.ndarray | None = None,
                            diameter_mm: float, name: str = "PET") -> BackgroundPlacement:
    """Centre of the 25 mm background circle, on the PET's own axial slices.

    1. The lesion's hemisphere is found by :func:`lesion_side`; the background
       goes to the other one.
    2. The template's centrum semiovale point of that hemisphere
       (:data:`~gliopet.brain.CENTRUM_SEMIOVALE_MNI_RAS_MM`) is mapped to the
       patient by the template fit; its level is the background's (the
       readers' "axial slice at the level of the semi-oval centre"): the
       circle stays on the axial plane through the point, which
       :func:`~gliopet.measure.circle_roi` reads resliced between the two
       nearest PET slices, so the measurement does not jump from one slice to
       the next for a point moved by a hundredth of a millimetre.
    3. On the nearest slice, centres within :data:`BACKGROUND_SEARCH_MM` of
       the point are tried (in whole voxels from it, in plane); a centre
       qualifies when the whole circle lies in the brain
       mask (at most :data:`BACKGROUND_MAX_OUTSIDE_BRAIN` outside), on the
       contralateral side of the mid-sagittal plane, and at least
       :data:`BACKGROUND_LESION_MARGIN_MM` from the lesion mask. The best one
       maximises the circle's mean white-matter probability (template WM map
       on the PET grid, when given) less a small distance penalty.

    Raises
    ------
    MeasurementError
        The centrum semiovale level is outside the PET, or no qualifying
        circle fits in the contralateral brain.
    """
    mask = np.asarray(brain_mask, dtype=bool)
    side_lesion = lesion_side(plane, pet, lesion_lps_mm=lesion_lps_mm, lesion_mask=lesion_mask)
    side = "right" if side_lesion == "left" else "left"
    sign = 1.0 if side == "left" else -1.0
    target = centrum_semiovale_lps_mm(fit, side=side)
    ci, cj, ck = pet.xyz_mm_to_ijk(target)
    n_k, n_j, n_i = pet.shape
    k = int(round(ck))
    if not 0 <= k < n_k:
        raise MeasurementError(f"{name}: the centrum semiovale level (slice k = {k}) is outside the PET "
                               f"({n_k} slices); the PET does not cover the upper brain")
    si, sj, _ = pet.spacing_mm
    allowed, contralateral = _allowed_circle_region(pet, k=k, slice_mask=mask[k], plane=plane, sign=sign,
                                                    lesion_mask=lesion_mask)
    wm = None if wm_probability is None else np.asarray(wm_probability[k], dtype=np.float64)
    best = _best_circle(centre_ij=(ci, cj), shape_ji=(n_j, n_i), spacing_ij_mm=(si, sj), diameter_mm=diameter_mm,
                        allowed=allowed, contralateral=contralateral, wm=wm)
    if best is None:
        raise MeasurementError(
            f"{name}: a {diameter_mm:g} mm background circle does not fit inside the brain in the {side} "
            f"hemisphere at the centrum semiovale level (slice k = {k}); give --background X,Y,Z")
    bi, bj = best.centre_ij
    shift, wm_mean = best.shift_mm, best.wm_probability
    lps = pet.ijk_to_xyz_mm([bi, bj, float(ck)])
    logger.debug("background: %s hemisphere, level k = %.2f, shift %.1f mm, WM %.2f", side, ck, shift,
                 wm_mean or -1)
    return BackgroundPlacement(centre_ijk=(float(bi), float(bj), float(ck)),
                               centre_lps_mm=tuple(float(v) for v in lps), side=side, lesion_side=side_lesion,
                               template_point_lps_mm=tuple(float(v) for v in target), shift_mm=shift,
                               wm_probability=wm_mean, midline_distance_mm=float(abs(plane.signed_distance_mm(lps))))


def _allowed_circle_region(pet: Volume, *, k: int, slice_mask: np.ndarray, plane: MidsagittalPlane, sign: float,
                           lesion_mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Where on slice ``k`` the circle may lie, and the contralateral side (both bool ``[j, i]``).

    Allowed: in ``slice_mask``, on the circle's side of ``plane`` (``sign`` +1
    for the patient's left hemisphere, -1 for the right) and at least
    :data:`BACKGROUND_LESION_MARGIN_MM` from the lesion mask.
    """
    si, sj, _ = pet.spacing_mm
    _, n_j, n_i = pet.shape
    jj, ii = np.mgrid[0:n_j, 0:n_i]
    plane_xyz = pet.ijk_to_xyz_mm(np.stack([ii, jj, np.full_like(ii, k)], axis=-1).astype(np.float64))
    contralateral = sign * plane.signed_distance_mm(plane_xyz) > 0
    if lesion_mask is not None and np.any(lesion_mask[k]):
        near = ndimage.distance_transform_edt(~np.asarray(lesion_mask[k], bool), sampling=(sj, si))
        away = near >= BACKGROUND_LESION_MARGIN_MM
    else:
        away = np.ones_like(slice_mask)
    return slice_mask & contralateral & away, contralateral


@dataclass(frozen=True)
class _Circle:
    """A qualifying background circle of the search: its centre (``i, j`` on the slice) and score."""

    score: float
    centre_ij: tuple[float, float]
    shift_mm: float
    wm_probability: float | None


def _best_circle(*, centre_ij, shape_ji: tuple[int, int], spacing_ij_mm: tuple[float, float], diameter_mm: float,
                 allowed: np.ndarray, contralateral: np.ndarray, wm: np.ndarray | None) -> _Circle | None:
    """The best qualifying circle within :data:`BACKGROUND_SEARCH_MM` of ``centre_ij``, or None.

    Whole-voxel shifts from ``centre_ij`` are tried; a circle qualifies when at most
    :data:`BACKGROUND_MAX_OUTSIDE_BRAIN` of it lies outside ``allowed`` and none of it
    outside ``contralateral``. Score: mean ``wm`` probability (0 without ``wm``) less
    :data:`BACKGROUND_DISTANCE_PENALTY_PER_MM` x shift.
    """
    ci, cj = centre_ij
    n_j, n_i = shape_ji
    si, sj = spacing_ij_mm
    radius = diameter_mm / 2.0
    best = None
    # whole-voxel shifts from the point, so the point itself is always tried (a range from
    # -12 mm in 2.5 mm steps would skip it)
    n_i_steps, n_j_steps = (int(np.floor(BACKGROUND_SEARCH_MM / s + 1e-9)) for s in (si, sj))
    for dj in sj * np.arange(-n_j_steps, n_j_steps + 1):
        for di in si * np.arange(-n_i_steps, n_i_steps + 1):
            shift = float(np.hypot(di, dj))
            if shift > BACKGROUND_SEARCH_MM:
                continue
            centre = (ci + di / si, cj + dj / sj)
            if not (radius / si - 0.5 <= centre[0] <= n_i - 0.5 - radius / si
                    and radius / sj - 0.5 <= centre[1] <= n_j - 0.5 - radius / sj):
                continue
            weights = disk_weights((n_j, n_i), centre_ij=centre, diameter_mm=diameter_mm, spacing_ij_mm=(si, sj))
            total = weights.sum()
            if weights[~allowed].sum() > BACKGROUND_MAX_OUTSIDE_BRAIN * total:
                continue
            if np.any(weights[~contralateral] > 0):
                continue
            wm_mean = None if wm is None else float((weights * wm).sum() / total)
            score = (wm_mean or 0.0) - BACKGROUND_DISTANCE_PENALTY_PER_MM * shift
            if best is None or score > best.score:
                best = _Circle(score=score, centre_ij=centre, shift_mm=shift, wm_probability=wm_mean)
    return best


#: Crescent background (``--background crescent``): a band under the brain's
#: surface in the contralateral hemisphere, mirrored from the lesion. Our
#: parameters, after the guideline description (a large crescent-shaped
#: region in the contralateral hemisphere including grey and white matter;
#: Unterrainer M et al., EJNMMI Res 2017;7:48; Law I et al., EJNMMI
#: 2019;46:540): the band runs from the brain's surface to
#: :data:`CRESCENT_DEPTH_MM` deep (cortex and the white matter beneath it),
#: within :data:`CRESCENT_HALF_ANGLE_DEG` of the direction of the lesion's
#: mirror image as seen from the brain's centre on each slice, on the slices
#: within :data:`CRESCENT_THICKNESS_MM` / 2 of the lesion's slice, and at least
#: :data:`CRESCENT_MIDLINE_MARGIN_MM` from the mid-sagittal plane.
CRESCENT_DEPTH_MM = 20.0
CRESCENT_HALF_ANGLE_DEG = 60.0
CRESCENT_THICKNESS_MM = 12.0
CRESCENT_MIDLINE_MARGIN_MM = 5.0


def crescent_background_mask(pet: Volume, *, brain_mask: np.ndarray, plane: MidsagittalPlane, lesion_lps_mm,
                             lesion_mask: np.ndarray | None = None, name: str = "PET") -> np.ndarray:
    """The crescent-shaped contralateral background region (bool ``[k, j, i]`` on the PET grid).

    On each PET slice within :data:`CRESCENT_THICKNESS_MM` / 2 of the
    lesion's slice: brain voxels whose in-plane depth below the brain's edge
    is at most :data:`CRESCENT_DEPTH_MM`, on the side of the mid-sagittal
    plane opposite the lesion (:func:`lesion_side`) by at least
    :data:`CRESCENT_MIDLINE_MARGIN_MM`, whose direction from the slice's
    brain centroid is within :data:`CRESCENT_HALF_ANGLE_DEG` of the direction
    of the lesion's mirror image (the lesion reflected about the plane), and
    at least :data:`BACKGROUND_LESION_MARGIN_MM` from the lesion mask.

    Raises
    ------
    MeasurementError
        The region is empty (no brain on the contralateral side at that level).
    """
    mask = np.asarray(brain_mask, dtype=bool)
    side_lesion = lesion_side(plane, pet, lesion_lps_mm=lesion_lps_mm, lesion_mask=lesion_mask)
    sign = -1.0 if side_lesion == "left" else 1.0  # + : the contralateral side
    lesion_xyz = np.asarray(lesion_lps_mm, dtype=np.float64)
    normal = np.asarray(plane.normal)
    mirror = lesion_xyz - 2.0 * float(plane.signed_distance_mm(lesion_xyz)) * normal
    if sign * float(plane.signed_distance_mm(mirror)) <= 0:  # lesion on the plane: go straight across
        mirror = mirror + sign * 30.0 * normal
    si, sj, sk = pet.spacing_mm
    k0 = float(pet.xyz_mm_to_ijk(lesion_xyz)[2])
    n_k, n_j, n_i = pet.shape
    out = np.zeros(pet.shape, dtype=bool)
    jj, ii = np.mgrid[0:n_j, 0:n_i]
    half_angle = np.radians(CRESCENT_HALF_ANGLE_DEG)
    for k in range(n_k):
        if abs(k - k0) * sk > CRESCENT_THICKNESS_MM / 2 or not mask[k].any():
            continue
        xyz = pet.ijk_to_xyz_mm(np.stack([ii, jj, np.full_like(ii, k)], axis=-1).astype(np.float64))
        contralateral = sign * plane.signed_distance_mm(xyz) >= CRESCENT_MIDLINE_MARGIN_MM
        depth = ndimage.distance_transform_edt(mask[k], sampling=(sj, si))
        band = mask[k] & (depth <= CRESCENT_DEPTH_MM) & contralateral
        # directions in the slice plane, from the brain centroid of this slice
        centroid = np.argwhere(mask[k]).mean(axis=0)  # (j, i)
        mirror_ij = pet.xyz_mm_to_ijk(mirror)[:2]
        target = np.array([(mirror_ij[0] - centroid[1]) * si, (mirror_ij[1] - centroid[0]) * sj])
        vectors = np.stack([(ii - centroid[1]) * si, (jj - centroid[0]) * sj], axis=-1)
        cosine = (vectors @ target) / (np.linalg.norm(vectors, axis=-1) * np.linalg.norm(target) + 1e-12)
        band &= cosine >= np.cos(half_angle)
        if lesion_mask is not None and np.any(lesion_mask[k]):
            near = ndimage.distance_transform_edt(~np.asarray(lesion_mask[k], bool), sampling=(sj, si))
            band &= near >= BACKGROUND_LESION_MARGIN_MM
        out[k] = band
    if not out.any():
        raise MeasurementError(f"{name}: the crescent background region is empty (no contralateral brain "
                               f"within {CRESCENT_DEPTH_MM:g} mm of the surface at the lesion's level)")
    return out
