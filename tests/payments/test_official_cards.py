"""公务卡: the issuing bank's card file as the bank writes it, a unit's repayment of three
transactions against its indicator paid through vouchers and the agent bank's result
file, a 退票 and a rejection putting them back to open, and the overdue alert of the
nightly sweep. Figures worked by hand."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from audit.models import Alert
from audit.monitoring import monitoring_sweep
from finance import selectors as ledger
from payments import services
from payments.models import CardTransaction, OfficialCard, Payee
from payments.services import cards
from tests.helpers import YEAR, dims, indicator_approve
from tests.payments.conftest import AS_OF, SH

CARD = "6222024000011112222"  # 张伟's card, ICBC 深圳南山支行 (102584002015)
ICBC_NANSHAN = "102584002015"

# The issuing bank's monthly file as it sends it: GBK, CRLF, Chinese header, amounts with
# thousands separators, a refund (退货) negative. Line 5 is in yen (a line issue: only CNY
# is repaid from an indicator), line 6 names a card nobody registered.
#   open: 356.00 + 1,280.50 − 200.00 = 1,436.50
CARD_FILE = (
    "卡号,持卡人,交易日期,记账日期,交易流水号,商户名称,商户类别码,交易金额,币种\r\n"
    "6222024000011112222,张伟,2026-02-27,2026-03-01,GS202603010001,深圳某某酒店有限公司,7011,356.00,CNY\r\n"
    "6222024000011112222,张伟,2026-03-02,2026-03-03,GS202603030002,中国南方航空股份有限公司,4511,"
    "\"1,280.50\",CNY\r\n"
    "6222024000011112222,张伟,2026-03-04,2026-03-05,GS202603050003,深圳某某酒店有限公司,7011,"
    "-200.00,CNY\r\n"
    "6222024000011112222,张伟,2026-03-05,2026-03-06,GS202603060004,HOTEL OKURA TOKYO,7011,"
    "\"12,000.00\",JPY\r\n"
    "6222024000099998888,李四,2026-03-05,2026-03-06,GS202603060005,深圳某某餐饮有限公司,5812,"
    "88.00,CNY\r\n"
).encode("gbk")

# The agent bank's (ICBC Shenzhen) result file for the repayment's voucher, GBK.
RESULT = (
    "支付凭证号,付款账号,付款户名,收款账号,收款户名,收款行,金额,交易状态,银行流水号,交易时间,失败原因\n"
    "ZF2026030001,44030100040012345,深圳市某某局,6222024000011112222,张伟,中国工商银行深圳南山支行,"
    "\"1,436.50\",{status},GH20260312000001,2026-03-12 09:30:00,{reason}\n")


def bal(account: str) -> Decimal:
    return ledger.balance(account=account, year=YEAR, unit="440300101", economic="30201")


@pytest.fixture
def card_world(fiscal_year, orgs, people, banks, agent, user):  # noqa: ANN001, ARG001
    """An indicator of 5,000.00 on 办公费 (30201), March's plan of 5,000.00, 张伟's card
    registered by the unit's filer, the bank's file imported by the treasury."""
    indicator_approve(Decimal("5000.00"))
    plan = services.plan_apply(dims=dims(), year=YEAR, month=3, amount=Decimal("5000.00"),
                               user=user, as_of=AS_OF)
    services.plan_approve(plan=plan, user=user, as_of=AS_OF)
    card = cards.official_card_save(unit=orgs["u1"], holder="张伟", number="6222 0240 0001 1112 222",
                                    cnaps=ICBC_NANSHAN, user=people.filer, reason="新办公务卡")
    report = cards.card_file_import(CARD_FILE, "GSK_440300101_202603.csv", people.reviewer,
                                    as_of=AS_OF)
    return card, report


def repay(people, card):  # noqa: ANN001, ANN201
    """The filer repays the three open transactions (refund netted) from 办公费."""
    open_ = list(CardTransaction.objects.filter(card=card, status="open"))
    return cards.card_repayment_file(transactions=open_, dims=dims(), year=YEAR,
                                     user=people.filer, as_of=AS_OF)


def pay(people, agent, user, req, status: str = "成功", reason: str = ""):  # noqa: ANN001, ANN201
    services.payment_request_approve(request=req, user=people.head, as_of=AS_OF)
    services.payment_request_approve(request=req, user=people.reviewer, as_of=AS_OF)
    services.voucher_batch_create(agent_account=agent, user=people.reviewer, as_of=AS_OF)
    return services.bank_file_import(
        content=RESULT.format(status=status, reason=reason).encode("gbk"),
        filename="ICBC_20260312.csv", user=user, as_of=dt.datetime(2026, 3, 12, 11, tzinfo=SH))


class TestCardFileImport:
    def test_stores_the_good_lines_and_reports_the_bad_ones_by_line(self, card_world):  # noqa: ANN001
        card, report = card_world
        assert card.number_masked == "6222 **** **** 2222"
        assert (report.stored, report.skipped) == (3, 0)
        assert [(i.file, i.line, i.field) for i in report.issues] == [
            ("GSK_440300101_202603.csv", 5, "currency"), ("GSK_440300101_202603.csv", 6, "card")]
        assert "JPY" in report.issues[0].reason
        assert "6222 **** **** 8888" in report.issues[1].reason
        rows = list(CardTransaction.objects.order_by("line_no").values_list(
            "line_no", "reference", "posted_on", "mcc", "amount", "status"))
        assert rows == [
            (2, "GS202603010001", dt.date(2026, 3, 1), "7011", Decimal("356.00"), "open"),
            (3, "GS202603030002", dt.date(2026, 3, 3), "4511", Decimal("1280.50"), "open"),
            (4, "GS202603050003", dt.date(2026, 3, 5), "7011", Decimal("-200.00"), "open")]

    def test_the_same_file_again_changes_nothing(self, card_world, people):  # noqa: ANN001
        history = CardTransaction.history.count()
        again = cards.card_file_import(CARD_FILE, "GSK_440300101_202603.csv", people.reviewer,
                                       as_of=AS_OF)
        assert (again.stored, again.skipped, len(again.issues)) == (0, 3, 2)
        assert CardTransaction.objects.count() == 3
        assert CardTransaction.history.count() == history

    def test_only_the_treasury_imports(self, card_world, people):  # noqa: ANN001
        with pytest.raises(Exception, match="head"):
            cards.card_file_import(CARD_FILE, "x.csv", people.head, as_of=AS_OF)


class TestCardRepayment:
    def test_three_transactions_repaid_through_vouchers_and_the_bank_result(
            self, card_world, people, agent, user):  # noqa: ANN001
        card, _report = card_world
        req = repay(people, card)
        # 356.00 + 1,280.50 − 200.00 = 1,436.50 to the card's account, an individual payee
        assert (req.amount, req.status) == (Decimal("1436.50"), "unit_review")
        payee = Payee.objects.get(pk=req.payee_id)
        assert (payee.account_number, payee.name, payee.is_individual, payee.unit_id) == (
            CARD, "张伟", True, card.organization_id)
        assert set(CardTransaction.objects.values_list("status", "request_id")) == {
            ("matched", req.pk)}
        assert bal("9201") == Decimal("1436.50")
        assert bal("9101") == Decimal("3563.50")  # 5,000.00 − 1,436.50

        report = pay(people, agent, user, req)
        assert (report.stored, report.issues) == (1, [])
        assert set(CardTransaction.objects.values_list("status", flat=True)) == {"repaid"}
        assert bal("9301") == Decimal("1436.50") and bal("9201") == Decimal("0.00")
        assert bal("9101") == Decimal("3563.50")
        # nothing open is left: the refund alone could not be repaid either
        with pytest.raises(cards.CardSelection):
            repay(people, card)

    def test_a_returned_repayment_puts_the_transactions_back_to_open(
            self, card_world, people, agent, user):  # noqa: ANN001
        card, _report = card_world
        req = repay(people, card)
        pay(people, agent, user, req, status="退票", reason="卡片已注销")
        assert set(CardTransaction.objects.values_list("status", "request_id")) == {("open", None)}
        assert bal("9101") == Decimal("5000.00") and bal("9201") == Decimal("0.00")

    def test_a_rejected_repayment_puts_them_back_and_a_refund_alone_is_refused(
            self, card_world, people):  # noqa: ANN001
        card, _report = card_world
        req = repay(people, card)
        services.payment_request_reject(request=req, user=people.head, comment="发票不全",
                                        as_of=AS_OF)
        assert set(CardTransaction.objects.values_list("status", flat=True)) == {"open"}
        refund = CardTransaction.objects.filter(amount__lt=0)
        with pytest.raises(cards.CardNothingToRepay, match="-200.00"):
            cards.card_repayment_file(transactions=list(refund), dims=dims(), year=YEAR,
                                      user=people.filer, as_of=AS_OF)


class TestCardOverdue:
    def test_alert_on_day_31_after_posting_not_on_day_30_and_once(self, card_world):  # noqa: ANN001
        # rule card_overdue, days = 30: an open charge is overdue when more than 30 days
        # lie between its posting date and the sweep date. GS…0001 posted 1 March:
        # 31 March is day 30 (no alert), 1 April day 31 (alert). GS…0002 (3 March) is on
        # day 29 then, the refund owes nothing: one alert of 356.00 for the card.
        def card_alerts() -> list[Alert]:
            return list(Alert.objects.filter(rule__code="card_overdue"))

        monitoring_sweep(on=dt.date(2026, 3, 31), as_of=dt.datetime(2026, 3, 31, 23, tzinfo=SH))
        assert card_alerts() == []
        monitoring_sweep(on=dt.date(2026, 4, 1), as_of=dt.datetime(2026, 4, 1, 23, tzinfo=SH))
        (alert,) = card_alerts()
        assert (alert.unit_code, alert.amount_fen) == ("440300101", 35600)
        assert "6222 **** **** 2222" in alert.message and "GS202603010001" in alert.message
        monitoring_sweep(on=dt.date(2026, 4, 1), as_of=dt.datetime(2026, 4, 1, 23, 30, tzinfo=SH))
        assert len(card_alerts()) == 1
        assert OfficialCard.objects.count() == 1
