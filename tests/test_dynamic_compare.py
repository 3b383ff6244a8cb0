"""`gliopet compare BASELINE FOLLOWUP` (issue 20, item 4): changes with the same ROIs, response by rules as data.

Images as tests/test_tracer_presets.py: 40^3 voxels of 2 mm (0.008 mL), SUV 1.0 with a lesion at ijk
(10, 20, 20), background circle at LPS (60, 40, 40) (mean 1.0, so thresholds are the factor itself).
Baseline: a 5^3 cube at 2.0 with a 3^3 core at 4.0: BTV (1.6) = 125 voxels = 1.0 mL, SUVmax 4.
The cubes share one grid and are not registered (--same-frame): a flat cube gives mutual information
nothing to fit.
"""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from gliopet.cli import main
from gliopet.errors import InputError
from gliopet.io.nifti import write_nifti
from gliopet.study import compare_study_files, load_response_rules, response_category
from gliopet.volume import Volume


def _pet(path, *, half_width, core=4.0):
    array = np.ones((40, 40, 40), dtype=np.float32)
    array[20 - half_width:21 + half_width, 20 - half_width:21 + half_width, 10 - half_width:11 + half_width] = 2.0
    array[19:22, 19:22, 9:12] = core
    write_nifti(Volume(array, np.diag([2.0, 2.0, 2.0, 1.0])), path)
    return path


def _changes(**relative):
    return {k: {"baseline": 1.0, "followup": 1.0 + v, "absolute_change": v, "relative_change": v}
            for k, v in {"btv_ml": 0.0, "tbr_max_to_bg_mean": 0.0, **relative}.items()}


@pytest.mark.parametrize("relative, category", [
    ({"btv_ml": 0.30}, "progression"),
    ({"tbr_max_to_bg_mean": 0.25}, "progression"),  # the threshold itself counts
    ({"btv_ml": -0.5}, "response"),
    ({"btv_ml": -1.0}, "complete_metabolic_response"),  # follow-up BTV 0 mL
    ({"btv_ml": -0.2, "tbr_max_to_bg_mean": 0.1}, "stable"),
])
def test_default_rules(relative, category):
    assert response_category(_changes(**relative), load_response_rules()) == category


def test_default_rules_say_they_are_not_pet_rano():
    rules = load_response_rules()
    assert "not PET RANO 1.0" in rules["name"] and "user's thresholds" in rules["source"]


def test_bad_rules_file_is_refused(tmp_path):
    bad = tmp_path / "rules.json"
    bad.write_text(json.dumps({"rules": [{"category": "x", "all": [{"value": "volume", "at_least": 1}]}],
                               "default": "y"}))
    with pytest.raises(InputError, match="rules.json"):
        load_response_rules(bad)


def test_compare_growing_lesion_is_progression(tmp_path):
    # Follow-up: the 2.0 region grows to 7^3 = 343 voxels (2.744 mL); SUVmax unchanged (core 4.0).
    base = _pet(tmp_path / "base.nii.gz", half_width=2)
    follow = _pet(tmp_path / "follow.nii.gz", half_width=3)
    result = compare_study_files(base, follow, lesion="20,40,40", background="60,40,40", register=False)
    assert "not registered" in result["same_rois"]
    btv = result["changes"]["btv_ml"]
    assert btv["baseline"] == pytest.approx(125 * 0.008) and btv["followup"] == pytest.approx(343 * 0.008)
    assert btv["relative_change"] == pytest.approx(343 / 125 - 1)
    assert result["changes"]["tbr_max_to_bg_mean"]["relative_change"] == pytest.approx(0.0, abs=1e-6)
    assert result["response"] == "progression"


def test_compare_cli_shrinking_lesion_is_response(tmp_path):
    # Follow-up: only the 3^3 core (27 voxels) above 1.6: BTV -78.4 %.
    base = _pet(tmp_path / "base.nii.gz", half_width=2)
    follow = _pet(tmp_path / "follow.nii.gz", half_width=1)
    out = CliRunner().invoke(main, ["compare", str(base), str(follow), "--lesion", "20,40,40", "--background",
                                    "60,40,40", "--same-frame", "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert result["changes"]["btv_ml"]["relative_change"] == pytest.approx(27 / 125 - 1)
    assert result["response"] == "response"
    assert result["rules"]["file"].endswith("response_rules.json")


def test_compare_cli_text(tmp_path):
    base = _pet(tmp_path / "base.nii.gz", half_width=2)
    follow = _pet(tmp_path / "follow.nii.gz", half_width=3)
    out = CliRunner().invoke(main, ["compare", str(base), str(follow), "--lesion", "20,40,40", "--background",
                                    "60,40,40", "--same-frame"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert "btv_ml                   1.000 -> 2.744     +174.4 %" in out.output
    assert "response: progression  (user thresholds" in out.output


def test_compare_registers_a_moved_followup(tmp_path):
    """A simulated patient's 60-min PET (in SUV, as NIfTI) is the baseline; the follow-up is the same image
    placed 6 mm right, 4 mm anterior and 8 mm up in the scanner (its affine translated by whole voxels,
    so the true registration is that translation and no resampling blurs it). Registered, the follow-up is
    measured with the baseline's ROIs where they belong: every change is zero."""
    from gliopet.io.images import read_pet
    from gliopet.simulate.patient import simulate_patient
    from gliopet.simulate.specs import random_patient_spec

    simulate_patient(random_patient_spec(3, 1), tmp_path / "p", seed=3)
    pet = read_pet(tmp_path / "p" / "PET_60min").volume
    write_nifti(pet, tmp_path / "base.nii.gz")
    shift = np.array([-6.0, -4.0, 8.0])  # LPS: right is -x, anterior is -y, up is +z
    assert np.allclose(np.abs(shift) % np.abs(np.diag(pet.affine)[:3]), 0)  # whole voxels on this grid
    moved = pet.affine.copy()
    moved[:3, 3] += shift
    write_nifti(Volume(pet.array, moved), tmp_path / "follow.nii.gz")
    result = compare_study_files(tmp_path / "base.nii.gz", tmp_path / "follow.nii.gz", ct=tmp_path / "p" / "CT")
    assert "registered to the baseline" in result["same_rois"]
    # The follow-up's point x is the baseline's point x - shift: the fitted map is that translation.
    to_ref = np.array(result["measurement"]["timepoints"][0]["timepoint"]["registration"]["timepoint_to_reference_lps"])
    np.testing.assert_allclose(to_ref[:3, 3], -shift, atol=0.5)
    np.testing.assert_allclose(to_ref[:3, :3], np.eye(3), atol=0.01)
    for key in ("tbr_max_to_bg_mean", "tbr_mean_to_bg_mean", "btv_ml", "suvmax"):
        assert result["changes"][key]["relative_change"] == pytest.approx(0.0, abs=0.02), key
    assert result["response"] == "stable"
