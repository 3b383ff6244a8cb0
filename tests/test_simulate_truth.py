"""The simulator's independent ROI implementation (gliopet.simulate.truth_rois).

Hand-worked values first (constant, linear ramp, a single hot voxel, the slice blend, the lesion
circle), then the two implementations of the same definition checking each other on random images:
gliopet.simulate.truth_rois against gliopet.measure, within their sampling tolerances. Neither is the
reference for the other; a disagreement beyond the tolerance means one of them is wrong.
"""

import math

import numpy as np
import pytest

from gliopet.simulate import truth_rois
from gliopet.simulate.truth_rois import (axial_plane, background_disk_truth, bilinear, disk_max_interpolated,
                                         disk_mean, lesion_disk_truth)

SPACING_MM = 2.0
AFFINE = np.diag([SPACING_MM, SPACING_MM, SPACING_MM, 1.0])  # voxel (i, j, k) at (2i, 2j, 2k) mm


def _stack(plane, n_k=3):
    return np.stack([plane] * n_k)


def test_truth_module_shares_no_code_with_the_measurement():
    source = open(truth_rois.__file__, encoding="utf-8").read()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["from __future__ import annotations", "import math",
                       "from dataclasses import dataclass", "import numpy as np"]


def test_constant_plane():
    array = _stack(np.full((41, 41), 0.7))
    truth = background_disk_truth(array, AFFINE, centre_lps_mm=(40.3, 41.1, 2.6), diameter_mm=25)
    assert truth.suvmax == pytest.approx(0.7, rel=1e-12)
    assert truth.suvmean == pytest.approx(0.7, rel=1e-12)
    assert truth.centre_ijk == pytest.approx((20.15, 20.55, 1.3))


def test_linear_ramp_maximum_is_on_the_rim_and_mean_at_the_centre():
    # v = 2 + 0.1 x + 0.05 y (x, y in mm); its bilinear interpolant is v itself, so over a disk of
    # radius 12.5 mm its maximum is at the rim point along the gradient: v(centre) + 12.5 |g|,
    # |g| = sqrt(0.1^2 + 0.05^2). The voxel-constant image over a disk centred on a voxel centre is
    # symmetric about it, so its mean is v(centre).
    jj, ii = np.mgrid[0:41, 0:41]
    plane = 2.0 + 0.1 * (ii * SPACING_MM) + 0.05 * (jj * SPACING_MM)
    centre_mm = (40.0, 40.0, 2.0)  # voxel (20, 20, 1)
    truth = background_disk_truth(_stack(plane), AFFINE, centre_lps_mm=centre_mm, diameter_mm=25)
    at_centre = 2.0 + 0.1 * 40.0 + 0.05 * 40.0  # 8.0
    assert truth.suvmax == pytest.approx(at_centre + 12.5 * math.hypot(0.1, 0.05), abs=1e-7)  # 9.3975
    assert truth.suvmean == pytest.approx(at_centre, rel=1e-12)
    # the highest voxel centre inside is lower: 12 mm along x (v = 9.2) or (10, 6) mm (9.3)
    assert truth.suvmax > 8.0 + 1.3


def test_single_hot_voxel_straddling_the_rim():
    # One voxel of value 1, its centre 13 mm from the centre along x (i = 27, centre i = 20.5):
    # it spans x = 12 to 14 mm, y = -1 to 1 mm. The rim (12.5 mm) crosses it 0.5 mm inside its
    # centre: at x = 12.5 mm the bilinear value is 1 - 0.5 / 2 = 0.75, the highest on the disk
    # (no voxel centre inside is hot).
    plane = np.zeros((41, 41))
    plane[20, 27] = 1.0
    kwargs = dict(centre_ij=(20.5, 20.0), radius_mm=12.5, spacing_ij_mm=(SPACING_MM, SPACING_MM))
    assert disk_max_interpolated(plane, **kwargs) == pytest.approx(0.75, abs=1e-9)
    # Area of that voxel inside the disk: integral over y in [-1, 1] of sqrt(R^2 - y^2) - 12,
    # = y sqrt(R^2 - y^2) + R^2 asin(y / R) at y = 1, minus 2 x 12.
    r = 12.5
    area = 1.0 * math.sqrt(r * r - 1.0) + r * r * math.asin(1.0 / r) - 24.0  # 0.9733 mm^2
    # sampling error: at most one 0.02 mm cell per 0.02 mm row along the 2 mm of rim inside the
    # voxel, 100 x 0.0004 = 0.04 mm^2 of 0.97 at worst; it averages out well below that (0.5 %)
    assert disk_mean(plane, **kwargs) == pytest.approx(area / (math.pi * r * r), rel=5e-3)
    # the same voxel at the centre: the maximum is the voxel itself
    assert disk_max_interpolated(plane, centre_ij=(27.0, 20.0), radius_mm=12.5,
                                 spacing_ij_mm=(SPACING_MM, SPACING_MM)) == 1.0


def test_plane_between_slices_and_beyond_the_last():
    array = np.stack([np.full((41, 41), 1.0), np.full((41, 41), 3.0)])
    # level k = 0.25 (z = 0.5 mm): 0.75 x 1 + 0.25 x 3 = 1.5
    truth = background_disk_truth(array, AFFINE, centre_lps_mm=(40.0, 40.0, 0.5), diameter_mm=25)
    assert (truth.suvmax, truth.suvmean) == (pytest.approx(1.5), pytest.approx(1.5))
    # a whole level is the slice itself, exactly; beyond the last slice centre, the last slice
    assert axial_plane(array, 1.0)[0, 0] == 3.0 and axial_plane(array, 1.4)[0, 0] == 3.0
    assert axial_plane(array, 0.0)[0, 0] == 1.0


def test_bilinear_by_hand():
    plane = np.array([[0.0, 10.0], [20.0, 30.0]])  # value = 10 i + 20 j
    assert bilinear(plane, np.array([0.5, 1.0, 0.25]), np.array([0.5, 0.0, 1.0])) == \
        pytest.approx([15.0, 10.0, 22.5])
    # beyond the outer voxel centres the edge value holds
    assert bilinear(plane, np.array([1.4]), np.array([-0.3]))[0] == pytest.approx(10.0)


def test_lesion_circle_by_hand():
    # Slice k = 2 of ones; the VOI's hottest voxel (5) at (i, j) = (10, 10). In the 10 mm circle
    # centred on it: a hotter voxel (7) outside the VOI 4 mm away along x counts for SUVmax; a
    # hotter one (9) 6 mm away does not (its centre lies outside; the voxel spans x = 5 to 7 mm,
    # wholly outside). On another slice, outside the VOI, an 8 plays no part.
    array = np.ones((5, 21, 21))
    mask = np.zeros(array.shape, bool)
    mask[1:4, 8:13, 8:11] = True
    array[2, 10, 10] = 5.0
    array[2, 10, 12] = 7.0
    array[2, 10, 13] = 9.0
    array[4, 10, 10] = 8.0
    truth = lesion_disk_truth(array, AFFINE, mask, diameter_mm=10)
    assert truth.centre_ijk == (10.0, 10.0, 2.0)
    assert truth.suvmax == 7.0
    # Mean over the disk (r = 5 mm): ones everywhere, plus 4 over the centre voxel (wholly inside,
    # 4 mm^2) and 6 over the part of the 7-voxel inside: x from 3 mm to sqrt(25 - y^2), |y| <= 1,
    # area = sqrt(24) + 25 asin(0.2) - 6.
    area_7 = math.sqrt(24.0) + 25.0 * math.asin(0.2) - 6.0  # 3.9329 mm^2
    expected = 1.0 + (4.0 * 4.0 + 6.0 * area_7) / (math.pi * 25.0)
    assert truth.suvmean == pytest.approx(expected, rel=2e-3)
    assert lesion_disk_truth(array, AFFINE, np.zeros(array.shape, bool)) is None


def test_lesion_circle_tie_goes_to_the_voxel_nearest_the_ties_centroid():
    array = np.zeros((3, 21, 21))
    mask = np.zeros(array.shape, bool)
    mask[1, 5:16, 5:16] = True
    for i in (6, 10, 14):  # three equal maxima in a row: the middle one
        array[1, 10, i] = 2.0
    assert lesion_disk_truth(array, AFFINE, mask).centre_ijk == (10.0, 10.0, 1.0)


# ---- two implementations of one definition checking each other ---------------------------------

def test_background_circle_agrees_with_gliopet_measure_on_random_images():
    from gliopet.measure import circle_roi
    from gliopet.volume import Volume

    rng = np.random.default_rng(20240607)
    for _ in range(12):
        array = rng.random((6, 40, 40))
        ci, cj = rng.uniform(15.0, 25.0, size=2)
        ck = rng.uniform(0.0, 5.0)
        centre_mm = (2.0 * ci, 2.0 * cj, 2.0 * ck)
        ours = background_disk_truth(array, AFFINE, centre_lps_mm=centre_mm, diameter_mm=25)
        theirs = circle_roi(Volume(array, AFFINE), centre_ijk=(ci, cj, ck), diameter_mm=25, resliced=True)
        # SUVmax: each rim sampling is within half its arc step x the largest gradient of the
        # bilinear plane (values in [0, 1], 2 mm voxels: at most sqrt(2) / 2 per mm) of the exact
        # maximum: (0.01 + 0.002) / 2 x 0.71 = 0.0043
        assert ours.suvmax == pytest.approx(theirs.suvmax, abs=0.0043)
        # SUVmean: both estimate the rim voxels' covered areas by sub-sampling (10 x 10 per voxel
        # there, 0.02 mm here); about 50 rim voxels of 4 mm^2 in 491 mm^2, each within about
        # 1 % of its area: 50 x 0.04 / 491 = 0.004 of the values' range at worst
        assert ours.suvmean == pytest.approx(theirs.suvmean, abs=0.004)


def test_lesion_circle_agrees_with_gliopet_measure_on_random_images():
    from gliopet.measure import lesion_circle
    from gliopet.volume import Volume

    rng = np.random.default_rng(7)
    for _ in range(8):
        array = rng.random((8, 30, 30))
        mask = np.zeros(array.shape, bool)
        k0, j0, i0 = rng.integers(2, 5), rng.integers(8, 18), rng.integers(8, 18)
        mask[k0:k0 + 3, j0:j0 + 5, i0:i0 + 4] = True
        ours = lesion_disk_truth(array, AFFINE, mask, diameter_mm=10)
        theirs = lesion_circle(Volume(array, AFFINE), mask, diameter_mm=10)
        assert ours.centre_ijk == tuple(float(v) for v in theirs.centre_ijk)
        assert ours.suvmax == theirs.suvmax  # the same voxel: no sampling involved
        # about 12 rim voxels of 4 mm^2 in 78.5 mm^2, each within about 1 % of its area
        assert ours.suvmean == pytest.approx(theirs.suvmean, abs=0.006)
