"""A figure on a report page or a published table links to where it comes from: staff
see its lines summed by unit, function, economic class and month with a way on to the
auditor's trace; the public sees the same sums for the figures a set published — and no
payee, document or person."""
from __future__ import annotations

import re
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qs, urlparse

from django.urls import reverse

from tests.reports.test_disclosure import publish

D = Decimal
YEAR = 2026


def links(html: str, path: str) -> list[str]:
    """The `ref` of every link to `path` in a page."""
    out = []
    for href in re.findall(r'href="([^"]+)"', html):
        url = urlparse(unescape(href))
        if url.path == path:
            out.append(parse_qs(url.query)["ref"][0])
    return out


class TestStaffFigurePage:
    def test_an_execution_figure_links_to_its_lines_and_on_to_the_audit_trace(
            self, city, user, client):  # noqa: ANN001, ARG002
        client.force_login(user)
        html = client.get(f"/reports/execution/?year={YEAR}&by=department").content.decode()
        refs = links(html, "/reports/figure/")
        paid = "tr:v1:measure=paid;year=2026;department=440300100"
        assert paid in refs
        page = client.get("/reports/figure/", {"ref": paid}).content.decode()
        # 40,000 + 250,000 + 12,040 + 33,333 + 150,000 + 100,000 (tests/reports/conftest.py)
        assert '<strong class="num" id="total">585,373.00</strong>' in page
        assert "深圳市第一中学" in page and "已支付" in page
        assert f'{reverse("audit:trace")}?ref=tr%3Av1%3Ameasure%3Dpaid%3Byear%3D2026' in page

    def test_a_reference_that_cannot_be_read_is_a_400_with_the_reason(self, city, user, client):  # noqa: ANN001, ARG002
        client.force_login(user)
        r = client.get("/reports/figure/", {"ref": "tr:v1:measure=spent;year=2026"})
        assert r.status_code == 400 and "measure must be one of" in r.content.decode()


class TestPublicFigurePage:
    def test_each_published_figure_links_to_its_sums_without_personal_data(
            self, city, user, approver, client):  # noqa: ANN001
        ds = publish(user, approver, kind="final")
        page = client.get(f"/reports/public/{ds.pk}/").content.decode()
        refs = links(page, f"/reports/public/{ds.pk}/figure/")
        assert len(refs) == len(ds.manifest["figures"]) > 100
        assert "一般公共预算财政拨款基本支出决算表" in page
        basic = next(f for f in ds.manifest["figures"]
                     if (f["table"], f["row"], f["column"]) == ("F5", "total", "basic"))
        assert basic["amount_yuan"] == "335373.00"  # worked out in test_categories.py
        body = client.get(f"/reports/public/{ds.pk}/figure/", {"ref": basic["trace"]})
        text = body.content.decode()
        assert body.status_code == 200
        assert '<span class="num" id="published">335,373.00</span>' in text
        assert '<strong class="num" id="total">335,373.00</strong>' in text
        assert "基本支出 (人员类 + 运转类项目)" in text
        # the lines of the salary payment name its payee in the entry's description: the
        # public page shows sums only
        assert "张三丰" not in text and "6222021234567890123" not in text
        assert reverse("audit:trace") + "?" not in text

    def test_a_reference_the_set_did_not_publish_is_not_shown(self, city, user, approver,
                                                              client):  # noqa: ANN001
        ds = publish(user, approver, kind="final")
        r = client.get(f"/reports/public/{ds.pk}/figure/",
                       {"ref": "tr:v1:measure=paid;year=2026;unit=440300201"})
        assert r.status_code == 404


class TestPublishedFiguresStayTraceable:
    def test_a_posting_after_publication_does_not_change_what_a_published_reference_says(
            self, city, user, approver):  # noqa: ANN001
        import datetime as dt

        from finance.ledger import entry_post
        from finance.selectors import figure_of
        from tests.helpers import approve_lines
        from tests.reports.conftest import LINES

        ds = publish(user, approver, kind="budget")
        basic = next(f for f in ds.manifest["figures"]
                     if (f["table"], f["row"], f["column"]) == ("B3", "total", "basic"))
        assert basic["amount_yuan"] == "735000.00"  # worked out in test_categories.py
        assert ";upto=" in basic["trace"]
        # a later adjustment of a running-cost indicator of the department
        entry_post(lines=approve_lines(D("1000.00"), LINES["edu_office"][0]), user=user,
                   description="追加", on=dt.date(YEAR, 5, 1), kind="adjustment")
        assert figure_of(basic["trace"]) == 735_000_00
        now = re.sub(r";upto=\d+", "", basic["trace"])  # the same figure, the ledger now
        assert figure_of(now) == 736_000_00
        for fig in ds.manifest["figures"]:
            assert figure_of(fig["trace"]) == round(D(fig["amount_yuan"]) * 100), fig
