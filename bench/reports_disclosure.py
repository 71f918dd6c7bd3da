"""Disclosure for 3,000 budget units over ~1,000,000 ledger lines on PostgreSQL, beside
the bound: ONE SQL GROUP BY computing the same sums.

Ledger lines are bulk-loaded with SQL COPY (not entry_post: posting a million lines
through the service is bench/posting.py's subject). The loaded entries have the shapes
of the posting service — approvals (Dr 9101 / Cr 9001) and treasury payments (control
book, budget and financial accounting lines) — but no hash chain or running balances,
which the report reads never use.

Prints: load time; the GROUP BY (the bound); disclosure figures (facts + 8 budget and
9 final tables for every department + cross-table checks) with peak Python memory;
ratio to the bound; and file rendering (xlsx + pdf + csv) for a sample of departments.

    .venv/bin/python bench/reports_disclosure.py [--lines 1000000] [--units 3000]
"""
from __future__ import annotations

import argparse
import io
import os
import random
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

from finance import chart

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = "sf_reports_bench"
YEAR = 2026
FUNCTIONS = ["2010101", "2010301", "2050101", "2050202", "2050203", "2100201", "2120399",
             "2140104", "2080505", "2210201"]
ECONOMICS = ["30101", "30102", "30201", "30211", "30217", "30231", "30299", "31002",
             "30108", "30113"]


def psql(sql: str, db: str = "postgres") -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql, db], check=True)


def setup_django() -> None:
    os.environ["DATABASE_URL"] = f"{PG}/{DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def prepare(units: int, target_lines: int, seed: int = 7) -> float:
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    from finance import services
    from finance.ids import make_uscc
    from finance.models import (
        Account,
        EconomicCode,
        FunctionCode,
        FundSource,
        Organization,
        Region,
    )

    call_command("migrate", verbosity=0)
    call_command("import_codes", str(ROOT / "finance/data/codes"), stdout=io.StringIO())
    services.fiscal_year_open(year=YEAR, user=None)
    t0 = time.perf_counter()
    region = Region.objects.get(code="440300")
    # master data in bulk (the bench is about report reads, not organization_upsert)
    Organization.objects.bulk_create([Organization(code="440300001", name="财政局", kind="bureau",
                                                   region=region, uscc=make_uscc("440300", 1))])
    bureau = Organization.objects.get(code="440300001")
    n_depts = units // 10
    Organization.objects.bulk_create([
        Organization(code=f"44031{d:04d}", name=f"部门{d}", kind="department", region=region,
                     parent=bureau, uscc=make_uscc("440300", 10_000 + d)) for d in range(n_depts)])
    depts = {o.code: o.pk for o in Organization.objects.filter(kind="department")}
    Organization.objects.bulk_create([
        Organization(code=f"44031{u // 10:04d}{u % 10:02d}", name=f"单位{u}", kind="budget_unit",
                     region=region, parent_id=depts[f"44031{u // 10:04d}"],
                     uscc=make_uscc("440300", 100_000 + u)) for u in range(units)])
    unit_ids = list(Organization.objects.filter(kind="budget_unit").values_list("id", flat=True))
    acc = dict(Account.objects.values_list("code", "id"))
    fn = dict(FunctionCode.objects.filter(code__in=FUNCTIONS).values_list("code", "id"))
    ec = dict(EconomicCode.objects.filter(code__in=ECONOMICS).values_list("code", "id"))
    fs = dict(FundSource.objects.values_list("code", "id"))
    rnd = random.Random(seed)
    entries, lines = io.StringIO(), io.StringIO()
    number, line_id, n_lines = 0, 0, 0

    def entry(kind: str, month: int) -> int:
        nonlocal number
        number += 1
        entries.write(f"{number}\t{YEAR}\t{number}\t{YEAR}-{month:02d}-15\t{month}\tbench\t{kind}"
                      f"\t\t\\N\t\tx\tx\tx\t2026-{month:02d}-15 10:00:00+08\n")
        return number

    def line(eid: int, seq: int, book: str, account: str, dims: tuple, d: int, c: int) -> None:
        nonlocal line_id, n_lines
        line_id += 1
        n_lines += 1
        unit, f, e, fund, project = dims
        lines.write(f"{line_id}\t{eid}\t{seq}\t{book}\t{acc[account]}\t{YEAR}\t{region.pk}\t"
                    f"{unit}\t{f}\t{e}\t{fund}\t{project}\t{d}\t{c}\n")

    tuples = []
    for u in unit_ids:
        for k in range(4):
            fund = fs["2"] if k == 3 and rnd.random() < 0.3 else fs["1"]
            project = f"P{u}-{k}" if k >= 2 else ""
            tuples.append((u, fn[rnd.choice(FUNCTIONS)], ec[ECONOMICS[(u + k) % 10]], fund,
                           project))
    for t in tuples:
        eid = entry("approval", 1)
        line(eid, 1, "indicator", chart.AVAILABLE, t, 1_000_000_000, 0)
        line(eid, 2, "indicator", chart.AUTHORITY, t, 0, 1_000_000_000)
    while n_lines < target_lines:
        t = rnd.choice(tuples)
        month = rnd.randint(1, 12)
        amount = rnd.randint(100, 5_000_000)
        eid = entry("commitment", month)
        line(eid, 1, "indicator", chart.COMMITTED, t, amount, 0)
        line(eid, 2, "indicator", chart.AVAILABLE, t, 0, amount)
        eid = entry("payment", month)
        for seq, (book, a, d, c) in enumerate([
                ("indicator", chart.EXPENDED, amount, 0), ("indicator", chart.COMMITTED, 0, amount),
                ("budget", chart.ADMINISTRATIVE_EXPENDITURE, amount, 0), ("budget", chart.FISCAL_APPROPRIATION_REVENUE, 0, amount),
                ("financial", chart.OPERATING_EXPENSE, amount, 0), ("financial", chart.FISCAL_APPROPRIATION_INCOME, 0, amount)], start=1):
            line(eid, seq, book, a, t, d, c)
    with connection.cursor() as cur:
        raw = cur.connection
        with raw.cursor().copy(
                "COPY finance_entry (id, fiscal_year, number, date, month, description, kind, "
                "source_id, source_type_id, tracking_id, content_hash, prev_hash, hash, posted_at) "
                "FROM STDIN") as cp:
            cp.write(entries.getvalue())
        with raw.cursor().copy(
                "COPY finance_line (id, entry_id, seq, book, account_id, year, region_id, "
                "unit_id, function_id, economic_id, fund_source_id, project_code, debit_fen, "
                "credit_fen) FROM STDIN") as cp:
            cp.write(lines.getvalue())
        cur.execute("SELECT setval('finance_entry_id_seq', %s)", [number])
        cur.execute("SELECT setval('finance_line_id_seq', %s)", [line_id])
        cur.execute("ANALYZE finance_line; ANALYZE finance_entry")
    print(f"loaded {n_lines:,} lines in {number:,} entries for {units:,} units "
          f"({n_depts} departments) by COPY in {time.perf_counter() - t0:.1f} s")
    return time.perf_counter() - t0


BOUND_SQL = """
SELECT l.account_id, e.kind, l.unit_id, l.function_id, l.economic_id, l.fund_source_id,
       (l.project_code = '') AS basic, SUM(l.debit_fen), SUM(l.credit_fen)
FROM finance_line l JOIN finance_entry e ON e.id = l.entry_id
WHERE l.year = %s
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""


def bound() -> tuple[float, int]:
    from django.db import connection

    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(BOUND_SQL, [YEAR])
        rows = cur.fetchall()
    return time.perf_counter() - t0, len(rows)


def disclosure_figures(trace_memory: bool = False) -> tuple[float, int, int, int]:
    """Timed without tracemalloc (it slows Python several-fold); memory in its own run."""
    from reports.checks import tables_check
    from reports.tables import budget_tables, department_fact_sets, final_tables

    if trace_memory:
        tracemalloc.start()
    t0 = time.perf_counter()
    sets = department_fact_sets(year=YEAR)
    n_figures, failures = 0, 0
    for fs in sets.values():
        ts = budget_tables(fs) + final_tables(fs)
        failures += len(tables_check(ts))
        n_figures += sum(1 for t in ts for _ in t.figures())
    elapsed = time.perf_counter() - t0
    peak = 0
    if trace_memory:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return elapsed, peak, n_figures, failures


def render_sample(n: int) -> float:
    from reports.selectors import MasterData
    from reports.services import _titled, disclosure_files
    from reports.tables import department_fact_sets

    master = MasterData.load()
    sets = department_fact_sets(year=YEAR, master=master)
    sample = list(sets)[:n]
    t0 = time.perf_counter()
    for d in sample:
        for kind in ("budget", "final"):
            disclosure_files(tables=_titled(sets[d], kind, d, YEAR), department=d, name=d,
                             year=YEAR, kind=kind)
    return (time.perf_counter() - t0) / len(sample)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--units", type=int, default=3000)
    parser.add_argument("--render-sample", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="skip loading (DB exists)")
    args = parser.parse_args()
    if args.reuse:
        setup_django()
    else:
        prepare(args.units, args.lines)
    bound()  # warm the cache the same way for both
    b_time, b_rows = min(bound() for _ in range(3))
    print(f"bound: one SQL GROUP BY over the year's lines: {b_time:.2f} s ({b_rows:,} groups)")
    runs = [disclosure_figures() for _ in range(3)]
    d_time, _, n_figures, failures = min(runs)
    peak = disclosure_figures(trace_memory=True)[1]
    print(f"disclosure figures (facts GROUP BY + pandas + 17 tables per department + "
          f"cross-table checks): {d_time:.2f} s (best of 3), {n_figures:,} figures, {failures} "
          f"check failures; peak Python memory (tracemalloc run) {peak / 2**20:.0f} MiB, "
          f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"ratio to the bound: {d_time / b_time:.2f}x (goal <= 3x)")
    per = render_sample(args.render_sample)
    n_depts = args.units // 10
    print(f"file rendering (xlsx + pdf + 17 csv + datapackage, both sets) per department: "
          f"{per:.2f} s -> about {per * n_depts:.0f} s for {n_depts} departments in one "
          f"process (embarrassingly parallel)")


if __name__ == "__main__":
    main()
