"""Issue 17's reports, replayed with files typed out here as the banks write them (never
produced by our writers): the day of the samples — vouchers ZF2026100001 12,500.00,
ZF2026100002 3,280.50, ZF2026100003 860.00, ZF2026100004 1,250,000.00 on the agent
account 44030100040012345 — with expected figures worked out by hand."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command

from finance import selectors as ledger
from payments import services
from payments.models import BankResult, ReconException, StatementLine, Voucher
from tests.conftest import SAMPLES
from tests.helpers import YEAR
from tests.payments.sample_day import build

MT940 = SAMPLES / "bank" / "statement_20261015.mt940"
RESULTS = SAMPLES / "bank" / "payment_results_20261015_gbk.csv"

# UTF-8 with a byte-order mark, slashed dates, 退票, amounts with thousands separators,
# and a last line with three decimals (招商银行's layout)
CMB_RESULTS = ("\ufeff支付凭证号,付款账号,付款户名,收款账号,收款户名,收款行,金额,交易状态,银行流水号,交易时间,失败原因\r\n"
               "ZF2026100001,44030100040012345,零余额账户,6222020200112233445,深圳市南山某科技有限公司,,\"12,500.00\",成功,CMB0001,2026/10/15 09:15:02,\r\n"
               "ZF2026100002,44030100040012345,零余额账户,6217000010012345678,深圳市福田某印务有限公司,,\"3,280.50\",成功,CMB0002,2026/10/15 09:15:09,\r\n"
               "ZF2026100003,44030100040012345,零余额账户,6228480010099887766,张某某,,860.00,退票,CMB0003,2026/10/15 09:16:40,收款人账户已销户\r\n"
               "ZF2026100004,44030100040012345,零余额账户,755912345610901,深圳市某建设工程有限公司,,\"1,250,000.005\",成功,CMB0004,2026/10/15 09:17:00,\r\n"
               ).encode("utf-8")

# camt.053.001.02: one booked entry batches ZF2026100001 and ZF2026100002 (15,780.50)
CAMT_V02_BATCH = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>CMB20261015STMT</MsgId><CreDtTm>2026-10-15T20:00:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>44030100040012345-20261015</Id><CreDtTm>2026-10-15T20:00:00</CreDtTm>
   <Acct><Id><Othr><Id>44030100040012345</Id></Othr></Id><Ccy>CNY</Ccy></Acct>
   <Ntry>
    <NtryRef>E0001</NtryRef><Amt Ccy="CNY">15780.50</Amt><CdtDbtInd>DBIT</CdtDbtInd>
    <Sts>BOOK</Sts><BookgDt><Dt>2026-10-15</Dt></BookgDt><ValDt><Dt>2026-10-15</Dt></ValDt>
    <AcctSvcrRef>E0001</AcctSvcrRef>
    <BkTxCd><Prtry><Cd>PMNT</Cd></Prtry></BkTxCd>
    <NtryDtls>
     <Btch><NbOfTxs>2</NbOfTxs></Btch>
     <TxDtls>
      <Refs><AcctSvcrRef>E0001-1</AcctSvcrRef><EndToEndId>ZF2026100001</EndToEndId></Refs>
      <AmtDtls><TxAmt><Amt Ccy="CNY">12500.00</Amt></TxAmt></AmtDtls>
      <RltdPties><Cdtr><Nm>深圳市南山某科技有限公司</Nm></Cdtr>
       <CdtrAcct><Id><Othr><Id>6222020200112233445</Id></Othr></Id></CdtrAcct></RltdPties>
     </TxDtls>
     <TxDtls>
      <Refs><AcctSvcrRef>E0001-2</AcctSvcrRef><EndToEndId>ZF2026100002</EndToEndId></Refs>
      <AmtDtls><TxAmt><Amt Ccy="CNY">3280.50</Amt></TxAmt></AmtDtls>
      <RltdPties><Cdtr><Nm>深圳市福田某印务有限公司</Nm></Cdtr>
       <CdtrAcct><Id><Othr><Id>6217000010012345678</Id></Othr></Id></CdtrAcct></RltdPties>
     </TxDtls>
    </NtryDtls>
   </Ntry>
   <Ntry>
    <NtryRef>E0002</NtryRef><Amt Ccy="CNY">1250000.00</Amt><CdtDbtInd>DBIT</CdtDbtInd>
    <Sts>BOOK</Sts><BookgDt><Dt>2026-10-15</Dt></BookgDt><ValDt><Dt>2026-10-15</Dt></ValDt>
    <AcctSvcrRef>E0002</AcctSvcrRef><BkTxCd/>
    <NtryDtls><TxDtls>
     <Refs><EndToEndId>ZF2026100004</EndToEndId></Refs>
     <AmtDtls><TxAmt><Amt Ccy="CNY">1250000.00</Amt></TxAmt></AmtDtls>
    </TxDtls></NtryDtls>
   </Ntry>
   <Ntry>
    <NtryRef>E0003</NtryRef><Amt Ccy="CNY">1265780.50</Amt><CdtDbtInd>CRDT</CdtDbtInd>
    <Sts>BOOK</Sts><BookgDt><Dt>2026-10-15</Dt></BookgDt><ValDt><Dt>2026-10-15</Dt></ValDt>
    <AcctSvcrRef>E0003</AcctSvcrRef><BkTxCd/>
    <AddtlNtryInf>国库单一账户清算划款</AddtlNtryInf>
   </Ntry>
  </Stmt>
 </BkToCstmrStmt>
</Document>
""".encode()

STRANGER_MT940 = (b":20:STMT20261015\r\n:25:44039999999999999\r\n:28C:00001/001\r\n"
                  b":60F:C261015CNY0,00\r\n"
                  b":61:2610151015D500,00NTRFNONREF//X1\r\n:86:/REMI/UNKNOWN\r\n"
                  b":62F:C261015CNY0,00\r\n-\r\n")
USD_MT940 = (b":20:STMT20261015U\r\n:25:44030100040012345\r\n:28C:00002/001\r\n"
             b":60F:C261015USD0,00\r\n"
             b":61:2610151015D120,00NTRFNONREF//U1\r\n:86:/REMI/FX FEE\r\n"
             b":62F:C261015USD0,00\r\n-\r\n")


def imp(content: bytes, name: str, user: object) -> object:
    return services.bank_file_import(content=content, filename=name, user=user)


def available() -> Decimal:
    return ledger.balance(account="9101", year=YEAR, unit="440300101")


@pytest.fixture
def day(ledger, people, agent, user):  # noqa: ANN001
    return build(people, agent, user)


def open_kinds(account: str = "44030100040012345") -> list[str]:
    return sorted(ReconException.objects.filter(account=account, status="open")
                  .values_list("kind", flat=True))


class TestTheResultFileOfTheIssue:
    def test_bom_slashed_dates_and_tuipiao_are_read_and_the_return_released(self, day, user):
        before = available()
        report = imp(CMB_RESULTS, "CMB_20261015.csv", user)

        assert (report.format, report.profile, report.stored) == ("results_csv", "cmb-sz", 3)
        assert [(i.line, i.field) for i in report.issues] == [(5, "amount")]
        assert "1,250,000.005" in report.issues[0].reason
        assert Voucher.objects.get(number="ZF2026100003").status == "returned"
        res = BankResult.objects.get(voucher__number="ZF2026100003")
        assert (res.outcome, res.status_word, res.reason) == ("returned", "退票", "收款人账户已销户")
        assert available() - before == Decimal("860.00")  # the 退票's commitment released
        assert Voucher.objects.get(number="ZF2026100004").status == "issued"  # not guessed


class TestABatchAndTheSameDayInMt940:
    def test_the_batch_is_two_lines_and_the_mt940_adds_nothing(self, day, user):
        assert imp(RESULTS.read_bytes(), RESULTS.name, user).issues == []
        camt = imp(CAMT_V02_BATCH, "cmb_20261015.camt053.xml", user)
        assert (camt.format, camt.stored, camt.issues, camt.exceptions) == ("camt053", 4, [], 0)
        lines = {ln.end_to_end_id: ln for ln in StatementLine.objects.all()}
        assert lines["ZF2026100001"].amount == Decimal("12500.00")
        assert lines["ZF2026100002"].amount == Decimal("3280.50")
        assert lines["ZF2026100001"].batch_ref == lines["ZF2026100002"].batch_ref == "E0001"
        assert {ln.matched_by for ln in lines.values()} == {"voucher", "clearing"}

        mt = imp(MT940.read_bytes(), MT940.name, user)  # its own bank references
        assert (mt.stored, mt.skipped, mt.issues) == (0, 4, [])
        assert StatementLine.objects.count() == 4
        assert sum(ln.amount for ln in StatementLine.objects.filter(credit=False)) == Decimal(
            "1265780.50")
        assert open_kinds() == []


class TestStatementBeforeResults:
    def test_the_later_result_file_closes_what_the_statement_opened(self, day, user):
        first = imp(MT940.read_bytes(), MT940.name, user)
        assert first.issues == []
        # no voucher is paid yet: three debits without voucher, the clearing credit
        # 1,265,780.50 against 0.00 paid
        assert open_kinds() == ["clearing_difference"] + ["line_without_voucher"] * 3
        clearing = ReconException.objects.get(kind="clearing_difference")
        assert (clearing.expected, clearing.actual) == (Decimal("0.00"), Decimal("1265780.50"))

        later = imp(RESULTS.read_bytes(), RESULTS.name, user)
        assert later.issues == [] and later.matched == 4
        assert open_kinds() == []
        closed = ReconException.objects.filter(status="resolved")
        assert closed.count() == 4
        for exc in closed:
            assert exc.auto and RESULTS.name in exc.resolution
            last = exc.history.first()
            assert last.status == "resolved" and RESULTS.name in last.history_change_reason

    def test_a_manual_resolution_stays_and_reconciling_again_changes_nothing(self, day, user,
                                                                             capsys):
        imp(RESULTS.read_bytes(), RESULTS.name, user)
        imp(MT940.read_bytes(), MT940.name, user)
        fee = (b":20:FEE\r\n:25:44030100040012345\r\n:28C:00003/001\r\n:60F:C261015CNY0,00\r\n"
               b":61:2610151015D12,50NTRFNONREF//FEE1\r\n:86:/REMI/CHARGES\r\n"
               b":62F:C261015CNY0,00\r\n-\r\n")
        imp(fee, "fee.mt940", user)
        exc = ReconException.objects.get(status="open")
        assert exc.kind == "line_without_voucher" and exc.actual == Decimal("12.50")
        services.recon_exception_resolve(exception=exc, reason="银行手续费", user=user)
        history = ReconException.history.count()

        call_command("reconcile", "--date", "2026-10-15")
        assert open_kinds() == []
        assert ReconException.objects.get(pk=exc.pk).resolution == "银行手续费"
        assert ReconException.history.count() == history  # nothing to change, nothing written


class TestNeverSilent:
    def test_a_line_on_an_unknown_account_is_an_exception(self, day, user):
        report = imp(STRANGER_MT940, "stranger.mt940", user)
        assert (report.stored, report.issues) == (1, [])
        assert open_kinds("44039999999999999") == ["unknown_account"]

    def test_a_line_in_another_currency_is_an_exception(self, day, user):
        report = imp(USD_MT940, "usd.mt940", user)
        assert (report.stored, report.issues) == (1, [])
        line = StatementLine.objects.get(bank_ref="U1")
        assert (line.currency, line.matched_by) == ("USD", "")
        assert open_kinds() == ["foreign_currency"]


class TestPendingThenFinal:
    def test_a_pending_word_applies_nothing_and_the_final_one_applies_once(self, day, user):
        head = "支付凭证号,付款账号,付款户名,收款账号,收款户名,收款行,金额,交易状态,银行流水号,交易时间,失败原因\r\n"
        pending = (head + "ZF2026100001,44030100040012345,x,6222020200112233445,x,,12500.00,处理中,"
                   "P1,2026-10-15 09:00:00,\r\n").encode("gbk")
        report = imp(pending, "pending.csv", user)
        assert (report.stored, report.pending, report.issues) == (0, 1, [])
        assert Voucher.objects.get(number="ZF2026100001").status == "issued"
        assert imp(RESULTS.read_bytes(), RESULTS.name, user).stored == 4
        assert Voucher.objects.get(number="ZF2026100001").status == "paid"
