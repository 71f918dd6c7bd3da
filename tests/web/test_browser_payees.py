"""Browser test (Debian's Chromium, Playwright): a unit's filer adds a payee — the bank
and branch fill in as the CNAPS code is typed, a wrong code gets its message at once —,
files a request to it with the contract number and an attachment, opens the attachment
from the request page and withdraws the draft; a refused request shows both choices.
In Chinese, at 1440 and 390 px; nothing wider than the phone. Screenshots in
$TEST_ARTIFACTS/playwright/payees-*.png."""
from __future__ import annotations

from decimal import Decimal

import pytest

from payments import services as pay
from payments.models import Payee, PaymentRequest
from tests.helpers import YEAR, dims
from tests.web.conftest import U1
from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="browser tests need Debian's Chromium at /usr/bin/chromium"),
    pytest.mark.django_db(transaction=True),
]
PDF = b"%PDF-1.4\n% contract HT-2026-088\n"


def test_payee_then_a_request_with_an_attachment_then_withdrawn(
        live_server, world, user, monkeypatch, tmp_path):  # noqa: ANN001
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    shots = ARTIFACTS / "playwright"
    shots.mkdir(parents=True, exist_ok=True)
    contract = tmp_path / "维修合同.pdf"
    contract.write_bytes(PDF)
    # a refused request too (its payee blocked), to see the page's two choices
    pay.fund_source_plan_control_set(fund_source="1", enabled=False, user=user, reason="test")
    frozen = pay.payee_save(name="冻结户", account_number="6222020200777777777",
                            bank_name="中国工商银行", cnaps="102584002015", user=user,
                            reason="set-up")
    pay.payee_block(payee=frozen, blocked=True, reason="法院冻结", user=user)
    refused = pay.payment_request_create(dims=dims(unit=U1), year=YEAR, amount=Decimal("88.00"),
                                         payee=frozen, purpose="印刷费",
                                         user=world.people.filer, submit=True)
    wide: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        ctx = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
        page = ctx.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{live_server.url}/accounts/login/?next=/web/")
        page.fill("input[name=username]", "filer")
        page.fill("input[name=password]", "x-Secret-123")
        page.click("button[type=submit]:has-text('登录')")
        page.wait_for_url("**/web/")

        # the menu's 收款人 → add a payee; the CNAPS code is looked up as it is typed
        page.click("#sidebar a:has-text('收款人')")
        page.wait_for_url("**/web/payees/")
        page.click("#payee-new")
        page.fill("#id_name", "深圳市南山某维修公司")
        page.fill("#id_account_number", "6222 0202 0066 7788 990")
        page.fill("#id_cnaps", "999584002015")
        expect(page.locator("#cnaps-feedback")).to_contain_text("不是已知的银行网点")
        page.fill("#id_cnaps", "102584002015")
        expect(page.locator("#id_bank_name")).to_have_value("中国工商银行")
        expect(page.locator("#id_branch_name")).to_have_value("深圳南山支行")
        page.screenshot(path=str(shots / "payees-1-new-1440.png"), full_page=True)
        page.click("#payee-save")
        page.wait_for_url("**/web/payees/*/")
        payee = Payee.objects.get(name="深圳市南山某维修公司")
        assert (payee.unit_id, payee.account_number) == (world.orgs["u1"].pk,
                                                         "6222020200667788990")
        assert "新增收款人" in page.inner_text("#history")
        page.screenshot(path=str(shots / "payees-2-detail-1440.png"), full_page=True)

        # the filing form offers it; contract number and attachment
        page.goto(f"{live_server.url}/web/requests/new/?year={YEAR}")
        page.select_option("#id_indicator", index=0)
        page.select_option("#id_payee", str(payee.pk))
        page.fill("#id_amount", "1280.00")
        page.fill("#id_purpose", "空调维修")
        page.fill("#id_contract_ref", "HT-2026-088")
        page.set_input_files("#id_attachments", str(contract))
        page.screenshot(path=str(shots / "payees-3-file-1440.png"), full_page=True)
        page.click("#save")
        page.wait_for_url("**/web/requests/TR*/")
        req = PaymentRequest.objects.get(purpose="空调维修")
        assert req.contract_ref == "HT-2026-088" and req.payee_id == payee.pk
        expect(page.locator("#contract")).to_have_text("HT-2026-088")
        with page.expect_download() as download:
            page.click(".attachment-link")
        assert download.value.suggested_filename == "维修合同.pdf"
        assert open(download.value.path(), "rb").read() == PDF  # noqa: SIM115, PTH123
        page.screenshot(path=str(shots / "payees-4-request-1440.png"), full_page=True)

        # withdrawn with a reason
        page.fill("#withdraw textarea, #withdraw input[name=reason]", "合同取消")
        page.click("#withdraw-submit")
        expect(page.locator("#status")).to_contain_text("已撤回")
        assert PaymentRequest.objects.get(pk=req.pk).status == "withdrawn"
        page.screenshot(path=str(shots / "payees-5-withdrawn-1440.png"), full_page=True)

        # the refused request: both choices, side by side on a desktop, one above the
        # other on a phone
        page.goto(f"{live_server.url}/web/requests/{refused.tracking_id}/")
        expect(page.locator("#refile")).to_be_visible()
        expect(page.locator("#withdraw")).to_be_visible()
        page.screenshot(path=str(shots / "payees-6-choices-1440.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        for url, name in ((f"/web/requests/{refused.tracking_id}/", "choices"),
                          ("/web/payees/", "list"), (f"/web/payees/{payee.pk}/", "detail"),
                          ("/web/payees/new/", "new"),
                          (f"/web/requests/new/?year={YEAR}", "file"),
                          (f"/web/requests/{req.tracking_id}/", "withdrawn")):
            page.goto(f"{live_server.url}{url}")
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 390:  # say which elements stick out, innermost first
                offenders = page.evaluate(
                    "[...document.querySelectorAll('main *')].filter(e => "
                    "e.getBoundingClientRect().right > 390 && !e.querySelector('*'))"
                    ".slice(0, 3).map(e => e.tagName + ' ' + e.textContent.slice(0, 40))")
                wide.append(f"{url}: {width}px {offenders}")
            page.screenshot(path=str(shots / f"payees-390-{name}.png"), full_page=True)
        assert not [e for e in errors if "Content Security Policy" in e], errors
        browser.close()
    assert wide == []
