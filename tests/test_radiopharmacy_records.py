"""Batch records and specifications: schema validation, raw data, one-line errors."""

import json
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data" / "radiopharmacy"
sys.path.insert(0, str(DATA))
import make_batch  # noqa: E402

from gliopet.errors import InputError  # noqa: E402
from gliopet.radiopharmacy import load_batch_record, load_specification  # noqa: E402
from gliopet.radiopharmacy.records import normalise_nuclide, read_trace_csv  # noqa: E402


def test_committed_example_loads_with_its_raw_data():
    record = load_batch_record(DATA / "batch-pass.json")
    assert record.batch_id == "PTX-20260314-01"
    assert record.specification.name == "68ga-pentixafor"
    trace = record.qc["radiochemical_purity_hplc"]["trace"]
    assert trace.x[0] == 0.0 and trace.x[-1] == 28.0 and trace.x.size == 2801  # 0..28 by 0.01
    readings = record.qc["half_life"]["readings"]
    assert len(readings) == 7 and readings[0].activity_bq == pytest.approx(
        json.loads((DATA / "batch-pass.json").read_text())["qc"]["half_life"]["readings"][0][
            "activity"] * 1e6)
    assert record.injections[0].subject == "P01"


def test_committed_example_is_what_the_script_writes(tmp_path):
    make_batch.write_batch(tmp_path)
    for name in ("batch-pass.json", "hplc.csv", "itlc.csv", "stability-4h.csv"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


def test_demo_example_is_what_the_script_writes_and_loads(tmp_path):
    make_batch.write_batch(tmp_path, stability=[], name=make_batch.EXAMPLE_NAME)
    for name in (make_batch.EXAMPLE_NAME, "hplc.csv", "itlc.csv"):
        assert (tmp_path / name).read_bytes() == (make_batch.EXAMPLE / name).read_bytes(), name
    record = load_batch_record(make_batch.EXAMPLE / make_batch.EXAMPLE_NAME)
    assert "stability" not in record.qc


def test_yaml_record_with_unquoted_times(tmp_path):
    path = make_batch.write_batch(tmp_path, name="batch.yaml")
    text = path.read_text()
    assert "'2026-03-14T07:30:00'" in text
    # unquoted YAML timestamps must stay date-times, not be turned into other types
    path.write_text(text.replace("'2026-03-14T07:30:00'", "2026-03-14T07:30:00"))
    record = load_batch_record(path)
    assert record.synthesis_start.isoformat() == "2026-03-14T07:30:00"


def _error(tmp_path, overrides, name="batch.json"):
    path = make_batch.write_batch(tmp_path, overrides=overrides, name=name)
    with pytest.raises(InputError) as info:
        load_batch_record(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def _set(path, value):
    def apply(record):
        target = record
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return record
    return apply


@pytest.mark.parametrize("path, value, expected", [
    (("qc", "half_life", "readings", 2, "activity"), -5.0,
     "batch.json: qc.half_life.readings[2].activity: -5.0 is less than the minimum of 0"),
    (("qc", "half_life", "readings", 0, "time"), "2026-03-14T07:40:00",
     "batch.json: qc.half_life.readings[0].time: 2026-03-14T07:40:00 is before the end of "
     "synthesis (synthesis.end 2026-03-14T07:52:00)"),
    (("qc", "half_life", "readings", 0, "time"), "14.03.2026 08:00",
     "batch.json: qc.half_life.readings[0].time: '14.03.2026 08:00' is not an ISO 8601 "
     "date-time"),
    (("qc", "half_life", "readings", 0, "time"), "2026-02-30T08:00:00",
     "batch.json: qc.half_life.readings[0].time: '2026-02-30T08:00:00' is not a valid date-time"),
    (("qc", "half_life", "readings", 0, "unit"), "mbq",
     "batch.json: qc.half_life.readings[0].unit: 'mbq' is not one of"),
    (("qc", "ph", "value"), "7", "batch.json: qc.ph.value: '7' is not of type 'number'"),
    (("qc", "endotoxin", "unit"), "EU/ml",
     "batch.json: qc.endotoxin.unit: 'EU/ml' differs from the specification's unit 'EU/mL'"),
    (("qc", "sterility"), {"value": 1},
     "batch.json: qc.sterility: not a test of specification '68ga-pentixafor'"),
    (("injections", 0, "syringe_after", "activity"), -0.1,
     "batch.json: injections[0].syringe_after.activity: -0.1 is less than the minimum of 0"),
    (("injections", 0, "syringe_before", "time"), "2026-03-14T07:00:00",
     "batch.json: injections[0].syringe_before.time: 2026-03-14T07:00:00 is before the end of "
     "synthesis"),
    (("injections", 0, "injection_time"), "2026-03-14T08:55:00",
     "batch.json: injections[0].syringe_after.time: 2026-03-14T08:50:00 is before the "
     "injection"),
    (("synthesis", "end"), "2026-03-14T07:00:00",
     "batch.json: synthesis.end: 2026-03-14T07:00:00 is before synthesis.start"),
    (("synthesis", "end"), "2026-03-14T07:52:00+01:00",
     "batch.json: synthesis.end: '2026-03-14T07:52:00+01:00' mixes times with and without"),
    (("tracer",), "68Ga-DOTATATE",
     "batch.json: tracer: '68Ga-DOTATATE' is not the specification's tracer '68Ga-Pentixafor'"),
    (("specification",), "18f-nothing", "specification '18f-nothing' is not shipped"),
    (("batch_id",), "../../etc", "batch.json: batch_id: '../../etc' does not match"),
    (("colour",), "blue", "batch.json: (top level): unknown field: Additional properties"),
    (("qc", "filter_integrity", "intact"), True,
     "batch.json: qc.filter_integrity: give either bubble_point_bar and "
     "minimum_bubble_point_bar, or intact"),
    (("qc", "radiochemical_purity_itlc", "front_mm"), 10.0,
     "batch.json: qc.radiochemical_purity_itlc.front_mm: equals origin_mm"),
])
def test_bad_fields_name_the_file_and_the_field(tmp_path, path, value, expected):
    message = _error(tmp_path, _set(path, value))
    assert expected in message
    assert message.startswith(str(tmp_path / "batch.json"))


def test_missing_product_window_names_the_field(tmp_path):
    def drop(record):
        del record["qc"]["radiochemical_purity_hplc"]["product_window_min"]
        return record
    assert ("batch.json: qc.radiochemical_purity_hplc.product_window_min: missing; the "
            "specification gives no default product retention window") in _error(tmp_path, drop)


def test_chromatogram_with_non_monotonic_time_names_file_line_and_field(tmp_path):
    path = make_batch.write_batch(tmp_path)
    lines = (tmp_path / "hplc.csv").read_text().splitlines()
    lines[101], lines[102] = lines[102], lines[101]  # rows at 1.00 and 1.01 min swapped
    (tmp_path / "hplc.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        load_batch_record(path)
    assert str(info.value) == (
        f"{tmp_path / 'hplc.csv'}: line 103, column 'time_min': 1 does not increase after 1.01 "
        f"(must be strictly increasing) (named by qc.radiochemical_purity_hplc.chromatogram in "
        f"{path})")


@pytest.mark.parametrize("content, expected", [
    ("time_min,signal\n" + "".join(f"{i / 10},{i}\n" for i in range(5)),
     "5 data rows; at least 20 are needed"),
    ("time,signal\n0,1\n", "no column 'time_min' in the header (time, signal)"),
    ("time_min,signal\n0,1\n0.1,abc\n", "line 3, column 'signal': 'abc' is not a number"),
    ("time_min,signal\n0,1\n0.1,nan\n", "line 3, column 'signal': 'nan' is not a finite number"),
    ("", "empty file"),
])
def test_bad_trace_files(tmp_path, content, expected):
    path = tmp_path / "trace.csv"
    path.write_text(content)
    with pytest.raises(InputError, match="^" + str(path).replace(".", r"\.") + ": ") as info:
        read_trace_csv(path, x_column="time_min", signal_column="signal")
    assert expected in str(info.value)


def test_missing_chromatogram_file(tmp_path):
    def elsewhere(record):
        record["qc"]["radiochemical_purity_hplc"]["chromatogram"]["file"] = "nowhere.csv"
        return record
    assert "nowhere.csv: no such file (named by qc.radiochemical_purity_hplc.chromatogram" in \
        _error(tmp_path, elsewhere)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused(tmp_path, text):
    path = make_batch.write_batch(tmp_path)
    raw = path.read_text().replace('"value": 7.0', f'"value": {text}')
    path.write_text(raw)
    with pytest.raises(InputError, match=r"batch-pass\.json: qc\.ph\.value: -?(nan|inf) is not a "
                                         r"finite number"):
        load_batch_record(path)


def test_not_json(tmp_path):
    path = tmp_path / "batch.json"
    path.write_text("{ not json")
    with pytest.raises(InputError, match=r"batch\.json: not valid JSON \(line 1, column 3"):
        load_batch_record(path)


def test_specification_errors_name_the_file_and_field(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("schema_version: 1\nname: x\ntracer: X\nnuclide: Ga-68\nhalf_life_min: 67.71\n"
                    "tests:\n  - {name: ph, title: pH, method: reading, mandatory: true,"
                    " limits: {at_least: 9, at_most: 5}}\n")
    with pytest.raises(InputError, match=r"spec\.yaml: tests\[0\]\.limits: lower limit 9 is not "
                                         r"below upper 5"):
        load_specification(spec)
    spec.write_text(spec.read_text().replace("{at_least: 9, at_most: 5}", "{passes: true}"))
    with pytest.raises(InputError, match=r"spec\.yaml: tests\[0\]\.limits: method 'reading' "
                                         r"needs numeric limits, not 'passes'"):
        load_specification(spec)
    spec.write_text(spec.read_text().replace("method: reading", "method: guess"))
    with pytest.raises(InputError, match=r"spec\.yaml: tests\[0\]\.method: 'guess' is not one of"):
        load_specification(spec)


@pytest.mark.parametrize("name, expected", [("68Ga", "Ga-68"), ("Ga-68", "Ga-68"),
                                            ("ga68", "Ga-68"), ("68Ge", "Ge-68"),
                                            ("99mTc", "Tc-99m"), ("F 18", "F-18")])
def test_nuclide_names(name, expected):
    assert normalise_nuclide(name) == expected
