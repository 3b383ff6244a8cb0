"""Standard exports (issue 19): DICOM SEG, SR TID 1500, NIfTI/BIDS-PET, read back.

Three simulated patients, one per vendor flavour (Siemens, GE, Philips), are
analysed once into a store (session fixture); every export is checked with
dicom3tools' ``dciodvfy`` and read back with highdicom and nibabel. Expected
values come from the stored record (read from the store's table here, not
through the export code), from the DICOM headers, and from the standard's
code tables (pydicom's copy of PS3.16).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes

FLAVOURS = ("siemens", "ge", "philips")
SEED = 5
_BUILT: dict[str, object] = {}


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gliopet.cli", *args], capture_output=True, text=True,
                          timeout=900, cwd=cwd)


def _build(tmp_path_factory):
    from gliopet.analyze import run_analysis
    from gliopet.simulate.cohort import random_patient_spec, simulate_cohort

    base = tmp_path_factory.mktemp("export")
    specs = [random_patient_spec(SEED, i, flavour=f) for i, f in enumerate(FLAVOURS, start=1)]
    cohort = simulate_cohort(specs, base / "sim", seed=SEED, progress=False)
    db = base / "store.sqlite"
    summary = run_analysis(cohort.root, cohort.clinical_csv, db=str(db), workers=1, progress=False)
    assert summary.measured == 3 and summary.failed == 0  # the fixture: every study measured
    out = base / "out"
    for kind in ("seg", "sr", "nifti"):
        run = _cli("export", kind, "--db", str(db), "--out", str(out / kind))
        assert run.returncode == 0, run.stderr
    return {"base": base, "db": db, "out": out, "cohort": cohort.root}


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    if "exported" not in _BUILT:
        _BUILT["exported"] = _build(tmp_path_factory)
    return _BUILT["exported"]


def _stored(db: Path) -> dict[str, dict]:
    """patient_id -> (primary record, PET folder, CT folder), read from the store's tables with sqlite3."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT p.patient_id, m.record, s.folder FROM measurements m JOIN studies st ON m.study_pk = st.id "
            "JOIN patients p ON st.patient_pk = p.id JOIN series s ON s.study_pk = st.id AND s.series_uid = "
            "m.series_uid WHERE m.is_primary").fetchall()
        cts = dict(con.execute("SELECT p.patient_id, s.folder FROM series s JOIN studies st ON s.study_pk = st.id "
                               "JOIN patients p ON st.patient_pk = p.id WHERE s.role = 'ct'").fetchall())
    finally:
        con.close()
    return {pid: {"record": json.loads(record), "pet": db.parent / folder, "ct": db.parent / cts[pid]}
            for pid, record, folder in rows}


def _dciodvfy_errors(path: Path) -> list[str]:
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=120)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


def _pet_files(folder: Path) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(p) for p in sorted(folder.iterdir())]


def test_every_seg_and_sr_passes_dciodvfy_and_reads_back(exported):
    segs = sorted((exported["out"] / "seg").glob("*.dcm"))
    srs = sorted((exported["out"] / "sr").glob("*.dcm"))
    assert [p.name for p in segs] == [f"sub-SIM00{i}_ses-1_seg.dcm" for i in (1, 2, 3)]
    assert [p.name for p in srs] == [f"sub-SIM00{i}_ses-1_sr.dcm" for i in (1, 2, 3)]
    for path in [*segs, *srs]:
        assert _dciodvfy_errors(path) == [], path.name
    for path in segs:
        seg = hd.seg.segread(path)
        assert seg.SegmentationType == "BINARY" and seg.number_of_segments == 4
    for path in srs:
        assert isinstance(hd.sr.srread(path).content, hd.sr.MeasurementReport)


def test_seg_segments_use_the_standard_codes_and_reference_the_pet(exported):
    stored = _stored(exported["db"])
    for pid in ("SIM001", "SIM002", "SIM003"):
        seg = pydicom.dcmread(exported["out"] / "seg" / f"sub-{pid}_ses-1_seg.dcm")
        # PS3.16 CID 7150 / 7151 (pydicom's tables of the standard)
        expected = [(codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Neoplasm),
                    (codes.SCT.SpatialAndRelationalConcept, codes.DCM.Background),
                    (codes.SCT.SpatialAndRelationalConcept, codes.DCM.Sphere),
                    (codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Neoplasm)]
        for item, (category, kind) in zip(seg.SegmentSequence, expected):
            got_cat = item.SegmentedPropertyCategoryCodeSequence[0]
            got_type = item.SegmentedPropertyTypeCodeSequence[0]
            assert (got_cat.CodeValue, got_cat.CodingSchemeDesignator) == (category.value, category.scheme_designator)
            assert (got_type.CodeValue, got_type.CodingSchemeDesignator) == (kind.value, kind.scheme_designator)
        assert [s.SegmentLabel for s in seg.SegmentSequence][:3] == ["Lesion circle", "Background circle",
                                                                    "SUVpeak sphere"]
        # every frame derives from an instance of the stored PET series
        pets = _pet_files(stored[pid]["pet"])
        uids = {p.SOPInstanceUID for p in pets}
        referenced = {ref.ReferencedSOPInstanceUID for ref in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
        assert referenced <= uids and seg.ReferencedSeriesSequence[0].SeriesInstanceUID == pets[0].SeriesInstanceUID
        # the lesion circle: the voxels of its slice whose centres are within 5 mm of its centre (by hand)
        record = stored[pid]["record"]
        ci, cj, ck = record["lesion"]["centre_ijk"]
        si, sj = (float(v) for v in pets[0].PixelSpacing[::-1])  # PixelSpacing is (row, column) spacing
        n = sum(1 for i in range(-10, 11) for j in range(-10, 11) if (i * si) ** 2 + (j * sj) ** 2 <= 25.0)
        lesion = hd.seg.segread(exported["out"] / "seg" / f"sub-{pid}_ses-1_seg.dcm").get_volume(
            segment_numbers=[1], combine_segments=True)
        assert int((np.asarray(lesion.array) > 0).sum()) == n


@pytest.mark.parametrize("pid", ["SIM001", "SIM002", "SIM003"])
def test_sr_values_equal_the_stored_record(exported, pid):
    from gliopet.export import read_measurement_report

    record = _stored(exported["db"])[pid]["record"]
    found = read_measurement_report(exported["out"] / "sr" / f"sub-{pid}_ses-1_sr.dcm")
    suvbw = ("DCM", "126401", "SUVbw")
    maximum, mean, peak = ("SCT", "56851009", "Maximum"), ("SCT", "373098007", "Mean"), \
        ("DCM", "126031", "Peak Value Within ROI")
    table = {(m.group, m.concept, m.derivation, m.method[1] if m.method else None): (m.value, m.unit, m.segment_number)
             for m in found}
    suv_method = "126410"  # SUV body weight calculation method
    expected = {
        ("Lesion circle", suvbw, maximum, suv_method): (record["suvmax"], "g/ml{SUVbw}", 1),
        ("Lesion circle", suvbw, mean, suv_method): (record["suvmean_1cm"], "g/ml{SUVbw}", 1),
        ("Lesion circle", ("DCM", "126039", "Lesion to Background SUV Ratio"), maximum, "TBR-MAX-BGMAX"):
            (record["tbr_max_to_bg_max"], "{ratio}", 1),
        ("Lesion circle", ("DCM", "126039", "Lesion to Background SUV Ratio"), maximum, "TBR-MAX-BGMEAN"):
            (record["tbr_max_to_bg_mean"], "{ratio}", 1),
        ("Lesion circle", ("DCM", "126039", "Lesion to Background SUV Ratio"), mean, "TBR-MEAN-BGMEAN"):
            (record["tbr_mean_to_bg_mean"], "{ratio}", 1),
        ("Background circle", ("DCM", "126040", "Background for Lesion to Background SUV Ratio"), maximum,
         suv_method): (record["bg_suvmax"], "g/ml{SUVbw}", 2),
        ("Background circle", ("DCM", "126040", "Background for Lesion to Background SUV Ratio"), mean,
         suv_method): (record["bg_suvmean"], "g/ml{SUVbw}", 2),
        ("SUVpeak sphere", suvbw, peak, suv_method): (record["suvpeak"], "g/ml{SUVbw}", 3),
        ("Biological tumour volume", ("DCM", "126032", "Metabolic Volume"), None, None): (record["btv_ml"], "cm3", 4),
    }
    if record["btv_suvmean"] is not None:
        expected[("Biological tumour volume", suvbw, mean, suv_method)] = (record["btv_suvmean"], "g/ml{SUVbw}", 4)
    assert table == expected
    sr = pydicom.dcmread(exported["out"] / "sr" / f"sub-{pid}_ses-1_sr.dcm")
    # the software is the observer device (TID 1004: Observer Type = Device, 121007 DCM)
    observer = [i for i in sr.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "121005"]
    assert observer[0].ConceptCodeSequence[0].CodeValue == "121007"
    names = [i.TextValue for i in sr.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "121013"]
    assert names == ["gliopet"]


def test_round_trip_measure_with_the_exported_seg(exported):
    # measure -> export SEG -> measure --lesion SEG.dcm: the same SUVmax; with the stored background centre
    # (kept to 0.001 mm in the record) the same TBR to within what that rounding moves the background SUVmax
    stored = _stored(exported["db"])
    for pid in ("SIM001", "SIM003"):
        record = stored[pid]["record"]
        point = ",".join(f"{v}" for v in record["background"]["centre_lps_mm"])
        run = _cli("measure", str(stored[pid]["pet"]), "--lesion",
                   str(exported["out"] / "seg" / f"sub-{pid}_ses-1_seg.dcm"), "--background", point, "--json")
        assert run.returncode == 0, run.stderr
        again = json.loads(run.stdout)
        assert again["suvmax"] == record["suvmax"]
        assert again["lesion"]["centre_ijk"] == record["lesion"]["centre_ijk"]
        assert again["tbr_max_to_bg_max"] == pytest.approx(record["tbr_max_to_bg_max"], rel=1e-4)


def test_nifti_affine_values_and_sidecar(exported):
    stored = _stored(exported["db"])
    root = exported["out"] / "nifti"
    description = json.loads((root / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative" and description["GeneratedBy"][0]["Name"] == "gliopet"
    for pid in ("SIM001", "SIM002", "SIM003"):
        folder = root / f"sub-{pid}" / "ses-1" / "pet"
        image = nib.load(folder / f"sub-{pid}_ses-1_desc-suv_pet.nii.gz")
        record = stored[pid]["record"]
        pets = sorted(_pet_files(stored[pid]["pet"]),
                      key=lambda d: float(np.dot(np.cross(np.array(d.ImageOrientationPatient[:3], float),
                                                          np.array(d.ImageOrientationPatient[3:], float)),
                                                 np.array(d.ImagePositionPatient, float))))
        data = np.asarray(image.dataobj)
        assert data.shape == (int(pets[0].Columns), int(pets[0].Rows), len(pets))
        for i, j, k in ((0, 0, 0), (17, 40, 5), (data.shape[0] - 1, data.shape[1] - 1, data.shape[2] - 1)):
            ras = image.affine @ np.array([i, j, k, 1.0])
            ds = pets[k]
            row_dir = np.array(ds.ImageOrientationPatient[:3], float)   # along a row: column index i grows
            col_dir = np.array(ds.ImageOrientationPatient[3:], float)   # along a column: row index j grows
            dr, dc = (float(v) for v in ds.PixelSpacing)                 # (between rows, between columns)
            lps = np.array(ds.ImagePositionPatient, float) + i * dc * row_dir + j * dr * col_dir
            assert [-ras[0], -ras[1], ras[2]] == pytest.approx(lps.tolist(), abs=1e-3)
            factor = record["suv"]["factor"]
            factor = factor[k] if isinstance(factor, list) else factor
            raw = float(ds.pixel_array[j, i]) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
            assert float(data[i, j, k]) == pytest.approx(raw * factor, rel=1e-6, abs=1e-9)
        lesion = np.asarray(nib.load(folder / f"sub-{pid}_ses-1_label-lesion_mask.nii.gz").dataobj)
        ci, cj, ck = (int(v) for v in record["lesion"]["centre_ijk"])
        assert lesion[ci, cj, ck] == 1 and lesion[:, :, ck].sum() == lesion.sum()
        ct = nib.load(folder / f"sub-{pid}_ses-1_desc-ctonpet_ct.nii.gz")
        assert np.allclose(ct.affine, image.affine)
        sidecar = json.loads((folder / f"sub-{pid}_ses-1_desc-suv_pet.json").read_text())
        assert sidecar["Measurement"]["suvmax"] == record["suvmax"]
        assert sidecar["SUV"]["inputs"]["weight"]["value"] == record["suv"]["inputs"]["weight"]["value"]


def test_a_study_without_a_measurement_is_refused_and_nothing_is_written(exported, tmp_path):
    db = tmp_path / "store.sqlite"
    shutil.copy(exported["db"], db)
    con = sqlite3.connect(db)
    con.execute("DELETE FROM measurements WHERE study_pk = (SELECT MIN(id) FROM studies)")
    con.execute("UPDATE studies SET status = 'failed' WHERE id = (SELECT MIN(id) FROM studies)")
    con.commit()
    con.close()
    run = _cli("export", "seg", "--db", str(db), "--out", str(tmp_path / "out"))
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1 and "no stored measurement" in run.stderr
    assert "SIM001" not in run.stderr.split(" in ")[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))


def test_an_unwritable_out_is_refused(exported, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    run = _cli("export", "sr", "--db", str(exported["db"]), "--out", str(blocker / "out"))
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1 and "--out" in run.stderr
    assert blocker.read_text() == "not a folder"
    run = _cli("export", "nifti", "--db", str(tmp_path / "missing.sqlite"), "--out", str(tmp_path / "o"))
    assert run.returncode == 2 and "no such store file" in run.stderr
    assert not (tmp_path / "missing.sqlite").exists() and not (tmp_path / "o").exists()


def test_measure_writes_seg_and_sr_of_one_study(exported, tmp_path):
    stored = _stored(exported["db"])["SIM002"]
    seg, sr = tmp_path / "roi.dcm", tmp_path / "report.dcm"
    run = _cli("measure", str(stored["pet"]), "--ct", str(stored["ct"]), "--seg", str(seg), "--sr", str(sr),
               "--json")
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    assert _dciodvfy_errors(seg) == [] and _dciodvfy_errors(sr) == []
    from gliopet.export import read_measurement_report

    values = {(m.group, m.derivation[1] if m.derivation else None, m.method[1] if m.method else None): m.value
              for m in read_measurement_report(sr)}
    assert values[("Lesion circle", "56851009", "126410")] == record["suvmax"]
    assert values[("Background circle", "373098007", "126410")] == record["bg_suvmean"]
    assert values[("Lesion circle", "56851009", "TBR-MAX-BGMAX")] == record["tbr_max_to_bg_max"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.dcm", "roi.dcm"]  # no temporary left
    run = _cli("measure", str(stored["pet"]), "--sr", str(tmp_path / "alone.dcm"))
    assert run.returncode == 2 and not (tmp_path / "alone.dcm").exists()


def test_the_reader_lists_another_highdicom_report_with_the_older_suv_unit(exported, tmp_path):
    # a TID 1500 report as another tool writes it with highdicom: an image measurement group, SUVbw in the
    # older UCUM form "{SUVbw}g/ml"; the reader gives it back in the current form
    from gliopet.export import read_measurement_report

    pet = _pet_files(_stored(exported["db"])["SIM001"]["pet"])[0]
    measurement = hd.sr.Measurement(name=codes.DCM.Suvbw, value=3.25,
                                    unit=hd.sr.CodedConcept("{SUVbw}g/ml", "UCUM", "Standardized Uptake Value body weight"),
                                    derivation=codes.SCT.Maximum)
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="hot spot"),
        measurements=[measurement])
    observer = hd.sr.ObserverContext(observer_type=codes.DCM.Person,
                                     observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                                         name="Reader^One"))
    report = hd.sr.MeasurementReport(observation_context=hd.sr.ObservationContext(observer_person_context=observer),
                                     procedure_reported=codes.LN.PETUnspecifiedBodyRegion,
                                     imaging_measurements=[group])
    sr = hd.sr.Comprehensive3DSR(evidence=[pet], content=report[0], series_instance_uid=hd.UID(), series_number=5,
                                 sop_instance_uid=hd.UID(), instance_number=1, manufacturer="other")
    sr.save_as(tmp_path / "other.dcm")
    (found,) = read_measurement_report(tmp_path / "other.dcm")
    assert (found.group, found.concept, found.derivation, found.value, found.unit) == (
        "hot spot", ("DCM", "126401", "SUVbw"), ("SCT", "56851009", "Maximum"), 3.25, "g/ml{SUVbw}")
