"""`gliopet qc` end to end, and the release certificate (HTML and PDF via pdftotext)."""

import json
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data" / "radiopharmacy"
sys.path.insert(0, str(DATA))
import make_batch  # noqa: E402

from gliopet.errors import InputError  # noqa: E402
from gliopet.radiopharmacy import (evaluate_batch, load_batch_record,  # noqa: E402
                                   render_certificate_html, write_certificate)


def qc(*args):
    return subprocess.run([sys.executable, "-m", "gliopet.cli", "qc", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def pdf_text(path):
    exe = shutil.which("pdftotext")
    assert exe, "pdftotext (poppler-utils) is needed: run .ci/sysdeps"
    out = subprocess.run([exe, "-layout", str(path), "-"], capture_output=True, text=True,
                         check=True)
    return " ".join(out.stdout.split())


def test_json_for_the_committed_passing_batch():
    out = qc(DATA / "batch-pass.json", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["released"] is True
    assert result["reasons"] == []
    assert result["batch_id"] == "PTX-20260314-01"
    assert result["tracer"] == "68Ga-Pentixafor"
    assert result["specification"] == "68ga-pentixafor"
    names = [t["name"] for t in result["tests"]]
    assert names == ["radiochemical_purity_hplc", "radiochemical_purity_itlc",
                     "radionuclide_purity", "endotoxin", "ph", "half_life", "filter_integrity",
                     "stability"]
    for test in result["tests"]:
        assert {"name", "result", "unit", "specification", "passed"} <= set(test)
        assert test["passed"] is True
    ph = result["tests"][4]
    assert (ph["result"], ph["unit"], ph["specification"]) == (7.0, "", "5 to 8.5")
    assert result["certificates"] == []


def test_failing_batch_exits_1_and_the_pdf_and_html_certificates_say_why(tmp_path):
    batch = make_batch.write_batch(tmp_path, ph=4.8)
    pdf, html = tmp_path / "cert.pdf", tmp_path / "cert.html"
    out = qc(batch, "--json", "--certificate", pdf)
    assert out.returncode == 1, out.stderr
    result = json.loads(out.stdout)
    assert result["released"] is False
    assert result["reasons"] == ["pH: 4.8 is not >= 5"]
    assert result["certificates"] == [str(pdf)]
    text = pdf_text(pdf)
    assert "Decision: NOT RELEASED" in text
    assert "pH: 4.8 is not >= 5" in text
    assert "PTX-20260314-01" in text
    out = qc(batch, "--certificate", html)
    assert out.returncode == 1
    assert "NOT RELEASED" in out.stdout and "pH: 4.8 is not >= 5" in out.stdout
    page = html.read_text()
    assert "Decision: NOT RELEASED" in page
    assert "<li>pH: 4.8 is not &gt;= 5</li>" in page


def test_purity_97_9_certificate_says_why(tmp_path):
    decision = evaluate_batch(load_batch_record(make_batch.write_batch(tmp_path,
                                                                       hplc=(979.0, 21.0))))
    assert decision.released is False
    (reason,) = decision.reasons
    assert reason.startswith("Radiochemical purity (radio-HPLC): 97.9")
    issued = datetime(2026, 3, 14, 9, 0, tzinfo=timezone.utc)
    html = write_certificate(decision, tmp_path / "c.html", issued_at=issued).read_text()
    assert "Decision: NOT RELEASED" in html
    assert reason.replace(">", "&gt;") in html
    assert "issued 2026-03-14T09:00:00+00:00" in html
    text = pdf_text(write_certificate(decision, tmp_path / "c.pdf", issued_at=issued))
    assert "Decision: NOT RELEASED" in text
    assert reason in text
    assert "FAIL" in text


def test_out_folder_gets_both_certificates(tmp_path):
    out = qc(DATA / "batch-pass.json", "--out", tmp_path / "certs")
    assert out.returncode == 0, out.stderr
    assert "RELEASED" in out.stdout
    assert sorted(p.name for p in (tmp_path / "certs").iterdir()) == ["certificate.html",
                                                                    "certificate.pdf"]
    text = pdf_text(tmp_path / "certs" / "certificate.pdf")
    assert "Decision: RELEASED" in text
    assert "Radiochemical purity (radio-HPLC) 99.0" in text


def _swap_rows(folder):
    lines = (folder / "hplc.csv").read_text().splitlines()
    lines[101], lines[102] = lines[102], lines[101]
    (folder / "hplc.csv").write_text("\n".join(lines) + "\n")


def _negative(record):
    record["product"]["activity_readings"][0]["activity"] = -812.0
    return record


def _early(record):
    record["qc"]["half_life"]["readings"][0]["time"] = "2026-03-14T07:29:00"
    return record


@pytest.mark.parametrize("overrides, after, expected", [
    (None, _swap_rows, "hplc.csv: line 103, column 'time_min': 1 does not increase after 1.01"),
    (_negative, None, "batch.json: product.activity_readings[0].activity: -812.0 is less than "
                      "the minimum of 0"),
    (_early, None, "batch.json: qc.half_life.readings[0].time: 2026-03-14T07:29:00 is before "
                   "the end of synthesis"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, overrides, after, expected):
    batch = make_batch.write_batch(tmp_path, overrides=overrides, name="batch.json")
    if after:
        after(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    out = qc(batch, "--json", "--certificate", tmp_path / "cert.pdf", "--out", tmp_path / "o")
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("gliopet: error: ")
    assert expected in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no certificate, no temp file


def test_certificate_suffix_and_folder_are_checked(tmp_path):
    decision = evaluate_batch(load_batch_record(DATA / "batch-pass.json"))
    with pytest.raises(InputError, match=r"cert\.docx: certificate must end in \.html or \.pdf"):
        write_certificate(decision, tmp_path / "cert.docx")
    with pytest.raises(InputError, match="does not exist"):
        write_certificate(decision, tmp_path / "missing" / "cert.html")
    assert list(tmp_path.iterdir()) == []


def test_certificate_replaces_an_old_one_whole(tmp_path):
    decision = evaluate_batch(load_batch_record(DATA / "batch-pass.json"))
    target = tmp_path / "cert.html"
    target.write_text("old")
    write_certificate(decision, target)
    assert target.read_text() == render_certificate_html(decision)
    assert [p.name for p in tmp_path.iterdir()] == ["cert.html"]
    assert target.stat().st_mode & 0o777 == 0o644


def test_html_escapes_text_from_the_record(tmp_path):
    # the record's path is shown on the certificate: markup in it must come out as text
    folder = tmp_path / "x<b>y"
    decision = evaluate_batch(load_batch_record(make_batch.write_batch(folder)))
    html = render_certificate_html(decision)
    assert "x&lt;b&gt;y" in html
    assert "x<b>y" not in html
    assert "<li>" not in html  # released: no list of reasons
    assert "&gt; 98 %" in html  # the specification '> 98 %', escaped
