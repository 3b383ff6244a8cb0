"""A cohort from the store or a CSV (gliopet.cohort): floats kept exactly, kept paths resolved alike,
the recorded parameters in the report's methods.

Values are chosen by hand so that a text round trip would show: 0.1 + 0.2 is not 0.3 in binary, and
1/3 has no short decimal form.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from gliopet.cohort import load_cohort_csv, load_cohort_store, write_cohort_csv
from gliopet.errors import InputError
from gliopet.paths import keep_path, resolve_kept_path
from gliopet.report import ReportParameters, methods_paragraph, write_report
from gliopet.stats import analyse_cohort
from gliopet.store import import_patients, open_store, write_study

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64  # a PNG signature: enough for the report to embed it
SUVMAX = {"P1": 0.1 + 0.2, "P2": 1.0 / 3.0, "P3": 2.5}
BG = {"P1": 0.1, "P2": 0.07, "P3": 0.125}


def _patient(pid: str, grade: str) -> dict:
    return {"patient_id": pid, "sex": "M", "age_years": 61.0, "diagnosis": "GBM", "who_grade": grade,
            "referral": "staging", "prior_surgery": "no", "prior_chemotherapy": "no", "prior_radiotherapy": "no",
            "mri_date": date(2021, 3, 1), "pet_date": date(2021, 3, 8), "extra": {"visual": "positive"}}


def _study(pid: str, folder: Path, snapshot: Path, parameters: dict) -> dict:
    record = {"suvmax": SUVMAX[pid], "bg_suvmax": BG[pid], "tbr_max_to_bg_max": SUVMAX[pid] / BG[pid],
              "snapshot": str(snapshot)}
    return {"patient_id": pid, "study_uid": f"1.2.{pid[1]}", "folder": str(folder), "status": "done",
            "error": None,
            "series": [{"series_uid": f"1.2.{pid[1]}.1", "modality": "PT", "role": "pet", "scan_time_min": 61.3,
                        "folder": str(folder / "PET"), "n_files": 2, "pixel_sha256": "0" * 64}],
            "measurements": [{"series_uid": f"1.2.{pid[1]}.1", "scan_time_min": 60.0, "primary": True,
                              "record": record}],
            "provenance": {"gliopet_version": "9.9", "parameters": parameters, "input_sha256": {}, "host": "h",
                           "started_at": "2026-01-01T00:00:00+00:00", "finished_at": "2026-01-01T00:00:10+00:00"}}


PARAMETERS = {"lesion": "auto", "background": "point", "suv_type": "lbm_janmahasatian", "primary_time_min": 30.0,
              "lesion_roi_diameter_mm": 12.0, "background_roi_diameter_mm": 20.0}


@pytest.fixture
def study_folder(tmp_path):
    """A SQLite store holding three measured patients, their snapshots in a folder beside it."""
    folder = tmp_path / "study"
    (folder / "snapshots").mkdir(parents=True)
    engine = open_store(str(folder / "cohort.sqlite"))
    import_patients(engine, [_patient("P1", "IV"), _patient("P2", "IV"), _patient("P3", "III")], source_file="c.csv")
    for pid in SUVMAX:
        png = folder / "snapshots" / f"{pid}.png"
        png.write_bytes(PNG)
        write_study(engine, _study(pid, tmp_path / "dicom" / pid, png, PARAMETERS))
    engine.dispose()
    return folder


def test_the_store_gives_the_stored_floats_exactly(study_folder):
    source = load_cohort_store(str(study_folder / "cohort.sqlite"))
    rows = {r["patient_id"]: r for r in source.cohort.rows}
    assert rows["P1"]["suvmax"] == 0.1 + 0.2 and rows["P1"]["suvmax"] != 0.3
    assert rows["P2"]["tbr_max_to_bg_max"] == (1.0 / 3.0) / 0.07
    assert rows["P3"]["age"] == 61.0 and rows["P3"]["mri_date"] == "2021-03-01"
    assert source.provenance["input_kind"] == "store" and source.provenance["measured_with"] == ["9.9"]
    assert source.parameters == {**PARAMETERS, "software_version": "9.9"}


def test_paths_are_kept_relative_to_the_store_and_resolved_after_a_move(study_folder, tmp_path):
    import sqlalchemy as sa

    engine = open_store(str(study_folder / "cohort.sqlite"))
    with engine.connect() as connection:
        kept = connection.execute(sa.text("SELECT record FROM measurements")).scalars().all()
        folders = connection.execute(sa.text("SELECT folder FROM studies")).scalars().all()
    engine.dispose()
    # inside the store's folder: relative to it; outside (the DICOM tree): absolute
    assert sum('"snapshots/P1.png"' in r for r in kept) == 1 and not any(str(study_folder) in r for r in kept)
    assert all(Path(f).is_absolute() and Path(f).parent == tmp_path / "dicom" for f in folders)
    moved = tmp_path / "elsewhere" / "renamed"
    moved.parent.mkdir()
    shutil.move(str(study_folder), str(moved))
    rows = {r["patient_id"]: r for r in load_cohort_store(str(moved / "cohort.sqlite")).cohort.rows}
    assert rows["P2"]["snapshot"] == str(moved / "snapshots" / "P2.png")


def test_the_csv_written_from_the_store_reads_back_the_same_values(study_folder, tmp_path):
    source = load_cohort_store(str(study_folder / "cohort.sqlite"))
    out = tmp_path / "export" / "analysis.csv"
    out.parent.mkdir()
    write_cohort_csv(source, out)
    text = out.read_text()
    assert "../study/snapshots/P1.png" not in text  # outside the CSV's folder: kept absolute
    assert str(study_folder / "snapshots" / "P1.png") in text
    back = load_cohort_csv(out).cohort
    for a, b in zip(source.cohort.rows, back.rows):
        assert a == b  # every float, date and path, exactly
    # written inside the store's folder, the paths are relative to the CSV
    inside = write_cohort_csv(source, study_folder / "analysis.csv")
    assert "snapshots/P3.png" in inside.read_text() and str(study_folder) not in inside.read_text()


def test_the_report_states_the_parameters_that_were_stored(study_folder, tmp_path):
    source = load_cohort_store(str(study_folder / "cohort.sqlite"))
    parameters = ReportParameters.from_recorded(source.parameters)
    assert parameters.lesion_roi_diameter_mm == 12.0 and parameters.background_roi_diameter_mm == 20.0
    assert parameters.uptake_time_min == 30 and parameters.software_version == "9.9"
    text = methods_paragraph(parameters, analyse_cohort(source.cohort))
    assert "circular ROI of 12 mm diameter" in text and "circular ROI of 20 mm diameter" in text
    assert "(30 min p.i.)" in text and "SUL" in text and "placed by the reader" in text
    html = write_report(source, tmp_path / "r.html").read_text()
    assert "3 of 3 snapshot(s) embedded." in html
    assert "lesion ROI 12.0 mm, background ROI 20.0 mm" in html


def test_without_recorded_parameters_the_report_states_the_study_method():
    parameters = ReportParameters.from_recorded({})
    assert (parameters.lesion_roi_diameter_mm, parameters.background_roi_diameter_mm) == (10.0, 25.0)


def test_a_patient_without_a_visual_read_is_named_by_row(tmp_path):
    engine = open_store(str(tmp_path / "s.sqlite"))
    patient = {**_patient("P1", "IV"), "extra": {}}
    import_patients(engine, [patient], source_file="c.csv")
    engine.dispose()
    with pytest.raises(InputError, match="patient row 1 has no visual read"):
        load_cohort_store(str(tmp_path / "s.sqlite"))


@pytest.mark.parametrize("path, base, kept", [
    ("/data/demo/measurements/a.png", "/data/demo", "measurements/a.png"),
    ("/data/demo/a.png", "/data/demo", "a.png"),
    ("/data/other/a.png", "/data/demo", "/data/other/a.png"),
    ("/data/demo/a.png", None, "/data/demo/a.png"),
])
def test_keep_path_and_resolve_are_inverse(path, base, kept):
    assert keep_path(path, base) == kept
    assert resolve_kept_path(kept, base) == Path(path)
