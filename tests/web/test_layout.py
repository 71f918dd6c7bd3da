"""Issue 18: one layout for every page. The brand once, a menu of what the user's roles
may open (with the home's counts as badges), the language switch naming each language in
itself, the site's own 404/500 pages with DEBUG off, the public list without links to
internal pages, and, in Debian's Chromium at 390 px, no page wider than the phone (wide
tables scroll in their own box). Screenshots of each role's home at 1440 and 390 px in
$LAYOUT_SHOTS (default $TEST_ARTIFACTS/layout)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from tests.helpers import YEAR
from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM

BRAND = "智慧财政"


def zh() -> Client:
    return Client(headers={"accept-language": "zh-hans"})


def body(response) -> str:  # noqa: ANN001
    return response.content.decode()


@pytest.mark.django_db
class TestLayout:
    def test_every_kind_of_page_has_the_brand_once_and_the_menu(self, world, treasury):  # noqa: ANN001
        c = zh()
        c.force_login(world.people.office)
        for url in ("/web/", "/web/budget/plans/", f"/reports/execution/?year={YEAR}",
                    "/ledger/trial-balance/", "/reports/disclosure/", "/reports/public/",
                    "/web/public/", "/"):
            html = body(c.get(url))
            main = html.split("<main>", 1)[1]
            assert html.count(f">{BRAND}<") == 1, url  # the header's brand, nowhere else
            assert BRAND not in main, url
            assert 'id="sidebar"' in html and "英语" not in html, url
            assert ">中文<" in html and ">English<" in html, url

    def test_the_english_ui_names_the_site_in_english_only(self, world):  # noqa: ANN001
        c = Client(headers={"accept-language": "en"})
        c.force_login(world.people.filer)
        html = body(c.get("/web/"))
        assert ">Smart Finance<" in html and BRAND not in html.split("<body>", 1)[1]

    def test_the_menu_offers_what_the_roles_may_open_with_counts(self, world, treasury):  # noqa: ANN001
        c = zh()
        c.force_login(world.people.filer)
        menu = body(c.get("/web/")).split('id="sidebar"', 1)[1].split("</nav>", 1)[0]
        assert reverse("web:budget_plans") in menu and reverse("web:treasury_vouchers") not in menu
        assert reverse("finance:trial_balance") not in menu and "/admin/" not in menu
        c.force_login(world.people.head)  # one request awaits the unit head: counted
        menu = body(c.get("/web/budget/plans/")).split('id="sidebar"', 1)[1].split("</nav>", 1)[0]
        assert 'sf-count' in menu and ">1</span>" in menu
        c.force_login(world.people.reviewer)
        menu = body(c.get("/web/")).split('id="sidebar"', 1)[1].split("</nav>", 1)[0]
        for name in ("web:treasury_vouchers", "web:treasury_imports", "web:treasury_exceptions",
                     "web:treasury_banks"):
            assert reverse(name) in menu, name
        assert reverse("web:budget_review") not in menu
        c.force_login(world.people.auditor)
        menu = body(c.get("/web/")).split('id="sidebar"', 1)[1].split("</nav>", 1)[0]
        assert reverse("audit:alerts") in menu and reverse("finance:trial_balance") in menu

    def test_no_heading_says_its_name_twice(self, world, treasury):  # noqa: ANN001
        c = zh()
        c.force_login(world.people.reviewer)
        for url, h1 in (("/web/treasury/vouchers/", "<h1>支付凭证</h1>"),
                        ("/web/treasury/exceptions/", "<h1>对账差异</h1>")):
            assert h1 in body(c.get(url)), url
        c.force_login(world.people.auditor)
        assert "<h1>预警</h1>" in body(c.get("/audit/alerts/"))

    def test_statuses_are_badges_and_amounts_have_separators(self, world):  # noqa: ANN001
        c = zh()
        c.force_login(world.people.head)
        html = body(c.get("/web/"))
        assert 'class="badge text-bg-warning status-unit_review"' in html
        assert 'class="num">120.50<' in html


@pytest.mark.django_db
class TestErrorPagesAndThePublic:
    def test_an_unknown_address_gets_the_sites_404_in_chinese(self, settings):  # noqa: ANN001
        settings.DEBUG = False
        r = zh().get("/no-such-page/here/")
        html = body(r)
        assert r.status_code == 404
        assert "未找到该页面或记录" in html and 'id="home-link"' in html
        assert "URLconf" not in html and "admin/" not in html and "api/schema" not in html

    def test_the_500_page_needs_no_request_and_links_home(self):
        from django.test import RequestFactory
        from django.utils import translation

        from web.views_errors import server_error

        with translation.override("zh-hans"):
            r = server_error(RequestFactory().get("/"))
        html = body(r)
        assert r.status_code == 500 and "系统出现错误" in html and "服务器错误" in html
        assert 'href="/web/"' in html

    def test_403_is_the_sites_page(self, world):  # noqa: ANN001
        c = zh()
        c.force_login(world.people.filer)
        r = c.get("/web/treasury/vouchers/")
        assert r.status_code == 403 and 'id="home-link"' in body(r)

    def test_anonymous_public_list_links_only_public_pages(self, world):  # noqa: ANN001
        html = body(zh().get("/reports/public/"))
        assert reverse("finance:trial_balance") not in html and "/admin/" not in html
        assert reverse("web:public_home") in html and reverse("web:login") in html
        html = body(zh().get("/"))
        assert reverse("finance:trial_balance") not in html and "/admin/" not in html


# ------------------------------------------------------------------ in Chromium
# (who, pages to check at 390 px); the first page is the role's home (screenshots)
PAGES = (
    ("filer", ("/web/", "/web/budget/projects/", "/web/budget/plans/",
               "/web/budget/adjustments/", "/web/requests/new/", "/web/payees/",
               "/web/payees/new/")),
    ("head", ("/web/",)),
    ("reviewer", ("/web/", "/web/treasury/vouchers/", "/web/treasury/imports/",
                  "/web/treasury/exceptions/", "/web/treasury/banks/")),
    ("director", ("/web/",)),
    ("office", ("/web/", f"/web/budget/review/?year={YEAR}", "/web/budget/plans/",
                "/reports/disclosure/", "/ledger/trial-balance/",
                f"/web/bureau/periods/?year={YEAR}", f"/web/bureau/periods/{YEAR}/year-end/")),
    ("dept", ("/web/", f"/web/budget/review/?year={YEAR}")),
    ("auditor", ("/web/", "/audit/alerts/", "/audit/")),
    (None, ("/web/public/", "/reports/public/", "/accounts/login/", "/no-such-page/")),
)


# the elements that reach past the screen's right edge (outside a scrolling box), named
WIDEST = """Array.from(document.querySelectorAll('body *')).filter(e => {
  const r = e.getBoundingClientRect();
  if (r.right <= window.innerWidth + 0.5) return false;
  for (let p = e.parentElement; p; p = p.parentElement) {
    const o = getComputedStyle(p).overflowX;
    if (o === 'auto' || o === 'scroll' || o === 'hidden') return false;
  }
  return true;
}).slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
  + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ')[0] : '')
  + ' ' + Math.round(e.getBoundingClientRect().right)).join(', ')"""


@pytest.mark.skipif(not CHROMIUM.exists(),
                    reason="browser tests need Debian's Chromium at /usr/bin/chromium")
@pytest.mark.django_db(transaction=True)
def test_no_page_is_wider_than_a_phone_and_the_brand_shows_once(
        live_server, world, treasury, monkeypatch):  # noqa: ANN001
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    shots = Path(os.environ.get("LAYOUT_SHOTS", ARTIFACTS / "layout"))
    shots.mkdir(parents=True, exist_ok=True)
    too_wide: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        for who, urls in PAGES:
            phone = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
            page = phone.new_page()
            if who:
                page.goto(f"{live_server.url}/accounts/login/?next=/web/")
                page.fill("input[name=username]", who)
                page.fill("input[name=password]", "x-Secret-123")
                page.click("button[type=submit]:has-text('登录')")
                page.wait_for_url("**/web/")
            for url in urls:
                page.goto(f"{live_server.url}{url}")
                width = page.evaluate("document.documentElement.scrollWidth")
                if width > 390:
                    wide = page.evaluate(WIDEST)
                    too_wide.append(f"{who} {url}: {width}px ({wide})")
                assert page.locator("header").inner_text().count(BRAND) == 1, url
                assert page.locator("body").inner_text().count(BRAND) == 1, url
            if who:  # the home, on the phone (the menu closed, then open) and on a desktop
                page.goto(f"{live_server.url}/web/")
                assert not page.locator("#sidebar").is_visible()
                page.screenshot(path=str(shots / f"{who}-390.png"), full_page=True)
                page.click(".navbar-toggler")
                page.wait_for_selector("#sidebar.show")
                assert "我的工作" in page.inner_text("#sidebar")
                assert page.evaluate("document.documentElement.scrollWidth") <= 390
                page.screenshot(path=str(shots / f"{who}-390-menu.png"))
                page.set_viewport_size({"width": 1440, "height": 900})
                page.reload()
                page.screenshot(path=str(shots / f"{who}-1440.png"), full_page=True)
            phone.close()
        browser.close()
    assert too_wide == []
