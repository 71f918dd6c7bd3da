"""Open commitments at year end (issue 21 item 1): a request approved in December 2026
and unpaid is carried (结转) into 2027 and paid there, or released (收回), by the fund
source's year-end policy; a reopening undoes either. Figures worked by hand:

    indicator 10,000.00 on the tuple (440300101 / 2050203 / 30201 / fund 1)
    paid in March                          3,000.00
    committed in December (approved)       1,234.56
    available on Dec 31  10,000.00 − 3,000.00 − 1,234.56 = 5,765.44
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission

from audit.trace import trace_resolve
from finance import chart
from finance import selectors as fin
from finance.models import WorkflowStep
from payments import errors as pay_errors
from payments import services as pay
from payments.importers.common import ResultRow
from payments.models import BankFile
from reports import services
from reports.models import YearEndClose
from tests.helpers import YEAR, dims, indicator_approve
from tests.payments.conftest import agent, approve_all, banks, payee, people  # noqa: F401

D = Decimal
SH = ZoneInfo("Asia/Shanghai")
MARCH = dt.datetime(YEAR, 3, 10, 10, 0, tzinfo=SH)
DECEMBER = dt.datetime(YEAR, 12, 10, 10, 0, tzinfo=SH)
JANUARY = dt.datetime(YEAR + 1, 1, 8, 10, 0, tzinfo=SH)
NEXT = YEAR + 1
UNIT = "440300101"


def bal(account: str, year: int) -> Decimal:
    d = dims()
    return fin.balance(account=account, year=year, region=d.region, unit=d.unit,
                       function=d.function, economic=d.economic, fund_source=d.fund_source,
                       project=d.project)


def control(year: int) -> tuple[Decimal, Decimal, Decimal]:
    """available, committed, paid of the tuple in `year` (control book)."""
    return bal(chart.AVAILABLE, year), bal(chart.COMMITTED, year), bal(chart.EXPENDED, year)


def figure(measure: str, year: int) -> Decimal:
    """A final-accounts figure of the unit, through the trace reference the tables print."""
    return D(fin.figure_of(f"tr:v1:measure={measure};year={year};unit={UNIT}")) / 100


def request(staff, payee_, amount: str, as_of: dt.datetime):  # noqa: ANN001, ANN201
    req = pay.payment_request_create(dims=dims(), year=as_of.year, amount=D(amount),
                                     payee=payee_, purpose="办公费", user=staff.filer,
                                     as_of=as_of, submit=True)
    return approve_all(staff, req, as_of=as_of)


def paid(ready, req, as_of: dt.datetime):  # noqa: ANN001, ANN201
    """Voucher and the bank's success line, both on `as_of`."""
    batch = pay.voucher_batch_create(agent_account=ready.agent, user=ready.people.reviewer,
                                     requests=[req], as_of=as_of)
    v = batch.vouchers.get()
    f = BankFile.objects.create(filename=v.number, sha256="-", format="results_csv",
                                imported_at=as_of)
    pay.bank_result_apply(row=ResultRow(
        line=1, voucher_number=v.number, payer_account=ready.agent.number,
        payee_account=ready.payee.account_number, payee_name="", amount=v.amount,
        outcome="paid", bank_ref=f"B{v.number}", traded_at=as_of, reason=""),
        bank_file=f, user=ready.people.reviewer, as_of=as_of)
    req.refresh_from_db()
    return req


@pytest.fixture
def ready(fiscal_year, orgs, user, people, banks, agent):  # noqa: ANN001, ARG001, F811
    indicator_approve(D("10000.00"))
    pay.fund_source_plan_control_set(fund_source="1", enabled=False, user=user,
                                     reason="no monthly plans in this test")
    from types import SimpleNamespace

    r = SimpleNamespace(people=people, payee=payee(user), agent=agent, user=user)
    paid(r, request(people, r.payee, "3000.00", MARCH), MARCH)
    for m in range(1, 12):
        services.month_close(year=YEAR, month=m, user=user)
    r.december = request(people, r.payee, "1234.56", DECEMBER)
    assert r.december.status == "approved"
    assert control(YEAR) == (D("5765.44"), D("1234.56"), D("3000.00"))
    return r


@pytest.fixture
def manager(django_user_model):  # noqa: ANN001
    u = django_user_model.objects.create_user(username="chief", password="x-Secret-456")
    u.user_permissions.add(Permission.objects.get(codename="reopen_year"))
    return django_user_model.objects.get(pk=u.pk)


def carry_policy(user) -> None:  # noqa: ANN001
    services.fund_source_policy_set(fund_source="1", action="carry_forward", user=user,
                                    reason="结转 (test)")


class TestCarried:
    def test_a_december_commitment_is_carried_and_paid_in_january(self, ready):  # noqa: ANN001
        carry_policy(ready.user)
        close = services.year_end_close(year=YEAR, user=ready.user)
        assert close.summary["commitments"]["carried"] == {"count": 1, "total": "1234.56"}
        # 2026: the commitment released and closed; the paid 3,000.00 stays
        assert control(YEAR) == (0, 0, D("3000.00"))
        # 2027: unspent 5,765.44 carried + the commitment 1,234.56 carried and committed
        assert control(NEXT) == (D("5765.44"), D("1234.56"), 0)
        # 9001 of 2027: 5,765.44 + 1,234.56 = 7,000.00 (both carry-forward, "adjusted")
        assert figure("adjusted", NEXT) == D("7000.00")
        req = ready.december
        req.refresh_from_db()
        assert (req.status, req.year, req.commit_entry.fiscal_year) == ("approved", NEXT, NEXT)
        # 结转: revenue 3,000.00 + 1,234.56 carried − expenditure 3,000.00 = 1,234.56;
        # the new year opens with it (8101), the funds in 8001 and 1201
        assert figure("carryover", YEAR) == D("1234.56")
        assert figure("opening", NEXT) == D("1234.56")
        assert (bal(chart.FUNDS_BALANCE, NEXT), bal(chart.FISCAL_RECEIVABLE, NEXT)) == (
            D("1234.56"), D("1234.56"))

        req = paid(ready, req, JANUARY)

        assert (req.status, req.pay_entry.fiscal_year) == ("paid", NEXT)
        # 2027: 5,765.44 still available, 0 committed, 1,234.56 paid; 2026 unchanged
        assert control(NEXT) == (D("5765.44"), 0, D("1234.56"))
        assert control(YEAR) == (0, 0, D("3000.00"))
        # paid from the funds carried: 8001 and 1201 back to 0, no new revenue in 2027;
        # 年末结转 2027 = 1,234.56 opening + 0 revenue − 1,234.56 expenditure = 0
        assert (bal(chart.FUNDS_BALANCE, NEXT), bal(chart.FISCAL_RECEIVABLE, NEXT)) == (0, 0)
        assert figure("revenue", NEXT) == 0
        assert figure("expenditure", NEXT) == D("1234.56")
        assert figure("carryover", NEXT) == 0
        # the auditor's trace: the 2027 indicator figure leads to the 2026 request
        found = {(s.label, s.pk): s for s in trace_resolve(
            f"tr:v1:measure=adjusted;year={NEXT};unit={UNIT}").sources}
        source = found[("payments.paymentrequest", str(req.pk))]
        assert source.references["tracking_id"].startswith(f"TR{YEAR}")
        assert "year_end_carry" in {step.action for step in source.steps}


class TestReleased:
    def test_a_take_back_fund_releases_the_commitment_and_withdraws_the_request(
            self, ready):  # noqa: ANN001
        close = services.year_end_close(year=YEAR, user=ready.user)  # fund 1: 收回 (default)
        assert close.summary["commitments"]["released"] == {"count": 1, "total": "1234.56"}
        # 2026: released, then taken back with the unspent 5,765.44; nothing in 2027
        assert control(YEAR) == (0, 0, D("3000.00"))
        assert control(NEXT) == (0, 0, 0)
        # no carry: 年末结转 2026 = 3,000.00 − 3,000.00 = 0
        assert figure("carryover", YEAR) == 0
        req = ready.december
        req.refresh_from_db()
        assert (req.status, req.year) == ("withdrawn", YEAR)
        step = WorkflowStep.objects.get(action="year_end_release", doc_id=str(req.pk))
        assert step.comment == (
            "2026年终结账：资金性质 1 的未支付承诺按年终政策收回，已释放 1234.56 元；"
            "本申请不能再支付，如仍需支付，请在 2027 年度重新填报。")
        assert req.history.count() > 1
        with pytest.raises(pay_errors.NothingToVoucher):
            pay.voucher_batch_create(agent_account=ready.agent, user=ready.people.reviewer,
                                     requests=[req], as_of=JANUARY)


class TestReopen:
    def test_reopening_reverses_the_carry_and_puts_the_request_back(
            self, ready, manager):  # noqa: ANN001
        carry_policy(ready.user)
        first = ready.december.commit_entry_id
        services.year_end_close(year=YEAR, user=ready.user)
        services.year_end_reopen(year=YEAR, user=manager, reason="补记12月凭证")
        assert control(YEAR) == (D("5765.44"), D("1234.56"), D("3000.00"))
        assert control(NEXT) == (0, 0, 0)
        assert figure("carryover", YEAR) == 0
        req = ready.december
        req.refresh_from_db()
        assert (req.status, req.year, req.commit_entry_id) == ("approved", YEAR, first)
        # closed again, it is carried again (no idempotency key replays the reversed one)
        close = services.year_end_close(year=YEAR, user=ready.user)
        assert close.summary["commitments"]["carried"]["total"] == "1234.56"
        assert control(NEXT) == (D("5765.44"), D("1234.56"), 0)
        assert YearEndClose.objects.filter(year=YEAR).count() == 2

    def test_a_reopening_is_refused_once_the_carried_request_is_paid(
            self, ready, manager):  # noqa: ANN001
        carry_policy(ready.user)
        services.year_end_close(year=YEAR, user=ready.user)
        paid(ready, ready.december, JANUARY)
        with pytest.raises(Exception) as exc:  # noqa: B017, PT011 - the ledger's own error
            services.year_end_reopen(year=YEAR, user=manager, reason="late")
        assert type(exc.value).__name__ == "IndicatorInsufficient"
        assert control(NEXT) == (D("5765.44"), 0, D("1234.56"))


class TestContract:
    def test_a_signed_contracts_remaining_commitment_is_carried_and_drawn_in_january(
            self, ready):  # noqa: ANN001
        carry_policy(ready.user)
        staff = ready.people
        c = pay.contract_create(
            dims=dims(), year=YEAR, number="HT-2026-12", counterparty=ready.payee,
            title="机房维护", amount=D("800.00"), start=dt.date(YEAR, 12, 1),
            end=dt.date(NEXT, 3, 31), schedule=[(dt.date(NEXT, 1, 15), D("800.00"))],
            user=staff.filer, as_of=DECEMBER)
        c = pay.contract_sign(contract=c, user=staff.head, as_of=DECEMBER)
        # 5,765.44 − 800.00 = 4,965.44 available; 1,234.56 + 800.00 = 2,034.56 committed
        assert control(YEAR) == (D("4965.44"), D("2034.56"), D("3000.00"))
        close = services.year_end_close(year=YEAR, user=ready.user)
        assert close.summary["commitments"]["carried"] == {"count": 2, "total": "2034.56"}
        assert control(NEXT) == (D("4965.44"), D("2034.56"), 0)
        c.refresh_from_db()
        assert (c.status, c.year) == ("signed", NEXT)
        req = pay.payment_request_create(
            dims=dims(), year=NEXT, amount=D("800.00"), payee=ready.payee, purpose="合同付款",
            user=staff.filer, as_of=JANUARY, contract=c, submit=True)
        paid(ready, approve_all(staff, req, as_of=JANUARY), JANUARY)
        # 2027: 2,034.56 − 800.00 = 1,234.56 still committed (the carried request), 800 paid
        assert control(NEXT) == (D("4965.44"), D("1234.56"), D("800.00"))
        # the 800.00 came from the funds carried: 8001 holds 2,034.56 − 800.00 = 1,234.56
        assert bal(chart.FUNDS_BALANCE, NEXT) == D("1234.56")
        c.refresh_from_db()
        assert c.status == "completed"

    def test_a_take_back_fund_closes_the_contract_and_a_reopening_signs_it_again(
            self, ready, manager):  # noqa: ANN001
        staff = ready.people
        c = pay.contract_create(
            dims=dims(), year=YEAR, number="HT-2026-13", counterparty=ready.payee,
            title="机房维护", amount=D("800.00"), start=dt.date(YEAR, 12, 1),
            end=dt.date(NEXT, 3, 31), schedule=[(dt.date(NEXT, 1, 15), D("800.00"))],
            user=staff.filer, as_of=DECEMBER)
        c = pay.contract_sign(contract=c, user=staff.head, as_of=DECEMBER)
        close = services.year_end_close(year=YEAR, user=ready.user)
        # released: 1,234.56 + 800.00 = 2,034.56; all taken back, nothing in 2027
        assert close.summary["commitments"]["released"] == {"count": 2, "total": "2034.56"}
        assert control(YEAR) == (0, 0, D("3000.00"))
        c.refresh_from_db()
        assert c.status == "closed" and "收回" in c.close_reason
        assert pay.contract_figures(c).released == D("800.00")
        services.year_end_reopen(year=YEAR, user=manager, reason="合同继续履行")
        c.refresh_from_db()
        assert (c.status, c.release_entry_id, c.close_reason) == ("signed", None, "")
        # 5,765.44 − 800.00 = 4,965.44 available; 1,234.56 + 800.00 committed again
        assert control(YEAR) == (D("4965.44"), D("2034.56"), D("3000.00"))
        assert pay.contract_figures(c).remaining == D("800.00")
