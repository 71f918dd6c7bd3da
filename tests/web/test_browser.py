"""Browser test: Playwright drives Debian's Chromium (never downloaded by Playwright)
against a live server. A filer files and submits a request, the unit head and a treasury
reviewer approve it through the pages, the filer sees it approved. Screenshots are kept
in $TEST_ARTIFACTS (default var/artifacts/playwright)."""
from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from finance import selectors as ledger
from payments import services as pay
from payments.models import PaymentRequest
from tests.helpers import YEAR

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS",
                                Path(__file__).resolve().parents[2] / "var" / "artifacts"))

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="browser tests need Debian's Chromium at /usr/bin/chromium "
                              "(apt-get install chromium; CI installs it)"),
    pytest.mark.django_db(transaction=True),
]


def sign_in(page, base: str, username: str) -> None:  # noqa: ANN001
    page.goto(f"{base}/accounts/login/?next=/web/%3Fyear%3D{YEAR}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "x-Secret-123")
    page.click("button[type=submit]:has-text('Sign in')")
    page.wait_for_url(f"**/web/?year={YEAR}")


def fill_request(page, amount: str, purpose: str) -> None:  # noqa: ANN001
    """The filing page, from the dashboard, filled in (not yet saved)."""
    page.click("#file-request")
    page.select_option("select[name=indicator]", index=0)
    page.select_option("select[name=payee]", index=1)
    page.fill("input[name=amount]", amount)
    page.fill("input[name=purpose]", purpose)


def sign_out(page) -> None:  # noqa: ANN001
    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/accounts/login/")


class TestBrowserFlow:
    def test_a_request_is_filed_approved_twice_and_seen_approved_by_its_filer(
            self, live_server, world, user, monkeypatch):  # noqa: ANN001
        from playwright.sync_api import sync_playwright

        monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        pay.fund_source_plan_control_set(fund_source="1", enabled=False, user=user,
                                         reason="filed today, outside the planned month")
        shots = ARTIFACTS / "playwright"
        shots.mkdir(parents=True, exist_ok=True)
        base = live_server.url
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_context(locale="en-US").new_page()

            sign_in(page, base, "filer")
            assert "879.50" in page.inner_text("#unit")  # 1,000.00 less the first request
            fill_request(page, "300.00", "浏览器测试 办公用品")
            page.click("#save")
            page.click("#submit")
            assert page.inner_text("#status") == "awaiting unit head"
            assert page.inner_text("#amount") == "300.00"
            page.screenshot(path=str(shots / "1-filed.png"), full_page=True)
            tracking_id = page.url.rstrip("/").rsplit("/", 1)[-1]
            sign_out(page)

            for who in ("head", "reviewer"):
                sign_in(page, base, who)
                page.check(f"input[name=ids][value={tracking_id}]")
                page.fill("input[name=comment]", f"{who} ok")
                page.click("button:has-text('Approve selected')")
                assert f"Approved: {tracking_id}" in page.inner_text(".messages")
                page.screenshot(path=str(shots / f"2-approved-by-{who}.png"), full_page=True)
                sign_out(page)

            sign_in(page, base, "filer")
            page.click(f"text={tracking_id}")
            assert page.inner_text("#status") == "approved"
            page.screenshot(path=str(shots / "3-seen-approved.png"), full_page=True)
            browser.close()

        req = PaymentRequest.objects.get(tracking_id=tracking_id)
        assert req.status == "approved" and req.amount == Decimal("300.00")
        assert ledger.balance(account="9101", year=YEAR, unit="440300101") == Decimal("579.50")
        assert (shots / "3-seen-approved.png").stat().st_size > 1000

    def test_save_and_submit_sends_a_request_for_review_in_one_click(
            self, live_server, world, user, monkeypatch):  # noqa: ANN001
        from playwright.sync_api import sync_playwright

        monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        pay.fund_source_plan_control_set(fund_source="1", enabled=False, user=user,
                                         reason="filed today, outside the planned month")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_context(locale="en-US").new_page()
            sign_in(page, live_server.url, "filer")
            fill_request(page, "120.00", "保存并送审")
            page.click("#save-submit")
            assert page.inner_text("#status") == "awaiting unit head"
            assert "is now: awaiting unit head" in page.inner_text(".messages")
            browser.close()
        req = PaymentRequest.objects.get(purpose="保存并送审")
        assert req.status == "unit_review"
        assert ledger.balance(account="9101", year=YEAR, unit="440300101") == Decimal("759.50")
