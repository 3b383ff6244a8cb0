"""Dynamic metrics through the cohort (issue 20, item 5): analyze --tracer, the store's analysis table, the
analysis CSV, stats and the report, on a 2-patient simulated FET cohort and on hand-made cohorts."""

import csv
import math

import pytest

from gliopet.analyze import run_analysis
from gliopet.cohort import load_cohort_csv, load_cohort_store, write_cohort_csv
from gliopet.errors import InputError
from gliopet.report import write_report
from gliopet.simulate.dynamic_cohort import dynamic_cohort_specs, simulate_dynamic_cohort
from gliopet.stats import analyse_cohort, cohort_from_values

SHORT_FRAMING_S = (300, 300, 600, 600, 600)  # 0-5, 5-10, 10-20, 20-30, 30-40 min


@pytest.fixture(scope="module")
def fet_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("fet")
    cohort = simulate_dynamic_cohort(dynamic_cohort_specs(2, seed=5), root / "dicom", seed=5, workers=2,
                                     framing_s=SHORT_FRAMING_S, progress=False)
    summary = run_analysis(cohort.root, cohort.clinical_csv, db=str(root / "g.sqlite"), workers=2, tracer="fet",
                           progress=False)
    assert (summary.measured, summary.failed) == (2, 0), summary.errors
    with open(cohort.ground_truth_csv, newline="") as fh:
        truth = {r["patient_id"]: r for r in csv.DictReader(fh)}
    return root, truth


def test_analyze_with_the_fet_preset_stores_the_curve_metrics(fet_store):
    root, truth = fet_store
    source = load_cohort_store(str(root / "g.sqlite"))
    rows = {r["patient_id"]: r for r in source.cohort.rows}
    # The simulator's grades and curve shapes: grade IV early peak then decline, grade II steady rise.
    assert {pid: (r["who_grade"], r["tac_pattern"]) for pid, r in rows.items()} == {
        "SIM001": ("IV", "decreasing"), "SIM002": ("II", "increasing")}
    for pid, row in rows.items():
        # The true peak frame (the phantom's curve): 5-10 min for the early peak, 30-40 min for the rise.
        assert row["tac_ttp_min"] == float(truth[pid]["ttp_min"])
        assert math.copysign(1, row["tac_slope_suv_per_h"]) == math.copysign(1, float(truth[pid]["slope_per_h"]))
    assert truth["SIM001"]["ttp_min"] == "7.5" and truth["SIM002"]["ttp_min"] == "35.0"
    # The preset is what was recorded: the FET static window, crescent background, the TAC settings.
    assert source.parameters["tracer"] == "fet" and source.parameters["background"] == "crescent"
    assert source.parameters["static_window_min"] == [20, 40]
    assert source.parameters["dynamic"]["slope_window_min"] == [20, 40]
    # The curves travel with the cohort for the report: 5 frames, mid-times 2.5 ... 35 min.
    assert [c["patient_id"] for c in source.curves] == ["SIM001", "SIM002"]
    assert source.curves[0]["mid_min_pi"] == pytest.approx([2.5, 7.5, 15, 25, 35])
    assert len(source.curves[1]["lesion_suvmean"]) == 5


def test_the_analysis_csv_keeps_negative_slopes_and_the_report_draws_the_curves(fet_store, tmp_path):
    root, _ = fet_store
    source = load_cohort_store(str(root / "g.sqlite"))
    path = write_cohort_csv(source, tmp_path / "analysis.csv")
    again = load_cohort_csv(path).cohort
    assert [r["tac_slope_suv_per_h"] for r in again.rows] == [r["tac_slope_suv_per_h"] for r in source.cohort.rows]
    assert again.rows[0]["tac_slope_suv_per_h"] < 0
    html = write_report(source, tmp_path / "report.html", figures_dir=tmp_path / "figures").read_text()
    assert "Lesion time-activity curves" in html
    assert "WHO II (n = 1): increasing 1, plateau 0, decreasing 0; time to peak 35 min" in html
    assert "the frames of 20\u201340 min p.i. summed" in html and "&gt;= 90 % of the summed image" in html
    assert "dynamic series summed over 20&ndash;40 min p.i." in html
    # The FET preset's background is the crescent, said as such (no 25 mm circle in a crescent cohort's methods).
    assert "Background uptake was measured over a crescent-shaped region along the cortex" in html
    assert "background a crescent-shaped region" in html and "circular ROI of 25 mm" not in html
    assert (tmp_path / "figures" / "tac_lesion.svg").read_bytes().lstrip().startswith(b"<?xml")


def _cohort(values):
    columns = ["patient_id", "sex", "age", "diagnosis", "who_grade", "visual", "suvmax", "tbr_max_to_bg_max",
               "tac_ttp_min", "tac_slope_suv_per_h", "tac_pattern"]
    rows = [dict(zip(columns, (f"P{n}", "M", "50", "GBM" if g == "IV" else "Astrocytoma", g, "positive", "3", "2",
                               *v))) for n, (g, *v) in enumerate(values, start=1)]
    return cohort_from_values(columns, enumerate(rows, start=2), source="hand.csv")


def test_dynamic_summary_by_grade_by_hand():
    cohort = _cohort([("IV", "7.75", "-6.0", "decreasing"), ("IV", "10.25", "-4.0", "decreasing"),
                      ("IV", "37.5", "-0.1", "plateau"), ("II", "37.5", "2.5", "increasing"),
                      ("II", "32.5", "1.5", "increasing")])
    result = analyse_cohort(cohort)
    by_grade = {g["grade"]: g for g in result["dynamic"]["by_grade"]}
    # Grade IV: patterns 0 / 1 / 2; TTP 7.75, 10.25, 37.5 -> median 10.25; slopes -6, -4, -0.1 -> median -4.
    assert by_grade["IV"]["patterns"] == {"increasing": 0, "plateau": 1, "decreasing": 2}
    assert by_grade["IV"]["tac_ttp_min"] == {"n": 3, "median": 10.25, "range": [7.75, 37.5]}
    assert by_grade["IV"]["tac_slope_suv_per_h"] == {"n": 3, "median": -4.0, "range": [-6.0, -0.1]}
    # Grade II: median of 37.5 and 32.5 is 35; of 2.5 and 1.5 is 2.
    assert by_grade["II"]["tac_ttp_min"]["median"] == 35.0 and by_grade["II"]["tac_slope_suv_per_h"]["median"] == 2.0
    # The slopes of the two grades do not overlap: Mann-Whitney U = 0 for 3 vs 2, exact p = 2 / C(5, 2) = 0.2.
    test = next(t for t in result["tests"] if t["variable"] == "tac_slope_suv_per_h")
    assert test["u"] == 0 and test["p_exact"] == pytest.approx(0.2)


def test_bad_dynamic_cells_are_refused_naming_line_and_column():
    with pytest.raises(InputError, match=r"hand.csv: line 2, column 'tac_pattern': 'rising' is not one of"):
        _cohort([("IV", "7.75", "-6.0", "rising")])
    with pytest.raises(InputError, match=r"line 2, column 'tac_ttp_min': '-1' is negative"):
        _cohort([("IV", "-1", "-6.0", "decreasing")])
    with pytest.raises(InputError, match=r"line 2, column 'tac_slope_suv_per_h': 'fast' is not a number"):
        _cohort([("IV", "7.75", "fast", "decreasing")])


def test_analyze_refuses_an_unknown_tracer_before_storing_anything(tmp_path):
    clinical = tmp_path / "clinical.csv"
    clinical.write_text("patient_id,sex,age,diagnosis,who_grade\nP1,M,50,GBM,IV\n")
    with pytest.raises(InputError, match="--tracer 'fdg-typo'"):
        run_analysis(tmp_path, clinical, db=str(tmp_path / "g.sqlite"), tracer="fdg-typo", progress=False)
    assert not (tmp_path / "g.sqlite").exists()


def _window_frames(folder, first_frame, n_frames):
    """The pydicom datasets of frames ``first_frame`` .. (0-based, in ImageIndex order), slice-sorted each."""
    import pydicom

    datasets = [pydicom.dcmread(p) for p in sorted(folder.iterdir())]
    per = int(datasets[0].NumberOfSlices)
    frames = []
    for frame in range(first_frame, first_frame + n_frames):
        chosen = [d for d in datasets if (int(d.ImageIndex) - 1) // per == frame]
        frames.append(sorted(chosen, key=lambda d: float(d.ImagePositionPatient[2])))
    return frames


def test_the_fet_store_leaves_in_seg_sr_and_nifti_measured_on_the_summed_window(fet_store, tmp_path):
    # The FET cohort was measured on each dynamic series' 20-40 min frames summed (the preset's window) with the
    # crescent background; the export reads that sum again and measures the crescent again with the recorded preset.
    import json
    import sqlite3

    import highdicom as hd
    import nibabel
    import numpy as np

    from gliopet.export import export_store, read_measurement_report

    root, _ = fet_store
    outs = {kind: tmp_path / kind for kind in ("seg", "sr", "nifti")}
    lines = list(export_store(str(root / "g.sqlite"), outs))
    assert [line.split(",")[0] for line in lines] == [f"export {k}: 2 studies" for k in ("seg", "sr", "nifti")]
    with sqlite3.connect(root / "g.sqlite") as con:
        (text,) = con.execute("select m.record from measurements m join studies s on s.id = m.study_pk "
                              "where s.folder like '%SIM001'").fetchone()
    record = json.loads(text)
    # SR: the stored values, the background named as the crescent it is
    values = {(m.group, m.derivation[1] if m.derivation else None, m.method[1] if m.method else None): m.value
              for m in read_measurement_report(outs["sr"] / "sub-SIM001_ses-1_sr.dcm")}
    assert values[("Lesion circle", "56851009", "126410")] == record["suvmax"]
    assert values[("Background crescent", "373098007", "126410")] == record["bg_suvmean"]
    assert values[("Biological tumour volume", None, None)] == record["btv_ml"]
    # SEG: on the dynamic series' grid; its source images are the first summed frame's (20-30 min, the 4th of
    # 0-5, 5-10, 10-20, 20-30, 30-40), and its BTV segment holds the stored number of voxels
    window = _window_frames(root / "dicom" / "SIM001" / "PET_DYNAMIC", 3, 2)
    seg = hd.seg.segread(outs["seg"] / "sub-SIM001_ses-1_seg.dcm")
    (series,) = seg.ReferencedSeriesSequence
    assert series.SeriesInstanceUID == window[0][0].SeriesInstanceUID
    assert {i.ReferencedSOPInstanceUID for i in series.ReferencedInstanceSequence} == {
        d.SOPInstanceUID for d in window[0]}
    btv = seg.get_volume(segment_numbers=[4], combine_segments=True)
    assert int((np.asarray(btv.array) > 0).sum()) == record["btv"]["n_voxels"]
    # NIfTI: the SUV image is the mean of the two 10-min frames (equal durations) in Bq/mL, decay-corrected to the
    # injection, times weight / injected activity, by pydicom here
    first = window[0][0]
    factor = float(first.PatientWeight) * 1000.0 / float(first.RadiopharmaceuticalInformationSequence[0]
                                                          .RadionuclideTotalDose)
    stacks = [np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in frame])
              for frame in window]
    expected = (stacks[0] + stacks[1]) / 2.0 * factor
    image = nibabel.load(outs["nifti"] / "sub-SIM001" / "ses-1" / "pet" / "sub-SIM001_ses-1_desc-suv_pet.nii.gz")
    data = np.asarray(image.dataobj, dtype=np.float64)
    assert data.shape == expected.shape[::-1]
    assert data.max() == pytest.approx(expected.max(), rel=1e-5)
    assert data.sum() == pytest.approx(expected.sum(), rel=1e-5)


def test_measure_writes_seg_and_sr_of_a_dynamic_series(fet_store, tmp_path):
    import json

    from click.testing import CliRunner

    from gliopet.cli import main
    from gliopet.export import read_measurement_report

    root, _ = fet_store
    study = root / "dicom" / "SIM002"
    seg, sr = tmp_path / "roi.dcm", tmp_path / "report.dcm"
    result = CliRunner().invoke(main, ["measure", str(study / "PET_DYNAMIC"), "--ct", str(study / "CT"), "--tracer",
                                       "fet", "--seg", str(seg), "--sr", str(sr), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    values = {(m.group, m.derivation[1] if m.derivation else None, m.method[1] if m.method else None): m.value
              for m in read_measurement_report(sr)}
    assert values[("Lesion circle", "56851009", "126410")] == record["suvmax"]
    assert values[("Background crescent", "373098007", "126410")] == record["bg_suvmean"]
    assert record["dynamic"]["pattern"] == "increasing" and seg.stat().st_size > 0
