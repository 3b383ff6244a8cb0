"""Clinical CSV validation (gliopet.clinical) and its import through the store and the CLI."""

from __future__ import annotations

from datetime import date

import pytest
from click.testing import CliRunner

from gliopet.clinical import MAX_PET_MRI_DAYS, parse_clinical_rows, read_clinical_csv
from gliopet.errors import InputError

HEADER = "patient_id,sex,age,diagnosis,who_grade,referral,prior_surgery,prior_chemotherapy,prior_radiotherapy," \
         "mri_date,pet_date,visual"
GOOD = [
    "P01,F,53,GBM,IV,staging,no,no,no,2021-03-07,2021-03-15,positive",
    "P02,M,55,Anaplastic Astrocytoma,iii,recurrence,yes,yes,no,2021-08-28,2021-09-06,negative",
]


def _write(tmp_path, lines, name="clinical.csv"):
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    return path


def test_valid_rows_parse_to_typed_values(tmp_path):
    table = read_clinical_csv(_write(tmp_path, GOOD))
    first, second = table.rows
    assert first["patient_id"] == "P01" and first["sex"] == "F" and first["age_years"] == 53.0
    assert first["mri_date"] == date(2021, 3, 7) and first["pet_date"] == date(2021, 3, 15)
    assert second["who_grade"] == "III"  # "iii" in the file: choices are case-insensitive, stored canonical
    assert first["extra"] == {"visual": "positive"} and second["extra"] == {"visual": "negative"}
    assert table.skipped == ()


@pytest.mark.parametrize("bad_line, line, column, words", [
    # Line numbers: the header is line 1, GOOD[0] line 2, the bad row line 3.
    ("P03,M,40,GBM,V,staging,no,no,no,2021-01-01,2021-01-05,positive", 3, "who_grade", "not one of II|III|IV"),
    ("P03,M,40,GBM,IV,staging,no,no,no,2021-02-30,2021-03-05,positive", 3, "mri_date", "not a date"),
    ("P01,M,40,GBM,IV,staging,no,no,no,2021-01-01,2021-01-05,positive", 3, "patient_id", "repeats"),
    # 2021-01-01 -> 2021-01-23 is 22 days: one more than the study's 3 weeks (21 days).
    ("P03,M,40,GBM,IV,staging,no,no,no,2021-01-01,2021-01-23,positive", 3, "pet_date", "22 days"),
    ("P03,M,,GBM,IV,staging,no,no,no,2021-01-01,2021-01-05,positive", 3, "age", "empty"),
])
def test_each_kind_of_error_names_file_row_and_column(tmp_path, bad_line, line, column, words):
    path = _write(tmp_path, [GOOD[0], bad_line])
    with pytest.raises(InputError) as info:
        read_clinical_csv(path)
    message = str(info.value)
    assert message.startswith(f"clinical.csv: line {line}, column '{column}'")
    assert words in message and "nothing imported" in message
    assert "P03" not in message and "P01" not in message  # never the patient identifier
    assert "\n" not in message


def test_window_is_inclusive_at_21_days(tmp_path):
    # 2021-01-01 -> 2021-01-22 is exactly 21 days: allowed. Either order (PET before MRI) counts.
    assert MAX_PET_MRI_DAYS == 21
    table = read_clinical_csv(_write(tmp_path, [
        "P03,M,40,GBM,IV,staging,no,no,no,2021-01-01,2021-01-22,positive",
        "P04,M,40,GBM,IV,staging,no,no,no,2021-01-22,2021-01-01,positive"]))
    assert len(table.rows) == 2


def test_all_errors_counted_and_skip_invalid_names_the_rows(tmp_path):
    lines = [GOOD[0], "P03,X,40,GBM,IV,staging,no,no,no,2021-01-01,2021-01-05,positive",
             GOOD[1], "P04,M,40,GBM,I,staging,no,no,no,2021-13-01,2021-01-05,positive"]
    path = _write(tmp_path, lines)
    with pytest.raises(InputError, match=r"line 3, column 'sex'.*and 2 more error\(s\)"):
        read_clinical_csv(path)  # line 3: sex; line 5: grade and date -> 3 errors
    table = read_clinical_csv(path, skip_invalid=True)
    assert [r["patient_id"] for r in table.rows] == ["P01", "P02"]
    assert table.skipped_lines == (3, 5)
    assert {(e.line, e.column) for e in table.skipped} == {(3, "sex"), (5, "who_grade"), (5, "mri_date")}


def test_missing_required_column_and_empty_file(tmp_path):
    with pytest.raises(InputError, match="required column.*who_grade"):
        parse_clinical_rows(["patient_id", "sex", "age", "diagnosis"], [(2, ["P", "F", "1", "GBM"])], source="x.csv")
    with pytest.raises(InputError, match="no data rows"):
        parse_clinical_rows(HEADER.split(","), [], source="x.csv")


def test_cli_analyze_refuses_invalid_csv_and_stores_nothing(tmp_path):
    from gliopet.cli import main
    from gliopet.store import counts, open_store

    path = _write(tmp_path, [GOOD[0], "P03,M,40,GBM,IV,staging,no,no,no,2021-01-01,2021-02-23,positive"])
    db = tmp_path / "store.sqlite"
    engine = open_store(str(db))
    from gliopet.store import import_patients

    import_patients(engine, read_clinical_csv(_write(tmp_path, GOOD, "earlier.csv")).rows, source_file="earlier.csv")
    images = tmp_path / "images"
    images.mkdir()
    result = CliRunner().invoke(main, ["analyze", str(images), "--clinical", str(path), "--db", str(db)])
    assert result.exit_code == 2
    # 2021-01-01 -> 2021-02-23 is 31 + 22 = 53 days.
    assert result.stderr.strip() == ("gliopet: error: clinical.csv: line 3, column 'pet_date': 53 days from "
                                     "mri_date; the study allows at most 21 days (3 weeks) (nothing imported)")
    assert counts(engine)["patients"] == 2  # what was stored before is still there, nothing added
    engine.dispose()
