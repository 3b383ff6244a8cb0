"""Two PET time points of one patient measured with the same ROIs (the study's Figure 3: 30 and 60 min p.i.).

Figure 3 (patient 13): SUVmax 5.53 at 30 min and 6.36 at 60 min. The synthetic
heads carry plateau lesions of exactly those SUVs; the second scan is taken
with the head moved by a known rotation and shift.
"""

from pathlib import Path

import numpy as np
import pytest

from gliopet.errors import MeasurementError
from gliopet.io.template import load_mni152
from gliopet.measure import measure_timepoints
from test_brain import CENTRUM_SEMIOVALE_MNI_RAS_MM, POSE, rotation, synthetic_head, true_point

MOVED = dict(rotation_matrix=rotation(-3, 2, 3) @ POSE["rotation_matrix"],
             translation_mm=tuple(np.array(POSE["translation_mm"]) + np.array([-4.0, 3.0, -2.0])))


@pytest.fixture(scope="module")
def scans():
    early = synthetic_head(**POSE, lesion_suv=5.53)
    late = synthetic_head(**MOVED, lesion_suv=6.36)
    return early, late


def test_same_rois_at_30_and_60_minutes(scans):
    (pet30, ct, p2m30), (pet60, _, p2m60) = scans
    early, late = measure_timepoints([pet30, pet60], ct=ct, template=load_mni152(2), names=["pet30", "pet60"])
    assert early.suvmax == pytest.approx(5.53, rel=1e-6)
    assert late.suvmax == pytest.approx(6.36, rel=1e-6)
    assert late.suvmax / early.suvmax == pytest.approx(6.36 / 5.53, rel=1e-6)
    # the background circle is at the same anatomical point in both scans (the left
    # centrum semiovale; the lesion is right), within the registration's error
    bg30 = np.linalg.inv(p2m30) @ np.append(early.background.centre_lps_mm, 1.0)  # -> MNI (from the 30 min pose)
    bg60 = np.linalg.inv(p2m60) @ p2m30 @ np.append(early.background.centre_lps_mm, 1.0)  # where it is at 60 min
    assert np.linalg.norm(np.array(late.background.centre_lps_mm) - bg60[:3]) < 2.0
    assert bg30 is not None
    x, y, z = CENTRUM_SEMIOVALE_MNI_RAS_MM
    assert np.linalg.norm(np.array(early.background.centre_lps_mm) - true_point(p2m30, (-x, y, z))) < 10.0
    # white matter in both: SUV 0.08
    assert early.background.suvmean == pytest.approx(0.08, abs=0.006)
    assert late.background.suvmean == pytest.approx(0.08, abs=0.006)
    assert late.extra["timepoint"] == {**late.extra["timepoint"], "index": 1, "reference": 0}
    assert late.extra["timepoint"]["registration"]["rotation_deg"] == pytest.approx(
        np.degrees(np.arccos((np.trace(rotation(-3, 2, 3)) - 1) / 2)), abs=0.5)
    # the late lesion circle sits on the same anatomy as the early one
    lesion60 = np.linalg.inv(p2m60) @ p2m30 @ np.append(early.lesion.centre_lps_mm, 1.0)
    assert np.linalg.norm(np.array(late.lesion.centre_lps_mm) - lesion60[:3]) < 2.5 * 3 ** 0.5


def test_without_registration_the_rois_are_copied_by_position(scans):
    (pet30, ct, _), _ = scans
    # the same scan twice (same frame of reference, no movement), one at 1.15 x the activity:
    # every SUV statistic scales by 1.15 and the ROIs are identical
    scaled = pet30.with_array(pet30.array * 1.15)
    a, b = measure_timepoints([pet30, scaled], ct=ct, register=False, template=load_mni152(2))
    assert b.lesion.centre_ijk == a.lesion.centre_ijk
    np.testing.assert_allclose(b.background.centre_ijk, a.background.centre_ijk, atol=1e-9)  # via LPS and back
    assert b.suvmax == pytest.approx(1.15 * a.suvmax, rel=1e-5)
    assert b.background.suvmean == pytest.approx(1.15 * a.background.suvmean, rel=1e-5)
    assert b.tbr.max_to_bg_max == pytest.approx(a.tbr.max_to_bg_max, rel=1e-5)


def test_reference_out_of_range_is_an_error(scans):
    (pet30, _, _), _ = scans
    with pytest.raises(MeasurementError, match="reference time point 3"):
        measure_timepoints([pet30], reference=3)


def test_cli_timepoint_option(scans, tmp_path):
    # gliopet measure PET30 --ct CT --timepoint PET60: the PET given first (whose CT it is) is the reference
    import json

    from click.testing import CliRunner

    from gliopet.cli import main
    from gliopet.io.nifti import write_nifti

    (pet30, ct, _), (pet60, _, _) = scans
    for name, volume in (("pet30.nii.gz", pet30), ("pet60.nii.gz", pet60), ("ct.nii.gz", ct)):
        write_nifti(volume, tmp_path / name)
    result = CliRunner().invoke(main, ["measure", str(tmp_path / "pet30.nii.gz"), "--ct", str(tmp_path / "ct.nii.gz"),
                                       "--timepoint", str(tmp_path / "pet60.nii.gz"), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["suvmax"] == pytest.approx(5.53, rel=1e-6)
    (late,) = record["timepoints"]
    assert late["pet"].endswith("pet60.nii.gz")
    assert record["pet"].endswith("pet30.nii.gz") and record["inputs"]["pet"] == record["pet"]
    assert [Path(p).name for p in record["inputs"]["timepoints"]] == ["pet60.nii.gz"]
    assert record["inputs"]["primary_time_min"] is None  # no target: the first PET given is the reference
    assert late["suvmax"] == pytest.approx(6.36, rel=1e-6)
    assert late["timepoint"]["index"] == 1 and late["timepoint"]["reference"] == 0
