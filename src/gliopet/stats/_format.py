"""Plain-text rendering of :func:`gliopet.stats.analyse_cohort`'s result (the ``gliopet stats`` output)."""

from __future__ import annotations

from ._descriptive import format_number, format_p
from .analysis import SHORT_LABELS, VARIABLE_LABELS

__all__ = ["format_dynamic", "format_followup", "format_stats", "format_table1_cell", "format_value", "format_kappa",
           "format_agreement", "table2_header"]

TABLE2_HEADERS = {
    "patient_id": "P number", "diagnosis": "Diagnosis based on histology", "who_grade": "WHO grade",
    "age": "Age", "sex": "Sex", "suvmax": "SUVmax", "tbr_max_to_bg_max": "TBR", "visual": "Visual",
}


def table2_header(column: str) -> str:
    """Column heading for Table 2."""
    return TABLE2_HEADERS.get(column, VARIABLE_LABELS.get(column, column))


def format_value(value) -> str:
    """A Table 2 cell: numbers via :func:`format_number`, missing as '-'."""
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return format_number(value)
    return str(value)


def format_table1_cell(section: dict, row: dict | None = None) -> list[tuple[str, str]]:
    """(label, value) lines of one Table 1 section."""
    if section["kind"] == "continuous":
        if section["median"] is None:
            return [("Median", "-"), ("Range", "-")]
        lo, hi = section["range"]
        return [("Median", format_number(section["median"])),
                ("Range", f"{format_number(lo)}\u2013{format_number(hi)}")]
    out = []
    for r in section["rows"]:
        pct = "-" if r["percent"] is None else f"{r['percent']:.0f}%"
        out.append((r["label"], f"{r['n']} ({pct})"))
    return out


def format_agreement(a: dict) -> list[str]:
    """Percent agreement, PABAK, Gwet's AC1 and weighted kappa, one line each, with their 95 % CIs."""
    def line(name: str, r: dict) -> str:
        return f"{name} {r['value']:.3f} (95% CI {r['ci95'][0]:.3f}\u2013{r['ci95'][1]:.3f})"

    out = [line("percent agreement", a["percent_agreement"]), line("PABAK", a["pabak"]),
           line("Gwet's AC1", a["gwet_ac1"])]
    wk = a.get("weighted_kappa")
    if wk:
        out.append(f"linear weighted kappa of the 4-point scores ({wk['readers'][0]} vs {wk['readers'][1]}): "
                   + ("undefined (one score throughout)" if wk["kappa"] is None else
                      f"{wk['kappa']:.3f} (95% CI {wk['ci95'][0]:.3f}\u2013{wk['ci95'][1]:.3f})"))
    return out


def format_kappa(k: dict) -> str:
    """Cohen's kappa with its CI, or why it is undefined."""
    if k["kappa"] is None:
        return f"undefined (both readers gave one and the same score to all {k['n']} scans)"
    return (f"{k['kappa']:.3f} (95% CI {k['ci95'][0]:.3f}\u2013{k['ci95'][1]:.3f}), observed agreement "
            f"{100 * k['observed_agreement']:.1f}%, n={k['n']}")


def _median_range_text(median, rng) -> str:
    if median is None:
        return "-"
    return f"{format_number(median)} ({format_number(rng[0])}\u2013{format_number(rng[1])})"


def format_followup(followup: dict | None) -> list[str]:
    """Baseline vs follow-up: one line for the interval and responses, one per value."""
    if not followup:
        return []
    days = followup["days"]
    interval = ("" if days["median"] is None else
                f", median {format_number(days['median'])} days between the scans "
                f"({format_number(days['range'][0])}\u2013{format_number(days['range'][1])})")
    responses = ", ".join(f"{name} {count}" for name, count in sorted(followup["responses"].items()))
    lines = [f"{followup['n']} patient(s) scanned twice{interval}; response by gliopet's rules (the user's "
             f"thresholds, not PET RANO 1.0): {responses or '-'}"]
    for v in followup["values"]:
        p = "-" if v["p"] is None else format_p(v["p"])
        lines.append(f"{SHORT_LABELS.get(v['variable'], v['label'])}: median {format_number(v['median_before'])} "
                     f"at baseline vs {format_number(v['median_after'])} at follow-up, median change "
                     f"{v['median_percent_change']:+.1f} %, Wilcoxon p = {p} (n = {v['n']})")
    return lines


def format_dynamic(dynamic: dict | None) -> list[str]:
    """One line per WHO grade: curve patterns, time to peak and late slope, median (range)."""
    if not dynamic:
        return []

    def median_range_text(summary: dict, unit: str) -> str:
        return _median_range_text(summary["median"], summary["range"]).replace(" (", f" {unit} (", 1)

    return [f"WHO {g['grade']} (n = {g['n']}): "
            + ", ".join(f"{name} {g['patterns'][name]}" for name in dynamic["patterns"])
            + f"; time to peak {median_range_text(g['tac_ttp_min'], 'min')}; late slope "
            + median_range_text(g["tac_slope_suv_per_h"], "SUV/h") for g in dynamic["by_grade"]]


def format_stats(result: dict) -> str:
    """The stats result as readable text: Table 1, tests, detection, Table 2."""
    lines: list[str] = [f"gliopet stats: {result['source']} ({result['n_patients']} patients)", "",
                        "Table 1. Patient characteristics"]
    for sec in result["table1"]:
        lines.append(f"  {sec['title']}")
        for label, value in format_table1_cell(sec):
            lines.append(f"    {label:<34} {value}")
        if sec.get("footnote"):
            lines.append(f"    * {sec['footnote']}")
    for note in result["footnotes"]:
        lines.append(f"  Note: {note}")
    det = result["detection_rate"]
    lines += ["", "Detection rate (visual)",
              f"  {det['k']}/{det['n']} = {100 * det['rate']:.1f}% "
              f"(95% CI {100 * det['ci95'][0]:.1f}\u2013{100 * det['ci95'][1]:.1f}%, Clopper-Pearson)"]
    for g in result["detection_by_grade"]:
        lines.append(f"  grade {g['grade']}: {g['k']}/{g['n']} = {100 * g['rate']:.1f}% "
                     f"(95% CI {100 * g['ci95'][0]:.1f}\u2013{100 * g['ci95'][1]:.1f}%)")
    lines += ["", f"Grade comparison (Mann-Whitney U, {result['subset']})"]
    for t in result["tests"]:
        a, b = t["groups"]
        lines.append(f"  {SHORT_LABELS.get(t['variable'], t['label'])}: grade {a} "
                     f"{_median_range_text(t['median'][0], t['range'][0])} n={t['n'][0]} vs grade {b} "
                     f"{_median_range_text(t['median'][1], t['range'][1])} n={t['n'][1]}")
        lines.append(f"    U = {format_number(t['u'])}, z = {t['z']:.3f}, exact p = {format_p(t['p_exact'])}, "
                     f"asymptotic p = {format_p(t['p_asymptotic'])} (tie-corrected, no continuity correction), "
                     f"SPSS exact 2*(1-tailed) = {format_p(t['p_exact_untied'])}")
    for r in result["roc"]:
        lines.append(f"  ROC AUC of {r['label']} for {r['outcome']}: {r['auc']:.3f} "
                     f"(95% CI {r['ci95'][0]:.3f}\u2013{r['ci95'][1]:.3f}, DeLong)")
    if result["kappa"]:
        k = result["kappa"]
        lines.append(f"  Cohen's kappa {k['readers'][0]} vs {k['readers'][1]}: {format_kappa(k)}")
    if result.get("agreement"):
        lines.extend(f"  {line}" for line in format_agreement(result["agreement"]))
    for p in result["paired"]:
        t0, t1 = p["time_points_min"]
        lines.append(f"  {p['label']} {t0} vs {t1} min: median {format_number(p['median_before'])} vs "
                     f"{format_number(p['median_after'])}, median change {p['median_percent_change']:+.1f}% "
                     f"(n={p['n']}), Wilcoxon p = {format_p(p['p'])}")
    if result.get("dynamic"):
        lines += ["", "Time-activity curves (pattern counts; median (range))"]
        lines.extend(f"  {line}" for line in format_dynamic(result["dynamic"]))
    if result.get("followup"):
        lines += ["", "Follow-up (each patient's earliest vs latest scan)"]
        lines.extend(f"  {line}" for line in format_followup(result["followup"]))
    for note in result["notes"]:
        lines.append(f"  Note: {note}")
    lines += ["", "Table 2. Per patient"]
    if result["table2"]:
        cols = list(result["table2"][0])
        cells = [[table2_header(c) for c in cols]] + [[format_value(r[c]) for c in cols] for r in result["table2"]]
        widths = [min(40, max(len(row[i]) for row in cells)) for i in range(len(cols))]
        for row in cells:
            lines.append("  " + "  ".join(v[:40].ljust(w) for v, w in zip(row, widths)).rstrip())
    return "\n".join(lines)
