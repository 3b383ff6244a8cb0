"""The reading app in a real browser (Debian's chromium via playwright) against uvicorn on loopback.

On SQLite and on a real PostgreSQL: two readers log in and see their own
worklists in the seed's orders; the viewer draws PET over CT (the canvas is
not blank) and the SUV it shows at a known voxel is the server's; they score
and submit every case (neither sees the other's read); the admin adjudicates
the disagreement; ``stats --db`` gives the kappa worked out by hand.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
import sqlalchemy as sa
from pg_server import pg_server, pg_url  # noqa: F401 - fixtures
from sqlalchemy.orm import Session
from test_reading_fixtures import CANARIES, HOT_IJK, PASSWORDS, LiveServer, add_readers, build_store

from gliopet.io.images import read_pet
from gliopet.reading import new_session, reader_orders
from gliopet.store import open_store
from gliopet.store._models import Patient, ReadingCase

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-unsafe-swiftshader"]
#: Reads by patient 0..3 (hand-chosen): 3 of 4 agree; kappa = (3/4 - 1/2) / (1 - 1/2) = 0.5.
PLAN = {"alice": ["positive", "positive", "positive", "negative"],
        "bob": ["positive", "positive", "negative", "negative"]}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("pg_url")


def _login(page, base: str, name: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("button[type=submit]")
    page.wait_for_url(base + "/worklist")


def test_two_readers_score_in_the_browser_and_the_admin_adjudicates(db_url, tmp_path):
    from PIL import Image
    from playwright.sync_api import sync_playwright

    made = build_store(tmp_path, db_url)
    add_readers(db_url)
    engine = open_store(db_url)
    new_session(engine, "S1", readers=["alice", "bob"], seed=3)
    with Session(engine) as s:
        cases = s.execute(sa.select(ReadingCase.code, Patient.patient_id)
                          .join(Patient, ReadingCase.patient_pk == Patient.id).order_by(Patient.id)).all()
    patient_of = {code: int(pid.rsplit("-", 1)[1]) for code, pid in cases}
    by_patient = [code for code, _ in cases]
    orders = reader_orders(3, 4, 2)
    with LiveServer(db_url) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        seen_text = []
        for slot, name in enumerate(("alice", "bob")):
            context = browser.new_context(viewport={"width": 1300, "height": 900})
            page = context.new_page()
            _login(page, server.base, name)
            assert "0 of 4" in page.inner_text("main")
            worklist = page.locator("a.case-link").all_inner_texts()
            assert worklist == [by_patient[i] for i in orders[slot]]  # own order, from the seed
            for code in worklist:
                page.goto(f"{server.base}/case/{code}")
                page.wait_for_selector("#gl[data-loaded=true]", state="attached", timeout=60_000)
                p = patient_of[code]
                if code == worklist[0]:
                    shot = Image.open(io.BytesIO(page.locator("#gl").screenshot())).convert("L")
                    assert np.asarray(shot).std() > 5  # PET over CT drawn, not a blank canvas
                    pet = read_pet(made.root / made.patient_ids[p] / "PET").volume
                    i, j, k = HOT_IJK
                    x, y, z, _ = pet.affine @ np.array([i, j, k, 1.0])
                    shown = page.evaluate(f"window.gliopetViewer.moveToLps({x}, {y}, {z})")
                    assert shown == pytest.approx(float(pet.array[k, j, i]), rel=1e-6)
                    assert page.inner_text("#suv-readout") == f"SUV {float(pet.array[k, j, i]):.3f} g/mL"
                    page.click("#mark-lesion")
                    assert float(page.input_value("#lesion-x")) == pytest.approx(x, abs=0.05)
                    # Radiological convention by default; neurological on request, drawn mirrored, kept
                    # in this browser across pages; the crosshair's SUV does not depend on it.
                    assert page.evaluate("window.gliopetViewer.isRadiological()") is True
                    radiological = np.asarray(Image.open(io.BytesIO(page.locator("#gl").screenshot())).convert("L"))
                    page.select_option("#orientation", "neurological")
                    assert page.evaluate("window.gliopetViewer.isRadiological()") is False
                    page.wait_for_timeout(200)
                    neurological = np.asarray(Image.open(io.BytesIO(page.locator("#gl").screenshot())).convert("L"))
                    assert np.abs(radiological.astype(int) - neurological).mean() > 1
                    assert page.evaluate(f"window.gliopetViewer.moveToLps({x}, {y}, {z})") == pytest.approx(
                        float(pet.array[k, j, i]), rel=1e-6)
                    page.reload()
                    page.wait_for_selector("#gl[data-loaded=true]", state="attached", timeout=60_000)
                    assert page.input_value("#orientation") == "neurological"
                    assert page.evaluate("window.gliopetViewer.isRadiological()") is False
                    page.select_option("#orientation", "radiological")
                page.check(f"input[name=visual][value={PLAN[name][p]}]")
                page.check(f"input[name=score][value='{3 if PLAN[name][p] == 'positive' else 0}']")
                page.check("input[name=confidence][value='4']")
                page.fill("#comment", f"{name}-note-{p}")
                page.click("button[value=save]")
                assert page.inner_text("#read-status") == "draft"
                page.click("button[value=submit]")
                assert page.inner_text("#read-status") == "submitted"
                assert page.locator("fieldset[disabled]").count() == 1  # read-only once submitted
                seen_text.append(page.content())
                if name == "bob":
                    assert f"alice-note-{p}" not in page.content()  # never the other reader's read
            assert "4 of 4" in page.goto(server.base + "/worklist").text() or "4 of 4" in page.inner_text("main")
            context.close()
        admin = browser.new_context().new_page()
        _login(admin, server.base, "admin")
        admin.goto(server.base + "/admin/session/1")
        assert admin.inner_text("#kappa") == "0.500"
        row = admin.locator(f"#row-{by_patient[2]}")
        row.locator("select[name=visual]").select_option("positive")
        row.locator("button[type=submit]").click()
        assert admin.locator(f"#row-{by_patient[2]} .consensus").inner_text() == "positive"
        browser.close()
    for html in seen_text:
        for canary in CANARIES:
            assert canary not in html
    for line in server.records:
        for canary in CANARIES:
            assert canary not in line
    stats = subprocess.run([sys.executable, "-m", "gliopet.cli", "stats", "--db", db_url, "--json"],
                           capture_output=True, text=True, timeout=300)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["kappa"]["kappa"] == pytest.approx(0.5, abs=1e-12)
    engine.dispose()
