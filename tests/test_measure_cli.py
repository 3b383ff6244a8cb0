"""`gliopet measure` end to end: a posed synthetic head written as real DICOM (and NIfTI), read back and measured.

The head (tests/test_brain.py) has a lesion ball of SUV 3.0 (radius 12 mm) at
MNI RAS (35, -20, 15) in the right hemisphere, white matter at SUV 0.08
(0.03 + 0.05 for pure WM) and grey matter at 0.13. The PET is written in Bq/mL
with SUV = C x weight / decayed dose, so C = SUV x decayed dose / weight.
"""

import json
import subprocess
import sys
from datetime import datetime

import numpy as np
import pytest
from click.testing import CliRunner

from gliopet.cli import main
from gliopet.io.nifti import write_nifti
from gliopet.simulate.dicom_writer import (PatientInfo, PetSeriesInfo, StudyInfo, deterministic_uid,
                                           write_ct_series, write_pet_series)
from test_brain import CENTRUM_SEMIOVALE_MNI_RAS_MM, POSE, synthetic_head, true_plane, true_point

INJECTION = datetime(2022, 5, 6, 9, 0, 0)
SCAN = datetime(2022, 5, 6, 10, 0, 0)  # 60 min p.i., the study's late scan
DOSE_BQ = 150e6
WEIGHT_KG = 70.0
HALF_LIFE_S = 4062.6  # 68Ga, 67.71 min
DECAYED_BQ = DOSE_BQ * 2 ** (-3600 / HALF_LIFE_S)
LESION_RAS = (35.0, -20.0, 15.0)

PATIENT = PatientInfo(name="SIM^MEASURE", patient_id="SIMM01", birth_date="19600101", sex="F", age_years=62,
                      weight_kg=WEIGHT_KG, height_m=1.65)
STUDY = StudyInfo(study_uid=deterministic_uid("measure-study"), frame_of_reference_uid=deterministic_uid("m-for"),
                  study_datetime=SCAN, accession_number="SIMMA1", study_id="1")
SERIES = PetSeriesInfo(series_uid=deterministic_uid("measure-pet"), series_number=3, description="PET Brain 60 min",
                       scan_start=SCAN, injection=INJECTION, frame_duration_s=600.0, injected_bq=DOSE_BQ,
                       half_life_s=HALF_LIFE_S, radiopharmaceutical="68Ga-Pentixafor",
                       nuclide_code=("35337001", "SCT", "^68^Gallium"), positron_fraction=0.889)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    pet, ct, p2m = synthetic_head(**POSE, lesion_mni_ras=LESION_RAS)
    (root / "pet").mkdir()
    (root / "ct").mkdir()
    bq_per_ml = pet.with_array(pet.array * DECAYED_BQ / (WEIGHT_KG * 1000.0))
    write_pet_series(bq_per_ml, root / "pet", patient=PATIENT, study=STUDY, series=SERIES)
    write_ct_series(ct, root / "ct", patient=PATIENT, study=STUDY, series_uid=deterministic_uid("measure-ct"),
                    series_number=2, acquisition=SCAN)
    write_nifti(pet, root / "pet_suv.nii.gz")
    return root, pet, ct, p2m


def invoke(*args):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def test_measure_dicom_auto_json_and_snapshot(study):
    root, pet, _, p2m = study
    png = root / "check.png"
    result = invoke("measure", str(root / "pet"), "--ct", str(root / "ct"), "--json", "--snapshot", str(png))
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    # the lesion's plateau: SUV 3.0 after the DICOM round trip (int16 per-slice slopes: < 0.1 %)
    assert record["suvmax"] == pytest.approx(3.0, rel=1e-3)
    assert record["suvmean_1cm"] == pytest.approx(3.0, rel=1e-3)  # 5 mm circle inside the 12 mm ball
    assert record["suvpeak"] == pytest.approx(3.0, rel=1e-3)  # 6.2 mm sphere inside it too
    # background in white matter: SUV 0.03 + 0.05 = 0.08 (grey matter would raise it towards 0.13)
    assert record["bg_suvmean"] == pytest.approx(0.08, abs=0.006)
    assert record["tbr_max_to_bg_max"] == pytest.approx(record["suvmax"] / record["bg_suvmax"], rel=1e-9)
    assert record["tbr_max_to_bg_mean"] == pytest.approx(record["suvmax"] / record["bg_suvmean"], rel=1e-9)
    assert record["tbr_mean_to_bg_mean"] == pytest.approx(record["suvmean_1cm"] / record["bg_suvmean"], rel=1e-9)
    lesion, background = record["lesion"], record["background"]
    assert lesion["method"] == "auto" and background["method"] == "auto"
    assert lesion["diameter_mm"] == 10.0 and background["diameter_mm"] == 25.0
    # the circle sits on the middle of the ball: within one voxel diagonal (2.5 mm voxels) of its true centre
    assert np.linalg.norm(np.array(lesion["centre_lps_mm"]) - true_point(p2m, LESION_RAS)) < 2.5 * 3 ** 0.5
    x, y, z = CENTRUM_SEMIOVALE_MNI_RAS_MM
    contralateral = true_point(p2m, (-x, y, z))  # the lesion is right, the background left
    assert np.linalg.norm(np.array(background["centre_lps_mm"]) - contralateral) < 10.0
    normal, offset = true_plane(**POSE)
    assert float(np.dot(normal, background["centre_lps_mm"]) - offset) > 12.5
    # centre_ijk and slice_index agree with the PET grid: the background is read on the plane through
    # its centre (resliced), the lesion on its hottest voxel's slice
    assert background["resliced"] is True and lesion["resliced"] is False
    assert background["slice_index"] == round(background["centre_ijk"][2])
    assert lesion["slice_index"] == lesion["centre_ijk"][2]
    np.testing.assert_allclose(pet.ijk_to_xyz_mm(background["centre_ijk"]), background["centre_lps_mm"], atol=0.01)
    # SUV factor and inputs, software version
    assert record["suv"]["factor"] == pytest.approx(WEIGHT_KG * 1000 / DECAYED_BQ, rel=1e-6)
    assert record["software"]["name"] == "gliopet" and record["units"]["suv"] == "g/mL"
    # the snapshot: a PNG with the lesion (cyan) and background (lime) circles drawn
    from matplotlib.image import imread

    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rgb = imread(png)[..., :3]
    cyan = (rgb[..., 0] < 0.1) & (rgb[..., 1] > 0.9) & (rgb[..., 2] > 0.9)
    lime = (rgb[..., 0] < 0.1) & (rgb[..., 1] > 0.9) & (rgb[..., 2] < 0.1)
    assert cyan.sum() > 30 and lime.sum() > 30
    assert not list(root.glob(".snapshot-*"))  # no temporary left behind


def test_measure_nifti_with_mask_and_background_point(study, tmp_path):
    root, pet, _, p2m = study
    centre = true_point(p2m, LESION_RAS)
    k, j, i = np.indices(pet.shape)
    xyz = pet.ijk_to_xyz_mm(np.stack([i, j, k], -1).astype(float))
    ball = (((xyz - centre) ** 2).sum(-1) <= 15 ** 2).astype(np.uint8)
    write_nifti(pet.with_array(ball), tmp_path / "lesion.nii.gz")
    x, y, z = CENTRUM_SEMIOVALE_MNI_RAS_MM
    bg = true_point(p2m, (-x, y, z))
    result = invoke("measure", str(root / "pet_suv.nii.gz"), "--lesion", str(tmp_path / "lesion.nii.gz"),
                    "--background", ",".join(f"{v:.2f}" for v in bg), "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["lesion"]["method"] == "mask" and record["background"]["method"] == "point"
    assert record["suvmax"] == pytest.approx(3.0, rel=1e-6)  # NIfTI float32: no quantisation
    assert record["bg_suvmean"] == pytest.approx(0.08, abs=0.006)
    # the background circle is centred on the given point (in-plane), on its nearest slice
    ijk = pet.xyz_mm_to_ijk(bg)
    assert record["background"]["slice_index"] == int(round(ijk[2]))
    # (the point was passed rounded to 0.01 mm = 0.004 voxel; centre_ijk is printed to 0.001)
    np.testing.assert_allclose(record["background"]["centre_ijk"][:2], ijk[:2], atol=0.006)


def test_measure_text_output(study):
    root, _, _, p2m = study
    point = ",".join(f"{v:.1f}" for v in true_point(p2m, LESION_RAS))
    x, y, z = CENTRUM_SEMIOVALE_MNI_RAS_MM
    bg = ",".join(f"{v:.1f}" for v in true_point(p2m, (-x, y, z)))
    result = invoke("measure", str(root / "pet_suv.nii.gz"), "--lesion", point, "--background", bg)
    assert result.exit_code == 0, result.output
    assert "SUVmax             3.000 g/mL" in result.stdout
    assert "lesion: 10 mm circle (point)" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--lesion", "500,500,500"], "lesion point [500.0, 500.0, 500.0] (LPS mm) is outside"),
    (["--lesion", "0,0,0", "--background", "900,0,0"], "background point [900.0, 0.0, 0.0] (LPS mm) is outside"),
    (["--lesion", "nothing-here.nii.gz"], "no such mask file"),
    (["--background", "left"], "--background 'left'"),
])
def test_measure_bad_values_exit_2(study, args, message):
    root = study[0]
    result = invoke("measure", str(root / "pet_suv.nii.gz"), *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("gliopet: error: ") and message in result.stderr, result.stderr


def test_measure_error_through_the_real_entry_point(study):
    root = study[0]
    out = subprocess.run([sys.executable, "-m", "gliopet.cli", "measure", str(root / "pet_suv.nii.gz"),
                          "--lesion", "500,500,500"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip() == ("gliopet: error: lesion point [500.0, 500.0, 500.0] (LPS mm) is outside "
                                  f"{root / 'pet_suv.nii.gz'}")


def test_measure_empty_mask_and_mask_on_another_grid_exit_2(study, tmp_path):
    root, pet, _, _ = study
    from gliopet.volume import Volume

    write_nifti(pet.with_array(np.zeros(pet.shape, np.uint8)), tmp_path / "empty.nii.gz")
    coarse = pet.affine.copy()
    coarse[:3, :3] *= 2.0  # 5 mm voxels: another grid
    write_nifti(Volume(np.ones((10, 10, 10), np.uint8), coarse), tmp_path / "other.nii.gz")
    shifted = pet.affine.copy()
    shifted[:3, 3] -= pet.affine[:3, :3] @ np.array([5.0, 0.0, 0.0])  # starts 5 voxels before the PET's first column
    write_nifti(Volume(np.ones((10, 10, 10), np.uint8), shifted), tmp_path / "outside.nii.gz")
    for name, message in (("empty.nii.gz", "the mask is empty"), ("other.nii.gz", "on another grid"),
                          ("outside.nii.gz", "500 mask voxels lie outside")):
        result = invoke("measure", str(root / "pet_suv.nii.gz"), "--lesion", str(tmp_path / name),
                        "--background", "0,0,0")
        assert result.exit_code == 2, name
        assert message in result.stderr and name in result.stderr


def test_mask_covering_part_of_the_pet_grid_is_placed_by_its_position(study, tmp_path):
    # a 10 x 10 x 10 block whose first voxel is PET voxel (i, j, k) = (30, 40, 20): the VOI is that block
    root, pet, _, _ = study
    from gliopet.volume import Volume

    affine = pet.affine.copy()
    affine[:3, 3] = pet.ijk_to_xyz_mm([30, 40, 20])
    write_nifti(Volume(np.ones((10, 10, 10), np.uint8), affine), tmp_path / "block.nii.gz")
    result = invoke("measure", str(root / "pet_suv.nii.gz"), "--lesion", str(tmp_path / "block.nii.gz"),
                    "--background", "0,0,0", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    block = np.asarray(pet.array[20:30, 40:50, 30:40])
    assert record["suvmax"] == pytest.approx(float(block.max()), rel=1e-6)
    i, j, k = record["lesion"]["centre_ijk"]
    assert 30 <= i < 40 and 40 <= j < 50 and 20 <= k < 30


def test_measure_ct_not_covering_the_pet_exit_2(study, tmp_path):
    root, _, ct, _ = study
    from gliopet.volume import Volume

    write_nifti(Volume(ct.array[:30], ct.affine), tmp_path / "ct_top_cut.nii.gz")
    result = invoke("measure", str(root / "pet_suv.nii.gz"), "--ct", str(tmp_path / "ct_top_cut.nii.gz"))
    assert result.exit_code == 2
    assert "does not cover the PET" in result.stderr and "ct_top_cut.nii.gz" in result.stderr


def test_measure_crescent_background(study):
    # the crescent holds grey (SUV 0.13) and white matter (0.08), so its mean lies between them
    root, _, _, p2m = study
    point = ",".join(f"{v:.1f}" for v in true_point(p2m, LESION_RAS))
    result = invoke("measure", str(root / "pet_suv.nii.gz"), "--ct", str(root / "ct"), "--lesion", point,
                    "--background", "crescent", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    background = record["background"]
    assert background["method"] == "crescent" and background["diameter_mm"] is None
    assert 0.08 < record["bg_suvmean"] < 0.13
    assert record["tbr_max_to_bg_mean"] == pytest.approx(record["suvmax"] / record["bg_suvmean"], rel=1e-9)
    normal, offset = true_plane(**POSE)
    assert float(np.dot(normal, background["centre_lps_mm"]) - offset) > 0  # left: opposite the lesion


def test_lesion_mask_as_dicom_seg(study, tmp_path):
    # a DICOM SEG drawn on the PET series (highdicom), holding the true lesion ball (radius 15 mm):
    # it reads back onto the PET grid and gives the same values as the NIfTI mask
    import highdicom as hd
    import pydicom
    from highdicom.sr.coding import CodedConcept

    root, pet, _, p2m = study
    sources = sorted((pydicom.dcmread(p) for p in (root / "pet").iterdir()),
                     key=lambda ds: float(ds.ImagePositionPatient[2]))
    assert len(sources) == pet.shape[0]  # the fixture: one file per PET slice, sorted along S
    centre = true_point(p2m, LESION_RAS)
    k, j, i = np.indices(pet.shape)
    ball = ((pet.ijk_to_xyz_mm(np.stack([i, j, k], -1).astype(float)) - centre) ** 2).sum(-1) <= 15 ** 2
    description = hd.seg.SegmentDescription(
        segment_number=1, segment_label="lesion",
        segmented_property_category=CodedConcept("49755003", "SCT", "Morphologically Altered Structure"),
        segmented_property_type=CodedConcept("108369006", "SCT", "Neoplasm"),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=ball.astype(np.uint8), segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description], series_instance_uid=hd.UID(), series_number=90,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="gliopet tests", manufacturer_model_name="test",
        software_versions="0", device_serial_number="0", omit_empty_frames=True)
    seg.save_as(tmp_path / "lesion_seg.dcm")
    x, y, z = CENTRUM_SEMIOVALE_MNI_RAS_MM
    bg = ",".join(f"{v:.2f}" for v in true_point(p2m, (-x, y, z)))
    from_seg = invoke("measure", str(root / "pet"), "--lesion", str(tmp_path / "lesion_seg.dcm"), "--background", bg,
                      "--json")
    assert from_seg.exit_code == 0, from_seg.output
    write_nifti(pet.with_array(ball.astype(np.uint8)), tmp_path / "lesion.nii.gz")
    from_nifti = invoke("measure", str(root / "pet"), "--lesion", str(tmp_path / "lesion.nii.gz"), "--background", bg,
                        "--json")
    a, b = json.loads(from_seg.stdout), json.loads(from_nifti.stdout)
    assert a["lesion"]["method"] == "mask"
    for key in ("suvmax", "suvmean_1cm", "suvpeak", "btv_ml"):
        assert a[key] == b[key], key
    assert a["lesion"]["centre_ijk"] == b["lesion"]["centre_ijk"]


def test_lesion_file_that_is_neither_nifti_nor_seg_exit_2(study):
    root = study[0]
    ct_file = sorted((root / "ct").iterdir())[0]
    result = invoke("measure", str(root / "pet_suv.nii.gz"), "--lesion", str(ct_file), "--background", "0,0,0")
    assert result.exit_code == 2
    assert "(0008,0060) Modality is 'CT'" in result.stderr


def test_suv_type_lean_body_mass(study):
    # SUL (Janmahasatian): LBM = 9270 W / (8780 + 244 BMI) for a woman; W = 70 kg, H = 1.65 m
    # BMI = 70 / 1.65^2 = 25.712, LBM = 43.106 kg: every SUV scales by LBM / W = 0.6158
    root, _, _, p2m = study
    bmi = WEIGHT_KG / 1.65 ** 2
    lbm = 9270 * WEIGHT_KG / (8780 + 244 * bmi)
    point = ",".join(f"{v:.1f}" for v in true_point(p2m, LESION_RAS))
    result = invoke("measure", str(root / "pet"), "--lesion", point, "--background", point,
                    "--suv-type", "lbm_janmahasatian", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["suv_type"] == "lbm_janmahasatian"
    assert record["suvmax"] == pytest.approx(3.0 * lbm / WEIGHT_KG, rel=2e-3)
