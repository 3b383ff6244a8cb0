"""A lesion mask drawn on an MRI (another pose, another grid) carried to the PET by rigid registration."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from gliopet.brain import resample_to
from gliopet.cli import main
from gliopet.io.nifti import write_nifti
from gliopet.io.template import load_mni152
from test_brain import CENTRUM_SEMIOVALE_MNI_RAS_MM, POSE, grid, rotation, synthetic_head, true_point

LESION_RAS = (35.0, -20.0, 15.0)
# the MRI session: the head turned 8 degrees and shifted, on a 1.5 x 1.5 x 3 mm grid
MRI_POSE = dict(rotation_matrix=rotation(8, -4, 3) @ POSE["rotation_matrix"],
                translation_mm=tuple(np.array(POSE["translation_mm"]) + np.array([6.0, -5.0, 8.0])))


def test_mri_drawn_mask_measured_on_the_pet(tmp_path):
    pet, ct, p2m = synthetic_head(**POSE, lesion_mni_ras=LESION_RAS)
    _, _, p2m_mri = synthetic_head(**MRI_POSE)  # the true MRI pose (patient -> MNI)
    mri_grid = grid((60, 150, 130), (1.5, 1.5, 3.0), MRI_POSE["translation_mm"])
    t1 = mri_grid.with_array(resample_to(load_mni152(2).t1, mri_grid, reference_to_volume=p2m_mri))
    # the reader's mask on the MRI: a 12 mm ball around the lesion centre as seen on the MRI
    k, j, i = np.indices(t1.shape)
    xyz = t1.ijk_to_xyz_mm(np.stack([i, j, k], -1).astype(float))
    ball = ((xyz - true_point(p2m_mri, LESION_RAS)) ** 2).sum(-1) <= 10 ** 2
    for name, volume in (("pet.nii.gz", pet), ("ct.nii.gz", ct), ("t1.nii.gz", t1),
                         ("mask_on_t1.nii.gz", t1.with_array(ball.astype(np.uint8)))):
        write_nifti(volume, tmp_path / name)
    x, y, z = CENTRUM_SEMIOVALE_MNI_RAS_MM
    bg = ",".join(f"{v:.2f}" for v in true_point(p2m, (-x, y, z)))
    args = ["measure", str(tmp_path / "pet.nii.gz"), "--ct", str(tmp_path / "ct.nii.gz"),
            "--lesion", str(tmp_path / "mask_on_t1.nii.gz"), "--background", bg, "--json"]
    without = CliRunner().invoke(main, args)
    assert without.exit_code == 2 and "on another grid" in without.stderr  # no --mri: refused, not guessed
    result = CliRunner().invoke(main, [*args, "--mri", str(tmp_path / "t1.nii.gz")])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["mri_registration"]["fixed"] == "ct"
    # the MRI moved by rotation(8, -4, 3) relative to the PET/CT: about 9.4 degrees
    angle = np.degrees(np.arccos((np.trace(rotation(8, -4, 3)) - 1) / 2))
    assert record["mri_registration"]["rotation_deg"] == pytest.approx(angle, abs=1.0)
    # the carried mask lands on the lesion (SUV 3.0 plateau, radius 12 mm): its hottest voxel is 3.0
    # and the 1 cm circle sits within 3 mm (+ one 2.5 mm voxel diagonal) of the true centre
    assert record["suvmax"] == pytest.approx(3.0, rel=1e-6)
    assert np.linalg.norm(np.array(record["lesion"]["centre_lps_mm"]) - true_point(p2m, LESION_RAS)) < 3 + 4.4
    assert record["inputs"]["mri"].endswith("t1.nii.gz")


def test_snapshot_draws_the_registered_mri_beneath_the_pet(tmp_path):
    import matplotlib.image

    from gliopet.io.nifti import read_nifti
    from gliopet.snapshot import mri_plane

    pet, ct, p2m = synthetic_head(**POSE, lesion_mni_ras=LESION_RAS)
    _, _, p2m_mri = synthetic_head(**MRI_POSE)
    mri_grid = grid((60, 150, 130), (1.5, 1.5, 3.0), MRI_POSE["translation_mm"])
    t1 = mri_grid.with_array(resample_to(load_mni152(2).t1, mri_grid, reference_to_volume=p2m_mri))
    for name, volume in (("pet.nii.gz", pet), ("ct.nii.gz", ct), ("t1.nii.gz", t1)):
        write_nifti(volume, tmp_path / name)
    x, y, z = CENTRUM_SEMIOVALE_MNI_RAS_MM
    bg = ",".join(f"{v:.2f}" for v in true_point(p2m, (-x, y, z)))
    lesion = ",".join(f"{v:.2f}" for v in true_point(p2m, LESION_RAS))
    args = ["measure", str(tmp_path / "pet.nii.gz"), "--ct", str(tmp_path / "ct.nii.gz"), "--lesion", lesion,
            "--background", bg, "--json"]
    # an MRI with nothing to carry and nothing to draw is refused, naming the option
    refused = CliRunner().invoke(main, [*args, "--mri", str(tmp_path / "t1.nii.gz")])
    assert refused.exit_code == 2 and "--mri" in refused.stderr
    plain = CliRunner().invoke(main, [*args, "--snapshot", str(tmp_path / "plain.png")])
    result = CliRunner().invoke(main, [*args, "--mri", str(tmp_path / "t1.nii.gz"),
                                       "--snapshot", str(tmp_path / "with_mri.png")])
    assert plain.exit_code == 0 and result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    angle = np.degrees(np.arccos((np.trace(rotation(8, -4, 3)) - 1) / 2))
    assert record["mri_registration"]["fixed"] == "ct"
    assert record["mri_registration"]["rotation_deg"] == pytest.approx(angle, abs=1.0)
    # a second row of panels: the figure is 5.8 inches a row at 110 dpi
    assert matplotlib.image.imread(tmp_path / "plain.png").shape[0] == round(5.8 * 110)
    assert matplotlib.image.imread(tmp_path / "with_mri.png").shape[0] == round(2 * 5.8 * 110)
    # the MRI drawn on the lesion slice is the MRI where the PET is: against the true PET-to-MRI
    # mapping (PET patient -> MNI -> MRI patient), the drawn plane correlates almost perfectly
    pet_read = read_nifti(tmp_path / "pet.nii.gz")
    k = record["lesion"]["slice_index"]
    drawn = mri_plane(pet_read, t1, np.array(record["mri_registration"]["pet_to_mri_lps"]), k)
    truth = mri_plane(pet_read, t1, np.linalg.inv(p2m_mri) @ p2m, k)
    inside = truth > 0
    assert inside.sum() > 1000
    assert np.corrcoef(drawn[inside], truth[inside])[0, 1] > 0.95
    # and a wrong mapping (no registration: the identity) would not pass that check
    unregistered = mri_plane(pet_read, t1, np.eye(4), k)
    assert np.corrcoef(unregistered[inside], truth[inside])[0, 1] < 0.9
