"""Follow-up response: the change of each compared value between two scans of one patient, and the
response category by rules given as data (``data/tracers/response_rules.json`` or the user's file).

Used by ``gliopet compare`` (the follow-up measured with the baseline's registered ROIs) and by the
cohort's analysis table (each scan of a patient measured on its own, with the same definitions).
"""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from .errors import InputError

__all__ = ["COMPARED_VALUES", "FOLLOWUP_VALUES", "load_response_rules", "response_category", "value_changes",
           "followup_columns", "injection_text"]

#: The values ``gliopet compare`` reports the change of (keys of the measure record).
COMPARED_VALUES = ("tbr_max_to_bg_mean", "tbr_mean_to_bg_mean", "btv_ml", "suvmax", "bg_suvmean", "tbr_max_to_bg_max")
#: The follow-up values the cohort's analysis table carries: the amino-acid PET response measures.
FOLLOWUP_VALUES = ("tbr_max_to_bg_mean", "tbr_mean_to_bg_mean", "btv_ml")
_CONDITIONS = {"relative_change_at_least": ("relative_change", lambda v, t: v >= t),
               "relative_change_at_most": ("relative_change", lambda v, t: v <= t),
               "followup_at_most": ("followup", lambda v, t: v <= t),
               "followup_at_least": ("followup", lambda v, t: v >= t)}


def load_response_rules(path: str | Path | None = None) -> dict[str, Any]:
    """Response rules (``data/tracers/response_rules.json``, or the file at ``path``), with where they came from.

    Raises
    ------
    InputError
        An unreadable file or a condition that is not one of the known kinds.
    """
    try:
        text = (Path(path).read_text(encoding="utf-8") if path is not None else
                resources.files("gliopet").joinpath("data", "tracers", "response_rules.json").read_text(encoding="utf-8"))
        rules = json.loads(text)
        for rule in rules["rules"]:
            for condition in rule.get("all", []) + rule.get("any", []):
                if condition["value"] not in COMPARED_VALUES or not set(condition) - {"value"} <= set(_CONDITIONS):
                    raise KeyError(f"condition {condition}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"--rules {path or 'response_rules.json'}: {exc}; expected rules[] with all/any "
                         f"conditions on {', '.join(COMPARED_VALUES)} ({', '.join(_CONDITIONS)})") from None
    return {**rules, "file": str(path) if path is not None else "gliopet/data/tracers/response_rules.json"}


def response_category(changes: dict[str, dict[str, Any]], rules: dict[str, Any]) -> str:
    """The first rule whose conditions hold (``all`` of them, or ``any``), else the rules' default."""
    def holds(condition: dict[str, Any]) -> bool:
        change = changes[condition["value"]]
        for kind, (field_name, test) in _CONDITIONS.items():
            if kind in condition and (change[field_name] is None or not test(change[field_name], condition[kind])):
                return False
        return True

    for rule in rules["rules"]:
        if all(holds(c) for c in rule.get("all", [])) and (not rule.get("any") or any(holds(c) for c in rule["any"])):
            return rule["category"]
    return rules["default"]


def value_changes(baseline: Mapping[str, Any], followup: Mapping[str, Any],
                  keys: tuple[str, ...] = COMPARED_VALUES) -> dict[str, dict[str, Any]]:
    """Per value: ``baseline``, ``followup``, ``absolute_change`` (follow-up - baseline) and
    ``relative_change`` (follow-up / baseline - 1; None when either is missing or the baseline is 0).

    >>> value_changes({"btv_ml": 2.0}, {"btv_ml": 3.0}, keys=("btv_ml",))
    {'btv_ml': {'baseline': 2.0, 'followup': 3.0, 'absolute_change': 1.0, 'relative_change': 0.5}}
    """
    changes = {}
    for key in keys:
        b, f = baseline.get(key), followup.get(key)
        changes[key] = {"baseline": b, "followup": f, "absolute_change": None if None in (b, f) else f - b,
                        "relative_change": None if None in (b, f) or not b else f / b - 1}
    return changes


def injection_text(record: Mapping[str, Any]) -> str | None:
    """A measurement record's injection date/time as recorded with its SUV inputs (ISO text), or None."""
    return record.get("suv", {}).get("inputs", {}).get("injection_datetime", {}).get("value")


def _injection(record: Mapping[str, Any]) -> datetime | None:
    value = injection_text(record)
    return datetime.fromisoformat(value) if value else None


def followup_columns(baseline: Mapping[str, Any], followup: Mapping[str, Any],
                     rules: Mapping[str, Any]) -> dict[str, Any]:
    """The analysis table's follow-up columns from two measurement records of one patient.

    ``followup_days`` (between the injections, from each record's SUV inputs; None when either is
    unknown), then per :data:`FOLLOWUP_VALUES`: ``<value>_followup`` and ``<value>_change_pct``
    (100 x (follow-up / baseline - 1)), and ``response`` (:func:`response_category` of ``rules``,
    over every :data:`COMPARED_VALUES`).
    """
    changes = value_changes(baseline, followup)
    start, end = _injection(baseline), _injection(followup)
    out: dict[str, Any] = {"followup_days": None if None in (start, end) else (end - start).total_seconds() / 86400}
    for key in FOLLOWUP_VALUES:
        relative = changes[key]["relative_change"]
        out[f"{key}_followup"] = changes[key]["followup"]
        out[f"{key}_change_pct"] = None if relative is None else 100.0 * relative
    out["response"] = response_category(changes, rules)
    return out
