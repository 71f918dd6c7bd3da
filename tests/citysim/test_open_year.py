"""The demo's two years (issue 18) at a tiny size: last year run and closed, then this
year with `--open-through`: months 1..2 run and closed, month 3's work left waiting at
each stage, so every printed login finds something to act on, and a filer can file."""
from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from budgets import selectors as budget_selectors
from budgets.models import Adjustment, BudgetPlan
from finance import selectors
from finance.models import FiscalYear, Period
from payments import services as payments
from payments.models import AgentAccount, PaymentRequest, ReconException, Voucher
from reports.models import DisclosureSet

SH = ZoneInfo("Asia/Shanghai")
LAST, YEAR, THROUGH = 2025, 2026, 2
UNITS = 6
DEMO_PAYMENTS = 2  # the Makefile's DEMO_PAYMENTS
S = PaymentRequest.Status


@pytest.fixture
def demo(codes, tmp_path):  # noqa: ANN001, ARG001
    """`make demo`'s two commands on one database (last year with one month of payments
    to keep it short)."""
    call_command("city_year", units=UNITS, months=1, year=LAST, out=str(tmp_path),
                 payments=DEMO_PAYMENTS, stdout=io.StringIO())
    buf = io.StringIO()
    call_command("city_year", units=UNITS, year=YEAR, open_through=THROUGH, out=str(tmp_path),
                 payments=DEMO_PAYMENTS, stdout=buf)
    return buf.getvalue()


def first_unit() -> str:
    return BudgetPlan.objects.filter(year=YEAR).order_by("unit__code").first().unit.code


@pytest.mark.django_db
def test_last_year_closed_this_year_open_with_work_waiting_for_every_login(demo, client):  # noqa: ANN001
    printed = demo
    # last year closed and published; this year open: months 1..2 closed, 3 open
    assert FiscalYear.objects.get(year=LAST).is_closed
    assert not FiscalYear.objects.get(year=YEAR).is_closed
    closed = set(Period.objects.filter(fiscal_year__year=YEAR, status="closed")
                 .values_list("month", flat=True))
    assert closed == {1, 2}
    assert DisclosureSet.objects.filter(year=LAST, status="published").count() == 2 * UNITS
    # issue 22: every published set was reviewed (保密审查), signed by its department's head
    # (主要负责人审签) and published within 20 days of its 批复; last year's final accounts
    # approved (2026-03-10) and published (2026-03-20) in this year, the budget's 批复 taken
    # from the budget approval (2025-01-15) and published on 2025-02-03 (2 Feb a Sunday)
    from reports.selectors import deadline_state
    published = DisclosureSet.objects.filter(status="published")
    for ds in published:
        assert deadline_state(ds, dt.date(YEAR, 12, 31)) == "published", ds
        assert ds.manifest["late"] is False
        assert ds.manifest["confidentiality_review"]["conclusion"] == "cleared"
        assert ds.manifest["head_sign_off"]["by"] == f"dept-head-{ds.department.code}"
    finals = {(ds.approved_on, ds.manifest["published_on"]) for ds in published.filter(
        year=LAST, kind="final")}
    assert finals == {(dt.date(LAST + 1, 3, 10), f"{LAST + 1}-03-20")}
    budgets = {(ds.approved_on, ds.approved_on_source, ds.manifest["published_on"])
               for ds in published.filter(year=LAST, kind="budget")}
    assert budgets == {(dt.date(LAST, 1, 15), "budget_approval", f"{LAST}-02-03")}
    draft = DisclosureSet.objects.get(year=YEAR, kind="budget", status="draft")
    assert draft.confidentiality_conclusion == "" and draft.head_signed_at is None
    assert selectors.ledger_verify().ok
    # the second run reused the first one's city: its agent accounts, people, units
    assert AgentAccount.objects.count() == 9
    assert BudgetPlan.objects.filter(year=YEAR, status="approved").count() == UNITS

    unit = first_unit()
    reqs = PaymentRequest.objects.filter(year=YEAR)
    waiting = {
        "filer": reqs.filter(unit=unit, status=S.DRAFT).count(),
        "head": reqs.filter(unit=unit, status=S.UNIT_REVIEW).count(),
        "treasury": reqs.filter(status=S.TREASURY_REVIEW).count(),
        "director": reqs.filter(status=S.DIRECTOR_REVIEW).count(),
        "voucher": reqs.filter(status=S.APPROVED).count(),
        "bank": Voucher.objects.filter(status=Voucher.Status.ISSUED).count(),
        "exception": ReconException.objects.filter(status=ReconException.Status.OPEN).count(),
        "bureau adjustment": Adjustment.objects.filter(year=YEAR, status="submitted").count(),
        "bureau 一下": BudgetPlan.objects.filter(year=YEAR + 1, status="first_reviewed").count(),
        "department": BudgetPlan.objects.filter(
            year=YEAR + 1, status="first_submitted", unit__parent__code=unit[:9]).count(),
        "discloser": DisclosureSet.objects.filter(year=YEAR, kind="budget",
                                                  status="draft").count(),
        "auditor": DisclosureSet.objects.filter(status="published").count(),
    }
    # 合同 (issue 21 item 7): units 1 and 4 of the six sign a service contract on 20 January,
    # paid 30 % in February (month 2, closed: paid), 40 % in June and 30 % in December (not
    # yet); the first unit's second contract waits for its head's signature
    from payments.models import Contract
    from payments.services import contract_figures
    signed = Contract.objects.filter(year=YEAR, status="signed",
                                     number__startswith=f"HT{YEAR}-").order_by("unit")
    assert signed.count() == 2 and signed[0].unit == unit
    # last year's contracts (one month run: nothing paid yet, the first instalment falls
    # due in February) were carried into this year whole by the year-end close (结转)
    carried = Contract.objects.filter(number__startswith=f"HT{LAST}-").order_by("unit")
    assert [c.year for c in carried] == [YEAR, YEAR]
    for c in carried:
        f = contract_figures(c)
        assert f.committed == c.amount and f.paid == 0 and f.released == 0
    for c in signed:
        f = contract_figures(c)
        first = (c.amount * Decimal("0.30")).quantize(Decimal("0.01"))
        assert f.paid in (first, Decimal(0)), (c.number, f)  # the bank returns ~4 %
        assert f.committed + f.paid == c.amount and f.released == 0
    waiting["head contract"] = Contract.objects.filter(unit=unit, status="draft").count()
    assert all(waiting.values()), waiting
    # the first unit's contracts in performance: this year's and last year's carried one
    assert "待签署合同 1 份" in printed and "履行中合同 2 份" in printed
    # 工资统发 and 公务卡 (every eighth unit, the first among them): the open month's payroll
    # file imported and waiting to be submitted, last month's two card payments imported
    # from the issuing bank's file and waiting to be repaid; 序时进度: the bureau's sweep at
    # the end of February raised alerts, three explained and waiting for the bureau
    assert "待提交的工资表 1 份" in printed and "待报销还款的公务卡消费 2 笔" in printed
    assert "待确认整改的执行进度预警 3 条" in printed
    # the printed logins say what waits, from these counts
    assert "待审核用款申请 1 笔" in printed and "待处长审批用款申请" in printed
    assert f"草稿用款申请（待送审） {waiting['filer']} 笔" in printed
    assert "未处理的对账异常" in printed and "待批复预算调整 1 笔" in printed
    assert f"待审核的{YEAR + 1}年预算（一上）" in printed and "待审核的公开报表 1 套" in printed

    # the filer's indicators have money available in the open year, and the filer files
    filer = PaymentRequest.objects.filter(unit=unit, status=S.DRAFT).first().filed_by
    rows = budget_selectors.unit_indicators(unit_code=unit, year=YEAR)
    row = max(rows, key=lambda r: r.available)
    assert row.available > 0
    when = dt.datetime(YEAR, THROUGH + 1, 5, 10, tzinfo=SH)
    draft = PaymentRequest.objects.get(unit=unit, status=S.DRAFT)
    assert payments.payment_request_submit(request=draft, user=filer,
                                           as_of=when).status == S.UNIT_REVIEW
    new = payments.payment_request_create(
        dims=row.dims, year=YEAR, amount=Decimal("1234.56"), payee=draft.payee,
        purpose="办公用品", user=filer, as_of=when)
    assert new.status == S.DRAFT
    # and the filer's home shows the open year's indicators and the new draft
    client.force_login(filer)
    page = client.get(f"/web/?year={YEAR}", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert new.tracking_id in page and "可用" in page and "待送审的草稿申请" in page
    assert "待提交的工资表" in page and "待报销还款的公务卡消费" in page
    # every printed login's home lists what waits for it (counted, in Chinese)
    homes = {"head-" + unit: "待单位负责人审核的支付申请", "reviewer": "待国库审核的支付申请",
             "director": "待国库负责人审批的支付申请", "bureau": "待审批的指标调整",
             "dept-" + unit[:9]: f"待主管部门审核的{YEAR + 1}年预算",
             "discloser": "待审核的公开报表", "auditor": "可追溯的已公开报表"}
    for username, text in homes.items():
        client.force_login(get_user_model().objects.get(username=username))
        page = client.get(f"/web/?year={YEAR}", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        assert "待办事项" in page and text in page, username
    client.force_login(get_user_model().objects.get(username="head-" + unit))
    page = client.get(f"/web/?year={YEAR}", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "待单位负责人签署的合同" in page
