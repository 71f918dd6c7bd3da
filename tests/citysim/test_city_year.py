"""The whole city-year at a tiny size (6 units, 2 months of payments) on the real
services: the books, the indicators, the payments, the outputs, and a rerun."""
from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.db.models.functions import Coalesce

from audit.models import Alert
from budgets import selectors as budget_selectors
from budgets.models import BudgetPlan, PlanLine, Project
from finance import selectors
from finance.models import Book, Entry, FiscalYear, WorkflowStep
from payments.models import (
    BankFile,
    CardTransaction,
    PaymentRequest,
    PayrollBatch,
    ReconException,
)
from reports.models import DisclosureSet

SH = ZoneInfo("Asia/Shanghai")
YEAR = 2026


def run(out, months: int = 2) -> str:  # noqa: ANN001
    buf = io.StringIO()
    call_command("city_year", units=6, months=months, year=YEAR, out=str(out), payments=1,
                 stdout=buf)
    return buf.getvalue()


@pytest.fixture
def city_year(codes, tmp_path):  # noqa: ANN001, ARG001
    out = tmp_path / "out"
    return out, run(out)


def assert_basic_spending_first(out) -> None:  # noqa: ANN001
    """Each unit budgets 55–70 % of its money on its 人员类 project and 10–20 % on its
    运转类 project (basic spending), the rest on its 特定目标类 project; the first unit
    also has an investment project (specific). A third of the units budget "三公"
    (公务接待费 and 公务用车运行维护费 at least) in their running project. So in each
    department's published budget: B3 基本支出 > 0, B5 人员经费 > 公用经费 > 0, basic >
    project where no investment project weighs in, and B7 三公 > 0 for some
    departments but not all."""
    figures = {}  # (department, table) -> {column: yuan} of the total row
    for dept_dir in sorted((out / "disclosure").iterdir()):
        for table in ("B3", "B5", "B7"):
            path = dept_dir / "budget" / f"{YEAR}_{dept_dir.name}_budget_{table}.csv"
            rows = csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig")))
            figures[dept_dir.name, table] = {r["column"]: Decimal(r["amount_yuan"])
                                             for r in rows if r["row"] == "total"}
    depts = sorted({d for d, _ in figures})
    assert len(depts) == 6
    invested = set(Project.objects.filter(category="specific").exclude(
        code__endswith="-XM01").values_list("unit__parent__code", flat=True))
    assert len(invested) == 1
    for d in depts:
        b3, b5, b7 = figures[d, "B3"], figures[d, "B5"], figures[d, "B7"]
        assert b3["basic"] > 0 and b3["project"] > 0, d
        assert b5["personnel"] > b5["public"] > 0, d
        assert b3["total"] == b3["basic"] + b3["project"], d
        if d not in invested:
            assert b3["basic"] > b3["project"], d
        if b7["total"] > 0:
            assert b7["hosting"] > 0 and b7["car_run"] > 0, d
    with_sangong = [d for d in depts if figures[d, "B7"]["total"] > 0]
    assert 0 < len(with_sangong) < len(depts)


@pytest.mark.django_db
class TestCityYear:
    def test_books_balance_and_the_ledger_verifies(self, city_year):  # noqa: ANN001
        out, printed = city_year
        for book in Book.values:
            tb = selectors.trial_balance(book=book, year=YEAR)
            assert tb.balanced and tb.total_debit > 0, book
        assert selectors.ledger_verify().ok
        assert "ledger verify: OK" in printed
        assert (out / "verify.txt").read_text(encoding="utf-8").startswith("ledger verify: OK")

    def test_every_unit_has_indicators_equal_to_its_approved_plan(self, city_year):  # noqa: ANN001, ARG002
        plans = BudgetPlan.objects.filter(year=YEAR)
        assert plans.count() == 6 and {p.status for p in plans} == {"approved"}
        for plan in plans:
            lines = PlanLine.objects.filter(plan=plan).aggregate(s=Sum("amount"))["s"]
            rows = budget_selectors.unit_indicators(unit_code=plan.unit.code, year=YEAR)
            assert sum((r.approved for r in rows), Decimal(0)) == lines

    def test_payments_are_posted_in_the_three_books_and_returns_released(self, city_year):  # noqa: ANN001, ARG002
        reqs = PaymentRequest.objects.filter(year=YEAR)
        payroll = reqs.filter(purpose__startswith="工资统发 ")
        cards = reqs.filter(purpose__startswith="公务卡还款 ")
        # one per unit and month, and the February instalments of the contracts that
        # units 1 and 4 (every third) signed in January
        assert reqs.exclude(pk__in=payroll).exclude(pk__in=cards).count() == 12 + 2
        # 工资统发 of unit 1 (every eighth unit): each month's file, 2 people, paid as one
        # request per person (net) and one per withheld kind that is not zero; the gross is
        # 2 % of the unit's 30101 基本工资 indicator as approved, all of it charged to it
        batches = PayrollBatch.objects.filter(year=YEAR).order_by("month")
        assert [b.month for b in batches] == [1, 2]
        first_unit = batches[0].unit
        approved = next(r.approved for r in budget_selectors.unit_indicators(
            unit_code=first_unit, year=YEAR) if r.dims.economic == "30101")
        for b in batches:
            kinds = [k for k in ("tax", "social", "housing") if getattr(b, k) > 0]
            assert b.status == "submitted" and b.lines.count() == 2
            assert sorted(b.withholdings.values_list("kind", flat=True)) == sorted(kinds)
            assert b.gross == (approved * Decimal("0.02")).quantize(Decimal("0.01"))
            assert b.net + b.tax + b.social + b.housing == b.gross
            mine = payroll.filter(purpose__startswith=f"工资统发 {YEAR}年{b.month}月 ")
            assert mine.count() == 2 + len(kinds)
            assert mine.aggregate(s=Sum("amount"))["s"] == b.gross
        # 公务卡: January's two card payments (the issuing bank's file imported on 5 Feb)
        # repaid by one request in February, and repaid once it was paid
        assert cards.count() == 1 and cards[0].unit == first_unit
        txs = CardTransaction.objects.filter(card__organization__code=first_unit)
        assert txs.count() == 2 and {t.traded_on.month for t in txs} == {1}
        assert txs.aggregate(s=Sum("amount"))["s"] == cards[0].amount
        assert {t.status for t in txs} == ({"repaid"} if cards[0].status == "paid" else {"open"})
        assert reqs.filter(contract__isnull=False, purpose__endswith="第1期（2月）").count() == 2
        paid = reqs.filter(status="paid")
        assert paid.count() >= 11 and all(r.pay_entry_id for r in paid)
        expended = selectors.balance(account="9301", year=YEAR)
        assert expended == paid.aggregate(s=Sum("amount"))["s"]
        assert selectors.balance(account="9201", year=YEAR) == Decimal("0.00")
        assert set(reqs.values_list("status", flat=True)) <= {"paid", "returned", "rejected"}

    def test_bank_files_in_the_real_formats_were_imported_and_the_fee_resolved(self, city_year):  # noqa: ANN001
        out, _ = city_year
        results = sorted((out / "bank").rglob("results_*.csv"))
        statements = sorted((out / "bank").rglob("statement_*.camt053.xml"))
        assert results and statements
        header = next(csv.reader(io.StringIO(results[0].read_bytes().decode("gbk"))))
        assert header[:3] == ["支付凭证号", "付款账号", "付款户名"]
        assert BankFile.objects.filter(format="camt053").count() == len(statements)
        fees = ReconException.objects.filter(kind="line_without_voucher")
        assert fees.count() == 2 and {e.status for e in fees} == {"resolved"}

    def test_postings_are_on_working_days_inside_office_hours(self, city_year):  # noqa: ANN001, ARG002
        times = [e.posted_at.astimezone(SH) for e in Entry.objects.all()]
        assert times and all(8 <= t.hour < 20 and t.weekday() < 5 for t in times)
        assert not Alert.objects.filter(rule__code="outside_hours").exists()

    def test_disclosure_is_published_and_the_files_read_back(self, city_year):  # noqa: ANN001
        out, _ = city_year
        sets = DisclosureSet.objects.filter(year=YEAR)
        assert sets.count() == 12 and {s.status for s in sets} == {"published"}  # 6 departments × 2
        dept = sets.order_by("department__code").first().department.code
        budget = next((out / "disclosure" / dept / "budget").glob("*.xlsx"))
        assert len(openpyxl.load_workbook(budget).sheetnames) == 8
        final = next((out / "disclosure" / dept / "final").glob("*.xlsx"))
        book = openpyxl.load_workbook(final)
        # F1–F9, and F10 项目支出绩效自评表: every specific-purpose project of the
        # department's units with performance targets (the units' own 专项业务经费; the
        # 发改委 feed's investment projects come without) was self-evaluated in January
        # and approved by the bureau
        assert book.sheetnames == [f"F{n}" for n in range(1, 11)]
        f10 = " ".join(str(c) for row in book["F10"].iter_rows(values_only=True)
                       for c in row if c is not None)
        projects = Project.objects.filter(unit__parent__code=dept, category="specific",
                                          targets__isnull=False).distinct()
        assert projects and all(p.code in f10 for p in projects)
        manifest = json.loads((out / "disclosure" / dept / "budget" / "manifest.json").read_text())
        assert manifest["department"] == dept
        wb = openpyxl.load_workbook(out / f"final_accounts_{YEAR}.xlsx")
        assert wb.sheetnames
        assert openpyxl.load_workbook(out / f"execution_{YEAR}.xlsx").sheetnames
        assert_basic_spending_first(out)  # in this test: a city-year more would cost ~25 s

    def test_prints_a_login_for_each_role(self, city_year):  # noqa: ANN001
        _, printed = city_year
        for who in ("admin", "bureau", "reviewer", "director", "discloser", "auditor", "filer-",
                    "head-", "dept-"):
            assert f"\n  {who}" in printed

    def test_a_second_run_changes_nothing(self, city_year):  # noqa: ANN001
        out, _ = city_year
        before = (Entry.objects.count(), WorkflowStep.objects.count(),
                  PaymentRequest.history.count(), BankFile.objects.count())
        printed = run(out)
        assert "already closed" in printed
        assert (Entry.objects.count(), WorkflowStep.objects.count(),
                PaymentRequest.history.count(), BankFile.objects.count()) == before


@pytest.mark.django_db
class TestTwelveMonths:
    def test_a_year_with_december_payments_closes_and_verifies(self, codes, tmp_path):  # noqa: ANN001, ARG002
        buf = io.StringIO()
        call_command("city_year", units=2, months=12, year=YEAR, out=str(tmp_path), payments=1,
                     stdout=buf)
        assert FiscalYear.objects.get(year=YEAR).is_closed
        assert PaymentRequest.objects.filter(year=YEAR, contract_ref__startswith=f"CS-{YEAR}12-",
                                             status="paid").exists()
        assert selectors.ledger_verify().ok

        # unit 1's late December bill (filed on the 28th, approved on the 30th, unpaid on
        # Dec 31) was carried into next year by the close (结转: the city's policy for
        # 一般公共预算): nothing stays committed in the old year, the new year's indicator
        # of its tuple has the amount, committed to it, and the request is payable there
        late = PaymentRequest.objects.get(contract_ref__endswith="-carry")
        assert (late.year, late.status) == (YEAR + 1, "approved")
        assert selectors.balance(account="9201", year=YEAR) == Decimal("0.00")
        assert selectors.balance(account="9201", year=YEAR + 1, unit=late.unit) == late.amount
        # the unit's register in the new year shows the tuple's carried money as 年初结转
        # (not as negative use): all of it carried, the late bill committed against it
        row = next(r for r in budget_selectors.unit_indicators(unit_code=late.unit,
                                                               year=YEAR + 1)
                   if r.dims.economic == "30201")
        assert row.carried >= late.amount and row.used == late.amount
        assert row.available == row.carried - late.amount  # no new budget in the new year yet
        # January of the next year: the treasury's first vouchers pay it (the bank's file
        # of the 14th), from the carried funds
        call_command("city_year", units=2, months=1, year=YEAR + 1, out=str(tmp_path),
                     payments=1, stdout=io.StringIO())
        late.refresh_from_db()
        assert late.status == "paid"
        assert late.pay_entry.posted_at.astimezone(SH).date().month == 1
        assert late.pay_entry.fiscal_year == YEAR + 1
        assert selectors.balance(account="9201", year=YEAR + 1, unit=late.unit) == Decimal("0.00")
        assert selectors.ledger_verify().ok
        card_plan_room_is_checked()  # on the same year: a 12-month city costs ~9 s


def card_plan_room_is_checked() -> None:
    """At 20 payments a month December's card repayment (公务卡还款) carried two months a
    退票 had reopened and was refused (PlanExceeded). The rule, by hand: a month's plan on
    the card line (差旅费 of the running project) holds the card spending of every month
    from the one before the quarter to the month before this one — each earlier
    repayment of the quarter may come back and be repaid with this month's — over and
    above the month's own bill on that line and its 1,000.00 headroom. Card spending is
    read from the card transactions the bank's files brought in (by transaction date)."""
    from payments.models import CardTransaction, OfficialCard, PaymentPlan

    cards = list(OfficialCard.objects.select_related("organization"))
    assert cards, "the city registers a card for each payroll unit"
    checked = 0
    for card in cards:
        unit = card.organization.code
        spent: dict[int, Decimal] = defaultdict(Decimal)
        for t in CardTransaction.objects.filter(card=card, traded_on__year=YEAR):
            spent[t.traded_on.month] += t.amount
        repay = PaymentRequest.objects.filter(year=YEAR, unit=unit,
                                              purpose__startswith="公务卡还款 ").first()
        assert repay is not None, unit
        for m in range(2, 13):
            plan = PaymentPlan.objects.filter(year=YEAR, month=m, unit=unit,
                                              function=repay.function, economic=repay.economic,
                                              project=repay.project).first()
            assert plan is not None, (unit, m)
            bill = PaymentRequest.objects.filter(
                year=YEAR, unit=unit, function=repay.function, economic=repay.economic,
                project=repay.project, contract_ref__startswith=f"CS-{YEAR}{m:02d}-").aggregate(
                s=Coalesce(Sum("amount"), Decimal(0)))["s"]
            room = plan.approved - bill - (Decimal("1000.00") if bill else 0)
            first = (m - 1) // 3 * 3 + 1  # the quarter's first month
            assert room >= sum((spent[k] for k in range(first - 1, m)), Decimal(0)), (unit, m)
            checked += 1
    assert checked >= 11


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestWorkers:
    """--workers 2 on PostgreSQL: the per-unit steps run in forked worker processes, each
    on its own connection and committing its own transactions; the books come out whole."""

    def test_two_workers_do_the_unit_work_and_the_books_verify(self, codes, tmp_path):  # noqa: ANN001, ARG002
        import os

        from citysim.simulate import city_year_run

        outcome = city_year_run(units=12, year=YEAR, out=tmp_path, months=1, workers=2,
                                stdout=io.StringIO())
        assert outcome.worker_pids and os.getpid() not in outcome.worker_pids
        assert outcome.verify_ok and selectors.ledger_verify().ok
        for book in Book.values:
            assert selectors.trial_balance(book=book, year=YEAR).balanced
        plans = BudgetPlan.objects.filter(year=YEAR)
        assert plans.count() == 12 and {p.status for p in plans} == {"approved"}
        for plan in plans:
            lines = PlanLine.objects.filter(plan=plan).aggregate(s=Sum("amount"))["s"]
            rows = budget_selectors.unit_indicators(unit_code=plan.unit.code, year=YEAR)
            assert sum((r.approved for r in rows), Decimal(0)) == lines
        reqs = PaymentRequest.objects.filter(year=YEAR)
        # one per unit, and the January payroll of units 1 and 9 (every eighth): 2 people
        # and each withheld kind that is not zero
        payroll = reqs.filter(purpose__startswith="工资统发 ")
        assert reqs.exclude(pk__in=payroll).count() == 12
        assert payroll.count() == sum(2 + sum(1 for k in ("tax", "social", "housing")
                                              if getattr(b, k) > 0)
                                      for b in PayrollBatch.objects.filter(year=YEAR))
        assert PayrollBatch.objects.filter(year=YEAR).count() == 2
        paid = reqs.filter(status="paid")
        assert selectors.balance(account="9301", year=YEAR) == paid.aggregate(s=Sum("amount"))["s"]
        assert set(reqs.values_list("status", flat=True)) <= {"paid", "returned", "rejected"}
        before = (Entry.objects.count(), WorkflowStep.objects.count())
        again = city_year_run(units=12, year=YEAR, out=tmp_path, months=1, workers=2,
                              stdout=io.StringIO())
        assert again.verify_ok
        assert (Entry.objects.count(), WorkflowStep.objects.count()) == before


def test_returned_salaries_top_up_the_months_payroll_plan(city_year, tmp_path):  # noqa: ANN001
    """追加用款计划 before salaries returned by the bank are paid again: the unit applies for
    the month's 人员类 plan again with them added and the treasury approves it. By hand:
    February's approved plan + the two returned January salaries' amounts, nothing else."""
    from citysim.simulate import CityYear
    from payments.models import PaymentPlan, PayrollLine

    sim = CityYear(units=6, year=YEAR, out=tmp_path / "again", months=2, stdout=io.StringIO())
    sim.people()
    sim.organizations()
    u = sim.payroll_units()[0]
    lines = list(PayrollLine.objects.filter(batch__year=YEAR, batch__month=1,
                                            batch__organization__code=u.code)
                 .select_related("batch__organization", "request").order_by("id")[:2])
    assert len(lines) == 2
    # the bank's 退票, as its result file would leave them (the plan is all that is read)
    PaymentRequest.objects.filter(pk__in=[ln.request_id for ln in lines]).update(
        status=PaymentRequest.Status.RETURNED)
    d = sim.payroll_dims(u)
    plan = PaymentPlan.objects.get(year=YEAR, month=2, unit=d.unit, function=d.function,
                                   economic=d.economic, project=d.project)
    assert plan.status == PaymentPlan.Status.APPROVED
    want = plan.approved + lines[0].request.amount + lines[1].request.amount

    sim.payroll_plans_topped_up(lines, 2)

    plan.refresh_from_db()
    assert (plan.status, plan.approved, plan.applied) == (PaymentPlan.Status.APPROVED, want, want)
    others = PaymentPlan.objects.filter(year=YEAR, month=2).exclude(pk=plan.pk)
    assert not others.filter(status=PaymentPlan.Status.APPLIED).exists()
