"""Browser check of the bank-profile pages (issue 17), in Chinese: Playwright drives
Debian's Chromium against a live server; a treasury reviewer opens 银行格式, edits ICBC's
profile (adds the status word 交易关闭 → 银行拒绝 in an empty row of the table), saves with
a reason and sees it in the history. The list and the edit page are photographed at
1440 and 390 pixels wide (into $SHOTS17, default /tmp/shots17) to be looked at, and the
page must not be wider than the window at either width."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from payments.models import BankProfile
from tests.web.test_bank_profiles import ensure_profiles
from tests.web.test_browser import ARGS, CHROMIUM

SHOTS = Path(os.environ.get("SHOTS17", "/tmp/shots17"))  # noqa: S108 - screenshots to look at

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="browser tests need Debian's Chromium at /usr/bin/chromium"),
    pytest.mark.django_db(transaction=True),
]


def no_overflow(page) -> bool:  # noqa: ANN001
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


class TestBankProfilesInChromium:
    def test_a_clerk_edits_a_profile_in_chinese_at_desktop_and_phone_width(
            self, live_server, world, treasury, monkeypatch):  # noqa: ANN001
        from playwright.sync_api import sync_playwright

        monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        ensure_profiles()  # a transactional test's flush removes what migrations loaded
        SHOTS.mkdir(parents=True, exist_ok=True)
        base = live_server.url
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            ctx = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
            page = ctx.new_page()
            errors: list[str] = []
            page.on("response", lambda r: errors.append(r.url) if r.status >= 400
                    and not r.url.endswith("/favicon.ico") else None)
            page.goto(f"{base}/accounts/login/?next=/web/treasury/banks/")
            page.fill("input[name=username]", "reviewer")
            page.fill("input[name=password]", "x-Secret-123")
            page.click("main button[type=submit]")
            page.wait_for_url("**/web/treasury/banks/")
            assert page.inner_text("h1") == "银行格式"
            assert "中国工商银行深圳分行" in page.inner_text("#profile-icbc-sz")
            page.screenshot(path=str(SHOTS / "list-1440.png"), full_page=True)
            assert no_overflow(page)

            page.click("#profile-icbc-sz a")
            page.wait_for_url("**/web/treasury/banks/icbc-sz/")
            n = len(BankProfile.objects.get(code="icbc-sz").statuses)
            page.fill(f"input[name=status-{n}-word]", "交易关闭")
            page.select_option(f"select[name=status-{n}-outcome]", "rejected")
            page.fill("input[name=reason]", "工行回单新增状态词“交易关闭”")
            page.click("#save-profile")
            page.wait_for_selector(".messages")
            assert "银行格式 icbc-sz 已保存。" in page.inner_text(".messages")
            assert "状态词: + 交易关闭 → 银行拒绝" in page.inner_text("#history")
            assert BankProfile.objects.get(code="icbc-sz").statuses["交易关闭"] == "rejected"
            page.screenshot(path=str(SHOTS / "edit-1440.png"), full_page=True)
            assert no_overflow(page)

            # a bad time format: the error is shown on the field, in Chinese
            page.fill("textarea[name=time_formats]", "yyyy-mm-dd hh:mm:ss")
            page.fill("input[name=reason]", "试错")
            page.click("#save-profile")
            page.wait_for_selector("#form-problems")
            assert "不是可用的格式" in page.inner_text("#profile-form")
            page.screenshot(path=str(SHOTS / "edit-error-1440.png"), full_page=True)

            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(f"{base}/web/treasury/banks/")
            page.screenshot(path=str(SHOTS / "list-390.png"), full_page=True)
            assert no_overflow(page)
            page.goto(f"{base}/web/treasury/banks/icbc-sz/")
            page.screenshot(path=str(SHOTS / "edit-390.png"), full_page=True)
            assert no_overflow(page)
            page.goto(f"{base}/web/treasury/exceptions/")
            page.screenshot(path=str(SHOTS / "exceptions-390.png"), full_page=True)
            assert errors == []
            browser.close()
