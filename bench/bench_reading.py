"""Blinded reading (`gliopet serve`): many readers at once on loopback, latency per endpoint.

Setup: a few simulated patients like the study's Table 2 (``--patients``, default 3: patients 1 to 3
of the reference table, seed 7; PET 109 x 168 x 168 at 2 mm, CT 72 x 256 x 256 at 1 x 1 x 3 mm;
simulated once, kept in ``bench/_data/reading``) analysed into a fresh SQLite store in a temporary
folder (``run_analysis``, as ``gliopet analyze``), one case per study. ``--readers`` reader accounts
(``bench-r01``...) and one reading session over every study with all of them, made with the library
calls behind ``gliopet readers add NAME --db URL`` and ``gliopet reading new NAME --db URL
--readers A,B,... --seed 1`` (50 CLI processes would only add Python start-ups). The app runs as a
user runs it: ``gliopet serve --db URL --host 127.0.0.1 --port N`` in its own process (one uvicorn
process, access log on, written to a file).

Load: one asyncio process, one httpx client per reader (own cookies, own connection), all readers at
once, each pausing ``--think`` seconds on average (uniform 0.5x to 1.5x, seeded per reader) before
each page and before each case's volumes (a reader looks at what opened; real readers spend
minutes on a case, so the default 1 s is a fast reader; ``--think 0`` is the worst case, every reader
asking without a pause), in three phases that each end by themselves: (1) every reader logs in (the login form's CSRF
token, then POST /login; timed apart); (2) pages only: ``--rounds`` rounds of GET /worklist and
GET /case/CODE (the case at position ``round mod cases`` of the reader's own worklist); (3) the
full load: ``--rounds`` rounds of the worklist, the case page, then the volume URLs the viewer
fetches (the canvas's ``data-ct`` and ``data-pet``: gzipped NIfTI, int16 CT and float32 PET, the CT
first as the viewer lists it), one after the other. Each latency runs from the request to the last byte of the body. Every response
must be 200 (a redirect to /login means the login failed; a CT may be 404 where a case has none):
anything else stops the run. A GET whose kept-alive connection the server closed as it went out is
sent once more, as a browser does, timed from the first try and counted (``requests_sent_again``).
A case's delivery is the wall time of its volume requests together; round 1 of phase 3 is each
case's first opening (the server prepares the open cases' volumes when it starts, in the background,
while the readers log in). Targets (the issue), judged on phase 3, all rounds: p95 of the worklist
and of the case page under 200 ms, a case's volumes under 1 s (p95). Also printed: the CPU time
of the server and of the clients per phase, and the server's peak RSS.

Baseline, same run: the very bytes each reader received, served as static files by a bare
Starlette ``StaticFiles`` app under uvicorn in its own process (access log on), fetched by the same
clients in the same order: what the app adds to a case's delivery beyond sending its bytes.

    python -m bench reading                     # 50 readers, 10 rounds, 3 simulated patients
    python -m bench.bench_reading --readers 50 --rounds 10 --out /tmp/bench-reading
    python -m bench.bench_reading --db sqlite:////path/store.sqlite   # an analysed store of your own

``--db`` writes to that store: the readers ``bench-rNN`` (password ``PASSWORD``) and a session
``bench-<time>``; where it holds no measured study, the simulated patients are analysed into it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
REPO = HERE.parent
DATA = HERE / "_data" / "reading"
LIKE = REPO / "src" / "gliopet" / "data" / "reference" / "table2-published.csv"
PASSWORD = "bench-reader-password"
TARGETS_MS = {"worklist": 200.0, "case page": 200.0, "case volumes": 1000.0}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_CASE_LINK = re.compile(r'class="case-link" href="(/case/\w+)"')
_PET = re.compile(r'data-pet="([^"]+)"')
_CT = re.compile(r'data-ct="([^"]+)"')
#: GETs sent again after the server closed their connection under them (see _timed_get).
RETRIED: list[str] = []


def _cohort(n_patients: int) -> Path:
    """``n_patients`` simulated like the first rows of Table 2 (made once, then reused)."""
    from gliopet.simulate.cohort import patient_specs_like, read_like_csv, simulate_cohort

    root = DATA / f"cohort-{n_patients}"
    if not (root / "clinical.csv").exists():
        rows = read_like_csv(LIKE)[:n_patients]
        simulate_cohort(patient_specs_like(rows, seed=7), root, seed=7, workers=2, overwrite=True)
    return root


def _prepare_store(url: str, n_patients: int, n_readers: int) -> tuple[list[str], dict]:
    """Studies (analysed unless the store has some), readers and a reading session; the reader names."""
    import sqlalchemy as sa

    from gliopet.analyze import run_analysis
    from gliopet.reading import add_reader, list_readers, new_session
    from gliopet.store import STUDY_DONE, open_store
    from gliopet.store._models import Study

    engine = open_store(url)
    info: dict = {}
    with engine.connect() as c:
        studies = c.execute(sa.select(sa.func.count()).select_from(Study).where(Study.status == STUDY_DONE)).scalar()
    if not studies:
        cohort = _cohort(n_patients)
        start = time.perf_counter()
        summary = run_analysis(cohort, cohort / "clinical.csv", db=url, workers=2, progress=False)
        info["analysed"] = {"studies": summary.measured, "failed": summary.failed,
                            "wall_s": round(time.perf_counter() - start, 1)}
    names = [f"bench-r{i:02d}" for i in range(1, n_readers + 1)]
    have = {r["name"] for r in list_readers(engine)}
    for name in names:
        if name not in have:
            add_reader(engine, name, PASSWORD)
    info["session"] = new_session(engine, f"bench-{time.strftime('%Y%m%dT%H%M%S')}", readers=names, seed=1)
    engine.dispose()
    return names, info


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(argv: list[str], log: Path, port: int) -> tuple[subprocess.Popen, str]:
    """A server process and its base URL, once it answers (60 s at most)."""
    import httpx

    base = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}); see {log}:\n{log.read_text()[-2000:]}")
        try:
            httpx.get(base + "/", timeout=1.0)
            return proc, base
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                proc.terminate()
                raise SystemExit(f"server did not answer within 60 s; see {log}") from None
            time.sleep(0.2)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class BenchFailure(RuntimeError):
    """A response other than the expected one: the run stops."""


def _check(r, what: str) -> None:  # noqa: ANN001
    if r.status_code != 200:
        where = f" -> {r.headers.get('location')}" if r.is_redirect else ""
        raise BenchFailure(f"{what}: HTTP {r.status_code}{where} (expected 200)")


async def _timed_get(client, url: str, what: str,  # noqa: ANN001
                     missing_ok: bool = False) -> tuple[float, bytes | None]:
    import httpx

    start = time.perf_counter()
    try:
        try:
            r = await client.get(url)
        except httpx.RemoteProtocolError as exc:
            # The server closed the kept-alive connection as the request went out (uvicorn's 5 s keep-alive
            # runs from the hand-over of the response to the socket, not from its arrival): a browser sends
            # the GET again on a new connection, so does the reader; counted, and timed from the first try.
            if "without sending a response" not in str(exc):
                raise
            RETRIED.append(url)
            r = await client.get(url)
    except Exception as exc:  # noqa: BLE001 - httpx's errors, reported with the URL
        raise BenchFailure(f"GET {url} ({what}) after {time.perf_counter() - start:.1f} s: "
                           f"{type(exc).__name__}: {exc}") from exc
    elapsed = time.perf_counter() - start
    if missing_ok and r.status_code == 404:
        return elapsed, None
    _check(r, f"GET {url} ({what})")
    return elapsed, r.content


async def _login(client, name: str, out: dict) -> None:  # noqa: ANN001
    start = time.perf_counter()
    try:
        page = await client.get("/login")
        _check(page, "GET /login")
        r = await client.post("/login", data={"csrf": _CSRF.search(page.text).group(1), "name": name,
                                              "password": PASSWORD})
    except Exception as exc:  # noqa: BLE001 - httpx's errors, reported with the reader
        raise BenchFailure(f"login of {name}: {type(exc).__name__}: {exc}") from exc
    if r.status_code != 303 or r.headers.get("location") != "/worklist":
        raise BenchFailure(f"login of {name}: HTTP {r.status_code} -> {r.headers.get('location')}")
    out["login"].append(time.perf_counter() - start)


async def _pause(rng: random.Random, think_s: float) -> None:
    if think_s > 0:
        await asyncio.sleep(rng.uniform(0.5, 1.5) * think_s)


async def _reader(client, name: str, rounds: int, out: dict, volumes: bool = True,  # noqa: ANN001
                  think_s: float = 0.0) -> None:
    """``rounds`` rounds of worklist, case page and (with ``volumes``) the case's volumes; samples as (round, s)."""
    plan = out["plan"].setdefault(name, [])
    rng = random.Random(f"{name}-think")
    for i in range(rounds):
        await _pause(rng, think_s)
        t, body = await _timed_get(client, "/worklist", "worklist")
        out["worklist"].append((i, t))
        cases = _CASE_LINK.findall(body.decode())
        if not cases:
            raise BenchFailure(f"{name}'s worklist lists no case")
        await _pause(rng, think_s)
        t, body = await _timed_get(client, cases[i % len(cases)], "case page")
        out["case page"].append((i, t))
        if not volumes:
            continue
        await _pause(rng, think_s)
        html = body.decode()
        pet, ct = _PET.search(html).group(1), (_CT.search(html) or [None, None])[1]
        start, size, fetched = time.perf_counter(), 0, []
        for url in (ct, pet) if ct else (pet,):  # the viewer's order: the CT beneath, then the PET
            t, data = await _timed_get(client, url, "volume", missing_ok=url == ct)
            if data is None:  # a case without CT: the viewer shows the PET alone
                continue
            out["volume request"].append((i, t))
            size += len(data)
            fetched.append(url)
            out["bytes"].setdefault(url, data)
        out["case volumes"].append((i, time.perf_counter() - start))
        out["case bytes"].append(size)
        plan.append(tuple(fetched))


async def _static_reader(client, plan: list[tuple[str, ...]], out: dict, name: str,  # noqa: ANN001
                         think_s: float = 0.0) -> None:
    rng = random.Random(f"{name}-think")
    for i, urls in enumerate(plan):
        await _pause(rng, 3 * think_s)  # the same pauses as the reader's round: worklist, case page, volumes
        start = time.perf_counter()
        for url in urls:
            t, _ = await _timed_get(client, url, "static volume")
            out["volume request"].append((i, t))
        out["case volumes"].append((i, time.perf_counter() - start))


def _summary(samples: list, rounds: slice = slice(None)) -> dict:
    """n, median, p95, max in ms of ``samples`` (seconds, or (round, seconds) kept where round is in ``rounds``)."""
    if samples and isinstance(samples[0], tuple):
        samples = [t for i, t in samples if i in range(10**6)[rounds]]
    ms = np.asarray(samples) * 1000.0
    if ms.size == 0:
        return {"n": 0, "median_ms": None, "p95_ms": None, "max_ms": None}
    return {"n": int(ms.size), "median_ms": round(float(np.median(ms)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1), "max_ms": round(float(ms.max()), 1)}


def _cpu_s(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _usage(server_pid: int, since: tuple[float, float, float]) -> dict:
    cpu0, server0, start = since
    return {"wall_s": round(time.perf_counter() - start, 1), "server_cpu_s": round(_cpu_s(server_pid) - server0, 1),
            "client_cpu_s": round(time.process_time() - cpu0, 1)}


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


async def _load(base: str, names: list[str], rounds: int, server_pid: int,
                think_s: float) -> tuple[dict, dict, dict]:
    """Every reader logs in at once; then pages only (worklist, case page), then pages and volumes."""
    import httpx

    kinds = ("worklist", "case page", "volume request", "case volumes")
    pages: dict = {"worklist": [], "case page": [], "plan": {}}
    out: dict = {**{k: [] for k in kinds}, "login": [], "case bytes": [], "bytes": {}, "plan": {}}
    usage = {}
    clients = [httpx.AsyncClient(base_url=base, follow_redirects=False, timeout=120.0) for _ in names]
    try:
        phase = "login"
        since = time.process_time(), _cpu_s(server_pid), time.perf_counter()
        await asyncio.gather(*(_login(c, n, out) for c, n in zip(clients, names)))
        usage["login"] = {**_usage(server_pid, since), "server_peak_rss_mb": _peak_rss_mb(server_pid)}
        retried = len(RETRIED)
        phase = "pages only"
        since = time.process_time(), _cpu_s(server_pid), time.perf_counter()
        await asyncio.gather(*(_reader(c, n, rounds, pages, volumes=False, think_s=think_s)
                               for c, n in zip(clients, names)))
        usage["pages only"] = {**_usage(server_pid, since), "requests_sent_again": len(RETRIED) - retried}
        retried = len(RETRIED)
        phase = "pages and volumes"
        since = time.process_time(), _cpu_s(server_pid), time.perf_counter()
        await asyncio.gather(*(_reader(c, n, rounds, out, think_s=think_s) for c, n in zip(clients, names)))
        usage["pages and volumes"] = {**_usage(server_pid, since), "server_peak_rss_mb": _peak_rss_mb(server_pid),
                                      "requests_sent_again": len(RETRIED) - retried}
    except BenchFailure as exc:
        raise BenchFailure(f"phase {phase!r}, {time.perf_counter() - since[2]:.1f} s in: {exc}") from exc
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return out, pages, usage


async def _replay(base: str, plans: dict[str, list[tuple[str, ...]]], server_pid: int,
                  think_s: float) -> tuple[dict, dict]:
    """The same readers fetch the same volumes, in the same order, from the static server."""
    import httpx

    out: dict = {"volume request": [], "case volumes": []}
    clients = [httpx.AsyncClient(base_url=base, timeout=120.0) for _ in plans]
    try:
        since = time.process_time(), _cpu_s(server_pid), time.perf_counter()
        retried = len(RETRIED)
        await asyncio.gather(*(_static_reader(c, plan, out, name, think_s)
                               for c, (name, plan) in zip(clients, plans.items())))
        usage = {**_usage(server_pid, since), "server_peak_rss_mb": _peak_rss_mb(server_pid),
                 "requests_sent_again": len(RETRIED) - retried}
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return out, usage


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=50, help="readers at once (default 50)")
    parser.add_argument("--rounds", type=int, default=10, help="worklist + case + volumes rounds per reader")
    parser.add_argument("--patients", type=int, default=3, help="simulated patients when the store is new (3)")
    parser.add_argument("--db", help="store URL (default: a new SQLite store in a temporary folder); "
                                     "readers and a session are added to it")
    parser.add_argument("--out", type=Path, help="folder for bench-reading.json")
    parser.add_argument("--think", type=float, default=1.0,
                        help="a reader's mean pause (s) before each page and each case's volumes (default 1; 0: none)")
    args = parser.parse_args(argv)  # None: sys.argv[1:] (`python -m bench reading ARGS` sets sys.argv)
    report: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, "
                               f"Python {platform.python_version()}", "load_average_before": os.getloadavg(),
                    "readers": args.readers, "rounds": args.rounds, "think_s": args.think}
    print(f"machine: {report['machine']}; load average {report['load_average_before']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-reading-") as tmp_name:
        tmp = Path(tmp_name)
        url = args.db or f"sqlite:///{tmp / 'store.sqlite'}"
        names, report["setup"] = _prepare_store(url, args.patients, args.readers)
        session = report["setup"]["session"]
        print(f"store {url}: {json.dumps(report['setup'].get('analysed', 'measured studies present'))}; session "
              f"{session['name']}: {session['cases']} cases, {len(session['readers'])} readers", flush=True)
        serve = [sys.executable, "-m", "gliopet.cli", "serve", "--db", url, "--host", "127.0.0.1"]
        port = _free_port()
        proc, base = _start([*serve, "--port", str(port)], tmp / "serve.log", port)
        try:
            app, pages, report["app_usage"] = asyncio.run(_load(base, names, args.rounds, proc.pid, args.think))
        except BenchFailure as exc:
            _stop(proc)
            tail = "\n".join((tmp / "serve.log").read_text().splitlines()[-40:])
            raise SystemExit(f"FAIL: {exc}\nthe server's log, last lines:\n{tail}") from None
        finally:
            _stop(proc)
        log = (tmp / "serve.log").read_text()
        report["server_log_errors"] = [line for line in log.splitlines() if "Traceback" in line or " 500 " in line]
        static = tmp / "static"
        for path, data in app["bytes"].items():
            (static / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            (static / path.lstrip("/")).write_bytes(data)
        code = ("import sys, uvicorn; from starlette.applications import Starlette; "
                "from starlette.routing import Mount; from starlette.staticfiles import StaticFiles; "
                "uvicorn.run(Starlette(routes=[Mount('/', StaticFiles(directory=sys.argv[1]))]), "
                "host='127.0.0.1', port=int(sys.argv[2]), log_level='info', access_log=True)")
        port = _free_port()
        proc, base = _start([sys.executable, "-c", code, str(static), str(port)], tmp / "static.log", port)
        try:
            static_out, report["static_usage"] = asyncio.run(_replay(base, app["plan"], proc.pid, args.think))
        except BenchFailure as exc:
            raise SystemExit(f"FAIL (static baseline): {exc}") from None
        finally:
            _stop(proc)
    sizes = np.asarray(app["case bytes"])
    report["case_mb"] = {"min": round(sizes.min() / 1e6, 2), "max": round(sizes.max() / 1e6, 2)}
    for kind in ("ct", "pet"):
        mb = [len(data) / 1e6 for url, data in app["bytes"].items() if url.endswith(f"/{kind}.nii.gz")]
        report["case_mb"][kind] = [round(min(mb), 2), round(max(mb), 2)] if mb else None
    all_, first, later = slice(None), slice(0, 1), slice(1, None)
    rows = [("login (all readers at once)", app["login"], all_, None),
            ("pages only: worklist", pages["worklist"], all_, "worklist"),
            ("pages only: case page", pages["case page"], all_, "case page"),
            ("full: worklist", app["worklist"], all_, "worklist"),
            ("full: case page", app["case page"], all_, "case page"),
            ("full: volume request", app["volume request"], all_, None),
            ("full: case volumes", app["case volumes"], all_, "case volumes"),
            ("full: worklist, rounds 2+", app["worklist"], later, "worklist"),
            ("full: case page, rounds 2+", app["case page"], later, "case page"),
            ("full: case volumes, round 1 (first opening)", app["case volumes"], first, "case volumes"),
            ("full: case volumes, rounds 2+", app["case volumes"], later, "case volumes"),
            ("static: volume request", static_out["volume request"], all_, None),
            ("static: case volumes", static_out["case volumes"], all_, "case volumes"),
            ("static: case volumes, rounds 2+", static_out["case volumes"], later, "case volumes")]
    report["results"], report["targets"] = {}, {}
    report["load_average_after"] = os.getloadavg()
    print(f"\n{args.readers} readers x {args.rounds} rounds over {report['setup']['session']['cases']} cases; "
          f"a case's volumes {report['case_mb']['min']} to {report['case_mb']['max']} MB (gzipped NIfTI; CT "
          f"{report['case_mb']['ct']}, PET {report['case_mb']['pet']} MB)")
    print(f"{'what':<34} {'n':>5} {'median ms':>10} {'p95 ms':>9} {'max ms':>9}  target")
    for label, samples, rounds, key in rows:
        summary = report["results"][label] = _summary(samples, rounds)
        target = ""
        if summary["n"] == 0:
            print(f"{label:<34} {0:>5}")
            continue
        if key is not None:
            met = summary["p95_ms"] < TARGETS_MS[key]
            target = f"p95 < {TARGETS_MS[key]:.0f} ms: {'PASS' if met else 'FAIL'}"
            if label in ("full: worklist", "full: case page", "full: case volumes"):
                report["targets"][key] = {"p95_ms": summary["p95_ms"], "target_ms": TARGETS_MS[key], "met": met}
            else:
                target = f"({target})"
        print(f"{label:<34} {summary['n']:>5} {summary['median_ms']:>10.1f} {summary['p95_ms']:>9.1f} "
              f"{summary['max_ms']:>9.1f}  {target}")
    print("targets (full load, all rounds): " + ", ".join(
        f"{k} {'met' if v['met'] else 'MISSED'}" for k, v in report["targets"].items()))
    for phase, usage in {**report["app_usage"], "static baseline": report["static_usage"]}.items():
        print(f"{phase}: {json.dumps(usage)}")
    print(f"server log lines with a traceback or a 500: {len(report['server_log_errors'])}; "
          f"load average after {report['load_average_after']}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bench-reading.json").write_text(json.dumps(report, indent=1))

if __name__ == "__main__":
    main()
