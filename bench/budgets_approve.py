"""Budget approval (批复) throughput on PostgreSQL: approve plans for N units × 30 lines
through the real service (budgets.services.plan_approve: one entry per unit, Dr 9101 /
Cr 9001 per line, indicator register, history and workflow step), beside a COPY of the
same ledger line rows into a scratch table as the bound.

    .venv/bin/python bench/budgets_approve.py              # 3,000 units × 30 lines
    .venv/bin/python bench/budgets_approve.py --units 300  # a quicker run

Set-up (units, library projects, plans at 二上 reviewed with their lines) is written in
bulk and is not measured; only the approvals and the COPY are timed.
"""
from __future__ import annotations

import argparse
import io
import os
import platform
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from finance import chart

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = "smart_finance_bench_budgets"
LINES = 30


def psql(sql: str, db: str = "postgres") -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql, db], check=True)


def setup_django() -> None:
    os.environ["DATABASE_URL"] = f"{PG}/{DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def prepare(units: int) -> None:
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    setup_django()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from budgets.models import BudgetPlan, ControlNumber, PlanLine, Project
    from budgets.validation import leaf_codes
    from finance import roles, services
    from finance.ids import make_uscc
    from finance.models import EconomicCode, FunctionCode, FundSource, Organization, Region

    call_command("migrate", verbosity=0)
    call_command("import_codes", str(ROOT / "finance/data/codes"), stdout=open(os.devnull, "w"))  # noqa: SIM115
    services.fiscal_year_open(year=2026, user=None)
    users = get_user_model().objects
    filer = users.create_user(username="filer")
    services.role_grant(member=users.create_user(username="approver"),  # 预算处 approves
                        role=roles.BUDGET_OFFICE)
    mk = services.organization_upsert
    mk(code="440300001", name="财政局", kind="bureau", region_code="440300",
       uscc=make_uscc("440300", 1), user=None, reason="bench")
    regions = list(Region.objects.order_by("code"))
    depts = []
    for i in range(30):  # 30 departments, ~100 units each, spread over the city and districts
        region = regions[i % len(regions)]
        depts.append(mk(code=f"{region.code}9{i:03d}", name=f"部门{i}", kind="department",
                         region_code=region.code, uscc=make_uscc(region.code, 900000 + i),
                         parent_code="440300001", user=None, reason="bench"))
    Organization.objects.bulk_create([
        Organization(code=f"{depts[i % 30].region.code}{100000 + i}", name=f"预算单位{i}",
                     kind="budget_unit", parent=depts[i % 30], region=depts[i % 30].region,
                     uscc=make_uscc(depts[i % 30].region.code, i + 1000))
        for i in range(units)
    ])
    unit_rows = list(Organization.objects.filter(kind="budget_unit").order_by("id"))
    Project.objects.bulk_create([
        Project(code=f"P{u.code}", name=f"项目{u.code}", unit=u, category="personnel",
                total_amount=Decimal("1000000.00"), status="in_library") for u in unit_rows])
    projects = dict(Project.objects.values_list("unit_id", "id"))
    BudgetPlan.objects.bulk_create([
        BudgetPlan(unit=u, year=2026, status="second_reviewed", filed_by=filer) for u in unit_rows])
    plans = list(BudgetPlan.objects.order_by("id").values_list("id", "unit_id"))
    economics = leaf_codes("economic")
    functions = [c for c in leaf_codes("function") if c.startswith("205")]
    combos = [(f, e) for e in economics for f in functions][:LINES]
    fn = dict(FunctionCode.objects.values_list("code", "id"))
    ec = dict(EconomicCode.objects.values_list("code", "id"))
    fund = FundSource.objects.get(code="1").id
    batch = []
    for n, (plan_id, unit_id) in enumerate(plans):
        for k, (f, e) in enumerate(combos):
            batch.append(PlanLine(plan_id=plan_id, project_id=projects[unit_id], function_id=fn[f],
                                  economic_id=ec[e], fund_source_id=fund,
                                  amount=Decimal(10000 + 37 * n + k) + Decimal("0.25")))
        if len(batch) >= 20000:
            PlanLine.objects.bulk_create(batch)
            batch = []
    PlanLine.objects.bulk_create(batch)
    ControlNumber.objects.bulk_create([
        ControlNumber(plan_id=p, fund_source_id=fund, amount=Decimal("999999999.00"))
        for p, _ in plans])


def approve_all() -> tuple[float, int]:
    from django.contrib.auth import get_user_model

    from budgets import services
    from budgets.models import BudgetPlan

    approver = get_user_model().objects.get(username="approver")
    plans = list(BudgetPlan.objects.order_by("id"))
    t0 = time.perf_counter()
    for plan in plans:
        services.plan_approve(plan=plan, user=approver)
    return time.perf_counter() - t0, len(plans)


def copy_bound() -> tuple[float, int]:
    """COPY the approval lines (the same rows the ledger now holds) into a scratch table
    shaped like finance_line, without its indexes and constraints: the bound."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT entry_id, seq, book, account_id, year, region_id, unit_id, "
                    "function_id, economic_id, fund_source_id, project_code, debit_fen, credit_fen "
                    "FROM finance_line WHERE entry_id IN (SELECT id FROM finance_entry "
                    "WHERE kind = 'approval')")
        rows = cur.fetchall()
        buf = io.StringIO()
        for r in rows:
            buf.write("\t".join("\\N" if v is None else str(v) for v in r) + "\n")
        data = buf.getvalue()
        cur.execute("DROP TABLE IF EXISTS bench_copy_line")
        cur.execute("CREATE TABLE bench_copy_line (LIKE finance_line INCLUDING DEFAULTS)")
        cur.execute("ALTER TABLE bench_copy_line DROP COLUMN id")
    raw = connection.connection  # psycopg 3
    t0 = time.perf_counter()
    with raw.cursor() as cur, cur.copy(
            "COPY bench_copy_line (entry_id, seq, book, account_id, year, region_id, unit_id, "
            "function_id, economic_id, fund_source_id, project_code, debit_fen, credit_fen) "
            "FROM STDIN") as copy:
        copy.write(data)
    raw.commit()
    return time.perf_counter() - t0, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=3000)
    args = parser.parse_args()
    t = time.perf_counter()
    prepare(args.units)
    setup_s = time.perf_counter() - t
    seconds, plans = approve_all()
    from django.db import connection

    from budgets.models import Indicator
    from finance.models import Entry
    from finance.selectors import balance, ledger_verify

    indicators = Indicator.objects.count()
    expected = balance(account=chart.AUTHORITY, year=2026)
    copy_s, copy_rows = copy_bound()
    check = ledger_verify()
    lines = plans * LINES
    print(f"\nbudget approval bench — {time.strftime('%Y-%m-%d')} on {platform.node()} "
          f"({os.cpu_count()} cores), PostgreSQL {connection.pg_version // 10000}")
    print(f"set-up (not timed): {setup_s:.1f}s for {plans} units × {LINES} lines")
    print(f"plan_approve: {plans} plans, {lines} indicator lines ({2 * lines} ledger lines, "
          f"{Entry.objects.filter(kind='approval').count()} entries) in {seconds:.1f}s: "
          f"{plans / seconds:.1f} plans/s, {lines / seconds:,.0f} indicator lines/s")
    print(f"COPY bound: {copy_rows} ledger line rows in {copy_s:.2f}s: "
          f"{copy_rows / copy_s:,.0f} rows/s = {copy_rows / 2 / copy_s:,.0f} indicator lines/s")
    print(f"approval at {100 * (lines / seconds) / (copy_rows / 2 / copy_s):.3f}% of the COPY bound "
          "(after-posting hooks, e.g. audit monitoring, included)")
    print(f"indicators registered: {indicators}; authority (9001) total: {expected}")
    print(f"verify_ledger after the run: {'OK' if check.ok else check.first_broken} "
          f"({check.entries_checked} entries, {check.lines_checked} lines)")


if __name__ == "__main__":
    main()
