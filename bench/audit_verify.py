"""Audit figures on PostgreSQL at about 1,000,000 ledger lines: `verify_ledger` time
(ledger chain + balances + history seals) and trace latency (median, p95) for random
report cells, each against a baseline measured in the same run (a plain SUM over all
lines; the running-balance selector for the same cell).

The ledger is built through the real posting service (entry_post) by 4 worker
processes — no rows are inserted by hand, so the chain verifies clean. The audit
after-posting hook is switched off in the workers (this bench times verification and
tracing, not monitoring).

    .venv/bin/python bench/audit_verify.py                 # ~1,000,000 lines
    .venv/bin/python bench/audit_verify.py --lines 200000  # quicker
    .venv/bin/python bench/audit_verify.py --reuse         # skip the build
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from finance import chart

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = "smart_finance_bench_audit"
UNITS = 64
WORKERS = 4


def psql(sql: str, db: str = "postgres") -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql, db], check=True)


def setup_django() -> None:
    os.environ["DATABASE_URL"] = f"{PG}/{DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from finance import ledger

    ledger._after_posting.clear()  # no monitoring while building (see docstring)


def unit_code(i: int) -> str:
    return f"440300{200 + i}"


def prepare() -> tuple[list[str], list[str]]:
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    setup_django()
    from django.core.management import call_command

    from finance import services
    from finance.ids import make_uscc
    from finance.ledger import Dims, cr, dr, entry_post

    call_command("migrate", verbosity=0)
    call_command("import_codes", str(ROOT / "finance/data/codes"), stdout=open(os.devnull, "w"))  # noqa: SIM115
    functions, economics = leaf_codes()
    services.fiscal_year_open(year=2026, user=None)
    mk = services.organization_upsert
    mk(code="440300001", name="财政局", kind="bureau", region_code="440300",
       uscc=make_uscc("440300", 1), user=None, reason="bench")
    mk(code="440300100", name="教育局", kind="department", region_code="440300",
       uscc=make_uscc("440300", 100), parent_code="440300001", user=None, reason="bench")
    import datetime as dt

    for i in range(UNITS):
        mk(code=unit_code(i), name=f"单位{i}", kind="budget_unit", region_code="440300",
           uscc=make_uscc("440300", 200 + i), parent_code="440300100", user=None, reason="bench")
        for f in functions:
            for e in economics:
                d = Dims(region="440300", unit=unit_code(i), function=f, economic=e,
                         fund_source="1")
                entry_post(lines=[dr("indicator", chart.AVAILABLE, Decimal("900000000.00"), d),
                                  cr("indicator", chart.AUTHORITY, Decimal("900000000.00"), d)],
                           description="批复", on=dt.date(2026, 1, 5), kind="approval")
    return functions, economics


def leaf_codes() -> tuple[list[str], list[str]]:
    from finance.models import EconomicCode, FunctionCode

    def leaves(model: type, n: int) -> list[str]:
        return list(model.objects.filter(active=True, children__isnull=True)
                    .order_by("code").values_list("code", flat=True)[:n])

    return leaves(FunctionCode, 5), leaves(EconomicCode, 4)


def worker(worker_id: int, pairs: int, functions: list[str], economics: list[str],
           out: mp.Queue) -> None:
    setup_django()
    import datetime as dt

    from finance.ledger import Dims, cr, dr, entry_post

    rnd = random.Random(worker_id)
    for n in range(pairs):
        d = Dims(region="440300", unit=unit_code((worker_id + WORKERS * rnd.randrange(16)) % UNITS),
                 function=rnd.choice(functions), economic=rnd.choice(economics), fund_source="1")
        amount = Decimal(rnd.randrange(100, 5_000_000)) / 100
        on = dt.date(2026, rnd.randrange(1, 13), rnd.randrange(1, 28))
        entry_post(lines=[dr("indicator", chart.COMMITTED, amount, d), cr("indicator", chart.AVAILABLE, amount, d)],
                   description="支付申请", on=on, kind="commit", tracking_id=f"T{worker_id}-{n}")
        entry_post(lines=[dr("indicator", chart.EXPENDED, amount, d), cr("indicator", chart.COMMITTED, amount, d),
                          dr("budget", chart.ADMINISTRATIVE_EXPENDITURE, amount, d), cr("budget", chart.FISCAL_APPROPRIATION_REVENUE, amount, d),
                          dr("financial", chart.OPERATING_EXPENSE, amount, d), cr("financial", chart.FISCAL_APPROPRIATION_INCOME, amount, d)],
                   description="国库集中支付", on=on, kind="payment", tracking_id=f"T{worker_id}-{n}")
        if n % 5000 == 0 and worker_id == 0:
            print(f"  worker 0: {n}/{pairs} payments", flush=True)
    out.put(pairs)


def build(lines: int) -> tuple[list[str], list[str], float]:
    t0 = time.perf_counter()
    functions, economics = prepare()
    pairs = max(1, lines // 8 // WORKERS)  # a payment is 2 + 6 lines
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(w, pairs, functions, economics, q))
             for w in range(WORKERS)]
    for p in procs:
        p.start()
    for _ in procs:
        q.get()
    for p in procs:
        p.join()
    return functions, economics, time.perf_counter() - t0


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[int(p * (len(s) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--cells", type=int, default=300)
    parser.add_argument("--reuse", action="store_true", help="use the database already built")
    args = parser.parse_args()
    if args.reuse:
        setup_django()
        functions, economics = leaf_codes()
        build_s = 0.0
    else:
        functions, economics, build_s = build(args.lines)
        setup_django()
    from django.db import connection

    from audit import selectors, services
    from finance import selectors as fsel
    from finance.models import Line

    n_lines = Line.objects.count()
    services.history_seal(grace=__import__("datetime").timedelta(0))

    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("SELECT SUM(debit_fen), COUNT(*) FROM finance_line")
        cur.fetchone()
    scan_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = fsel.ledger_verify()
    verify_s = time.perf_counter() - t0

    rnd = random.Random(42)
    measures = ["paid", "committed", "available", "budget_expenditure", "approved"]
    account = {"paid": chart.EXPENDED, "committed": chart.COMMITTED, "available": chart.AVAILABLE,
               "budget_expenditure": chart.ADMINISTRATIVE_EXPENDITURE, "approved": chart.AUTHORITY}
    trace_ms, base_ms, checked = [], [], 0
    for _ in range(args.cells):
        measure = rnd.choice(measures)
        dims = {"unit": unit_code(rnd.randrange(UNITS))}
        shape = rnd.random()
        if shape < 0.4:
            dims["function"] = rnd.choice(functions)
        elif shape < 0.6:
            dims["function"] = rnd.choice(functions)[:3]  # a 类 cell: its sub-codes
        if rnd.random() < 0.3:
            dims["economic"] = rnd.choice(economics)
        period = rnd.choice([None, None, rnd.randrange(1, 13), f"1-{rnd.randrange(1, 13)}"])
        t0 = time.perf_counter()
        tr = selectors.trace(measure=measure, year=2026, period=period, limit=100, **dims)
        trace_ms.append(1000 * (time.perf_counter() - t0))
        t0 = time.perf_counter()
        fsel.balance(account=account[measure], year=2026, unit=dims["unit"],
                     function=dims.get("function") if len(dims.get("function", "")) == 7 else None)
        base_ms.append(1000 * (time.perf_counter() - t0))
        checked += tr.line_count

    print(f"\naudit bench — {time.strftime('%Y-%m-%d')} on {platform.node()} "
          f"({os.cpu_count()} cores), PostgreSQL")
    print(f"ledger: {n_lines:,} lines, {result.entries_checked:,} entries "
          f"(built in {build_s:.0f} s through entry_post, {WORKERS} workers)")
    print(f"verify_ledger: {verify_s:.1f} s ({'OK' if result.ok else result.first_broken}); "
          f"baseline full SUM scan of finance_line: {scan_s:.2f} s; "
          f"{result.checked.get('sealed history rows', 0)} history rows sealed and checked")
    print(f"trace, {args.cells} random cells (limit 100 lines listed): median "
          f"{statistics.median(trace_ms):.1f} ms, p95 {pct(trace_ms, 0.95):.1f} ms, max "
          f"{max(trace_ms):.1f} ms (goal p95 < 100 ms: "
          f"{'met' if pct(trace_ms, 0.95) < 100 else 'NOT met'}); {checked:,} lines behind them")
    print(f"baseline balance() for the same cells: median {statistics.median(base_ms):.1f} ms, "
          f"p95 {pct(base_ms, 0.95):.1f} ms")


if __name__ == "__main__":
    main()
