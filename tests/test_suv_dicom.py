"""SUV from real DICOM headers: Siemens-, GE- and Philips-like series, the CLI's JSON contract."""

import json
import subprocess
import sys

import numpy as np
import pydicom
import pytest

from dicom_factory import add_private, pet_header, write_series
from gliopet.errors import SuvError
from gliopet.io.suv_inputs import read_suv_volume, suv_report_for_series

GA68_S = 4062.6
F18_S = 6586.2


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "gliopet.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def stored(shape=(3, 4, 4)):
    return np.full(shape, 1000, dtype=np.int16)


def test_siemens_like_bqml_start(tmp_path):
    # 75 kg, 160 MBq 68Ga at 08:55:00, series at 09:55:00 -> 3600 s.
    write_series(tmp_path, stored(), slopes=0.5,
                 header=pet_header(weight=75.0, dose_bq=160e6, start_time="085500", series_time="095500",
                                   acq_time="095500"))
    factor = 75_000 / (160e6 * 2 ** (-3600 / GA68_S))
    report = suv_report_for_series(tmp_path)
    assert report["factor"] == pytest.approx(factor, rel=1e-12)
    vol = read_suv_volume(tmp_path)
    # stored 1000 x slope 0.5 = 500 Bq/mL
    np.testing.assert_allclose(vol.array, 500 * factor, rtol=1e-6)
    assert vol.provenance["units"] == "g/mL"


def test_ge_like_series_time_reset_uses_private_scan_time(tmp_path):
    # GE: SeriesTime reset to 10:20 after the acquisition at 10:00; private (0009,100D) scan start 10:00.
    paths = write_series(tmp_path, stored(), header={
        **pet_header(half_life_s=F18_S, start_time="090000", series_time="102000", acq_time="100500"),
        "Manufacturer": "GE MEDICAL SYSTEMS"})
    for path in paths:
        ds = pydicom.dcmread(path)
        add_private(ds, 0x0009, "GEMS_PETD_01", 0x0D, "DT", "20240115100000")
        ds.save_as(path)
    report = suv_report_for_series(tmp_path)
    assert report["reference_rule"] == "ge_private"
    assert report["factor"] == pytest.approx(70_000 / (150e6 * 2 ** (-3600 / F18_S)), rel=1e-12)
    assert "GEMS_PETD_01" in report["inputs"]["scan_reference_datetime"]["source"]


def test_philips_like_cnts_with_private_suv_factor(tmp_path):
    # (7053,1000) multiplies the rescaled counts; it is one per series (issue 16 rule 3:
    # tests/test_suv_series.py refuses instances that disagree on it), while RescaleSlope varies.
    paths = write_series(tmp_path, stored(), slopes=[0.5, 1.0, 2.0],
                         header={**pet_header(units="CNTS"), "Manufacturer": "Philips Medical Systems"})
    for path in paths:
        ds = pydicom.dcmread(path)
        add_private(ds, 0x7053, "Philips PET Private Group", 0x00, "DS", "0.0012")
        add_private(ds, 0x7053, "Philips PET Private Group", 0x09, "DS", "2.0")
        ds.save_as(path)
    report = suv_report_for_series(tmp_path)
    assert report["factor"] == pytest.approx(0.0012, rel=1e-12)
    vol = read_suv_volume(tmp_path)
    # stored 1000 x slopes 0.5, 1, 2 counts x 0.0012
    np.testing.assert_allclose(vol.array[:, 0, 0], [1000 * s * 0.0012 for s in (0.5, 1.0, 2.0)], rtol=1e-6)


def test_philips_like_cnts_activity_factor_only(tmp_path):
    paths = write_series(tmp_path, stored(), header=pet_header(units="CNTS"))
    for path in paths:
        ds = pydicom.dcmread(path)
        add_private(ds, 0x7053, "Philips PET Private Group", 0x09, "DS", "3.5")
        ds.save_as(path)
    expected = 3.5 * 70_000 / (150e6 * 2 ** (-3600 / GA68_S))
    assert suv_report_for_series(tmp_path)["factor"] == pytest.approx(expected, rel=1e-12)


def test_three_flavours_give_the_same_suv(tmp_path):
    # Same activity (1000 Bq/mL) written three ways must give the same SUV.
    bqml = 70_000 / (150e6 * 2 ** (-3600 / GA68_S))
    write_series(tmp_path / "siemens", stored(), header=pet_header(), seed="s")
    ge = write_series(tmp_path / "ge", stored(), seed="g",
                      header={**pet_header(series_time="103000"), "Manufacturer": "GE MEDICAL SYSTEMS"})
    for path in ge:
        ds = pydicom.dcmread(path)
        add_private(ds, 0x0009, "GEMS_PETD_01", 0x0D, "DT", "20240115100000")
        ds.save_as(path)
    philips = write_series(tmp_path / "philips", np.full((3, 4, 4), 400, np.int16), seed="p",
                           header=pet_header(units="CNTS"))
    for path in philips:
        ds = pydicom.dcmread(path)
        add_private(ds, 0x7053, "Philips PET Private Group", 0x09, "DS", "2.5")  # 400 counts x 2.5 = 1000 Bq/mL
        ds.save_as(path)
    values = [float(read_suv_volume(tmp_path / name).array.mean()) for name in ("siemens", "ge", "philips")]
    assert values == pytest.approx([1000 * bqml] * 3, rel=1e-6)


def test_suv_json_keys_scripts_rely_on(tmp_path):
    write_series(tmp_path, stored(), header=pet_header())
    out = run_cli("suv", tmp_path, "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert {"factor", "factors", "units", "inputs", "warnings"} <= set(report)
    assert set(report["factors"]) == {"bw", "lbm_janmahasatian", "bsa", "ibw"}
    for name in ("weight", "injected_activity", "half_life", "injection_datetime", "scan_reference_datetime"):
        assert {"value", "unit", "source"} <= set(report["inputs"][name])
    assert report["inputs"]["weight"]["source"] == "(0010,1030) PatientWeight"
    assert report["factor"] == pytest.approx(70_000 / (150e6 * 2 ** (-3600 / GA68_S)), rel=1e-12)


def test_suv_text_output(tmp_path):
    write_series(tmp_path, stored(), header=pet_header())
    out = run_cli("suv", tmp_path)
    assert out.returncode == 0
    assert "(0010,1030) PatientWeight" in out.stdout
    assert "SUVbw factor" in out.stdout


@pytest.mark.parametrize("drop, attribute", [
    ("PatientWeight", "(0010,1030) PatientWeight"),
    ("Units", "(0054,1001) Units"),
    ("DecayCorrection", "(0054,1102) DecayCorrection"),
])
def test_missing_attribute_exit_2_naming_file_and_attribute(tmp_path, drop, attribute):
    header = pet_header()
    del header[drop]
    write_series(tmp_path, stored(), header=header)
    out = run_cli("suv", tmp_path)
    assert out.returncode == 2
    line = out.stderr.strip()
    assert "\n" not in line
    assert attribute in line and "slice_0000.dcm" in line


def test_missing_dose_and_half_life_in_sequence(tmp_path):
    write_series(tmp_path, stored(), header=pet_header(dose_bq=None))
    with pytest.raises(SuvError, match=r"slice_0000\.dcm: \(0018,1074\) RadionuclideTotalDose is missing"):
        suv_report_for_series(tmp_path)


def test_ct_series_is_not_a_pet(tmp_path):
    write_series(tmp_path, stored(), modality="CT")
    out = run_cli("suv", tmp_path / "slice_0000.dcm")
    assert out.returncode == 2
    assert "(0008,0060) Modality" in out.stderr
