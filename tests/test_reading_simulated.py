"""The demo's simulated readers: stored and audited like real reads, disagreements adjudicated to the truth.

Truth for the four test patients is chosen here (visible or not, true TBR); the expected reads follow the
rules written in gliopet.reading._simulated's docstring, worked out by hand below.
"""

from __future__ import annotations

import sqlalchemy as sa

from gliopet.reading._simulated import INTENSE_TBR, SIMULATED_COMMENT, TruthRead, simulate_reading
from gliopet.store import analysis_table, open_store
from test_reading_fixtures import build_store

TRUTH_TBR = (25.0, 12.0, 40.0, None)  # patient 3: no visible lesion


def test_simulated_reads_are_real_reads_and_the_consensus_is_the_truth(tmp_path):
    store = build_store(tmp_path)
    truth = {pid: TruthRead(visible=tbr is not None, tbr=tbr) for pid, tbr in zip(store.patient_ids, TRUTH_TBR)}
    engine = open_store(store.url)
    summary = simulate_reading(engine, "sim", truth, seed=5, misses=(1, 2))
    # reader 1 misses one case, reader 2 two others: three cases read differently, each adjudicated
    assert summary["cases"] == 4 and summary["readers"] == ["sim-reader1", "sim-reader2"]
    assert summary["disagreements"] == 3
    with engine.connect() as connection:
        reads = connection.execute(sa.text(
            "SELECT p.patient_id, r.name, a.visual, a.score, a.confidence, a.status, a.comment "
            "FROM reading_assignments a JOIN readers r ON r.id = a.reader_pk "
            "JOIN reading_cases c ON c.id = a.case_pk JOIN patients p ON p.id = c.patient_pk")).all()
        consensus = dict(connection.execute(sa.text(
            "SELECT p.patient_id, x.visual FROM reading_consensus x JOIN reading_cases c ON c.id = x.case_pk "
            "JOIN patients p ON p.id = c.patient_pk")).all())
        audited = connection.execute(sa.text("SELECT action, count(*) FROM audit GROUP BY action")).all()
    assert len(reads) == 8 and all(r.status == "submitted" and r.comment == SIMULATED_COMMENT for r in reads)
    wrong = [(r.patient_id, r.name) for r in reads if (r.visual == "positive") != truth[r.patient_id].visible]
    assert len(wrong) == 3 and len({pid for pid, _ in wrong}) == 3  # no case missed by both readers
    for r in reads:
        t = truth[r.patient_id]
        right = (r.visual == "positive") == t.visible
        if r.visual == "negative":
            expected = 1 if t.visible else 0  # an equivocal miss, or none
        elif not t.visible:
            expected = 1  # a false positive is equivocal
        else:
            expected = 3 if t.tbr >= INTENSE_TBR else 2  # TBR 25 and 40: intense; 12: moderate
        assert (r.score, r.confidence) == (expected, 5 if right else 3)
    # the chief settled exactly the disagreements, with the truth
    assert set(consensus) == {pid for pid, _ in wrong}
    assert all((consensus[pid] == "positive") == truth[pid].visible for pid in consensus)
    assert dict(audited)["submit"] == 8 and dict(audited)["adjudicate"] == 3
    # the analysis table: visual is the truth on every case; both readers' reads and scores are columns
    rows = {r["patient_id"]: r for r in analysis_table(engine).rows}
    assert all((rows[pid]["visual"] == "positive") == truth[pid].visible for pid in truth)
    assert {"visual_reader1", "visual_reader2", "score_reader1", "score_reader2"} <= set(rows[store.patient_ids[0]])
    engine.dispose()
