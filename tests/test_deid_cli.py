"""`gliopet deid` end to end: SUV and measurements unchanged, UIDs consistent, runs reproducible, bad input.

The input is written by the simulator's DICOM writer (gliopet.simulate), one PET
series per vendor flavour (Siemens, GE with its private block, Philips with its
private scale factors), a PET injected before and scanned after midnight, and a
CT of the Siemens patient's study; one PET slice refers to a CT slice in its
Source Image Sequence.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import stat
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from gliopet.simulate import PatientInfo, PetSeriesInfo, StudyInfo, deterministic_uid, write_ct_series, \
    write_pet_series
from gliopet.volume import Volume

# (folder, flavour, injection, scan start): the last one crosses midnight into a leap day
SERIES = [
    ("siemens", "siemens", datetime(2024, 3, 1, 10, 0), datetime(2024, 3, 1, 11, 0)),
    ("ge", "ge", datetime(2024, 3, 2, 9, 30), datetime(2024, 3, 2, 10, 31, 15)),
    ("philips", "philips", datetime(2024, 3, 3, 14, 5), datetime(2024, 3, 3, 15, 0)),
    ("midnight", "siemens", datetime(2024, 2, 28, 23, 40), datetime(2024, 2, 29, 0, 35)),
]
LESION_LPS = "0,0,0"
BACKGROUND_LPS = "10,10,0"
MEASURED = ("suvmax", "suvmean_1cm", "suvpeak", "bg_suvmax", "bg_suvmean", "tbr_max_to_bg_max",
            "tbr_max_to_bg_mean", "tbr_mean_to_bg_mean")


def gliopet(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gliopet.cli", *args], capture_output=True, text=True,
                          timeout=300)


def _volume(seed: int) -> Volume:
    rng = np.random.default_rng(seed)
    affine = np.diag([2.0, 2.0, 3.0, 1.0])
    affine[:3, 3] = [-24.0, -24.0, -9.0]
    return Volume(rng.uniform(1000.0, 20000.0, size=(6, 24, 24)), affine)


def _write_input(root: Path) -> None:
    for n, (folder, flavour, injection, scan) in enumerate(SERIES):
        patient = PatientInfo(name=f"DOE^{folder.upper()}", patient_id=f"PID-{folder}", birth_date="19600101",
                              sex="F", age_years=64, weight_kg=71.3 + n, height_m=1.68)
        study = StudyInfo(study_uid=deterministic_uid(folder, "study"),
                          frame_of_reference_uid=deterministic_uid(folder, "for"), study_datetime=injection,
                          accession_number=f"ACC{n}", study_id="1")
        series = PetSeriesInfo(series_uid=deterministic_uid(folder, "pet"), series_number=2, description="PET",
                               scan_start=scan, injection=injection, frame_duration_s=600.0, injected_bq=2.0e8,
                               half_life_s=4057.7, radiopharmaceutical="Pentixafor",
                               nuclide_code=("C-131A3", "SRT", "^68^Gallium"), positron_fraction=0.889)
        (root / folder / "pet").mkdir(parents=True)
        write_pet_series(_volume(n), root / folder / "pet", patient=patient, study=study, series=series,
                         flavour=flavour)
        if folder == "siemens":
            (root / folder / "ct").mkdir()
            ct = write_ct_series(_volume(10), root / folder / "ct", patient=patient, study=study,
                                 series_uid=deterministic_uid(folder, "ct"), series_number=1, acquisition=scan)
            ref = pydicom.dcmread(ct[2])
            pet_path = root / folder / "pet" / "IM000003.dcm"
            pet = pydicom.dcmread(pet_path)
            item = Dataset()
            item.ReferencedSOPClassUID = ref.SOPClassUID
            item.ReferencedSOPInstanceUID = ref.SOPInstanceUID
            pet.SourceImageSequence = Sequence([item])
            pet.save_as(pet_path, enforce_file_format=True)


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("deid")
    src = base / "in"
    _write_input(src)
    before = _snapshot(src)
    outs = {}
    # key-a is created by the first run (a random key, as a user's first run makes it); key-b is fixed here, so
    # what is asserted of one key's shifts does not depend on chance.
    (base / "key-b").write_text("5e" * 32 + "\n", encoding="ascii")
    for name, key in (("a", "key-a"), ("b", "key-a"), ("other", "key-b")):
        out = base / f"out-{name}"
        out.mkdir()
        result = gliopet("deid", str(src), str(out), "--key-file", str(base / key), "--workers", "2")
        assert result.returncode == 0, result.stderr
        outs[name] = (out, result)
    return dict(base=base, src=src, before=before, outs=outs)


def _by_pixels(out: Path) -> dict[bytes, Path]:
    """Output folder of each series, found by its first slice's pixels (unchanged by de-identification)."""
    found = {}
    for path in out.rglob("*.dcm"):
        ds = pydicom.dcmread(path)
        if ds.InstanceNumber == 1:
            found[ds.PixelData] = path.parent
    return found


def _output_folder(runs, folder: str, sub: str = "pet", run: str = "a") -> Path:
    first = pydicom.dcmread(runs["src"] / folder / sub / "IM000001.dcm")
    return _by_pixels(runs["outs"][run][0])[first.PixelData]


def _headers(folder: Path) -> list[Dataset]:
    return sorted((pydicom.dcmread(p) for p in folder.glob("*.dcm")), key=lambda d: int(d.InstanceNumber))


def _map(key_file: Path) -> dict[str, tuple[str, int]]:
    with Path(str(key_file) + ".patients.csv").open(newline="") as handle:
        return {r["original_patient_id"]: (r["pseudonymous_patient_id"], int(r["date_shift_days"]))
                for r in csv.DictReader(handle)}


def test_the_run_reports_its_count_and_leaves_the_input_untouched(runs):
    out, result = runs["outs"]["a"]
    n_files = 4 * 6 + 6
    assert result.stdout.splitlines()[0].startswith(f"{n_files} file(s) de-identified into {out}; 0 quarantined")
    assert len(list(out.rglob("*.dcm"))) == n_files
    assert _snapshot(runs["src"]) == runs["before"]
    for name in ("PID", "DOE", "ACC"):  # no identifier in any message
        assert name not in result.stdout + result.stderr


@pytest.mark.parametrize("folder", [s[0] for s in SERIES])
def test_suv_factor_is_bit_identical(runs, folder):
    before = json.loads(gliopet("suv", str(runs["src"] / folder / "pet"), "--json").stdout)
    after_run = gliopet("suv", str(_output_folder(runs, folder)), "--json")
    assert after_run.returncode == 0, after_run.stderr
    after = json.loads(after_run.stdout)
    assert before["factor"] == after["factor"]  # float equality: bit for bit
    assert before["factors"] == after["factors"]
    assert before["units"] == after["units"] and before["warnings"] == after["warnings"]


@pytest.mark.parametrize("folder", [s[0] for s in SERIES])
def test_measure_gives_the_same_suvmax_and_tbr(runs, folder):
    args = ("--lesion", LESION_LPS, "--background", BACKGROUND_LPS, "--json")
    before = json.loads(gliopet("measure", str(runs["src"] / folder / "pet"), *args).stdout)
    after = json.loads(gliopet("measure", str(_output_folder(runs, folder)), *args).stdout)
    assert {k: before[k] for k in MEASURED} == {k: after[k] for k in MEASURED}


def _dt(da: str, tm: str) -> datetime:
    return datetime.strptime(da + tm.split(".")[0], "%Y%m%d%H%M%S")


@pytest.mark.parametrize("folder", [s[0] for s in SERIES])
def test_every_date_moves_by_the_patients_whole_day_shift(runs, folder):
    src = _headers(runs["src"] / folder / "pet")[0]
    out = _headers(_output_folder(runs, folder))[0]
    pseudonym, shift = _map(runs["base"] / "key-a")[f"PID-{folder}"]
    assert out.PatientID == pseudonym and -3650 <= shift <= -1
    day = timedelta(days=shift)
    for keyword in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
        expected = (datetime.strptime(src[keyword].value, "%Y%m%d") + day).strftime("%Y%m%d")
        assert out[keyword].value == expected, keyword
    for keyword in ("StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime"):
        assert out[keyword].value == src[keyword].value, keyword
    rp_src, rp_out = src.RadiopharmaceuticalInformationSequence[0], out.RadiopharmaceuticalInformationSequence[0]
    injected = datetime.strptime(rp_src.RadiopharmaceuticalStartDateTime, "%Y%m%d%H%M%S.%f")
    assert rp_out.RadiopharmaceuticalStartDateTime == (injected + day).strftime("%Y%m%d%H%M%S") + ".00"
    assert rp_out.RadiopharmaceuticalStartTime == rp_src.RadiopharmaceuticalStartTime
    # the interval from injection to scan, across midnight or not, to the second
    interval_src = _dt(src.SeriesDate, src.SeriesTime) - injected
    interval_out = _dt(out.SeriesDate, out.SeriesTime) - datetime.strptime(
        rp_out.RadiopharmaceuticalStartDateTime, "%Y%m%d%H%M%S.%f")
    assert interval_out == interval_src
    if folder == "ge":  # the allow-listed private scan date-time moved with the rest, found by its creator
        assert out.private_block(0x0009, "GEMS_PETD_01")[0x0D].value == "20240302103115.00".replace(
            "20240302", (datetime(2024, 3, 2) + day).strftime("%Y%m%d"))
        with pytest.raises(KeyError):
            out.private_block(0x0009, "GEMS_PETD_01")[0x3B]  # not on the allow-list: removed
    if folder == "philips":
        block_src, block_out = src.private_block(0x7053, "Philips PET Private Group"), \
            out.private_block(0x7053, "Philips PET Private Group")
        assert block_out[0x00].value == block_src[0x00].value and block_out[0x09].value == block_src[0x09].value


def test_the_options_are_declared_and_patient_characteristics_kept(runs):
    src = _headers(runs["src"] / "siemens" / "pet")[0]
    out = _headers(_output_folder(runs, "siemens"))[0]
    assert out.PatientIdentityRemoved == "YES"
    assert out.DeidentificationMethod  # (0012,0063) present
    codes = {(i.CodeValue, i.CodingSchemeDesignator) for i in out.DeidentificationMethodCodeSequence}
    assert codes == {("113100", "DCM"), ("113107", "DCM"), ("113108", "DCM"), ("113111", "DCM")}
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"
    for keyword in ("PatientWeight", "PatientSize", "PatientSex", "PatientAge"):
        assert out[keyword].value == src[keyword].value
    for keyword in ("PatientBirthDate", "AccessionNumber"):
        assert out[keyword].value in ("", None)
    assert "OtherPatientIDs" not in out and out.PatientName == out.PatientID


def test_uid_relationships_survive(runs):
    pet = _headers(_output_folder(runs, "siemens"))
    ct = _headers(_output_folder(runs, "siemens", "ct"))
    pet_src = _headers(runs["src"] / "siemens" / "pet")
    ct_src = _headers(runs["src"] / "siemens" / "ct")
    everything = pet + ct
    assert len({d.StudyInstanceUID for d in everything}) == 1
    assert len({d.FrameOfReferenceUID for d in everything}) == 1
    assert len({d.SeriesInstanceUID for d in pet}) == 1 and len({d.SeriesInstanceUID for d in ct}) == 1
    assert pet[0].SeriesInstanceUID != ct[0].SeriesInstanceUID
    assert len({d.SOPInstanceUID for d in everything}) == len(everything)
    old = set()
    for d in pet_src + ct_src:
        old |= {d.StudyInstanceUID, d.FrameOfReferenceUID, d.SeriesInstanceUID, d.SOPInstanceUID}
    for d in everything:
        for uid in (d.StudyInstanceUID, d.FrameOfReferenceUID, d.SeriesInstanceUID, d.SOPInstanceUID):
            assert uid.startswith("2.25.") and len(uid) <= 64 and uid not in old
        assert d.file_meta.MediaStorageSOPInstanceUID == d.SOPInstanceUID
        assert d.SOPClassUID in ("1.2.840.10008.5.1.4.1.1.128", "1.2.840.10008.5.1.4.1.1.2")  # classes kept
    # the PET slice's reference to CT slice 3 points at that slice's new UID
    assert pet[2].SourceImageSequence[0].ReferencedSOPInstanceUID == ct[2].SOPInstanceUID
    # another patient's study does not share the UIDs
    ge = _headers(_output_folder(runs, "ge"))[0]
    assert ge.StudyInstanceUID != pet[0].StudyInstanceUID and ge.FrameOfReferenceUID != pet[0].FrameOfReferenceUID


def test_same_key_gives_byte_identical_output(runs):
    assert _tree_bytes(runs["outs"]["a"][0]) == _tree_bytes(runs["outs"]["b"][0])


def test_another_key_gives_other_uids_shifts_and_names(runs):
    a, other = runs["outs"]["a"][0], runs["outs"]["other"][0]
    assert not set(_tree_bytes(a)) & set(_tree_bytes(other))
    uids_a = {pydicom.dcmread(p).SOPInstanceUID for p in a.rglob("*.dcm")}
    uids_b = {pydicom.dcmread(p).SOPInstanceUID for p in other.rglob("*.dcm")}
    assert not uids_a & uids_b
    map_a, map_b = _map(runs["base"] / "key-a"), _map(runs["base"] / "key-b")
    assert set(map_a) == set(map_b) == {f"PID-{s[0]}" for s in SERIES}
    # Another key: every pseudonym differs (64-bit digests), and the shifts are not the same map (a single
    # patient's shift can coincide by chance, 1 in 3650, so only the whole map is compared).
    assert all(map_a[p][0] != map_b[p][0] for p in map_a)
    assert [map_a[p][1] for p in sorted(map_a)] != [map_b[p][1] for p in sorted(map_b)]
    assert len({shift for _, shift in map_b.values()}) == len(SERIES)  # the fixed key: different patients' shifts


def test_key_file_mode_600_and_map_beside_it_not_in_out(runs):
    key = runs["base"] / "key-a"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_text().strip()) == 64
    patients = Path(str(key) + ".patients.csv")
    assert stat.S_IMODE(patients.stat().st_mode) == 0o600
    for out, _ in runs["outs"].values():
        for path in out.rglob("*"):
            assert b"PID-" not in (path.read_bytes() if path.is_file() else b"")
            assert path.suffix in (".dcm", "")


def _good_pet(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    patient = PatientInfo(name="DOE^BAD", patient_id="PID-bad", birth_date="19600101", sex="M", age_years=50,
                          weight_kg=80.0, height_m=1.8)
    start = datetime(2024, 5, 1, 9, 0)
    study = StudyInfo(study_uid=deterministic_uid("bad", "study"), frame_of_reference_uid=deterministic_uid("b"),
                      study_datetime=start, accession_number="A", study_id="1")
    series = PetSeriesInfo(series_uid=deterministic_uid("bad", "pet"), series_number=1, description="PET",
                           scan_start=start + timedelta(hours=1), injection=start, frame_duration_s=600.0,
                           injected_bq=2.0e8, half_life_s=4057.7, radiopharmaceutical="x",
                           nuclide_code=("C-131A3", "SRT", "^68^Gallium"), positron_fraction=0.889)
    return write_pet_series(_volume(3), folder, patient=patient, study=study, series=series)[0]


def test_bad_input_is_quarantined_with_its_reason_and_the_run_exits_0(tmp_path):
    src, out, key = tmp_path / "in", tmp_path / "out", tmp_path / "k"
    out.mkdir()
    good = _good_pet(src / "pet")
    raw = good.read_bytes()
    (src / "notes.txt").write_text("DOE^BAD called on 20240501\n")
    (src / "empty.dcm").write_bytes(b"")
    (src / "truncated.dcm").write_bytes(raw[:300])
    burned = pydicom.dcmread(good)
    burned.BurnedInAnnotation = "YES"
    burned.save_as(src / "burned.dcm", enforce_file_format=True)
    capture = pydicom.dcmread(good)
    capture.SOPClassUID = capture.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    capture.save_as(src / "capture.dcm", enforce_file_format=True)

    result = gliopet("deid", str(src), str(out), "--key-file", str(key), "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert "6 file(s) de-identified" in result.stdout and "; 5 quarantined" in result.stdout
    assert len(list(out.rglob("*.dcm"))) == 6
    with Path(str(key) + ".quarantine.csv").open(newline="") as handle:
        reasons = {r["input_file"]: r["reason"] for r in csv.DictReader(handle)}
    assert set(reasons) == {"notes.txt", "empty.dcm", "truncated.dcm", "burned.dcm", "capture.dcm"}
    assert reasons["notes.txt"].startswith("not a DICOM file") and reasons["empty.dcm"].startswith("not a DICOM")
    assert reasons["truncated.dcm"].startswith("unreadable DICOM")
    assert "(0028,0301) BurnedInAnnotation is YES" in reasons["burned.dcm"]
    assert reasons["capture.dcm"].startswith("secondary capture")
    assert "DOE" not in result.stdout + result.stderr


@pytest.mark.parametrize("case", ["missing", "a file"])
def test_missing_or_unusable_out_is_exit_2_with_one_line(tmp_path, case):
    src = tmp_path / "in"
    _good_pet(src)
    out = tmp_path / "out"
    if case == "a file":
        out.write_text("x")
    result = gliopet("deid", str(src), str(out), "--key-file", str(tmp_path / "k"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and str(out) in result.stderr
    assert not (tmp_path / "k").exists()  # nothing written
    assert out.exists() == (case == "a file")


def test_a_key_file_that_is_no_key_is_exit_2(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    _good_pet(src)
    out.mkdir()
    (tmp_path / "k").write_text("not a key\n")
    result = gliopet("deid", str(src), str(out), "--key-file", str(tmp_path / "k"))
    assert result.returncode == 2 and "key" in result.stderr and list(out.iterdir()) == []


def test_out_inside_the_input_or_key_inside_out_is_refused(tmp_path):
    src = tmp_path / "in"
    _good_pet(src / "pet")
    (src / "out").mkdir()
    inside = gliopet("deid", str(src), str(src / "out"), "--key-file", str(tmp_path / "k"))
    assert inside.returncode == 2 and "must not contain" in inside.stderr
    out = tmp_path / "out"
    out.mkdir()
    key_in_out = gliopet("deid", str(src / "pet"), str(out), "--key-file", str(out / "k"))
    assert key_in_out.returncode == 2 and "outside" in key_in_out.stderr
    assert list(out.iterdir()) == [] and os.listdir(src / "out") == []
