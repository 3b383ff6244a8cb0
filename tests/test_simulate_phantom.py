"""Simulation building blocks: tracer table, decay, HU->mu, head pose, head phantom, lesions."""

import math

import numpy as np
import pytest
from scipy import integrate

from gliopet.errors import InputError
from gliopet.io.template import load_mni152
from gliopet.simulate.phantom import (CSF_LAYER_MM, SKULL_OUTER_MM, Lesion, build_head_model,
                                      centrum_semiovale_lps_mm, random_lesion, sample_head,
                                      sample_lesion)
from gliopet.decay import decay_factor, frame_average_factor
from gliopet.simulate.physics import hu_to_mu_511_per_cm
from gliopet.simulate.pose import HeadPose, random_pose
from gliopet.simulate.tracers import TISSUES, load_tracer, tracer_names


@pytest.fixture(scope="module")
def head():
    return build_head_model(load_mni152(2))


# ---- tracer table -------------------------------------------------------------------------

def test_ga68_half_life_is_67_71_min():
    tracer = load_tracer("pentixafor")
    assert tracer.nuclide.name == "Ga-68"
    assert tracer.nuclide.half_life_s == pytest.approx(67.71 * 60, abs=1e-9)  # 4062.6 s
    # SCT code of ^68^Gallium in DICOM CID 4020 (SRT C-131A3)
    assert (tracer.nuclide.code_scheme, tracer.nuclide.code_value) == ("SCT", "35337001")


def test_pentixafor_lesion_kinetics_follow_patient_13():
    # The study's Figure 3: SUVmax 5.53 at 30 min and 6.36 at 60 min p.i.
    tracer = load_tracer("pentixafor")
    assert tracer.lesion_factor(60) == 1.0
    assert tracer.lesion_factor(30) == pytest.approx(5.53 / 6.36, abs=1e-4)
    # Linear interpolation half-way between the two time points.
    assert tracer.lesion_factor(45) == pytest.approx((5.53 / 6.36 + 1.0) / 2, abs=1e-4)


def test_pentixafor_background_is_very_low():
    # The study: contralateral SUVmax 0.03 (patient 2: 2.23 / 74.3) to 0.76 (patient 13).
    suv = load_tracer("pentixafor").tissue_suv(60)
    assert 0.03 <= suv["wm"] <= 0.76 and 0.03 <= suv["gm"] <= 0.76


@pytest.mark.parametrize("name", ["pentixafor", "fet", "fdg", "fdopa"])
def test_every_tracer_loads_with_every_tissue(name):
    assert name in tracer_names()
    suv = load_tracer(name).tissue_suv(45)
    assert set(suv) == set(TISSUES)
    assert all(v > 0 for v in suv.values())


def test_unknown_tracer_names_the_choices():
    with pytest.raises(InputError, match="pentixafor"):
        load_tracer("unobtainium")


# ---- decay and attenuation ----------------------------------------------------------------

def test_decay_factor_with_ga68_half_life():
    # 60 min of 68Ga: 2 ** (-3600 / 4062.6) = 0.54103...
    assert decay_factor(3600.0, half_life_s=4062.6) == pytest.approx(2 ** (-3600 / 4062.6), rel=1e-12)
    assert decay_factor(2 * 4062.6, half_life_s=4062.6) == pytest.approx(0.25, rel=1e-12)


def test_frame_average_factor_matches_numerical_integral():
    # Frame-average activity over 600 s relative to the start, integrated numerically.
    lam = math.log(2) / 4062.6
    mean_fraction = integrate.quad(lambda t: math.exp(-lam * t), 0, 600)[0] / 600
    assert frame_average_factor(600.0, half_life_s=4062.6) == pytest.approx(1 / mean_fraction, rel=1e-10)


@pytest.mark.parametrize("hu, mu", [
    (-1000.0, 0.0),                                   # air
    (0.0, 0.096),                                     # water at 511 keV
    (-500.0, 0.096 * 0.5),                            # air-water mixture, lower segment
    (1400.0, 0.172),                                  # cortical bone anchor (ICRU 44)
    (1000.0, 0.096 + 1000 * (0.172 - 0.096) / 1400),  # skull in the phantom, upper segment
    (-1100.0, 0.0),                                   # below air is clipped
])
def test_bilinear_hu_to_mu(hu, mu):
    assert float(hu_to_mu_511_per_cm(hu)) == pytest.approx(mu, abs=1e-12)


# ---- pose ---------------------------------------------------------------------------------

def test_pose_moves_pivot_to_translation_and_scales_distances():
    pose = HeadPose(rotation_deg=(10.0, -5.0, 12.0), translation_mm=(3.0, -4.0, 5.0), scale=1.05,
                    pivot_lps_mm=(0.0, 22.0, 9.5))
    assert pose.to_patient_mm(np.array([0.0, 22.0, 9.5])) == pytest.approx([3.0, -4.0, 5.0], abs=1e-12)
    a, b = np.array([10.0, 0.0, 0.0]), np.array([-20.0, 30.0, 40.0])
    d = np.linalg.norm(pose.to_patient_mm(a) - pose.to_patient_mm(b))
    assert d == pytest.approx(1.05 * np.linalg.norm(a - b), rel=1e-12)
    assert np.linalg.det(pose.matrix()[:3, :3]) == pytest.approx(1.05 ** 3, rel=1e-12)


def test_pose_90_degrees_about_z_maps_left_to_posterior():
    pose = HeadPose(rotation_deg=(0.0, 0.0, 90.0))
    assert pose.to_patient_mm(np.array([1.0, 0.0, 0.0])) == pytest.approx([0.0, 1.0, 0.0], abs=1e-12)


def test_random_pose_is_seeded_and_within_limits():
    poses = [random_pose(np.random.default_rng(7), pivot_lps_mm=(0, 0, 0)) for _ in range(2)]
    assert poses[0] == poses[1]
    rng = np.random.default_rng(1)
    for _ in range(50):
        p = random_pose(rng, pivot_lps_mm=(0, 0, 0))
        assert max(abs(v) for v in p.rotation_deg) <= 15.0
        assert max(abs(v) for v in p.translation_mm) <= 10.0
        assert 0.95 <= p.scale <= 1.05


# ---- head phantom -------------------------------------------------------------------------

def test_head_fractions_fill_at_most_the_voxel(head):
    total = sum(head.fractions[t] for t in ("gm", "wm", "csf", "skull", "scalp"))
    assert float(total.max()) <= 1.0 + 1e-5
    assert float(total.min()) >= 0.0


def test_skull_band_thickness_on_a_lateral_line(head):
    # Walking left from the brain's centre along x, the skull band spans
    # CSF_LAYER_MM < d <= SKULL_OUTER_MM from the (closed) brain surface: 7 mm,
    # i.e. 3 or 4 voxels of 2 mm.
    inv = np.linalg.inv(head.affine)
    i0, j0, k0 = np.rint(inv[:3, :3] @ np.array(head.pivot_lps_mm) + inv[:3, 3]).astype(int)
    line = head.fractions["skull"][k0, j0, i0:]
    n_skull = int((line > 0.5).sum())
    assert n_skull in (3, 4), (SKULL_OUTER_MM - CSF_LAYER_MM) / 2


def test_centrum_semiovale_is_white_matter(head):
    inv = np.linalg.inv(head.affine)
    for hemi in ("left", "right"):
        i, j, k = np.rint(inv[:3, :3] @ centrum_semiovale_lps_mm(hemi) + inv[:3, 3]).astype(int)
        assert head.fractions["wm"][k, j, i] > 0.95
    # right hemisphere is patient's right: negative LPS x
    assert centrum_semiovale_lps_mm("right")[0] < 0 < centrum_semiovale_lps_mm("left")[0]


def test_identity_sampling_reproduces_the_template_grid(head):
    shape = head.fractions["gm"].shape
    out = sample_head(head, pose=HeadPose(), grid_affine=head.affine, grid_shape=shape)
    for name in ("gm", "skull"):
        assert np.allclose(out[name], head.fractions[name], atol=1e-5)


def _sphere(radius, **kw):
    return Lesion(centre_lps_mm=(20.0, 10.0, 30.0), radii_mm=(radius,) * 3, lobe="frontal",
                  hemisphere="left", suv=3.0, **kw)


def test_spherical_lesion_volume_and_shells():
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = (-40.0, -50.0, -10.0)
    grid = (40, 50, 50)
    lesion = _sphere(12.0, necrosis_fraction=0.5, oedema_mm=4.0)
    s = sample_lesion(lesion, pose=HeadPose(), grid_affine=affine, grid_shape=grid, subsamples=4)
    voxel_ml = 8.0 / 1000
    total_ml = 4 / 3 * math.pi * 12.0 ** 3 / 1000       # 7.238 mL
    necrosis_ml = total_ml * 0.5 ** 3                    # core radius 6 mm
    oedema_ml = 4 / 3 * math.pi * (16.0 ** 3 - 12.0 ** 3) / 1000
    assert float(s.lesion_fraction.sum()) * voxel_ml == pytest.approx(total_ml - necrosis_ml, rel=0.03)
    assert float(s.necrosis_fraction.sum()) * voxel_ml == pytest.approx(necrosis_ml, rel=0.06)
    assert float(s.oedema_fraction.sum()) * voxel_ml == pytest.approx(oedema_ml, rel=0.03)


def test_lesion_volume_scales_with_the_pose():
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = (-40.0, -50.0, -10.0)
    lesion = _sphere(10.0)
    pose = HeadPose(rotation_deg=(5.0, 10.0, -8.0), scale=1.05, pivot_lps_mm=(20.0, 10.0, 30.0),
                    translation_mm=(10.0, 0.0, 20.0))
    s = sample_lesion(lesion, pose=pose, grid_affine=affine, grid_shape=(40, 50, 50), subsamples=4)
    expected_ml = 4 / 3 * math.pi * (10.0 * 1.05) ** 3 / 1000
    assert float(s.lesion_fraction.sum()) * 0.008 == pytest.approx(expected_ml, rel=0.03)
    # The pivot (lesion centre) lands at the translation: voxel (25, 25, 15) in (i, j, k).
    kji = np.argwhere(s.lesion_fraction >= 0)
    w = s.lesion_fraction.ravel()
    centroid_kji = (kji * w[:, None]).sum(axis=0) / w.sum()
    assert centroid_kji == pytest.approx([15.0, 25.0, 25.0], abs=0.05)


def test_random_lesion_stays_inside_the_brain(head):
    rng = np.random.default_rng(3)
    inv = np.linalg.inv(head.affine)
    for lobe in ("frontotemporal", "temporal", "parietal", "parafalcine"):
        lesion = random_lesion(rng, head, lobe=lobe, hemisphere="right", suv=2.0)
        i, j, k = np.rint(inv[:3, :3] @ np.array(lesion.centre_lps_mm) + inv[:3, 3]).astype(int)
        assert head.brain_depth_mm[k, j, i] >= max(lesion.radii_mm)
        assert lesion.centre_lps_mm[0] < 0  # right hemisphere: LPS x < 0
        h = lesion.uptake_profile(np.array([lesion.centre_lps_mm]))
        assert 1 - lesion.heterogeneity - 1e-12 <= float(h[0]) <= 1.0
