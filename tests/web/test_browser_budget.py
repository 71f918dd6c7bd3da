"""Browser test of the budget screens: Playwright drives Debian's Chromium (never
downloaded by Playwright) against a live server. The filer files a plan line online and
submits 一上, the department forwards it, the budget office issues the control number,
the filer submits 二上, the department forwards it, the office approves (批复); the
indicator is then in the ledger. Screenshots in $TEST_ARTIFACTS/playwright/."""
from __future__ import annotations

from decimal import Decimal

import pytest

from budgets import selectors
from budgets import services as budgets
from budgets.models import BudgetPlan
from finance.ledger import Dims
from tests.helpers import YEAR
from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM, sign_in, sign_out

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="browser tests need Debian's Chromium at /usr/bin/chromium "
                              "(apt-get install chromium; CI installs it)"),
    pytest.mark.django_db(transaction=True),
]
PROJECT = "P2026-BROWSER"


class TestBudgetBrowserFlow:
    def test_a_plan_line_is_filed_submitted_twice_and_approved_through_the_pages(
            self, live_server, world, monkeypatch):  # noqa: ANN001
        from playwright.sync_api import sync_playwright

        monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        p = world.people
        project = budgets.project_create(unit_code="440300101", code=PROJECT, name="浏览器测试项目",
                                         category="specific", total_amount=Decimal("9000.00"),
                                         user=p.filer)
        budgets.project_submit(project=project, user=p.filer)
        budgets.project_review(project=project, user=p.dept)
        budgets.project_accept(project=project, user=p.office)
        plan = budgets.plan_create(unit_code="440300101", year=YEAR, user=p.filer)
        shots = ARTIFACTS / "playwright"
        shots.mkdir(parents=True, exist_ok=True)
        base, plan_url = live_server.url, f"{live_server.url}/web/budget/plans/{plan.pk}/"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_context(locale="en-US").new_page()

            def act(who: str, button: str, shot: str, fill: dict[str, str] | None = None) -> str:
                sign_in(page, base, who)
                page.goto(plan_url)
                for selector, value in (fill or {}).items():
                    page.fill(selector, value)
                page.click(button)
                page.screenshot(path=str(shots / shot), full_page=True)
                status = page.inner_text("#status")
                sign_out(page)
                return status

            sign_in(page, base, "filer")
            page.click("#link-plans")
            page.click(f"a[href='/web/budget/plans/{plan.pk}/']")
            page.click("#edit-lines")
            page.select_option("select[name=form-0-project]", PROJECT)
            page.fill("input[name=form-0-function]", "2050203")
            page.fill("input[name=form-0-economic]", "30201")
            page.fill("input[name=form-0-fund_source]", "1")
            page.fill("input[name=form-0-amount]", "2,345.60")
            page.click("#save")
            assert page.inner_text("#total") == "2,345.60"
            page.click("#submit")
            assert page.inner_text("#status") == "一上 submitted to the department"
            page.screenshot(path=str(shots / "budget-1-filed.png"), full_page=True)
            sign_out(page)

            assert act("dept", "#review", "budget-2-reviewed.png") == "一上 reviewed by the department"
            assert act("office", "#control", "budget-3-control.png",
                       {"input[name=fund_1]": "3,000.00"}) == "一下 control numbers issued"
            assert act("filer", "#submit", "budget-4-second.png") == "二上 submitted to the department"
            assert act("dept", "#review", "budget-5-reviewed.png") == "二上 reviewed by the department"
            assert act("office", "#approve", "budget-6-approved.png") == "approved (批复)"
            browser.close()

        plan = BudgetPlan.objects.get(pk=plan.pk)
        year = plan.approval_entry.fiscal_year
        d = Dims(region="440300", unit="440300101", function="2050203", economic="30201",
                 fund_source="1", project=PROJECT)
        assert selectors.indicator_available(dims=d, year=year) == Decimal("2345.60")
        assert (shots / "budget-6-approved.png").stat().st_size > 1000
