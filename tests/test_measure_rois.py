"""ROI maths of gliopet.measure on synthetic arrays, every expected value worked out by hand."""

import math

import numpy as np
import pytest

from gliopet.errors import MeasurementError
from gliopet.measure import (
    SUVPEAK_SPHERE_DIAMETER_MM,
    biological_tumour_volume,
    circle_roi,
    disk_weights,
    hottest_voxel,
    lesion_circle,
    lesion_extent,
    measure_rois,
    sphere_kernel,
    suv_peak,
    tumour_to_background,
)
from gliopet.volume import Volume


def make_volume(array, spacing_ijk=(2.0, 2.0, 2.0), origin=(0.0, 0.0, 0.0), rotation=None):
    affine = np.eye(4)
    direction = np.eye(3) if rotation is None else np.asarray(rotation)
    affine[:3, :3] = direction * np.asarray(spacing_ijk)[None, :]
    affine[:3, 3] = origin
    return Volume(np.asarray(array, dtype=np.float32), affine)


def grid_mm(shape_kji, spacing_ijk, centre_ijk):
    """Distances along i, j, k (mm) of every voxel centre from centre_ijk."""
    k, j, i = np.indices(shape_kji, dtype=np.float64)
    return ((i - centre_ijk[0]) * spacing_ijk[0], (j - centre_ijk[1]) * spacing_ijk[1],
            (k - centre_ijk[2]) * spacing_ijk[2])


# ---------------------------------------------------------------- circle geometry

@pytest.mark.parametrize("spacing_ij, diameter", [
    ((1.0, 1.0), 10.0), ((2.0, 2.0), 10.0), ((2.0, 2.0), 25.0), ((0.98, 0.98), 25.0),
    ((1.0, 2.0), 10.0), ((2.0, 3.0), 25.0), ((4.07, 4.07), 25.0),
])
@pytest.mark.parametrize("centre", [(30.0, 30.0), (30.3, 29.6)])
def test_disk_area_within_1_percent_of_pi_r2(spacing_ij, diameter, centre):
    w = disk_weights((61, 61), centre_ij=centre, diameter_mm=diameter, spacing_ij_mm=spacing_ij)
    area = w.sum() * spacing_ij[0] * spacing_ij[1]
    assert area == pytest.approx(math.pi * (diameter / 2) ** 2, rel=0.01)  # DESIGN: within 2 %
    assert w.min() >= 0 and w.max() <= 1


def test_disk_weights_full_inside_zero_outside_fraction_on_rim():
    # 1 mm pixels, 10 mm circle at (10, 10): pixel (10, 10) is fully inside,
    # pixel (16, 10) (its nearest edge 5.5 mm away) fully outside, and pixel
    # (15, 10) spans 4.5..5.5 mm from the centre, so roughly half of it is inside.
    w = disk_weights((21, 21), centre_ij=(10, 10), diameter_mm=10, spacing_ij_mm=(1, 1))
    assert w[10, 10] == 1.0
    assert w[10, 16] == 0.0
    assert 0.3 < w[10, 15] < 0.6
    # symmetric under i <-> j and reflections about the centre
    np.testing.assert_array_equal(w, w.T)
    np.testing.assert_array_equal(w, w[::-1, ::-1])


def test_circle_suvmax_counts_a_rim_voxel_by_where_its_centre_lies():
    # 2 mm pixels, 25 mm circle, a hot voxel at i = 26 on the row of the centre: with the centre at
    # i = 19.76 the voxel's centre is (26 - 19.76) x 2 = 12.48 mm away, 0.02 mm inside the rim, so
    # just over half of it is inside and it sets SUVmax; at i = 19.74 it is 12.52 mm away, just
    # under half inside, and SUVmax is the uniform 1 around it (10 x 10 sub-samples count exactly half
    # of it inside from 12.40 to 12.52 mm: counting could not tell these apart)
    arr = np.ones((3, 41, 41))
    arr[1, 20, 26] = 5.0
    vol = make_volume(arr)
    assert circle_roi(vol, centre_ijk=(19.76, 20, 1), diameter_mm=25).suvmax == 5.0
    assert circle_roi(vol, centre_ijk=(19.74, 20, 1), diameter_mm=25).suvmax == 1.0
    # a circle smaller than a voxel, between voxel centres: the hottest voxel it touches
    assert circle_roi(vol, centre_ijk=(25.5, 20, 1), diameter_mm=1.0).suvmax == 5.0


def test_resliced_circle_suvmax_reads_a_rim_voxel_by_bilinear_interpolation():
    # 2 mm pixels, 25 mm circle, uniform 1 with one voxel 5 at i = 26 on the row of the centre.
    # Centre i = 19.5: the rim crosses that row at i = 19.5 + 12.5 / 2 = 25.75, a quarter voxel short
    # of the hot voxel's centre; bilinear there is 1 + 4 x 0.75 = 4 (the voxel's own centre is outside,
    # so whole voxels read 1).
    arr = np.ones((3, 41, 41))
    arr[1, 20, 26] = 5.0
    vol = make_volume(arr)
    assert circle_roi(vol, centre_ijk=(19.5, 20, 1), diameter_mm=25).suvmax == 1.0
    assert circle_roi(vol, centre_ijk=(19.5, 20, 1), diameter_mm=25, resliced=True).suvmax == pytest.approx(
        4.0, abs=1e-12)
    # the two centres 0.04 mm apart that whole voxels read as 5 and 1 (test above): 5 (the voxel's
    # centre inside) and 1 + 4 x 0.99 = 4.96 (the rim 0.01 voxel short of it)
    assert circle_roi(vol, centre_ijk=(19.76, 20, 1), diameter_mm=25, resliced=True).suvmax == 5.0
    assert circle_roi(vol, centre_ijk=(19.74, 20, 1), diameter_mm=25, resliced=True).suvmax == pytest.approx(
        4.96, abs=1e-9)


def test_resliced_circle_between_slices_is_the_linear_blend_of_the_two():
    # slice 1 uniform 2, slice 2 uniform 6: at level k = 1.25 the plane is 0.75 x 2 + 0.25 x 6 = 3
    arr = np.zeros((4, 30, 30))
    arr[1], arr[2] = 2.0, 6.0
    roi = circle_roi(make_volume(arr), centre_ijk=(15, 15, 1.25), diameter_mm=25, resliced=True)
    assert roi.suvmean == pytest.approx(3.0, rel=1e-12) and roi.suvmax == pytest.approx(3.0, rel=1e-12)
    assert roi.centre_ijk[2] == 1.25 and roi.slice_index == 1
    assert roi.centre_lps_mm[2] == pytest.approx(2.5)  # 1.25 slices x 2 mm
    # beyond the last slice centre (up to half a slice) the plane is the last slice
    arr[3] = 8.0
    assert circle_roi(make_volume(arr), centre_ijk=(15, 15, 3.4), diameter_mm=25,
                      resliced=True).suvmean == pytest.approx(8.0, rel=1e-12)


def test_resliced_circle_on_a_slice_centre_is_that_slice():
    # at a whole k the plane is the slice itself: the same mean, and SUVmax at least the whole-voxel
    # one and at most the hottest voxel the circle touches
    rng = np.random.default_rng(3)
    arr = rng.uniform(0.0, 1.0, (5, 40, 40))
    vol = make_volume(arr)
    whole = circle_roi(vol, centre_ijk=(19.3, 20.6, 2), diameter_mm=25)
    resliced = circle_roi(vol, centre_ijk=(19.3, 20.6, 2), diameter_mm=25, resliced=True)
    assert resliced.suvmean == whole.suvmean
    touched = disk_weights((40, 40), centre_ij=(19.3, 20.6), diameter_mm=25, spacing_ij_mm=(2.0, 2.0)) > 0
    assert whole.suvmax <= resliced.suvmax <= arr[2][touched].max()


def test_resliced_circle_suvmax_moves_no_more_than_the_image_gradient_allows():
    # noise in [0, 1) on 2 mm voxels: the bilinear interpolant changes by at most 1 per voxel along
    # each axis, so its gradient is at most sqrt(2) x 1 / 2 mm, and the maximum over a disk moved by
    # d mm changes by at most that x (d + the rim sampling's 2 x 0.005 mm); through k, linearly, by
    # at most 1 per slice.
    rng = np.random.default_rng(11)
    vol = make_volume(rng.uniform(0.0, 1.0, (6, 40, 40)))
    bound = math.sqrt(2) / 2.0 * (0.02 + 0.01)
    for start in np.linspace(18.0, 20.0, 41):
        a = circle_roi(vol, centre_ijk=(start, 19.7, 2.3), diameter_mm=25, resliced=True)
        b = circle_roi(vol, centre_ijk=(start + 0.01, 19.7, 2.3), diameter_mm=25, resliced=True)  # 0.02 mm
        assert abs(a.suvmax - b.suvmax) <= bound
        assert abs(a.suvmean - b.suvmean) <= 0.05  # rim sub-samples: at most about 2 % of the area flips
        c = circle_roi(vol, centre_ijk=(start, 19.7, 2.31), diameter_mm=25, resliced=True)
        assert abs(a.suvmax - c.suvmax) <= 0.01 + 1e-12


def test_circle_clipped_by_image_edge_covers_the_circle_minus_a_segment():
    # 2 mm pixels, centre on pixel i = 0: the image edge is 1 mm from the centre.
    # Area inside = pi r^2 - segment, segment = r^2 acos(d/r) - d sqrt(r^2 - d^2), r = 5, d = 1.
    r, d = 5.0, 1.0
    inside = math.pi * r ** 2 - (r ** 2 * math.acos(d / r) - d * math.sqrt(r ** 2 - d ** 2))
    arr = np.ones((5, 20, 20))
    roi = circle_roi(make_volume(arr), centre_ijk=(0, 10, 2), diameter_mm=10)
    assert roi.area_mm2 == pytest.approx(inside, rel=0.02)
    assert roi.coverage == pytest.approx(inside / (math.pi * r ** 2), rel=0.02)
    assert roi.suvmean == pytest.approx(1.0, rel=1e-12)


# ---------------------------------------------------------------- lesion circle

def test_single_hot_voxel_mean_is_hot_value_diluted_by_the_circle_area():
    # background 1, one voxel 10 at (i, j, k) = (12, 11, 3), 2 mm pixels.
    # SUVmax = 10. SUVmean = (sum of weights * 1 + 9 * 1) / sum of weights,
    # sum of weights = circle area / pixel area = pi 5^2 / 4 = 19.635 pixels.
    arr = np.ones((7, 24, 24))
    arr[3, 11, 12] = 10.0
    vol = make_volume(arr)
    roi = lesion_circle(vol, np.ones(arr.shape, bool))
    n_pixels = math.pi * 5 ** 2 / 4
    assert roi.suvmax == 10.0
    assert roi.suvmean == pytest.approx(1 + 9 / n_pixels, rel=0.01)
    assert roi.centre_ijk == (12.0, 11.0, 3.0)
    assert roi.slice_index == 3
    assert roi.centre_lps_mm == (24.0, 22.0, 6.0)  # origin 0, 2 mm spacing
    assert roi.diameter_mm == 10.0


def test_plateau_mean_equals_plateau_and_circle_sits_in_its_middle():
    # a cylinder of radius 12 mm, value 4, on background 0.5 (1 mm pixels):
    # every voxel of the plateau ties for the maximum; the circle (radius 5 mm)
    # is centred on the plateau's middle, so it lies wholly inside: mean = 4.
    shape = (5, 41, 41)
    x, y, _ = grid_mm(shape, (1, 1, 1), (20, 20, 2))
    arr = np.where(x ** 2 + y ** 2 <= 12 ** 2, 4.0, 0.5)
    arr[[0, 4]] = 0.5  # plateau only on slices 1..3; the middle slice (2) is chosen
    roi = lesion_circle(make_volume(arr, (1, 1, 1)), np.ones(shape, bool))
    assert roi.centre_ijk == (20.0, 20.0, 2.0)
    assert roi.suvmax == 4.0
    assert roi.suvmean == pytest.approx(4.0, rel=1e-12)


def test_circle_mean_of_a_radial_quadratic_matches_the_analytic_disk_mean():
    # v = r^2 (mm^2). Over a disk of radius R the mean of r^2 is R^2 / 2
    # (integral of r^2 * 2 pi r dr / (pi R^2)). 0.25 mm pixels make the
    # pixel-constant approximation small.
    s = 0.25
    shape = (1, 121, 121)
    x, y, _ = grid_mm(shape, (s, s, 1), (60, 60, 0))
    roi = circle_roi(make_volume(x ** 2 + y ** 2, (s, s, 1)), centre_ijk=(60, 60, 0), diameter_mm=25)
    assert roi.suvmean == pytest.approx(12.5 ** 2 / 2, rel=0.01)


def test_lesion_at_the_volume_edge_is_measured_on_the_part_inside():
    # the hottest voxel on the first column (i = 0): same geometry as the clipped
    # circle above; value 6 in a 3-pixel-wide stripe along the edge, 1 elsewhere.
    arr = np.ones((3, 30, 30))
    arr[1, 10:21, 0:3] = 5.0
    arr[1, 15, 0] = 6.0
    roi = lesion_circle(make_volume(arr), np.ones(arr.shape, bool))
    assert roi.centre_ijk == (0.0, 15.0, 1.0)
    assert roi.suvmax == 6.0
    assert 0.55 < roi.coverage < 0.70  # 0.627 by the segment formula


def test_anisotropic_pixels_give_the_same_disk_in_mm():
    # 1 x 2 mm pixels: a uniform disk of radius 8 mm (value 3) on 1; a 10 mm circle
    # at its centre lies inside it in mm, so its mean is exactly 3.
    shape = (3, 30, 40)
    x, y, _ = grid_mm(shape, (1, 2, 3), (20, 15, 1))
    arr = np.where(x ** 2 + y ** 2 <= 8 ** 2, 3.0, 1.0)
    roi = circle_roi(make_volume(arr, (1, 2, 3)), centre_ijk=(20, 15, 1), diameter_mm=10)
    assert roi.suvmean == pytest.approx(3.0, rel=1e-12)
    assert roi.area_mm2 == pytest.approx(math.pi * 25, rel=0.01)


def test_oblique_affine_changes_positions_not_values():
    # a 15-degree rotation about the slice normal and an offset origin:
    # same voxel values, so the same statistics; the LPS centre is affine @ ijk.
    arr = np.ones((5, 24, 24))
    arr[2, 8, 9] = 7.0
    c, s = math.cos(math.radians(15)), math.sin(math.radians(15))
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    straight = lesion_circle(make_volume(arr), np.ones(arr.shape, bool))
    tilted = lesion_circle(make_volume(arr, rotation=rot, origin=(-100, 50, 20)), np.ones(arr.shape, bool))
    assert tilted.suvmean == straight.suvmean and tilted.suvmax == 7.0
    expected = rot @ (np.array([9, 8, 2]) * 2.0) + np.array([-100, 50, 20])
    np.testing.assert_allclose(tilted.centre_lps_mm, expected, atol=1e-9)


def test_hottest_voxel_restricted_to_the_voi():
    arr = np.ones((4, 10, 10))
    arr[1, 1, 1] = 9.0  # hotter, outside the VOI
    arr[2, 6, 7] = 5.0
    voi = np.zeros(arr.shape, bool)
    voi[2, 4:9, 4:9] = True
    assert hottest_voxel(make_volume(arr), voi) == (7, 6, 2)


# ---------------------------------------------------------------- SUVpeak sphere

@pytest.mark.parametrize("spacing", [(1, 1, 1), (2, 2, 2), (2.0, 2.0, 3.27), (4.07, 4.07, 2.0), (1, 2, 3)])
def test_sphere_kernel_holds_1_ml_within_2_percent(spacing):
    # 1 mL = 1000 mm^3; diameter 2 (3000 / 4 pi)^(1/3) = 12.407 mm
    assert SUVPEAK_SPHERE_DIAMETER_MM == pytest.approx(12.407, abs=1e-3)
    kernel = sphere_kernel(spacing, diameter_mm=SUVPEAK_SPHERE_DIAMETER_MM)
    assert kernel.sum() * np.prod(spacing) == pytest.approx(1000.0, rel=0.02)


def test_suvpeak_of_a_single_hot_voxel_is_its_share_of_1_ml():
    # one voxel of 10 on 0, 2 mm voxels (8 mm^3): peak = 10 * 8 / 1000 = 0.08
    arr = np.zeros((15, 15, 15))
    arr[7, 7, 7] = 10.0
    peak = suv_peak(make_volume(arr), np.ones(arr.shape, bool))
    assert peak.suvpeak == pytest.approx(10 * 8 / 1000, rel=0.02)
    assert peak.centre_ijk == (7, 7, 7)
    assert peak.volume_ml == pytest.approx(1.0, rel=0.02)


def test_suvpeak_finds_the_hottest_1_ml_not_the_hottest_voxel():
    # a uniform ball of radius 10 mm at value 5 and, 30 mm away, one voxel of 20
    # (1 mm voxels, background 0). A 1 mL sphere (r = 6.2 mm) fits inside the ball:
    # peak = 5. Around the lone voxel the best mean is 20 * 1 / 1000 = 0.02.
    shape = (41, 41, 61)
    x, y, z = grid_mm(shape, (1, 1, 1), (15, 20, 20))
    arr = np.where(x ** 2 + y ** 2 + z ** 2 <= 10 ** 2, 5.0, 0.0)
    arr[20, 20, 45] = 20.0
    vol = make_volume(arr, (1, 1, 1))
    peak = suv_peak(vol, np.ones(shape, bool))
    assert peak.suvpeak == pytest.approx(5.0, rel=1e-9)
    assert math.dist(peak.centre_ijk, (15, 20, 20)) <= 10 - 6.2  # the sphere lies in the ball
    assert lesion_circle(vol, np.ones(shape, bool)).suvmax == 20.0


def test_suvpeak_centres_only_inside_the_voi():
    # same ball; a VOI holding only the lone voxel forces the sphere there:
    # peak = 20 * 1 mm^3 / 1000 mm^3 (the ball is > 6.2 mm away).
    shape = (41, 41, 61)
    x, y, z = grid_mm(shape, (1, 1, 1), (15, 20, 20))
    arr = np.where(x ** 2 + y ** 2 + z ** 2 <= 10 ** 2, 5.0, 0.0)
    arr[20, 20, 45] = 20.0
    voi = np.zeros(shape, bool)
    voi[20, 20, 45] = True
    peak = suv_peak(make_volume(arr, (1, 1, 1)), voi)
    assert peak.suvpeak == pytest.approx(20 / 1000, rel=0.02)
    assert peak.centre_ijk == (45, 20, 20)


# ---------------------------------------------------------------- BTV

def test_btv_of_an_ellipsoid_is_4_3_pi_abc():
    # semi-axes 20, 15, 10 mm (i, j, k), value 3, background 1, 1 mm voxels.
    # Threshold 1.6 x 1 = 1.6; volume 4/3 pi 20 15 10 mm^3 = 12.566 mL; mean 3.
    shape = (31, 41, 51)
    x, y, z = grid_mm(shape, (1, 1, 1), (25, 20, 15))
    arr = np.where((x / 20) ** 2 + (y / 15) ** 2 + (z / 10) ** 2 <= 1, 3.0, 1.0)
    arr[0:3, 0:3, 0:3] = 3.0  # a separate hot corner, not connected: excluded
    btv = biological_tumour_volume(make_volume(arr, (1, 1, 1)), seed_ijk=(25, 20, 15), bg_mean=1.0)
    assert btv.threshold == pytest.approx(1.6)
    assert btv.volume_ml == pytest.approx(4 / 3 * math.pi * 20 * 15 * 10 / 1000, rel=0.02)
    assert btv.suvmean == pytest.approx(3.0)
    assert not btv.mask[0, 0, 0]


def test_btv_anisotropic_voxels_count_their_volume():
    # a 4 x 5 x 6 voxel box at 2 x 3 x 4 mm voxels: 120 voxels x 24 mm^3 = 2.88 mL
    arr = np.ones((10, 10, 10))
    arr[2:8, 2:7, 2:6] = 2.0  # k: 6, j: 5, i: 4
    btv = biological_tumour_volume(make_volume(arr, (2, 3, 4)), seed_ijk=(3, 3, 3), bg_mean=1.0)
    assert btv.n_voxels == 4 * 5 * 6
    assert btv.volume_ml == pytest.approx(120 * 2 * 3 * 4 / 1000)


def test_btv_is_26_connected_and_limited_by_within():
    arr = np.zeros((5, 5, 5))
    arr[1, 1, 1] = arr[2, 2, 2] = 2.0  # corner-touching only
    vol = make_volume(arr)
    assert biological_tumour_volume(vol, seed_ijk=(1, 1, 1), bg_mean=1.0).n_voxels == 2
    within = np.ones(arr.shape, bool)
    within[2, 2, 2] = False
    assert biological_tumour_volume(vol, seed_ijk=(1, 1, 1), bg_mean=1.0, within=within).n_voxels == 1


def test_btv_empty_when_the_lesion_is_below_threshold():
    arr = np.ones((5, 5, 5))
    btv = biological_tumour_volume(make_volume(arr), seed_ijk=(2, 2, 2), bg_mean=1.0)  # 1 < 1.6
    assert btv.volume_ml == 0.0 and btv.suvmean is None and btv.n_voxels == 0


def test_lesion_extent_is_the_41_percent_isocontour_connected_to_the_hottest_voxel():
    # hottest voxel 10: a neighbour at 4.2 is in (>= 0.41 x 10 = 4.1), one at 4.0 is not, a 9 two voxels
    # away behind a cold voxel is not connected, a 5 outside the search VOI is left out
    arr = np.zeros((1, 1, 9))
    arr[0, 0, :] = [0.0, 4.0, 10.0, 4.2, 0.0, 9.0, 0.0, 5.0, 0.0]
    vol = make_volume(arr)
    voi = np.zeros(arr.shape, bool)
    voi[0, 0, :7] = True
    extent = lesion_extent(vol, voi, seed_ijk=(2, 0, 0))
    assert np.flatnonzero(extent[0, 0]).tolist() == [2, 3]
    with pytest.raises(MeasurementError, match="outside the lesion VOI"):
        lesion_extent(vol, voi, seed_ijk=(7, 0, 0))


# ---------------------------------------------------------------- TBR

def test_tbr_table2_patient_29():
    # Table 2 / Figure 1: SUVmax 9.96, contralateral SUVmax 0.08 -> TBR 124.5
    tbr = tumour_to_background(lesion_suvmax=9.96, lesion_suvmean=6.0, bg_suvmax=0.08, bg_suvmean=0.05)
    assert tbr.max_to_bg_max == pytest.approx(124.5, rel=1e-12)
    assert tbr.max_to_bg_mean == pytest.approx(9.96 / 0.05)
    assert tbr.mean_to_bg_mean == pytest.approx(6.0 / 0.05)


@pytest.mark.parametrize("suvmax, bg_max, published", [
    (2.50, 0.06, 41.6),   # patient 22, Figure 2: 2.5 / 0.06 = 41.67, printed truncated
    (6.36, 0.76, 8.36),   # patient 13, Figure 3: 6.36 / 0.76 = 8.368, printed truncated
])
def test_tbr_other_published_figures(suvmax, bg_max, published):
    tbr = tumour_to_background(lesion_suvmax=suvmax, lesion_suvmean=1.0, bg_suvmax=bg_max, bg_suvmean=1.0)
    assert tbr.max_to_bg_max == pytest.approx(suvmax / bg_max)
    assert math.floor(tbr.max_to_bg_max * 100) / 100 == pytest.approx(published, abs=0.07)


def test_tbr_needs_a_positive_background():
    with pytest.raises(MeasurementError, match="background SUVmax"):
        tumour_to_background(lesion_suvmax=1, lesion_suvmean=1, bg_suvmax=0.0, bg_suvmean=1)


# ---------------------------------------------------------------- errors

def test_empty_voi_and_mask_on_another_grid_are_errors():
    vol = make_volume(np.ones((4, 6, 6)))
    with pytest.raises(MeasurementError, match="empty"):
        lesion_circle(vol, np.zeros((4, 6, 6), bool))
    with pytest.raises(MeasurementError, match="PET grid"):
        suv_peak(vol, np.ones((4, 6, 7), bool))


def test_circle_outside_the_image_is_an_error():
    vol = make_volume(np.ones((4, 6, 6)))
    with pytest.raises(MeasurementError, match="outside the image"):
        circle_roi(vol, centre_ijk=(2, 2, 9), diameter_mm=25)


# ---------------------------------------------------------------- whole record

def test_measure_rois_on_a_two_region_phantom():
    # 2 mm voxels. Lesion: a ball of radius 12 mm at value 4 with one hot voxel 6
    # in its middle. Background: 0.5 everywhere else, measured with a 25 mm circle
    # far from the lesion (uniform -> max = mean = 0.5).
    # Lesion circle: mean = (sum(w) * 4 + 2 * 1) / sum(w), sum(w) = pi 25 / 4.
    # TBRs: 6 / 0.5 = 12, 6 / 0.5 = 12, mean / 0.5.
    # BTV: threshold 0.8; the ball's voxels (4/3 pi 12^3 = 7.238 mL within discretisation).
    shape = (30, 40, 60)
    x, y, z = grid_mm(shape, (2, 2, 2), (15, 20, 15))
    arr = np.where(x ** 2 + y ** 2 + z ** 2 <= 12 ** 2, 4.0, 0.5)
    arr[15, 20, 15] = 6.0
    voi = (x ** 2 + y ** 2 + z ** 2) <= 20 ** 2
    m = measure_rois(make_volume(arr), voi_mask=voi, background_centre_ijk=(45, 20, 15))
    lesion_mean = (math.pi * 25 / 4 * 4 + 2) / (math.pi * 25 / 4)
    assert m.suvmax == 6.0
    assert m.suvmean_1cm == pytest.approx(lesion_mean, rel=0.01)
    assert m.background.suvmax == 0.5 and m.background.suvmean == pytest.approx(0.5)
    assert m.tbr.max_to_bg_max == pytest.approx(12.0)
    assert m.tbr.mean_to_bg_mean == pytest.approx(lesion_mean / 0.5, rel=0.01)
    assert m.btv.volume_ml == pytest.approx(4 / 3 * math.pi * 12 ** 3 / 1000, rel=0.1)
    # 1 mL sphere (r = 6.2 mm) inside the 12 mm ball: mean 4 plus the hot voxel's share
    # when centred on it: 4 + 2 * 8 / 1000
    assert m.peak.suvpeak == pytest.approx(4 + 2 * 8 / 1000, rel=0.01)
    d = m.to_dict()
    for key in ("suvmax", "suvmean_1cm", "suvpeak", "btv_ml", "bg_suvmax", "bg_suvmean",
                "tbr_max_to_bg_max", "tbr_max_to_bg_mean", "tbr_mean_to_bg_mean"):
        assert isinstance(d[key], float), key
    for roi in ("lesion", "background"):
        assert set(d[roi]) >= {"centre_lps_mm", "centre_ijk", "slice_index", "diameter_mm", "method"}
    assert d["background"]["diameter_mm"] == 25.0 and d["lesion"]["diameter_mm"] == 10.0


def test_btv_flooding_normal_tissue_is_reported_with_a_warning():
    # uniform 1.0 everywhere except the background circle's region at 0.5:
    # threshold 1.6 x 0.5 = 0.8, so the BTV is every voxel at 1.0 (30 x 40 x 60 voxels of 8 mm^3
    # = 576 mL minus the low region) > 250 mL: reported, with a warning; value unchanged.
    arr = np.ones((30, 40, 60))
    arr[13:18, 10:31, 35:56] = 0.5
    arr[15, 20, 15] = 2.0
    voi = np.zeros(arr.shape, bool)
    voi[15, 20, 15] = True
    m = measure_rois(make_volume(arr), voi_mask=voi, background_centre_ijk=(45, 20, 15))
    assert m.background.suvmean == pytest.approx(0.5)
    assert m.btv.volume_ml == pytest.approx((30 * 40 * 60 - 5 * 21 * 21) * 8 / 1000)
    assert len(m.extra["warnings"]) == 1 and "BTV" in m.extra["warnings"][0]
    assert m.btv_separates is False and m.to_dict()["btv"]["separates"] is False
    # with a brain mask, the limit is 10 % of the brain
    brain = np.zeros(arr.shape, bool)
    brain[5:25, 5:35, 5:55] = True
    m = measure_rois(make_volume(arr), voi_mask=voi, background_centre_ijk=(45, 20, 15), brain_mask=brain)
    assert "% of the brain" in m.extra["warnings"][0]
    assert m.to_dict()["btv"]["separates"] is False
    # a lesion the threshold does separate: the one hot voxel alone (8 mm^3), no warning
    arr = np.full((30, 40, 60), 0.5)
    arr[15, 20, 15] = 2.0
    m = measure_rois(make_volume(arr), voi_mask=voi, background_centre_ijk=(45, 20, 15), brain_mask=brain)
    assert m.btv.n_voxels == 1 and m.extra["warnings"] == [] and m.to_dict()["btv"]["separates"] is True


def test_btv_judged_at_the_limit_by_hand():
    # 10 % of a 1000 mL brain is 100 mL: 100 mL separates, 101 mL does not; without a brain, 250 mL.
    from gliopet.measure import Btv, judge_btv

    brain = np.ones((10, 10, 10), bool)
    btv = lambda ml: Btv(volume_ml=ml, suvmean=2.0, n_voxels=int(ml), threshold=0.8, mask=brain)  # noqa: E731
    assert judge_btv(btv(100.0), voxel_ml=1.0, brain_mask=brain) == (True, None)
    assert judge_btv(btv(101.0), voxel_ml=1.0, brain_mask=brain)[0] is False
    assert judge_btv(btv(250.0), voxel_ml=1.0, brain_mask=None) == (True, None)
    separates, warning = judge_btv(btv(251.0), voxel_ml=1.0, brain_mask=None)
    assert separates is False and "251 mL" in warning and "SUV 0.8" in warning
