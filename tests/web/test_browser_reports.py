"""Browser test (issue 18), in Debian's Chromium: on the execution report a person
chooses the grouping from the list, clicks a figure, lands on its figure page and goes on
to the auditor's trace, which takes the figure's reference and shows the same total.
Screenshots at 1440 and 390 px wide are kept in $TEST_ARTIFACTS/playwright."""
from __future__ import annotations

import re

import pytest

from tests.reports.conftest import city  # noqa: F401 - the reports' small city, as a fixture
from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="browser tests need /usr/bin/chromium"),
    pytest.mark.django_db(transaction=True),
]
YEAR = 2026


def sign_in(page, base: str) -> None:  # noqa: ANN001
    page.goto(f"{base}/accounts/login/?next=/reports/execution/")
    page.fill("input[name=username]", "clerk")
    page.fill("input[name=password]", "x-Secret-123")
    page.click("form:not(#language) button[type=submit]")
    page.wait_for_url("**/reports/execution/")


class TestReportFigureToTrace:
    def test_a_figure_clicked_on_the_report_opens_its_trace(self, live_server, city,  # noqa: F811
                                                            user, monkeypatch):  # noqa: ANN001, ARG002
        from playwright.sync_api import sync_playwright

        monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        shots = ARTIFACTS / "playwright"
        shots.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_context(locale="zh-CN",
                                       viewport={"width": 1440, "height": 900}).new_page()
            sign_in(page, live_server.url)
            page.select_option("select[name=by]", "unit")
            page.click("#show-report")
            page.wait_for_url("**by=unit**")
            assert page.locator("#chart-budget-paid").is_visible()
            page.screenshot(path=str(shots / "reports-execution-1440.png"), full_page=True)
            # the paid figure of 深圳市第一中学: 40,000 + 250,000 + 100,000 (by hand)
            cell = page.locator(
                'td[data-trace="tr:v1:measure=paid;year=2026;unit=440300101"] a')
            assert cell.inner_text() == "390,000.00"
            cell.click()
            page.wait_for_url("**/reports/figure/**")
            assert page.inner_text("#total") == "390,000.00"
            page.click("main a[href^='/audit/?ref=']")
            page.wait_for_url(re.compile(r".*/audit/.*ref=.*"))
            assert page.inner_text("#trace-total") == "390,000.00"
            assert page.locator("#trace-error").count() == 0
            assert "440300101 深圳市第一中学" in page.inner_text("#trace-lines")
            page.screenshot(path=str(shots / "reports-trace-1440.png"), full_page=True)

            phone = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844},
                                        storage_state=page.context.storage_state()).new_page()
            phone.goto(f"{live_server.url}/reports/execution/?year={YEAR}&by=department")
            assert phone.locator("#chart-budget-paid").count() == 1
            # nothing wider than the phone but the boxes that scroll on their own
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, width
            phone.screenshot(path=str(shots / "reports-execution-390.png"), full_page=True)
            browser.close()
        for name in ("reports-execution-1440", "reports-trace-1440", "reports-execution-390"):
            assert (shots / f"{name}.png").stat().st_size > 10_000
