"""Browser test of the bureau's period pages: Playwright drives Debian's Chromium against
a live server, in Chinese. The budget office member with the right to reopen opens
财政局 › 月结与年终结账 from the menu, closes March by clicking, reopens it with a reason
(the empty reason first: the browser asks for it), sees both in the history; the year-end
page lists the open months it needs closed; the Bank files page shows a stored file and
its page. Screenshots at 1440 and 390 px wide in $TEST_ARTIFACTS/playwright (p1-…)."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from finance.models import Period
from tests.helpers import YEAR
from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="browser tests need Debian's Chromium at /usr/bin/chromium"),
    pytest.mark.django_db(transaction=True),
]


def test_close_and_reopen_a_month_by_clicking(live_server, world, treasury, monkeypatch):  # noqa: ANN001
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    office = world.people.office
    office.user_permissions.add(Permission.objects.get(codename="reopen_year"))
    shots = ARTIFACTS / "playwright"
    shots.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900}
                                   ).new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}/accounts/login/?next=/web/")
        page.fill("input[name=username]", "office")
        page.fill("input[name=password]", "x-Secret-123")
        page.click("button[type=submit]:has-text('登录')")
        page.wait_for_url("**/web/")

        page.click("#sidebar >> text=月结与年终结账")
        page.wait_for_url("**/web/bureau/periods/")
        if f"{YEAR}" not in page.inner_text("h1"):  # the current year may differ: choose it
            page.select_option("select[name=year]", str(YEAR))
            page.click("#year-select button[type=submit]")
        assert f"{YEAR}年会计期间" in page.inner_text("h1")
        assert page.locator("#months tbody tr").count() == 12

        page.click("#close-3")
        page.wait_for_selector(".alert-success")
        assert "3月已结账" in page.inner_text(".messages")
        row = page.inner_text("#month-3")
        assert "已结账" in row and "office" in row and "月结" in row
        assert Period.objects.get(fiscal_year__year=YEAR, month=3).status == "closed"
        page.screenshot(path=str(shots / "p1-periods-1440.png"), full_page=True)

        page.click("#reopen-3")  # no reason: the browser refuses to send the form
        assert Period.objects.get(fiscal_year__year=YEAR, month=3).status == "closed"
        page.fill("#reason-3", "补记3月工资")
        page.click("#reopen-3")
        page.wait_for_selector(".alert-success")
        assert "已重新打开" in page.inner_text(".messages")
        assert Period.objects.get(fiscal_year__year=YEAR, month=3).status == "open"
        history = page.inner_text("#history")
        assert "3月重新打开" in history and "补记3月工资" in history and "3月结账" in history

        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(shots / "p2-periods-390.png"), full_page=True)

        page.click("#year-end-link")
        page.wait_for_url(f"**/web/bureau/periods/{YEAR}/year-end/")
        checks = page.inner_text("#checks")
        assert "1月尚未结账" in checks and "11月尚未结账" in checks
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(shots / "p3-year-end-390.png"), full_page=True)
        page.set_viewport_size({"width": 1440, "height": 900})
        page.click("#year-close-button")  # refused: the months are open
        assert "年终结账未完成" in page.inner_text("#refused")
        assert page.locator("#refused-problems li").count() == 11
        page.screenshot(path=str(shots / "p4-year-end-refused-1440.png"), full_page=True)
        # (the refusal answers 400 and the browser asks for /favicon.ico: resource notices)
        assert [e for e in errors if not e.startswith("Failed to load resource")] == []
        browser.close()
