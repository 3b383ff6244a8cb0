"""Everything measurement needs to know about a brain, on the PET grid."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..errors import MeasurementError
from ..volume import Volume
from ._mask import MIN_BRAIN_ML, ct_brain_mask, pet_brain_mask, pet_head_mask
from ._midline import MidsagittalPlane, midsagittal_plane, plane_from_template_fit
from ._sitk import isotropic_grid, resample_to
from ._template import TemplateFit, fit_mni_affine, refine_mni_affine_with_ct

logger = logging.getLogger(__name__)

__all__ = ["BrainGeometry", "brain_geometry", "MIN_CT_COVERAGE", "PET_ONLY_PLAUSIBLE_BRAIN_ML"]

#: A PET-only brain mask outside this volume (mL) is not trusted: adult
#: intracranial volumes are about 1.1 to 1.8 L. On a tracer with little brain
#: uptake (68Ga-Pentixafor) the PET's head takes in the face and neck, and the
#: mask came out 2.3 to 2.9 L with the template fit 5 mm (2 of 29: 55 mm) off.
PET_ONLY_PLAUSIBLE_BRAIN_ML = (900.0, 2000.0)
#: Fraction of the PET-grid brain that the CT must cover.
MIN_CT_COVERAGE = 0.9  # of the PET's head (field of view) and of its brain
#: The CT is brought to this isotropic grid (linear interpolation) before the
#: brain mask, the template fit and the symmetry plane are computed.
WORK_SPACING_MM = 2.0


@dataclass(frozen=True)
class BrainGeometry:
    """Brain mask and white-matter probability on the PET grid, template fit, mid-sagittal plane."""

    mask: np.ndarray
    mask_source: str
    fit: TemplateFit
    plane: MidsagittalPlane
    wm_probability: np.ndarray
    warnings: tuple[str, ...] = ()

    def to_dict(self, voxel_volume_ml: float) -> dict:
        return {"mask_source": self.mask_source,
                "brain_volume_ml": round(float(self.mask.sum()) * voxel_volume_ml, 1),
                "template_fit_metric": round(self.fit.metric, 5),
                "template_fit_method": self.fit.method,
                "patient_to_mni_lps": np.round(self.fit.patient_to_mni, 5).tolist(),
                "midsagittal_plane": self.plane.to_dict()}


def brain_geometry(pet: Volume, *, template, ct: Volume | None = None, pet_name: str = "PET",
                   ct_name: str = "CT") -> BrainGeometry:
    """Brain mask (from CT, else PET), MNI affine fit, mid-sagittal plane, WM map on the PET grid.

    With a CT: :func:`ct_brain_mask` on the CT grid (resampled to
    :data:`WORK_SPACING_MM` when finer), the fit and the symmetry
    plane from the CT (the lesion is invisible there), the mask resampled to
    the PET grid. Without: :func:`pet_brain_mask` and the PET. ``template`` is
    a :class:`~gliopet.io.template.MniTemplate` (``load_mni152(2)``).

    Raises
    ------
    MeasurementError
        No brain in the PET's field of view, or a CT that does not cover it.
    """
    warnings: list[str] = []
    if ct is not None:
        head = np.argwhere(pet_head_mask(pet, name=pet_name))
        ijk_ct = ct.xyz_mm_to_ijk(pet.ijk_to_xyz_mm(head[:, ::-1].astype(np.float64)))
        within = np.all((ijk_ct >= -0.5) & (ijk_ct <= np.array(ct.shape[::-1]) - 0.5), axis=1)
        if within.mean() < MIN_CT_COVERAGE:
            raise MeasurementError(f"{ct_name}: covers {100 * within.mean():.0f} % of the head in {pet_name}'s "
                                   f"field of view (< {100 * MIN_CT_COVERAGE:.0f} %); the CT does not cover the PET")
        acquired = ct
        if min(ct.spacing_mm) < WORK_SPACING_MM - 1e-6:
            # a clinical CT (0.5-1 mm pixels) is resampled to a 2 mm grid first: masks,
            # shape fit and symmetry need no finer detail and run ~30x faster (the CT
            # refinement reads the acquired grid: a second interpolation would bias it)
            grid = isotropic_grid(ct, WORK_SPACING_MM)
            ct = grid.with_array(resample_to(ct, grid, default=-1000.0))
        mask_ct = ct_brain_mask(ct, name=ct_name)
        fit = fit_mni_affine(ct.with_array(mask_ct.astype(np.float32)), template_mask=template.brain_mask)
        fit = refine_mni_affine_with_ct(acquired, ct.with_array(mask_ct), fit, template=template)
        plane = midsagittal_plane(ct, mask=mask_ct, initial=plane_from_template_fit(fit.patient_to_mni))
        mask = resample_to(ct.with_array(mask_ct.astype(np.float32)), pet, order=1) > 0.5
        # the template brain mapped into the PET grid tells how much brain the PET should see
        expected = resample_to(template.brain_mask, pet, reference_to_volume=fit.patient_to_mni) > 0.5
        if expected.sum() * pet.voxel_volume_ml < MIN_BRAIN_ML:
            raise MeasurementError(f"{pet_name}: the PET's field of view holds "
                                   f"{expected.sum() * pet.voxel_volume_ml:.0f} mL of the brain found on "
                                   f"{ct_name}; the two do not overlap")
        coverage = float((mask & expected).sum() / max(expected.sum(), 1))
        if coverage < MIN_CT_COVERAGE:
            raise MeasurementError(f"{ct_name}: covers {100 * coverage:.0f} % of the brain in the PET's field of "
                                   f"view (< {100 * MIN_CT_COVERAGE:.0f} %); the CT does not cover the PET")
        source = "ct"
    else:
        mask = pet_brain_mask(pet, name=pet_name)
        fit = fit_mni_affine(pet.with_array(mask.astype(np.float32)), template_mask=template.brain_mask)
        plane = midsagittal_plane(pet, mask=mask, initial=plane_from_template_fit(fit.patient_to_mni))
        source = "pet"
        volume_ml = float(mask.sum()) * pet.voxel_volume_ml
        lo, hi = PET_ONLY_PLAUSIBLE_BRAIN_ML
        if not lo <= volume_ml <= hi:
            warnings.append(f"{pet_name}: the brain found from the PET alone is {volume_ml:.0f} mL (a brain is "
                            f"{lo:.0f} to {hi:.0f} mL): the template fit and the automatic background are not "
                            "reliable; give --ct, or --background X,Y,Z")
    if mask.sum() * pet.voxel_volume_ml < MIN_BRAIN_ML:
        raise MeasurementError(f"{pet_name}: {mask.sum() * pet.voxel_volume_ml:.0f} mL of brain in the field of "
                               f"view (< {MIN_BRAIN_ML:g} mL); the PET does not cover the brain")
    wm = resample_to(template.wm, pet, reference_to_volume=fit.patient_to_mni)
    return BrainGeometry(mask=mask, mask_source=source, fit=fit, plane=plane, wm_probability=wm,
                         warnings=tuple(warnings))
