"""Every measured PET time point of a study leaves in SEG, SR TID 1500 and NIfTI (not only the primary).

The analysis cohort (tests/analyze_fixtures.py): SIM001 scanned at 60 min,
SIM002 at 30 and 60 min; ``gliopet analyze`` placed SIM002's ROIs on the 60
min scan (the primary) and measured the 30 min scan with them, carried onto
its own grid. SIM000 (unmeasurable) is left out with ``--patient``.
Expected values come from the store's table (read with sqlite3, not through
the export code), from the PET files (pydicom) and from arithmetic written
here; the primary's file names are the ones scripts use.
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from analyze_fixtures import cohort, reference  # noqa: F401 - fixtures

PATIENTS = ("SIM001", "SIM002")
_BUILT: dict[str, object] = {}


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gliopet.cli", *args], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="session")
def exported(reference, tmp_path_factory):
    if "exported" not in _BUILT:
        db = reference[0]
        out = tmp_path_factory.mktemp("export-timepoints")
        lines = {}
        for kind in ("seg", "sr", "nifti"):
            run = _cli("export", kind, "--db", str(db), "--out", str(out / kind),
                       *[a for pid in PATIENTS for a in ("--patient", pid)])
            assert run.returncode == 0, run.stderr
            lines[kind] = run.stdout.strip()
        _BUILT["exported"] = {"db": db, "out": out, "lines": lines}
    return _BUILT["exported"]


def _measurements(db: Path) -> dict[tuple[str, float], dict]:
    """(patient_id, nominal scan time) -> primary flag, record and PET folder, from the store's tables."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT p.patient_id, m.scan_time_min, m.is_primary, m.record, s.folder FROM measurements m "
            "JOIN studies st ON m.study_pk = st.id JOIN patients p ON st.patient_pk = p.id "
            "JOIN series s ON s.study_pk = st.id AND s.series_uid = m.series_uid").fetchall()
    finally:
        con.close()
    return {(pid, minutes): {"primary": bool(primary), "record": json.loads(record), "pet": db.parent / folder}
            for pid, minutes, primary, record, folder in rows}


def _pets(folder: Path) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(p) for p in sorted(folder.iterdir())]


def _sim002(exported) -> tuple[dict, dict]:
    stored = _measurements(exported["db"])
    early, late = stored[("SIM002", 30.0)], stored[("SIM002", 60.0)]
    # the fixture: the 60 min scan is the primary, the 30 min scan another time point with its own values
    assert late["primary"] and not early["primary"]
    assert early["pet"].name == "PET_30min" and late["pet"].name == "PET_60min"
    assert early["record"]["suvmax"] != late["record"]["suvmax"]
    assert early["record"]["btv"]["n_voxels"] != late["record"]["btv"]["n_voxels"]
    return early, late


def _minutes_after_injection(pet: pydicom.Dataset) -> float:
    # the series time (DecayCorrection START: the scan reference) minus the injection time, same day
    start = pet.RadiopharmaceuticalInformationSequence[0].RadiopharmaceuticalStartTime
    scan = datetime.strptime(str(pet.SeriesTime).split(".")[0], "%H%M%S")
    injection = datetime.strptime(str(start).split(".")[0], "%H%M%S")
    return (scan - injection).total_seconds() / 60.0


def _dciodvfy_errors(path: Path) -> list[str]:
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=120)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


def test_every_time_point_has_its_own_files_and_the_primary_keeps_its_names(exported, cohort):
    assert cohort.scan_times["SIM002"] == (30.0, 60.0) and cohort.scan_times["SIM001"] == (60.0,)
    out = exported["out"]
    for kind in ("seg", "sr"):
        names = sorted(p.name for p in (out / kind).glob("*.dcm"))
        # the primaries exactly as before; the 30 min scan is run 1 of SIM002's two scans (scan-time order)
        assert names == [f"sub-SIM001_ses-1_{kind}.dcm", f"sub-SIM002_ses-1_run-1_{kind}.dcm",
                         f"sub-SIM002_ses-1_{kind}.dcm"]
        assert _dciodvfy_errors(out / kind / f"sub-SIM002_ses-1_run-1_{kind}.dcm") == []
        assert exported["lines"][kind] == f"export {kind}: 2 studies (3 PET time points), 3 files in {out / kind}"
    pet = out / "nifti" / "sub-SIM002" / "ses-1" / "pet"
    stems = ("sub-SIM002_ses-1", "sub-SIM002_ses-1_run-1")
    expected = sorted(f"{stem}_{suffix}" for stem in stems for suffix in (
        "desc-suv_pet.nii.gz", "desc-suv_pet.json", "desc-ctonpet_ct.nii.gz", "label-lesion_mask.nii.gz",
        "label-background_mask.nii.gz", "label-suvpeak_mask.nii.gz", "label-btv_mask.nii.gz"))
    assert sorted(p.name for p in pet.iterdir()) == expected
    assert not any((out / "nifti" / "sub-SIM001" / "ses-1" / "pet").glob("*run-*"))


def test_the_30min_seg_references_the_30min_pet_and_holds_its_rois(exported):
    early, late = _sim002(exported)
    pets30, pets60 = _pets(early["pet"]), _pets(late["pet"])
    seg = pydicom.dcmread(exported["out"] / "seg" / "sub-SIM002_ses-1_run-1_seg.dcm")
    referenced = seg.ReferencedSeriesSequence[0]
    assert referenced.SeriesInstanceUID == pets30[0].SeriesInstanceUID != pets60[0].SeriesInstanceUID
    instances = {r.ReferencedSOPInstanceUID for r in referenced.ReferencedInstanceSequence}
    assert instances <= {p.SOPInstanceUID for p in pets30} and not instances & {p.SOPInstanceUID for p in pets60}
    assert seg.SeriesDescription.endswith(" at 30 min p.i.")
    # voxels per segment, and the z (LPS mm) of the slices each segment has voxels on
    frames = seg.pixel_array.reshape(int(seg.NumberOfFrames), int(seg.Rows), int(seg.Columns))
    count: dict[int, int] = {}
    z: dict[int, set[float]] = {}
    for frame, item in zip(frames, seg.PerFrameFunctionalGroupsSequence):
        number = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        count[number] = count.get(number, 0) + int(frame.sum())
        z.setdefault(number, set()).add(round(float(item.PlanePositionSequence[0].ImagePositionPatient[2]), 3))
    record = early["record"]
    # the lesion circle (segment 1): the voxels of one slice within 5 mm of its centre, counted by hand on
    # the PET's pixel spacing; on the slice of the 30 min record's lesion centre (not the primary's)
    si, sj = (float(v) for v in pets30[0].PixelSpacing[::-1])
    n_circle = sum(1 for i in range(-10, 11) for j in range(-10, 11) if (i * si) ** 2 + (j * sj) ** 2 <= 25.0)
    assert count[1] == n_circle
    assert z[1] == {round(record["lesion"]["centre_lps_mm"][2], 3)}
    assert record["lesion"]["centre_lps_mm"][2] != late["record"]["lesion"]["centre_lps_mm"][2]
    # the SUVpeak sphere (segment 3): 1 mL, radius (3000 / (4 pi))^(1/3) mm, voxel centres inside, by hand
    sk = abs(float(pets30[1].ImagePositionPatient[2]) - float(pets30[0].ImagePositionPatient[2]))
    radius = (3000.0 / (4.0 * math.pi)) ** (1.0 / 3.0)
    n_sphere = sum(1 for i in range(-5, 6) for j in range(-5, 6) for k in range(-5, 6)
                   if (i * si) ** 2 + (j * sj) ** 2 + (k * sk) ** 2 <= radius ** 2)
    assert count[3] == n_sphere
    # the BTV (segment 4): the voxel count the store holds for the 30 min measurement
    assert count[4] == record["btv"]["n_voxels"]


def test_the_30min_report_gives_the_30min_measurements_and_its_time(exported):
    from gliopet.export import read_measurement_report

    early, late = _sim002(exported)
    found = read_measurement_report(exported["out"] / "sr" / "sub-SIM002_ses-1_run-1_sr.dcm")
    table = {(m.group, m.concept[1], m.derivation[1] if m.derivation else None,
              m.method[1] if m.method else None): m.value for m in found}
    record = early["record"]
    maximum, mean = "56851009", "373098007"
    expected = {
        ("Lesion circle", "126401", maximum, "126410"): record["suvmax"],
        ("Lesion circle", "126401", mean, "126410"): record["suvmean_1cm"],
        ("Lesion circle", "126039", maximum, "TBR-MAX-BGMAX"): record["tbr_max_to_bg_max"],
        ("Lesion circle", "126039", maximum, "TBR-MAX-BGMEAN"): record["tbr_max_to_bg_mean"],
        ("Lesion circle", "126039", mean, "TBR-MEAN-BGMEAN"): record["tbr_mean_to_bg_mean"],
        ("Background circle", "126040", maximum, "126410"): record["bg_suvmax"],
        ("Background circle", "126040", mean, "126410"): record["bg_suvmean"],
        ("SUVpeak sphere", "126401", "126031", "126410"): record["suvpeak"],
        ("Biological tumour volume", "126032", None, None): record["btv_ml"],
        ("Biological tumour volume", "126401", mean, "126410"): record["btv_suvmean"],
    }
    assert table == expected
    assert table[("Lesion circle", "126401", maximum, "126410")] != late["record"]["suvmax"]
    # TID 1502 in every group: minutes after injection from the 30 min PET's headers, its run, nominal time
    minutes = _minutes_after_injection(_pets(early["pet"])[0])
    assert {(m.time_point, m.subject_time_point, m.protocol_time_point) for m in found} == {
        (f"{minutes:.2f} min after injection", "ses-1_run-1", "30 min")}
    primary = read_measurement_report(exported["out"] / "sr" / "sub-SIM002_ses-1_sr.dcm")
    assert {(m.subject_time_point, m.protocol_time_point) for m in primary} == {("ses-1_run-2", "60 min")}
    assert [m.value for m in primary if m.group == "Lesion circle"][0] == late["record"]["suvmax"]
    # the report's evidence: the 30 min PET series and the 30 min SEG, not the primary's
    sr = pydicom.dcmread(exported["out"] / "sr" / "sub-SIM002_ses-1_run-1_sr.dcm")
    seg30 = pydicom.dcmread(exported["out"] / "seg" / "sub-SIM002_ses-1_run-1_seg.dcm")
    seg60 = pydicom.dcmread(exported["out"] / "seg" / "sub-SIM002_ses-1_seg.dcm")
    evidence = {s.SeriesInstanceUID: {r.ReferencedSOPInstanceUID for r in s.ReferencedSOPSequence}
                for study in sr.CurrentRequestedProcedureEvidenceSequence for s in study.ReferencedSeriesSequence}
    assert set(evidence) == {_pets(early["pet"])[0].SeriesInstanceUID, seg30.SeriesInstanceUID}
    assert evidence[seg30.SeriesInstanceUID] == {seg30.SOPInstanceUID} != {seg60.SOPInstanceUID}


def test_the_nifti_time_points_state_their_time_and_hold_their_own_pet(exported):
    early, late = _sim002(exported)
    folder = exported["out"] / "nifti" / "sub-SIM002" / "ses-1" / "pet"
    for stem, stored, run in (("sub-SIM002_ses-1_run-1", early, 1), ("sub-SIM002_ses-1", late, 2)):
        pets = _pets(stored["pet"])
        sidecar = json.loads((folder / f"{stem}_desc-suv_pet.json").read_text())
        minutes = _minutes_after_injection(pets[0])
        start = str(pets[0].RadiopharmaceuticalInformationSequence[0].RadiopharmaceuticalStartTime).split(".")[0]
        assert sidecar["TimeZero"] == f"{start[:2]}:{start[2:4]}:{start[4:6]}" and sidecar["InjectionStart"] == 0
        assert sidecar["ScanStart"] == pytest.approx(minutes * 60.0, abs=1e-3)
        assert sidecar["TimePoint"] == {"Run": run, "Primary": stored["primary"],
                                        "NominalMinutes": 30.0 if run == 1 else 60.0,
                                        "MinutesAfterInjection": pytest.approx(minutes, abs=1e-9)}
        assert sidecar["Measurement"]["suvmax"] == stored["record"]["suvmax"]
        # the image is this time point's PET: the lesion centre's SUV = raw value x its own SUV factor
        image = nib.load(folder / f"{stem}_desc-suv_pet.nii.gz")
        pets.sort(key=lambda d: float(d.ImagePositionPatient[2]))
        i, j, k = (int(v) for v in stored["record"]["lesion"]["centre_ijk"])
        ds = pets[k]
        factor = stored["record"]["suv"]["factor"]
        factor = factor[k] if isinstance(factor, list) else factor
        raw = float(ds.pixel_array[j, i]) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        assert float(np.asarray(image.dataobj)[i, j, k]) == pytest.approx(raw * factor, rel=1e-6)
        lesion = np.asarray(nib.load(folder / f"{stem}_label-lesion_mask.nii.gz").dataobj)
        assert lesion[i, j, k] == 1 and int(lesion[:, :, k].sum()) == int(lesion.sum()) == 21  # 10 mm, 2 mm px
        btv = np.asarray(nib.load(folder / f"{stem}_label-btv_mask.nii.gz").dataobj)
        assert int(btv.sum()) == stored["record"]["btv"]["n_voxels"]
        ct = nib.load(folder / f"{stem}_desc-ctonpet_ct.nii.gz")
        assert np.allclose(ct.affine, image.affine)


def test_a_time_point_whose_btv_cannot_be_regrown_is_measured_again_and_checked(exported, tmp_path):
    # the record's BTV threshold no longer equals 1.6 x its background SUVmean: the BTV is not rebuilt from
    # the record, and the 30 min scan is measured again with the primary's ROIs (registered, as analyze did)
    from gliopet.errors import MeasurementError
    from gliopet.export._source import load_stored_study, stored_studies

    early, _ = _sim002(exported)

    def tampered(**changes) -> Path:
        db = tmp_path / f"store-{len(changes)}.sqlite"
        shutil.copy(exported["db"], db)
        record = json.loads(json.dumps(early["record"]))
        record["btv"]["threshold"] *= 1.001
        record.update(changes)
        con = sqlite3.connect(db)
        con.execute("UPDATE measurements SET record = ? WHERE NOT is_primary", (json.dumps(record),))
        con.commit()
        con.close()
        return db

    (study,) = [s for s in stored_studies(str(tampered()), ["SIM002"]) if not s.timepoint.primary]
    assert study.timepoint.run == 1 and study.reference.pet_folder.name == "PET_60min"
    loaded = load_stored_study(study)
    assert loaded.masks.how["btv"] == "re-measured" and loaded.stem == "sub-SIM002_ses-1_run-1"
    assert int(loaded.masks.btv.sum()) == early["record"]["btv"]["n_voxels"]
    # a stored value the scan does not give again: refused, naming the study and the time point's PET
    (study,) = [s for s in stored_studies(str(tampered(bg_suvmax=early["record"]["bg_suvmax"] * 1.01)), ["SIM002"])
                if not s.timepoint.primary]
    with pytest.raises(MeasurementError, match="does not give the stored values.*PET_30min"):
        load_stored_study(study)


def test_measure_with_a_timepoint_writes_a_seg_and_sr_for_each_pet(cohort, tmp_path):
    # gliopet measure PET_30min --ct CT --timepoint PET_60min --seg roi.dcm --sr report.dcm: the reference (the
    # 30 min PET, given first) keeps the given names; the 60 min scan, second in scan time, gets _run-2 beside them
    from gliopet.export import read_measurement_report

    study = cohort.root / "SIM002"
    seg, sr = tmp_path / "roi.dcm", tmp_path / "report.dcm"
    run = _cli("measure", str(study / "PET_30min"), "--ct", str(study / "CT"), "--timepoint", str(study / "PET_60min"),
               "--seg", str(seg), "--sr", str(sr), "--json")
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    (late,) = record["timepoints"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.dcm", "report_run-2.dcm", "roi.dcm", "roi_run-2.dcm"]
    pets30, pets60 = _pets(study / "PET_30min"), _pets(study / "PET_60min")
    for name, pets in (("roi.dcm", pets30), ("roi_run-2.dcm", pets60)):
        referenced = pydicom.dcmread(tmp_path / name).ReferencedSeriesSequence[0]
        assert referenced.SeriesInstanceUID == pets[0].SeriesInstanceUID
        assert {r.ReferencedSOPInstanceUID for r in referenced.ReferencedInstanceSequence} == {
            d.SOPInstanceUID for d in pets}
    for name, values, pets, order in (("report.dcm", record, pets30, 1), ("report_run-2.dcm", late, pets60, 2)):
        found = read_measurement_report(tmp_path / name)
        table = {(m.group, m.derivation[1] if m.derivation else None, m.method[1] if m.method else None): m.value
                 for m in found}
        assert table[("Lesion circle", "56851009", "126410")] == values["suvmax"]
        assert table[("Background circle", "373098007", "126410")] == values["bg_suvmean"]
        assert table[("Biological tumour volume", None, None)] == values["btv_ml"]
        minutes = _minutes_after_injection(pets[0])
        assert {(m.time_point, m.subject_time_point, m.protocol_time_point) for m in found} == {
            (f"{minutes:.2f} min after injection", f"ses-1_run-{order}", None)}
        assert _dciodvfy_errors(tmp_path / name) == []
    assert late["suvmax"] != record["suvmax"]


def test_measure_refuses_a_timepoint_seg_that_cannot_be_written_before_writing_any(cohort, tmp_path):
    study = cohort.root / "SIM002"
    (tmp_path / "roi_run-2.dcm").mkdir()  # the 60 min scan's SEG path is taken by a folder
    run = _cli("measure", str(study / "PET_30min"), "--ct", str(study / "CT"), "--timepoint", str(study / "PET_60min"),
               "--seg", str(tmp_path / "roi.dcm"))
    assert run.returncode == 2 and "roi_run-2.dcm" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["roi_run-2.dcm"]
