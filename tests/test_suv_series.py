"""Series integrity for SUV (issue 16): one set of SUV inputs per series (rule 3), duplicate
instances (rule 7). Written with pydicom, read back by gliopet; every refusal is one line naming the
file and the attribute, exit 2, without patient identifiers."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pydicom
import pytest

from dicom_factory import add_private, pet_header, radiopharmaceutical, write_series
from gliopet.errors import DicomError, SuvError
from gliopet.inspect import inspect_tree
from gliopet.io.suv_inputs import read_suv_series, suv_report_for_series

GA68_S = 4062.6
IDENTIFIERS = ("TEST^PHANTOM", "PHANTOM-0001")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "gliopet.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def stored(shape=(3, 4, 4)):
    return np.full(shape, 1000, dtype=np.int16)


def assert_one_line_exit_2(out, *needles):
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    for needle in needles:
        assert needle in lines[0]
    for identifier in IDENTIFIERS:
        assert identifier not in out.stderr


# ------------------------------------------------------------ rule 3: one series, one set of SUV inputs


@pytest.mark.parametrize("attribute, second", [
    ("(0054,1001) Units", {"Units": "CNTS"}),
    ("(0054,1102) DecayCorrection", {"DecayCorrection": "ADMIN"}),
    ("(0028,0051) CorrectedImage", {"CorrectedImage": ["ATTN", "DECY", "SCAT"]}),
    ("(0010,1030) PatientWeight", {"PatientWeight": 72.0}),
    ("(0010,1020) PatientSize", {"PatientSize": 1.80}),
    ("(0010,0040) PatientSex", {"PatientSex": "F"}),
    ("(0018,1074) RadionuclideTotalDose", {"RadiopharmaceuticalInformationSequence": radiopharmaceutical(
        dose_bq=160e6, half_life_s=GA68_S, start_time="090000")}),
    ("(0018,1075) RadionuclideHalfLife", {"RadiopharmaceuticalInformationSequence": radiopharmaceutical(
        dose_bq=150e6, half_life_s=6586.2, start_time="090000")}),
    ("(0018,1072) RadiopharmaceuticalStartTime", {"RadiopharmaceuticalInformationSequence": radiopharmaceutical(
        dose_bq=150e6, half_life_s=GA68_S, start_time="091000")}),
])
def test_instances_that_disagree_on_an_suv_input_are_refused_naming_two_files(tmp_path, attribute, second):
    paths = write_series(tmp_path, stored(), header=pet_header(), per_slice=[{}, second, {}])
    with pytest.raises(SuvError) as info:
        suv_report_for_series(tmp_path)
    message = str(info.value)
    assert f"{attribute} differs between instances of one series" in message
    assert str(paths[0]) in message and str(paths[1]) in message
    out = run_cli("suv", tmp_path, "--json")
    assert_one_line_exit_2(out, attribute, str(paths[1]))


def test_philips_private_factors_must_agree_between_instances(tmp_path):
    paths = write_series(tmp_path, stored(), header=pet_header(units="CNTS"))
    for path, value in zip(paths, ["0.0011", "0.0012", "0.0011"]):
        ds = pydicom.dcmread(path)
        add_private(ds, 0x7053, "Philips PET Private Group", 0x00, "DS", value)
        ds.save_as(path)
    with pytest.raises(SuvError, match=r"\(7053,1000\) Philips private SUV scale factor differs .* 0\.0011 in "
                                       r".*slice_0000\.dcm, 0\.0012 in .*slice_0001\.dcm"):
        suv_report_for_series(tmp_path)


def test_per_slice_rescale_and_acquisition_times_stay_allowed(tmp_path):
    # Slopes 0.5, 1, 2 and acquisition times 10:00:00, 10:00:10, 10:00:20 (series 10:00, injection 09:00):
    # one factor, 70 kg / (150 MBq x 2^(-3600 / 4062.6)).
    write_series(tmp_path, stored(), slopes=[0.5, 1.0, 2.0], header=pet_header(),
                 per_slice=[{"AcquisitionTime": t} for t in ("100000", "100010", "100020")])
    report = suv_report_for_series(tmp_path)
    assert report["factor"] == pytest.approx(70_000 / (150e6 * 2 ** (-3600 / GA68_S)), rel=1e-12)


# ------------------------------------------------------------ rule 7: duplicate instances


def _duplicate(tmp_path, *, identical):
    paths = write_series(tmp_path, stored(), header=pet_header())
    copy = tmp_path / "zz_copy.dcm"
    shutil.copyfile(paths[1], copy)
    if not identical:
        ds = pydicom.dcmread(copy)
        ds.PixelData = np.full((4, 4), 999, "<i2").tobytes()
        ds.save_as(copy)
    return paths, copy


def test_byte_identical_duplicate_is_reported_and_used_once(tmp_path):
    paths, copy = _duplicate(tmp_path, identical=True)
    report = suv_report_for_series(tmp_path)
    assert report["duplicates"] == [{"sop_instance_uid": str(pydicom.dcmread(copy).SOPInstanceUID),
                                     "kept": str(paths[1]), "dropped": str(copy), "byte_identical": True}]
    assert report["series"]["n_slices"] == 3
    assert any("duplicates" in w and "byte-identical" in w for w in report["warnings"])
    series = read_suv_series(tmp_path)  # what measure reads: one instance used, with the warning
    assert series.volume.shape == (3, 4, 4)
    assert any("SOPInstanceUID" in w for w in series.result.warnings)
    entry = inspect_tree(tmp_path)["studies"][0]["series"][0]
    assert entry["duplicates"][0]["byte_identical"] is True


def test_different_duplicate_is_reported_by_inspect_and_suv_refused_by_measure(tmp_path):
    paths, copy = _duplicate(tmp_path, identical=False)
    report = suv_report_for_series(tmp_path)
    assert report["duplicates"][0]["byte_identical"] is False
    assert any("NOT byte-identical" in w for w in report["warnings"])
    entry = inspect_tree(tmp_path)["studies"][0]["series"][0]
    assert entry["readable"] and entry["duplicates"][0]["dropped"] == str(copy)
    with pytest.raises(DicomError, match=r"\(0008,0018\) SOPInstanceUID is also that of"):
        read_suv_series(tmp_path)
    out = run_cli("measure", tmp_path, "--lesion", "-97,-117,-47", "--background", "-95,-115,-47", "--json")
    assert_one_line_exit_2(out, "(0008,0018) SOPInstanceUID", str(copy), str(paths[1]))
    out = run_cli("inspect", tmp_path)
    assert out.returncode == 0 and "NOT byte-identical: measure refuses" in out.stdout
    assert json.loads(run_cli("suv", tmp_path, "--json").stdout)["duplicates"][0]["byte_identical"] is False
