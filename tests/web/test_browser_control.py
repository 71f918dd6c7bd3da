"""Browser test of 控制方式, in Chinese: the budget office opens 财政局 › 控制方式 from the
menu and adds a rule (一般公共预算 / 302, block at 10 %); a request of 100.00 on unit
440300101 (1,000.00, 120.50 committed: (120.50 + 100.00) / 1,000.00 = 22.05 %) is refused;
the treasury director overrides it with a reason on its page. Screenshots at 1440 and
390 px wide in $TEST_ARTIFACTS/playwright (c1-…)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from finance import roles
from finance.models import ControlOverride
from payments import services as pay
from tests.helpers import YEAR, dims
from tests.web.conftest import AS_OF
from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="browser tests need Debian's Chromium at /usr/bin/chromium"),
    pytest.mark.django_db(transaction=True),
]


def sign_in(page, base: str, name: str) -> None:  # noqa: ANN001
    page.goto(f"{base}/accounts/login/?next=/web/")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", "x-Secret-123")
    page.click("button[type=submit]:has-text('登录')")
    page.wait_for_url("**/web/")


def test_add_a_rule_and_override_a_blocked_request(live_server, world, django_user_model,
                                                   monkeypatch):  # noqa: ANN001
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    director = django_user_model.objects.create_user(username="director",
                                                     password="x-Secret-123")
    director.groups.add(Group.objects.get_or_create(name=roles.TREASURY_DIRECTOR)[0])
    shots = ARTIFACTS / "playwright"
    shots.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900}
                                   ).new_page()
        sign_in(page, base, "office")
        page.click("#sidebar >> text=控制方式")
        page.wait_for_url("**/web/bureau/control-rules/")
        page.select_option("#id_fund_source", "1")
        page.fill("#id_economic_prefix", "302")
        page.select_option("#id_mode", "block")
        page.fill("#id_threshold_percent", "10.00")
        page.fill("#id_effective_from", "2026-01-01")
        page.fill("#id_reason", "深财预〔2026〕9号")
        page.click("#save-rule")
        page.wait_for_selector("#rule-history")
        assert "深财预〔2026〕9号" in page.inner_text("#rule-history")
        assert "刚性控制" in page.inner_text("#rule-summary")
        page.screenshot(path=str(shots / "c1-control-rule-1440.png"), full_page=True)

        req = pay.payment_request_create(dims=dims(), year=YEAR, amount=Decimal("100.00"),
                                         payee=world.payee, purpose="办公费",
                                         user=world.people.filer, as_of=AS_OF, submit=True)
        assert req.status == "refused"
        page.context.clear_cookies()
        sign_in(page, base, "director")
        page.goto(f"{base}/web/requests/{req.tracking_id}/")
        assert "22.05" in page.inner_text("#control-checks")
        assert "已阻止" in page.inner_text("#control-checks")
        page.fill("#override-reason", "市政府专题会议纪要〔2026〕5号")
        page.click("#override-submit")
        page.wait_for_selector(".override")
        assert "市政府专题会议纪要" in page.inner_text("#control")
        assert page.locator("#override-form").count() == 0  # done: no second override
        assert ControlOverride.objects.get().granted_by == director
        page.screenshot(path=str(shots / "c2-request-override-1440.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 800})
        page.screenshot(path=str(shots / "c3-request-override-390.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width
        browser.close()
