"""The blinded reading web app (FastAPI, server-rendered Jinja pages, the store for data).

Security model (issue 17, item 8): a login creates a random token kept in an
HttpOnly, SameSite=Strict cookie (Secure under HTTPS); the store keeps only its
SHA-256 and the login's CSRF token, which every form carries back. Every
request that names a case looks the code up among the logged-in reader's own
assignments (anything else is 404, as for a code that does not exist).
Failed logins are rate-limited per name (counted in the store's audit trail, so across processes
and restarts) and per client address (in this process). Pages carry a
Content-Security-Policy without inline scripts; Jinja escapes every value.
Pages, URLs, volumes and log lines carry case codes only: never a patient's
name, ID, birth date, accession number, a date, clinical columns, measured
values or another reader's read (admins see reads once every read is in).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
import secrets
import threading
import time
from collections import OrderedDict, deque
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ..errors import InputError
from ..store._models import (READ_SUBMITTED, LoginSession, Reader, ReadingAssignment, ReadingCase,
                             ReadingSession)
from ._accounts import authenticate
from ._sessions import (CONFIDENCE_CHOICES, SCORE_CHOICES, audit, export_audit, parse_read_form,
                        recent_failed_logins, record_consensus, reopen_read, save_read, session_overview)
from ._volumes import CaseVolumes, case_volumes

logger = logging.getLogger(__name__)

__all__ = ["AppConfig", "create_app", "niivue_path", "SESSION_COOKIE"]

SESSION_COOKIE = "gliopet_session"
LOGIN_COOKIE = "gliopet_login"
#: A login lasts this long.
SESSION_HOURS = 12
#: Failed logins allowed per name and per client address within the window before 429.
LOGIN_FAILURES_ALLOWED = 5
LOGIN_WINDOW_S = 300.0
#: Cases whose volumes are kept in memory.
VOLUME_CACHE_CASES = 32
MAX_FORM_BYTES = 64 * 1024
CSP = ("default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self' data: blob:; worker-src 'self' blob:; font-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY", "Cache-Control": "no-store"}
_STATIC = Path(__file__).resolve().parent / "static"
_STATIC_FILES = {"viewer.js": "text/javascript", "style.css": "text/css", "login.js": "text/javascript"}


def niivue_path() -> Path | None:
    """NiiVue's ES module bundle: shipped in ``reading/static`` or installed by ``make`` (npm ci) at the repo root."""
    shipped = _STATIC / "niivue.js"
    if shipped.is_file():
        return shipped
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "node_modules" / "@niivue" / "niivue" / "dist" / "index.js"
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class AppConfig:
    """Settings of one app: the store, whether served over HTTPS, where NiiVue is, and whether the server
    prepares the volumes of the open cases when it starts (in a background thread)."""

    engine: Engine
    https: bool = False
    niivue_js: Path | None = field(default_factory=niivue_path)
    warm_volumes: bool = True


class _RateLimiter:
    """Failed logins per key in a sliding window (in this process)."""

    def __init__(self, allowed: int, window_s: float) -> None:
        self.allowed, self.window_s = allowed, window_s
        self.failures: dict[str, deque[float]] = {}

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        for key in keys:
            times = self.failures.get(key)
            while times and now - times[0] > self.window_s:
                times.popleft()
            if times and len(times) >= self.allowed:
                return True
        return False

    def fail(self, *keys: str) -> None:
        for key in keys:
            self.failures.setdefault(key, deque()).append(time.monotonic())


class _VolumeCache:
    """The volumes of the last ``size`` cases opened, shared by the server's threads. A case is built once
    even when many readers open it at the same moment: the others wait for that build (one lock per case
    being built; the cache's own lock is held only to look up and store)."""

    def __init__(self, size: int) -> None:
        self.size, self.items = size, OrderedDict()
        self.lock = threading.Lock()
        self.building: dict[str, threading.Lock] = {}

    def _lookup(self, code: str) -> CaseVolumes | None:
        with self.lock:
            found = self.items.get(code)
            if found is not None:
                self.items.move_to_end(code)
            return found

    def get(self, engine: Engine, code: str) -> CaseVolumes:
        found = self._lookup(code)
        if found is not None:
            return found
        with self.lock:
            build = self.building.setdefault(code, threading.Lock())
        with build:
            found = self._lookup(code)
            if found is None:
                found = case_volumes(engine, code)
                with self.lock:
                    self.items[code] = found
                    while len(self.items) > self.size:
                        self.items.popitem(last=False)
                    self.building.pop(code, None)
        return found


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _Login:
    reader: Reader
    csrf: str


class _NotFound(Exception):
    pass


class _Redirect(Exception):
    def __init__(self, url: str) -> None:
        self.url = url


def _warm_volumes(engine: Engine, volumes: _VolumeCache) -> None:
    """Build the volumes of the cases still being read (oldest case first, as many as the cache keeps), so
    the first reader to open a case does not wait for its DICOM to be read. A reader who opens a case
    being built waits for that build; a case that cannot be built is skipped (logged without its code)."""
    with Session(engine) as session:
        codes = session.scalars(sa.select(ReadingCase.code)
                                .join(ReadingAssignment, ReadingAssignment.case_pk == ReadingCase.id)
                                .where(ReadingAssignment.status != READ_SUBMITTED)
                                .group_by(ReadingCase.id, ReadingCase.code).order_by(ReadingCase.id)
                                .limit(VOLUME_CACHE_CASES)).all()
    for code in codes:
        try:
            volumes.get(engine, code)
        except Exception as exc:  # noqa: BLE001 - a reader opening that case gets the error itself
            logger.warning("volume warm-up: a case could not be prepared (%s)", type(exc).__name__)


def create_app(config: AppConfig) -> FastAPI:
    """The reading app on ``config.engine`` (already migrated)."""
    engine = config.engine
    templates = Environment(loader=PackageLoader("gliopet.reading", "templates"),
                            autoescape=select_autoescape(default=True, default_for_string=True))
    limiter = _RateLimiter(LOGIN_FAILURES_ALLOWED, LOGIN_WINDOW_S)
    volumes = _VolumeCache(VOLUME_CACHE_CASES)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):  # noqa: ANN202
        if config.warm_volumes:
            threading.Thread(target=_warm_volumes, args=(engine, volumes), daemon=True,
                             name="gliopet-volume-warm-up").start()
        yield

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.volumes = volumes

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(templates.get_template(name).render(**context), status_code=status)

    def login_of(request: Request, session: Session) -> _Login:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            raise _Redirect("/login")
        row = session.scalar(sa.select(LoginSession).where(LoginSession.token_sha256 == _sha256(token)))
        if row is None or row.expires_at.replace(tzinfo=row.expires_at.tzinfo or timezone.utc) < \
                datetime.now(timezone.utc):
            raise _Redirect("/login")
        reader = session.get(Reader, row.reader_pk)
        if reader is None or reader.disabled:
            raise _Redirect("/login")
        return _Login(reader, row.csrf_token)

    async def form_of(request: Request) -> dict[str, str]:
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise InputError("form too large")
        parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}

    def check_csrf(form: dict[str, str], login: _Login) -> None:
        if not hmac.compare_digest(form.get("csrf", ""), login.csrf):
            raise PermissionError("CSRF token missing or wrong")

    def assignment_of(session: Session, login: _Login, code: str) -> ReadingAssignment:
        found = session.scalar(sa.select(ReadingAssignment).join(ReadingAssignment.case)
                               .where(ReadingCase.code == code, ReadingAssignment.reader_pk == login.reader.id))
        if found is None:
            raise _NotFound()
        return found

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # noqa: ANN001, ANN202
        response = await call_next(request)
        for key, value in _HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    @app.exception_handler(_Redirect)
    async def _redirect(request: Request, exc: _Redirect) -> Response:
        if request.url.path.endswith(".nii.gz"):
            return PlainTextResponse("not logged in", status_code=401)
        return RedirectResponse(exc.url, status_code=303)

    @app.exception_handler(_NotFound)
    async def _not_found(request: Request, exc: _NotFound) -> Response:
        return page("error.html", 404, title="Not found", message="No such page.")

    @app.exception_handler(PermissionError)
    async def _forbidden(request: Request, exc: PermissionError) -> Response:
        return page("error.html", 403, title="Refused", message="The form was refused (reload the page).")

    def set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict", secure=config.https,
                            path="/")

    @app.get("/")
    def home() -> Response:
        return RedirectResponse("/worklist", status_code=303)

    @app.get("/login")
    def login_page(request: Request) -> Response:
        token = secrets.token_urlsafe(32)
        response = page("login.html", title="Log in", csrf=token, message=None)
        set_cookie(response, LOGIN_COOKIE, token, 3600)
        return response

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await form_of(request)
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        if not cookie or not hmac.compare_digest(form.get("csrf", ""), cookie):
            raise PermissionError("login CSRF")
        name = form.get("name", "")[:64]
        client = request.client.host if request.client else "?"
        name_blocked = bool(name) and await run_in_threadpool(_failed_logins, name) >= LOGIN_FAILURES_ALLOWED
        if name_blocked or limiter.blocked(f"ip:{client}"):
            with Session(engine) as session, session.begin():
                audit(session, name or None, "login_refused", new={"reason": "rate limit"})
            return page("login.html", 429, title="Log in", csrf=cookie,
                        message="Too many failed logins: wait a few minutes.")
        reader = await run_in_threadpool(_authenticate, name, form.get("password", ""))
        if reader is None:
            limiter.fail(f"ip:{client}")
            with Session(engine) as session, session.begin():
                audit(session, name or None, "login_failed")
            return page("login.html", 401, title="Log in", csrf=cookie, message="Wrong name or password.")
        token = secrets.token_urlsafe(32)
        now = datetime.now(timezone.utc)
        with Session(engine) as session, session.begin():
            session.add(LoginSession(token_sha256=_sha256(token), reader_pk=reader, csrf_token=secrets.token_hex(32),
                                     created_at=now, expires_at=now + timedelta(hours=SESSION_HOURS)))
            audit(session, name, "login")
        response = RedirectResponse("/worklist", status_code=303)
        set_cookie(response, SESSION_COOKIE, token, SESSION_HOURS * 3600)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    def _authenticate(name: str, password: str) -> int | None:
        with Session(engine) as session:
            reader = authenticate(session, name, password)
            return None if reader is None else reader.id

    def _failed_logins(name: str) -> int:
        with Session(engine) as session:
            return recent_failed_logins(session, name, LOGIN_WINDOW_S)

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        form = await form_of(request)
        with Session(engine) as session, session.begin():
            login = login_of(request, session)
            check_csrf(form, login)
            session.execute(sa.delete(LoginSession).where(
                LoginSession.token_sha256 == _sha256(request.cookies.get(SESSION_COOKIE, ""))))
            audit(session, login.reader.name, "logout")
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/worklist")
    def worklist(request: Request) -> Response:
        with Session(engine) as session:
            login = login_of(request, session)
            rows = session.execute(
                sa.select(ReadingSession.name, ReadingCase.code, ReadingAssignment.status, ReadingAssignment.position)
                .select_from(ReadingAssignment).join(ReadingAssignment.case).join(ReadingCase.session)
                .where(ReadingAssignment.reader_pk == login.reader.id)
                .order_by(ReadingSession.id, ReadingAssignment.position)).all()
            sessions: dict[str, list[dict[str, Any]]] = {}
            for name, code, status, position in rows:
                sessions.setdefault(name, []).append({"code": code, "status": status, "position": position})
            lists = [{"name": name, "cases": cases, "done": sum(c["status"] == READ_SUBMITTED for c in cases),
                      "total": len(cases)} for name, cases in sessions.items()]
            return page("worklist.html", title="Worklist", login=login, lists=lists)

    def case_context(session: Session, login: _Login, assignment: ReadingAssignment) -> dict[str, Any]:
        siblings = list(session.scalars(
            sa.select(ReadingCase.code).join(ReadingAssignment, ReadingAssignment.case_pk == ReadingCase.id)
            .where(ReadingAssignment.reader_pk == login.reader.id,
                   ReadingCase.session_pk == assignment.case.session_pk)
            .order_by(ReadingAssignment.position)))
        index = siblings.index(assignment.case.code)
        return {"login": login, "a": assignment, "code": assignment.case.code, "index": index + 1,
                "total": len(siblings), "next": siblings[index + 1] if index + 1 < len(siblings) else None,
                "scores": SCORE_CHOICES, "confidences": CONFIDENCE_CHOICES,
                "readonly": assignment.status == READ_SUBMITTED}

    @app.get("/case/{code}")
    def case_page(request: Request, code: str) -> Response:
        with Session(engine) as session, session.begin():
            login = login_of(request, session)
            assignment = assignment_of(session, login, code)
            audit(session, login.reader.name, "view", case_code=code)
            return page("case.html", title=f"Case {code}", message=None, **case_context(session, login, assignment))

    @app.post("/case/{code}")
    async def case_save(request: Request, code: str) -> Response:
        form = await form_of(request)
        submit = form.get("action") == "submit"
        error = None
        with Session(engine) as session, session.begin():
            login = login_of(request, session)
            assignment = assignment_of(session, login, code)
            check_csrf(form, login)
            try:  # both raise before anything is changed
                save_read(session, login.reader, assignment, parse_read_form(form, complete=submit), submit=submit)
            except InputError as exc:
                error = str(exc)
        if error is None:
            return RedirectResponse(f"/case/{code}", status_code=303)
        with Session(engine) as session:
            login = login_of(request, session)
            assignment = assignment_of(session, login, code)
            return page("case.html", 400, title=f"Case {code}", message=error,
                        **case_context(session, login, assignment))

    @app.get("/case/{code}/{kind}.nii.gz")
    def case_volume(request: Request, code: str, kind: str) -> Response:  # sync: FastAPI runs it in its threads
        with Session(engine) as session:
            login = login_of(request, session)
            if login.reader.is_admin:
                exists = session.scalar(sa.select(ReadingCase.id).where(ReadingCase.code == code))
                if exists is None:
                    assignment_of(session, login, code)
            else:
                assignment_of(session, login, code)
        if kind not in ("pet", "ct"):
            raise _NotFound()
        found = volumes.get(engine, code)
        data = found.pet_nii_gz if kind == "pet" else found.ct_nii_gz
        if data is None:
            raise _NotFound()
        return Response(data, media_type="application/octet-stream")

    def admin_of(request: Request, session: Session) -> _Login:
        login = login_of(request, session)
        if not login.reader.is_admin:
            raise _NotFound()
        return login

    @app.get("/admin")
    def admin_home(request: Request) -> Response:
        with Session(engine) as session:
            login = admin_of(request, session)
            overviews = [session_overview(session, r)
                         for r in session.scalars(sa.select(ReadingSession).order_by(ReadingSession.id))]
            return page("admin.html", title="Administration", login=login, overviews=overviews)

    @app.get("/admin/session/{session_id}")
    def admin_session(request: Request, session_id: int) -> Response:
        with Session(engine) as session:
            login = admin_of(request, session)
            reading = session.get(ReadingSession, session_id)
            if reading is None:
                raise _NotFound()
            overview = session_overview(session, reading)
            return page("adjudicate.html", title=f"Adjudication: {reading.name}", login=login, o=overview,
                        scores=SCORE_CHOICES, agreement=_agreement(overview))

    @app.post("/admin/session/{session_id}/consensus/{code}")
    async def admin_consensus(request: Request, session_id: int, code: str) -> Response:
        form = await form_of(request)
        with Session(engine) as session, session.begin():
            login = admin_of(request, session)
            check_csrf(form, login)
            case = session.scalar(sa.select(ReadingCase).where(ReadingCase.code == code,
                                                              ReadingCase.session_pk == session_id))
            if case is None or not session_overview(session, case.session)["complete"]:
                raise _NotFound()
            score = form.get("score", "")
            try:
                record_consensus(session, login.reader, case, visual=form.get("visual", ""),
                                 score=int(score) if score in {str(s) for s in SCORE_CHOICES} else None,
                                 comment=form.get("comment", "")[:4000])
            except InputError:
                raise PermissionError("bad consensus") from None
        return RedirectResponse(f"/admin/session/{session_id}", status_code=303)

    @app.post("/admin/session/{session_id}/reopen/{code}/{slot}")
    async def admin_reopen(request: Request, session_id: int, code: str, slot: int) -> Response:
        form = await form_of(request)
        with Session(engine) as session, session.begin():
            login = admin_of(request, session)
            check_csrf(form, login)
            assignment = session.scalar(sa.select(ReadingAssignment).join(ReadingAssignment.case)
                                        .where(ReadingCase.code == code, ReadingCase.session_pk == session_id,
                                               ReadingAssignment.reader_slot == slot))
            if assignment is None or assignment.status != READ_SUBMITTED:
                raise _NotFound()
            reopen_read(session, login.reader, assignment)
        return RedirectResponse(f"/admin/session/{session_id}", status_code=303)

    @app.get("/admin/audit.csv")
    def admin_audit(request: Request) -> Response:
        with Session(engine) as session:
            admin_of(request, session)
            rows = export_audit(session)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["id", "at", "actor", "action", "case_code", "previous", "new"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "previous": json.dumps(row["previous"]) if row["previous"] is not None else "",
                             "new": json.dumps(row["new"]) if row["new"] is not None else ""})
        return Response(buffer.getvalue(), media_type="text/csv",
                        headers={"Content-Disposition": "attachment; filename=audit.csv"})

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name == "niivue.js" and config.niivue_js is not None:
            return Response(config.niivue_js.read_bytes(), media_type="text/javascript",
                            headers={"Cache-Control": "private, max-age=3600"})
        if name not in _STATIC_FILES:
            raise _NotFound()
        return Response((_STATIC / name).read_bytes(), media_type=_STATIC_FILES[name],
                        headers={"Cache-Control": "private, max-age=3600"})

    return app


def _agreement(overview: dict[str, Any]) -> dict[str, Any] | None:
    """Percent agreement and Cohen's kappa of two readers' positive/negative reads (gliopet.stats)."""
    if not overview["complete"] or len(overview["readers"]) != 2:
        return None
    from ..stats import cohens_kappa

    first = [c["reads"][0]["visual"] for c in overview["cases"]]
    second = [c["reads"][1]["visual"] for c in overview["cases"]]
    n = len(first)
    agree = sum(a == b for a, b in zip(first, second))
    kappa = cohens_kappa(first, second).kappa if n else None
    return {"n": n, "agree": agree, "percent": 100.0 * agree / n if n else None, "kappa": kappa}
