"""The simulation's DICOM writer: PET (three vendor flavours), CT and MR, read back for real."""

import hashlib
import math
import shutil
import subprocess
from datetime import datetime

import numpy as np
import pydicom
import pytest

from gliopet.io import read_series, read_suv_volume
from gliopet.simulate.dicom_writer import (PHILIPS_BQML_PER_COUNT, PatientInfo, PetSeriesInfo, StudyInfo,
                                           deterministic_uid, write_ct_series, write_mr_series,
                                           write_pet_series)
from gliopet.simulate.pose import rotation_matrix
from gliopet.volume import Volume

INJECTION = datetime(2021, 3, 4, 9, 0, 0)
SCAN = datetime(2021, 3, 4, 10, 0, 0)  # 60 min p.i.
DOSE_BQ = 150e6
WEIGHT_KG = 70.0
HALF_LIFE_S = 4062.6


def _affine(rotated=False):
    a = np.eye(4)
    a[:3, :3] = np.diag([2.0, 2.0, 3.0])
    if rotated:
        a[:3, :3] = rotation_matrix((10.0, -5.0, 20.0)) @ a[:3, :3]
    a[:3, 3] = (-11.0, -9.0, -5.0)
    return a


def _pet_volume(rotated=False):
    rng = np.random.default_rng(0)
    array = (rng.random((4, 10, 12)) * 5000.0).astype(np.float32)
    array[2] *= 0.01  # a slice with a very different range: per-slice slopes matter
    return Volume(array, _affine(rotated))


PATIENT = PatientInfo(name="SIM^PATIENT001", patient_id="SIM001", birth_date="19680101", sex="F",
                      age_years=53, weight_kg=WEIGHT_KG, height_m=1.68)
STUDY = StudyInfo(study_uid=deterministic_uid("study"), frame_of_reference_uid=deterministic_uid("for"),
                  study_datetime=datetime(2021, 3, 4, 9, 50), accession_number="SIMACC001", study_id="1")
SERIES = PetSeriesInfo(series_uid=deterministic_uid("pet"), series_number=3, description="PET Brain 60 min",
                       scan_start=SCAN, injection=INJECTION, frame_duration_s=600.0, injected_bq=DOSE_BQ,
                       half_life_s=HALF_LIFE_S, radiopharmaceutical="68Ga-Pentixafor",
                       nuclide_code=("35337001", "SCT", "^68^Gallium"), positron_fraction=0.889)


def _write(tmp_path, flavour, volume=None):
    out = tmp_path / flavour
    out.mkdir()
    write_pet_series(volume or _pet_volume(), out, patient=PATIENT, study=STUDY, series=SERIES, flavour=flavour)
    return out


@pytest.mark.parametrize("flavour, manufacturer, units", [
    ("siemens", "SIEMENS", "BQML"), ("ge", "GE MEDICAL SYSTEMS", "BQML"),
    ("philips", "Philips Medical Systems", "CNTS")])
def test_pet_header_has_everything_suv_needs(tmp_path, flavour, manufacturer, units):
    out = _write(tmp_path, flavour)
    files = sorted(out.glob("*.dcm"))
    assert len(files) == 4
    ds = pydicom.dcmread(files[0])
    assert ds.file_meta.MediaStorageSOPClassUID == "1.2.840.10008.5.1.4.1.1.128"
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.128"
    assert ds.Manufacturer == manufacturer and ds.Units == units and ds.DecayCorrection == "START"
    assert "ATTN" in ds.CorrectedImage and "DECY" in ds.CorrectedImage
    assert (ds.SeriesDate, ds.SeriesTime[:6]) == ("20210304", "100000")
    assert (ds.AcquisitionDate, ds.AcquisitionTime[:6]) == ("20210304", "100000")
    # FrameReferenceTime: the frame's average count-rate time after its start (the series time), IBSI
    # t_avg = ln(lambda T / (1 - exp(-lambda T))) / lambda, T = 600 s, as scanners write it (issue 16).
    lam = math.log(2) / HALF_LIFE_S
    t_avg_ms = 1000 * math.log(lam * 600 / (1 - math.exp(-lam * 600))) / lam
    assert float(ds.FrameReferenceTime) == pytest.approx(t_avg_ms, abs=0.05) and int(ds.ActualFrameDuration) == 600_000
    assert float(ds.PatientWeight) == 70.0 and float(ds.PatientSize) == 1.68 and ds.PatientSex == "F"
    rp = ds.RadiopharmaceuticalInformationSequence[0]
    assert float(rp.RadionuclideTotalDose) == 150e6  # Bq
    assert float(rp.RadionuclideHalfLife) == 4062.6  # s
    assert rp.RadiopharmaceuticalStartTime[:6] == "090000"
    assert rp.RadiopharmaceuticalStartDateTime[:14] == "20210304090000"
    code = rp.RadionuclideCodeSequence[0]
    assert (code.CodeValue, code.CodingSchemeDesignator) == ("35337001", "SCT")
    assert rp.Radiopharmaceutical == "68Ga-Pentixafor"
    assert ds.pixel_array.dtype == np.int16 and ds.RescaleIntercept == 0
    assert ds.FrameOfReferenceUID == STUDY.frame_of_reference_uid
    assert str(ds.PatientName).startswith("SIM^")


def test_ge_and_philips_private_tags(tmp_path):
    ge = pydicom.dcmread(sorted(_write(tmp_path, "ge").glob("*.dcm"))[0])
    block = ge.private_block(0x0009, "GEMS_PETD_01")
    assert block[0x0D].value[:14] == "20210304100000"  # scan start
    assert block[0x3B].value[:14] == "20210304090000"  # tracer administration
    ph = pydicom.dcmread(sorted(_write(tmp_path, "philips").glob("*.dcm"))[0])
    block = ph.private_block(0x7053, "Philips PET Private Group")
    assert float(block[0x09].value) == PHILIPS_BQML_PER_COUNT
    # SUV scale factor = Bq/mL per count x weight [g] / dose decayed to scan start [Bq]
    expected = PHILIPS_BQML_PER_COUNT * 70_000 / (150e6 * 2 ** (-3600 / 4062.6))
    assert float(block[0x00].value) == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("rotated", [False, True])
def test_read_back_gives_the_activity_within_int16_quantisation(tmp_path, rotated):
    volume = _pet_volume(rotated)
    out = _write(tmp_path, "siemens", volume)
    back = read_series(out)
    assert np.allclose(back.affine, volume.affine, atol=1e-4)
    for k in range(4):
        # half a quantisation step: slice max / 32767 / 2
        step = float(volume.array[k].max()) / 32767
        assert np.max(np.abs(back.array[k] - volume.array[k])) <= step / 2 + 1e-6 * step


def test_three_flavours_give_the_same_suv(tmp_path):
    volume = _pet_volume()
    suv = {f: read_suv_volume(_write(tmp_path, f, volume)).array for f in ("siemens", "ge", "philips")}
    # SUVbw = C x weight [g] / (dose x 2^(-t/T1/2)), t = 3600 s
    factor = 70_000 / (150e6 * 2 ** (-3600 / 4062.6))
    expected = volume.array.astype(np.float64) * factor
    for f, arr in suv.items():
        step = volume.array.max(axis=(1, 2))[:, None, None] / 32767 * factor
        assert np.all(np.abs(arr - expected) <= step), f
    hot = expected > 0.1 * expected.max()
    for f in ("ge", "philips"):
        assert np.allclose(suv[f][hot], suv["siemens"][hot], rtol=1e-3)


def test_ct_round_trip_in_hu(tmp_path):
    hu = np.array([-1000, -1024, 0, 40, 1000, 1800], dtype=np.float32)
    array = np.resize(hu, (3, 6, 6)).astype(np.float32)
    volume = Volume(array, _affine())
    out = tmp_path / "ct"
    out.mkdir()
    write_ct_series(volume, out, patient=PATIENT, study=STUDY, series_uid=deterministic_uid("ct"),
                    series_number=2, acquisition=datetime(2021, 3, 4, 9, 58))
    ds = pydicom.dcmread(sorted(out.glob("*.dcm"))[0])
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2"
    assert ds.RescaleIntercept == -1024 and ds.RescaleSlope == 1 and ds.pixel_array.dtype == np.int16
    # stored value = HU + 1024: air 24, water 1024
    assert int(ds.pixel_array[0, 0]) == -1000 + 1024 and int(ds.pixel_array[0, 2]) == 1024
    assert np.array_equal(read_series(out).array, array)


def test_deterministic_uids():
    assert deterministic_uid("a", "b") == deterministic_uid("a", "b")
    assert deterministic_uid("a", "b") != deterministic_uid("a", "c")
    uid = deterministic_uid("x")
    assert uid.startswith("2.25.") and len(uid) <= 64


def test_same_input_writes_byte_identical_files_and_no_temporaries(tmp_path):
    digests = []
    for name in ("one", "two"):
        out = tmp_path / name
        out.mkdir()
        write_pet_series(_pet_volume(), out, patient=PATIENT, study=STUDY, series=SERIES, flavour="ge")
        assert not list(out.glob(".tmp-*"))
        digests.append([hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())])
    assert digests[0] == digests[1]


def test_every_series_passes_dciodvfy(tmp_path):
    # dciodvfy is David Clunie's DICOM validator (Debian package dicom3tools).
    assert shutil.which("dciodvfy"), "dciodvfy not installed: apt-get install dicom3tools"
    dirs = [_write(tmp_path, f) for f in ("siemens", "ge", "philips")]
    ct = tmp_path / "ct"
    ct.mkdir()
    write_ct_series(Volume(np.zeros((2, 6, 6), np.float32), _affine()), ct, patient=PATIENT, study=STUDY,
                    series_uid=deterministic_uid("ct"), series_number=2, acquisition=SCAN)
    mr = tmp_path / "mr"
    mr.mkdir()
    write_mr_series(Volume(np.ones((2, 6, 6), np.float32), _affine()), mr, patient=PATIENT, study=STUDY,
                    series_uid=deterministic_uid("mr"), series_number=4, acquisition=SCAN,
                    description="T1", repetition_time_ms=1860, echo_time_ms=4.38)
    for folder in (*dirs, ct, mr):
        for path in sorted(folder.glob("*.dcm")):
            out = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
            report = out.stdout + out.stderr
            assert "Error" not in report, f"{path}: {report}"
