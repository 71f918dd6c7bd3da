"""工资统发: a unit's payroll file as its HR system writes it, checked against the 人员类
indicator, paid person by person through requests, vouchers and the agent bank's result
file, one 退票 paid again to the corrected account. Figures worked by hand."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from budgets.models import Project
from finance import selectors as ledger
from finance.models import Entry
from payments import services
from payments.models import PaymentRequest, PayrollBatch, PayrollLine
from payments.services import payroll
from tests.helpers import YEAR, dims, indicator_approve
from tests.payments.conftest import AS_OF, SH, payee

PROJECT = "440300101RY001"  # 在职人员工资 (人员类)
WAGES = dims(economic="30101", project=PROJECT)  # 基本工资
SHORT = dims(economic="30102", project=PROJECT)  # 津贴补贴: 30,000.00 only

# As the school's HR system exports it (Excel "CSV UTF-8": BOM, CRLF, Chinese header).
#   张伟 12,345.67 − (456.78 + 1,111.11 + 1,481.48 = 3,049.37) = 9,296.30
#   李娜  9,800.00 − (210.00 + 882.00 + 1,176.00 = 2,268.00)   = 7,532.00
#   王芳  8,650.50 − (95.50 + 778.55 + 1,038.06 = 1,912.11)    = 6,738.39
# gross 12,345.67 + 9,800.00 + 8,650.50 = 30,796.17; tax 456.78 + 210.00 + 95.50 = 762.28;
# social 1,111.11 + 882.00 + 778.55 = 2,771.66; housing 1,481.48 + 1,176.00 + 1,038.06 =
# 3,695.54; net 9,296.30 + 7,532.00 + 6,738.39 = 23,566.69 (+ 7,229.48 withheld = gross)
PAYROLL = (
    "\ufeff工号,姓名,身份证号,开户银行,银行账号,应发工资,代扣个税,代扣社保,代扣公积金,实发工资\r\n"
    "S001,张伟,440305198503121231,中国工商银行深圳南山支行,6222024000012345678,"
    "\"12,345.67\",456.78,\"1,111.11\",\"1,481.48\",\"9,296.30\"\r\n"
    "S002,李娜,440304199007212343,中国建设银行深圳福田支行,6217002000098765432,"
    "9800.00,210.00,882.00,1176.00,7532.00\r\n"
    "S003,王芳,44030619881105345x,招商银行深圳分行营业部,6214830000555566,"
    "8650.50,95.50,778.55,1038.06,6738.39\r\n"
).encode("utf-8")

# The agent bank's (ICBC Shenzhen) result file, GBK, as in payments/data/bank_profiles.json:
# vouchers ZF2026030001–03 are the three people (line order), 04–06 the withholdings.
# 李娜's 7,532.00 comes back: 退票.
RESULTS = (
    "支付凭证号,付款账号,付款户名,收款账号,收款户名,收款行,金额,交易状态,银行流水号,交易时间,失败原因\n"
    "ZF2026030001,44030100040012345,深圳市第一中学,6222024000012345678,张伟,中国工商银行深圳南山支行,"
    "\"9,296.30\",成功,GH20260311000001,2026-03-11 09:30:00,\n"
    "ZF2026030002,44030100040012345,深圳市第一中学,6217002000098765432,李娜,中国建设银行深圳福田支行,"
    "\"7,532.00\",退票,GH20260311000002,2026-03-11 09:30:01,账户已冻结\n"
    "ZF2026030003,44030100040012345,深圳市第一中学,6214830000555566,王芳,招商银行深圳分行营业部,"
    "\"6,738.39\",成功,GH20260311000003,2026-03-11 09:30:02,\n"
    "ZF2026030004,44030100040012345,深圳市第一中学,4403010000000001,国家税务总局深圳市南山区税务局,"
    "中国工商银行深圳分行,762.28,成功,GH20260311000004,2026-03-11 09:30:03,\n"
    "ZF2026030005,44030100040012345,深圳市第一中学,4403010000000002,深圳市社会保险基金管理局,"
    "中国工商银行深圳分行,\"2,771.66\",成功,GH20260311000005,2026-03-11 09:30:04,\n"
    "ZF2026030006,44030100040012345,深圳市第一中学,4403010000000003,深圳市住房公积金管理中心,"
    "中国工商银行深圳分行,\"3,695.54\",成功,GH20260311000006,2026-03-11 09:30:05,\n"
).encode("gbk")


def bal(account: str, d: object = WAGES) -> Decimal:
    return ledger.balance(account=account, year=YEAR, unit="440300101",
                          economic=d.economic, project=d.project)


@pytest.fixture
def school(fiscal_year, orgs, people, banks, agent, user):  # noqa: ANN001, ARG001
    """The 人员类 project in the library, 40,000.00 on 基本工资 and 30,000.00 on 津贴补贴,
    March's plan of 40,000.00 on 基本工资, the three collecting payees."""
    Project.objects.create(code=PROJECT, name="在职人员工资", unit=orgs["u1"],
                           category="personnel", total_amount=Decimal("480000.00"),
                           status="in_library")
    indicator_approve(Decimal("40000.00"), WAGES)
    indicator_approve(Decimal("30000.00"), SHORT)
    plan = services.plan_apply(dims=WAGES, year=YEAR, month=3, amount=Decimal("40000.00"),
                               user=user, as_of=AS_OF)
    services.plan_approve(plan=plan, user=user, as_of=AS_OF)
    collect = {kind: payee(user, name, account, "102584000002", "中国工商银行", "深圳分行")
               for kind, name, account in (
                   ("tax", "国家税务总局深圳市南山区税务局", "4403010000000001"),
                   ("social", "深圳市社会保险基金管理局", "4403010000000002"),
                   ("housing", "深圳市住房公积金管理中心", "4403010000000003"))}
    return collect


def imp(people, content: bytes = PAYROLL, d: object = WAGES, name: str = "工资表_202603.csv"):  # noqa: ANN001, ANN201
    return payroll.payroll_import(content=content, filename=name, dims=d, year=YEAR, month=3,
                                  user=people.filer, as_of=AS_OF)


class TestPayrollImport:
    def test_stores_the_lines_and_totals_and_masks_personal_data(self, school, people):  # noqa: ANN001, ARG002
        report = imp(people)
        assert (report.stored, report.issues) == (3, [])
        b = report.batch
        assert (b.staff, b.gross, b.tax, b.social, b.housing, b.net) == (
            3, Decimal("30796.17"), Decimal("762.28"), Decimal("2771.66"), Decimal("3695.54"),
            Decimal("23566.69"))
        wang = PayrollLine.objects.get(staff_no="S003")
        assert (wang.id_masked, wang.account_masked) == ("440***********345X",
                                                         "6214********5566")
        # the filer and the treasury see the full values, the unit head does not
        assert payroll.line_display(wang, people.filer)["id_number"] == "44030619881105345X"
        assert payroll.line_display(wang, people.reviewer)["account"] == "6214830000555566"
        assert payroll.line_display(wang, people.head) == {
            "id_number": "440***********345X", "account": "6214********5566"}

    def test_a_net_not_gross_less_deductions_is_reported_by_line_and_the_others_kept(
            self, school, people):  # noqa: ANN001, ARG002
        # 李娜's 实发 one cent high: 9,800.00 − 2,268.00 = 7,532.00, the file says 7,532.01
        bad = PAYROLL.replace(b"1176.00,7532.00", b"1176.00,7532.01")
        report = imp(people, bad, name="bad.csv")
        assert [(i.file, i.line, i.field) for i in report.issues] == [("bad.csv", 3, "net")]
        assert "7,532.01" in report.issues[0].reason and "7,532.00" in report.issues[0].reason
        assert report.stored == 2
        # 12,345.67 + 8,650.50 = 20,996.17 of the two good lines
        assert report.batch.gross == Decimal("20996.17")
        with pytest.raises(payroll.PayrollHasIssues):
            payroll.payroll_submit(batch=report.batch, user=people.filer,
                                   withholding_payees=school, as_of=AS_OF)

    def test_the_same_file_again_changes_nothing(self, school, people):  # noqa: ANN001, ARG002
        first = imp(people).batch
        history = PayrollBatch.history.count()
        again = imp(people)
        assert again.unchanged and again.batch.pk == first.pk and again.stored == 0
        assert PayrollBatch.history.count() == history
        assert PayrollLine.objects.count() == 3

    def test_gbk_file_with_a_duplicate_staff_number_and_a_bad_account(self, school, people):  # noqa: ANN001, ARG002
        text = PAYROLL.decode("utf-8").lstrip("\ufeff").replace("S003", "S001").replace(
            "6217002000098765432", "62170020A0098765432")
        report = imp(people, text.encode("gbk"))
        assert [(i.line, i.field) for i in report.issues] == [(3, "account"), (4, "staff_no")]
        assert report.stored == 1


class TestPayrollPayment:
    def test_gross_above_the_personnel_indicator_is_refused_naming_it_and_the_shortfall(
            self, school, people):  # noqa: ANN001
        batch = imp(people, d=SHORT).batch
        with translation.override("zh-hans"), pytest.raises(
                payroll.PayrollIndicatorShort) as exc:
            payroll.payroll_submit(batch=batch, user=people.filer, withholding_payees=school,
                                   as_of=AS_OF)
        # 30,796.17 − 30,000.00 = 796.17 short
        with translation.override("zh-hans"):
            assert str(exc.value) == (
                "人员类指标 2050203/30102/1/440300101RY001 可用 30,000.00，本月工资应发 "
                "30,796.17，缺口 796.17，工资统发被拒绝。")
        assert PaymentRequest.objects.count() == 0 and bal("9201", SHORT) == Decimal("0.00")

    def test_a_request_over_the_plan_refuses_the_whole_payroll(self, school, people, user):  # noqa: ANN001
        """March's plan cut to 25,000.00: the three people (23,566.69) and the tax
        (762.28, 24,328.97 in all) fit; the social insurance (2,771.66) does not: 671.03
        left. Nothing of the payroll stays."""
        from payments.models import PaymentPlan  # noqa: PLC0415

        plan = PaymentPlan.objects.get(year=YEAR, month=3, economic=WAGES.economic,
                                       project=WAGES.project)
        services.plan_approve(plan=plan, amount=Decimal("25000.00"), user=user, as_of=AS_OF)
        batch = imp(people).batch
        with pytest.raises(services.errors.PlanExceeded) as exc:
            payroll.payroll_submit(batch=batch, user=people.filer, withholding_payees=school,
                                   as_of=AS_OF)
        assert "671.03" in str(exc.value) and "2,771.66" in str(exc.value)
        assert PaymentRequest.objects.count() == 0 and bal("9201") == Decimal("0.00")
        assert PayrollBatch.objects.get(pk=batch.pk).status == "draft"

    def test_paid_with_one_return_then_paid_again(self, school, people, agent, user):  # noqa: ANN001, PLR0915
        batch = imp(people).batch
        payroll.payroll_submit(batch=batch, user=people.filer, withholding_payees=school,
                               as_of=AS_OF)
        assert bal("9201") == Decimal("30796.17")  # the gross committed
        assert bal("9101") == Decimal("9203.83")  # 40,000.00 − 30,796.17
        payroll.payroll_approve(batch=batch, user=people.head, as_of=AS_OF)
        payroll.payroll_approve(batch=batch, user=people.reviewer, as_of=AS_OF)
        vb = payroll.payroll_voucher(batch=batch, agent_account=agent, user=people.reviewer,
                                     as_of=AS_OF)
        assert sorted(vb.vouchers.values_list("number", "amount")) == [
            ("ZF2026030001", Decimal("9296.30")), ("ZF2026030002", Decimal("7532.00")),
            ("ZF2026030003", Decimal("6738.39")), ("ZF2026030004", Decimal("762.28")),
            ("ZF2026030005", Decimal("2771.66")), ("ZF2026030006", Decimal("3695.54"))]

        report = services.bank_file_import(content=RESULTS, filename="ICBC_20260311.csv",
                                           user=user, as_of=AS_OF)
        assert (report.stored, report.issues) == (6, [])
        # paid 30,796.17 − 7,532.00 = 23,264.17; 李娜's 7,532.00 back on the indicator
        assert bal("9301") == Decimal("23264.17")
        assert bal("7101") == Decimal("23264.17") and bal("5001") == Decimal("23264.17")
        assert bal("9201") == Decimal("0.00")
        assert bal("9101") == Decimal("16735.83")  # 9,203.83 + 7,532.00
        li = PayrollLine.objects.get(staff_no="S002")
        assert (li.request.status, li.request.return_reason) == ("returned", "账户已冻结")
        fig = payroll.payroll_figures(batch)
        assert (fig.paid, fig.returned, fig.returned_lines) == (
            Decimal("23264.17"), Decimal("7532.00"), 1)

        returned = li.request.tracking_id
        new = payroll.payroll_line_repay(line=li, account="6217002000011112222",
                                         bank_name="中国建设银行深圳福田支行",
                                         user=people.filer, as_of=AS_OF)
        li.refresh_from_db()
        assert (li.request_id, li.account_masked) == (new.pk, "6217***********2222")
        assert services.refiled_from(new) == returned
        assert bal("9101") == Decimal("9203.83")  # 16,735.83 − 7,532.00 committed again
        payroll.payroll_approve(batch=batch, user=people.head, as_of=AS_OF)
        payroll.payroll_approve(batch=batch, user=people.reviewer, as_of=AS_OF)
        payroll.payroll_voucher(batch=batch, agent_account=agent, user=people.reviewer,
                                as_of=AS_OF)
        again = (
            "支付凭证号,付款账号,付款户名,收款账号,收款户名,收款行,金额,交易状态,银行流水号,交易时间,失败原因\n"
            "ZF2026030007,44030100040012345,深圳市第一中学,6217002000011112222,李娜,"
            "中国建设银行深圳福田支行,\"7,532.00\",成功,GH20260312000001,2026-03-12 10:00:00,\n"
        ).encode("gbk")
        report = services.bank_file_import(content=again, filename="ICBC_20260312.csv",
                                           user=user, as_of=dt.datetime(2026, 3, 12, 11, tzinfo=SH))
        assert report.issues == []
        assert bal("9301") == Decimal("30796.17")  # everyone paid: the gross
        assert bal("9101") == Decimal("9203.83") and bal("9201") == Decimal("0.00")
        fig = payroll.payroll_figures(batch)
        assert (fig.paid, fig.returned, fig.returned_lines) == (
            Decimal("30796.17"), Decimal("0.00"), 0)
        assert Entry.objects.filter(tracking_id=new.tracking_id, kind="payment").count() == 1
