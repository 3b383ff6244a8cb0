"""Validation on one simulated patient (gliopet.simulate: random head pose, OSEM-reconstructed PET, CT, DICOM).

The simulator writes its own ground truth: the lesion centre and the true
centrum semiovale centres in patient LPS, and, measured by the simulator on
the reconstructed SUV image, the lesion's maximum voxel and the maximum in a
25 mm circle at the true contralateral centrum semiovale.
"""

import json

import numpy as np
import pytest

from gliopet.study import measure_study_files
from gliopet.simulate.cohort import random_patient_spec, simulate_patient

SEED = 11


@pytest.fixture(scope="module")
def patient(tmp_path_factory):
    spec = random_patient_spec(SEED, 1)
    assert spec.target_suvmax is not None  # the fixture: a visually positive patient
    out = tmp_path_factory.mktemp("sim") / spec.patient_id
    truth = simulate_patient(spec, out, seed=SEED)
    assert json.loads((out / "ground_truth.json").read_text())["patient_id"] == spec.patient_id
    return out, truth


def _contralateral(truth):
    (centre,) = [v["centre_lps_mm"] for v in truth["centrum_semiovale"].values() if v["contralateral"]]
    (ipsilateral,) = [v["centre_lps_mm"] for v in truth["centrum_semiovale"].values() if not v["contralateral"]]
    return np.array(centre), np.array(ipsilateral)


def test_automatic_measurement_matches_the_ground_truth(patient):
    out, truth = patient
    scan = truth["scans"][0]
    record = measure_study_files(out / scan["pet_folder"], ct=out / "CT").to_dict()
    # SUV: the factor is the inverse of the simulator's Bq/mL per SUV (within the DICOM's precision)
    assert record["suv"]["factor"] == pytest.approx(1.0 / scan["bq_per_ml_per_suv"], rel=1e-5)
    # the automatic lesion is the simulated one: its hottest voxel is the simulator's lesion maximum
    assert record["suvmax"] == pytest.approx(scan["recon"]["lesion_suvmax"], rel=0.02)
    assert np.linalg.norm(np.array(record["lesion"]["centre_lps_mm"]) - truth["lesion"]["centre_lps_mm"]) < 25.0
    # the automatic background: within 10 mm of the true contralateral centrum semiovale (issue 5);
    # with the CT-refined template fit, within 3 mm
    contra, ipsi = _contralateral(truth)
    centre = np.array(record["background"]["centre_lps_mm"])
    assert np.linalg.norm(centre - contra) < 3.0
    assert record["brain"]["template_fit_method"] == "brain mask + CT"
    assert np.linalg.norm(centre - ipsi) > 30.0


def test_measurement_at_the_ground_truth_positions(patient):
    # the lesion mask and the true contralateral centre given by hand, as a reader would:
    # both maxima equal the simulator's own on the same image (same 25 mm circle, same voxels)
    out, truth = patient
    scan = truth["scans"][0]
    contra, _ = _contralateral(truth)
    record = measure_study_files(out / scan["pet_folder"], lesion=str(out / truth["lesion"]["mask_file"]),
                                 background=",".join(f"{v:.3f}" for v in contra)).to_dict()
    assert record["lesion"]["method"] == "mask" and record["background"]["method"] == "point"
    assert record["suvmax"] == pytest.approx(scan["recon"]["lesion_suvmax"], rel=0.02)
    assert record["bg_suvmax"] == pytest.approx(scan["recon"]["bg_suvmax"], rel=0.02)
    assert record["tbr_max_to_bg_max"] == pytest.approx(scan["recon"]["tbr_max_to_bg_max"], rel=0.02)


def test_pet_only_says_when_its_brain_is_implausible(patient):
    # 68Ga-Pentixafor: the brain takes up almost nothing, so the head found on the PET alone takes
    # in the face and neck and its "brain" is far larger than any brain; the measurement goes on
    # but says the automatic placement is not reliable (with the CT it has nothing to say)
    out, truth = patient
    scan = truth["scans"][0]
    pet_only = measure_study_files(out / scan["pet_folder"]).to_dict()
    assert pet_only["brain"]["mask_source"] == "pet" and pet_only["brain"]["brain_volume_ml"] > 2000.0
    assert any("brain found from the PET alone" in w and "give --ct" in w for w in pet_only["warnings"])
    with_ct = measure_study_files(out / scan["pet_folder"], ct=out / "CT").to_dict()
    assert not any("PET alone" in w for w in with_ct["warnings"])
