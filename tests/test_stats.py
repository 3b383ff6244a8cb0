"""gliopet.stats: tests against definitions, hand values and the study's published numbers.

The study (reference/pentixafor-glioma-study.txt, Results and Table 2):
27 of 29 scans visually positive; over them median SUVmax 2.31 (0.49-9.96)
and TBR 20 (6.12-124.5); grade IV 2.68 (0.83-9.96) vs grade III 1.51
(0.49-2.05), "P = 0.02"; TBR grade IV 20 (8.36-124.5) vs grade III 22.37
(6.12-51.25), not significant.
"""

from __future__ import annotations

import doctest
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as st

import gliopet.stats as gs
from gliopet.errors import InputError
from gliopet.stats import _descriptive, _inference, cohort as cohort_mod
from gliopet.cohort import read_cohort_csv
from gliopet.stats import analyse_cohort


def stats_from_csv(path):
    return analyse_cohort(read_cohort_csv(path))


# A verbatim copy of the study's Table 2 (reference/table2-published.csv), shipped as package data.
PUBLISHED = Path(__file__).resolve().parents[1] / "src" / "gliopet" / "data" / "reference" / "table2-published.csv"

# Table 2 of the study, typed in from the paper (visually positive scans only).
GRADE_III_SUVMAX = [2.05, 1.68, 0.49, 1.34]  # patients 4, 14, 18, 23
GRADE_III_TBR = [51.25, 28, 6.12, 16.75]
GRADE_IV_SUVMAX = [4.09, 2.23, 3.14, 1.98, 1.87, 2.31, 1.48, 3.01, 5.75, 6.36, 2.31, 3.67, 2.8, 2.68, 3.56,
                   4.91, 2.50, 5.02, 0.83, 1.30, 1.69, 1.2, 9.96]  # patients 1-3, 6-9, 11-13, 15-17, 19-22, 24-29
GRADE_IV_TBR = [10.77, 74.3, 13.08, 24.75, 23.37, 10.04, 16.4, 11.14, 13.7, 8.36, 25.6, 12.7, 40, 29.7, 11.12,
                10.67, 41.6, 62.7, 13.83, 26, 21.12, 20, 124.5]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "gliopet.cli", *args], capture_output=True, text=True,
                          timeout=120)


def u_by_definition(x, y):
    """U_x = #(x_i > y_j) + 1/2 #(x_i == y_j): the Mann-Whitney definition, no ranks."""
    x = np.asarray(x, float)[:, None]
    y = np.asarray(y, float)[None, :]
    return float((x > y).sum() + 0.5 * (x == y).sum())


def enumerated_null(pooled, n_x):
    """All C(N, n_x) equally likely splits of the pooled values: U_x of each."""
    pooled = np.asarray(pooled, float)
    us = []
    for chosen in itertools.combinations(range(pooled.size), n_x):
        mask = np.zeros(pooled.size, bool)
        mask[list(chosen)] = True
        us.append(u_by_definition(pooled[mask], pooled[~mask]))
    return np.array(us)


# --- fixture check -------------------------------------------------------------------------------

def test_fixture_matches_published_table2():
    cohort = read_cohort_csv(PUBLISHED)
    assert len(cohort.rows) == 29
    pos = [r for r in cohort.rows if r["visual"] == "positive"]
    assert len(pos) == 27
    assert sorted(r["suvmax"] for r in pos if r["who_grade"] == "III") == sorted(GRADE_III_SUVMAX)
    assert sorted(r["suvmax"] for r in pos if r["who_grade"] == "IV") == sorted(GRADE_IV_SUVMAX)
    assert sorted(r["tbr_max_to_bg_max"] for r in pos if r["who_grade"] == "IV") == sorted(GRADE_IV_TBR)
    # patient 29: 9.96 / 0.08 = 124.5 (DESIGN.md, TBR max_to_bg_max)
    assert cohort.rows[28]["tbr_max_to_bg_max"] == pytest.approx(9.96 / 0.08)


# --- Mann-Whitney U ------------------------------------------------------------------------------

def test_mann_whitney_hand_example_no_ties():
    # x = {1, 2}, y = {3, 4, 5}: U_x = 0. Of the C(5, 2) = 10 splits, U_x = 0 and U_x = 6 (both
    # extremes, |U - 3| = 3) occur once each, so the two-sided exact p = 2 / 10.
    r = gs.mann_whitney_u([1, 2], [3, 4, 5])
    assert (r.u_x, r.u_y, r.u) == (0.0, 6.0, 0.0)
    assert r.p_exact == pytest.approx(2 / 10, rel=1e-12)
    assert r.p_exact_untied == pytest.approx(2 * 1 / 10, rel=1e-12)
    # asymptotic: z = (0 - 3) / sqrt(2 * 3 * 6 / 12) = -3 / sqrt(3)
    assert r.z == pytest.approx(-3 / math.sqrt(3), rel=1e-12)
    assert r.p_asymptotic == pytest.approx(2 * st.norm.sf(3 / math.sqrt(3)), rel=1e-12)


def test_mann_whitney_exact_with_ties_across_groups_matches_enumeration():
    x, y = [1, 2, 2, 4], [2, 3, 3, 5, 6]
    null = enumerated_null(x + y, len(x))
    u_obs = u_by_definition(x, y)  # 1>: 0; 2 vs (2): 0.5 each x2; 4 > 2, 3, 3 -> 3 => 0 + 1 + 3 = 4
    assert u_obs == 4.0
    expected = np.mean(np.abs(null - 10) >= abs(u_obs - 10) - 1e-12)  # n_x n_y / 2 = 10
    r = gs.mann_whitney_u(x, y)
    assert r.u_x == u_obs
    assert r.ties
    assert r.p_exact == pytest.approx(expected, rel=1e-12)


def test_mann_whitney_grade_iii_vs_iv_suvmax_published():
    """The study's grade comparison: exact p from the enumerated null distribution."""
    x, y = GRADE_III_SUVMAX, GRADE_IV_SUVMAX
    n_x, n_y = 4, 23
    null = enumerated_null(x + y, n_x)
    assert null.size == math.comb(27, 4) == 17550
    u_obs = u_by_definition(x, y)
    # grade III values exceed these grade IV values: 2.05 > 1.98, 1.87, 1.48, 0.83, 1.30, 1.69, 1.2 (7);
    # 1.68 > 1.48, 0.83, 1.30, 1.2 (4); 0.49 > none (0); 1.34 > 0.83, 1.30, 1.2 (3): U_III = 14
    assert u_obs == 7 + 4 + 0 + 3 == 14
    mean = n_x * n_y / 2  # 46
    p_exact = np.mean(np.abs(null - mean) >= abs(u_obs - mean) - 1e-12)
    r = gs.mann_whitney_u(x, y)
    assert (r.u_x, r.u_y, r.u) == (14.0, 4 * 23 - 14.0, 14.0)
    assert r.p_exact == pytest.approx(p_exact, rel=1e-12)
    assert r.p_exact == pytest.approx(473 / 17550, rel=1e-12)  # the count the enumeration gives
    # SPSS "Exact Sig. [2*(1-tailed Sig.)]": no-ties distribution, ranks 1..27
    null_untied = enumerated_null(list(range(1, 28)), n_x)
    assert r.p_exact_untied == pytest.approx(2 * np.mean(null_untied <= 14), rel=1e-12)
    # SPSS "Asymp. Sig. (2-tailed)": one tie of 2 values (2.31, 2.31): sum(t^3 - t) = 6
    sigma = math.sqrt(n_x * n_y / 12 * ((27 + 1) - 6 / (27 * 26)))
    z = (14 - mean) / sigma
    assert r.z == pytest.approx(z, rel=1e-12)
    assert r.p_asymptotic == pytest.approx(2 * st.norm.sf(abs(z)), rel=1e-12)
    # the published "P = 0.02" and ours: both below 0.05; ours rounds to 0.03 (docs/reproduction.md)
    assert 0.02 <= r.p_exact < 0.03 and 0.02 <= r.p_asymptotic < 0.03 and r.p_exact_untied < 0.05
    # an independent implementation of the asymptotic test agrees
    assert r.p_asymptotic == pytest.approx(
        st.mannwhitneyu(x, y, method="asymptotic", use_continuity=False).pvalue, rel=1e-12)


def test_mann_whitney_tbr_not_significant_published():
    x, y = GRADE_III_TBR, GRADE_IV_TBR
    null = enumerated_null(x + y, 4)
    u_obs = u_by_definition(x, y)
    assert u_obs == 48  # 51.25 > 20 values... counted by the definition above
    r = gs.mann_whitney_u(x, y)
    assert r.p_exact == pytest.approx(np.mean(np.abs(null - 46) >= abs(u_obs - 46) - 1e-12), rel=1e-12)
    assert r.p_exact > 0.05 and r.p_asymptotic > 0.05  # "no significant difference"


def test_mann_whitney_exact_matches_scipy_without_ties():
    rng = np.random.default_rng(20260125)
    x, y = rng.normal(0, 1, 9), rng.normal(0.8, 1, 12)
    r = gs.mann_whitney_u(x, y)
    # without ties the permutation p, SPSS's 2 x one-tailed and scipy's exact p coincide
    assert r.p_exact == pytest.approx(st.mannwhitneyu(x, y, method="exact").pvalue, rel=1e-9)
    assert r.p_exact_untied == pytest.approx(r.p_exact, rel=1e-9)


def test_mann_whitney_large_sample_gives_asymptotic_only():
    rng = np.random.default_rng(7)
    r = gs.mann_whitney_u(rng.normal(size=150), rng.normal(size=100))
    assert r.p_exact is None and r.p_exact_untied is None
    assert 0 <= r.p_asymptotic <= 1


def test_mann_whitney_rejects_empty_group():
    with pytest.raises(InputError, match="at least one value"):
        gs.mann_whitney_u([], [1.0])


# --- Clopper-Pearson -----------------------------------------------------------------------------

def test_clopper_pearson_beta_quantile_definition_27_of_29():
    lo, hi = gs.clopper_pearson(27, 29)
    # definition: P(X >= 27 | p = lo) = 0.025 and P(X <= 27 | p = hi) = 0.025, X ~ Bin(29, p)
    assert st.binom.sf(26, 29, lo) == pytest.approx(0.025, rel=1e-9)
    assert st.binom.cdf(27, 29, hi) == pytest.approx(0.025, rel=1e-9)
    assert 0.77 < lo < 0.78 and 0.99 < hi < 0.992


@pytest.mark.parametrize("n", [1, 10, 29])
def test_clopper_pearson_hand_values_at_the_bounds(n):
    # k = 0: P(X = 0 | hi) = (1 - hi)^n = 0.025  =>  hi = 1 - 0.025^(1/n); k = n: lo = 0.025^(1/n)
    assert gs.clopper_pearson(0, n) == (0.0, pytest.approx(1 - 0.025 ** (1 / n), rel=1e-12))
    assert gs.clopper_pearson(n, n) == (pytest.approx(0.025 ** (1 / n), rel=1e-12), 1.0)


@pytest.mark.parametrize("k,n", [(3, 2), (-1, 5), (0, 0)])
def test_clopper_pearson_rejects_bad_counts(k, n):
    with pytest.raises(InputError, match="Clopper-Pearson"):
        gs.clopper_pearson(k, n)


# --- Cohen's kappa -------------------------------------------------------------------------------

def test_cohens_kappa_hand_2x2():
    # 29 scans: both positive 25, reader 1 positive / reader 2 negative 2, both negative 2.
    r1 = ["positive"] * 27 + ["negative"] * 2
    r2 = ["positive"] * 25 + ["negative"] * 2 + ["negative"] * 2
    # p_o = 27/29; p_e = (27*25 + 2*4) / 29^2 = 683/841; kappa = (783 - 683) / (841 - 683) = 100/158
    k = gs.cohens_kappa(r1, r2)
    assert k.observed_agreement == pytest.approx(27 / 29, rel=1e-12)
    assert k.expected_agreement == pytest.approx(683 / 841, rel=1e-12)
    assert k.kappa == pytest.approx(100 / 158, rel=1e-12)
    assert k.ci95[0] < k.kappa < k.ci95[1]


def test_cohens_kappa_perfect_agreement_is_one():
    k = gs.cohens_kappa(["a", "b", "a"], ["a", "b", "a"])
    assert k.kappa == pytest.approx(1.0)


# --- ROC AUC -------------------------------------------------------------------------------------

def test_roc_auc_delong_hand_example():
    # positives 3, 4, 5; negatives 1, 3.5. psi rows: 3 -> (1, 0); 4 -> (1, 1); 5 -> (1, 1): AUC = 5/6.
    # V10 = (1/2, 1, 1): S10 = ((1/3)^2 + 2 (1/6)^2) / 2 = 1/12; V01 = (1, 2/3): S01 = 2 (1/6)^2 = 1/18
    # var = (1/12) / 3 + (1/18) / 2 = 1/36 + 1/36 = 1/18
    r = gs.roc_auc_delong([3, 4, 5], [1, 3.5])
    assert r.auc == pytest.approx(5 / 6, rel=1e-12)
    assert r.se == pytest.approx(math.sqrt(1 / 18), rel=1e-12)
    assert r.ci95[0] == pytest.approx(5 / 6 - st.norm.ppf(0.975) * math.sqrt(1 / 18), rel=1e-12)
    assert r.ci95[1] == 1.0  # 5/6 + 1.96 * 0.236 > 1: clipped


def test_roc_auc_grade_from_suvmax_equals_u_over_mn():
    # AUC = U_IV / (23 * 4) = (92 - 14) / 92 (the Mann-Whitney count above)
    r = gs.roc_auc_delong(GRADE_IV_SUVMAX, GRADE_III_SUVMAX)
    assert r.auc == pytest.approx(78 / 92, rel=1e-12)


# --- paired time points --------------------------------------------------------------------------

def test_paired_wilcoxon_hand_example():
    before = [1, 2, 3, 4, 5]
    after = [1.5, 2.9, 3.2, 4.8, 6.5]  # differences all positive, distinct
    r = gs.paired_wilcoxon(before, after)
    # exact signed-rank: W- = 0, only 1 of 2^5 sign patterns as extreme per side: p = 2 / 32
    assert r.p == pytest.approx(2 / 32, rel=1e-12)
    assert r.method == "exact"
    # percent changes 50, 45, 6.67, 20, 30: median 30
    assert r.percent_change == pytest.approx((50, 45, 20 / 3, 20, 30))
    assert r.median_percent_change == pytest.approx(30)


def test_paired_figure3_patient():
    # Figure 3: SUVmax 5.53 at 30 min, 6.36 at 60 min: +15.0 % = 100 * 0.83 / 5.53
    r = gs.paired_wilcoxon([5.53], [6.36])
    assert r.median_percent_change == pytest.approx(100 * 0.83 / 5.53, rel=1e-9)
    assert r.p == 1.0  # one pair: both sign patterns are as extreme


# --- descriptive ---------------------------------------------------------------------------------

def test_median_range_and_tumour_types():
    assert _descriptive.median_range([0.49, 1.34, 1.68, 2.05]) == {
        "n": 4, "median": pytest.approx((1.34 + 1.68) / 2), "range": [0.49, 2.05]}
    assert gs.tumour_type("GBM", "IV") == "Glioblastoma (GBM)"
    assert gs.tumour_type("Anaplastic oligoglioma (WHO III)", "III") == "Oligodendroglioma"
    assert gs.tumour_type("Gliosarcoma", "IV") == "Gliosarcoma"
    assert gs.tumour_type("Pilocytic something", "II") == "Pilocytic something"


def test_docstring_examples():
    for mod in (_inference, _descriptive, cohort_mod):
        failed, _ = doctest.testmod(mod)
        assert failed == 0, mod.__name__


# --- the study, reproduced -----------------------------------------------------------------------

def section(result, variable):
    return next(s for s in result["table1"] if s["variable"] == variable)


def test_published_study_reproduced():
    result = stats_from_csv(PUBLISHED)
    # Table 1: 16 male (55 %), 13 female (45 %); age median 56, range 11-73
    sex = section(result, "sex")["rows"]
    assert [(r["label"], r["n"]) for r in sex] == [("Male", 16), ("Female", 13)]
    assert sex[0]["percent"] == pytest.approx(100 * 16 / 29)
    age = section(result, "age")
    assert (age["median"], age["range"]) == (56, [11, 73])
    # tumour types: GBM 23, astrocytoma 2, oligodendroglioma 3, gliosarcoma 1 (Table 1)
    types = {r["label"]: r["n"] for r in section(result, "tumour_type")["rows"]}
    assert types == {"Glioblastoma (GBM)": 23, "Astrocytoma": 2, "Oligodendroglioma": 3, "Gliosarcoma": 1}
    # 5 grade III (17.24 %), 24 grade IV (82.75 %)
    grades = {r["label"]: r["n"] for r in section(result, "who_grade")["rows"]}
    assert grades == {"Grade III": 5, "Grade IV": 24}
    # over the 27 positive scans: SUVmax 2.31 (0.49-9.96), TBR 20 (6.12-124.5)
    suv, tbr = section(result, "suvmax"), section(result, "tbr_max_to_bg_max")
    assert (suv["n"], suv["median"], suv["range"]) == (27, 2.31, [0.49, 9.96])
    assert (tbr["n"], tbr["median"], tbr["range"]) == (27, 20, [6.12, 124.5])
    assert any("excluded" in f for f in result["footnotes"])
    # detection 27/29 = 93.1 %
    det = result["detection_rate"]
    assert (det["k"], det["n"]) == (27, 29)
    assert round(100 * det["rate"], 1) == 93.1
    assert det["ci95"] == list(gs.clopper_pearson(27, 29))
    # grade comparison: III 1.51 (0.49-2.05) vs IV 2.68 (0.83-9.96)
    t_suv = next(t for t in result["tests"] if t["variable"] == "suvmax")
    assert t_suv["groups"] == ["III", "IV"] and t_suv["n"] == [4, 23]
    assert t_suv["median"] == [pytest.approx((1.34 + 1.68) / 2), 2.68]
    assert t_suv["range"] == [[0.49, 2.05], [0.83, 9.96]]
    assert t_suv["u"] == 14 and t_suv["p_exact"] == pytest.approx(473 / 17550) and t_suv["significant"]
    # TBR: III 22.37 (6.12-51.25) vs IV 20 (8.36-124.5): median (16.75 + 28) / 2 = 22.375
    t_tbr = next(t for t in result["tests"] if t["variable"] == "tbr_max_to_bg_max")
    assert t_tbr["median"] == [pytest.approx((16.75 + 28) / 2), 20]
    assert t_tbr["range"] == [[6.12, 51.25], [8.36, 124.5]]
    assert not t_tbr["significant"]
    # Table 2: one row per patient, negatives without SUVmax
    assert len(result["table2"]) == 29
    assert result["table2"][4]["suvmax"] is None and result["table2"][4]["visual"] == "negative"


def test_cli_stats_json_keys_and_values():
    out = run_cli("stats", str(PUBLISHED), "--json")
    assert out.returncode == 0, out.stderr
    obj = json.loads(out.stdout)
    assert {"table1", "table2", "tests", "detection_rate"} <= set(obj)
    for t in obj["tests"]:
        assert {"variable", "groups", "n", "median", "range", "u", "p_exact", "p_asymptotic"} <= set(t)
    assert {"k", "n", "rate", "ci95"} <= set(obj["detection_rate"])
    assert obj["detection_rate"]["k"] == 27


def test_cli_stats_text_prints_the_study_numbers():
    out = run_cli("stats", str(PUBLISHED))
    assert out.returncode == 0, out.stderr
    for text in ("27/29 = 93.1%", "2.31", "0.49\u20139.96", "6.12\u2013124.5", "1.51 (0.49\u20132.05)",
                 "2.68 (0.83\u20139.96)", "exact p = 0.0270", "asymptotic p = 0.0289"):
        assert text in out.stdout


def test_cli_stats_usage_and_db():
    out = run_cli("stats")
    assert out.returncode == 2 and "CSV" in out.stderr
    out = run_cli("stats", "--db", "sqlite://")
    assert out.returncode == 2 and "the store holds no patient" in out.stderr and out.stdout == ""


def write_csv(path, header, rows):
    path.write_text("\n".join([",".join(header)] + [",".join(r) for r in rows]) + "\n", encoding="utf-8")
    return path


HEADER = ["patient_id", "sex", "age", "diagnosis", "who_grade", "suvmax", "tbr_max_to_bg_max", "visual"]
GOOD = [["p1", "M", "50", "GBM", "IV", "2.5", "20", "positive"],
        ["p2", "F", "40", "Anaplastic Astrocytoma", "III", "1.5", "10", "positive"],
        ["p3", "F", "45", "GBM", "IV", "", "", "negative"]]


@pytest.mark.parametrize("mutate,pattern", [
    (lambda h, r: (h[:-1], [x[:-1] for x in r]), r"required column\(s\) missing: visual"),
    (lambda h, r: (h, [r[0], [*r[1][:4], "V", *r[1][5:]], r[2]]), r"line 3, column 'who_grade': 'V' is not one of II\|III\|IV"),
    (lambda h, r: (h, [r[0], r[1], ["p3", "F", "45", "GBM", "IV", "abc", "", "negative"]]),
     r"line 4, column 'suvmax': 'abc' is not a number"),
    (lambda h, r: (h, [["p1", "M", "50", "GBM", "IV", "", "20", "positive"], *r[1:]]),
     r"line 2, column 'suvmax': missing for a visually positive scan"),
    (lambda h, r: (h, [r[0], ["p1", *r[1][1:]], r[2]]), r"line 3, column 'patient_id': repeats"),
    (lambda h, r: (h, [r[0], r[1], ["p3", "X", "45", "GBM", "IV", "", "", "negative"]]), r"line 4, column 'sex': 'X' is not one of M\|F"),
])
def test_bad_input_names_file_line_and_column(tmp_path, mutate, pattern):
    header, rows = mutate(list(HEADER), [list(r) for r in GOOD])
    path = write_csv(tmp_path / "cohort.csv", header, rows)
    with pytest.raises(InputError, match=r"^cohort\.csv: " + pattern):
        read_cohort_csv(path)
    out = run_cli("stats", str(path), "--json")
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.startswith("gliopet: error: cohort.csv") and len(out.stderr.strip().splitlines()) == 1
    assert "p1" not in out.stderr and "p2" not in out.stderr  # no patient identifier in the message


def test_a_csv_with_none_of_the_columns_names_them_once(tmp_path):
    path = write_csv(tmp_path / "cohort.csv", ["a", "b"], [["1", "2"]])
    expected = ("cohort.csv: required column(s) missing: patient_id, sex, age, diagnosis, who_grade, visual, "
                "suvmax, tbr_max_to_bg_max")
    with pytest.raises(InputError) as err:
        read_cohort_csv(path)
    assert str(err.value) == expected
    # with some present, the full list of what is needed follows the missing ones
    path = write_csv(tmp_path / "cohort.csv", HEADER[:-1], [r[:-1] for r in GOOD])
    with pytest.raises(InputError, match=r"missing: visual \(needed: patient_id, sex, .*tbr_max_to_bg_max\)$"):
        read_cohort_csv(path)


def test_readers_and_time_points(tmp_path):
    header = HEADER + ["visual_reader1", "visual_reader2", "suvmax_30min", "note"]
    rows = [
        ["a", "M", "50", "GBM", "IV", "2.5", "20", "positive", "positive", "positive", "2.0", "x"],
        ["b", "F", "40", "GBM", "IV", "3.0", "25", "positive", "positive", "negative", "2.4", ""],
        ["c", "F", "45", "GBM", "IV", "", "", "negative", "negative", "negative", "", ""],
        ["d", "M", "60", "Anaplastic Astrocytoma", "III", "1.0", "9", "positive", "positive", "positive", "1.1", ""],
    ]
    result = stats_from_csv(write_csv(tmp_path / "c.csv", header, rows))
    # readers: both positive 2, r1 pos / r2 neg 1, both negative 1: p_o = 3/4,
    # p_e = (3*2 + 1*2) / 16 = 1/2, kappa = (3/4 - 1/2) / (1/2) = 1/2
    assert result["kappa"]["kappa"] == pytest.approx(0.5)
    (paired,) = result["paired"]
    assert paired["time_points_min"] == [30, 60] and paired["columns"] == ["suvmax_30min", "suvmax"]
    # +25 %, +25 %, -9.09 %: median 25
    assert paired["percent_change"] == pytest.approx([25, 25, -100 * 0.1 / 1.1])
    assert paired["median_percent_change"] == pytest.approx(25)
    assert result["table2"][0]["note"] == "x"  # optional column passed through


def test_a_btv_that_did_not_separate_is_left_out_with_a_footnote(tmp_path):
    header = HEADER + ["btv_ml", "btv_separates"]
    rows = [
        ["a", "M", "50", "GBM", "IV", "2.5", "20", "positive", "12", "true"],
        ["b", "F", "40", "GBM", "IV", "3.0", "25", "positive", "633", "false"],   # flooded normal brain
        ["c", "F", "45", "GBM", "IV", "2.0", "15", "positive", "20", "True"],     # the store's bool, as written
        ["d", "M", "60", "Anaplastic Astrocytoma", "III", "1.0", "9", "positive", "4", ""],  # not judged: kept
        ["e", "M", "61", "Anaplastic Astrocytoma", "III", "1.2", "8", "positive", "900", "FALSE"],
    ]
    result = stats_from_csv(write_csv(tmp_path / "c.csv", header, rows))
    (btv,) = [sec for sec in result["table1"] if sec["variable"] == "btv_ml"]
    # kept: 12, 20 and 4 -> median 12, range 4-20
    assert (btv["n"], btv["median"], btv["range"]) == (3, 12, [4, 20])
    assert any(f.startswith("BTV left out for 2 scans where its threshold did not separate") for f in
               result["footnotes"])
    (test,) = [t for t in result["tests"] if t["variable"] == "btv_ml"]
    assert test["groups"] == ["III", "IV"] and test["n"] == [1, 2]
    assert result["table2"][1]["btv_ml"] == 633  # the table of patients keeps every value as measured
    # every BTV flooded: no BTV row at all (not an empty median)
    rows = [r[:-1] + ["false"] for r in rows]
    result = stats_from_csv(write_csv(tmp_path / "all.csv", header, rows))
    assert not [sec for sec in result["table1"] if sec["variable"] == "btv_ml"]
    assert "btv_ml" not in {t["variable"] for t in result["tests"]}


def test_cohens_kappa_undefined_when_both_readers_constant():
    k = gs.cohens_kappa(["positive"] * 3, ["positive"] * 3)  # p_o = p_e = 1: 0 / 0
    assert k.kappa is None and k.ci95 is None


def test_table1_referral_and_prior_treatment_as_the_study(tmp_path):
    # The study's Table 1: staging 24 (83 %), recurrence 5 (17 %); of the 5 recurrences surgery 5 (100 %),
    # chemotherapy 4 (80 %), radiotherapy 1 (20 %). Table 2 lacks these columns: add them (patient 29 is a
    # recurrence after surgery and chemotherapy, Figure 1; the other four are chosen for the test).
    recurrence = {"29": ("yes", "yes", "no"), "1": ("yes", "yes", "yes"), "2": ("yes", "yes", "no"),
                  "3": ("yes", "yes", "no"), "6": ("yes", "no", "no")}
    lines = PUBLISHED.read_text(encoding="utf-8").splitlines()
    out = [lines[0] + ",referral,prior_surgery,prior_chemotherapy,prior_radiotherapy,tumour_type"]
    for line in lines[1:]:
        pid = line.split(",", 1)[0]
        prior = recurrence.get(pid)
        extra = ["recurrence", *prior] if prior else ["staging", "", "", ""]
        out.append(line + "," + ",".join(extra) + ("," + "Glioblastoma (GBM)" if pid == "18" else ","))
    path = tmp_path / "with_referral.csv"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    result = stats_from_csv(path)
    referral = {r["label"]: (r["n"], r["of"]) for r in section(result, "referral")["rows"]}
    assert referral == {"Staging": (24, 29), "Recurrence": (5, 29)}
    prior = {r["label"]: (r["n"], r["percent"]) for r in section(result, "prior_treatment")["rows"]}
    assert prior == {"Surgery": (5, 100.0), "Chemotherapy": (4, 80.0), "Radiotherapy": (1, 20.0)}
    # tumour_type overrides the derived type: patient 18 now counts as GBM (24), oligodendroglioma 2
    types = {r["label"]: r["n"] for r in section(result, "tumour_type")["rows"]}
    assert types["Glioblastoma (GBM)"] == 24 and types["Oligodendroglioma"] == 2
