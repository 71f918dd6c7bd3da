"""Reads of reports and the public portal go to a REAL streaming replica; writes to the
primary. Needs a hot standby of the primary (see docs/PERFORMANCE.md, "Read replica
trial") and a database on the primary that already holds a city-year, e.g.

    .venv/bin/python bench/replica_reads.py --db smart_finance_bench_city \\
        --primary postgres://postgres@127.0.0.1:5432 --replica postgres://postgres@127.0.0.1:5433

What it shows, each from the servers' own counters, not from the router's word:
1. the two connections are different servers: `pg_is_in_recovery()` is false on
   'default' and true on 'replica';
2. an execution report and the disclosure figures computed inside `replica_reads()` run
   their statements on 'replica' (none on 'default'), and the standby's
   pg_stat_database.tup_returned for the database rises while the primary's does not
   rise by as much;
3. GET /reports/public/ (the public portal, through ReplicaReadsMiddleware) reads from
   'replica'; a GET of a non-report page reads from 'default';
4. a write made inside `replica_reads()` still succeeds (a standby refuses every write),
   lands on the primary, and appears on the standby after the replication delay.
Exit status 1 if any of these does not hold."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="smart_finance_bench_city")
    parser.add_argument("--primary", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--replica", default="postgres://postgres@127.0.0.1:5433")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = f"{args.primary}/{args.db}"
    os.environ["DATABASE_REPLICA_URL"] = f"{args.replica}/{args.db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.sessions.models import Session
    from django.db import connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from config.routers import replica_reads
    from finance.models import Line
    from reports import selectors as report_selectors
    from reports import tables as report_tables

    failures: list[str] = []

    def check(ok: bool, text: str) -> None:
        print(f"{'ok  ' if ok else 'FAIL'} {text}")
        if not ok:
            failures.append(text)

    def one(alias: str, sql: str) -> object:
        with connections[alias].cursor() as c:
            c.execute(sql)
            return c.fetchone()[0]

    def returned(alias: str) -> int:
        """The server's counter, read by a separate psql process after Django's connections
        are closed (a backend flushes its statistics when it exits)."""
        connections.close_all()
        time.sleep(0.5)
        sd = connections[alias].settings_dict
        out = subprocess.run(["psql", "-h", sd["HOST"], "-p", str(sd["PORT"]), "-U", sd["USER"],
                              "-Atc", "SELECT tup_returned FROM pg_stat_database WHERE "
                              f"datname = '{sd['NAME']}'", "postgres"],
                             capture_output=True, text=True, check=True)
        return int(out.stdout.strip())

    check(one("default", "SELECT pg_is_in_recovery()") is False
          and one("replica", "SELECT pg_is_in_recovery()") is True,
          "'default' is the primary, 'replica' is a hot standby "
          f"(replica port {connections['replica'].settings_dict['PORT']})")
    year = Line.objects.order_by("-year").values_list("year", flat=True).first()
    check(year is not None, f"the database holds a fiscal year ({year})")
    if year is None:
        sys.exit(1)

    before = {a: returned(a) for a in ("default", "replica")}
    with CaptureQueriesContext(connections["default"]) as on_default, \
            CaptureQueriesContext(connections["replica"]) as on_replica, replica_reads():
        t0 = time.perf_counter()
        report = report_selectors.execution_report(year=year, group_by=("department",))
        fs = report_tables.fact_set(year=year, scope=report_selectors.Scope())
        report_tables.statement_tables(fs)
        took = time.perf_counter() - t0
    after = {a: returned(a) for a in ("default", "replica")}
    for q in on_default:
        print("     on default:", q["sql"][:160])
    check(len(on_replica) > 0 and len(on_default) == 0,
          f"execution report + final-account statements ({len(report.rows)} rows, "
          f"{took:.2f} s): {len(on_replica)} statements on 'replica', {len(on_default)} on "
          "'default'")
    grew = {a: after[a] - before[a] for a in after}
    check(grew["replica"] > grew["default"],
          f"pg_stat_database.tup_returned rose by {grew['replica']:,} on the standby and "
          f"{grew['default']:,} on the primary")

    client = Client()
    with CaptureQueriesContext(connections["default"]) as on_default, \
            CaptureQueriesContext(connections["replica"]) as on_replica:
        response = client.get("/reports/public/")
    check(response.status_code == 200 and len(on_replica) > 0
          and not any("disclosureset" in q["sql"] for q in on_default),
          f"GET /reports/public/ → {response.status_code}: {len(on_replica)} statements on "
          f"'replica', the disclosure sets read there (default: {len(on_default)} statements, "
          "session/auth only)")
    with CaptureQueriesContext(connections["default"]) as on_default, \
            CaptureQueriesContext(connections["replica"]) as on_replica:
        client.get("/accounts/login/")
    check(len(on_replica) == 0, f"GET /accounts/login/: {len(on_replica)} statements on "
                                "'replica'")

    marker = f"replicatrial{time.time_ns()}"[:40]  # a session row: not business data
    with replica_reads():
        Session.objects.create(session_key=marker, session_data="",
                               expire_date=timezone.now() + dt.timedelta(minutes=5))
    check(Session.objects.using("default").filter(session_key=marker).exists(),
          "a write inside replica_reads() succeeded and is on the primary")
    seen, t0 = False, time.perf_counter()
    while time.perf_counter() - t0 < 10 and not seen:
        seen = Session.objects.using("replica").filter(session_key=marker).exists()
        if not seen:
            time.sleep(0.02)
    check(seen, f"the write appeared on the standby after {time.perf_counter() - t0:.2f} s")
    Session.objects.filter(session_key=marker).delete()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
