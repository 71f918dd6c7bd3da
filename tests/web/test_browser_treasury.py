"""Browser test of the treasury and public screens: Playwright drives Debian's Chromium
(never downloaded by Playwright) against a live server. After the unit head's approval
the treasury reviewer approves in the queue, issues a voucher batch on the vouchers page,
downloads the bank file, uploads the bank's payment-result file (built from that file in
the bank's GBK format) and sees the import complete and the request paid; the same file
again changes nothing; a statement import queued as a job is followed by the page's
progress script until its report shows. Then a published disclosure set's figures appear
on the public page for an anonymous visitor. Screenshots in $TEST_ARTIFACTS/playwright."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from finance import selectors as ledger
from finance.jobs import job_create
from finance.models import Job
from payments import services as pay
from payments.models import BankFile, PaymentRequest, Voucher
from payments.tasks import bank_file_import_task
from reports import services as rep
from tests.helpers import YEAR
from tests.payments.statement_files import Booked, camt053
from tests.web.bank_files import result_csv
from tests.web.conftest import U1, disclosure_sign_off
from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM, sign_in, sign_out

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="browser tests need Debian's Chromium at /usr/bin/chromium "
                              "(apt-get install chromium; CI installs it)"),
    pytest.mark.django_db(transaction=True),
]


class TestTreasuryBrowserFlow:
    def test_voucher_bank_result_paid_then_published_figures_on_the_public_page(
            self, live_server, world, treasury, user, monkeypatch):  # noqa: ANN001
        from playwright.sync_api import sync_playwright

        monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        shots = ARTIFACTS / "playwright"
        shots.mkdir(parents=True, exist_ok=True)
        base = live_server.url
        r1 = pay.payment_request_approve(request=world.r1, user=world.people.head, comment="ok")
        tid = r1.tracking_id
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_context(locale="en-US", accept_downloads=True).new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            sign_in(page, base, "reviewer")
            page.check(f"input[name=ids][value={tid}]")
            page.click("button:has-text('Approve selected')")
            assert f"Approved: {tid}" in page.inner_text(".messages")

            # vouchers: the approved request is listed; issue a batch for the agent bank
            page.click("#treasury-vouchers")
            assert tid in page.inner_text("#awaiting")
            page.select_option("select[name=agent_account]", str(treasury.agent.pk))
            page.click("#create-batch")
            page.wait_for_url("**/web/treasury/batches/*/")
            voucher = Voucher.objects.get(request__tracking_id=tid)
            table = page.inner_text("#vouchers")
            assert voucher.number in table and "120.50" in table and "壹佰贰拾元伍角" in table
            page.screenshot(path=str(shots / "t1-batch.png"), full_page=True)
            with page.expect_download() as dl:
                page.click("#download-csv")
            bank_csv = open(dl.value.path(), "rb").read()  # noqa: PTH123, SIM115
            assert voucher.number in bank_csv.decode("gb18030")

            # the bank answers: its payment-result file, uploaded through the page
            result = result_csv(bank_csv, traded_at=f"{timezone.localtime():%Y-%m-%d %H:%M:%S}")
            page.click("text=Bank files")
            page.set_input_files("input[name=file]", files=[{
                "name": "payment_results_gbk.csv", "mimeType": "text/csv", "buffer": result}])
            page.click("#upload-file")
            page.wait_for_url("**/web/treasury/imports/*/")
            page.wait_for_selector("#outcome")
            assert page.inner_text("#job-status") == "done"
            assert page.eval_on_selector("#job-progress progress", "e => e.value") == 100
            assert "Imported. Lines stored: 1; already there: 0." in page.inner_text("#outcome")
            page.screenshot(path=str(shots / "t2-imported.png"), full_page=True)

            page.goto(f"{base}/web/requests/{tid}/")
            assert page.inner_text("#status") == "paid"

            # the same file again: nothing changes
            page.goto(f"{base}/web/treasury/imports/")
            page.set_input_files("input[name=file]", files=[{
                "name": "payment_results_gbk.csv", "mimeType": "text/csv", "buffer": result}])
            page.click("#upload-file")
            page.wait_for_selector("#outcome")
            assert "Nothing changed" in page.inner_text("#outcome")

            # a statement queued as a job (as with a broker): the page's script polls the
            # job API while it is queued, then shows the report when the worker finishes
            stmt = camt053(treasury.agent.number, timezone.localdate(), [
                Booked(bank_ref="ST1", amount=voucher.amount, credit=False,
                       end_to_end_id=voucher.number, payee_name=world.payee.name,
                       payee_account=world.payee.account_number)])
            job = job_create(kind="payments.import_bank", user=world.people.reviewer,
                             filename="statement.camt053.xml", content=stmt)
            page.goto(f"{base}/web/treasury/imports/{job.pk}/")
            assert page.inner_text("#job-status") == "queued"
            assert page.query_selector("#outcome") is None
            with page.expect_response(lambda r: f"/api/finance/jobs/{job.pk}/" in r.url):
                pass  # the script is polling
            bank_file_import_task(job_id=job.pk, user_id=world.people.reviewer.pk)
            page.wait_for_selector("#outcome", timeout=15000)
            assert page.inner_text("#job-status") == "done"
            assert page.inner_text("#stored") == "1"
            page.screenshot(path=str(shots / "t3-statement-progress-done.png"), full_page=True)
            sign_out(page)

            # published: the final accounts show the payment, on the public page
            for kind in ("budget", "final"):
                ds = rep.disclosure_set_create(department_code="440300100", year=YEAR, kind=kind,
                                               approved_on=dt.date(YEAR, 3, 1), user=user)
                rep.disclosure_set_approve(disclosure_id=ds.pk, user=treasury.publisher)
                disclosure_sign_off(ds, treasury)
                rep.disclosure_set_publish(disclosure_id=ds.pk, user=treasury.publisher)
            anon = browser.new_context(locale="en-US").new_page()
            anon.goto(f"{base}/web/public/")
            anon.select_option("select[name=department]", "440300100")
            anon.click("#selectors button[type=submit]")
            anon.wait_for_selector("#chart-budget-final")
            final = anon.text_content("#chart-final")
            assert "120.50" in final and "205" in final
            assert "1,500.00" in anon.text_content("#chart-budget")
            anon.screenshot(path=str(shots / "t4-public-charts.png"), full_page=True)
            assert not [e for e in errors if "Content Security Policy" in e], errors
            browser.close()

        req = PaymentRequest.objects.get(tracking_id=tid)
        assert req.status == "paid"
        assert Voucher.objects.get(request=req).status == "paid"
        assert ledger.balance(account="9301", year=YEAR, unit=U1) == Decimal("120.50")
        assert ledger.balance(account="7101", year=YEAR, unit=U1) == Decimal("120.50")
        assert ledger.balance(account="9201", year=YEAR, unit=U1) == Decimal("0.00")
        assert BankFile.objects.count() == 2  # the result file once, the statement once
        assert Job.objects.get(pk=job.pk).result["matched"] == 1
        assert (shots / "t4-public-charts.png").stat().st_size > 1000
