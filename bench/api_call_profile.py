"""Work per API call of the interactive path (issue 19), in one process with no contention:
N requests' 4 calls (create → submit → approve (unit head) → approve (treasury)) through
Django's test client with token auth and an Idempotency-Key on every POST, as
bench/reliability_http_load.py sends them, on PostgreSQL (its own database). Prints per
kind of call the SQL statements (CaptureQueriesContext, middleware included; of them
those of the history sealing that runs after the call's commit) and the
milliseconds per call, then a cProfile of as many requests again (top 25 by cumulative time) and
the share of time in SQL compilation, psycopg round trips and DRF serializers.

    .venv/bin/python bench/api_call_profile.py --requests 20
    .venv/bin/python bench/api_call_profile.py --requests 20 --sql submit   # the statements

Celery tasks are queued (recorded), not run, as under gunicorn with a worker on Redis; the
history sealing on commit (audit.seals) runs in the call, as it does in the server.
The first --warmup requests (default 3) are run and not counted (imports, caches).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import sys
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import payments_lifecycle as pl  # noqa: E402
import reliability_http_load as http_load  # noqa: E402

pl.DB = "smart_finance_bench_api_profile"
QUEUED: list[str] = []
SEALING = [0]  # statements of the history sealing after the call's commit
KINDS = ("create", "submit", "approve head", "approve treasury")


def prepare() -> list[dict]:
    """The HTTP bench's own set-up (its database, units, people, payees, hot approvals,
    tokens), with an authority so large that every request commits: the full path."""
    return http_load.prepare(Decimal("100000000.00"))["people"]


def one_request(client: object, p: dict, n: int, timed: dict, sqls: dict) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    purpose = f"profile {n}"
    body = {"year": 2026, "region": "440300", "unit": p["unit"], "function": "2050203",
            "economic": "30202", "fund_source": "1", "amount": str(Decimal(100 + n % 50) +
                                                                   Decimal("0.37")),
            "payee": p["payee"], "purpose": purpose}

    def call(kind: str, path: str, token: str, data: dict) -> dict:
        SEALING[0] = 0
        connection.queries_log.clear()  # a bounded deque: counts by position need room
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            resp = client.post(path, data=json.dumps(data), content_type="application/json",  # type: ignore[attr-defined]
                               HTTP_AUTHORIZATION=f"Token {token}",
                               HTTP_IDEMPOTENCY_KEY=f"{purpose}:{kind}", HTTP_HOST="127.0.0.1")
            ms = (time.perf_counter() - t0) * 1000
        assert resp.status_code in (200, 201), (kind, resp.status_code, resp.content[:300])
        timed[kind].append((ms, len(ctx.captured_queries), SEALING[0]))
        sqls[kind] = [q["sql"] for q in ctx.captured_queries]
        return resp.json()

    req = call("create", "/api/payments/requests/", p["filer"], body)
    base = f"/api/payments/requests/{req['id']}"
    call("submit", f"{base}/submit/", p["filer"], {})
    call("approve head", f"{base}/approve/", p["head"], {"comment": "ok"})
    ans = call("approve treasury", f"{base}/approve/", p["reviewer"], {"comment": "ok"})
    assert ans["status"] == "approved", ans


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--sql", choices=[k.split()[0] for k in KINDS] + ["head", "treasury"],
                    help="print the statements of the last call of this kind")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--save", metavar="FILE", help="also write the cProfile stats to FILE")
    args = ap.parse_args()
    people = prepare()
    from celery.app.task import Task
    from django.test import Client

    # as under the HTTP bench, a task is queued (there: to Redis for the Celery worker), not
    # run inside the call: the profile is the web server's own work
    Task.apply_async = lambda self, *a, **k: QUEUED.append(self.name)  # type: ignore[method-assign]
    from django.db import connection

    from audit import seals

    seal = seals._seal_pending  # noqa: SLF001

    def counted_seal() -> None:
        before = len(connection.queries_log)
        seal()
        SEALING[0] += len(connection.queries_log) - before

    seals._seal_pending = counted_seal  # noqa: SLF001

    client = Client()
    timed: dict[str, list] = defaultdict(list)
    sqls: dict[str, list] = {}
    for n in range(args.warmup):
        one_request(client, people[n % len(people)], 10_000 + n, defaultdict(list), {})
    t0 = time.perf_counter()
    for n in range(args.requests):
        one_request(client, people[n % len(people)], n, timed, sqls)
    wall = time.perf_counter() - t0
    prof = cProfile.Profile()
    prof.enable()
    for n in range(args.requests):
        one_request(client, people[n % len(people)], 20_000 + n, defaultdict(list), {})
    prof.disable()
    if args.save:
        prof.dump_stats(args.save)

    print(f"{args.requests} requests (4 calls each) in {wall:.2f} s: "
          f"{wall / args.requests * 1000:.0f} ms per request (no profiler); "
          f"{len(QUEUED) / (args.warmup + 2 * args.requests):.1f} Celery tasks queued per request")
    print(f"{'call':18} {'statements':>10} {'of which sealing':>17} {'ms p50':>8} {'ms mean':>8}")
    total_q = total_s = 0
    for kind in KINDS:
        rows = timed[kind]
        qs = sorted({q for _ms, q, _s in rows})
        ss = sorted({s for _ms, _q, s in rows})
        total_q += rows[-1][1]
        total_s += rows[-1][2]
        print(f"{kind:18} {'/'.join(map(str, qs)):>10} {'/'.join(map(str, ss)):>17} "
              f"{statistics.median(r[0] for r in rows):8.1f} "
              f"{statistics.fmean(r[0] for r in rows):8.1f}")
    print(f"{'per request':18} {total_q:>10} {total_s:>17}")
    print(f"\ncProfile of another {args.requests} requests:")

    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(args.top)
    print(out.getvalue())
    total = stats.total_tt  # type: ignore[attr-defined]
    shares = defaultdict(float)
    for (file, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if name == "as_sql" and file.endswith("django/db/models/sql/compiler.py"):
            shares["ORM compiling SQL (*Compiler.as_sql)"] += ct
        if name == "execute" and "psycopg" in file and file.endswith("cursor.py"):
            shares["psycopg execute"] += ct
        if name in ("data", "is_valid") and file.endswith("rest_framework/serializers.py"):
            shares[f"DRF Serializer.{name}"] = max(shares[f"DRF Serializer.{name}"], ct)
    for what, ct in shares.items():
        print(f"{what:42} {ct / total * 100:5.1f} % of {total:.2f} s")
    if args.sql:
        kind = next(k for k in KINDS if args.sql in k.split())
        print(f"\n-- {kind}: {len(sqls[kind])} statements")
        for s in sqls[kind]:
            print(s[:400])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
