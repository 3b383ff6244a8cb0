"""The MNI152 maps read straight from nilearn's files equal what nilearn's own loaders return."""

import numpy as np
import pytest

from gliopet.io import load_mni152
from gliopet.io.nifti import nifti_to_volume


@pytest.mark.parametrize("resolution", [1, 2])
def test_maps_equal_nilearns_loaders(resolution):
    from nilearn import datasets  # the oracle (slow to import, hence not used by gliopet itself)

    ours = load_mni152(resolution)
    oracle = {
        "t1": datasets.load_mni152_template(resolution=resolution),
        "gm": datasets.load_mni152_gm_template(resolution=resolution),
        "wm": datasets.load_mni152_wm_template(resolution=resolution),
        "brain_mask": datasets.load_mni152_brain_mask(resolution=resolution),
    }
    for name, image in oracle.items():
        expected = nifti_to_volume(image)
        got = getattr(ours, name)
        np.testing.assert_allclose(got.affine, expected.affine, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(got.array, expected.array, atol=1e-6, err_msg=name)


def test_two_mm_grid_and_lps_orientation():
    t = load_mni152(2)
    # nilearn's 2 mm grid: 99 x 117 x 95 voxels (i, j, k), RAS origin (-98, -134, -72) -> LPS (98, 134, -72).
    assert t.t1.shape == (95, 117, 99)
    np.testing.assert_allclose(t.t1.ijk_to_xyz_mm([0, 0, 0]), [98.0, 134.0, -72.0])
    np.testing.assert_allclose(t.t1.spacing_mm, (2.0, 2.0, 2.0))
    # CSF = mask - GM - WM, clipped to [0, 1]
    np.testing.assert_allclose(t.csf.array, np.clip(t.brain_mask.array - t.gm.array - t.wm.array, 0, 1))
