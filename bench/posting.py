"""Posting throughput on PostgreSQL with 1, 4 and 8 worker processes, against pgbench
tpcb-like with 8 clients on the same server in the same run.

Each payment posts two payment-shaped entries through the real posting service: the
commitment (Dr committed / Cr available) and the payment (control book, budget
accounting and financial accounting lines). Prints entries/s, latency and the ratio.

    make bench            # or: .venv/bin/python bench/posting.py --seconds 10
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import re
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
DB = "smart_finance_bench"
UNITS = 64


def psql(sql: str, db: str = "postgres") -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql, db], check=True)


def setup_django() -> None:
    os.environ["DATABASE_URL"] = f"{PG}/{DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def prepare() -> None:
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    setup_django()
    from django.core.management import call_command

    from finance import services
    from finance.ids import make_uscc
    from finance.ledger import cr, dr, entry_post

    call_command("migrate", verbosity=0)
    call_command("import_codes", str(ROOT / "finance/data/codes"), stdout=open(os.devnull, "w"))  # noqa: SIM115
    services.fiscal_year_open(year=2026, user=None)
    mk = services.organization_upsert
    mk(code="440300001", name="财政局", kind="bureau", region_code="440300",
       uscc=make_uscc("440300", 1), user=None, reason="bench")
    mk(code="440300100", name="教育局", kind="department", region_code="440300",
       uscc=make_uscc("440300", 100), parent_code="440300001", user=None, reason="bench")
    for i in range(UNITS):
        code = f"440300{200 + i}"
        mk(code=code, name=f"单位{i}", kind="budget_unit", region_code="440300",
           uscc=make_uscc("440300", 200 + i), parent_code="440300100", user=None, reason="bench")
        d = _dims(i)
        entry_post(lines=[dr("indicator", chart.AVAILABLE, Decimal("100000000.00"), d),
                          cr("indicator", chart.AUTHORITY, Decimal("100000000.00"), d)],
                   description="批复", on=_on(), as_of=_as_of(), kind="approval")


def _on():
    import datetime as dt

    return dt.date(2026, 6, 1)


def _as_of():
    """Postings inside office hours on a weekday, as in production: audit's monitoring
    hook runs after every posting (in process when Celery is eager) and would raise an
    'outside working hours' alert for each posting of an evening bench run."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    return dt.datetime(2026, 6, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _dims(i: int):
    from finance.ledger import Dims

    return Dims(region="440300", unit=f"440300{200 + i}", function="2050203", economic="30201",
                fund_source="1")


def worker(worker_id: int, seconds: float, start_at: float, out: mp.Queue, hooks: bool) -> None:
    setup_django()
    from finance import ledger
    from finance.ledger import cr, dr, entry_post

    if not hooks:  # measure the posting service alone (monitoring runs on Celery workers)
        ledger._after_posting.clear()

    import random

    rng = random.Random(f"{seconds}:{start_at}:{worker_id}")  # noqa: S311 - bench data
    latencies: list[float] = []
    n = 0
    while time.time() < start_at:
        time.sleep(0.001)
    end = start_at + seconds
    i = worker_id
    while time.time() < end:
        d = _dims(i % UNITS)
        i += 7
        # distinct amounts: identical ones would (rightly) raise duplicate-payment alerts
        amount = Decimal(rng.randrange(10_000, 5_000_000)) / 100
        t0 = time.perf_counter()
        entry_post(lines=[dr("indicator", chart.COMMITTED, amount, d), cr("indicator", chart.AVAILABLE, amount, d)],
                   description="支付申请", on=_on(), as_of=_as_of(), kind="commit")
        t1 = time.perf_counter()
        entry_post(lines=[dr("indicator", chart.EXPENDED, amount, d), cr("indicator", chart.COMMITTED, amount, d),
                          dr("budget", chart.ADMINISTRATIVE_EXPENDITURE, amount, d), cr("budget", chart.FISCAL_APPROPRIATION_REVENUE, amount, d),
                          dr("financial", chart.OPERATING_EXPENSE, amount, d), cr("financial", chart.FISCAL_APPROPRIATION_INCOME, amount, d)],
                   description="国库集中支付", on=_on(), as_of=_as_of(),
                   kind="payment")
        t2 = time.perf_counter()
        latencies += [t1 - t0, t2 - t1]
        n += 2
    out.put((n, latencies))


def run_posting(workers: int, seconds: float, hooks: bool = False) -> dict:
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()
    start_at = time.time() + 4.0  # let every process import Django first
    procs = [ctx.Process(target=worker, args=(w, seconds, start_at, q, hooks)) for w in range(workers)]
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    total = sum(r[0] for r in results)
    lat = sorted(x for r in results for x in r[1])
    return {
        "workers": workers, "hooks": hooks, "entries": total, "eps": total / seconds,
        "p50_ms": 1000 * statistics.median(lat),
        "p95_ms": 1000 * lat[int(0.95 * (len(lat) - 1))],
    }


def run_pgbench(seconds: float, clients: int = 8) -> float:
    db = "smart_finance_pgbench"
    psql(f"DROP DATABASE IF EXISTS {db}")
    psql(f"CREATE DATABASE {db}")
    subprocess.run(["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-i", "-s", "1", "-q", db],
                   check=True, capture_output=True)
    res = subprocess.run(["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-b", "tpcb-like",
                          "-c", str(clients), "-j", "2", "-T", str(int(seconds)), db],
                         check=True, capture_output=True, text=True)
    psql(f"DROP DATABASE IF EXISTS {db}")
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", res.stdout)
    if not m:
        raise RuntimeError(f"could not read pgbench output:\n{res.stdout}")
    return float(m.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", default="1,4,8")
    args = parser.parse_args()
    prepare()
    rows = [run_posting(int(w), args.seconds) for w in args.workers.split(",")]
    # the same with audit's after-posting monitoring run inline, as with eager Celery
    rows.append(run_posting(8, args.seconds, hooks=True))
    tps = run_pgbench(args.seconds)
    from finance.selectors import ledger_verify

    check = ledger_verify()
    print(f"\nposting bench — {time.strftime('%Y-%m-%d')} on {platform.node()} "
          f"({os.cpu_count()} cores), PostgreSQL, {args.seconds:.0f}s per run")
    print(f"{'workers':>7} {'monitoring':>10} {'entries':>8} {'entries/s':>10} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'ratio to pgbench':>17}")
    for r in rows:
        mon = "inline" if r["hooks"] else "off"
        print(f"{r['workers']:>7} {mon:>10} {r['entries']:>8} {r['eps']:>10.1f} {r['p50_ms']:>7.1f} "
              f"{r['p95_ms']:>7.1f} {r['eps'] / tps:>17.3f}")
    print(f"pgbench tpcb-like, 8 clients, scale 1: {tps:.1f} TPS")
    eight = next((r for r in rows if r["workers"] == 8 and not r["hooks"]), rows[0])
    ratio = eight["eps"] / tps
    print(f"ratio at {eight['workers']} workers: {ratio:.3f} (goal >= 0.25: "
          f"{'met' if ratio >= 0.25 else 'NOT met'})")
    from audit.models import Alert

    print(f"monitoring alerts raised during the run: {Alert.objects.count()}")
    print(f"verify_ledger after the run: {'OK' if check.ok else check.first_broken} "
          f"({check.entries_checked} entries)")


if __name__ == "__main__":
    main()
