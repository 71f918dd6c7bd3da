"""Load over HTTP: the app under gunicorn on loopback (its own PostgreSQL database), a real
Celery worker with Redis as broker (every posting queues its monitoring task there), and
several client processes (multiprocessing + http.client, token auth, an Idempotency-Key
on every POST, retried on a dropped connection) filing, submitting and approving payment
requests against a few hot indicators.

Each "request" is: POST create → POST submit (commits, or 400 indicator_short) → POST
approve (unit head) → POST approve (treasury). Afterwards, from the database:
  lost       = sent − answered − (unanswered but found in the database)
  mismatch   = answered, but the stored state differs from the answer
  overspends = hot indicators whose 9101 (available) went below zero, or whose committed
               9201 differs from the sum of the approved requests
and verify_ledger. Throughput and p50/p95/p99 latency of the whole request; baseline in
the same run: a bare GET through the same gunicorn and middleware (/i18n/setlang/).
Exits non-zero on any lost, mismatched or overspent request, or a verify failure.

    .venv/bin/python bench/reliability_http_load.py --requests 10000 --clients 8
    .venv/bin/python bench/reliability_http_load.py --requests 3200 --clients 16 --compare-runserver

With --compare-runserver the same load then runs against `manage.py runserver` (the
development server, one process with a thread per connection) on 3 hot indicators of its
own, in the same run; gunicorn is started with config/gunicorn.py (WEB_CONCURRENCY
workers unless --gunicorn-workers) and its access log gives the server's own time per
kind of call (create, submit, approve), printed as a profile of where the time goes.
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing as mp
import os
import queue
import runpy
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import payments_lifecycle as pl  # noqa: E402
import reliability_load as rl  # noqa: E402

from finance import chart  # noqa: E402

REDIS_START = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port",
               "6379", "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
               "--logfile", "/var/log/redis/ci.log"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_redis() -> None:
    import redis

    def up() -> bool:
        try:
            return bool(redis.Redis(host="127.0.0.1", port=6379, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    if not up():
        subprocess.run(REDIS_START, check=True)  # noqa: S603
        for _ in range(50):
            if up():
                return
            time.sleep(0.1)
        raise SystemExit("Redis at 127.0.0.1:6379 could not be started")


def prepare(authority: Decimal) -> dict:
    rl.AUTHORITY = authority
    rl.prepare()  # its own database, migrated; units, people, payees, hot approvals
    from django.db import connections
    from rest_framework.authtoken.models import Token

    people = []
    for i in range(rl.HOT):
        a = pl.actors(i)
        people.append({k: Token.objects.get_or_create(user=a[k])[0].key
                       for k in ("filer", "head", "reviewer")} | {"payee": a["payee"].pk,
                                                                   "unit": pl.unit(i)})
    connections.close_all()
    return {"people": people}


class Client:
    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, token: str | None = None,
             body: dict | None = None, key: str | None = None) -> tuple[int, Any]:
        """One HTTP call; a dropped connection is retried (up to 3 times) with the same
        Idempotency-Key, so a retry never acts twice. Raises OSError if never answered."""
        headers = {"Accept": "application/json", "Host": "127.0.0.1"}
        if token:
            headers["Authorization"] = f"Token {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if key:
            headers["Idempotency-Key"] = key
        last: Exception | None = None
        for _ in range(4):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                if resp.status == 409 and b"idempotency_in_progress" in raw:
                    time.sleep(0.2)  # the first try still runs: ask again for its answer
                    continue
                try:
                    return resp.status, json.loads(raw or b"null")
                except ValueError:
                    return resp.status, raw[:200]
            except (OSError, http.client.HTTPException) as exc:
                last = exc
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                time.sleep(0.1)
        raise OSError(f"no answer: {last}")


def client_run(w: int, count: int, port: int, people: list, run: str, start_at: Any,
               out: Any) -> None:
    c = Client(port)
    p = people[w % len(people)]
    outcome: dict[str, str] = {}
    lat: list[float] = []
    start_at.wait()
    for n in range(count):
        purpose = f"load {run.rsplit(':', 1)[-1]}{w}-{n}"  # the phase's letter: g, r
        amount = Decimal(100 + (w * 7 + n) % 50) + Decimal("0.37")
        body = {"year": 2026, "region": "440300", "unit": p["unit"], "function": "2050203",
                "economic": "30202", "fund_source": "1", "amount": str(amount),
                "payee": p["payee"], "purpose": purpose}
        t0 = time.perf_counter()
        try:
            st, req = c.call("POST", "/api/payments/requests/", p["filer"], body,
                             f"{run}:{purpose}:create")
            if st != 201:
                outcome[purpose] = f"create {st} {req}"
                continue
            base = f"/api/payments/requests/{req['id']}"
            st, ans = c.call("POST", f"{base}/submit/", p["filer"], {}, f"{run}:{purpose}:s")
            if st == 400 and isinstance(ans, dict) and ans.get("code") == "indicator_short":
                outcome[purpose] = "refused"
                continue
            if st != 200:
                outcome[purpose] = f"submit {st} {ans}"
                continue
            for who in ("head", "reviewer"):
                st, ans = c.call("POST", f"{base}/approve/", p[who], {"comment": "ok"},
                                 f"{run}:{purpose}:{who}")
                if st != 200:
                    break
            outcome[purpose] = (f"approved {amount}" if st == 200 and ans["status"] == "approved"
                                else f"approve {st} {ans}")
        except OSError:
            outcome[purpose] = "unanswered"
        finally:
            lat.append(time.perf_counter() - t0)
    out.put((outcome, lat))


def baseline_run(w: int, count: int, port: int, people: list, run: str, start_at: Any,  # noqa: ARG001
                 out: Any) -> None:
    c = Client(port)
    lat: list[float] = []
    start_at.wait()
    for _ in range(count):
        t0 = time.perf_counter()
        with contextlib.suppress(OSError):
            c.call("GET", "/i18n/setlang/")  # any answer below 500 (204 here)
        lat.append(time.perf_counter() - t0)
    out.put(({}, lat))


def drive(target: Any, clients: int, per: int, port: int, people: list,
          run: str) -> tuple[dict, list[float], float]:
    ctx = mp.get_context("fork")
    start_at, out = ctx.Barrier(clients + 1), ctx.Queue()
    procs = [ctx.Process(target=target, args=(w, per, port, people, run, start_at, out))
             for w in range(clients)]
    for p in procs:
        p.start()
    start_at.wait()
    t0 = time.perf_counter()
    results = []
    while len(results) < len(procs):
        try:
            results.append(out.get(timeout=5))
        except queue.Empty:
            dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if dead:
                for p in procs:
                    p.kill()
                raise SystemExit(f"a client process died (exit codes {dead})") from None
    elapsed = time.perf_counter() - t0
    for p in procs:
        p.join()
    outcome: dict[str, str] = {}
    lat: list[float] = []
    for o, lt in results:
        outcome.update(o)
        lat += lt
    return outcome, lat, elapsed


def pct(lat: list[float], q: int) -> float:
    return statistics.quantiles(lat, n=100)[q - 1] * 1000 if len(lat) > 1 else lat[0] * 1000


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()  # noqa: S607


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "wb") as fh:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh,  # noqa: S603
                                stderr=subprocess.STDOUT, start_new_session=True)


def server_times(log: Path) -> dict[str, dict[str, float]]:
    """The server's own time per kind of call, from gunicorn's access log (`%(D)s`, µs):
    where a request's time goes without the clients' and the network's share."""
    kinds: dict[str, list[float]] = {}
    for line in log.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) != 4 or not parts[3].isdigit():  # noqa: PLR2004
            continue
        method, path, status, micros = parts
        kind = ("create" if path.endswith("/requests/") else path.rstrip("/").rsplit("/", 1)[-1])
        kinds.setdefault(f"{method} {kind} {status}", []).append(int(micros) / 1000)
    return {k: {"n": len(v), "p50_ms": round(statistics.median(v), 1),
                "p95_ms": round(pct(v, 95) / 1000, 1)}  # pct() takes seconds
            for k, v in sorted(kinds.items())}


def phase(name: str, port: int, people: list, run: str, clients: int, per: int) -> dict:
    """A bare-GET baseline, then the load, against the server on `port`."""
    for _ in range(300):
        try:
            if Client(port).call("GET", "/i18n/setlang/")[0] < 500:  # noqa: PLR2004
                break
        except OSError:
            time.sleep(0.2)
    else:
        raise SystemExit(f"{name} did not answer in 60 s")
    before = uptime()
    _, base_lat, base_s = drive(baseline_run, clients, max(per // 4, 25), port, people, run)
    outcome, lat, elapsed = drive(client_run, clients, per, port, people, run)
    return {"server": name, "outcome": outcome, "sent": per * clients,
            "requests_per_s": round(per * clients / elapsed, 1), "seconds": round(elapsed, 1),
            "p50_ms": round(pct(lat, 50)), "p95_ms": round(pct(lat, 95)),
            "p99_ms": round(pct(lat, 99)),
            "baseline_get_per_s": round(len(base_lat) / base_s, 1),
            "baseline_p50_ms": round(pct(base_lat, 50), 1),
            "baseline_p95_ms": round(pct(base_lat, 95), 1),
            "uptime_before": before, "uptime_after": uptime()}


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def main() -> int:  # noqa: PLR0915, C901, PLR0912
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--gunicorn-workers", type=int, default=0,
                    help="default: config/gunicorn.py's (WEB_CONCURRENCY, else cores + 1); "
                         "threads: GUNICORN_THREADS, else 4")
    ap.add_argument("--compare-runserver", action="store_true",
                    help="then the same load against `manage.py runserver` (the old way), "
                         "on 3 hot indicators of its own")
    ap.add_argument("--authority", default="40000.00", help="per hot indicator, yuan")
    ap.add_argument("--db", default="sf_r9_http")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    ap.add_argument("--keep-db", action="store_true")
    args = ap.parse_args()
    per = max(args.requests // args.clients, 1)
    conf = runpy.run_path(str(ROOT / "config/gunicorn.py"))  # what gunicorn will read
    workers = args.gunicorn_workers or conf["workers"]
    pl.DB = args.db
    hot = rl.HOT
    if args.compare_runserver:
        rl.HOT = 2 * hot  # units 0..2 for gunicorn, 3..5 for runserver
    ensure_redis()
    load_before = uptime()
    setup = prepare(Decimal(args.authority))
    run = uuid.uuid4().hex[:8]
    port = free_port()
    broker = "redis://127.0.0.1:6379/1"
    env = {**os.environ, "DATABASE_URL": f"{pl.PG}/{pl.DB}", "CELERY_BROKER_URL": broker,
           "CELERY_RESULT_BACKEND": broker, "CELERY_KEY_PREFIX": f"sf-r9-load-{run}:",
           "DEBUG": "0", "SECRET_KEY": f"bench-{uuid.uuid4().hex}{uuid.uuid4().hex}",
           "SECURE_SSL_REDIRECT": "0", "DB_CONN_MAX_AGE": "600"}
    logs = ROOT / "var" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    access_log = logs / f"http_load_access_{run}.log"
    worker = start([str(ROOT / ".venv/bin/celery"), "-A", "config", "worker", "-Q",
                    "celery,imports,exports,reports,monitoring", "--pool=solo",
                    "--without-gossip", "--without-mingle", "-n", f"r9load-{run}@%h",
                    "--loglevel=INFO"], env, logs / f"http_load_worker_{run}.log")
    web = start([str(ROOT / ".venv/bin/gunicorn"), "-c", str(ROOT / "config/gunicorn.py"),
                 "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "120",
                 "--keep-alive", "30", "--max-requests", "0", "--access-logfile",
                 str(access_log), "--access-logformat", "%(m)s %(U)s %(s)s %(D)s"], env,
                logs / f"http_load_gunicorn_{run}.log")
    failures: list[str] = []
    phases: list[dict] = []
    try:
        people = setup["people"]
        phases.append(phase(f"gunicorn {workers} × {conf['threads']} threads", port, people[:hot], f"{run}:g",
                            args.clients, per))
        stop(web)
        profile = server_times(access_log)
        if args.compare_runserver:
            rport = free_port()
            web = start([str(ROOT / ".venv/bin/python"), "manage.py", "runserver",
                         f"127.0.0.1:{rport}", "--noreload"], env,
                        logs / f"http_load_runserver_{run}.log")
            phases.append(phase("runserver", rport, people[hot:2 * hot], f"{run}:r",
                                args.clients, per))
            stop(web)

        # the monitoring tasks every posting queued: let the worker drain them
        import redis

        r = redis.Redis.from_url(broker)
        drained_at = None
        t_drain = time.perf_counter()
        for _ in range(600):
            if r.llen(f"sf-r9-load-{run}:monitoring") == 0:
                drained_at = time.perf_counter() - t_drain
                break
            time.sleep(0.5)
        time.sleep(2)  # the last task taken from the queue may still be running
        tasks_done = (logs / f"http_load_worker_{run}.log").read_text().count("succeeded in")

        from finance import selectors
        from payments.models import PaymentRequest

        stored = {r.purpose: r for r in PaymentRequest.objects.filter(purpose__startswith="load ")}
        for ph in phases:
            outcome = ph.pop("outcome")
            unanswered = [k for k, v in outcome.items() if v == "unanswered"]
            lost = sum(1 for k in unanswered if k not in stored)
            odd = {k: v for k, v in outcome.items()
                   if v != "unanswered" and v != "refused" and not v.startswith("approved ")}
            mismatch = [k for k, v in outcome.items() if v == "refused" and k in stored
                        and stored[k].status not in ("draft", "refused")
                        or v.startswith("approved ") and stored[k].status != "approved"]
            ph |= {"answered": ph["sent"] - len(unanswered), "lost": lost,
                   "unanswered_but_stored": len(unanswered) - lost, "unexpected": len(odd),
                   "mismatch": len(mismatch),
                   "approved": sum(1 for v in outcome.values() if v.startswith("approved ")),
                   "refused_short": sum(1 for v in outcome.values() if v == "refused")}
            if lost:
                failures.append(f"{ph['server']}: {lost} lost requests")
            if odd:
                failures.append(f"{ph['server']}: {len(odd)} unexpected answers, e.g. "
                                f"{list(odd.items())[:3]}")
            if mismatch:
                failures.append(f"{ph['server']}: {len(mismatch)} stored states differ")
        overspends = 0
        for i in range(rl.HOT):
            kw = {"unit": pl.unit(i), "economic": "30202"}
            available = selectors.balance(account=chart.AVAILABLE, year=2026, **kw)
            committed = selectors.balance(account=chart.COMMITTED, year=2026, **kw)
            accepted = sum((x.amount for x in stored.values()
                            if x.unit == pl.unit(i) and x.status == "approved"), Decimal("0.00"))
            if available < 0 or committed != accepted or available + committed != rl.AUTHORITY:
                overspends += 1
                failures.append(f"indicator {i}: available {available}, committed {committed}, "
                                f"approved {accepted}")
        verify = selectors.ledger_verify()
        if not verify.ok:
            failures.append(f"verify_ledger: {verify.first_broken}")
        figures = {
            **{k: v for k, v in phases[0].items() if k != "server"},  # gunicorn's, as before
            "phases": phases, "overspends": overspends,
            "verify_ledger": "OK" if verify.ok else "FAILED",
            "entries_checked": verify.entries_checked, "server_times": profile,
            "monitoring_tasks_succeeded": tasks_done,
            "queue_drained_s": None if drained_at is None else round(drained_at, 1),
            "clients": args.clients, "gunicorn_workers": workers,
            "gunicorn_threads": conf["threads"], "hot_indicators": hot,
            "authority": str(rl.AUTHORITY), "uptime_before": load_before,
            "uptime_after": uptime(),
        }
        if drained_at is None:
            failures.append("the Celery worker did not drain the monitoring queue in 300 s")
    finally:
        for proc in (web, worker):
            stop(proc)
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            pl.psql(f"DROP DATABASE IF EXISTS {pl.DB}")
    if args.json:
        print(json.dumps(figures | {"failures": failures}, ensure_ascii=False))
    else:
        f = figures
        print(f"HTTP load: {per * args.clients} requests per server from {f['clients']} client "
              f"processes, {f['hot_indicators']} hot indicators × {f['authority']} each")
        for ph in f["phases"]:
            print(f"{ph['server']}: {ph['requests_per_s']} requests/s ({ph['seconds']} s), p50 "
                  f"{ph['p50_ms']} ms, p95 {ph['p95_ms']} ms, p99 {ph['p99_ms']} ms; approved "
                  f"{ph['approved']}, refused (short) {ph['refused_short']}, lost {ph['lost']} "
                  f"(unanswered but stored {ph['unanswered_but_stored']}), unexpected "
                  f"{ph['unexpected']}, mismatch {ph['mismatch']}")
            print(f"  baseline bare GET {ph['baseline_get_per_s']}/s, p50 "
                  f"{ph['baseline_p50_ms']} ms, p95 {ph['baseline_p95_ms']} ms")
            print(f"  uptime before: {ph['uptime_before']}\n  uptime after:  {ph['uptime_after']}")
        print(f"overspends {f['overspends']}, verify_ledger {f['verify_ledger']} "
              f"({f['entries_checked']} entries)")
        print("gunicorn's own time per call (access log):")
        for kind, t in f["server_times"].items():
            print(f"  {kind:32} {t['n']:6}  p50 {t['p50_ms']:8.1f} ms  p95 {t['p95_ms']:8.1f} ms")
        print(f"celery: {f['monitoring_tasks_succeeded']} tasks succeeded, queue drained "
              f"{f['queue_drained_s']} s after the load")
        print(f"uptime before: {f['uptime_before']}\nuptime after:  {f['uptime_after']}")
        for x in failures:
            print("FAIL", x)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
