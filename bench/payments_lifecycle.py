"""Full payment lifecycle per second on PostgreSQL with 8 worker processes:
file + submit (commit) → unit head → treasury reviewer → voucher → bank result file
(payment posted in three books) → camt.053 statement line → reconciled.
Baseline in the same run: the two ledger postings alone (commit + payment entry) with
the same 8 workers — the bound the lifecycle's bookkeeping is measured against.

    .venv/bin/python bench/payments_lifecycle.py --seconds 10
"""
from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from finance import chart

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = "smart_finance_bench_payments"
WORKERS = 8


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql, "postgres"],
                   check=True)


def setup_django() -> None:
    os.environ["DATABASE_URL"] = f"{PG}/{DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def treasury_base() -> tuple:
    """A migrated database with the code lists, year 2026 open, the bureau, the roles'
    groups, a treasury reviewer, the agent bank and plan control off for fund source 1
    (shared by the payments benches). Returns (admin, groups, reviewer, agent bank)."""
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    from finance import services as fin
    from finance.ids import make_uscc
    from payments import services

    call_command("migrate", verbosity=0)
    call_command("import_codes", str(ROOT / "finance/data/codes"), stdout=open(os.devnull, "w"))  # noqa: SIM115
    fin.fiscal_year_open(year=2026, user=None)
    mk = fin.organization_upsert
    mk(code="440300001", name="财政局", kind="bureau", region_code="440300",
       uscc=make_uscc("440300", 1), user=None, reason="bench")
    admin = User.objects.create_user("bench-admin")
    groups = {g: Group.objects.get_or_create(name=g)[0] for g in (
        services.FILER, services.UNIT_HEAD, services.REVIEWER, services.DIRECTOR)}
    reviewer = User.objects.create_user("reviewer")
    reviewer.groups.add(groups[services.REVIEWER])
    icbc = services.bank_upsert(cnaps="102584000002", name="中国工商银行深圳分行", user=admin)
    services.bank_upsert(cnaps="102584002015", name="中国工商银行深圳南山支行", user=admin)
    services.fund_source_plan_control_set(fund_source="1", enabled=False, user=admin,
                                          reason="bench")
    return admin, groups, reviewer, icbc


def unit(i: int) -> str:
    return f"440300{300 + i}"


def dims(i: int):  # noqa: ANN201
    from finance.ledger import Dims

    return Dims(region="440300", unit=unit(i), function="2050203", economic="30201",
                fund_source="1")


def prepare() -> None:
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    setup_django()
    from django.contrib.auth.models import User

    from finance import services as fin
    from finance.ids import make_uscc
    from payments import services

    admin, groups, reviewer, icbc = treasury_base()
    mk = fin.organization_upsert
    for i in range(2 * WORKERS):
        org = mk(code=unit(i), name=f"单位{i}", kind="budget_unit", region_code="440300",
                 uscc=make_uscc("440300", 300 + i), parent_code="440300001", user=None,
                 reason="bench")
        for role in (services.FILER, services.UNIT_HEAD):
            u = User.objects.create_user(f"{role}-{i}")
            u.groups.add(groups[role])
            services.membership_set(member=u, organization=org, user=admin)
        services.agent_account_upsert(number=f"4403010004{i:07d}", name=f"零余额账户{i}",
                                      bank=icbc, user=admin)
        services.payee_save(name=f"收款人{i}", account_number=f"62220202{i:011d}",
                            bank_name="中国工商银行", branch_name="深圳南山支行",
                            cnaps="102584002015", user=admin, reason="bench")
        indicator_approve(dims(i), Decimal("100000000.00"))


def indicator_approve(d: Any, amount: Decimal) -> None:
    """An approved indicator in budgets' register (requests are drafted only on one): an
    increase (调增) of the tuple filed and approved by two budget officers, posting
    Dr 9101 / Cr 9001 on 2026-06-01."""
    from django.contrib.auth.models import User

    from budgets import services as budgets
    from finance import roles
    from finance import services as fin

    officers = []
    for name in ("budget-office-1", "budget-office-2"):
        officer, created = User.objects.get_or_create(username=name)
        if created:
            fin.role_grant(member=officer, role=roles.BUDGET_OFFICE)
        officers.append(officer)
    on = dt.date(2026, 6, 1)
    adjustment = budgets.adjustment_file(kind="increase", year=2026, amount=amount,
                                         batch_no="bench", doc_no="bench", date=on,
                                         reason="批复 bench", target=d, user=officers[0])
    budgets.adjustment_approve(adjustment=adjustment, user=officers[1], on=on)


def actors(i: int) -> dict:
    from django.contrib.auth.models import User

    from payments import services
    from payments.models import AgentAccount, Payee

    return {"i": i, "filer": User.objects.get(username=f"{services.FILER}-{i}"),
            "head": User.objects.get(username=f"{services.UNIT_HEAD}-{i}"),
            "reviewer": User.objects.get(username="reviewer"),
            "agent": AgentAccount.objects.get(number=f"4403010004{i:07d}"),
            "payee": Payee.objects.get(name=f"收款人{i}")}


def one_payment(a: dict, n: int) -> None:
    """submit → approve ×2 → voucher → result file → camt.053 line → reconciled."""
    from django.utils import timezone

    from payments import services
    from tests.payments.statement_files import Booked, camt053

    i, filer, head, reviewer = a["i"], a["filer"], a["head"], a["reviewer"]
    agent, payee = a["agent"], a["payee"]
    amount = Decimal(100 + n) + Decimal("0.25")
    now = timezone.now()
    req = services.payment_request_create(dims=dims(i), year=2026, amount=amount,
                                          payee=payee, purpose="办公费", user=filer)
    req = services.payment_request_submit(request=req, user=filer)
    req = services.payment_request_approve(request=req, user=head)
    req = services.payment_request_approve(request=req, user=reviewer)
    batch = services.voucher_batch_create(agent_account=agent, user=reviewer, requests=[req])
    v = batch.vouchers.get()
    ref = f"B{i:02d}{n:08d}"
    csv = ("支付凭证号,付款账号,付款户名,收款账号,收款户名,收款行,金额,交易状态,银行流水号,"
           f"交易时间,失败原因\r\n{v.number},{agent.number},零余额账户,{payee.account_number},"
           f"{payee.name},工行,\"{amount:,.2f}\",成功,{ref},"
           f"{timezone.localtime(now):%Y-%m-%d %H:%M:%S},\r\n").encode("gbk")
    r1 = services.bank_file_import(content=csv, filename=f"r{ref}.csv", user=reviewer)
    stmt = camt053(agent.number, timezone.localdate(now), [Booked(
        bank_ref=ref, amount=amount, credit=False, end_to_end_id=v.number,
        payee_name=payee.name, payee_account=payee.account_number, info="办公费")])
    r2 = services.bank_file_import(content=stmt, filename=f"s{ref}.xml", user=reviewer)
    # (matched counts every line of the day matched afresh, not only this one)
    assert r1.stored == 1 and r2.stored == 1 and r2.exceptions == 0, (r1, r2)


def lifecycle_worker(w: int, seconds: float, start_at: Any, out: mp.Queue,
                     offset: int) -> None:
    setup_django()
    from payments.models import StatementLine

    a = actors(w + offset)
    lat: list[float] = []
    n = 0
    start_at.wait()  # a barrier: every worker has imported Django and loaded its data
    end = time.time() + seconds
    while time.time() < end:
        t0 = time.perf_counter()
        one_payment(a, n)
        lat.append(time.perf_counter() - t0)
        n += 1
    assert StatementLine.objects.filter(account=a["agent"].number,
                                        voucher__isnull=False).count() == n
    out.put((n, lat))


def count_queries() -> int:
    """Queries of one lifecycle, in this process (a load-independent figure)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    a = actors(2 * WORKERS - 1)
    with CaptureQueriesContext(connection) as ctx:
        one_payment(a, 1)
    return len(ctx.captured_queries)


def posting_worker(w: int, seconds: float, start_at: Any, out: mp.Queue,
                   offset: int) -> None:
    setup_django()
    from finance.ledger import cr, dr, entry_post

    d = dims(w + offset)
    lat: list[float] = []
    n = 0
    start_at.wait()  # a barrier: every worker has imported Django and loaded its data
    end = time.time() + seconds
    a = Decimal("123.45")
    while time.time() < end:
        t0 = time.perf_counter()
        entry_post(lines=[dr("indicator", chart.COMMITTED, a, d), cr("indicator", chart.AVAILABLE, a, d)],
                   description="commit", on=dt.date(2026, 6, 2), kind="commit")
        entry_post(lines=[dr("indicator", chart.EXPENDED, a, d), cr("indicator", chart.COMMITTED, a, d),
                          dr("budget", chart.ADMINISTRATIVE_EXPENDITURE, a, d), cr("budget", chart.FISCAL_APPROPRIATION_REVENUE, a, d),
                          dr("financial", chart.OPERATING_EXPENSE, a, d), cr("financial", chart.FISCAL_APPROPRIATION_INCOME, a, d)],
                   description="pay", on=dt.date(2026, 6, 2), kind="payment")
        lat.append(time.perf_counter() - t0)
        n += 1
    out.put((n, lat))


def run(target, seconds: float, offset: int) -> dict:  # noqa: ANN001
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()
    start_at = ctx.Barrier(WORKERS)
    procs = [ctx.Process(target=target, args=(w, seconds, start_at, q, offset))
             for w in range(WORKERS)]
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode:
            raise SystemExit(f"worker failed with {p.exitcode}")
    lat = sorted(x for r in results for x in r[1])
    total = sum(r[0] for r in results)
    return {"n": total, "rate": total / seconds, "p50": 1000 * statistics.median(lat),
            "p95": 1000 * lat[int(0.95 * (len(lat) - 1))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    prepare()
    queries = count_queries()
    life = run(lifecycle_worker, args.seconds, 0)
    base = run(posting_worker, args.seconds, WORKERS)
    from finance.selectors import ledger_verify

    check = ledger_verify()
    print(f"\npayments lifecycle bench — {time.strftime('%Y-%m-%d')} on {platform.node()} "
          f"({os.cpu_count()} cores), PostgreSQL, {WORKERS} workers, {args.seconds:.0f}s each")
    print(f"{'what':<44} {'count':>7} {'per s':>8} {'p50 ms':>8} {'p95 ms':>8}")
    print(f"{'lifecycle (submit → … → reconciled)':<44} {life['n']:>7} {life['rate']:>8.1f} "
          f"{life['p50']:>8.1f} {life['p95']:>8.1f}")
    print(f"{'baseline: commit + payment postings only':<44} {base['n']:>7} {base['rate']:>8.1f} "
          f"{base['p50']:>8.1f} {base['p95']:>8.1f}")
    print(f"queries per lifecycle (one process): {queries}")
    print(f"lifecycle / posting baseline: {life['rate'] / base['rate']:.3f}")
    print(f"verify_ledger after the run: {'OK' if check.ok else check.first_broken} "
          f"({check.entries_checked} entries)")


if __name__ == "__main__":
    main()
