"""The release decision: every test computed from raw data and held to its limits.

Pure: :func:`evaluate_batch` takes a loaded :class:`~.records.BatchRecord` (plain
values and arrays, no files) and returns a :class:`ReleaseDecision`. A batch is
released only when every mandatory test of its specification is present and
passes and every optional test that was done passes. A test whose result
cannot be computed from its data (no peak in a chromatogram, readings that do
not decay) fails with the reason; it does not stop the other tests.

References
----------
European Pharmacopoeia 11, 5.19 Extemporaneous preparation of
radiopharmaceuticals and monograph 0125 Radiopharmaceutical preparations
(release before completion of all tests; the qualified person's decision).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import InputError, MeasurementError
from .chromatography import PurityResult, radiochemical_purity_hplc, radiochemical_purity_itlc
from .decay import activity_at_bq, elapsed_s, injected_activity_bq
from .halflife import fit_half_life
from .records import BatchRecord, SpecTest, normalise_nuclide

logger = logging.getLogger(__name__)

__all__ = [
    "TestOutcome",
    "ReleaseDecision",
    "evaluate_batch",
    "evaluate_test",
    "check_limits",
    "format_limits",
]


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """One release test: its result against its specification.

    ``passed`` is ``None`` only for an optional test that was not done.
    """

    __test__ = False  # not a pytest test class

    name: str
    title: str
    method: str
    result: float | bool | None
    unit: str
    specification: str
    passed: bool | None
    mandatory: bool
    reasons: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "method": self.method,
                "result": self.result, "unit": self.unit, "specification": self.specification,
                "passed": self.passed, "mandatory": self.mandatory,
                "reasons": list(self.reasons), "details": dict(self.details)}


@dataclass(frozen=True, slots=True)
class ReleaseDecision:
    """The overall decision for one batch."""

    batch_id: str
    tracer: str
    specification: str
    specification_file: str
    released: bool
    tests: tuple[TestOutcome, ...]
    reasons: tuple[str, ...]
    synthesis_end: str
    activity: Mapping[str, Any]
    injections: tuple[Mapping[str, Any], ...]
    record_file: str

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (``gliopet qc --json``)."""
        return {"batch_id": self.batch_id, "tracer": self.tracer,
                "specification": self.specification,
                "specification_file": self.specification_file,
                "record_file": self.record_file, "released": self.released,
                "reasons": list(self.reasons), "tests": [t.to_dict() for t in self.tests],
                "synthesis_end": self.synthesis_end, "activity": dict(self.activity),
                "injections": [dict(i) for i in self.injections]}


# ----------------------------------------------------------------------- limits


def _fmt(value: float) -> str:
    return f"{value:g}"


def format_limits(limits: Mapping[str, Any], unit: str = "") -> str:
    """Human-readable specification: ``'> 98 %'``, ``'5 to 8.5'``, ``'< 175 EU/mL'``.

    Examples
    --------
    >>> format_limits({"at_least": 62, "at_most": 74}, "min")
    '62 to 74 min'
    """
    suffix = f" {unit}" if unit else ""
    if limits.get("passes"):
        return "passes"
    if "at_least" in limits and "at_most" in limits:
        return f"{_fmt(limits['at_least'])} to {_fmt(limits['at_most'])}{suffix}"
    parts = []
    for key, sign in (("greater_than", ">"), ("at_least", ">="), ("less_than", "<"),
                      ("at_most", "<=")):
        if key in limits:
            parts.append(f"{sign} {_fmt(limits[key])}{suffix}")
    return " and ".join(parts)


def check_limits(value: float, limits: Mapping[str, Any]) -> tuple[bool, str | None]:
    """Hold ``value`` to ``limits``; returns ``(passed, reason or None)``.

    ``greater_than`` / ``less_than`` are strict, ``at_least`` / ``at_most``
    inclusive. The unrounded value is compared: 97.99 is not > 98.

    Examples
    --------
    >>> check_limits(98.0, {"greater_than": 98})
    (False, '98 is not > 98')
    """
    if limits.get("passes"):
        return (bool(value), None if value else "did not pass")
    if isinstance(value, bool) or value is None or not math.isfinite(float(value)):
        return (False, f"result {value!r} is not a finite number")
    value = float(value)
    checks = (("greater_than", lambda v, l: v > l, ">"), ("at_least", lambda v, l: v >= l, ">="),
              ("less_than", lambda v, l: v < l, "<"), ("at_most", lambda v, l: v <= l, "<="))
    for key, holds, sign in checks:
        if key in limits and not holds(value, float(limits[key])):
            return (False, f"{value:.6g} is not {sign} {_fmt(limits[key])}")
    return (True, None)


# ------------------------------------------------------------------ per method


def _purity_details(result: PurityResult, unit_x: str) -> dict:
    return {
        "product_window": list(result.window),
        "window_unit": unit_x,
        "product_area": result.product_area,
        "total_area": result.total_area,
        "noise_sigma": result.noise_sigma,
        "peaks": [{"apex": p.apex, "start": p.start, "end": p.end, "height": p.height,
                   "area": p.area, "area_percent": 100.0 * p.area / result.total_area,
                   "product": p in result.product_peaks} for p in result.peaks],
    }


def _compute(test: SpecTest, data: Mapping[str, Any], record: BatchRecord
             ) -> tuple[float | bool, dict, list[str]]:
    """Result, details and extra failure reasons of one test from its raw data."""
    method = test.method
    if method == "reading":
        return data["value"], {}, []
    if method == "half_life":
        readings = data["readings"]
        t0 = readings[0].time
        fit = fit_half_life([elapsed_s(t0, r.time) for r in readings],
                            [r.activity_bq for r in readings])
        details = {"uncertainty_min": None if fit.uncertainty_s is None
                   else fit.uncertainty_s / 60.0,
                   "n_readings": fit.n_readings, "span_min": fit.span_s / 60.0,
                   "nominal_min": record.specification.half_life_min}
        return fit.half_life_s / 60.0, details, []
    if method == "radio_hplc":
        result = radiochemical_purity_hplc(data["trace"].x, data["trace"].signal,
                                           product_window_min=data["window"])
        details = _purity_details(result, "min")
        details["file"] = str(data["trace"].file)
        reasons = [] if result.product_peaks else [
            f"no peak in the product window {_fmt(result.window[0])} to "
            f"{_fmt(result.window[1])} min"]
        return result.purity_percent, details, reasons
    if method == "itlc":
        result = radiochemical_purity_itlc(data["trace"].x, data["trace"].signal,
                                           origin_mm=data["origin_mm"],
                                           front_mm=data["front_mm"], product_rf=data["window"])
        details = _purity_details(result, "Rf")
        details["file"] = str(data["trace"].file)
        reasons = [] if result.product_peaks else [
            f"no peak in the product Rf window {_fmt(result.window[0])} to "
            f"{_fmt(result.window[1])}"]
        return result.purity_percent, details, reasons
    if method == "radionuclide_purity":
        target = test.options.get("nuclide", record.specification.nuclide)
        target = normalise_nuclide(target)
        activities = dict(data["nuclides"])
        total = sum(activities.values())
        if target not in activities:
            raise MeasurementError(f"{target} is not among the nuclides measured "
                                   f"({', '.join(activities)})")
        if not total > 0:
            raise MeasurementError("total activity of the measured nuclides is zero")
        details = {"nuclide": target,
                   "activities_mbq": {n: a / 1e6 for n, a in data["nuclides"]}}
        return 100.0 * activities[target] / total, details, []
    if method == "filter_integrity":
        if "intact" in data:
            return bool(data["intact"]), {"filter": data.get("filter", "")}, []
        bubble, minimum = float(data["bubble_point_bar"]), float(data["minimum_bubble_point_bar"])
        details = {"filter": data.get("filter", ""), "bubble_point_bar": bubble,
                   "minimum_bubble_point_bar": minimum}
        reasons = [] if bubble >= minimum else [
            f"bubble point {_fmt(bubble)} bar is below the filter's minimum {_fmt(minimum)} bar"]
        return bubble >= minimum, details, reasons
    if method == "stability_hplc":
        duration_h = float(test.options.get("duration_h", 0.0))
        series = []
        for item in data["measurements"]:
            result = radiochemical_purity_hplc(item["trace"].x, item["trace"].signal,
                                               product_window_min=item["window"])
            series.append({"elapsed_h": elapsed_s(record.synthesis_end, item["time"]) / 3600.0,
                           "purity_percent": result.purity_percent,
                           "file": str(item["trace"].file)})
        series.sort(key=lambda s: s["elapsed_h"])
        reasons = []
        for point in series:
            ok, why = check_limits(point["purity_percent"], test.limits)
            if not ok:
                reasons.append(f"at {point['elapsed_h']:.2f} h: {why}")
        covered = series[-1]["elapsed_h"]
        if covered < duration_h:
            reasons.append(f"the series covers {covered:.2f} h after the end of synthesis, "
                           f"less than the {_fmt(duration_h)} h required")
        details = {"series": series, "duration_h": duration_h, "covered_h": covered}
        return min(p["purity_percent"] for p in series), details, reasons
    raise InputError(f"unknown method {method!r} in specification")  # schema prevents this


def evaluate_test(test: SpecTest, data: Mapping[str, Any] | None, record: BatchRecord
                  ) -> TestOutcome:
    """Compute one test from its raw data and hold it to its limits."""
    spec_text = format_limits(test.limits, test.unit)
    common = dict(name=test.name, title=test.title, method=test.method, unit=test.unit,
                  mandatory=test.mandatory)
    if data is None:
        if test.mandatory:
            return TestOutcome(**common, result=None, specification=spec_text, passed=False,
                               reasons=(f"mandatory test missing from the batch record "
                                        f"(qc.{test.name})",))
        return TestOutcome(**common, result=None, specification=spec_text, passed=None,
                           reasons=("not done (optional)",))
    try:
        result, details, extra = _compute(test, data, record)
    except MeasurementError as exc:
        return TestOutcome(**common, result=None, specification=spec_text, passed=False,
                           reasons=(f"cannot be computed from its data: {exc}",))
    if test.method == "filter_integrity":
        if "minimum_bubble_point_bar" in details:
            spec_text = f"bubble point >= {_fmt(details['minimum_bubble_point_bar'])} bar"
            common["unit"] = "bar"
            shown = details["bubble_point_bar"]
        else:
            spec_text = "intact"
            shown = result
        passed = bool(result)
        reasons = tuple(extra) or (() if passed else ("filter integrity test failed",))
        return TestOutcome(**common, result=shown, specification=spec_text, passed=passed,
                           reasons=reasons, details=details)
    ok, why = check_limits(result, test.limits)
    reasons = ([] if ok or test.method == "stability_hplc" else [why]) + list(extra)
    passed = ok and not extra
    return TestOutcome(**common, result=float(result), specification=spec_text, passed=passed,
                       reasons=tuple(reasons), details=details)


def _activity_summary(record: BatchRecord) -> dict:
    half_life_s = record.specification.half_life_min * 60.0
    out: dict[str, Any] = {}
    if record.product_readings:
        first = record.product_readings[0]
        eos_bq = activity_at_bq(first.activity_bq, measured_at=first.time,
                                target_time=record.synthesis_end, half_life_s=half_life_s)
        out["at_end_of_synthesis_mbq"] = eos_bq / 1e6
        out["reading_time"] = first.time.isoformat()
        if record.product_volume_ml:
            out["volume_ml"] = record.product_volume_ml
            out["concentration_at_end_of_synthesis_mbq_per_ml"] = (
                eos_bq / 1e6 / record.product_volume_ml)
    return out


def evaluate_batch(record: BatchRecord) -> ReleaseDecision:
    """Evaluate every test of the record's specification and decide release.

    Returns
    -------
    ReleaseDecision
        ``released`` is true only when every mandatory test is present and
        passes and no test that was done fails; ``reasons`` lists, for each
        failure, the test's title and why.
    """
    spec = record.specification
    outcomes = tuple(evaluate_test(test, record.qc.get(test.name), record) for test in spec.tests)
    reasons = tuple(f"{o.title}: {why}" for o in outcomes if o.passed is False for why in o.reasons)
    released = all(o.passed is not False for o in outcomes) and all(
        o.passed for o in outcomes if o.mandatory)
    half_life_s = spec.half_life_min * 60.0
    injections = []
    for i, injection in enumerate(record.injections):
        try:
            injected = injected_activity_bq(
                syringe_before_bq=injection.before.activity_bq, before_time=injection.before.time,
                syringe_after_bq=injection.after.activity_bq, after_time=injection.after.time,
                injection_time=injection.injection_time, half_life_s=half_life_s)
        except InputError as exc:
            raise InputError(f"{record.file}: injections[{i}]: {exc}") from None
        injections.append({"subject": injection.subject,
                           "injection_time": injection.injection_time.isoformat(),
                           "injected_mbq": injected / 1e6})
    logger.info("batch %s: %s", record.batch_id, "released" if released else "NOT released")
    return ReleaseDecision(batch_id=record.batch_id, tracer=record.tracer,
                           specification=spec.name, specification_file=spec.file,
                           released=released, tests=outcomes, reasons=reasons,
                           synthesis_end=record.synthesis_end.isoformat(),
                           activity=_activity_summary(record), injections=tuple(injections),
                           record_file=str(record.file))
