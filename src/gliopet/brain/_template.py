"""Affine fit of a head to the MNI152 template, and the centrum semiovale in patient space."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..errors import MeasurementError
from ..volume import Volume
from ._sitk import (affine_to_sitk, box_corners_mm, coarsened_grid, isotropic_grid, resample_to, sub_volume, to_sitk,
                    transform_to_matrix)

logger = logging.getLogger(__name__)

__all__ = [
    "CENTRUM_SEMIOVALE_MNI_RAS_MM",
    "TemplateFit",
    "fit_mni_affine",
    "refine_mni_affine_with_ct",
    "template_ct_hu",
    "TEMPLATE_CT_HU",
    "centrum_semiovale_lps_mm",
]

#: Centre of the background circle in MNI152 (ICBM 2009a sym) RAS mm, right
#: hemisphere; the left one is its mirror (x -> -x). z = +32 mm is the level of
#: the centrum semiovale (deep white matter above the bodies of the lateral
#: ventricles). It is the same point the simulator uses for its ground truth
#: (``gliopet.simulate.phantom.CENTRUM_SEMIOVALE_RAS_MM``), so the project has
#: one definition. On the 1 mm template a 25 mm disk there has mean WM
#: probability 0.979 (GM 0.018); moved 6 mm down towards the ventricles it
#: drops to ~0.54, which is why the placement then searches the slice for the
#: highest white-matter probability (:func:`~gliopet.brain.place_background_circle`).
CENTRUM_SEMIOVALE_MNI_RAS_MM = (26.0, -10.0, 32.0)
#: Registration grid spacing and schedule: masks are smooth shapes, so a
#: coarse grid is enough for an affine.
REGISTRATION_SPACING_MM = 4.0
REGISTRATION_SMOOTH_MM = 4.0
REGISTRATION_ITERATIONS = 200
#: The patient's mask is cut to its box this much wider before the shape fit:
#: the metric is a mean over the fixed image's voxels, and a clinical CT's
#: 500 mm field of view is mostly air (beyond the margin, both masks are 0).
REGISTRATION_MASK_MARGIN_MM = 40.0
#: Seed of the metric's random sampling, so fits are reproducible.
REGISTRATION_SEED = 20240601
#: CT refinement (:func:`refine_mni_affine_with_ct`): the CT's own grid, each
#: axis no finer than :data:`CT_REFINE_MIN_SPACING_MM` (resampling a
#: 1 x 1 x 3 mm CT to a 2 mm grid first adds an interpolation blur the
#: template does not have: it rescaled the fit by 0.2-0.3 %, 0.06-0.08 mm at
#: the centrum semiovale); the HU window of the brain's inner structure.
CT_REFINE_MIN_SPACING_MM = 1.0
CT_REFINE_HU_WINDOW = (-5.0, 60.0)
#: The metric's random sample: this many points (per pyramid level, of the
#: full-resolution voxels) drawn only deeper than :data:`CT_REFINE_EDGE_MARGIN_MM`
#: inside the intracranial mask. Where a CT's mask edge falls between CSF and
#: skull depends on how the skull's partial volume is cut, which no template
#: reproduces; 6 mm keeps both images' smoothing clear of it (samples from
#: 2 mm deep shifted the fit by 0.07 to 0.17 mm along z, depending on the grid).
CT_REFINE_SAMPLES = 20_000
CT_REFINE_EDGE_MARGIN_MM = 6.0
#: Both images are smoothed alike (Gaussian FWHM, mm) before the refinement:
#: a smoother metric, and no bias (smoothing only one of them rescales the fit).
CT_REFINE_SMOOTH_MM = 3.0
CT_REFINE_ITERATIONS = 200
CT_REFINE_MIN_STEP = 0.01
#: Typical non-contrast head CT numbers (HU) of the template's tissues, for
#: the CT-like template of :func:`template_ct_hu` (mutual information needs
#: only their order and contrast, not their exact values).
TEMPLATE_CT_HU = MappingProxyType({"gm": 40.0, "wm": 28.0, "csf": 8.0})
#: A refinement that moves the template's origin by more than this (mm) from
#: the shape fit, or changes its volume by more than 20 %, is not trusted.
CT_REFINE_MAX_SHIFT_MM = 15.0
CT_REFINE_MAX_VOLUME_CHANGE = 0.2


@dataclass(frozen=True)
class TemplateFit:
    """An affine between patient LPS mm and template (MNI) LPS mm.

    ``patient_to_mni`` maps a patient point to the template; ``mni_to_patient``
    is its inverse. ``metric`` is the final mean-squares difference of the
    two smoothed brain masks over the patient mask's box 40 mm wider (0 = perfect
    overlap; 0.001 to 0.003 for the project's synthetic and simulated heads). ``method`` says
    what fixed the affine: ``"brain mask"`` (:func:`fit_mni_affine`) or
    ``"brain mask + CT"`` (refined by :func:`refine_mni_affine_with_ct`, whose
    mutual information is ``ct_metric``).
    """

    patient_to_mni: np.ndarray
    mni_to_patient: np.ndarray
    metric: float
    method: str = "brain mask"
    ct_metric: float | None = None

    def to_patient_mm(self, xyz_mni_lps_mm) -> np.ndarray:
        xyz = np.asarray(xyz_mni_lps_mm, dtype=np.float64)
        return xyz @ self.mni_to_patient[:3, :3].T + self.mni_to_patient[:3, 3]

    def to_mni_mm(self, xyz_lps_mm) -> np.ndarray:
        xyz = np.asarray(xyz_lps_mm, dtype=np.float64)
        return xyz @ self.patient_to_mni[:3, :3].T + self.patient_to_mni[:3, 3]


def _set_voxels_corners_mm(mask: Volume) -> np.ndarray | None:
    """LPS mm of the corners of the box of ``mask``'s set voxels (> 0.5); None when there are none."""
    idx = np.argwhere(np.asarray(mask.array) > 0.5)
    return box_corners_mm(mask, idx.min(axis=0), idx.max(axis=0)) if len(idx) else None


def _around_mask(mask: Volume, margin_mm: float) -> Volume:
    """``mask`` cut to its set voxels' box, ``margin_mm`` wider (the whole volume when empty)."""
    corners = _set_voxels_corners_mm(mask)
    if corners is None:
        return mask
    return sub_volume(mask, corners, margin=int(np.ceil(margin_mm / min(mask.spacing_mm))))


def _smoothed_mask_image(mask: Volume, spacing_mm: float) -> sitk.Image:
    grid = isotropic_grid(mask, spacing_mm)
    values = resample_to(mask.with_array(np.asarray(mask.array, dtype=np.float32)), grid, order=1)
    sigma = REGISTRATION_SMOOTH_MM / 2.3548 / spacing_mm
    values = ndimage.gaussian_filter(values, sigma)
    return to_sitk(grid.with_array(values))


def fit_mni_affine(brain_mask: Volume, *, template_mask: Volume,
                   spacing_mm: float = REGISTRATION_SPACING_MM,
                   iterations: int = REGISTRATION_ITERATIONS) -> TemplateFit:
    """Fit a 12-parameter affine from a patient's brain mask to the template's.

    The patient's mask is cut to its box :data:`REGISTRATION_MASK_MARGIN_MM`
    wider (averaged over a 500 mm field of view of air, the metric and its
    gradient shrink until the optimiser stops early: 5 to 8 mm off at the
    centrum semiovale on such a CT). Both masks are resampled to
    ``spacing_mm`` grids and smoothed (Gaussian,
    :data:`REGISTRATION_SMOOTH_MM` FWHM); SimpleITK then minimises their mean
    squared difference: centres of mass aligned, a similarity transform
    (rotation, isotropic scale, translation), then a full affine, each with a
    regular-step gradient descent and a 2-level pyramid. Shape-only: the PET
    lesion and the CT's or PET's intensities play no part, so a large lesion
    does not pull the fit.

    Parameters
    ----------
    brain_mask : Volume
        Patient brain mask (0/1) in patient LPS.
    template_mask : Volume
        Template brain mask (e.g. ``load_mni152(2).brain_mask``).

    Returns
    -------
    TemplateFit

    References
    ----------
    Lowekamp BC et al., Front Neuroinform 2013;7:45 (SimpleITK).
    """
    fixed = _smoothed_mask_image(_around_mask(brain_mask, REGISTRATION_MASK_MARGIN_MM), spacing_mm)
    moving = _smoothed_mask_image(template_mask, spacing_mm)
    initial = sitk.CenteredTransformInitializer(fixed, moving, sitk.Similarity3DTransform(),
                                                sitk.CenteredTransformInitializerFilter.MOMENTS)

    def run(transform: sitk.Transform, shrink: list[int]) -> tuple[sitk.Transform, float]:
        reg = sitk.ImageRegistrationMethod()
        reg.SetMetricAsMeanSquares()
        reg.SetMetricSamplingStrategy(reg.NONE)
        reg.SetInterpolator(sitk.sitkLinear)
        reg.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=1e-4,
                                                     numberOfIterations=iterations,
                                                     relaxationFactor=0.6)
        reg.SetOptimizerScalesFromPhysicalShift()
        reg.SetShrinkFactorsPerLevel(shrink)
        reg.SetSmoothingSigmasPerLevel([0] * len(shrink))
        reg.SetInitialTransform(transform, inPlace=False)
        out = reg.Execute(fixed, moving)
        if isinstance(out, sitk.CompositeTransform):
            out = out.GetBackTransform() if out.GetNumberOfTransforms() == 1 else out
        return out, float(reg.GetMetricValue())

    similarity, _ = run(initial, [2, 1])
    similarity = sitk.Similarity3DTransform(similarity) if not isinstance(similarity, sitk.Similarity3DTransform) \
        else similarity
    affine = sitk.AffineTransform(3)
    affine.SetCenter(similarity.GetCenter())
    affine.SetMatrix(similarity.GetMatrix())
    affine.SetTranslation(similarity.GetTranslation())
    affine, metric = run(affine, [1])
    affine = sitk.AffineTransform(affine) if not isinstance(affine, sitk.AffineTransform) else affine
    matrix = transform_to_matrix(affine)
    logger.debug("template fit: metric %.4f", metric)
    if not np.all(np.isfinite(matrix)) or abs(np.linalg.det(matrix[:3, :3])) < 0.2:
        raise MeasurementError("the brain could not be fitted to the MNI152 template (degenerate affine)")
    return TemplateFit(patient_to_mni=matrix, mni_to_patient=np.linalg.inv(matrix), metric=metric)


def template_ct_hu(template) -> np.ndarray:
    """A CT-like image of the template's brain (HU, on the template grid) from its tissue maps.

    ``gm`` x :data:`TEMPLATE_CT_HU` ``["gm"]`` + ``wm`` x ... + ``csf`` x ...
    inside the brain mask, the CSF value in a 2 mm shell around it (the
    subarachnoid space a CT's intracranial mask includes), and the low end
    of :data:`CT_REFINE_HU_WINDOW` elsewhere. Registering a CT to this rather
    than to the T1 compares like with like: the T1's own grey/white/CSF
    boundaries do not sit exactly where the tissue maps put them (this
    image, registered to the T1 by mutual information from the identity,
    lands 0.2 mm lower at the centrum semiovale; registered to itself, within
    0.02 mm).
    """
    gm, wm, csf = (np.asarray(m.array, dtype=np.float64) for m in (template.gm, template.wm, template.csf))
    brain = np.asarray(template.brain_mask.array) > 0.5
    spacing = template.brain_mask.spacing_mm[::-1]
    shell = ndimage.distance_transform_edt(~brain, sampling=spacing) <= 2.0
    hu = np.where(shell, TEMPLATE_CT_HU["csf"], CT_REFINE_HU_WINDOW[0])
    tissue = gm * TEMPLATE_CT_HU["gm"] + wm * TEMPLATE_CT_HU["wm"] + csf * TEMPLATE_CT_HU["csf"]
    return np.where(brain, tissue, hu).astype(np.float32)


#: The last template's smoothed CT-like image, ``{id(template): (template, image)}``:
#: ``load_mni152`` returns one object per process, so each worker builds it once.
_SMOOTHED_TEMPLATE_CT: dict[int, tuple[object, np.ndarray]] = {}


def _smoothed_template_ct(template) -> np.ndarray:
    """:func:`template_ct_hu` smoothed by :data:`CT_REFINE_SMOOTH_MM` (read-only, cached)."""
    hit = _SMOOTHED_TEMPLATE_CT.get(id(template))
    if hit is not None and hit[0] is template:
        return hit[1]
    sigma_mm = CT_REFINE_SMOOTH_MM / 2.3548
    image = ndimage.gaussian_filter(template_ct_hu(template),
                                    [sigma_mm / v for v in template.t1.spacing_mm[::-1]]).astype(np.float32)
    image.flags.writeable = False
    _SMOOTHED_TEMPLATE_CT.clear()
    _SMOOTHED_TEMPLATE_CT[id(template)] = (template, image)
    return image


def refine_mni_affine_with_ct(ct: Volume, brain_mask: np.ndarray | Volume, fit: TemplateFit, *,
                              template) -> TemplateFit:
    """Refine a brain-mask fit by the CT's inner structure against the template's.

    The outline of a brain mask holds little rotational information (a
    near-ellipsoid can tilt a few degrees at almost no cost in overlap, which
    is millimetres at the centrum semiovale, 30-40 mm from the brain's centre).
    Inside the skull a head CT shows the ventricles, sulci and the grey/white
    contrast; the template T1 shows the same structures with other
    intensities, so the 12-parameter affine is refined from ``fit`` by Mattes
    mutual information between the CT (HU clipped to
    :data:`CT_REFINE_HU_WINDOW`, inside ``brain_mask``) and a CT-like image of
    the template made from its tissue maps (:func:`template_ct_hu`). The CT
    stays on its own grid (coarsened to :data:`CT_REFINE_MIN_SPACING_MM` where
    finer), cropped to the mask; a 2-level pyramid; a seeded random sample of
    :data:`CT_REFINE_SAMPLES` points deeper than
    :data:`CT_REFINE_EDGE_MARGIN_MM` inside the mask. Both images are smoothed
    alike (:data:`CT_REFINE_SMOOTH_MM`): smoothing only one of them biases the
    fit's scale (by 1 %, 0.3 mm at the centrum semiovale, when only the CT was
    smoothed by 1.2 mm). A result that strays more than
    :data:`CT_REFINE_MAX_SHIFT_MM` or :data:`CT_REFINE_MAX_VOLUME_CHANGE` from
    ``fit`` is not trusted: ``fit`` is returned unchanged, with a warning.

    Parameters
    ----------
    ct : Volume
        The CT in HU, on its acquired grid.
    brain_mask : bool array on ``ct``'s grid, or Volume on any grid
        The intracranial mask (e.g. :func:`~gliopet.brain.ct_brain_mask` of
        the CT resampled to a work grid).
    fit : TemplateFit
        The :func:`fit_mni_affine` result to start from.
    template : MniTemplate
        ``load_mni152(2)``: its tissue maps and ``brain_mask``.

    References
    ----------
    Mattes D et al., IEEE TMI 2003;22:120.
    """
    mask = brain_mask if isinstance(brain_mask, Volume) else ct.with_array(np.asarray(brain_mask, dtype=np.float32))
    corners = _set_voxels_corners_mm(mask)
    if corners is None:
        logger.warning("CT refinement of the template fit skipped: the CT's brain mask is empty")
        return fit
    images = _ct_refinement_images(ct, sub_volume(mask, corners, margin=2), corners, template=template)
    if images is None:
        return fit
    matrix, ct_metric = _register_ct_to_template(images, fit)
    return _trusted_refinement(matrix, ct_metric, fit)


@dataclass(frozen=True)
class _CtRefinementImages:
    """The registration's inputs: the windowed, smoothed CT and its deep-brain sampling mask, the template CT."""

    fixed: sitk.Image
    fixed_mask: sitk.Image
    moving: sitk.Image
    sampling_percentage: float


def _ct_refinement_images(ct: Volume, mask: Volume, corners: np.ndarray, *,
                          template) -> _CtRefinementImages | None:
    """The CT on its own grid around ``mask`` (``corners``: its set voxels' box), and the template's CT-like image.

    None, with a warning, when no part of the mask is deeper than :data:`CT_REFINE_EDGE_MARGIN_MM`.
    """
    # the samples' depth, on the mask's own (work) grid: the edge's place matters to a voxel,
    # and a distance map of a 1 mm grid costs ten times as much
    deep_mask = mask.with_array((ndimage.distance_transform_edt(np.asarray(mask.array) > 0.5,
                                                                sampling=np.array(mask.spacing_mm)[::-1])
                                 > CT_REFINE_EDGE_MARGIN_MM).astype(np.float32))
    # the CT's own voxels (coarsened where finer) around the mask, and the CT cut to them first
    # so that a 512 x 512 CT is never converted whole
    grid = sub_volume(coarsened_grid(ct, CT_REFINE_MIN_SPACING_MM), corners, margin=3)
    source = sub_volume(ct, box_corners_mm(grid), margin=2)
    inside = resample_to(mask, grid) > 0.5
    deep = resample_to(deep_mask, grid) > 0.5
    if not deep.any():
        logger.warning("CT refinement of the template fit skipped: no brain deeper than %.0f mm in the CT's mask",
                       CT_REFINE_EDGE_MARGIN_MM)
        return None
    hu = resample_to(source, grid, default=-1000.0)
    lo, hi = CT_REFINE_HU_WINDOW
    values = ndimage.gaussian_filter(np.where(inside, np.clip(hu, lo, hi), lo).astype(np.float32),
                                     CT_REFINE_SMOOTH_MM / 2.3548 / np.array(grid.spacing_mm)[::-1])
    return _CtRefinementImages(fixed=to_sitk(grid.with_array(values)),
                               fixed_mask=to_sitk(grid.with_array(deep.astype(np.uint8)), dtype=np.uint8),
                               moving=to_sitk(template.t1.with_array(_smoothed_template_ct(template))),
                               sampling_percentage=min(1.0, CT_REFINE_SAMPLES / float(deep.sum())))


def _register_ct_to_template(images: _CtRefinementImages, fit: TemplateFit) -> tuple[np.ndarray, float]:
    """Mattes mutual information affine registration from ``fit``: the patient-to-MNI matrix and the final metric."""
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(images.sampling_percentage, REGISTRATION_SEED)
    reg.SetMetricFixedMask(images.fixed_mask)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=CT_REFINE_MIN_STEP,
                                                 numberOfIterations=CT_REFINE_ITERATIONS, relaxationFactor=0.6)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel([2, 1])
    reg.SetSmoothingSigmasPerLevel([1, 0])
    reg.SetInitialTransform(affine_to_sitk(fit.patient_to_mni), inPlace=False)
    out = reg.Execute(images.fixed, images.moving)
    if isinstance(out, sitk.CompositeTransform):
        out = out.GetBackTransform() if out.GetNumberOfTransforms() == 1 else out
    return transform_to_matrix(sitk.AffineTransform(out)), float(reg.GetMetricValue())


def _trusted_refinement(matrix: np.ndarray, ct_metric: float, fit: TemplateFit) -> TemplateFit:
    """The refined fit, or ``fit`` (with a warning) when ``matrix`` is degenerate or strays too far from it.

    Too far: the template's origin moved more than :data:`CT_REFINE_MAX_SHIFT_MM`, or the
    volume changed by more than :data:`CT_REFINE_MAX_VOLUME_CHANGE`.
    """
    inverse = np.linalg.inv(matrix) if np.all(np.isfinite(matrix)) and np.linalg.det(matrix[:3, :3]) > 0 else None
    if inverse is None:
        logger.warning("CT refinement of the template fit failed (degenerate affine); keeping the brain-mask fit")
        return fit
    shift = float(np.linalg.norm(inverse[:3, 3] - fit.mni_to_patient[:3, 3]))
    volume_change = float(np.linalg.det(matrix[:3, :3]) / np.linalg.det(fit.patient_to_mni[:3, :3]) - 1.0)
    if shift > CT_REFINE_MAX_SHIFT_MM or abs(volume_change) > CT_REFINE_MAX_VOLUME_CHANGE:
        logger.warning("CT refinement of the template fit moved it %.1f mm (volume %+.0f %%); keeping the "
                       "brain-mask fit", shift, 100 * volume_change)
        return fit
    logger.debug("template fit refined by CT: %.2f mm at the template origin, MI %.4f", shift, ct_metric)
    return TemplateFit(patient_to_mni=matrix, mni_to_patient=inverse, metric=fit.metric, method="brain mask + CT",
                       ct_metric=ct_metric)


def centrum_semiovale_lps_mm(fit: TemplateFit, *, side: str) -> np.ndarray:
    """Patient LPS mm of the centrum semiovale point of one hemisphere.

    ``side`` is the patient's ``"left"`` or ``"right"`` hemisphere. The MNI
    point :data:`CENTRUM_SEMIOVALE_MNI_RAS_MM` (RAS; right hemisphere at +x)
    becomes LPS by flipping x and y, mirrored for the left hemisphere, and is
    mapped through the template fit.
    """
    x, y, z = CENTRUM_SEMIOVALE_MNI_RAS_MM
    if side == "right":
        lps = (-x, -y, z)
    elif side == "left":
        lps = (x, -y, z)
    else:
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    return fit.to_patient_mm(lps)
