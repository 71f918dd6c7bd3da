"""The content security policy without 'unsafe-inline': the header of the pages says so,
the pages still render, and no template of any app carries inline script, style or event
handlers (which the browser would now refuse)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

INLINE = re.compile(r"<style|\sstyle=|<script(?![^>]*\ssrc=)|\son[a-z]+=", re.IGNORECASE)
APPS = ["finance", "budgets", "payments", "audit", "reports", "web", "citysim"]


def _policy(response) -> dict[str, list[str]]:  # noqa: ANN001
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.django_db
class TestContentSecurityPolicy:
    @pytest.mark.parametrize("url", ["/", "/reports/public/", "/accounts/login/", "/web/",
                                     "/audit/", "/jobs/{job}/", "/api/docs/"])
    def test_pages_render_under_a_policy_without_unsafe_inline(self, client, user, url):  # noqa: ANN001
        from finance.jobs import job_create

        job = job_create(kind="import_projects", user=user, filename="p.json", content=b"{}")
        if url != "/accounts/login/":  # the sign-in page redirects who is signed in
            client.force_login(user)
        response = client.get(url.format(job=job.pk))
        assert response.status_code == 200
        policy = _policy(response)
        assert "'unsafe-inline'" not in response["Content-Security-Policy"]
        assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
        html = response.content.decode()
        assert not INLINE.search(html), INLINE.search(html).group(0)

    def test_the_job_page_polls_through_a_script_file(self, client, user):  # noqa: ANN001
        from finance.jobs import job_create

        job = job_create(kind="import_projects", user=user, filename="p.json", content=b"{}")
        client.force_login(user)
        html = client.get(f"/jobs/{job.pk}/").content.decode()
        assert f'data-api="/api/finance/jobs/{job.pk}/"' in html
        assert '<script src="/static/finance/job.js">' in html

    def test_the_api_docs_load_swagger_ui_from_this_site(self, client, user):  # noqa: ANN001
        client.force_login(user)
        html = client.get("/api/docs/").content.decode()
        sources = re.findall(r'<script[^>]*\ssrc="([^"]+)"', html)
        assert sources and all(s.startswith("/") for s in sources), sources
        assert "cdn" not in html.lower()


def test_no_template_of_any_app_has_inline_script_style_or_handlers():
    base = Path(settings.BASE_DIR)
    offenders = []
    for app in APPS:
        for path in sorted((base / app).glob("templates/**/*.html")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if INLINE.search(line):
                    offenders.append(f"{path.relative_to(base)}:{number}: {line.strip()[:80]}")
    assert offenders == []


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium")
@pytest.mark.django_db(transaction=True)
def test_the_browser_reports_no_policy_violation_and_the_scripts_work(live_server, monkeypatch):  # noqa: ANN001
    """Chromium under the policy: no CSP violation on the portal, sign-in and API docs; the
    language switcher (a script file now) still switches; Swagger UI renders the schema."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    violations: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(locale="zh-CN")
        page.on("console", lambda m: violations.append(m.text)
                if "Content Security Policy" in m.text else None)
        page.goto(f"{live_server.url}/accounts/login/")
        assert page.locator("html").get_attribute("lang") == "zh-hans"
        with page.expect_navigation():
            page.click("#language button[value=en]")  # the switch names English in English
        assert page.locator("html").get_attribute("lang") == "en"
        page.goto(f"{live_server.url}/reports/public/")
        page.goto(f"{live_server.url}/api/docs/")
        page.wait_for_selector("#swagger-ui .info .title", timeout=15000)
        assert "smart-finance API" in page.inner_text("#swagger-ui .info .title")
        browser.close()
    assert violations == []
