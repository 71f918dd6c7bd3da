"""Result files applied in batches (bank_results_apply): the same rows, postings, history
and workflow steps as line by line, with the fallback to one line at a time."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType

from finance import selectors as ledger
from finance.ledger import entry_post
from finance.models import Entry, WorkflowStep
from payments.models import BankFile, BankResult, PaymentRequest, Voucher
from tests.helpers import ON, commit_lines
from tests.payments.sample_day import build
from tests.payments.test_bank import PAID, RESULTS, START, bal, imp

HEADER = ("支付凭证号,付款账号,付款户名,收款账号,收款户名,收款行,金额,交易状态,银行流水号,"
          "交易时间,失败原因\n")


def _line(number: str, amount: str, ok: bool, ref: str, reason: str = "") -> str:
    return (f"{number},44030100040012345,x,6217000010012345678,x,x,\"{amount}\","
            f"{'成功' if ok else '失败'},{ref},2026-10-15 11:00:00,{reason}\n")


@pytest.fixture
def day(ledger, people, agent, user):  # noqa: ANN001
    return build(people, agent, user)


class TestResultBatches:
    @pytest.mark.parametrize("chunk", [500, 1, 3])
    def test_writes_what_each_line_writes(self, day, user, settings, chunk):
        settings.PAYMENTS_RESULT_CHUNK = chunk
        report = imp(RESULTS, user)

        assert (report.stored, report.issues) == (4, [])
        assert bal("9301") == PAID and bal("9101") == START - PAID and bal("9201") == 0
        refs = dict(BankResult.objects.values_list("voucher__number", "bank_ref"))
        for v in Voucher.objects.select_related("request"):
            why = f"bank result {refs[v.number]}"
            assert v.history.latest().history_change_reason == why
            assert v.request.history.latest().history_change_reason == why
            step = WorkflowStep.objects.get(
                doc_type=ContentType.objects.get_for_model(PaymentRequest),
                doc_id=str(v.request_id), action="bank_result")
            assert (step.from_state, step.to_state) == ("vouchered", v.request.status)
            assert step.comment == (refs[v.number] if v.status == "paid" else "收款账号户名不符")
        for req in PaymentRequest.objects.filter(status="paid").select_related("pay_entry"):
            pay = req.pay_entry
            assert pay.idempotency_key == f"{req.tracking_id}:pay"
            assert pay.description == f"国库集中支付 {req.voucher.number}"
            assert pay.source == req.voucher and pay.kind == "payment"
        returned = PaymentRequest.objects.get(status="returned")
        release = Entry.objects.get(idempotency_key=f"{returned.tracking_id}:release")
        assert release.reverses_id == returned.commit_entry_id
        assert release.description.endswith(": 退票 收款账号户名不符")
        assert release.source == returned  # the commitment's source, as entry_reverse names it
        assert ledger.ledger_verify().ok

    def test_a_voucher_twice_in_a_file_is_applied_line_by_line(self, day, user):
        text = HEADER + _line("ZF2026100002", "3,280.50", True, "BK1") + _line(
            "ZF2026100002", "3,280.50", False, "BK2", "账户已销户")
        report = imp(RESULTS, user, text.encode("gbk"), "twice.csv")

        assert (report.stored, report.issues) == (2, [])
        req = Voucher.objects.get(number="ZF2026100002").request
        assert (req.status, req.return_reason) == ("returned", "账户已销户")
        assert Entry.objects.filter(tracking_id=req.tracking_id, kind="reversal").count() == 2
        assert bal("9301") == 0 and bal("9201") == Decimal("1266640.50") - Decimal("3280.50")

    def test_a_refused_posting_is_reported_for_its_line_and_the_others_are_stored(self, day,
                                                                                   user):
        req = Voucher.objects.get(number="ZF2026100001").request
        # the payment's idempotency key taken by other content: the batch's posting fails
        entry_post(lines=commit_lines(Decimal("1.00")), description="x", user=user, on=ON,
                   idempotency_key=f"{req.tracking_id}:pay")
        report = imp(RESULTS, user)

        assert report.stored == 3
        assert [(i.line, i.field) for i in report.issues] == [(2, "voucher_number")]
        assert "already used" in report.issues[0].reason
        assert Voucher.objects.get(number="ZF2026100001").status == "issued"
        assert sorted(Voucher.objects.values_list("status", flat=True)) == [
            "issued", "paid", "paid", "returned"]

    def test_a_file_of_refused_lines_leaves_no_file_behind(self, day, user):
        text = HEADER + _line("ZF2099000001", "1.00", True, "BK1") + _line(
            "ZF2026100001", "1.00", True, "BK2")
        report = imp(RESULTS, user, text.encode("gbk"), "refused.csv")

        assert report.stored == 0 and [i.line for i in report.issues] == [2, 3]
        assert str(report.issues[0]) == "refused.csv:2: voucher_number: Voucher ZF2099000001 is unknown."
        assert BankFile.objects.count() == 0 and BankResult.objects.count() == 0

    def test_a_wrong_state_line_is_refused_and_the_rest_of_its_batch_stored(self, day, user):
        imp(RESULTS, user)  # ZF2026100001 paid, ZF2026100003 refused (失败) at 10:02:19
        text = (HEADER + _line("ZF2026100001", "12,500.00", True, "BK9")
                + _line("ZF2026100002", "3,280.50", False, "BK10", "账户已销户")
                + _line("ZF2026100003", "860.00", True, "BK11"))  # 成功 at 11:00, after it
        report = imp(RESULTS, user, text.encode("gbk"), "again.csv")

        # the paid voucher said again under a new bank reference is known, not an issue;
        # a 成功 after the refusal contradicts what is applied
        assert (report.stored, report.skipped) == (1, 1)
        assert [(i.line, i.field) for i in report.issues] == [(4, "voucher_number")]
        assert "returned" in report.issues[0].reason
        assert Voucher.objects.get(number="ZF2026100002").status == "returned"
        assert Voucher.objects.get(number="ZF2026100003").status == "returned"

    def test_a_bank_reference_twice_in_a_file_is_reported_and_applied_once(self, day, user):
        text = HEADER + _line("ZF2026100002", "3,280.50", True, "BK7") + _line(
            "ZF2026100001", "12,500.00", True, "BK7")
        report = imp(RESULTS, user, text.encode("gbk"), "ref_twice.csv")

        assert report.stored == 1
        assert [str(i) for i in report.issues] == [
            "ref_twice.csv:3: bank_ref: BK7 appears twice in the file"]
        assert Voucher.objects.get(number="ZF2026100001").status == "issued"
        assert BankResult.objects.get().voucher.number == "ZF2026100002"
