"""Payment vouchers per agent bank: numbers, 大写, bank CSV, pain.001, clearing notice."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from lxml import etree

from payments import errors, selectors, services
from payments.models import ClearingNotice
from tests.payments.sample_day import build

NS = {"p": selectors.PAIN}


@pytest.fixture
def day(ledger, people, agent, user):  # noqa: ANN001
    return build(people, agent, user)


class TestVoucherBatch:
    def test_numbers_vouchers_per_month_and_writes_the_amount_in_capitals(self, day):
        got = [(v.number, v.amount, v.amount_capital) for v in day.batch.vouchers.all()]
        assert got == [
            ("ZF2026100001", Decimal("12500.00"), "壹万贰仟伍佰元整"),
            ("ZF2026100002", Decimal("3280.50"), "叁仟贰佰捌拾元伍角"),
            ("ZF2026100003", Decimal("860.00"), "捌佰陆拾元整"),
            ("ZF2026100004", Decimal("1250000.00"), "壹佰贰拾伍万元整"),
        ]
        assert {r.status for r in day.requests} == {"approved"}
        for r in day.requests:
            r.refresh_from_db()
        assert {r.status for r in day.requests} == {"vouchered"}

    def test_refuses_when_nothing_is_approved(self, day, agent, people):
        with pytest.raises(errors.NothingToVoucher):
            services.voucher_batch_create(agent_account=agent, user=people.reviewer)

    def test_the_days_clearing_limit_notice_totals_the_vouchers(self, day):
        notice = ClearingNotice.objects.get()
        assert (notice.date.isoformat(), notice.count, notice.total) == (
            "2026-10-15", 4, Decimal("1266640.50"))
        assert notice.amount_capital == "壹佰贰拾陆万陆仟陆佰肆拾元伍角"
        rows = list(csv.reader(io.StringIO(
            selectors.clearing_notice_csv(notice=notice).decode("gb18030"))))
        assert rows[0] == ["清算额度通知单", "2026-10-15"]
        assert rows[-2] == ["合计", "4", "1266640.50"]

    def test_the_bank_csv_lists_every_voucher_in_gbk(self, day):
        rows = list(csv.DictReader(io.StringIO(
            selectors.voucher_batch_csv(batch=day.batch).decode("gb18030"))))
        assert [(r["支付凭证号"], r["收款账号"], r["金额"], r["收款行联行号"]) for r in rows] == [
            ("ZF2026100001", "6222020200112233445", "12500.00", "102584002015"),
            ("ZF2026100002", "6217000010012345678", "3280.50", "105584000135"),
            ("ZF2026100003", "6228480010099887766", "860.00", "103584003018"),
            ("ZF2026100004", "755912345610901", "1250000.00", "308584000013"),
        ]
        assert rows[3]["金额大写"] == "壹佰贰拾伍万元整"

    def test_the_pain001_file_carries_voucher_numbers_as_end_to_end_ids(self, day):
        doc = etree.fromstring(selectors.voucher_batch_pain001(batch=day.batch))
        assert doc.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == "4"
        assert doc.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) == "1266640.50"
        txs = doc.findall(".//p:CdtTrfTxInf", NS)
        assert [(t.findtext("p:PmtId/p:EndToEndId", namespaces=NS),
                 t.findtext("p:Amt/p:InstdAmt", namespaces=NS),
                 t.findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=NS),
                 t.findtext("p:CdtrAgt/p:FinInstnId/p:ClrSysMmbId/p:MmbId", namespaces=NS))
                for t in txs][:2] == [
            ("ZF2026100001", "12500.00", "6222020200112233445", "102584002015"),
            ("ZF2026100002", "3280.50", "6217000010012345678", "105584000135")]
        assert doc.findtext(".//p:DbtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) == "44030100040012345"
