"""One study end to end: brain geometry, lesion VOI, background circle, the Measurement record."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np
from scipy import ndimage

from ..errors import MeasurementError
from ..shapes import ball_mask
from ..volume import Volume, bounding_box
from ._record import Measurement, measure_rois
from ._rois import BACKGROUND_CIRCLE_DIAMETER_MM, hottest_voxel, lesion_extent
from ._spec import BackgroundMethod, BackgroundSpec, LesionMethod, LesionSpec

logger = logging.getLogger(__name__)

__all__ = [
    "LESION_POINT_SEARCH_RADIUS_MM",
    "LESION_AUTO_VOI_RADIUS_MM",
    "LESION_AUTO_SKULL_MARGIN_MM",
    "LESION_AUTO_SMOOTH_MM",
    "lesion_voi",
    "measure_pet",
    "mri_mask_to_pet",
    "register_mri",
]

#: ``--lesion X,Y,Z``: the hottest voxel within this distance of the point is the lesion's.
LESION_POINT_SEARCH_RADIUS_MM = 10.0
#: ``--lesion auto``: the VOI is a ball of this radius around the hottest focus, inside the brain.
LESION_AUTO_VOI_RADIUS_MM = 20.0
#: ``--lesion auto`` looks for the focus at least this far inside the brain mask
#: (away from the skull and the scalp's uptake spilling in).
LESION_AUTO_SKULL_MARGIN_MM = 6.0
#: ``--lesion auto`` finds the focus on the PET smoothed to this FWHM (a single
#: noisy voxel is not a focus); SUVmax itself is read from the unsmoothed PET.
LESION_AUTO_SMOOTH_MM = 4.0


def _inside(volume: Volume, xyz_mm) -> bool:
    ijk = volume.xyz_mm_to_ijk(xyz_mm)
    return bool(np.all(ijk >= -0.5) and np.all(ijk <= np.array(volume.shape[::-1]) - 0.5))


def _erode_mm(mask: np.ndarray, spacing_ijk, radius_mm: float) -> np.ndarray:
    box = bounding_box(mask, margin=1)  # the same distances, on the brain's box only
    out = np.zeros(mask.shape, dtype=bool)
    out[box] = ndimage.distance_transform_edt(mask[box], sampling=tuple(spacing_ijk[::-1])) > radius_mm
    return out


#: A mask's voxel centres must fall on the PET's within this many voxels.
GRID_MATCH_TOLERANCE_VOXELS = 1e-3


def _mask_on_pet_grid(pet: Volume, mask: Volume, *, name: str, lesion_name: str) -> np.ndarray:
    """A mask Volume as a bool array on the PET grid.

    The mask may cover part of the PET grid (a SEG holding only the
    segmented slices) and run along an axis the other way: it is accepted
    when its axes (up to direction) and spacing equal the PET's and its voxel
    centres fall on PET voxel centres; voxels outside
    the PET must be empty. Anything else is another grid: an error (no
    silent resampling of a drawn lesion).
    """
    error = MeasurementError(f"{lesion_name}: the mask is on another grid (shape {mask.shape}) than {name} "
                             f"(shape {pet.shape}); resample it to the PET first")
    affine = mask.affine.copy()
    values = np.asarray(mask.array) > 0.5
    for axis in range(3):  # an axis running the other way (e.g. SEG slices head to feet): flip it
        if float(affine[:3, axis] @ pet.affine[:3, axis]) < 0:
            n = values.shape[2 - axis]
            affine[:3, 3] = affine[:3, 3] + affine[:3, axis] * (n - 1)
            affine[:3, axis] = -affine[:3, axis]
            values = np.flip(values, axis=2 - axis)
    if not np.allclose(affine[:3, :3], pet.affine[:3, :3], atol=1e-3):
        raise error
    offset = pet.xyz_mm_to_ijk(affine[:3, 3])  # the mask's voxel (0, 0, 0) on the PET grid (i, j, k)
    if np.any(np.abs(offset - np.round(offset)) > GRID_MATCH_TOLERANCE_VOXELS):
        raise error
    offset = np.round(offset).astype(int)
    out = np.zeros(pet.shape, dtype=bool)
    kji = np.argwhere(values)
    target = kji + offset[::-1]
    inside = np.all((target >= 0) & (target < np.array(pet.shape)), axis=1)
    if not np.all(inside):
        raise MeasurementError(f"{lesion_name}: {int((~inside).sum())} mask voxels lie outside {name}")
    out[tuple(target.T)] = True
    return out


def _auto_lesion_voi(pet: Volume, brain_mask: np.ndarray | None, name: str) -> np.ndarray:
    if brain_mask is None:
        raise MeasurementError("lesion 'auto' needs a brain mask")
    core = _erode_mm(np.asarray(brain_mask, bool), pet.spacing_mm, LESION_AUTO_SKULL_MARGIN_MM)
    if not core.any():
        raise MeasurementError(f"{name}: the brain mask is too thin to search for a lesion")
    sigma = [LESION_AUTO_SMOOTH_MM / 2.3548 / s for s in pet.spacing_mm[::-1]]
    smooth = ndimage.gaussian_filter(np.nan_to_num(np.asarray(pet.array, dtype=np.float32)), sigma)
    k, j, i = np.unravel_index(int(np.argmax(np.where(core, smooth, -np.inf))), pet.shape)
    focus = pet.ijk_to_xyz_mm([i, j, k])
    logger.info("lesion auto: focus at LPS %s mm", np.round(focus, 1).tolist())
    return ball_mask(pet, focus, LESION_AUTO_VOI_RADIUS_MM) & np.asarray(brain_mask, bool)


def _mask_voi(pet: Volume, mask: np.ndarray | Volume, name: str, lesion_name: str) -> np.ndarray:
    if isinstance(mask, Volume):
        mask = _mask_on_pet_grid(pet, mask, name=name, lesion_name=lesion_name)
    if mask.shape != pet.shape:
        raise MeasurementError(f"{lesion_name}: the mask has shape {mask.shape}, {name} has {pet.shape}; "
                               "the mask must be on the PET grid")
    voi = mask.astype(bool)
    if not voi.any():
        raise MeasurementError(f"{lesion_name}: the mask is empty (no voxel set)")
    return voi


def lesion_voi(pet: Volume, lesion: Any, *, brain_mask: np.ndarray | None = None,
               name: str = "PET", lesion_name: str | None = None) -> tuple[np.ndarray, LesionMethod]:
    """The lesion VOI (bool, PET grid) and its method.

    ``lesion`` is a :class:`LesionSpec` (or what :meth:`LesionSpec.of`
    takes): automatic (the hottest focus of the PET smoothed to
    :data:`LESION_AUTO_SMOOTH_MM` at least :data:`LESION_AUTO_SKULL_MARGIN_MM`
    inside ``brain_mask``; VOI = ball of :data:`LESION_AUTO_VOI_RADIUS_MM`
    around it, inside the brain), an LPS point in mm (VOI = ball of
    :data:`LESION_POINT_SEARCH_RADIUS_MM` around it), or a mask (a boolean
    array on the PET grid, or a mask :class:`Volume` whose voxels fall on it).

    Raises
    ------
    MeasurementError
        A point outside the image, an empty mask, a mask on another grid.
    """
    spec = LesionSpec.of(lesion)
    lesion_name = lesion_name or spec.name
    if spec.method is LesionMethod.AUTO:
        return _auto_lesion_voi(pet, brain_mask, name), LesionMethod.AUTO
    if spec.method is LesionMethod.MASK:
        return _mask_voi(pet, spec.mask, name, lesion_name), LesionMethod.MASK
    if not _inside(pet, spec.point_lps_mm):
        raise MeasurementError(f"lesion point {list(spec.point_lps_mm)} (LPS mm) is outside {name}")
    return ball_mask(pet, spec.point_lps_mm, LESION_POINT_SEARCH_RADIUS_MM), LesionMethod.POINT


def _background_point_ijk(pet: Volume, point_lps_mm: tuple[float, float, float],
                          pet_name: str) -> tuple[float, float, float]:
    if not _inside(pet, point_lps_mm):
        raise MeasurementError(f"background point {list(point_lps_mm)} (LPS mm) is outside {pet_name}")
    return tuple(float(v) for v in pet.xyz_mm_to_ijk(point_lps_mm))


def mri_mask_to_pet(mask: Volume, *, mri: Volume, pet: Volume, ct: Volume | None = None,
                    mri_name: str = "MRI", pet_name: str = "PET") -> tuple[np.ndarray, dict]:
    """A lesion mask drawn on an MRI, carried onto the PET grid.

    The MRI is registered rigidly (mutual information,
    :func:`gliopet.brain.register_rigid`) to the CT when there is one (PET and
    CT share the PET/CT frame of reference), else to the PET; the mask (on
    the MRI's grid or any grid in the MRI's space) is then resampled onto the
    PET grid by nearest neighbour.

    Returns
    -------
    mask : bool array on the PET grid
    registration : dict
        ``fixed`` (ct|pet), ``rotation_deg``, ``metric``, ``pet_to_mri_lps`` (4x4).
    """
    from ..brain import resample_to

    registration = register_mri(mri, pet=pet, ct=ct, mri_name=mri_name)
    values = mask.with_array((np.asarray(mask.array) > 0.5).astype(np.float32))
    pet_to_mri = np.array(registration["pet_to_mri_lps"])
    on_pet = resample_to(values, pet, reference_to_volume=pet_to_mri, order=0) > 0.5
    if not on_pet.any():
        raise MeasurementError(f"{mri_name}: the lesion mask falls outside {pet_name} after registration")
    return on_pet, registration


def register_mri(mri: Volume, *, pet: Volume, ct: Volume | None = None, mri_name: str = "MRI") -> dict:
    """Rigid mutual-information fit of an MRI to the PET/CT: to the CT when there is one, else the PET.

    Returns
    -------
    dict
        ``fixed`` (ct|pet), ``rotation_deg``, ``metric`` and ``pet_to_mri_lps``
        (4x4 list: LPS mm of the PET/CT frame to the MRI's).
    """
    from ..brain import register_rigid

    fixed, fixed_kind = (ct, "ct") if ct is not None else (pet, "pet")
    fit = register_rigid(fixed, mri, fixed_name=fixed_kind.upper(), moving_name=mri_name)
    return {"fixed": fixed_kind, "rotation_deg": round(fit.rotation_deg(), 3),
            "metric": round(fit.metric, 5), "pet_to_mri_lps": np.round(fit.fixed_to_moving, 5).tolist()}


def _brain_geometry(pet: Volume, *, ct: Volume | None, template, pet_name: str, ct_name: str):
    from .. import brain as _brain

    if template is None:
        raise MeasurementError("an automatic lesion or background needs the MNI152 template (template=...); "
                               "gliopet.io.template.load_mni152 reads it")
    return _brain.brain_geometry(pet, template=template, ct=ct, pet_name=pet_name, ct_name=ct_name)


def _place_background(pet: Volume, spec: BackgroundSpec, *, geometry, voi: np.ndarray,
                      lesion_method: LesionMethod, pet_name: str, extra: dict[str, Any]):
    """The background circle's centre (ijk) or crescent mask, and its method."""
    from .. import brain as _brain

    if spec.method is BackgroundMethod.POINT:
        return _background_point_ijk(pet, spec.point_lps_mm, pet_name), None
    hot = hottest_voxel(pet, voi)
    hot_lps = pet.ijk_to_xyz_mm(hot)
    # Placed here: it keeps clear of the lesion, which a given mask is, and a search ball is not.
    extent = voi if lesion_method is LesionMethod.MASK else lesion_extent(pet, voi, seed_ijk=hot)
    if spec.method is BackgroundMethod.CRESCENT:
        mask = _brain.crescent_background_mask(pet, brain_mask=geometry.mask, plane=geometry.plane,
                                               lesion_lps_mm=hot_lps, lesion_mask=extent, name=pet_name)
        return None, mask
    placement = _brain.place_background_circle(pet, brain_mask=geometry.mask, plane=geometry.plane,
                                               fit=geometry.fit, lesion_lps_mm=hot_lps, lesion_mask=extent,
                                               wm_probability=geometry.wm_probability,
                                               diameter_mm=BACKGROUND_CIRCLE_DIAMETER_MM, name=pet_name)
    extra["background_placement"] = placement.to_dict()
    return placement.centre_ijk, None


def measure_pet(pet: Volume, *, ct: Volume | None = None, lesion: Any = LesionMethod.AUTO,
                background: Any = BackgroundMethod.AUTO, template=None, pet_name: str = "PET",
                ct_name: str = "CT", lesion_name: str | None = None, mri: Volume | None = None,
                mri_name: str = "MRI") -> Measurement:
    """Measure one PET (SUV, g/mL) the study's way.

    Parameters
    ----------
    pet : Volume
        SUV volume.
    ct : Volume, optional
        CT in HU (any grid covering the head); without it the brain is found
        on the PET (less exact).
    lesion : LesionSpec
        See :func:`lesion_voi` (``"auto"``, a point or a mask are converted
        by :meth:`LesionSpec.of`).
    background : BackgroundSpec
        Automatic: :func:`gliopet.brain.place_background_circle`; a point:
        the circle's centre in LPS mm (on the axial plane through it, resliced
        between the two nearest PET slices: :func:`circle_roi`); the
        crescent: :func:`gliopet.brain.crescent_background_mask`.
    template : MniTemplate
        The MNI152 template (:func:`gliopet.io.template.load_mni152`); needed
        when the lesion or the background is automatic.
    mri : Volume, optional
        The MRI a lesion mask (a Volume) was drawn on: the mask is carried to
        the PET by :func:`mri_mask_to_pet`.

    Returns
    -------
    Measurement
        ``extra`` holds ``brain`` (mask source, fit, plane) and
        ``background_placement`` when they were computed.

    Raises
    ------
    MeasurementError
        A point outside the PET, an empty mask or one on another grid, no
        template where one is needed, a brain that cannot be found.
    """
    lesion, background = LesionSpec.of(lesion), BackgroundSpec.of(background)
    extra: dict[str, Any] = {}
    if mri is not None and isinstance(lesion.mask, Volume):
        on_pet, extra["mri_registration"] = mri_mask_to_pet(lesion.mask, mri=mri, pet=pet, ct=ct,
                                                            mri_name=mri_name, pet_name=pet_name)
        lesion = LesionSpec(LesionMethod.MASK, mask=on_pet, name=lesion.name)
    voi = lesion_method = None
    if lesion.method is not LesionMethod.AUTO:  # a point or a mask: check it before the slower brain geometry
        voi, lesion_method = lesion_voi(pet, lesion, name=pet_name, lesion_name=lesion_name)
    if background.method is BackgroundMethod.POINT:
        _background_point_ijk(pet, background.point_lps_mm, pet_name)
    geometry = None
    if lesion.method is LesionMethod.AUTO or background.method is not BackgroundMethod.POINT:
        geometry = _brain_geometry(pet, ct=ct, template=template, pet_name=pet_name, ct_name=ct_name)
        extra["brain"] = geometry.to_dict(pet.voxel_volume_ml)
    if lesion.method is LesionMethod.AUTO:
        voi, lesion_method = lesion_voi(pet, lesion, brain_mask=geometry.mask, name=pet_name,
                                        lesion_name=lesion_name)
    centre_ijk, background_mask = _place_background(pet, background, geometry=geometry, voi=voi,
                                                    lesion_method=lesion_method, pet_name=pet_name, extra=extra)
    m = measure_rois(pet, voi_mask=voi, background_centre_ijk=centre_ijk, background_mask=background_mask,
                     lesion_method=lesion_method.value, background_method=background.method.value,
                     brain_mask=None if geometry is None else geometry.mask)
    warnings = [*(geometry.warnings if geometry is not None else ()), *m.extra.get("warnings", [])]
    return dataclasses.replace(m, extra={**extra, **m.extra, "warnings": warnings})
