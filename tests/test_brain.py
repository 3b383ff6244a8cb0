"""gliopet.brain on synthetic heads built from the MNI152 maps with a known pose.

A synthetic head is the template's brain (GM/WM maps) wrapped in CSF, skull and
scalp shells, moved into patient space by a known rotation R and translation t
(x_patient = R x_mni + t), and sampled on PET and CT grids. Every expected
position below follows from R and t, not from the code under test.
"""

import functools
import math

import numpy as np
import pytest
from scipy import ndimage

from gliopet.brain import (
    CENTRUM_SEMIOVALE_MNI_RAS_MM,
    MidsagittalPlane,
    brain_geometry,
    centrum_semiovale_lps_mm,
    ct_brain_mask,
    fit_mni_affine,
    refine_mni_affine_with_ct,
    lesion_side,
    midsagittal_plane,
    pet_brain_mask,
    place_background_circle,
    plane_from_template_fit,
    resample_to,
)
from gliopet.errors import MeasurementError
from gliopet.io.template import load_mni152
from gliopet.volume import Volume


# ---------------------------------------------------------------- synthetic heads

def rotation(deg_about_s=0.0, deg_about_l=0.0, deg_about_p=0.0):
    """Rotation matrix (LPS): about S (yaw), L (pitch), P (roll), applied in that order right to left."""
    def rot(axis, deg):
        c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
        a, b = [n for n in range(3) if n != axis]
        r = np.eye(3)
        r[a, a], r[a, b], r[b, a], r[b, b] = c, -s, s, c
        return r
    return rot(2, deg_about_s) @ rot(0, deg_about_l) @ rot(1, deg_about_p)


def grid(shape_kji, spacing_ijk, centre_lps, direction=None):
    direction = np.eye(3) if direction is None else np.asarray(direction)
    affine = np.eye(4)
    affine[:3, :3] = direction * np.asarray(spacing_ijk, float)[None, :]
    half = (np.array(shape_kji[::-1]) - 1) / 2
    affine[:3, 3] = np.asarray(centre_lps, float) - affine[:3, :3] @ half
    return Volume(np.zeros(shape_kji, np.uint8), affine)


def mni_ras_to_lps(xyz):
    return np.array([-xyz[0], -xyz[1], xyz[2]], float)


@functools.lru_cache(maxsize=1)
def _template_shells():
    tpl = load_mni152(2)
    brain = tpl.brain_mask.array > 0.5
    dist = ndimage.distance_transform_edt(~brain, sampling=2.0)
    csf, skull, scalp = (dist > 0) & (dist <= 2), (dist > 2) & (dist <= 8), (dist > 8) & (dist <= 13)
    k, j, i = np.indices(brain.shape)
    xyz = tpl.t1.ijk_to_xyz_mm(np.stack([i, j, k], -1).astype(float))
    return brain, csf, skull, scalp, xyz


def synthetic_head(*, rotation_matrix=np.eye(3), translation_mm=(0.0, 0.0, 0.0),
                   lesion_mni_ras=(35.0, -20.0, 15.0), lesion_radius_mm=12.0, lesion_suv=3.0,
                   pet_shape=(80, 110, 100), pet_spacing=(2.5, 2.5, 2.5), pet_direction=None,
                   ct_shape=(90, 128, 128), ct_spacing=(2.0, 2.0, 2.0)):
    """PET (SUV), CT (HU) and the true patient->MNI matrix of a head in a known pose.

    Tissue values: brain SUV 0.03 + 0.10 GM + 0.05 WM (so WM ~0.08, GM ~0.13),
    scalp 0.25, lesion ``lesion_suv``; CT: brain 8 + 30 GM + 25 WM HU, skull
    1200 HU (2..8 mm outside the brain), scalp 40 HU (8..13 mm), air -1000.
    """
    tpl = load_mni152(2)
    brain, csf, skull, scalp, xyz = _template_shells()
    gm, wm = tpl.gm.array, tpl.wm.array
    in_lesion = ((xyz - mni_ras_to_lps(lesion_mni_ras)) ** 2).sum(-1) <= lesion_radius_mm ** 2
    hu = np.full(brain.shape, -1000.0, np.float32)
    hu[scalp], hu[skull], hu[csf] = 40, 1200, 8
    hu[brain] = (8 + 30 * gm + 25 * wm)[brain]
    suv = np.zeros(brain.shape, np.float32)
    suv[scalp], suv[skull], suv[csf] = 0.25, 0.05, 0.03
    suv[brain] = (0.03 + 0.10 * gm + 0.05 * wm)[brain]
    suv[in_lesion & brain] = lesion_suv
    r, t = np.asarray(rotation_matrix, float), np.asarray(translation_mm, float)
    patient_to_mni = np.eye(4)
    patient_to_mni[:3, :3], patient_to_mni[:3, 3] = r.T, -r.T @ t
    pet_grid = grid(pet_shape, pet_spacing, t, pet_direction)
    ct_grid = grid(ct_shape, ct_spacing, t)
    pet = pet_grid.with_array(resample_to(tpl.t1.with_array(suv), pet_grid, reference_to_volume=patient_to_mni))
    ct = ct_grid.with_array(resample_to(tpl.t1.with_array(hu), ct_grid, reference_to_volume=patient_to_mni,
                                        default=-1000.0))
    return pet, ct, patient_to_mni


def true_point(patient_to_mni, mni_ras):
    """Patient LPS of an MNI RAS point, from the known pose."""
    m = np.linalg.inv(patient_to_mni)
    return m[:3, :3] @ mni_ras_to_lps(mni_ras) + m[:3, 3]


def true_plane(rotation_matrix, translation_mm):
    """Mid-sagittal plane of the posed head: normal R e_x (MNI LPS x = patient's left), through t."""
    normal = np.asarray(rotation_matrix) @ np.array([1.0, 0.0, 0.0])
    return normal, float(normal @ np.asarray(translation_mm))


POSE = dict(rotation_matrix=rotation(12, 8, -5), translation_mm=(5.0, -10.0, 30.0))


@pytest.fixture(scope="module")
def template():
    return load_mni152(2)


@pytest.fixture(scope="module")
def head():
    return synthetic_head(**POSE)


@pytest.fixture(scope="module")
def geometry(head, template):
    pet, ct, _ = head
    return brain_geometry(pet, ct=ct, template=template)


# ---------------------------------------------------------------- masks

def test_ct_brain_mask_recovers_the_template_brain(head, template):
    # the synthetic brain is the template's brain mask plus its 2 mm CSF shell:
    # count both on the template grid (2 mm voxels, 8 mm^3) and compare volumes.
    _, ct, _ = head
    brain = template.brain_mask.array > 0.5
    shell = ndimage.distance_transform_edt(~brain, sampling=2.0) <= 2
    expected_ml = shell.sum() * 8 / 1000
    mask = ct_brain_mask(ct)
    assert mask.sum() * ct.voxel_volume_ml == pytest.approx(expected_ml, rel=0.05)


def test_ct_without_skull_is_an_error():
    ct = grid((20, 30, 30), (2, 2, 2), (0, 0, 0)).with_array(np.full((20, 30, 30), 30.0, np.float32))
    with pytest.raises(MeasurementError, match="no skull"):
        ct_brain_mask(ct, name="ct_0001.dcm")


def test_pet_without_brain_is_an_error():
    pet = grid((10, 20, 20), (2, 2, 2), (0, 0, 0)).with_array(np.zeros((10, 20, 20), np.float32))
    with pytest.raises(MeasurementError, match="PET"):
        pet_brain_mask(pet)


# ---------------------------------------------------------------- template fit

def test_template_fit_maps_the_centrum_semiovale_within_3_mm(head, template):
    _, ct, p2m = head
    mask = ct_brain_mask(ct)
    fit = fit_mni_affine(ct.with_array(mask.astype(np.float32)), template_mask=template.brain_mask)
    x, y, z = CENTRUM_SEMIOVALE_MNI_RAS_MM
    for side, mni in (("right", (x, y, z)), ("left", (-x, y, z))):
        assert np.linalg.norm(centrum_semiovale_lps_mm(fit, side=side) - true_point(p2m, mni)) < 3.0


def test_template_fit_is_not_diluted_by_a_wide_field_of_view(template):
    # a clinical CT's 500 mm field of view is mostly air: averaged over all of it, the masks' mean
    # squared difference and its gradient shrink until the optimiser stops early (here 8.1 and
    # 4.8 mm off at the centrum semiovale); cut to the brain's box 40 mm wider, the shape fit
    # alone lands within 1.5 mm, as on a head-sized field of view
    from gliopet.brain._sitk import isotropic_grid, resample_to

    _, ct, p2m = synthetic_head(**POSE, ct_shape=(150, 512, 512), ct_spacing=(0.98, 0.98, 1.5))
    grid = isotropic_grid(ct, 2.0)  # as brain_geometry works
    ct = grid.with_array(resample_to(ct, grid, default=-1000.0))
    mask = ct_brain_mask(ct)
    fit = fit_mni_affine(ct.with_array(mask.astype(np.float32)), template_mask=template.brain_mask)
    x, y, z = CENTRUM_SEMIOVALE_MNI_RAS_MM
    for side, mni in (("right", (x, y, z)), ("left", (-x, y, z))):
        assert np.linalg.norm(centrum_semiovale_lps_mm(fit, side=side) - true_point(p2m, mni)) < 1.5, side


def test_ct_refinement_maps_the_centrum_semiovale_within_a_fifth_of_a_mm(head, template):
    # the head's CT shows the template's grey/white/CSF structure in a known pose (with its own HU
    # mixture, not the template CT's): refined by mutual information, the fit recovers that pose at
    # the centrum semiovale to within 0.2 mm (a tenth of a PET voxel), closer than the brain mask's
    # outline alone (0.6 to 1.1 mm off here)
    _, ct, p2m = head
    mask = ct_brain_mask(ct)
    shape_only = fit_mni_affine(ct.with_array(mask.astype(np.float32)), template_mask=template.brain_mask)
    refined = refine_mni_affine_with_ct(ct, mask, shape_only, template=template)
    assert (shape_only.method, refined.method) == ("brain mask", "brain mask + CT")
    x, y, z = CENTRUM_SEMIOVALE_MNI_RAS_MM
    for side, mni in (("right", (x, y, z)), ("left", (-x, y, z))):
        before = np.linalg.norm(centrum_semiovale_lps_mm(shape_only, side=side) - true_point(p2m, mni))
        after = np.linalg.norm(centrum_semiovale_lps_mm(refined, side=side) - true_point(p2m, mni))
        assert after < 0.2 and after < before, (side, before, after)


def test_ct_refinement_does_not_follow_the_masks_edge(head, template):
    # where an intracranial mask stops between CSF and skull depends on the thresholds that cut
    # it, not on anatomy: the same CT with its mask one voxel (2 mm) wider or narrower must give
    # the same centrum semiovale to within 0.2 mm (when samples reached 2 mm from the edge, the
    # point moved 0.2 to 0.5 mm)
    _, ct, _ = head
    mask = ct_brain_mask(ct)
    shape_only = fit_mni_affine(ct.with_array(mask.astype(np.float32)), template_mask=template.brain_mask)
    fits = [refine_mni_affine_with_ct(ct, m, shape_only, template=template)
            for m in (mask, ndimage.binary_dilation(mask), ndimage.binary_erosion(mask))]
    for side in ("left", "right"):
        points = [centrum_semiovale_lps_mm(f, side=side) for f in fits]
        for other in points[1:]:
            assert np.linalg.norm(other - points[0]) < 0.2, (side, other - points[0])


def test_ct_refinement_reads_the_ct_on_its_own_grid():
    # a 1 x 1 x 3 mm CT is read as it is; a 0.5 mm axis is coarsened to 1 mm over the same field
    # of view (the corner of the first voxel stays put)
    from gliopet.brain._sitk import coarsened_grid

    ct = Volume(np.zeros((10, 20, 40), np.int16), np.diag([1.0, 1.0, 3.0, 1.0]))
    same = coarsened_grid(ct, 1.0)
    assert same.shape == ct.shape and np.array_equal(same.affine, ct.affine)
    fine = Volume(np.zeros((10, 20, 40), np.int16), np.diag([0.5, 1.0, 3.0, 1.0]))
    grid = coarsened_grid(fine, 1.0)
    assert grid.shape == (10, 20, 20)
    assert grid.spacing_mm == pytest.approx((1.0, 1.0, 3.0))
    # first voxel's corner: fine -0.25 mm along x, coarse 0.25 - 0.5 = -0.25 mm
    assert grid.affine[:3, 3] == pytest.approx([0.25, 0.0, 0.0])
    # cut around a mask's voxels on another (2 mm) grid: a sub-grid of the same voxels that holds
    # them with 3 voxels to spare (clipped to the grid), and not the whole field of view
    from gliopet.brain._sitk import box_corners_mm, sub_volume

    mask = Volume(np.zeros((8, 10, 10), np.uint8), np.diag([2.0, 2.0, 2.0, 1.0]))
    # mask voxels k 2..3, j 3..5, i 4: x 8 mm, y 6..10 mm, z 4..6 mm
    box = sub_volume(grid, box_corners_mm(mask, (2, 3, 4), (3, 5, 4)), margin=3)
    offset = np.linalg.solve(grid.affine[:3, :3], box.affine[:3, 3] - grid.affine[:3, 3])
    assert offset == pytest.approx(np.round(offset))  # on the same voxels
    first, last = box.ijk_to_xyz_mm([0, 0, 0]), box.ijk_to_xyz_mm(np.array(box.shape[::-1]) - 1)
    edge_lo, edge_hi = grid.ijk_to_xyz_mm([0, 0, 0]), grid.ijk_to_xyz_mm(np.array(grid.shape[::-1]) - 1)
    spare = 3 * np.array(box.spacing_mm)
    assert np.all(first <= np.maximum(np.array([8.0, 6.0, 4.0]) - spare, edge_lo))  # z: the grid starts at 0
    assert np.all(last >= np.minimum(np.array([8.0, 10.0, 6.0]) + spare, edge_hi))
    assert np.prod(box.shape) < np.prod(grid.shape)
    # the values come along unchanged: a voxel of the cut is the voxel at the same place
    values = Volume(np.arange(10 * 20 * 20, dtype=np.float32).reshape(10, 20, 20), grid.affine)
    cut = sub_volume(values, box_corners_mm(mask, (2, 3, 4), (3, 5, 4)), margin=3)
    k, j, i = 1, 2, 3
    src = np.rint(values.xyz_mm_to_ijk(cut.ijk_to_xyz_mm([i, j, k]))).astype(int)
    assert cut.array[k, j, i] == values.array[src[2], src[1], src[0]]


def test_template_ct_registered_to_itself_stays_put(template):
    # the template's CT-like image as the patient's CT, started from the identity: the refinement
    # must not move it (an asymmetric smoothing of one image, for example, would rescale the fit)
    from gliopet.brain._template import TemplateFit, template_ct_hu

    hu = template_ct_hu(template)
    brain = template.brain_mask.array > 0.5
    assert float(hu[brain].max()) <= 40.0 and float(hu[brain].min()) >= 8.0  # GM / WM / CSF mixtures
    ct = template.t1.with_array(hu)
    identity = TemplateFit(patient_to_mni=np.eye(4), mni_to_patient=np.eye(4), metric=0.0)
    fit = refine_mni_affine_with_ct(ct, hu > 0, identity, template=template)
    assert fit.method == "brain mask + CT"
    for side in ("left", "right"):
        moved = centrum_semiovale_lps_mm(fit, side=side) - centrum_semiovale_lps_mm(identity, side=side)
        assert np.linalg.norm(moved) < 0.1, (side, moved)


# ---------------------------------------------------------------- mid-sagittal plane

def _plane_error(plane, rotation_matrix, translation_mm):
    normal, offset = true_plane(rotation_matrix, translation_mm)
    angle = math.degrees(math.acos(min(1.0, abs(float(np.dot(plane.normal, normal))))))
    # distance between the planes measured at the head's centre t
    shift = abs(float(plane.signed_distance_mm(translation_mm)))
    return angle, shift


def test_midsagittal_plane_from_ct_symmetry(head, template):
    _, ct, _ = head
    mask = ct_brain_mask(ct)
    plane = midsagittal_plane(ct, mask=mask)  # no initial guess: from the mask centroid
    angle, shift = _plane_error(plane, **POSE)
    assert angle < 1.0 and shift < 1.0
    assert plane.normal[0] > 0  # points to the patient's left (LPS +x)


def test_midsagittal_plane_robust_to_a_large_lesion():
    # a 25 mm radius lesion at SUV 5 in the right hemisphere; the plane from the PET
    pose = dict(rotation_matrix=rotation(-15, 5, 6), translation_mm=(-8.0, 12.0, 20.0))
    pet, _, p2m = synthetic_head(**pose, lesion_radius_mm=25.0, lesion_suv=5.0, lesion_mni_ras=(30, -10, 20))
    mask = pet_brain_mask(pet)
    start = MidsagittalPlane(normal=(1.0, 0.0, 0.0), offset_mm=float(pose["translation_mm"][0]), symmetry=0)
    plane = midsagittal_plane(pet, mask=mask, initial=start)
    angle, shift = _plane_error(plane, **pose)
    assert angle < 2.0 and shift < 2.0
    assert plane.side(true_point(p2m, (30, -10, 20))) == "right"


def test_plane_from_template_fit_is_the_image_of_mni_x0():
    # identity pose shifted 7 mm to the left: plane x = 7 (LPS), normal +x
    p2m = np.eye(4)
    p2m[0, 3] = -7.0
    plane = plane_from_template_fit(p2m)
    np.testing.assert_allclose(plane.normal, (1, 0, 0), atol=1e-12)
    assert plane.offset_mm == pytest.approx(7.0)


# ---------------------------------------------------------------- background placement

def test_lesion_touching_the_midline_goes_to_the_side_of_its_mass():
    # plane x = 0 (LPS: +x = patient's left). The hottest voxel is 1 mm left of
    # the plane, but the lesion's activity lies mostly at x < 0 (right).
    vol = grid((5, 11, 21), (2, 2, 2), (0, 0, 0))
    k, j, i = np.indices(vol.shape)
    x = vol.ijk_to_xyz_mm(np.stack([i, j, k], -1).astype(float))[..., 0]
    arr = np.where((x <= 0) & (x >= -12), 2.0, 0.0)
    arr[2, 5, 10] = 3.0  # x = 0
    pet = vol.with_array(arr.astype(np.float32))
    plane = MidsagittalPlane(normal=(1.0, 0.0, 0.0), offset_mm=-1.0, symmetry=1.0)  # plane x = -1 mm
    hot = pet.ijk_to_xyz_mm([10, 5, 2])
    assert plane.signed_distance_mm(hot) == pytest.approx(1.0)
    assert lesion_side(plane, pet, lesion_lps_mm=hot) == "left"  # no mask: the hottest voxel decides
    assert lesion_side(plane, pet, lesion_lps_mm=hot, lesion_mask=arr > 0) == "right"


@pytest.mark.parametrize("lesion_ras, background_side", [((35, -20, 15), "left"), ((-35, -20, 15), "right")])
def test_background_lands_in_the_contralateral_centrum_semiovale(head, geometry, template, lesion_ras,
                                                                   background_side):
    if lesion_ras[0] > 0:  # the module's head has its lesion at MNI (35, -20, 15)
        pet, ct, p2m = head
    else:
        pet, ct, p2m = synthetic_head(**POSE, lesion_mni_ras=lesion_ras)
        geometry = brain_geometry(pet, ct=ct, template=template)
    lesion_lps = true_point(p2m, lesion_ras)
    placement = place_background_circle(pet, diameter_mm=25.0, brain_mask=geometry.mask, plane=geometry.plane, fit=geometry.fit,
                                        lesion_lps_mm=lesion_lps, wm_probability=geometry.wm_probability)
    x, y, z = CENTRUM_SEMIOVALE_MNI_RAS_MM
    truth = true_point(p2m, (x if background_side == "right" else -x, y, z))
    assert placement.side == background_side
    assert np.linalg.norm(np.array(placement.centre_lps_mm) - truth) < 10.0  # issue 5: within 10 mm
    normal, offset = true_plane(**POSE)
    d = float(np.dot(normal, placement.centre_lps_mm) - offset)
    assert (d > 12.5) if background_side == "left" else (d < -12.5)  # whole 25 mm circle across the midline
    assert placement.wm_probability > 0.8


def test_background_keeps_clear_of_the_lesion_not_of_its_search_ball(template):
    # a 6 mm lesion 3 mm left of the midline: the automatic lesion's 20 mm search ball reaches
    # 4 mm into the right centrum semiovale's circle, the lesion itself (its 41 % isocontour, plus
    # the 5 mm margin) stays 3 mm short of it, so the circle stays on the template point (it was
    # pushed 7.3 mm outwards); PET voxels of 2.5 mm, so the search steps are not a divisor of its
    # 12 mm radius and the point itself must still be tried
    from gliopet.measure import measure_pet

    pet, ct, p2m = synthetic_head(**POSE, lesion_mni_ras=(-3, -10, 32), lesion_radius_mm=6.0)
    m = measure_pet(pet, ct=ct, template=template)
    placement = m.extra["background_placement"]
    assert (placement["lesion_side"], placement["side"]) == ("left", "right")
    assert placement["shift_from_template_point_mm"] == 0.0
    x, y, z = CENTRUM_SEMIOVALE_MNI_RAS_MM
    in_plane = np.array(m.background.centre_lps_mm) - true_point(p2m, (x, y, z))
    assert np.linalg.norm(in_plane[:2]) < 0.5  # the slice level rounds to a 2.5 mm slice; x, y do not


def test_oblique_pet_grid(template):
    # the PET grid itself rotated 10 degrees about S; the background is placed on its own slices
    pet, ct, p2m = synthetic_head(**POSE, pet_direction=rotation(10, 0, 0))
    geometry = brain_geometry(pet, ct=ct, template=template)
    placement = place_background_circle(pet, diameter_mm=25.0, brain_mask=geometry.mask, plane=geometry.plane, fit=geometry.fit,
                                        lesion_lps_mm=true_point(p2m, (35, -20, 15)),
                                        wm_probability=geometry.wm_probability)
    x, y, z = CENTRUM_SEMIOVALE_MNI_RAS_MM
    assert np.linalg.norm(np.array(placement.centre_lps_mm) - true_point(p2m, (-x, y, z))) < 10.0


def test_pet_only_fallback_places_the_background_in_the_right_hemisphere(head, template):
    pet, _, p2m = head
    geometry = brain_geometry(pet, template=template)
    assert geometry.mask_source == "pet"
    placement = place_background_circle(pet, diameter_mm=25.0, brain_mask=geometry.mask, plane=geometry.plane, fit=geometry.fit,
                                        lesion_lps_mm=true_point(p2m, (35, -20, 15)),
                                        wm_probability=geometry.wm_probability)
    normal, offset = true_plane(**POSE)
    assert placement.side == "left" and float(np.dot(normal, placement.centre_lps_mm) - offset) > 12.5
    x, y, z = CENTRUM_SEMIOVALE_MNI_RAS_MM
    assert np.linalg.norm(np.array(placement.centre_lps_mm) - true_point(p2m, (-x, y, z))) < 15.0


def test_background_that_does_not_fit_is_an_error(head, geometry):
    pet, _, p2m = head
    tiny = np.zeros(pet.shape, bool)
    tiny[40, 50:55, 50:55] = True
    with pytest.raises(MeasurementError, match="pet.nii.gz: a 25 mm background circle does not fit"):
        place_background_circle(pet, diameter_mm=25.0, brain_mask=tiny, plane=geometry.plane, fit=geometry.fit,
                                lesion_lps_mm=true_point(p2m, (35, -20, 15)), name="pet.nii.gz")


def test_ct_not_covering_the_pet_is_an_error(head, template):
    pet, ct, _ = head
    # a CT of only the lowest 36 of its 90 slices (72 mm: skull base and posterior fossa)
    cut = Volume(ct.array[:36], ct.affine)
    with pytest.raises(MeasurementError, match="ct/.*does not cover the PET"):
        brain_geometry(pet, ct=cut, template=template, ct_name="ct/")


# ---------------------------------------------------------------- crescent background

def test_crescent_is_a_contralateral_band_under_the_surface():
    # a cylindrical "brain" of radius 60 mm (axis along k), 1 mm pixels, 2 mm slices;
    # plane x = 0; lesion at x = -30 mm (patient's right). The crescent is the
    # band 0..20 mm under the surface (radius 40..60 mm) within 60 degrees of
    # +x (the lesion's mirror), on slices within 6 mm of the lesion's slice.
    # Area of that annular sector: (120/360) pi (60^2 - 40^2) = 2094.4 mm^2 per slice;
    # slices k0-3..k0+3 (|dk| * 2 mm <= 6 mm): 7 slices x 2 mm.
    from gliopet.brain import crescent_background_mask
    from gliopet.measure import region_roi

    vol = grid((21, 131, 131), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0))
    k, j, i = np.indices(vol.shape)
    xyz = vol.ijk_to_xyz_mm(np.stack([i, j, k], -1).astype(float))
    r = np.hypot(xyz[..., 0], xyz[..., 1])
    brain = r <= 60.5
    plane = MidsagittalPlane(normal=(1.0, 0.0, 0.0), offset_mm=0.0, symmetry=1.0)
    crescent = crescent_background_mask(vol, brain_mask=brain, plane=plane, lesion_lps_mm=(-30.0, 0.0, 0.0))
    x, y = xyz[..., 0][crescent], xyz[..., 1][crescent]
    assert np.all(x >= 5.0)  # contralateral, clear of the midline
    assert np.all(np.abs(np.degrees(np.arctan2(y, x))) <= 60.0 + 1.0)  # within the sector (1 degree pixel slack)
    assert np.all(r[crescent] >= 60.5 - 20.0 - 1.0)  # at most 20 mm deep (1 pixel slack)
    assert sorted(set(k[crescent].tolist())) == list(range(7, 14))
    expected_ml = (120 / 360) * math.pi * (60 ** 2 - 40 ** 2) * 7 * 2 / 1000
    uniform = vol.with_array(np.where(brain, 0.08, 0.0).astype(np.float32))
    roi = region_roi(uniform, crescent, method="crescent")
    assert roi.volume_ml == pytest.approx(expected_ml, rel=0.05)
    assert roi.suvmean == pytest.approx(0.08) and roi.suvmax == pytest.approx(0.08)
    assert roi.diameter_mm is None and roi.to_dict()["method"] == "crescent"


def test_crescent_on_a_head_is_in_the_contralateral_hemisphere(head, geometry):
    from gliopet.brain import crescent_background_mask

    pet, _, p2m = head
    crescent = crescent_background_mask(pet, brain_mask=geometry.mask, plane=geometry.plane,
                                        lesion_lps_mm=true_point(p2m, (35, -20, 15)))
    kji = np.argwhere(crescent)
    normal, offset = true_plane(**POSE)
    d = pet.ijk_to_xyz_mm(kji[:, ::-1].astype(float)) @ normal - offset
    assert np.all(d > 0)  # the lesion is in the right hemisphere, the crescent in the left
    assert crescent.sum() * pet.voxel_volume_ml > 10.0


def test_centrum_semiovale_is_defined_once_across_the_project():
    # measurement and the simulator's ground truth use the same template point
    from gliopet.simulate.phantom import CENTRUM_SEMIOVALE_RAS_MM

    assert CENTRUM_SEMIOVALE_MNI_RAS_MM == CENTRUM_SEMIOVALE_RAS_MM


def test_pet_without_brain_coverage_is_an_error():
    # a PET of the neck only: a cylinder of radius 50 mm and length 60 mm (SUV 0.5). Eroded by the
    # 10 mm allowed for scalp and skull it leaves radius 40 mm x length 40 mm: pi 40^2 40 = 201 mL,
    # below the 300 mL a brain needs
    vol = grid((20, 60, 60), (2.5, 2.5, 2.0), (0.0, 0.0, 0.0))
    k, j, i = np.indices(vol.shape)
    xyz = vol.ijk_to_xyz_mm(np.stack([i, j, k], -1).astype(float))
    neck = (np.hypot(xyz[..., 0], xyz[..., 1]) <= 50) & (np.abs(xyz[..., 2]) <= 30)
    pet = vol.with_array(np.where(neck, 0.5, 0.0).astype(np.float32))
    with pytest.raises(MeasurementError, match="neck.nii.gz: brain region found from PET is .* does not cover"):
        pet_brain_mask(pet, name="neck.nii.gz")


def test_work_in_the_masks_bounding_box_gives_the_whole_arrays_result():
    # the brain's box with a one-voxel rim: a distance map and a hole filling computed there equal
    # the whole array's, also for a mask that touches the array's edge and holds a cavity
    from gliopet.measure._study import _erode_mm
    from gliopet.volume import bounding_box

    k, j, i = np.indices((30, 40, 50))
    mask = ((k - 12) ** 2 / 100 + (j - 20) ** 2 / 144 + (i - 38) ** 2 / 225) <= 1.0  # reaches i = 49
    cavity = ((k - 12) ** 2 + (j - 20) ** 2 + (i - 38) ** 2) <= 9
    mask &= ~cavity
    spacing = (2.0, 1.5, 3.0)  # i, j, k
    whole = ndimage.distance_transform_edt(mask, sampling=spacing[::-1]) > 4.0
    assert np.array_equal(_erode_mm(mask, spacing, 4.0), whole)
    box = bounding_box(mask, margin=1)
    assert box == (slice(1, 24), slice(7, 34), slice(22, 50))  # k 2..22, j 8..32, i 23..49 (the edge)
    filled = mask.copy()
    filled[box] = ndimage.binary_fill_holes(mask[box])
    assert np.array_equal(filled, ndimage.binary_fill_holes(mask)) and filled[12, 20, 38]
