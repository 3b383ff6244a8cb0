"""Agreement between two readers: percent agreement, PABAK, Gwet's AC1, weighted kappa.

Expected values come from a published worked example (Gwet's own irrCAC package, README, the
``cont3x3abstractors`` table: 100 subjects, 3 categories) and from arithmetic written here.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from gliopet.cohort import read_cohort_csv
from gliopet.errors import InputError
from gliopet.stats import analyse_cohort, format_stats
from gliopet.stats._agreement import agreement_table, gwet_ac1, pabak, percent_agreement, weighted_kappa

#: irrCAC README (Gwet KL, R package irrCAC 1.0): rows rater A, columns rater B (Ectopic, AIU, NIU).
ABSTRACTORS = np.array([[13, 0, 0], [0, 20, 7], [0, 4, 56]], dtype=float)


def test_the_published_example_of_gwets_package():
    # printed there: percent agreement 0.89 (SE 0.03128898, CI 0.828-0.952); Brennan-Prediger (PABAK for
    # three categories) 0.835 (SE 0.04693346, CI 0.742-0.928); Gwet's AC1 0.8493305 (SE 0.04321747,
    # CI 0.764-0.935)
    pa, bp, ac1 = percent_agreement(ABSTRACTORS), pabak(ABSTRACTORS), gwet_ac1(ABSTRACTORS)
    assert (pa.value, pa.se) == (pytest.approx(0.89, abs=1e-12), pytest.approx(0.03128898, abs=5e-9))
    assert (bp.value, bp.se) == (pytest.approx(0.835, abs=1e-12), pytest.approx(0.04693346, abs=5e-9))
    assert (ac1.value, ac1.se) == (pytest.approx(0.8493305, abs=5e-8), pytest.approx(0.04321747, abs=5e-9))
    assert [round(v, 3) for v in pa.ci95] == [0.828, 0.952]
    assert [round(v, 3) for v in bp.ci95] == [0.742, 0.928]
    assert [round(v, 3) for v in ac1.ci95] == [0.764, 0.935]


def test_high_agreement_low_kappa_is_what_ac1_and_pabak_are_for():
    # 29 scans, 27 agreed on (26 positive, 1 negative), one disagreement each way: the study's prevalence
    r1 = ["positive"] * 26 + ["negative", "negative", "positive"]
    r2 = ["positive"] * 26 + ["negative", "positive", "negative"]
    table, cats = agreement_table(r1, r2)
    assert cats == ("negative", "positive") and table.tolist() == [[1, 1], [1, 26]]
    # p_a = 27/29; PABAK = 2 p_a - 1 = 25/29
    assert percent_agreement(table).value == pytest.approx(27 / 29, rel=1e-12)
    assert pabak(table).value == pytest.approx(25 / 29, rel=1e-12)
    # pi_neg = 2/29, pi_pos = 27/29: p_e = 2 (2/29)(27/29) / (2 - 1) = 108/841; AC1 = (783 - 108) / (841 - 108)
    assert gwet_ac1(table).value == pytest.approx(675 / 733, rel=1e-12)
    # Cohen's kappa on the same reads: p_e = (2/29)^2 + (27/29)^2 = 733/841; kappa = (783 - 733) / (841 - 733)
    stats = _stats_of(r1, r2)
    assert stats["kappa"]["kappa"] == pytest.approx(50 / 108, rel=1e-12)
    assert stats["agreement"]["gwet_ac1"]["value"] == pytest.approx(675 / 733, rel=1e-12)
    assert stats["agreement"]["pabak"]["value"] == pytest.approx(25 / 29, rel=1e-12)


def test_weighted_kappa_of_the_four_point_scale_by_hand():
    # two disagreements of one step (2 vs 3, 3 vs 2) in 6 scans; both readers' marginals are (1, 1, 2, 2)
    # observed sum |i-j| p_ij = 2/6; expected sum |i-j| a_i b_j / 36 = 42/36 (rows: 11 + 7 + 10 + 14)
    # kappa_w = 1 - (12/36) / (42/36) = 5/7
    r1, r2 = [0, 1, 2, 3, 3, 2], [0, 1, 3, 3, 2, 2]
    result = weighted_kappa(r1, r2, weights="linear")
    assert result.kappa == pytest.approx(5 / 7, rel=1e-12)
    assert result.ci95[0] < result.kappa <= result.ci95[1] <= 1.0
    # quadratic: the same two disagreements weigh (3-2)^2 = 1 each, observed 2/6; expected
    # sum (i-j)^2 a_i b_j / 36 by rows: (1+8+18) + (1+2+8) + (8+2+4) + (18+8+4) = 82 -> 82/36
    # kappa_q = 1 - (12/36) / (82/36) = 35/41
    assert weighted_kappa(r1, r2, weights="quadratic").kappa == pytest.approx(35 / 41, rel=1e-12)
    assert weighted_kappa([2, 2], [2, 2]).kappa is None  # one score throughout: undefined


def test_a_score_outside_the_scale_is_refused():
    with pytest.raises(InputError, match="score 4 is not one of 0, 1, 2, 3"):
        weighted_kappa([0, 4], [0, 1])


def _stats_of(r1, r2, scores=None, tmp_path=None) -> dict:
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp()) if tmp_path is None else tmp_path
    path = folder / "readers.csv"
    header = ["patient_id", "sex", "age", "diagnosis", "who_grade", "visual", "suvmax", "tbr_max_to_bg_max",
              "visual_reader1", "visual_reader2"] + (["score_reader1", "score_reader2"] if scores else [])
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for i, (a, b) in enumerate(zip(r1, r2)):
            consensus = a if a == b else "positive"
            row = [f"P{i}", "M", "60", "GBM", "IV" if i % 4 else "III", consensus,
                   "2.5" if consensus == "positive" else "", "20" if consensus == "positive" else "", a, b]
            if scores:
                row += [str(scores[0][i]), str(scores[1][i])]
            writer.writerow(row)
    return analyse_cohort(read_cohort_csv(path))


def test_the_statistics_and_their_text_carry_the_agreement(tmp_path):
    r1 = ["positive"] * 5 + ["negative"]
    r2 = ["positive"] * 4 + ["negative", "negative"]
    scores = ([3, 2, 3, 2, 1, 0], [3, 2, 3, 2, 0, 0])
    result = _stats_of(r1, r2, scores, tmp_path)
    agreement = result["agreement"]
    assert agreement["table"] == [[1, 0], [1, 4]] and agreement["n"] == 6
    assert agreement["percent_agreement"]["value"] == pytest.approx(5 / 6, rel=1e-12)
    # one disagreement of one step in six: observed 1/6; marginals (1,1,2,2) and (2,0,2,2):
    # expected sum |i-j| a_i b_j / 36 = (0+0+4+6) + (2+0+2+4) + (8+0+0+4) + (12+0+4+0) = 46 -> 46/36
    assert agreement["weighted_kappa"]["kappa"] == pytest.approx(1 - (1 / 6) / (46 / 36), rel=1e-12)
    text = format_stats(result)
    assert "Gwet's AC1" in text and "PABAK" in text and "linear weighted kappa" in text
