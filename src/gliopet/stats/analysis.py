"""The study's results from a validated cohort: Table 1, Table 2, the tests.

:func:`analyse_cohort` returns one plain dict (the ``gliopet stats --json``
object). Keys fixed by DESIGN.md: ``table1``, ``table2``, ``tests`` (each
with ``variable``, ``groups``, ``n``, ``median``, ``range``, ``u``,
``p_exact``, ``p_asymptotic``) and ``detection_rate`` (``k``, ``n``,
``rate``, ``ci95``). Also: ``detection_by_grade``, ``kappa`` (when two
reader columns exist), ``agreement`` (percent agreement, PABAK, Gwet's AC1
and, with two ``score_reader`` columns, linear weighted kappa; each with its
95 % CI: :mod:`gliopet.stats._agreement`), ``roc`` (grade from SUVmax / TBR), ``paired`` (time
points), ``dynamic`` (a dynamic cohort's curve patterns, time to peak and
late slope per WHO grade; None without curves), ``followup`` (baseline vs
follow-up of patients scanned twice; None without), ``footnotes`` and ``notes``
(what was skipped and why).

The study's handling of missing values: visually negative scans have no
SUVmax or TBR in its Table 2, so every SUV/TBR statistic (Table 1 medians,
the grade tests, ROC) uses the visually positive scans only. With
``positive_only=False`` the measured values of negative scans (when a
measurement exists) are included too.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

from ._descriptive import TUMOUR_TYPES, count_percent, median_range, tumour_type
from ._agreement import agreement_table, gwet_ac1, pabak, percent_agreement, weighted_kappa
from ._inference import (EXACT_MAX_N, clopper_pearson, cohens_kappa, mann_whitney_u, paired_wilcoxon,
                         roc_auc_delong)
from ..measure import TacPattern
from .cohort import (DYNAMIC_NUMERIC_COLUMNS, GRADES, MEASURE_COLUMNS, Cohort, followup_columns_of,
                     time_point_columns)

logger = logging.getLogger(__name__)

__all__ = ["analyse_cohort", "VARIABLE_LABELS", "ALPHA", "STANDARD_TIME_MIN"]

#: Significance level (DESIGN.md: p < 0.05 is significant).
ALPHA = 0.05
#: Time point (minutes p.i.) of the main measured columns (``suvmax`` ...),
#: the study's standard 60 min scan.
STANDARD_TIME_MIN = 60

VARIABLE_LABELS = {
    "suvmax": "SUVmax",
    "suvmean_1cm": "SUVmean (1 cm ROI)",
    "suvpeak": "SUVpeak",
    "btv_ml": "BTV (mL)",
    "bg_suvmax": "Background SUVmax",
    "bg_suvmean": "Background SUVmean",
    "tbr_max_to_bg_max": "TBR (SUVmax / background SUVmax)",
    "tbr_max_to_bg_mean": "TBRmax (SUVmax / background SUVmean)",
    "tbr_mean_to_bg_mean": "TBRmean (SUVmean / background SUVmean)",
    "tac_ttp_min": "Time to peak (min p.i.)",
    "tac_slope_suv_per_h": "Late slope (SUV/h)",
}
SHORT_LABELS = {"tbr_max_to_bg_max": "TBR", "tbr_max_to_bg_mean": "TBRmax", "tbr_mean_to_bg_mean": "TBRmean"}
#: Variables compared between grades, in this order, when present.
TEST_VARIABLES = ("suvmax", "tbr_max_to_bg_max", "suvpeak", "suvmean_1cm", "tbr_max_to_bg_mean",
                  "tbr_mean_to_bg_mean", "btv_ml", *DYNAMIC_NUMERIC_COLUMNS)
ROC_VARIABLES = ("suvmax", "tbr_max_to_bg_max")
TABLE2_LEAD = ("patient_id", "diagnosis", "who_grade", "age", "sex", "suvmax", "tbr_max_to_bg_max", "visual")
#: Columns not shown in Table 2 (files, not results).
TABLE2_HIDDEN = ("snapshot",)


def _present(cohort: Cohort, col: str) -> bool:
    return col in cohort.columns and any(v not in (None, "") for v in cohort.column(col))


def _analysed_rows(cohort: Cohort, positive_only: bool) -> list[dict]:
    return [r for r in cohort.rows if r["visual"] == "positive" or not positive_only]


def _without_unseparated_btv(rows: list[dict]) -> tuple[list[dict], int]:
    """The rows with ``btv_ml`` emptied where ``btv_separates`` is false (the BTV flooded normal brain:
    :func:`gliopet.measure.judge_btv`), and how many were emptied."""
    out, left_out = [], 0
    for r in rows:
        if r.get("btv_separates") == "false" and r.get("btv_ml") is not None:
            r, left_out = {**r, "btv_ml": None}, left_out + 1
        out.append(r)
    return out, left_out


def _table1(cohort: Cohort, rows_measured: list[dict], *, positive_only: bool) -> tuple[list[dict], list[str]]:
    n = len(cohort.rows)
    footnotes: list[str] = []
    sections: list[dict] = []

    def categorical(variable: str, title: str, labels: Sequence[tuple[str, str]], values: list, of: int,
                    footnote: str | None = None) -> None:
        rows = [{"label": label, **count_percent(sum(v == key for v in values), of)} for key, label in labels]
        sec = {"variable": variable, "title": title, "kind": "categorical", "rows": rows}
        if footnote:
            sec["footnote"] = footnote
        sections.append(sec)

    sexes = cohort.column("sex")
    categorical("sex", "Sex", [("M", "Male"), ("F", "Female")], sexes, n)
    sections.append({"variable": "age", "title": "Age (year)", "kind": "continuous",
                     **median_range(cohort.column("age"))})
    types = [r.get("tumour_type") or tumour_type(r["diagnosis"], r["who_grade"]) for r in cohort.rows]
    order = [name for name, _, _ in TUMOUR_TYPES if name in types]
    order += sorted(set(types) - set(order))
    categorical("tumour_type", "Tumour type (WHO classification)", [(t, t) for t in order], types, n)
    if any(" or " in r["diagnosis"].lower() and not r.get("tumour_type") for r in cohort.rows):
        sections[-1]["footnote"] = ("Histology reported as two alternatives is counted as the type matching "
                                    "the WHO grade given.")
    grades = cohort.column("who_grade")
    categorical("who_grade", "WHO grade", [(g, f"Grade {g}") for g in GRADES if g in grades], grades, n)
    if _present(cohort, "referral"):
        referral = cohort.column("referral")
        known = sum(v != "" for v in referral)
        categorical("referral", "Study (referral)", [("staging", "Staging"), ("recurrence", "Recurrence")],
                    referral, known)
        recurrence = [r for r in cohort.rows if r.get("referral") == "recurrence"]
        prior = [(c, label) for c, label in (("prior_surgery", "Surgery"), ("prior_chemotherapy", "Chemotherapy"),
                                             ("prior_radiotherapy", "Radiotherapy")) if c in cohort.columns]
        if prior and recurrence:
            rows = [{"label": label, **count_percent(sum(r.get(c) == "yes" for r in recurrence), len(recurrence))}
                    for c, label in prior]
            sections.append({"variable": "prior_treatment", "title": "Prior treatment interventions",
                             "kind": "categorical", "rows": rows,
                             "footnote": "Only patients referred for recurrence."})
    categorical("visual", "Visual assessment (PET)", [("positive", "Positive"), ("negative", "Negative")],
                cohort.column("visual"), n)
    k_pos = sum(v == "positive" for v in cohort.column("visual"))
    for col in (*MEASURE_COLUMNS, *DYNAMIC_NUMERIC_COLUMNS):
        if not _present(cohort, col):
            continue
        summary = median_range([r.get(col) for r in rows_measured])
        if summary["n"] == 0:
            continue  # every value left out (e.g. a BTV that did not separate) or only in excluded scans
        sections.append({"variable": col, "title": VARIABLE_LABELS[col], "kind": "continuous", **summary})
    if _present(cohort, "tac_pattern"):
        patterns = [r["tac_pattern"] for r in rows_measured if r.get("tac_pattern")]
        categorical("tac_pattern", "Time-activity curve pattern", [(p.value, p.value.capitalize())
                                                                   for p in TacPattern], patterns, len(patterns))
    if positive_only and k_pos < n:
        footnotes.append(f"Measured values over the {k_pos} visually positive scans; the {n - k_pos} visually "
                         f"negative scan{'s' if n - k_pos != 1 else ''} (no measurable lesion, '-' in Table 2) "
                         "are excluded, as in the study.")
    return sections, footnotes


def _table2(cohort: Cohort) -> list[dict]:
    lead = [c for c in TABLE2_LEAD if c in cohort.columns]
    rest = [c for c in cohort.columns if c not in lead and c not in TABLE2_HIDDEN]
    order = lead + rest
    return [{c: row[c] for c in order} for row in cohort.rows]


def _grade_groups(rows: list[dict], variable: str) -> dict[str, list[float]]:
    groups: dict[str, list[float]] = {}
    for g in GRADES:
        vals = [r[variable] for r in rows if r["who_grade"] == g and r.get(variable) is not None]
        if vals:
            groups[g] = vals
    return groups


def _tests(cohort: Cohort, rows: list[dict], subset: str, notes: list[str]) -> list[dict]:
    out = []
    for var in TEST_VARIABLES:
        if var not in cohort.columns:
            continue
        groups = _grade_groups(rows, var)
        if len(groups) < 2:
            notes.append(f"{VARIABLE_LABELS[var]}: fewer than two WHO grades with values; no grade comparison.")
            continue
        for ga, gb in itertools.combinations(groups, 2):
            xa, xb = groups[ga], groups[gb]
            res = mann_whitney_u(xa, xb)
            ma, mb = median_range(xa), median_range(xb)
            p_main = res.p_exact if res.p_exact is not None else res.p_asymptotic
            out.append({
                "variable": var,
                "label": VARIABLE_LABELS[var],
                "test": "Mann-Whitney U",
                "subset": subset,
                "groups": [ga, gb],
                "n": [res.n_x, res.n_y],
                "median": [ma["median"], mb["median"]],
                "range": [ma["range"], mb["range"]],
                "u": res.u,
                "u_groups": [res.u_x, res.u_y],
                "z": res.z,
                "p_exact": res.p_exact,
                "p_exact_untied": res.p_exact_untied,
                "p_asymptotic": res.p_asymptotic,
                "ties": res.ties,
                "significant": bool(p_main < ALPHA),
            })
    if any(t["p_exact"] is None for t in out):
        notes.append(f"Exact p-values are computed up to n = {EXACT_MAX_N}; larger comparisons give the "
                     "asymptotic p only.")
    return out


def _roc(rows: list[dict], notes: list[str]) -> list[dict]:
    out = []
    for var in ROC_VARIABLES:
        groups = _grade_groups(rows, var)
        if len(groups) < 2:
            continue
        top = max(groups, key=GRADES.index)
        positive = groups[top]
        negative = [v for g, vals in groups.items() if g != top for v in vals]
        lower = [g for g in groups if g != top]
        if len(positive) < 2 or len(negative) < 2:
            notes.append(f"ROC of {VARIABLE_LABELS[var]}: fewer than 2 cases in a class; not computed.")
            continue
        res = roc_auc_delong(positive, negative)
        out.append({"variable": var, "label": VARIABLE_LABELS[var],
                    "outcome": f"WHO grade {top} vs {' / '.join(lower)}", "positive_class": top,
                    "method": "DeLong", **res.to_dict()})
    return out


def _kappa(cohort: Cohort, notes: list[str]) -> dict | None:
    readers = cohort.reader_columns
    if len(readers) < 2:
        return None
    r1, r2 = readers[0], readers[1]
    pairs = [(row[r1], row[r2]) for row in cohort.rows if row[r1] and row[r2]]
    if not pairs:
        notes.append(f"Cohen's kappa: no row scored by both {r1} and {r2}.")
        return None
    res = cohens_kappa([a for a, _ in pairs], [b for _, b in pairs])
    return {"readers": [r1, r2], **res.to_dict()}


def _agreement(cohort: Cohort) -> dict | None:
    """Percent agreement, PABAK and Gwet's AC1 of the first two readers; weighted kappa of their scores."""
    readers = cohort.reader_columns
    if len(readers) < 2:
        return None
    r1, r2 = readers[0], readers[1]
    pairs = [(row[r1], row[r2]) for row in cohort.rows if row[r1] and row[r2]]
    if not pairs:
        return None
    table, categories = agreement_table([a for a, _ in pairs], [b for _, b in pairs],
                                        categories=("negative", "positive"))
    out: dict = {"readers": [r1, r2], "n": len(pairs), "categories": list(categories),
                 "table": table.astype(int).tolist(), "percent_agreement": percent_agreement(table).to_dict(),
                 "pabak": pabak(table).to_dict(), "gwet_ac1": gwet_ac1(table).to_dict(), "weighted_kappa": None}
    scores = cohort.score_columns
    if len(scores) >= 2:
        s1, s2 = scores[0], scores[1]
        scored = [(row[s1], row[s2]) for row in cohort.rows if row[s1] is not None and row[s2] is not None]
        if scored:
            out["weighted_kappa"] = {"readers": [s1, s2], **weighted_kappa(
                [a for a, _ in scored], [b for _, b in scored], weights="linear").to_dict()}
    return out


def _dynamic(cohort: Cohort, rows: list[dict]) -> dict | None:
    """Per WHO grade: the time-activity curve patterns (counts) and the median (range) of the time to
    peak and the late slope, over ``rows``; None when no row has a curve."""
    if not _present(cohort, "tac_pattern"):
        return None
    by_grade = []
    for grade in GRADES:
        curves = [r for r in rows if r["who_grade"] == grade and r.get("tac_pattern")]
        if curves:
            by_grade.append({"grade": grade, "n": len(curves),
                             "patterns": {p.value: sum(r["tac_pattern"] == p.value for r in curves) for p in TacPattern},
                             **{col: median_range([r.get(col) for r in curves]) for col in DYNAMIC_NUMERIC_COLUMNS}})
    return {"patterns": [p.value for p in TacPattern], "by_grade": by_grade}


def _followup(cohort: Cohort) -> dict | None:
    """Baseline vs follow-up of the patients scanned twice: per value, the Wilcoxon signed-rank test and the
    median percent change; the days between the scans; the response categories counted. None without any."""
    columns = followup_columns_of(cohort.columns)
    if "followup_days" not in columns:
        return None
    rows = [r for r in cohort.rows if any(r.get(c) is not None for c in columns)]
    if not rows:
        return None
    values = []
    for col in columns:
        measure = col[:-len("_followup")] if col.endswith("_followup") else None
        if measure is None or measure not in cohort.columns:
            continue
        both = [(r[measure], r[col]) for r in rows if r.get(measure) is not None and r.get(col) is not None]
        if both:
            res = paired_wilcoxon([a for a, _ in both], [b for _, b in both])
            values.append({"variable": measure, "label": VARIABLE_LABELS[measure], "columns": [measure, col],
                           "test": "Wilcoxon signed-rank", **res.to_dict()})
    responses: dict[str, int] = {}
    for r in rows:
        if r.get("response"):
            responses[r["response"]] = responses.get(r["response"], 0) + 1
    return {"n": len(rows), "days": median_range([r.get("followup_days") for r in rows]), "values": values,
            "responses": responses}


def _paired(cohort: Cohort, *, standard_time_min: int) -> list[dict]:
    out = []
    for measure, points in time_point_columns(cohort.columns).items():
        points = dict(points)
        if standard_time_min not in points and measure in cohort.columns:
            points[standard_time_min] = measure
        times = sorted(points)
        if len(times) < 2:
            continue
        first = times[0]
        for later in times[1:]:
            ca, cb = points[first], points[later]
            both = [(r[ca], r[cb]) for r in cohort.rows if r.get(ca) is not None and r.get(cb) is not None]
            if not both:
                continue
            res = paired_wilcoxon([a for a, _ in both], [b for _, b in both])
            out.append({"variable": measure, "label": VARIABLE_LABELS[measure],
                        "time_points_min": [first, later], "columns": [ca, cb],
                        "test": "Wilcoxon signed-rank", **res.to_dict()})
    return out


def analyse_cohort(cohort: Cohort, *, positive_only: bool = True,
                   standard_time_min: int = STANDARD_TIME_MIN) -> dict:
    """Every table and test of the study for one cohort.

    Parameters
    ----------
    cohort : Cohort
        A validated cohort (:func:`gliopet.cohort.read_cohort_csv`, :func:`gliopet.cohort.load_cohort_store`).
    positive_only : bool, optional
        Measured statistics over visually positive scans only (the study).
    standard_time_min : int, optional
        Minutes p.i. of the main measured columns (``suvmax`` ...), used to
        pair them with ``<measure>_<minutes>min`` columns.

    Returns
    -------
    dict
        See the module docstring.
    """
    notes: list[str] = []
    rows, btv_left_out = _without_unseparated_btv(_analysed_rows(cohort, positive_only))
    subset = "visually positive scans" if positive_only else "all scans with a measured value"
    table1, footnotes = _table1(cohort, rows, positive_only=positive_only)
    if btv_left_out:
        footnotes.append(f"BTV left out for {btv_left_out} scan{'s' if btv_left_out != 1 else ''} where its "
                         "threshold did not separate the lesion from normal brain (the BTV grew into normal tissue; "
                         "gliopet measure warns of it).")
    visual = cohort.column("visual")
    k, n = sum(v == "positive" for v in visual), len(visual)
    lo, hi = clopper_pearson(k, n)
    by_grade = []
    for g in GRADES:
        vis = [r["visual"] for r in cohort.rows if r["who_grade"] == g]
        if vis:
            kg = sum(v == "positive" for v in vis)
            lg, hg = clopper_pearson(kg, len(vis))
            by_grade.append({"grade": g, "k": kg, "n": len(vis), "rate": kg / len(vis), "ci95": [lg, hg]})
    tests = _tests(cohort, rows, subset, notes)
    if positive_only and k < n:
        footnotes.append("Grade comparisons (Mann-Whitney U) and ROC use the visually positive scans only.")
    result = {
        "source": cohort.source,
        "n_patients": n,
        "subset": subset,
        "table1": table1,
        "table2": _table2(cohort),
        "tests": tests,
        "detection_rate": {"k": k, "n": n, "rate": k / n, "ci95": [lo, hi], "method": "Clopper-Pearson"},
        "detection_by_grade": by_grade,
        "kappa": _kappa(cohort, notes),
        "agreement": _agreement(cohort),
        "roc": _roc(rows, notes),
        "paired": _paired(cohort, standard_time_min=standard_time_min),
        "dynamic": _dynamic(cohort, rows),
        "followup": _followup(cohort),
        "alpha": ALPHA,
        "footnotes": footnotes,
        "notes": notes,
    }
    logger.info("analysed %d patients (%d positive)", n, k)
    return result

