"""NIfTI in and out: RAS <-> LPS at the boundary, world positions preserved."""

import nibabel as nib
import numpy as np
import pytest

from dicom_factory import pet_header, write_series
from gliopet.errors import GliopetError
from gliopet.io import read_nifti, read_series, write_nifti
from gliopet.volume import Volume


def test_reading_a_ras_nifti_gives_lps_world_positions(tmp_path):
    # A RAS affine: voxel (i, j, k) -> RAS (2i - 10, 3j + 5, 4k + 1).
    affine_ras = np.array([[2.0, 0, 0, -10], [0, 3, 0, 5], [0, 0, 4, 1], [0, 0, 0, 1]])
    data = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)  # nibabel order [i, j, k]
    nib.save(nib.Nifti1Image(data, affine_ras), tmp_path / "x.nii.gz")
    vol = read_nifti(tmp_path / "x.nii.gz")
    assert vol.shape == (4, 3, 2)  # [k, j, i]
    # voxel (1, 2, 3) is RAS (-8, 11, 13) -> LPS (8, -11, 13), value data[1, 2, 3]
    np.testing.assert_allclose(vol.ijk_to_xyz_mm([1, 2, 3]), [8.0, -11.0, 13.0])
    assert vol.array[3, 2, 1] == data[1, 2, 3]


def test_dicom_to_nifti_round_trip_preserves_world_coordinates(tmp_path):
    row = np.array([np.cos(0.3), np.sin(0.3), 0.0])
    col = np.array([0.0, 0.0, -1.0])
    stored = np.arange(3 * 4 * 5, dtype=np.int16).reshape(3, 4, 5)
    write_series(tmp_path / "dcm", stored, orientation=tuple(row) + tuple(col), origin=(3.0, -7.0, 12.0),
                 header=pet_header())
    vol = read_series(tmp_path / "dcm")
    write_nifti(vol, tmp_path / "out.nii.gz")
    back = read_nifti(tmp_path / "out.nii.gz")
    np.testing.assert_allclose(back.affine, vol.affine, atol=1e-5)
    np.testing.assert_array_equal(back.array, vol.array)
    # And nibabel's own view of the file is RAS: voxel (0, 0, 0) at (-3, 7, 12).
    img = nib.load(tmp_path / "out.nii.gz")
    np.testing.assert_allclose(img.affine[:3, 3], [-3.0, 7.0, 12.0], atol=1e-5)
    assert not list(tmp_path.glob(".*partial*"))


def test_not_nifti_is_a_clear_error(tmp_path):
    (tmp_path / "bad.nii").write_bytes(b"garbage" * 100)
    with pytest.raises(GliopetError, match="bad.nii: not a readable NIfTI"):
        read_nifti(tmp_path / "bad.nii")


def test_volume_refuses_sheared_affine():
    affine = np.eye(4)
    affine[0, 2] = 0.5  # k axis leans along x: sheared
    with pytest.raises(ValueError, match="not orthogonal"):
        Volume(np.zeros((2, 2, 2)), affine)
