"""No per-row queries on the list pages (issue 19, the interactive path): each page is
rendered with a few rows and again with ten times as many, and runs the same number of
queries both times — whatever the fixed number is. Rows are written in bulk (not through
the services: what is measured is the page, not the filing), except the indicators, which
are approved through budgets' services so the ledger holds them as it would."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from itertools import count

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import Alert, MonitoringRule, PaceAlert
from budgets.models import BudgetPlan
from finance.ids import make_uscc
from finance.models import EconomicCode, Organization
from payments.models import BankFile, Payee, PaymentRequest, RuleHit, Voucher, VoucherBatch
from tests.helpers import YEAR, dims, indicator_approve
from tests.web.conftest import U1

MARK = "行数测试"  # in every row written here, so the page is seen to show them
_seq = count(1)


def queries(client, url: str) -> tuple[int, str]:  # noqa: ANN001
    """The queries of one GET (after a first GET, so caches filled once are not counted)."""
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


def same_count(client, url: str, grow: Callable[[int], None], few: int = 3,  # noqa: ANN001
               many: int = 30, shown: Callable[[str], int] = lambda body: body.count(MARK)) -> None:
    grow(few)
    n_few, body = queries(client, url)
    assert shown(body) >= few
    grow(many - few)
    n_many, body = queries(client, url)
    assert shown(body) >= many
    assert n_many == n_few, f"{url}: {n_few} queries with {few} rows, {n_many} with {many}"


# ------------------------------------------------------------------ row makers
def requests(world, n: int, status: str, *, hits: bool = True) -> list[PaymentRequest]:  # noqa: ANN001
    r1 = world.r1
    now = timezone.now()
    rows = PaymentRequest.objects.bulk_create([PaymentRequest(
        year=r1.year, region=r1.region, unit=r1.unit, function=r1.function, economic=r1.economic,
        fund_source=r1.fund_source, project=r1.project, tracking_id=f"TRQC{next(_seq):08d}",
        amount=Decimal("12.34"), payee=world.payee, purpose=f"{MARK} {i}", status=status,
        filed_by=world.people.filer, filed_at=now, submitted_at=now) for i in range(n)])
    if hits:
        RuleHit.objects.bulk_create([RuleHit(request=r, rule_code="R1", action="warn",
                                             reason="规则提示", created_at=now) for r in rows])
    return rows


def units(world, n: int) -> list[Organization]:  # noqa: ANN001
    dept = world.orgs["dept"]
    return Organization.objects.bulk_create([Organization(
        code=f"4403008{k:02d}", name=f"{MARK}单位{k}", kind="budget_unit", parent=dept,
        region=dept.region, uscc=make_uscc("440300", 5000 + k))
        for k in (next(_seq) for _ in range(n))])


# ------------------------------------------------------------------ the pages
@pytest.mark.django_db
@pytest.mark.parametrize("who, status", [("filer", "unit_review"), ("head", "unit_review"),
                                         ("reviewer", "treasury_review")])
def test_home_request_lists(client, world, who, status):  # noqa: ANN001
    """The home's request list (a unit's people) and work queues (head, treasury)."""
    client.force_login(getattr(world.people, who))
    same_count(client, "/web/", lambda n: requests(world, n, status))


@pytest.mark.django_db
def test_voucher_page(client, world, treasury):  # noqa: ANN001
    """Approved requests awaiting a voucher, and the batches issued (a voucher each)."""
    today = timezone.localdate()

    def grow(n: int) -> None:
        requests(world, n, "approved")
        done = requests(world, n, "vouchered", hits=False)
        batches = VoucherBatch.objects.bulk_create([VoucherBatch(
            agent_account=treasury.agent, date=today, created_by=world.people.reviewer,
            created_at=timezone.now()) for _ in range(n)])
        Voucher.objects.bulk_create([Voucher(
            number=f"VQC{next(_seq):08d}", batch=b, request=r, amount=r.amount,
            amount_capital="壹拾贰元叁角肆分", date=today) for b, r in zip(batches, done, strict=True)])

    client.force_login(world.people.reviewer)
    same_count(client, "/web/treasury/vouchers/", grow,
               shown=lambda body: min(body.count(MARK), body.count("/web/treasury/batches/")))


@pytest.mark.django_db
def test_bank_files_page(client, world, treasury):  # noqa: ANN001, ARG001
    def grow(n: int) -> None:
        BankFile.objects.bulk_create([BankFile(
            filename=f"{MARK}{next(_seq)}.txt", sha256="0" * 64, format="icbc_result",
            imported_at=timezone.now(), imported_by=world.people.reviewer, stored=1)
            for _ in range(n)])

    client.force_login(world.people.reviewer)
    same_count(client, "/web/treasury/imports/", grow)


@pytest.mark.django_db
def test_payee_book(client, world):  # noqa: ANN001
    def grow(n: int) -> None:
        Payee.objects.bulk_create([Payee(
            unit=world.orgs["u1"], name=f"{MARK}{next(_seq)}", account_number=f"62220{next(_seq):010d}",
            bank_name="中国工商银行", cnaps="102584002015") for _ in range(n)])

    client.force_login(world.people.filer)
    same_count(client, "/web/payees/", grow)


@pytest.mark.django_db
def test_budget_plans_list(client, world):  # noqa: ANN001
    def grow(n: int) -> None:
        BudgetPlan.objects.bulk_create([BudgetPlan(unit=u, year=YEAR, status="second_submitted")
                                        for u in units(world, n)])

    client.force_login(world.people.office)
    same_count(client, "/web/budget/plans/", grow)


@pytest.mark.django_db
def test_monitoring_alerts(client, world):  # noqa: ANN001
    rule = MonitoringRule.objects.create(code="qc_rule", name="规则")

    def grow(n: int) -> None:
        Alert.objects.bulk_create([Alert(
            rule=rule, fingerprint=f"qc:{k}", message=f"{MARK} {k}", year=YEAR, unit_code=U1,
            owner=world.people.filer, raised_at=timezone.now())
            for k in (next(_seq) for _ in range(n))])

    client.force_login(world.people.auditor)
    same_count(client, "/audit/alerts/", grow)


@pytest.mark.django_db
def test_pace_alerts(client, world):  # noqa: ANN001
    """序时进度 alerts of departments (one per organization), as the bureau sees them."""
    rule = MonitoringRule.objects.create(code="qc_pace", name="序时进度")

    def grow(n: int) -> None:
        PaceAlert.objects.bulk_create([PaceAlert(
            rule=rule, scope="department", subject_code=u.code, subject_name=u.name,
            organization=u, year=YEAR, month=3, measured_on=dt.date(YEAR, 3, 31), grade="red",
            time_pct=Decimal("25.00"), execution_pct=Decimal("1.00"), lag_points=Decimal("24.00"),
            budget_fen=100000, paid_fen=1000, raised_at=timezone.now()) for u in units(world, n)])

    client.force_login(world.people.office)
    same_count(client, "/audit/pace/", grow)


@pytest.mark.django_db
def test_api_request_list(client, world):  # noqa: ANN001
    """The API's list of payment requests (token, as the HTTP bench calls it)."""
    from rest_framework.authtoken.models import Token

    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=world.people.filer)}"
    same_count(client, "/api/payments/requests/", lambda n: requests(world, n, "unit_review"))


@pytest.mark.django_db
def test_indicator_pages(client, world):  # noqa: ANN001
    """A unit's indicators (one per economic code) and the home of a department's member
    (the indicators of each of its units): approved through the services, so fewer rows."""
    economics = iter(EconomicCode.objects.filter(code__regex=r"^302\d\d$")
                     .exclude(code__in=["30201", "30202"]).order_by("code")
                     .values_list("code", flat=True))

    def more_indicators(n: int) -> None:
        for _ in range(n):
            indicator_approve(Decimal("100.00"), dims(economic=next(economics)))

    def more_units(n: int) -> None:
        for u in units(world, n):
            indicator_approve(Decimal("100.00"), dims(unit=u.code))

    client.force_login(world.people.filer)
    same_count(client, f"/budgets/units/{U1}/indicators/?year={YEAR}", more_indicators, few=2,
               many=8, shown=lambda body: body.count("100.00"))
    client.force_login(world.people.dept)
    same_count(client, f"/web/?year={YEAR}", more_units, few=2, many=8)
