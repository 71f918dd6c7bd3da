"""序时进度 pages (audit/pace_views.py): who opens them (this module is a matrix module of
tests/web/test_permissions.py's registry), the bureau's home chart, the unit's explain form
and the bureau's confirm form; one browser screenshot of the home chart.

Figures by hand: the web world's department 440300100 has indicators 1,000.00 (unit
440300101) + 500.00 (unit 440300102) = 1,500.00 and nothing paid (two requests only
committed): on 30 June 2026 (day 181 of 365, 49.59 %) it has spent 0.00 % → lag 49.59
points → red (≥ 20), with the rule's min_budget lowered to 100.00 for this small world."""
from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from audit import pace, pace_views, services
from audit.models import PaceAlert
from tests.audit.conftest import at

ROLES = ["anonymous", "filer", "head", "other_filer", "dept", "reviewer", "office", "auditor"]
LOGIN, A, D, N, M = 302, 200, 403, 404, 405
# the department's alert: its member and the city level see it; a unit's people get 404
PAGES = {
    "/audit/pace/":             [LOGIN, A, A, A, A, A, A, A],
    "/audit/pace/{id}/":        [LOGIN, N, N, N, A, A, A, A],
    "/audit/pace/{id}/act/":    [LOGIN, M, M, M, M, M, M, M],  # POST only
}
JUNE_30 = dt.date(2026, 6, 30)


@pytest.fixture
def red(world):  # noqa: ANN001
    services.monitoring_rule_update(code="execution_pace", user=world.people.office,
                                    reason="small world", params={"min_budget": "100.00"})
    pace.execution_pace_sweep(on=JUNE_30, as_of=at(JUNE_30, 23))
    return PaceAlert.objects.get()


def sign_in(user, lang: str = "en") -> Client:  # noqa: ANN001
    c = Client(headers={"accept-language": lang})
    c.force_login(user)
    return c


@pytest.mark.django_db
class TestPacePages:
    def test_every_page_for_every_role(self, world, red):  # noqa: ANN001
        wrong = []
        for role in ROLES:
            c = Client()
            if role != "anonymous":
                c.force_login(getattr(world.people, role))
            for url, answers in PAGES.items():
                r = c.get(url.format(id=red.pk))
                if r.status_code != answers[ROLES.index(role)]:
                    wrong.append(f"{role} {url}: {r.status_code}")
        assert wrong == []
        assert (red.scope, red.subject_code, red.grade, str(red.execution_pct),
                str(red.lag_points)) == ("department", "440300100", "red", "0.00", "49.59")

    def test_the_bureau_home_draws_the_pace_and_counts_the_alerts(self, world, red):  # noqa: ANN001
        body = sign_in(world.people.office, "zh-hans").get("/web/?year=2026").content.decode()
        assert 'id="chart-pace"' in body and "mark-red" in body and "序时进度" in body
        assert "红色预警 · 待单位说明</a>: <strong>1</strong>" in body
        body = sign_in(world.people.dept).get("/web/").content.decode()
        assert "Execution pace alerts awaiting your explanation</a>: <strong>1</strong>" in body

    def test_the_department_explains_and_the_bureau_confirms_on_the_page(self, world, red):  # noqa: ANN001
        url = f"/audit/pace/{red.pk}/"
        dept, office = sign_in(world.people.dept), sign_in(world.people.office)
        assert 'id="explain-form"' in dept.get(url).content.decode()
        assert 'id="bureau-form"' in office.get(url).content.decode()
        refused = sign_in(world.people.office, "zh-hans").post(
            f"{url}act/", {"action": "rectify", "text": "ok"}, follow=True)
        assert f"预警 #{red.pk} 当前为已通知，不能确认整改。" in refused.content.decode()
        dept.post(f"{url}act/", {"action": "explain", "text": "招标延后，7月支付"})
        office.post(f"{url}act/", {"action": "rectify", "text": "已整改"})
        page = sign_in(world.people.office, "zh-hans").get(url).content.decode()
        for text in ("下发预警", "说明", "招标延后，7月支付", "确认整改", "已整改", "dept", "office"):
            assert text in page, text
        assert PaceAlert.objects.get().status == "rectified"


def _departments(user) -> None:  # noqa: ANN001
    """Twelve more departments of one unit each: indicator 1,000,000.00, paid 95 %, 90 %,
    … 40 % (so that the chart has its 10 largest + 其他, and every grade)."""
    from decimal import Decimal

    from finance import services as fin
    from finance.ids import make_uscc
    from tests.helpers import ON, approve_lines, commit_lines, dims, pay_lines

    for i in range(12):
        dept, unit = f"44030{i + 2:02d}00", f"44030{i + 2:02d}01"
        for code, kind, parent in ((dept, "department", "440300001"), (unit, "budget_unit", dept)):
            fin.organization_upsert(code=code, name=f"部门{i + 2}" + ("" if kind == "department" else "单位"),
                                    kind=kind, region_code="440300", parent_code=parent,
                                    uscc=make_uscc("440300", int(code[-5:])), user=user,
                                    reason="set-up")
        d = dims(unit=unit)
        fin.entry_post(lines=approve_lines(Decimal("1000000.00") + i, d), description="批复",
                       on=ON, kind="approval")
        paid = Decimal(1000000 * (95 - 5 * i)) / 100
        fin.entry_post(lines=commit_lines(paid, d), description="占用", on=ON, kind="commit")
        fin.entry_post(lines=pay_lines(paid, d), description="支付", on=ON, kind="payment")


@pytest.mark.skipif(not __import__("pathlib").Path("/usr/bin/chromium").exists(),
                    reason="needs Chromium")
@pytest.mark.django_db(transaction=True)
def test_browser_home_chart_screenshot(live_server, world, monkeypatch):  # noqa: ANN001
    """The bureau's home in Chinese with the pace chart; the screenshot is
    $TEST_ARTIFACTS/playwright/pace-home-1440.png."""
    from playwright.sync_api import sync_playwright

    from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    services.monitoring_rule_update(code="execution_pace", user=world.people.office,
                                    reason="small world", params={"min_budget": "100.00"})
    _departments(world.people.office)
    pace.execution_pace_sweep(on=pace_views.measured_day(2026), as_of=at(JUNE_30))
    shots = ARTIFACTS / "playwright"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900}
                                   ).new_page()
        page.goto(f"{live_server.url}/accounts/login/?next=/web/")
        page.fill("input[name=username]", "office")
        page.fill("input[name=password]", "x-Secret-123")
        page.click("button[type=submit]:has-text('登录')")
        page.wait_for_url("**/web/")
        page.goto(f"{live_server.url}/web/?year=2026")
        chart = page.locator("#chart-pace")
        assert chart.count() == 1 and "序时进度" in page.inner_text("#pace")
        page.locator("#pace").screenshot(path=str(shots / "pace-home-1440.png"))
        page.click("#pace a:has-text('红色预警 · 待单位说明')")  # the list, red and notified
        assert page.locator("#pace-alerts tbody tr").count() == 8
        page.click("#pace-alerts tbody tr >> nth=0 >> a")
        assert "红色预警" in page.inner_text("h1") and "下发预警" in page.inner_text("#pace-steps")
        page.screenshot(path=str(shots / "pace-alert-1440.png"), full_page=True)
        browser.close()
