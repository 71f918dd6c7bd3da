"""Bank feeds: the sample result file posts payments and the 退票; the sample statements
are stored once and reconcile completely (voucher ↔ bank entry ↔ clearing)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from finance import selectors as ledger
from finance.models import Entry, Job
from payments import selectors, services
from payments.models import (
    BankFile,
    BankResult,
    PaymentRequest,
    ReconException,
    StatementLine,
    Voucher,
)
from tests.conftest import SAMPLES
from tests.helpers import YEAR
from tests.payments.sample_day import AUTHORITY, build

BANK = SAMPLES / "bank"
RESULTS = BANK / "payment_results_20261015_gbk.csv"
CAMT = BANK / "statement_20261015.camt053.xml"
MT940 = BANK / "statement_20261015.mt940"
PAID = Decimal("1265780.50")
START = AUTHORITY + Decimal("1000.00")  # the `ledger` fixture's 1,000.00 plus the day's 批复


def bal(account: str) -> Decimal:
    return ledger.balance(account=account, year=YEAR, unit="440300101")


def imp(path: object, user: object, content: bytes | None = None, name: str = "") -> object:
    return services.bank_file_import(content=content if content is not None else path.read_bytes(),
                                     filename=name or path.name, user=user)


@pytest.fixture
def day(ledger, people, agent, user):  # noqa: ANN001
    return build(people, agent, user)


@pytest.fixture
def paid(day, user):  # noqa: ANN001
    report = imp(RESULTS, user)
    assert report.issues == []
    return day


class TestResultFile:
    def test_posts_the_three_payments_and_returns_the_refused_860_to_the_indicator(self, day,
                                                                                   user):
        assert bal("9201") == Decimal("1266640.50")
        before = bal("9101")
        report = imp(RESULTS, user)
        assert (report.format, report.stored, report.issues) == ("results_csv", 4, [])
        assert bal("9101") - before == Decimal("860.00")  # the 退票 back on the indicator
        assert bal("9101") == START - PAID
        assert bal("9201") == Decimal("0.00")
        assert bal("9301") == PAID
        assert bal("7101") == PAID and bal("6001") == PAID  # budget accounting
        assert bal("5001") == PAID and bal("4001") == PAID  # financial accounting
        returned = PaymentRequest.objects.get(amount=Decimal("860.00"))
        assert (returned.status, returned.return_reason) == ("returned", "收款账号户名不符")
        assert Voucher.objects.get(number="ZF2026100003").status == "returned"
        assert sorted(PaymentRequest.objects.values_list("status", flat=True)) == [
            "paid", "paid", "paid", "returned"]

    def test_the_same_file_again_changes_nothing(self, paid, user):
        entries = Entry.objects.count()
        history = PaymentRequest.history.count()
        report = imp(RESULTS, user)
        assert (report.stored, report.skipped, report.issues) == (0, 4, [])
        assert Entry.objects.count() == entries and PaymentRequest.history.count() == history

    def test_a_bad_line_is_reported_with_line_and_reason_and_the_others_are_stored(self, day,
                                                                                   user):
        text = RESULTS.read_bytes().decode("gbk").replace('"3,280.50"', '"3,280.5x"').replace(
            "ZF2026100004", "ZF2099999999")
        report = imp(RESULTS, user, text.encode("gbk"), "bad.csv")
        assert report.stored == 2
        assert [str(i) for i in report.issues] == [
            "bad.csv:3: amount: not an amount: '3,280.5x'",
            "bad.csv:5: voucher_number: Voucher ZF2099999999 is unknown.",
        ]
        assert BankResult.objects.count() == 2

    def test_a_result_whose_amount_differs_from_the_voucher_is_not_posted(self, day, user):
        text = RESULTS.read_bytes().decode("gbk").replace('"12,500.00"', '"12,500.01"')
        report = imp(RESULTS, user, text.encode("gbk"), "diff.csv")
        assert [str(i) for i in report.issues] == [
            "diff.csv:2: voucher_number: Amount 12,500.01 differs from voucher ZF2026100001 "
            "(12,500.00)."]
        assert Voucher.objects.get(number="ZF2026100001").status == "issued"

    def test_a_return_after_success_reverses_payment_and_commitment(self, paid, user):
        text = ("支付凭证号,付款账号,付款户名,收款账号,收款户名,收款行,金额,交易状态,银行流水号,"
                "交易时间,失败原因\nZF2026100002,44030100040012345,x,6217000010012345678,x,x,"
                "\"3,280.50\",失败,BK20261016000001,2026-10-16 09:00:00,账户已销户\n")
        report = imp(RESULTS, user, text.encode("gbk"), "late_return.csv")
        assert report.issues == []
        assert bal("9301") == PAID - Decimal("3280.50")
        assert bal("9101") == START - PAID + Decimal("3280.50")
        assert bal("7101") == PAID - Decimal("3280.50")

    def test_an_unreadable_file_leaves_nothing_behind(self, day, user):
        report = imp(RESULTS, user, b"\x00\x01garbage", "junk.bin")
        assert report.format == "" and report.issues[0].field == "format"
        report = imp(CAMT, user, CAMT.read_bytes()[:500], "cut.xml")
        assert report.issues[0].field == "xml"
        assert BankFile.objects.count() == 0 and StatementLine.objects.count() == 0


class TestStatementReconciliation:
    def test_the_camt053_sample_reconciles_completely_three_way(self, paid, user):
        report = imp(CAMT, user)
        assert (report.format, report.stored, report.matched, report.exceptions) == (
            "camt053", 4, 4, 0)
        lines = {ln.bank_ref: ln for ln in StatementLine.objects.select_related("voucher")}
        assert lines["BK20261015000123"].voucher.number == "ZF2026100001"
        assert lines["BK20261015000123"].matched_by == "voucher"
        clearing = lines["QS20261015000001"]
        assert (clearing.matched_by, clearing.amount) == ("clearing", PAID)
        assert clearing.notice.total == Decimal("1266640.50")  # the notice, less the 退票
        assert ReconException.objects.count() == 0

    def test_the_same_statement_again_or_in_mt940_stores_nothing_new(self, paid, user):
        imp(CAMT, user)
        again = imp(CAMT, user)
        mt = imp(MT940, user)
        assert (again.stored, again.skipped) == (0, 4)
        assert (mt.format, mt.stored, mt.skipped) == ("mt940", 0, 4)
        assert StatementLine.objects.count() == 4 and ReconException.objects.count() == 0

    def test_the_mt940_sample_reconciles_on_its_own(self, paid, user):
        report = imp(MT940, user)
        assert (report.stored, report.matched, report.exceptions, report.issues) == (4, 4, 0, [])

    def test_lines_without_end_to_end_id_match_by_amount_date_and_payee_account(self, paid,
                                                                              user):
        text = CAMT.read_text("utf-8")
        for n in ("ZF2026100001", "ZF2026100002", "ZF2026100004"):
            text = text.replace(f"<EndToEndId>{n}</EndToEndId>", "<EndToEndId>NOTPROVIDED</EndToEndId>")
        report = imp(CAMT, user, text.encode("utf-8"), "no_e2e.xml")
        assert (report.matched, report.exceptions) == (4, 0)
        assert set(StatementLine.objects.filter(credit=False).values_list(
            "matched_by", flat=True)) == {"amount"}

    def test_what_does_not_match_lands_in_the_exceptions_queue_and_is_resolved_with_a_reason(
            self, paid, user, people):
        text = CAMT.read_text("utf-8")
        cut = text.index("<Ntry>\n        <NtryRef>BK20261015000124")
        end = text.index("</Ntry>", cut) + len("</Ntry>")
        text = (text[:cut] + text[cut:end].replace("BK20261015000124", "BK20261015000999")
                .replace("ZF2026100002", "ZF2026109999").replace("3280.50", "3280.00")
                + text[end:])
        report = imp(CAMT, user, text.encode("utf-8"), "odd.xml")
        kinds = sorted(ReconException.objects.values_list("kind", "expected", "actual"))
        assert kinds == [
            ("line_without_voucher", None, Decimal("3280.00")),
            ("voucher_without_line", Decimal("3280.50"), None),
        ]
        assert report.exceptions == 2
        exc = ReconException.objects.get(kind="line_without_voucher")
        with pytest.raises(services.errors.ReasonRequired):
            services.recon_exception_resolve(exception=exc, reason="", user=people.reviewer)
        exc = services.recon_exception_resolve(exception=exc, reason="银行手续费冲正，见回单",
                                               user=people.reviewer)
        assert exc.status == "resolved"
        assert [(h.history_type, h.status, h.history_change_reason)
                for h in exc.history.order_by("history_id")] == [
            ("+", "open", "reconciliation"), ("~", "resolved", "银行手续费冲正，见回单")]
        assert list(selectors.open_exceptions().values_list("kind", flat=True)) == [
            "voucher_without_line"]

    def test_a_line_whose_amount_differs_from_its_voucher_is_an_amount_difference(self, paid,
                                                                                 user):
        text = CAMT.read_text("utf-8").replace(">12500.00<", ">12500.10<")
        report = imp(CAMT, user, text.encode("utf-8"), "diff.xml")
        exc = ReconException.objects.get()
        assert (report.matched, exc.kind, exc.voucher.number, exc.expected, exc.actual) == (
            4, "amount_difference", "ZF2026100001", Decimal("12500.00"), Decimal("12500.10"))

    def test_a_clearing_credit_that_differs_from_the_paid_vouchers_is_an_exception(self, paid,
                                                                                 user):
        text = CAMT.read_text("utf-8").replace("1265780.50", "1265000.00")
        imp(CAMT, user, text.encode("utf-8"), "short_clearing.xml")
        exc = ReconException.objects.get()
        assert (exc.kind, exc.expected, exc.actual) == (
            "clearing_difference", PAID, Decimal("1265000.00"))

    def test_the_tracking_id_follows_the_payment_to_the_statement_line_and_entries(self, paid,
                                                                                 user):
        imp(CAMT, user)
        req = PaymentRequest.objects.get(amount=Decimal("12500.00"))
        trace = selectors.request_trace(tracking_id=req.tracking_id)
        assert trace["plan"] is not None and trace["voucher"].number == "ZF2026100001"
        assert [e.kind for e in trace["entries"]] == ["commit", "payment"]
        assert [ln.bank_ref for ln in trace["statement_lines"]] == ["BK20261015000123"]
        assert trace["results"][0].bank_ref == "BK20261015000123"


class TestImportCommandAndApi:
    def test_the_command_imports_results_then_statement(self, day, capsys):
        call_command("import_bank", str(RESULTS), str(CAMT))
        out = capsys.readouterr().out
        assert "payment_results_20261015_gbk.csv: results_csv: stored 4, already known 0, issues 0" in out
        assert "statement_20261015.camt053.xml: camt053: stored 4, already known 0, issues 0, " \
               "matched 4, exceptions 0" in out

    def test_the_command_fails_and_prints_the_bad_lines(self, day, tmp_path, capsys):
        bad = tmp_path / "r.csv"
        bad.write_bytes(RESULTS.read_bytes().decode("gbk").replace("成功", "未知", 1).encode("gbk"))
        with pytest.raises(CommandError):
            call_command("import_bank", str(bad))
        assert "r.csv:2: status: unknown status '未知': not in bank profile 'icbc-sz'" in (
            capsys.readouterr().err)

    def test_an_authenticated_upload_runs_as_a_job_with_progress(self, day, client, people,
                                                                 django_capture_on_commit_callbacks):
        client.force_login(people.reviewer)
        with django_capture_on_commit_callbacks(execute=True), RESULTS.open("rb") as fh:
            resp = client.post("/api/payments/bank-files/", {"file": fh})
        assert resp.status_code == 202
        job = Job.objects.get(pk=resp.json()["job"])
        assert (job.status, job.result["stored"], job.issues, job.percent) == ("done", 4, [], 100)
        progress = client.get(resp.json()["progress"]).json()
        assert progress["status"] == "done" and progress["result"]["format"] == "results_csv"

    def test_treasury_resolves_an_exception_through_the_api(self, paid, client, people, user):
        imp(CAMT, user, CAMT.read_text("utf-8").replace("1265780.50", "1265000.00").encode(),
            "short.xml")
        client.force_login(people.reviewer)
        listed = client.get("/api/payments/exceptions/?status=open").json()["results"]
        assert [x["kind"] for x in listed] == ["clearing_difference"]
        url = f"/api/payments/exceptions/{listed[0]['id']}/resolve/"
        assert client.post(url, {"reason": ""}).json()["code"] == "reason_required"
        done = client.post(url, {"reason": "银行补划 780.50"}).json()
        assert (done["status"], done["resolution"]) == ("resolved", "银行补划 780.50")
        assert client.post(url, {"reason": "again"}).json()["code"] == "already_resolved"

    def test_an_anonymous_upload_is_refused(self, client):
        assert client.post("/api/payments/bank-files/", {}).status_code in (401, 403)



class TestPages:
    def test_the_trace_page_shows_the_voucher_bank_line_and_entries(self, paid, client, people,
                                                                    user):
        imp(CAMT, user)
        req = PaymentRequest.objects.get(amount=Decimal("12500.00"))
        client.force_login(people.reviewer)
        html = client.get(f"/payments/trace/{req.tracking_id}/").content.decode()
        assert "ZF2026100001" in html and "壹万贰仟伍佰元整" in html
        assert "BK20261015000123" in html and "payment" in html

    def test_the_exceptions_page_lists_open_exceptions(self, paid, client, people, user):
        imp(CAMT, user, CAMT.read_text("utf-8").replace("1265780.50", "1265000.00").encode(),
            "short.xml")
        client.force_login(people.reviewer)
        html = client.get("/payments/exceptions/").content.decode()
        assert "QS20261015000001" in html and "1265000.00" in html and "1265780.50" in html
