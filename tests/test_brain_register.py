"""Rigid registration by mutual information, on synthetic heads moved by a known amount."""

import numpy as np
import pytest

from gliopet.brain import register_rigid, resample_mask_to, resample_to
from gliopet.io.template import load_mni152
from test_brain import POSE, rotation, synthetic_head

# the second scan: the head turned by a few degrees about each axis and shifted (a patient who moved)
MOVED = dict(rotation_matrix=rotation(4, -3, 2) @ POSE["rotation_matrix"],
             translation_mm=tuple(np.array(POSE["translation_mm"]) + np.array([3.0, -4.0, 2.0])))
# test points around the brain (LPS mm, relative to the head's centre t)
POINTS = [(0, 0, 40), (40, 20, 30), (-40, -30, 60), (0, 50, 10)]


@pytest.fixture(scope="module")
def scans():
    first = synthetic_head(**POSE)
    second = synthetic_head(**MOVED)
    return first, second


def _errors_mm(fit_matrix, p2m_fixed, p2m_moving):
    # truth: fixed patient point -> MNI (fixed pose) -> moving patient point (moved pose)
    truth = np.linalg.inv(p2m_moving) @ p2m_fixed
    t = np.array(POSE["translation_mm"])
    errors = []
    for p in POINTS:
        x = np.append(np.asarray(p, float) + t, 1.0)
        errors.append(np.linalg.norm((fit_matrix @ x)[:3] - (truth @ x)[:3]))
    return errors


def test_pet_to_pet_recovers_the_head_movement(scans):
    (pet1, _, p2m1), (pet2, _, p2m2) = scans
    fit = register_rigid(pet1, pet2)
    assert max(_errors_mm(fit.fixed_to_moving, p2m1, p2m2)) < 1.5
    # the movement itself: rotation(4, -3, 2) is a rotation of about 5.4 degrees
    angle = np.degrees(np.arccos((np.trace(rotation(4, -3, 2)) - 1) / 2))
    assert fit.rotation_deg() == pytest.approx(angle, abs=0.5)


def test_mri_to_ct_across_modalities(scans):
    (_, ct1, p2m1), (pet2, _, p2m2) = scans
    # a T1-weighted "MRI": the template's T1 in the moved pose, on a 2.5 mm grid
    mri = pet2.with_array(resample_to(load_mni152(2).t1, pet2, reference_to_volume=p2m2))
    fit = register_rigid(ct1, mri, fixed_name="ct", moving_name="t1")
    assert max(_errors_mm(fit.fixed_to_moving, p2m1, p2m2)) < 2.0
    # an MRI-drawn mask carried onto the CT grid lands on the same anatomy
    k, j, i = np.indices(mri.shape)
    xyz = mri.ijk_to_xyz_mm(np.stack([i, j, k], -1).astype(float))
    centre = (np.linalg.inv(p2m2) @ np.array([-35.0, 20.0, 15.0, 1.0]))[:3]  # MNI RAS (35, -20, 15)
    ball = ((xyz - centre) ** 2).sum(-1) <= 12 ** 2
    on_ct = resample_mask_to(ball, mri, ct1, target_to_source=fit.fixed_to_moving)
    kk, jj, ii = np.nonzero(on_ct)
    centroid = ct1.ijk_to_xyz_mm(np.stack([ii, jj, kk], -1).astype(float)).mean(axis=0)
    truth = (np.linalg.inv(p2m1) @ np.array([-35.0, 20.0, 15.0, 1.0]))[:3]
    assert np.linalg.norm(centroid - truth) < 2.0
