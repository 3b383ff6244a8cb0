"""gliopet.report, checked as a reader would: the PDF rasterised with pdftoppm and read with
pdftotext, the HTML opened in headless Chromium (playwright), figures decoded.

Expected numbers are the study's (reference/pentixafor-glioma-study.txt, Table 2 and Results).
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gliopet.report import ReportParameters, methods_paragraph, write_report
from gliopet.report import figures as fg
from gliopet.cohort import read_cohort_csv
from gliopet.stats import analyse_cohort


def stats_from_csv(path):
    return analyse_cohort(read_cohort_csv(path))


PUBLISHED = Path(__file__).resolve().parents[1] / "src" / "gliopet" / "data" / "reference" / "table2-published.csv"
STAMP = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
#: Smallest legible text in the browser: 9 pt = 12 CSS px; we accept >= 11 px.
MIN_FONT_PX = 11.0


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "gliopet.cli", *args], capture_output=True, text=True,
                          timeout=180)


def ink_fraction(png_path: Path) -> float:
    """Fraction of pixels that are not (near) white."""
    arr = np.asarray(Image.open(png_path).convert("L"), dtype=np.uint8)
    return float(np.mean(arr < 200))


def colour_fraction(png_path: Path) -> float:
    """Fraction of clearly coloured (non-grey) pixels: figures, not text."""
    arr = np.asarray(Image.open(png_path).convert("RGB"), dtype=np.int16)
    return float(np.mean(arr.max(axis=2) - arr.min(axis=2) > 60))


@pytest.fixture(scope="module")
def pdf_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("pdf") / "study.pdf"
    assert write_report(PUBLISHED, out, generated_at=STAMP) == out
    return out


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(browser, html_path: Path):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(html_path.resolve().as_uri(), wait_until="load")
    return page, requests


# --- PDF -----------------------------------------------------------------------------------------

def test_pdf_pages_render_with_content(pdf_report, tmp_path):
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf_report), str(tmp_path / "page")], check=True,
                   timeout=120)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 3  # methods + tables + figures + Table 2 do not fit on fewer
    for p in pages:
        w, h = Image.open(p).size
        assert (w, h) == pytest.approx((210 / 25.4 * 40, 297 / 25.4 * 40), abs=2)  # A4 at 40 dpi
        assert ink_fraction(p) > 0.005, p.name  # every page carries text
    # the figures (coloured points and bars) are drawn on some page
    assert max(colour_fraction(p) for p in pages) > 0.01


def test_pdf_text_holds_the_study_numbers(pdf_report):
    text = subprocess.run(["pdftotext", "-layout", str(pdf_report), "-"], capture_output=True, text=True,
                          check=True, timeout=120).stdout
    # detection 27/29 = 93.1 %; SUVmax 2.31 (0.49-9.96), TBR 20 (6.12-124.5) over the 27 positive scans
    assert "27/29 = 93.1 %" in text
    assert "0.49\u20139.96" in text and "6.12\u2013124.5" in text
    # grade comparison: III 1.51 (0.49-2.05) vs IV 2.68 (0.83-9.96); exact p = 473/17550 = 0.0270
    assert "1.51 (0.49\u20132.05)" in text and "2.68 (0.83\u20139.96)" in text and "0.0270" in text
    # Table 2, patient 29: GBM, 63/F, 9.96, TBR 9.96 / 0.08 = 124.5
    assert any(line.split()[:7] == ["29", "GBM", "IV", "63", "F", "9.96", "124.5"] for line in text.splitlines())
    # methods from the parameters, provenance with the input's hash and the time stamp
    assert "10 mm" in text and "25 mm" in text and "SUVbw" in text
    assert hashlib.sha256(PUBLISHED.read_bytes()).hexdigest() in text.replace("\n", "")
    assert "2026-01-02T03:04:05+00:00" in text
    assert "no 'snapshot' column" in text  # image panels absent, and the report says so


# --- HTML in Chromium ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def html_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("html") / "study.html"
    write_report(PUBLISHED, out, generated_at=STAMP)
    return out


def test_html_tables_and_figures_in_chromium(browser, html_report):
    page, requests = open_page(browser, html_report)
    try:
        # self-contained: nothing but the file itself and data: URIs was requested
        assert all(u.startswith("data:") or u == html_report.resolve().as_uri() for u in requests), requests
        rows = page.locator("#table2 tbody tr")
        assert rows.count() == 29
        cells = rows.nth(28).locator("td").all_inner_texts()
        assert cells[:7] == ["29", "GBM", "IV", "63", "F", "9.96", "124.5"]
        assert rows.nth(4).locator("td").all_inner_texts()[5:8] == ["-", "-", "negative"]  # patient 5
        t1 = page.locator("#table1").inner_text()
        assert "16 (55%)" in t1 and "13 (45%)" in t1 and "23 (79%)" in t1
        tests = page.locator("#tests tbody tr").first.locator("td").all_inner_texts()
        assert tests[0] == "SUVmax" and tests[3] == "1.51 (0.49\u20132.05)" and tests[6] == "0.0270"
        images = page.locator("#figures img")
        assert images.count() == 3  # two box/strip plots and the waterfall (no time points in this input)
        for i in range(images.count()):
            width, shown = images.nth(i).evaluate("im => [im.naturalWidth, im.getBoundingClientRect().width]")
            assert width > 0 and shown >= 250
        sizes = page.evaluate("""() => Array.from(document.querySelectorAll('td, th, p, li, figcaption'))
            .map(e => parseFloat(getComputedStyle(e).fontSize))""")
        assert min(sizes) >= MIN_FONT_PX
        assert "no 'snapshot' column" in page.locator("#panels").inner_text()
    finally:
        page.close()


def test_html_with_snapshots_and_time_points(browser, tmp_path):
    rng = np.random.default_rng(6)
    Image.fromarray((rng.random((64, 96, 3)) * 255).astype(np.uint8)).save(tmp_path / "p1.png")
    (tmp_path / "p2.png").write_bytes(b"not a png")
    header = ("patient_id,sex,age,diagnosis,who_grade,suvmax,tbr_max_to_bg_max,visual,suvmax_30min,"
              "visual_reader1,visual_reader2,snapshot")
    rows = ["1,M,50,GBM,IV,2.5,20,positive,2.0,positive,positive,p1.png",
            "2,F,40,GBM,IV,3.0,25,positive,2.4,positive,negative,p2.png",
            "3,F,45,GBM,IV,,,negative,,negative,negative,missing.png",
            "4,M,60,Anaplastic Astrocytoma,III,1.0,9,positive,1.1,positive,positive,",
            "5,M,61,Anaplastic Astrocytoma,III,1.2,8,positive,1.0,positive,positive,"]
    csv = tmp_path / "cohort.csv"
    csv.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    out = write_report(csv, tmp_path / "out" / "r.html", generated_at=STAMP, figures_dir=tmp_path / "figs")
    page, _ = open_page(browser, out)
    try:
        panels = page.locator("#panels img")
        assert panels.count() == 1
        assert panels.first.evaluate("im => [im.naturalWidth, im.naturalHeight]") == [96, 64]
        text = page.locator("#panels").inner_text()
        assert "p2.png is not a PNG file" in text and "missing.png not found" in text
        assert page.locator("#fig-paired_suvmax_30_60 img").evaluate("im => im.naturalWidth") > 0
        # 30 -> 60 min: +25 %, +25 %, -9.1 %, +20 %: median change +22.5 %
        assert "median change +22.5 %" in page.locator("#results").inner_text()
        assert "kappa" in page.locator("#results").inner_text()
    finally:
        page.close()
    # every figure also saved as SVG and PNG
    saved = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert "paired_suvmax_30_60.svg" in saved and "paired_suvmax_30_60.png" in saved
    assert "waterfall_tbr.png" in saved and "box_suvmax.svg" in saved


# --- figures -------------------------------------------------------------------------------------

def test_box_strip_figure_carries_the_p_value():
    result = stats_from_csv(PUBLISHED)
    t = next(t for t in result["tests"] if t["variable"] == "suvmax")
    fig = fg.grade_box_strip_figure({"III": [2.05, 1.68, 0.49, 1.34], "IV": [2.68, 9.96, 0.83]}, label="SUVmax",
                                    p_exact=t["p_exact"], p_asymptotic=t["p_asymptotic"])
    title = fig.axes[0].get_title()
    assert "exact p = 0.0270" in title and "asympt. p = 0.0289" in title
    png = fg.figure_png(fig, dpi=100)
    assert Image.open(io.BytesIO(png)).size == (round(fg.FIGSIZE_IN[0] * 100), round(fg.FIGSIZE_IN[1] * 100))
    svg = fg.figure_svg(fig)
    assert b"<svg" in svg and b'href="http' not in svg  # namespaces only, nothing to fetch


# --- methods, errors, atomic writing -------------------------------------------------------------

def test_methods_paragraph_follows_the_parameters():
    result = stats_from_csv(PUBLISHED)
    text = methods_paragraph(ReportParameters(lesion_roi_diameter_mm=12, background_roi_diameter_mm=30,
                                              suv_type="SUL", tracer="68Ga-Pentixafor"), result)
    assert "12 mm" in text and "30 mm" in text and "SUL" in text and "68Ga-Pentixafor" in text
    assert "27 visually positive scans" in text


def test_cli_report_bad_input_writes_nothing(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(PUBLISHED.read_text(encoding="utf-8").replace("1,F,53,GBM,IV,4.09", "1,F,53,GBM,IV,4,09x"),
                   encoding="utf-8")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    res = run_cli("report", str(bad), "--out", str(out_dir / "r.pdf"))
    assert res.returncode == 2
    assert res.stderr.startswith("gliopet: error: bad.csv: line 2") and len(res.stderr.strip().splitlines()) == 1
    assert list(out_dir.iterdir()) == []  # no report, no temporary file
    res = run_cli("report", str(PUBLISHED), "--out", str(out_dir / "r.docx"))
    assert res.returncode == 2 and "html or .pdf" in res.stderr
    assert run_cli("report", "--out", str(out_dir / "r.pdf")).returncode == 2
    res = run_cli("report", "--db", "sqlite://", "--out", str(out_dir / "r.pdf"))
    assert res.returncode == 2 and "the store holds no patient" in res.stderr  # an empty store
    assert list(out_dir.iterdir()) == []


def test_cli_report_html(tmp_path):
    res = run_cli("report", str(PUBLISHED), "--out", str(tmp_path / "r.html"))
    assert res.returncode == 0, res.stderr
    assert str(tmp_path / "r.html") in res.stdout
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "124.5" in html
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_tools_present():
    # the reader-level checks above need the real programs (installed by .ci/sysdeps)
    assert shutil.which("pdftoppm") and shutil.which("pdftotext") and Path(CHROMIUM).exists()
