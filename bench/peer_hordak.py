"""The peer: django-hordak (a well-kept double-entry library for Django) doing the same
payment-shaped work as our posting service, beside pgbench and our own ledger, in one run
on the same PostgreSQL.

One payment here is what bench/posting.py does per payment: two database transactions
with eight lines in all —
  * the commitment: one hordak transfer (2 legs) in its own transaction;
  * the payment: three hordak transfers (6 legs) in one transaction.
Hordak checks that each transaction balances (a deferred trigger); it has no budget
control: nothing stops an account going below zero, no gap-free numbering, no chain.
Ours does all three, so the comparison is the cost of those guarantees.

The peer runs in its own virtualenv (var/bench-hordak, created on first use from the
package registry: django-hordak 2.0.0, Django 5.2, psycopg), never in the project's.

    .venv/bin/python bench/peer_hordak.py --seconds 10        # make bench
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import re
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEER_VENV = ROOT / "var" / "bench-hordak"
PEER_PY = PEER_VENV / "bin" / "python"
PEER_REQS = ["django-hordak==2.0.0", "Django>=5.2,<5.3", "psycopg[binary]>=3.1"]
PG_HOST, PG_USER = "127.0.0.1", "postgres"
DB = "smart_finance_bench_hordak"
UNITS = 64


def psql(sql: str, db: str = "postgres") -> None:
    subprocess.run(["psql", "-h", PG_HOST, "-U", PG_USER, "-qc", sql, db], check=True,
                   capture_output=True)


# ---------------------------------------------------------------- inside the peer's venv
def peer_setup() -> None:
    import django
    from django.conf import settings

    settings.configure(
        DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", "NAME": DB,
                               "HOST": PG_HOST, "USER": PG_USER}},
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "mptt",
                        "djmoney", "hordak"],
        USE_TZ=True, TIME_ZONE="Asia/Shanghai",
        DEFAULT_CURRENCY="CNY", HORDAK_CURRENCIES=["CNY"], CURRENCIES=["CNY"],
        HORDAK_MAX_DIGITS=16, DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()


def peer_prepare() -> None:
    peer_setup()
    from django.core.management import call_command
    from hordak.models import Account
    from moneyed import Money

    call_command("migrate", verbosity=0)
    T = Account.TYPES
    # the same accounts per unit as our bench: indicator available/committed/expended
    # (the control book), budget expenditure/revenue, financial expense/income
    roots = {name: Account.objects.create(name=name, type=typ, currencies=["CNY"])
             for name, typ in (("authority", T.equity), ("available", T.asset),
                               ("committed", T.asset), ("expended", T.expense),
                               ("budget_exp", T.expense), ("budget_rev", T.income),
                               ("fin_exp", T.expense), ("fin_inc", T.income))}
    for i in range(UNITS):
        acc = {name: Account.objects.create(name=f"{name}-{i}", parent=root,
                                            currencies=["CNY"])
               for name, root in roots.items()}
        # 批复: the indicator's authority made available
        acc["authority"].transfer_to(acc["available"], Money(Decimal("100000000.00"), "CNY"))


def peer_worker(worker_id: int, seconds: float, start_at: float, out: mp.Queue) -> None:
    import random

    peer_setup()
    from django.db import transaction
    from hordak.models import Account
    from moneyed import Money

    accounts = {a.name: a for a in Account.objects.filter(parent__isnull=False)}
    rng = random.Random(f"{seconds}:{start_at}:{worker_id}")  # noqa: S311 - bench data
    while time.time() < start_at:
        time.sleep(0.001)
    end, i, payments = start_at + seconds, worker_id, 0
    while time.time() < end:
        u = i % UNITS
        i += 7
        a = {k: accounts[f"{k}-{u}"] for k in ("available", "committed", "expended",
                                               "budget_exp", "budget_rev", "fin_exp",
                                               "fin_inc")}
        amount = Money(Decimal(rng.randrange(10_000, 5_000_000)) / 100, "CNY")
        with transaction.atomic():  # the commitment
            a["available"].transfer_to(a["committed"], amount, description="支付申请")
        with transaction.atomic():  # the payment: three transfers, six legs
            a["committed"].transfer_to(a["expended"], amount, description="国库集中支付")
            a["budget_rev"].transfer_to(a["budget_exp"], amount, description="国库集中支付")
            a["fin_inc"].transfer_to(a["fin_exp"], amount, description="国库集中支付")
        payments += 1
    out.put(payments)


def peer_run(workers: int, seconds: float) -> dict:
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()
    start_at = time.time() + 3.0
    procs = [ctx.Process(target=peer_worker, args=(w, seconds, start_at, q))
             for w in range(workers)]
    for p in procs:
        p.start()
    payments = sum(q.get() for _ in procs)
    for p in procs:
        p.join()
    return {"workers": workers, "payments": payments, "pps": payments / seconds}


def peer_main(seconds: float, workers: list[int]) -> None:
    peer_prepare()
    print(json.dumps([peer_run(w, seconds) for w in workers]))


# ------------------------------------------------------------------- the project's side
def ensure_peer_venv() -> None:
    if PEER_PY.exists():
        return
    PEER_VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    subprocess.run([str(PEER_PY), "-m", "pip", "install", "-q", *PEER_REQS], check=True)


def run_pgbench(seconds: float, clients: int = 8) -> float:
    db = "smart_finance_pgbench_peer"
    psql(f"DROP DATABASE IF EXISTS {db}")
    psql(f"CREATE DATABASE {db}")
    subprocess.run(["pgbench", "-h", PG_HOST, "-U", PG_USER, "-i", "-s", "1", "-q", db],
                   check=True, capture_output=True)
    res = subprocess.run(["pgbench", "-h", PG_HOST, "-U", PG_USER, "-b", "tpcb-like",
                          "-c", str(clients), "-j", "2", "-T", str(int(seconds)), db],
                         check=True, capture_output=True, text=True)
    psql(f"DROP DATABASE IF EXISTS {db}")
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", res.stdout)
    if not m:
        raise RuntimeError(f"could not read pgbench output:\n{res.stdout}")
    return float(m.group(1))


def ours(seconds: float, workers: list[int]) -> dict[int, float]:
    """Our posting service's payments/s per worker count, from bench/posting.py's table
    (entries/s without inline monitoring; two entries per payment)."""
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "posting.py"), "--seconds",
                          str(seconds), "--workers", ",".join(map(str, workers)),
                          "--chain-rounds", "0", "--batch", ""],
                         check=True, capture_output=True, text=True, cwd=ROOT)
    rates = {}
    for line in res.stdout.splitlines():
        m = re.match(r"\s*(\d+)\s+off\s+entry_post, one by one\s+\d+\s+([0-9.]+)\s", line)
        if m:
            rates[int(m.group(1))] = float(m.group(2)) / 2
    if set(rates) != set(workers):
        raise RuntimeError(f"could not read bench/posting.py's table:\n{res.stdout}")
    return rates


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", default="1,4,8")
    parser.add_argument("--peer-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    if args.peer_only:
        peer_main(args.seconds, workers)
        return
    ensure_peer_venv()
    load_before = load()
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    try:
        res = subprocess.run([str(PEER_PY), __file__, "--peer-only", "--seconds",
                              str(args.seconds), "--workers", args.workers],
                             check=True, capture_output=True, text=True)
    finally:
        psql(f"DROP DATABASE IF EXISTS {DB}")
    peer = {r["workers"]: r["pps"] for r in json.loads(res.stdout.strip().splitlines()[-1])}
    mine = ours(args.seconds, workers)
    tps = run_pgbench(args.seconds)
    print(f"\npeer bench — {time.strftime('%Y-%m-%d %H:%M')} on {platform.node()} "
          f"({os.cpu_count()} cores), PostgreSQL, {args.seconds:.0f}s per run, "
          f"load {load_before} → {load()}")
    print("one payment = a commitment and a payment: 2 transactions, 8 lines")
    print(f"{'workers':>7} {'ours pay/s':>11} {'hordak pay/s':>13} {'ours/hordak':>12}")
    for w in workers:
        print(f"{w:>7} {mine[w]:>11.1f} {peer[w]:>13.1f} {mine[w] / peer[w]:>12.2f}")
    top = max(workers)
    print(f"pgbench tpcb-like, 8 clients, scale 1: {tps:.1f} TPS; "
          f"ours at {top} workers {2 * mine[top] / tps:.3f} × pgbench in entries, "
          f"hordak {2 * peer[top] / tps:.3f} × in transactions")
    ratio = mine[top] / peer[top]
    print(f"ours / peer at {top} workers: {ratio:.2f} (goal >= 2: "
          f"{'met' if ratio >= 2 else 'NOT met'}); the peer checks balance only, ours "
          f"also refuses overspending, numbers gap-free and chains every entry")


if __name__ == "__main__":
    main()
