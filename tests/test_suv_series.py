"""Series integrity for SUV (issue 16): one set of SUV inputs per series (rule 3), duplicate
instances (rule 7). Written with pydicom, read back by gliopet; every refusal is one line naming the
file and the attribute, exit 2, without patient identifiers."""

import json
import math
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


# ------------------------------------------------------------ rule 8: dynamic series


def _dynamic(tmp_path, *, decay="START", shape=(3, 16, 16)):
    """Four 5-min frames at 16, 21, 26, 31 min after a 09:00 injection of 150 MBq 68Ga, 1000, 2000,
    3000, 4000 Bq/mL; SeriesTime 09:16 (the first frame's start, the decay reference)."""
    lam = math.log(2) / GA68_S
    t_avg = math.log(lam * 300 / (1 - math.exp(-lam * 300))) / lam
    for frame in range(4):
        start_s = (16 + 5 * frame) * 60
        header = {**pet_header(decay=decay, series_time="091600", acq_time=f"09{16 + 5 * frame:02d}00"),
                  "SeriesType": ["DYNAMIC", "IMAGE"], "ActualFrameDuration": 300_000, "NumberOfSlices": shape[0],
                  "FrameReferenceTime": f"{(start_s - 960 + t_avg) * 1000:.1f}"}
        paths = write_series(tmp_path, np.full(shape, 1000 * (frame + 1), np.int16), header=header, seed="dyn",
                             names=[f"f{frame}_s{k}.dcm" for k in range(shape[0])],
                             per_slice=[{"ImageIndex": frame * shape[0] + k + 1} for k in range(shape[0])])
        for path in paths:  # one SOPInstanceUID per instance
            ds = pydicom.dcmread(path)
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
            ds.save_as(path)
    return tmp_path


def test_dynamic_series_inspect_gives_each_frame_in_minutes_after_injection(tmp_path):
    # ADMIN: the decay reference is the injection; the frames still read 16, 21, 26, 31 min p.i.
    entry = inspect_tree(_dynamic(tmp_path, decay="ADMIN"))["studies"][0]["series"][0]
    assert entry["series_type"] == "DYNAMIC" and entry["n_frames"] == 4
    assert entry["frames"] == [{"start_min_pi": 16.0 + 5 * i, "duration_min": 5.0} for i in range(4)]
    assert entry["suv"]["minutes_post_injection"] == 16.0
    out = run_cli("inspect", tmp_path)
    assert "DYNAMIC series: 4 frames" in out.stdout and "--frames" in out.stdout


def test_dynamic_series_suv_gives_the_factor_per_frame(tmp_path):
    # DecayCorrection START to the series time 09:16 = 960 s after injection: one factor for every frame.
    factor = 70_000 / (150e6 * 2 ** (-960 / GA68_S))
    report = suv_report_for_series(_dynamic(tmp_path))
    assert report["series_type"] == "DYNAMIC" and report["n_frames"] == 4
    assert [f["start_min_pi"] for f in report["frames"]] == [16.0, 21.0, 26.0, 31.0]
    assert all(f["factor"] == pytest.approx(factor, rel=1e-12) for f in report["frames"])
    assert report["factor"] == pytest.approx(factor, rel=1e-12)
    assert report["reference_rule"] == "series"


def test_dynamic_frames_summed_duration_weighted(tmp_path):
    from gliopet.io.suv_inputs import read_suv_frames

    factor = 70_000 / (150e6 * 2 ** (-960 / GA68_S))
    _dynamic(tmp_path)
    # 21-31 min: frames 21-26 (2000 Bq/mL) and 26-31 (3000): (300 x 2000 + 300 x 3000) / 600 = 2500.
    series = read_suv_frames(tmp_path, start_min=21, end_min=31)
    np.testing.assert_allclose(series.volume.array, 2500 * factor, rtol=1e-6)
    assert series.result.inputs["frames"].value["summed_min_pi"] == [21.0, 31.0]
    # 20-40 min: the frames inside are 21-26, 26-31, 31-36: (2000 + 3000 + 4000) / 3 = 3000, with a warning.
    series = read_suv_frames(tmp_path, start_min=20, end_min=40)
    np.testing.assert_allclose(series.volume.array, 3000 * factor, rtol=1e-6)
    assert any("cover 21-36 min" in w for w in series.result.warnings)
    with pytest.raises(Exception, match="no frame .* lies within 0-10 min"):
        read_suv_frames(tmp_path, start_min=0, end_min=10)


def test_measure_on_a_dynamic_series_asks_for_frames(tmp_path):
    _dynamic(tmp_path)
    out = run_cli("measure", tmp_path, "--lesion", "-90,-110,-47", "--background", "-80,-100,-47")
    assert_one_line_exit_2(out, "(0054,1000) SeriesType DYNAMIC", "--frames")
    out = run_cli("measure", tmp_path, "--frames", "21-31", "--lesion", "-90,-110,-47", "--background",
                  "-80,-100,-47", "--json")
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    factor = 70_000 / (150e6 * 2 ** (-960 / GA68_S))
    assert record["suvmax"] == pytest.approx(2500 * factor, rel=1e-6)
    assert record["inputs"]["frames"] == [21.0, 31.0]
    # 3 slices of 3 mm: the 12.4 mm SUVpeak sphere does not fit (rule 9).
    assert record["suvpeak"] is None and any("SUVpeak not computed" in w for w in record["warnings"])


# ------------------------------------------------------------ rule 6: inspect reports a half-life in minutes


@pytest.mark.parametrize("named, computable", [(False, False), (True, True)])
def test_inspect_reports_a_half_life_in_minutes_either_way(tmp_path, named, computable):
    # 67.71 = the 68Ga half-life in minutes; converted (4062.6 s) only when the series names 68Ga.
    rp = radiopharmaceutical(dose_bq=150e6, half_life_s=67.71, start_time="090000")
    if named:
        code = pydicom.Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "35337001", "SCT", "^68^Gallium"
        rp[0].RadionuclideCodeSequence = pydicom.Sequence([code])
    write_series(tmp_path, stored(), header={**pet_header(), "RadiopharmaceuticalInformationSequence": rp})
    suv = inspect_tree(tmp_path)["studies"][0]["series"][0]["suv"]
    assert suv["computable"] is computable
    if computable:
        assert any("RadionuclideHalfLife 67.71 is Ga-68's half-life in minutes" in w for w in suv["warnings"])
        assert suv["factor"] == pytest.approx(70_000 / (150e6 * 2 ** (-3600 / (67.71 * 60))), rel=1e-12)
    else:
        assert "(0018,1075) RadionuclideHalfLife 67.71 s is plausible only in minutes" in suv["error"]
