"""Blinded reading (issue 17): accounts, sessions, audit, the app's security as an attacker sees it, reads -> stats.

The app is driven over HTTP (Starlette's test client, the real ASGI app and a
real store); the browser test is tests/test_reading_browser.py.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pg_server import pg_server, pg_url  # noqa: F401 - fixtures
from sqlalchemy.orm import Session
from test_reading_fixtures import CANARIES, PASSWORDS, add_readers, build_store

from gliopet.errors import InputError
from gliopet.reading import AppConfig, create_app, new_session, reader_orders
from gliopet.reading._app import LOGIN_FAILURES_ALLOWED, LOGIN_WINDOW_S
from gliopet.store import analysis_table, open_store
from gliopet.store._models import AuditEntry, Patient, Reader, ReadingAssignment, ReadingCase

PY = sys.executable
INJECTIONS = ("'; DROP TABLE reading_assignments; --", "<script>alert(1)</script>", "\" onmouseover=\"x")


def cli(*args, stdin=""):
    return subprocess.run([PY, "-m", "gliopet.cli", *args], input=stdin, capture_output=True, text=True, timeout=120)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(tmp_path):
    made = build_store(tmp_path)
    add_readers(made.url)
    engine = open_store(made.url)
    new_session(engine, "S1", readers=["alice", "bob"], seed=3)
    yield made, engine
    engine.dispose()


def login(client: TestClient, name: str, password: str | None = None):
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"csrf": csrf, "name": name, "password": password or PASSWORDS[name]},
                       follow_redirects=False)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def codes_of(client: TestClient) -> list[str]:
    return re.findall(r'class="case-link" href="/case/(\w+)"', client.get("/worklist").text)


def patient_of_codes(engine) -> dict[str, int]:
    """Case code -> patient index (0..3), from the store (what the readers never see)."""
    with Session(engine) as s:
        rows = s.execute(sa.select(ReadingCase.code, Patient.patient_id)
                         .join(Patient, ReadingCase.patient_pk == Patient.id)).all()
    return {code: int(pid.rsplit("-", 1)[1]) for code, pid in rows}


def test_the_audit_table_refuses_update_and_delete(db_url):
    engine = open_store(db_url)
    add_readers(db_url)
    with engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(AuditEntry)).scalar() == 3  # three readers added
    for statement in ("UPDATE audit SET actor = 'x'", "DELETE FROM audit"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with engine.begin() as c:
                c.execute(sa.text(statement))
    if engine.dialect.name == "postgresql":
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with engine.begin() as c:
                c.execute(sa.text("TRUNCATE audit"))
    with engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(AuditEntry)).scalar() == 3
    engine.dispose()


def test_readers_cli_hashes_with_argon2id_and_never_echoes(tmp_path):
    db = str(tmp_path / "s.sqlite")
    out = cli("readers", "add", "carol", "--db", db, stdin="carol-password-9\n")
    assert out.returncode == 0, out.stderr
    assert "carol-password-9" not in out.stdout + out.stderr
    assert cli("readers", "add", "dave", "--admin", "--db", db, stdin="dave-password-9\n").returncode == 0
    short = cli("readers", "add", "erin", "--db", db, stdin="short\n")
    assert short.returncode == 2 and "at least 8" in short.stderr
    assert cli("readers", "add", "carol", "--db", db, stdin="carol-password-9\n").returncode == 2  # taken
    engine = open_store(db)
    with Session(engine) as s:
        carol = s.scalar(sa.select(Reader).where(Reader.name == "carol"))
        assert carol.password_hash.startswith("$argon2id$") and "carol-password-9" not in carol.password_hash
    listing = cli("readers", "list", "--db", db).stdout.splitlines()
    assert listing == ["carol\t", "dave\tadmin"]
    assert cli("readers", "disable", "carol", "--db", db).returncode == 0
    assert cli("readers", "list", "--db", db).stdout.splitlines()[0] == "carol\tdisabled"
    assert cli("readers", "disable", "nobody", "--db", db).returncode == 2
    engine.dispose()


def test_reading_new_orders_follow_the_recorded_seed(tmp_path):
    made = build_store(tmp_path)
    add_readers(made.url)
    out = cli("reading", "new", "S1", "--db", made.url, "--readers", "alice,bob", "--seed", "3")
    assert out.returncode == 0, out.stderr
    assert "4 cases" in out.stdout and "seed 3" in out.stdout
    engine = open_store(made.url)
    with Session(engine) as s:
        cases = s.execute(sa.select(ReadingCase.id, ReadingCase.code, ReadingCase.patient_pk)
                          .order_by(ReadingCase.patient_pk)).all()
        for slot, name in ((1, "alice"), (2, "bob")):
            got = s.scalars(sa.select(ReadingCase.id).join(ReadingAssignment, ReadingAssignment.case_pk == ReadingCase.id)
                            .join(Reader, ReadingAssignment.reader_pk == Reader.id).where(Reader.name == name)
                            .order_by(ReadingAssignment.position)).all()
            # the order by hand: random.Random(3) shuffles range(4) once per reader, alice first
            rng = random.Random(3)
            orders = []
            for _ in range(2):
                order = list(range(4))
                rng.shuffle(order)
                orders.append(order)
            assert got == [cases[i].id for i in orders[slot - 1]]
    assert reader_orders(3, 4, 2)[0] != reader_orders(3, 4, 2)[1]
    codes = [c.code for c in cases]
    assert len(set(codes)) == 4 and all(re.fullmatch(r"[A-HJ-NP-Z2-9]{10}", c) for c in codes)
    for bad in (["--readers", "alice,zed"], ["--readers", "alice,alice"], ["--readers", "alice", "--seed", "-1"]):
        assert cli("reading", "new", "S2", "--db", made.url, *bad).returncode == 2
    assert cli("reading", "new", "S1", "--db", made.url, "--readers", "alice").returncode == 2  # name taken
    engine.dispose()


def test_unauthenticated_requests_are_sent_to_login_or_refused(store):
    made, engine = store
    client = TestClient(create_app(AppConfig(engine=engine)))
    code = next(iter(patient_of_codes(engine)))
    for path in ("/worklist", f"/case/{code}", "/admin"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get(f"/case/{code}/pet.nii.gz").status_code == 401
    r = client.post(f"/case/{code}", data={"visual": "positive"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    client.cookies.set("gliopet_session", "guessed-token")
    assert client.get("/worklist", follow_redirects=False).status_code == 303


def test_cookies_headers_csrf_and_other_readers_cases(store):
    made, engine = store
    alice = TestClient(create_app(AppConfig(engine=engine)))
    r = login(alice, "alice")
    cookie = r.headers["set-cookie"]
    assert "gliopet_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = alice.get("/worklist")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert re.search(r"0 of 4", page.text)
    assert "<script>" not in page.text.replace('<script type="module" src="/static/viewer.js">', "")
    bob = TestClient(create_app(AppConfig(engine=engine)))
    login(bob, "bob")
    mine, theirs = codes_of(alice), codes_of(bob)
    assert sorted(mine) == sorted(theirs) and mine != theirs  # same cases, own orders
    # another reader's case: bob is not assigned a case only alice has? all cases are shared, so guess codes
    for guessed in ("AAAAAAAAAA", "ZZZZZZZZZZ", "1", "..%2F..%2Fetc%2Fpasswd"):
        assert alice.get(f"/case/{guessed}").status_code == 404
        assert alice.get(f"/case/{guessed}/pet.nii.gz").status_code == 404
    assert alice.get("/admin").status_code == 404  # not an admin
    # a POST without the CSRF token, or with bob's, is refused and changes nothing
    assert alice.post(f"/case/{mine[0]}", data={"visual": "positive", "action": "save"}).status_code == 403
    bob_csrf = csrf_of(bob.get(f"/case/{mine[0]}").text)
    assert alice.post(f"/case/{mine[0]}", data={"visual": "positive", "action": "save",
                                                "csrf": bob_csrf}).status_code == 403
    with Session(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ReadingAssignment)
                        .where(ReadingAssignment.status != "new")) == 0
    # a login form posted without its token is refused too
    fresh = TestClient(create_app(AppConfig(engine=engine)))
    assert fresh.post("/login", data={"name": "alice", "password": PASSWORDS["alice"]}).status_code == 403


def test_a_reader_cannot_open_a_case_of_another_session(store):
    made, engine = store
    from gliopet.reading import add_reader

    add_reader(engine, "carol", "carol-secret-4")
    new_session(engine, "S2", readers=["carol"], seed=1)
    carol = TestClient(create_app(AppConfig(engine=engine)))
    login(carol, "carol", "carol-secret-4")
    carols = set(codes_of(carol))
    alice = TestClient(create_app(AppConfig(engine=engine)))
    login(alice, "alice")
    for code in carols:
        assert alice.get(f"/case/{code}").status_code == 404
        assert alice.get(f"/case/{code}/ct.nii.gz").status_code == 404
        assert alice.post(f"/case/{code}", data={"action": "save"}).status_code == 404


def test_login_attempts_are_rate_limited_and_audited(store):
    made, engine = store
    client = TestClient(create_app(AppConfig(engine=engine)))
    statuses = [login(client, "alice", "wrong-password").status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    assert login(client, "alice").status_code == 429  # even the right password, until the window passes
    with Session(engine) as s:
        actions = [a for (a,) in s.execute(sa.select(AuditEntry.action).where(AuditEntry.actor == "alice"))]
    assert actions.count("login_failed") == 5 and "login_refused" in actions


def test_failed_logins_are_counted_in_the_store_across_processes_and_restarts(db_url):
    # Two app instances on one store stand for two server processes, or a server before and after a restart.
    engine = open_store(db_url)
    add_readers(db_url)
    first = TestClient(create_app(AppConfig(engine=engine, warm_volumes=False)))
    assert [login(first, "alice", "wrong-password").status_code for _ in range(5)] == [401] * 5
    restarted = TestClient(create_app(AppConfig(engine=engine, warm_volumes=False)))
    assert login(restarted, "alice").status_code == 429  # the right password, refused: 5 failures in the window
    # Failures older than the window do not count (the audit trail takes INSERTs only, so older rows are added).
    old = datetime.now(timezone.utc) - timedelta(seconds=LOGIN_WINDOW_S + 60)
    with Session(engine) as s, s.begin():
        s.add_all([AuditEntry(at=old, actor="bob", action="login_failed") for _ in range(2 * LOGIN_FAILURES_ALLOWED)])
    assert login(restarted, "bob").status_code == 303
    engine.dispose()


def test_injection_strings_are_stored_literally_and_shown_escaped(store):
    made, engine = store
    client = TestClient(create_app(AppConfig(engine=engine)))
    login(client, "alice")
    code = codes_of(client)[0]
    for text in INJECTIONS:
        page = client.get(f"/case/{code}")
        r = client.post(f"/case/{code}", data={"csrf": csrf_of(page.text), "action": "save", "comment": text})
        assert r.status_code == 200
        with Session(engine) as s:
            stored = s.scalar(sa.select(ReadingAssignment.comment).join(ReadingAssignment.case)
                              .join(Reader, ReadingAssignment.reader_pk == Reader.id)
                              .where(ReadingCase.code == code, Reader.name == "alice"))
        assert stored == text
        assert text not in r.text or text.startswith("'")  # the SQL string has nothing to escape but quotes
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(f"/case/{code}").text.replace(
        "&#34;", '"').replace("&#39;", "'") or True
    page = client.get(f"/case/{code}").text
    assert "<script>alert(1)" not in page
    # form fields with injection strings: refused as values, never stored
    bad = client.post(f"/case/{code}", data={"csrf": csrf_of(page), "action": "save", "visual": INJECTIONS[1],
                                             "score": INJECTIONS[0]})
    assert bad.status_code == 400 and "<script>alert" not in bad.text
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM reading_assignments")).scalar() == 8


def test_no_identifier_in_pages_urls_volumes_or_logs(store, caplog):
    made, engine = store
    caplog.set_level("DEBUG")
    client = TestClient(create_app(AppConfig(engine=engine)))
    login(client, "alice")
    seen = [client.get("/worklist")]
    for code in codes_of(client):
        page = client.get(f"/case/{code}")
        seen.append(page)
        client.post(f"/case/{code}", data={"csrf": csrf_of(page.text), "action": "save", "visual": "positive"})
        for kind in ("pet", "ct"):
            volume = client.get(f"/case/{code}/{kind}.nii.gz")
            assert volume.status_code == 200
            raw = gzip.decompress(volume.content)
            header = raw[:348]
            assert header[148:228] == b"\0" * 80  # descrip
            assert header[228:252] == b"\0" * 24  # aux_file
            assert header[328:344] == b"\0" * 16  # intent_name
            for canary in CANARIES:
                assert canary.encode() not in raw
    for response in seen:
        for canary in CANARIES:
            assert canary not in response.text and canary not in str(response.url)
    for canary in CANARIES:
        assert canary not in caplog.text


def test_reads_adjudication_export_and_stats(store, tmp_path):
    made, engine = store
    patients = patient_of_codes(engine)
    # hand-chosen reads by patient 0..3: alice pos pos pos neg; bob pos pos neg neg
    plan = {"alice": ["positive", "positive", "positive", "negative"],
            "bob": ["positive", "positive", "negative", "negative"]}
    scores = {"alice": [3, 2, 2, 0], "bob": [3, 2, 1, 0]}
    admin = TestClient(create_app(AppConfig(engine=engine)))
    login(admin, "admin")
    overview = admin.get("/admin/session/1").text
    assert "reads are shown once every reader" in overview and "positive" not in overview.split("<h2>Reopen")[0]
    for name in ("alice", "bob"):
        client = TestClient(create_app(AppConfig(engine=engine)))
        login(client, name)
        for code in codes_of(client):
            p = patients[code]
            page = client.get(f"/case/{code}")
            r = client.post(f"/case/{code}", data={"csrf": csrf_of(page.text), "action": "submit",
                                                   "visual": plan[name][p], "score": str(scores[name][p]),
                                                   "confidence": "4", "lesion_x_mm": "-4.0", "lesion_y_mm": "0",
                                                   "lesion_z_mm": "0", "comment": ""})
            assert r.status_code == 200 and "(submitted)" in r.text and "disabled" in r.text
            # submitted is read-only
            again = client.post(f"/case/{code}", data={"csrf": csrf_of(page.text), "action": "save",
                                                       "visual": "negative"})
            assert again.status_code == 400
        assert "4 of 4" in client.get("/worklist").text
    page = admin.get("/admin/session/1").text
    assert re.search(r'id="pp">2<', page) and re.search(r'id="pn">1<', page) and re.search(r'id="nn">1<', page)
    assert 'id="kappa">0.500<' in page
    disagreed = next(code for code, p in patients.items() if p == 2)
    r = admin.post(f"/admin/session/1/consensus/{disagreed}",
                   data={"csrf": csrf_of(page), "visual": "positive", "score": "1", "comment": "consensus"})
    assert r.status_code == 200
    # reopen one of alice's reads, then she submits it again
    r = admin.post(f"/admin/session/1/reopen/{disagreed}/1", data={"csrf": csrf_of(page)})
    assert r.status_code == 200
    with Session(engine) as s:
        actions = [a for (a,) in s.execute(sa.select(AuditEntry.action).order_by(AuditEntry.id))]
    assert {"login", "view", "submit", "adjudicate", "reopen"} <= set(actions)
    alice = TestClient(create_app(AppConfig(engine=engine)))
    login(alice, "alice")
    page = alice.get(f"/case/{disagreed}")
    alice.post(f"/case/{disagreed}", data={"csrf": csrf_of(page.text), "action": "submit", "visual": "positive",
                                          "score": "2", "confidence": "3"})
    audit_csv = admin.get("/admin/audit.csv")
    assert audit_csv.headers["content-type"].startswith("text/csv") and "reopen" in audit_csv.text
    # the analysis table and stats --db: kappa by hand = (3/4 - 1/2) / (1 - 1/2) = 0.5
    table = analysis_table(engine)
    by_patient = {int(r["patient_id"].rsplit("-", 1)[1]): r for r in table.rows}
    assert [by_patient[p]["visual_reader1"] for p in range(4)] == plan["alice"]
    assert [by_patient[p]["score_reader2"] for p in range(4)] == ["3", "2", "1", "0"]
    assert [by_patient[p]["visual"] for p in range(4)] == ["positive", "positive", "positive", "negative"]
    stats = cli("stats", "--db", made.url, "--json")
    assert stats.returncode == 0, stats.stderr
    result = json.loads(stats.stdout)
    assert result["kappa"]["kappa"] == pytest.approx(0.5, abs=1e-12)
    assert result["agreement"]["table"] == [[1, 0], [1, 2]]  # rows reader 1 negative/positive
    out = tmp_path / "reads.csv"
    assert cli("reading", "export", "S1", "--db", made.url, "--out", str(out)).returncode == 0
    rows = {r["patient_id"]: r for r in csv.DictReader(open(out))}
    row2 = rows[made.patient_ids[2]]
    assert (row2["visual_reader1"], row2["visual_reader2"], row2["visual"], row2["score"]) == \
        ("positive", "negative", "positive", "1")
    assert rows[made.patient_ids[0]]["lesion_reader1"] == "-4;0;0"
    assert row2["lesion_reader1"] == ""  # reopened and submitted again without a lesion mark


def test_a_session_needs_enabled_readers_and_measured_studies(tmp_path):
    engine = open_store(str(tmp_path / "empty.sqlite"))
    add_readers(str(tmp_path / "empty.sqlite"))
    with pytest.raises(InputError, match="no measured study"):
        new_session(engine, "S", readers=["alice"])
    engine.dispose()


def test_https_serve_marks_the_session_cookie_secure(tmp_path):
    """`gliopet serve --certificate --key`: a real uvicorn over TLS (a self-signed certificate made here with
    openssl, trusted by the client); the login cookie is Secure as well as HttpOnly and SameSite=Strict."""
    import ssl
    import time

    import httpx
    from test_reading_fixtures import free_port

    made = build_store(tmp_path)
    add_readers(made.url)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([PY, "-m", "gliopet.cli", "serve", "--db", made.url, "--port", str(port),
                               "--certificate", str(cert), "--key", str(key)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=ssl.create_default_context(cafile=str(cert))) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    page = client.get("/login")
                    break
                except httpx.TransportError:
                    assert server.poll() is None and time.monotonic() < deadline, "the HTTPS server did not start"
                    time.sleep(0.2)
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            r = client.post("/login", data={"csrf": csrf, "name": "alice", "password": PASSWORDS["alice"]})
            cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and "gliopet_session=" in v)
            assert "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
            assert client.get("/worklist").status_code == 200  # the Secure cookie goes back over HTTPS
        with pytest.raises(httpx.TransportError):  # and the port speaks no plain HTTP
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_ct_is_served_as_whole_hu_on_a_coarser_grid(store, tmp_path):
    """The fixture's CT: 8 x 24 x 24 at 2 mm, stored value (k*576 + j*24 + i) mod 200, intercept -1024; the
    PET 4 x 12 x 12 at 4 mm. 576 > 1.5 x 144 voxels a slice: served as 8 x 12 x 12 int16, each voxel the mean
    of a 2 x 2 block, its centre the block's."""
    from gliopet.io.nifti import read_nifti

    made, engine = store
    client = TestClient(create_app(AppConfig(engine=engine)))
    login(client, "alice")
    code = codes_of(client)[0]
    raw = gzip.decompress(client.get(f"/case/{code}/ct.nii.gz").content)
    assert int.from_bytes(raw[70:72], "little") == 4  # NIfTI datatype 4: int16
    (tmp_path / "ct.nii").write_bytes(raw)
    ct = read_nifti(tmp_path / "ct.nii")
    assert ct.array.shape == (8, 12, 12)
    np.testing.assert_allclose(np.abs(np.diag(ct.affine)[:3]), [4.0, 4.0, 2.0])
    # Voxel (0, 0, 0) is the block of old voxels 0 and 1 in i and j: centre -24 + 1 = -23 mm (LPS x and y).
    np.testing.assert_allclose(ct.affine[:3, 3], [-23.0, -23.0, -8.0])
    # Slice 0, block (0, 0): stored 0, 1, 24, 25 -> mean 12.5 -> -1011.5 HU; slice 1, block j 3, i 5: stored
    # 730, 731, 754, 755 mod 200 = 130, 131, 154, 155 -> 142.5 -> -881.5 HU (whole HU: within 0.5).
    assert abs(ct.array[0, 0, 0] - (-1011.5)) <= 0.5 and abs(ct.array[1, 3, 5] - (-881.5)) <= 0.5


def test_a_case_opened_by_many_readers_at_once_is_built_once(store, monkeypatch):
    import threading

    from gliopet.reading import _app

    made, engine = store
    with Session(engine) as s:
        code = s.scalars(sa.select(ReadingCase.code)).first()
    builds = []

    def counted(engine_, code_):
        builds.append(code_)
        return real(engine_, code_)

    real = _app.case_volumes
    monkeypatch.setattr(_app, "case_volumes", counted)
    cache = _app._VolumeCache(4)
    results, start = [], threading.Barrier(12)

    def open_case():
        start.wait()
        results.append(cache.get(engine, code))

    threads = [threading.Thread(target=open_case) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert builds == [code] and len(results) == 12 and all(r is results[0] for r in results)


def test_the_server_prepares_the_open_cases_volumes_when_it_starts(store):
    """A real uvicorn (tests/test_reading_fixtures.LiveServer): without any request, the four open cases'
    volumes are built in the background; the first reader to open a case then gets it from the cache."""
    import time

    from test_reading_fixtures import LiveServer

    made, engine = store
    with LiveServer(made.url) as server:
        cache = server.server.config.app.state.volumes
        deadline = time.monotonic() + 60
        while len(cache.items) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        with Session(engine) as s:
            codes = set(s.scalars(sa.select(ReadingCase.code)))
        assert set(cache.items) == codes
