"""Simulated patients and cohorts end to end: specs from the study's table, DICOM, ground truth."""

import csv
import hashlib
import json
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom
import pytest

from gliopet.errors import InputError
from gliopet.io import read_series, read_suv_volume
from gliopet.io.nifti import read_nifti
from gliopet.io.suv_inputs import suv_report_for_series
from gliopet.measure import circle_roi
from gliopet.simulate.cohort import (CLINICAL_COLUMNS, patient_specs_like, read_like_csv, simulate_cohort)

TABLE2 = Path(__file__).resolve().parents[1] / "src" / "gliopet" / "data" / "reference" / "table2-published.csv"


@pytest.fixture(scope="module")
def rows():
    return read_like_csv(TABLE2)


@pytest.fixture(scope="module")
def specs(rows):
    return patient_specs_like(rows, seed=0)


def test_specs_follow_the_published_table(rows, specs):
    assert len(specs) == 29
    for row, spec in zip(rows, specs):
        assert (spec.sex, spec.age_years, spec.diagnosis, spec.who_grade) == \
            (row["sex"], int(row["age"]), row["diagnosis"], row["who_grade"])
        assert spec.name.startswith("SIM^PATIENT") and spec.patient_id.startswith("SIM")
        assert 114.7e6 <= spec.injected_bq <= 193.5e6  # the study's injected activity range
    by_source = {s.source_patient_id: s for s in specs}
    # patients 5 and 10: visually negative
    assert by_source["5"].target_suvmax is None and by_source["10"].target_suvmax is None
    # patient 29: SUVmax 9.96, background 9.96 / 124.5 = 0.08 (Table 2, Figure 1)
    assert by_source["29"].target_suvmax == 9.96
    assert by_source["29"].target_bg_suvmax == pytest.approx(9.96 / 124.5, abs=1e-4)
    assert (by_source["29"].lobe, by_source["29"].hemisphere) == ("parieto-occipital", "right")
    # patient 13 is also scanned at 30 min; three patients in all (the study's methods)
    assert by_source["13"].scan_times_min == (30.0, 60.0)
    assert sum(s.scan_times_min == (30.0, 60.0) for s in specs) == 3
    # Table 1: 5 referred for recurrence (patient 29 among them), 5 surgery, 4 chemo, 1 radiotherapy
    rec = [s for s in specs if s.referral == "recurrence"]
    assert len(rec) == 5 and by_source["29"].referral == "recurrence"
    assert Counter(s.prior_chemotherapy for s in rec)["yes"] == 4
    assert Counter(s.prior_radiotherapy for s in rec)["yes"] == 1
    assert all(s.prior_surgery == "yes" for s in rec)
    # the study's locations: 8 frontotemporal, 5 temporal, 7 parietal / parieto-occipital, 5 frontoparietal
    lobes = Counter(s.lobe for s in specs)
    assert lobes["frontotemporal"] == 8 and lobes["temporal"] == 5 and lobes["frontoparietal"] == 5
    assert lobes["parietal"] + lobes["parieto-occipital"] == 7


def test_specs_are_seeded(rows):
    assert patient_specs_like(rows, seed=4) == patient_specs_like(rows, seed=4)
    assert patient_specs_like(rows, seed=4) != patient_specs_like(rows, seed=5)


def test_like_csv_errors_name_the_file_and_column(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("patient_id,sex,age,diagnosis\n1,F,50,GBM\n")
    with pytest.raises(InputError, match=r"bad\.csv.*who_grade"):
        read_like_csv(bad)
    bad.write_text("patient_id,sex,age,diagnosis,who_grade\n1,X,50,GBM,IV\n")
    with pytest.raises(InputError, match=r"line 2: sex"):
        read_like_csv(bad)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory, specs):
    # The study's patient 29 (SUVmax 9.96, TBR 124.5) on the clinical grid, GE flavour.
    spec = next(s for s in specs if s.source_patient_id == "29")
    from dataclasses import replace
    spec = replace(spec, flavour="ge", with_mr=True)
    out = tmp_path_factory.mktemp("sim") / "cohort"
    result = simulate_cohort([spec], out, seed=0, progress=False)
    return spec, result


def test_background_aim_steps():
    from gliopet.simulate.pilots import next_bg_scale as _next_bg_scale

    # one pilot: the ratio step, 1.0 x 0.06 / 0.08
    assert _next_bg_scale([(1.0, 0.08)], 0.06) == pytest.approx(0.75)
    # two pilots above the target: the secant 0.5 + (0.06 - 0.08) x 0.5 / 0.02 = 0 is held to a
    # quarter of the last scale
    assert _next_bg_scale([(1.0, 0.10), (0.5, 0.08)], 0.06) == pytest.approx(0.125)
    # pilots on both sides: regula falsi 0.5 + (0.06 - 0.05) x (1.0 - 0.5) / (0.10 - 0.05) = 0.6
    assert _next_bg_scale([(1.0, 0.10), (0.5, 0.05)], 0.06) == pytest.approx(0.6)
    # ... and when the noisy maximum is not monotonic there, the geometric mean sqrt(0.5 x 1.0)
    assert _next_bg_scale([(1.0, 0.05), (0.5, 0.07)], 0.06) == pytest.approx(0.5 ** 0.5)
    # at the smallest scale twice (a target below the noise floor): stays there, no division by 0
    assert _next_bg_scale([(0.05, 0.04), (0.05, 0.04)], 0.03) == pytest.approx(0.05)


def test_cohort_layout_and_clinical_csv(cohort):
    spec, result = cohort
    root = result.root
    assert sorted(p.name for p in root.iterdir()) == ["SIM029", "clinical.csv", "cohort.json",
                                                       "ground_truth.csv"]
    assert not list(root.parent.glob(".cohort.partial-*"))
    with result.clinical_csv.open() as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == CLINICAL_COLUMNS
        (row,) = list(reader)
    assert (row["patient_id"], row["sex"], row["age"], row["who_grade"]) == ("SIM029", "F", "63", "IV")
    assert row["referral"] == "recurrence"
    assert datetime.fromisoformat(row["mri_date"]) < datetime.fromisoformat(row["pet_date"])
    assert sorted(p.name for p in (root / "SIM029").iterdir()) == [
        "CT", "MR_FLAIR", "MR_T1", "MR_T2", "PET_60min", "ground_truth.json", "lesion_mask.nii.gz"]


def test_pet_series_geometry_and_suv_factor(cohort):
    spec, result = cohort
    truth = json.loads((result.root / "SIM029" / "ground_truth.json").read_text())
    pet_dir = result.root / "SIM029" / "PET_60min"
    pet = read_series(pet_dir)
    assert pet.shape == (109, 168, 168) and pet.spacing_mm == pytest.approx((2.0, 2.0, 2.0))
    # 109 slices whose centres span 21.6 cm
    assert (pet.ijk_to_xyz_mm([0, 0, 108]) - pet.ijk_to_xyz_mm([0, 0, 0]))[2] == pytest.approx(216.0)
    ds = pydicom.dcmread(sorted(pet_dir.glob("*.dcm"))[0])
    assert ds.Manufacturer == "GE MEDICAL SYSTEMS" and ds.Units == "BQML"
    # SUVbw factor from the written header = weight [g] / (dose x 2^(-t / 4062.6 s))
    scan = truth["scans"][0]
    elapsed_s = (datetime.fromisoformat(scan["scan_start"]) - datetime.fromisoformat(scan["injection"])).seconds
    expected = spec.weight_kg * 1000 / (spec.injected_bq * 2 ** (-elapsed_s / 4062.6))
    report = suv_report_for_series(pet_dir)
    assert report["factor"] == pytest.approx(expected, rel=1e-6)
    assert 3600 <= elapsed_s <= 3600 + 240  # scanned 60 to 64 min after injection


def test_lesion_ground_truth_matches_the_images(cohort):
    spec, result = cohort
    folder = result.root / "SIM029"
    truth = json.loads((folder / "ground_truth.json").read_text())
    mask = read_nifti(folder / "lesion_mask.nii.gz")
    suv = read_suv_volume(folder / "PET_60min")
    assert np.allclose(mask.affine, suv.affine, atol=1e-4)
    i, j, k = np.rint(mask.xyz_mm_to_ijk(truth["lesion"]["centre_lps_mm"])).astype(int)
    assert mask.array[k, j, i] == 1
    assert float(mask.array.sum()) * 0.008 == pytest.approx(truth["lesion"]["volume_ml"], rel=0.02)
    # right hemisphere: patient's right is LPS x < 0
    assert truth["lesion"]["centre_lps_mm"][0] < 0 and truth["lesion"]["hemisphere"] == "right"
    # SUV read back from DICOM, maximum near the lesion: the ground truth's reconstructed value (to the
    # int16 quantisation) and the published SUVmax 9.96 within 10 %
    near = np.zeros(mask.shape, bool)
    from scipy import ndimage
    near = ndimage.binary_dilation(mask.array > 0, iterations=3)
    measured = float(suv.array[near].max())
    assert measured == pytest.approx(truth["scans"][0]["recon"]["lesion_suvmax"], rel=1e-3)
    # the pilots aim the lesion at the published SUVmax 9.96 and the contralateral background at
    # the published 9.96 / 124.5 = 0.08 (the study's Figure 1), both within the 2 % aim tolerance
    assert measured == pytest.approx(9.96, rel=0.02)
    assert truth["scans"][0]["recon"]["bg_suvmax"] == pytest.approx(9.96 / 124.5, rel=0.02)
    # that ground truth comes from gliopet.simulate.truth_rois, which shares no code with gliopet.measure;
    # gliopet.measure's own circle at the true centre, read back from the DICOM, agrees with it to the
    # int16 quantisation (two implementations of the 25 mm resliced circle checking each other)
    cs = truth["centrum_semiovale"]["left"]
    assert cs["contralateral"] is True
    at_truth = circle_roi(suv, centre_ijk=tuple(suv.xyz_mm_to_ijk(cs["centre_lps_mm"])), diameter_mm=25,
                          resliced=True)
    assert at_truth.suvmax == pytest.approx(truth["scans"][0]["recon"]["bg_suvmax"], rel=2e-3)
    # the lesion is the hottest thing in the brain: far above the contralateral centrum semiovale
    ci, cj, ck = np.rint(suv.xyz_mm_to_ijk(cs["centre_lps_mm"])).astype(int)
    assert float(suv.array[ck, cj, ci]) < 0.1 * measured


def test_truth_circles_on_the_reconstruction_and_the_phantom(cohort):
    spec, result = cohort
    folder = result.root / "SIM029"
    truth = json.loads((folder / "ground_truth.json").read_text())
    scan = truth["scans"][0]
    mask = read_nifti(folder / "lesion_mask.nii.gz").array > 0
    suv = read_suv_volume(folder / "PET_60min")
    # The lesion circle: on the slice of the mask's hottest voxel, centred there; its SUVmax is the hottest
    # voxel whose centre lies within 5 mm of that voxel (2 mm pixels), worked out here with numpy from the
    # DICOM (to the int16 quantisation)
    circle = scan["recon"]["lesion_circle"]
    k, j, i = np.unravel_index(np.argmax(np.where(mask, suv.array, -np.inf)), mask.shape)
    assert circle["centre_ijk"] == [i, j, k] and circle["diameter_mm"] == 10.0
    jj, ii = np.mgrid[0:mask.shape[1], 0:mask.shape[2]]
    inside = np.hypot(ii - i, jj - j) * 2.0 <= 5.0
    assert circle["suvmax"] == pytest.approx(float(suv.array[k][inside].max()), rel=1e-3)
    assert circle["suvmean"] < circle["suvmax"]
    # The phantom: voxels mix tissues whose SUVs the truth lists, so the phantom's circles lie within
    # them; the lesion's voxels (heterogeneous uptake in [1 - h, 1] x its peak, partial volume with
    # brain) cannot exceed its peak
    phantom = scan["phantom_suv"]
    brain = [phantom[t] for t in ("gm", "wm", "csf")]
    assert min(brain) <= phantom["bg_suvmean"] <= phantom["bg_suvmax"] <= max(brain)
    assert phantom["lesion_circle"]["suvmax"] <= phantom["lesion_peak"]
    # the CSV carries the same values (4 significant digits)
    with result.ground_truth_csv.open() as fh:
        (row,) = list(csv.DictReader(fh))
    assert float(row["recon_lesion_circle_suvmax"]) == pytest.approx(circle["suvmax"], rel=1e-3)
    assert float(row["recon_bg_suvmean"]) == pytest.approx(scan["recon"]["bg_suvmean"], rel=1e-3)
    assert float(row["phantom_bg_suvmax"]) == pytest.approx(phantom["bg_suvmax"], rel=1e-3)


def test_ct_is_in_hu_and_shares_the_frame_of_reference(cohort):
    _, result = cohort
    folder = result.root / "SIM029"
    truth = json.loads((folder / "ground_truth.json").read_text())
    ct = read_series(folder / "CT")
    assert ct.shape == (72, 256, 256)
    assert float(ct.array[:, :5, :5].mean()) == pytest.approx(-1000.0, abs=5.0)  # air in the corner
    i, j, k = np.rint(ct.xyz_mm_to_ijk(truth["lesion"]["centre_lps_mm"])).astype(int)
    assert -20.0 < float(ct.array[k, j, i]) < 60.0  # soft tissue (lesion or necrosis), not bone or air
    assert float(ct.array.max()) > 900.0  # skull
    ds_ct = pydicom.dcmread(sorted((folder / "CT").glob("*.dcm"))[0])
    ds_pet = pydicom.dcmread(sorted((folder / "PET_60min").glob("*.dcm"))[0])
    assert ds_ct.FrameOfReferenceUID == ds_pet.FrameOfReferenceUID == truth["frame_of_reference_uid"]
    assert ds_ct.StudyInstanceUID == ds_pet.StudyInstanceUID


def test_mr_is_a_separate_study_showing_the_lesion(cohort):
    _, result = cohort
    folder = result.root / "SIM029"
    truth = json.loads((folder / "ground_truth.json").read_text())
    mr = truth["mr"]
    t2 = read_series(folder / "MR_T2")
    ds = pydicom.dcmread(sorted((folder / "MR_T2").glob("*.dcm"))[0])
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.4" and ds.Modality == "MR"
    assert ds.FrameOfReferenceUID == mr["frame_of_reference_uid"] != truth["frame_of_reference_uid"]
    assert ds.StudyInstanceUID != truth["study_uid"]
    assert mr["date"] < truth["scans"][0]["scan_start"]  # MRI before the PET
    # its own head pose: the lesion sits elsewhere in MR coordinates than in PET/CT coordinates
    assert np.linalg.norm(np.subtract(mr["lesion_centre_lps_mm"], truth["lesion"]["centre_lps_mm"])) > 1.0
    # T2: tumour 0.75 and necrosis 0.95 against white matter 0.45 (the phantom's contrasts)
    i, j, k = np.rint(t2.xyz_mm_to_ijk(mr["lesion_centre_lps_mm"])).astype(int)
    ci, cj, ck = np.rint(t2.xyz_mm_to_ijk(mr["centrum_semiovale_lps_mm"]["left"])).astype(int)
    assert float(t2.array[k, j, i]) > 1.4 * float(t2.array[ck, cj, ci])


def test_mr_is_the_same_head_so_registration_to_the_ct_finds_the_lesion(cohort):
    # Truth from the simulator's two poses (template -> PET/CT and template -> MR); the fit is gliopet's.
    # The head has one size in both sessions (the MR's pose once drew its own scale: a rigid fit then
    # put the demo's SIM013 lesion 25 mm off).
    from gliopet.io.images import read_ct, read_mri
    from gliopet.measure._study import register_mri

    _, result = cohort
    folder = result.root / "SIM029"
    truth = json.loads((folder / "ground_truth.json").read_text())
    assert truth["mr"]["pose"]["scale"] == truth["pose"]["scale"]
    assert truth["mr"]["pose"]["rotation_deg"] != truth["pose"]["rotation_deg"]
    fit = register_mri(read_mri(folder / "MR_T1"), pet=None, ct=read_ct(folder / "CT"))
    m = np.array(fit["pet_to_mri_lps"])
    for pet_point, mr_point in [(truth["lesion"]["centre_lps_mm"], truth["mr"]["lesion_centre_lps_mm"]),
                                *[(truth["centrum_semiovale"][h]["centre_lps_mm"],
                                   truth["mr"]["centrum_semiovale_lps_mm"][h]) for h in ("left", "right")]]:
        assert np.linalg.norm(m[:3, :3] @ pet_point + m[:3, 3] - mr_point) < 1.5


def _digests(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(cohort, tmp_path):
    spec, result = cohort
    again = simulate_cohort([spec], tmp_path / "again", seed=0, progress=False)
    first, second = _digests(result.root), _digests(again.root)
    assert len(first) == 109 + 72 + 3 * 60 + 5  # PET, CT, 3 MR series; two JSON, two CSV, one NIfTI
    assert first == second


def test_cli_refuses_a_non_empty_output_folder(tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    run = subprocess.run([sys.executable, "-m", "gliopet.cli", "simulate", "patient", "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert "not empty" in run.stderr and run.stderr.startswith("gliopet: error:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]  # no temporary folder left
    assert (out / "keep.txt").read_text() == "x"


def test_staged_output_replaces_only_when_the_block_ends_and_cleans_up_on_error(tmp_path):
    from gliopet.simulate.cohort import staged_output

    out = tmp_path / "cohort"
    out.mkdir()
    (out / "old.txt").write_text("kept")
    with pytest.raises(RuntimeError, match="patient 3 failed"):
        with staged_output(out, overwrite=True) as tmp:
            (tmp / "half.txt").write_text("half-written")
            raise RuntimeError("patient 3 failed")
    # the error leaves the earlier cohort as it was and no partial folder beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort"] and (out / "old.txt").read_text() == "kept"
    with staged_output(out, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("done")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort"]
    with pytest.raises(InputError, match="not empty"):
        with staged_output(out, overwrite=False):
            pass
