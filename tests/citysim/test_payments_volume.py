"""`city_year --payments N` (issue 19): a unit pays many times a month, more in December,
fewer in January; the month's bill is split into that many payments that add up to it to
the cent, filed over several days, several on a day; each goes through the whole chain
(unit head, treasury, voucher, the bank's file, the ledger). Counts worked out by hand
from the season weights (January 0.6, February 0.7, December 1.8, rounded half up)."""
from __future__ import annotations

import datetime as dt
import io
from collections import Counter, defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce

from finance import chart, selectors
from payments.models import BankResult, PaymentPlan, PaymentRequest, PayrollBatch

SH = ZoneInfo("Asia/Shanghai")
YEAR = 2026
CAR = "31013"  # 公务用车购置: a car is bought in one payment whatever N is


@pytest.fixture
def city(codes, tmp_path):  # noqa: ANN001, ARG001
    buf = io.StringIO()
    call_command("city_year", units=3, months=2, year=YEAR, out=str(tmp_path), payments=5,
                 stdout=buf)
    return buf.getvalue()


def test_each_unit_pays_n_times_a_month_by_season_and_the_parts_add_up(city):  # noqa: ANN001
    assert "ledger verify: OK" in city
    reqs = list(PaymentRequest.objects.filter(year=YEAR, contract_ref__startswith="CS-"))
    by_unit_month: dict[tuple[str, int], list[PaymentRequest]] = defaultdict(list)
    for r in reqs:
        by_unit_month[r.unit, int(r.contract_ref[7:9])].append(r)
    assert len(by_unit_month) == 3 * 2
    # 5 × 0.6 = 3.0 → 3 in January; 5 × 0.7 = 3.5 → 4 in February (half up)
    expected = {1: 3, 2: 4}
    for (unit, month), group in by_unit_month.items():
        n = 1 if group[0].economic == CAR else expected[month]
        assert len(group) == n, (unit, month)
        # one bill: the same indicator line, each part to a payee of its own choosing
        assert len({(r.function, r.economic, r.project) for r in group}) == 1
        assert sorted(r.purpose[-5:] for r in group) == sorted(
            f"（{j}/{n}）" for j in range(1, n + 1)) or n == 1
        # the parts add up to the month's bill: the plan the unit applied for is the bill
        # plus the 1,000.00 headroom it always asks for (simulate.plan_unit)
        plan = PaymentPlan.objects.get(unit=unit, year=YEAR, month=month,
                                       function=group[0].function, economic=group[0].economic,
                                       project=group[0].project)
        assert sum(r.amount for r in group) == plan.approved - Decimal("1000.00")
        # filed on working days from the 5th to the 12th, in office hours, several a day
        days = Counter(r.filed_at.astimezone(SH).date() for r in group)
        for day in days:
            assert day.month == month and 5 <= day.day <= 12 and day.weekday() < 5
        for r in group:
            assert 8 <= r.filed_at.astimezone(SH).hour < 20
        if n >= 3:
            assert len(days) >= 2 and max(days.values()) >= 2 or len(days) == n


def test_every_part_is_paid_through_the_bank_and_booked(city):  # noqa: ANN001, ARG001
    reqs = PaymentRequest.objects.filter(year=YEAR, contract_ref__startswith="CS-")
    # 3 units × (3 in January + 4 in February), less 2 or 3 for each month a unit buys
    # its car in one payment: never more than 21, at least 3 × 2
    assert 6 <= reqs.count() <= 21
    paid = reqs.filter(status=PaymentRequest.Status.PAID)
    returned = reqs.filter(status=PaymentRequest.Status.RETURNED)
    # every request ends paid or returned by the bank (nothing left in between)
    assert paid.count() + returned.count() == reqs.count()
    # one bank result line per request, as the banks' files carry them
    assert BankResult.objects.filter(voucher__request__in=reqs).count() == reqs.count()
    # the ledger's paid-out indicator before the year-end close is the sum of the paid
    # requests (returned ones were reversed), with the first unit's contract instalment of
    # February (30 % of its contract) when the bank paid it
    instalments = PaymentRequest.objects.filter(year=YEAR, contract__isnull=False)
    assert instalments.count() == 1 and instalments[0].purpose.endswith("第1期（2月）")
    # and the first unit's payroll (工资统发, January and February) and card repayment
    # (公务卡, in February for January's spending) requests the bank paid
    channels = PaymentRequest.objects.filter(
        Q(purpose__startswith="工资统发 ") | Q(purpose__startswith="公务卡还款 "), year=YEAR,
        unit=instalments[0].unit, status=PaymentRequest.Status.PAID)
    assert channels.exists()
    total = (paid.aggregate(s=Sum("amount"))["s"] + instalments.filter(
        status=PaymentRequest.Status.PAID).aggregate(s=Coalesce(Sum("amount"), Decimal(0)))["s"]
        + channels.aggregate(s=Sum("amount"))["s"])
    assert selectors.balance(account=chart.EXPENDED, year=YEAR,
                             as_of=dt.date(YEAR, 3, 1)) == total
    payroll_plan_room_is_checked()  # on the same city: a city run costs ~30 s


def payroll_plan_room_is_checked() -> None:
    """At 20 payments a month the bank returned both of a unit's January salaries and
    February's payroll was refused (PlanExceeded): each month's plan on the payroll
    indicator must hold the month's gross pay and every salary of the month before
    paid again after a 退票 — at most that month's net, which is below its gross."""
    jan, feb = (PayrollBatch.objects.get(year=YEAR, month=m) for m in (1, 2))
    assert jan.net < jan.gross == feb.gross  # the same two people both months
    plan = PaymentPlan.objects.get(year=YEAR, month=2, unit=feb.unit, function=feb.function,
                                   economic=feb.economic, project=feb.project)
    # the month's own bill when it is paid from the same line, with its 1,000.00 headroom
    bill = PaymentRequest.objects.filter(
        year=YEAR, unit=feb.unit, function=feb.function, economic=feb.economic,
        project=feb.project, contract_ref__startswith=f"CS-{YEAR}02-").aggregate(
        s=Coalesce(Sum("amount"), Decimal(0)))["s"]
    room = plan.approved - bill - (Decimal("1000.00") if bill else 0)
    assert room == 2 * feb.gross
    assert room >= feb.gross + jan.net


def test_payments_must_be_at_least_one(codes, tmp_path):  # noqa: ANN001, ARG001
    with pytest.raises(CommandError, match="--payments"):
        call_command("city_year", units=3, months=1, year=YEAR, out=str(tmp_path),
                     payments=0, stdout=io.StringIO())
