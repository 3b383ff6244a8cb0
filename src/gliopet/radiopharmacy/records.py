"""Batch records and tracer specifications: reading, validating, resolving raw data.

A batch record is a JSON or YAML file (schema ``schema/batch-record.schema.json``);
it names its tracer specification (a shipped one under ``specs/`` by name, or a
file by path) and points at its raw data (chromatogram and strip-scan CSVs,
by paths relative to the record). This module is the only one in the package
that touches files on input: it returns a :class:`BatchRecord` holding plain
values and arrays, which :mod:`.release` evaluates without any I/O.

Every error is an :class:`~gliopet.errors.InputError` with one line naming the
file and the field path (``qc.half_life.readings[1].time``) at fault.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import jsonschema
import numpy as np
import yaml

from ..errors import InputError
from .decay import activity_to_bq

logger = logging.getLogger(__name__)

__all__ = [
    "Reading",
    "Trace",
    "SpecTest",
    "Specification",
    "Injection",
    "BatchRecord",
    "load_batch_record",
    "load_specification",
    "shipped_specifications",
    "read_trace_csv",
    "normalise_nuclide",
]

#: Default CSV column names for each kind of trace.
HPLC_COLUMNS = ("time_min", "signal")
ITLC_COLUMNS = ("position_mm", "counts")
#: Largest CSV accepted (a radio-HPLC run at 10 Hz for an hour is ~1 MB).
MAX_TRACE_BYTES = 64 * 1024 * 1024

_RECORD_SCHEMA = "batch-record.schema.json"
_SPEC_SCHEMA = "specification.schema.json"
_DATETIME_PATTERN = (r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
                     r"(Z|[+-]\d{2}:?\d{2})?$")
_SPEC_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


# --------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class Reading:
    """A dose-calibrator reading: ``activity_bq`` at ``time``."""

    time: datetime
    activity_bq: float


@dataclass(frozen=True, slots=True)
class Trace:
    """A chromatogram or strip scan read from ``file`` (x and signal columns)."""

    file: Path
    x: np.ndarray
    signal: np.ndarray
    x_column: str
    signal_column: str


@dataclass(frozen=True, slots=True)
class SpecTest:
    """One release test of a specification (see ``schema/specification.schema.json``)."""

    name: str
    title: str
    method: str
    unit: str
    mandatory: bool
    limits: Mapping[str, Any]
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Specification:
    """A tracer's release specification."""

    name: str
    tracer: str
    nuclide: str
    half_life_min: float
    tests: tuple[SpecTest, ...]
    source: str
    file: str

    def test(self, name: str) -> SpecTest:
        """The test called ``name``."""
        for test in self.tests:
            if test.name == name:
                return test
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class Injection:
    """One administration from the batch (``subject`` is a study pseudonym)."""

    subject: str
    before: Reading
    after: Reading
    injection_time: datetime


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """A validated batch record with its raw data loaded.

    ``qc`` maps each test name present in the record to its parsed inputs
    (datetimes, :class:`Reading`, :class:`Trace`, numbers), shaped by the
    test's method; see :mod:`.release`.
    """

    file: Path
    batch_id: str
    tracer: str
    specification: Specification
    synthesis_start: datetime
    synthesis_end: datetime
    elution_time: datetime | None
    product_readings: tuple[Reading, ...]
    product_volume_ml: float | None
    qc: Mapping[str, Mapping[str, Any]]
    injections: tuple[Injection, ...]
    generator: Mapping[str, Any]


# ------------------------------------------------------------------ file helpers


def _schema(name: str) -> dict:
    text = resources.files(__package__).joinpath("schema", name).read_text(encoding="utf-8")
    return json.loads(text)


class _NoTimestampLoader(yaml.SafeLoader):
    """Safe YAML loader that leaves date-times as strings (the schema checks them)."""


_NoTimestampLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _read_mapping(path: Path, what: str) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such {what} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read {what} ({type(exc).__name__})") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            data = yaml.load(text, Loader=_NoTimestampLoader)  # noqa: S506 (safe loader subclass)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: "
                         f"{exc.msg})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise InputError(f"{path}: not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a {what} must be a JSON/YAML object at the top level")
    _reject_non_finite(data, file=path, where=())
    return data


def _reject_non_finite(value: Any, *, file: Path, where: tuple) -> None:
    """NaN and infinities pass JSON-schema number checks; refuse them by field."""
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{file}: {_field_path(where)}: {value} is not a finite number")
    if isinstance(value, dict):
        for key, item in value.items():
            _reject_non_finite(item, file=file, where=where + (str(key),))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _reject_non_finite(item, file=file, where=where + (index,))


def _field_path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _validate(data: Any, schema: dict, *, file: Path, prefix: tuple = ()) -> None:
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is None:
        return
    where = _field_path(prefix + tuple(error.absolute_path))
    message = error.message
    if error.validator == "pattern" and error.validator_value == _DATETIME_PATTERN:
        message = f"{error.instance!r} is not an ISO 8601 date-time (e.g. 2026-03-14T09:30:00)"
    elif error.validator == "additionalProperties":
        message = f"unknown field: {message}"
    elif error.validator == "oneOf":
        message = "give either bubble_point_bar and minimum_bubble_point_bar, or intact"
    if len(message) > 200:
        message = message[:197] + "..."
    raise InputError(f"{file}: {where}: {message}")


def _datetime(value: str, *, file: Path, where: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace(" ", "T", 1) if "T" not in value else value)
    except ValueError:
        raise InputError(f"{file}: {where}: {value!r} is not a valid date-time") from None


# --------------------------------------------------------------- specifications


def shipped_specifications() -> list[str]:
    """Names of the specifications shipped with gliopet (``specs/*.yaml``)."""
    folder = resources.files(__package__).joinpath("specs")
    return sorted(p.name.rsplit(".", 1)[0] for p in folder.iterdir()
                  if p.name.endswith((".yaml", ".yml", ".json")))


def load_specification(name_or_path: str | Path, *, base_dir: Path | None = None) -> Specification:
    """Load and validate a tracer specification.

    Parameters
    ----------
    name_or_path : str or Path
        A shipped specification's name (``"68ga-pentixafor"``), or a path to a
        YAML/JSON specification file (relative to ``base_dir`` when given).

    Raises
    ------
    InputError
        Unknown name, unreadable file, or a field that fails the schema.
    """
    text = str(name_or_path)
    if _SPEC_NAME.match(text) and not text.endswith((".yaml", ".yml", ".json")):
        if text not in shipped_specifications():
            raise InputError(f"specification {text!r} is not shipped (known: "
                             f"{', '.join(shipped_specifications())}); give a file path instead")
        resource = resources.files(__package__).joinpath("specs", f"{text}.yaml")
        with resources.as_file(resource) as path:
            data = _read_mapping(Path(path), "specification")
            file = Path(path)
    else:
        file = Path(text)
        if base_dir is not None and not file.is_absolute():
            file = base_dir / file
        data = _read_mapping(file, "specification")
    _validate(data, _schema(_SPEC_SCHEMA), file=file)
    tests = []
    seen = set()
    for n, item in enumerate(data["tests"]):
        if item["name"] in seen:
            raise InputError(f"{file}: tests[{n}].name: duplicate test name {item['name']!r}")
        seen.add(item["name"])
        options = {k: v for k, v in item.items()
                   if k not in {"name", "title", "method", "unit", "mandatory", "limits", "note"}}
        for key in ("product_window_min", "product_rf"):
            if key in options and not options[key][0] < options[key][1]:
                raise InputError(f"{file}: tests[{n}].{key}: must be [low, high] with low < high")
        _check_limits(item["limits"], file=file, where=f"tests[{n}].limits")
        if (item["method"] == "filter_integrity") != ("passes" in item["limits"]):
            raise InputError(f"{file}: tests[{n}].limits: method {item['method']!r} needs "
                             + ("{passes: true}" if item["method"] == "filter_integrity"
                                else "numeric limits, not 'passes'"))
        tests.append(SpecTest(name=item["name"], title=item["title"], method=item["method"],
                              unit=item.get("unit", ""), mandatory=item["mandatory"],
                              limits=MappingProxyType(dict(item["limits"])),
                              options=MappingProxyType(options)))
    return Specification(name=data["name"], tracer=data["tracer"], nuclide=data["nuclide"],
                         half_life_min=float(data["half_life_min"]), tests=tuple(tests),
                         source=data.get("source", ""), file=str(file))


def _check_limits(limits: Mapping[str, Any], *, file: Path, where: str) -> None:
    if "passes" in limits and len(limits) > 1:
        raise InputError(f"{file}: {where}: 'passes' cannot be combined with numeric limits")
    low = [limits[k] for k in ("greater_than", "at_least") if k in limits]
    high = [limits[k] for k in ("less_than", "at_most") if k in limits]
    if len(low) > 1 or len(high) > 1:
        raise InputError(f"{file}: {where}: give at most one lower and one upper limit")
    if low and high and not low[0] < high[0]:
        raise InputError(f"{file}: {where}: lower limit {low[0]} is not below upper {high[0]}")


# ------------------------------------------------------------------ traces (CSV)


def read_trace_csv(path: Path, *, x_column: str, signal_column: str, where: str = "") -> Trace:
    """Read two numeric columns from a CSV file with a header row.

    The x column (retention time or strip position) must increase strictly;
    both must be finite numbers. ``where`` (the record field that named the
    file) is added to error messages.

    Raises
    ------
    InputError
        Missing file or column, a non-number, or x not strictly increasing,
        naming the file, column and line.
    """
    context = f" (named by {where})" if where else ""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"{path}: no such file{context}") from None
    if size > MAX_TRACE_BYTES:
        raise InputError(f"{path}: {size} bytes is larger than the {MAX_TRACE_BYTES} accepted"
                         f"{context}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: cannot read CSV ({type(exc).__name__}){context}") from None
    if not rows:
        raise InputError(f"{path}: empty file{context}")
    header = [h.strip() for h in rows[0]]
    for column in (x_column, signal_column):
        if column not in header:
            raise InputError(f"{path}: no column {column!r} in the header "
                             f"({', '.join(header)}){context}")
    ix, iy = header.index(x_column), header.index(signal_column)
    xs, ys = [], []
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        values = []
        for column, index in ((x_column, ix), (signal_column, iy)):
            cell = row[index].strip() if index < len(row) else ""
            try:
                value = float(cell)
            except ValueError:
                raise InputError(f"{path}: line {line}, column {column!r}: {cell!r} is not a "
                                 f"number{context}") from None
            if not math.isfinite(value):
                raise InputError(f"{path}: line {line}, column {column!r}: {cell!r} is not a "
                                 f"finite number{context}")
            values.append(value)
        if xs and values[0] <= xs[-1]:
            raise InputError(f"{path}: line {line}, column {x_column!r}: {values[0]:g} does not "
                             f"increase after {xs[-1]:g} (must be strictly increasing){context}")
        xs.append(values[0])
        ys.append(values[1])
    if len(xs) < 20:
        raise InputError(f"{path}: {len(xs)} data rows; at least 20 are needed{context}")
    return Trace(file=path, x=np.asarray(xs), signal=np.asarray(ys), x_column=x_column,
                 signal_column=signal_column)


# ---------------------------------------------------------------------- records


_NUCLIDE = re.compile(r"\s*(?:(?P<m1>\d+)(?P<x1>m?)\s*-?\s*(?P<e1>[A-Za-z]{1,2})"
                      r"|(?P<e2>[A-Za-z]{1,2})\s*-?\s*(?P<m2>\d+)(?P<x2>m?))\s*")


def normalise_nuclide(name: str) -> str:
    """``'68Ga'``, ``'Ga68'``, ``'ga-68'`` -> ``'Ga-68'``; ``'99mTc'`` -> ``'Tc-99m'``.

    Names that are not element + mass number are returned stripped, unchanged.
    """
    match = _NUCLIDE.fullmatch(name)
    if not match:
        return name.strip()
    element = match["e1"] or match["e2"]
    mass = match["m1"] or match["m2"]
    meta = match["x1"] or match["x2"] or ""
    return f"{element[0].upper()}{element[1:].lower()}-{mass}{meta}"


class _Parser:
    """Turns the validated JSON of one record into plain values, checking times."""

    def __init__(self, file: Path, data: dict):
        self.file = file
        self.data = data
        self.aware: bool | None = None
        self.synthesis_end: datetime | None = None

    def time(self, value: str, where: str) -> datetime:
        moment = _datetime(value, file=self.file, where=where)
        aware = moment.tzinfo is not None
        if self.aware is None:
            self.aware = aware
        elif aware != self.aware:
            raise InputError(f"{self.file}: {where}: {value!r} mixes times with and without a "
                             f"UTC offset; give all times one way")
        return moment

    def after_synthesis(self, value: str, where: str) -> datetime:
        moment = self.time(value, where)
        if self.synthesis_end is not None and moment < self.synthesis_end:
            raise InputError(f"{self.file}: {where}: {value} is before the end of synthesis "
                             f"(synthesis.end {self.synthesis_end.isoformat()})")
        return moment

    def reading(self, item: dict, where: str) -> Reading:
        return Reading(time=self.after_synthesis(item["time"], f"{where}.time"),
                       activity_bq=activity_to_bq(item["activity"], item["unit"]))

    def trace(self, spec: dict, where: str, defaults: tuple[str, str]) -> Trace:
        path = Path(spec["file"])
        if not path.is_absolute():
            path = self.file.parent / path
        return read_trace_csv(path, x_column=spec.get("x_column", defaults[0]),
                              signal_column=spec.get("signal_column", defaults[1]),
                              where=f"{where} in {self.file}")

    def window(self, value, where: str, fallback, what: str) -> tuple[float, float]:
        window = value if value is not None else fallback
        if window is None:
            raise InputError(f"{self.file}: {where}: missing; the specification gives no default "
                             f"{what}")
        if not window[0] < window[1]:
            raise InputError(f"{self.file}: {where}: must be [low, high] with low < high")
        return (float(window[0]), float(window[1]))


def _parse_qc(parser: _Parser, name: str, entry: dict, test: SpecTest) -> dict:
    where = f"qc.{name}"
    file = parser.file
    method = test.method
    if method == "reading":
        unit = entry.get("unit")
        if unit is not None and test.unit and unit != test.unit:
            raise InputError(f"{file}: {where}.unit: {unit!r} differs from the specification's "
                             f"unit {test.unit!r}")
        out = {"value": float(entry["value"])}
        if "time" in entry:
            out["time"] = parser.after_synthesis(entry["time"], f"{where}.time")
        return out
    if method == "half_life":
        readings = tuple(parser.reading(r, f"{where}.readings[{i}]")
                         for i, r in enumerate(entry["readings"]))
        for i, reading in enumerate(readings):
            if reading.activity_bq <= 0:
                raise InputError(f"{file}: {where}.readings[{i}].activity: must be > 0 to fit a "
                                 f"half-life")
        return {"readings": readings}
    if method == "radio_hplc":
        out = {"trace": parser.trace(entry["chromatogram"], f"{where}.chromatogram", HPLC_COLUMNS),
               "window": parser.window(entry.get("product_window_min"),
                                       f"{where}.product_window_min",
                                       test.options.get("product_window_min"),
                                       "product retention window")}
        if "time" in entry:
            out["time"] = parser.after_synthesis(entry["time"], f"{where}.time")
        return out
    if method == "itlc":
        if entry["origin_mm"] == entry["front_mm"]:
            raise InputError(f"{file}: {where}.front_mm: equals origin_mm")
        out = {"trace": parser.trace(entry["scan"], f"{where}.scan", ITLC_COLUMNS),
               "origin_mm": float(entry["origin_mm"]), "front_mm": float(entry["front_mm"]),
               "window": parser.window(entry.get("product_rf"), f"{where}.product_rf",
                                       test.options.get("product_rf"), "product Rf window")}
        if "time" in entry:
            out["time"] = parser.after_synthesis(entry["time"], f"{where}.time")
        return out
    if method == "radionuclide_purity":
        nuclides = []
        for i, item in enumerate(entry["nuclides"]):
            nuclide = normalise_nuclide(item["nuclide"])
            if any(n == nuclide for n, _ in nuclides):
                raise InputError(f"{file}: {where}.nuclides[{i}].nuclide: {item['nuclide']!r} "
                                 f"listed twice")
            nuclides.append((nuclide, activity_to_bq(item["activity"], item["unit"])))
        out = {"nuclides": tuple(nuclides)}
        if "time" in entry:
            out["time"] = parser.after_synthesis(entry["time"], f"{where}.time")
        return out
    if method == "filter_integrity":
        return dict(entry)
    if method == "stability_hplc":
        measurements = []
        for i, item in enumerate(entry["measurements"]):
            w = f"{where}.measurements[{i}]"
            fallback = entry.get("product_window_min", test.options.get("product_window_min"))
            measurements.append({
                "time": parser.after_synthesis(item["time"], f"{w}.time"),
                "trace": parser.trace(item["chromatogram"], f"{w}.chromatogram", HPLC_COLUMNS),
                "window": parser.window(item.get("product_window_min"), f"{w}.product_window_min",
                                        fallback, "product retention window"),
            })
        return {"measurements": tuple(measurements)}
    raise InputError(f"{file}: {where}: unknown method {method!r}")  # schema prevents this


def load_batch_record(path: str | Path) -> BatchRecord:
    """Read, validate and resolve a batch record (JSON or YAML).

    Checks, each failing with an :class:`InputError` naming the file and field:
    the record schema; the specification (shipped name or file) and that its
    tracer is the record's; every ``qc`` entry against its test's method
    schema, with no entry the specification does not know; date-times valid,
    all with or all without UTC offset, and none of the product's readings
    before the end of synthesis; activities not negative; the raw-data CSVs
    present, numeric, with strictly increasing position.

    Returns
    -------
    BatchRecord
    """
    file = Path(path)
    data = _read_mapping(file, "batch record")
    schema = _schema(_RECORD_SCHEMA)
    _validate(data, schema, file=file)
    try:
        spec = load_specification(data["specification"], base_dir=file.parent)
    except InputError as exc:
        raise InputError(f"{file}: specification: {exc}") from None
    if spec.tracer.casefold() != data["tracer"].casefold():
        raise InputError(f"{file}: tracer: {data['tracer']!r} is not the specification's tracer "
                         f"{spec.tracer!r} ({spec.name})")
    parser = _Parser(file, data)
    start = parser.time(data["synthesis"]["start"], "synthesis.start")
    end = parser.time(data["synthesis"]["end"], "synthesis.end")
    if end < start:
        raise InputError(f"{file}: synthesis.end: {data['synthesis']['end']} is before "
                         f"synthesis.start")
    elution_time = None
    if "elution" in data:
        elution_time = parser.time(data["elution"]["time"], "elution.time")
        if elution_time > start:
            raise InputError(f"{file}: elution.time: {data['elution']['time']} is after "
                             f"synthesis.start")
    parser.synthesis_end = end
    product = data.get("product", {})
    product_readings = tuple(parser.reading(r, f"product.activity_readings[{i}]")
                             for i, r in enumerate(product.get("activity_readings", [])))
    qc = {}
    known = {t.name for t in spec.tests}
    for name, entry in data["qc"].items():
        if name not in known:
            raise InputError(f"{file}: qc.{name}: not a test of specification {spec.name!r} "
                             f"(its tests: {', '.join(t.name for t in spec.tests)})")
        test = spec.test(name)
        method_schema = {"$defs": schema["$defs"], "$ref": f"#/$defs/method_{test.method}"}
        _validate(entry, method_schema, file=file, prefix=("qc", name))
        qc[name] = MappingProxyType(_parse_qc(parser, name, entry, test))
    injections = []
    for i, item in enumerate(data.get("injections", [])):
        where = f"injections[{i}]"
        before = parser.reading(item["syringe_before"], f"{where}.syringe_before")
        after = parser.reading(item["syringe_after"], f"{where}.syringe_after")
        at = parser.after_synthesis(item["injection_time"], f"{where}.injection_time")
        if at < before.time:
            raise InputError(f"{file}: {where}.injection_time: {item['injection_time']} is before "
                             f"the full-syringe reading ({where}.syringe_before.time)")
        if after.time < at:
            raise InputError(f"{file}: {where}.syringe_after.time: {item['syringe_after']['time']}"
                             f" is before the injection ({where}.injection_time)")
        injections.append(Injection(subject=item["subject"], before=before, after=after,
                                    injection_time=at))
    logger.info("%s: batch %s, %d QC entries, %d injections", file, data["batch_id"], len(qc),
                len(injections))
    return BatchRecord(file=file, batch_id=data["batch_id"], tracer=data["tracer"],
                       specification=spec, synthesis_start=start, synthesis_end=end,
                       elution_time=elution_time, product_readings=product_readings,
                       product_volume_ml=product.get("volume_ml"),
                       qc=MappingProxyType(qc), injections=tuple(injections),
                       generator=MappingProxyType(dict(data.get("generator", {}))))
