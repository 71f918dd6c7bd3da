"""Issue 18, the report screens: the execution report's year, grouping and scope are
chosen from lists and a refused choice is said on the page in Chinese (never a bare
400); its charts are readable (ten largest + 其他, 万元 on a round scale, code + name);
the final accounts page and a draft disclosure set's tables link every amount to its
figure page.

Expected figures are worked out by hand from tests/reports/conftest.py (LINES):
深圳市教育局 440300100 budget = 100,000 + 525,000 + 30,000 + 80,000 + 200,000 + 400,000
= 1,335,000.00 (133.50 万元), paid 40,000 + 250,000 + 12,040 + 33,333 + 150,000 +
100,000 = 585,373.00 (58.54 万元), rate 43.85 %; 深圳市卫生健康委员会 440300200 budget
130,000.00 (13.00 万元), paid 80,000.00 (8.00), 61.54 %; 罗湖区教育局 440303100 budget
90,000.00 (9.00), paid 45,000.00 (4.50), 50.00 %; every payment in April: 71.04 万元."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html import unescape

from tests.reports.test_figure_pages import links

D = Decimal
YEAR = 2026


def svg(html: str, chart_id: str) -> str:
    return html.split(f'id="{chart_id}"', 1)[1].split("</svg>", 1)[0]


class TestExecutionForm:
    def test_year_grouping_and_scope_are_lists_with_chinese_labels(self, city, user, client):  # noqa: ANN001, ARG002
        client.force_login(user)
        html = client.get("/reports/execution/").content.decode()
        assert '<select name="by"' in html and '<select name="scope"' in html
        assert '<select name="year"' in html and f'<option value="{YEAR}" selected>' in html
        for value, label in (("department", "主管部门"), ("unit", "预算单位"),
                             ("function", "功能分类"), ("economic", "经济分类"),
                             ("fund_source", "资金性质"), ("region", "行政区划")):
            assert f'<option value="{value}"' in html and f">{label}</option>" in html
        assert '<option value="department:440300100">440300100 深圳市教育局</option>' in html
        assert '<optgroup label="主管部门">' in html
        assert '<option value="all" selected>全市（含各区）</option>' in html

    def test_a_typo_in_the_grouping_is_said_on_the_page_in_chinese(self, city, user, client):  # noqa: ANN001, ARG002
        client.force_login(user)
        r = client.get("/reports/execution/", {"year": YEAR, "by": "departmnt"})
        text = r.content.decode()
        assert r.status_code == 400 and text.lstrip().startswith("<!doctype html>")
        assert "选择一个有效的选项" in text and 'id="report-error"' in text
        assert "报表未生成" in text and 'class="report"' not in text

    def test_an_unknown_scope_and_a_repeated_grouping_are_refused_in_chinese(
            self, city, user, client):  # noqa: ANN001, ARG002
        client.force_login(user)
        r = client.get("/reports/execution/", {"scope": "department:999"})
        assert r.status_code == 400 and "选择一个有效的选项" in r.content.decode()
        r = client.get("/reports/execution/", {"by": "department", "then": "department"})
        assert r.status_code == 400 and "第二分组须与第一分组不同。" in r.content.decode()
        r = client.get("/reports/execution/", {"by": "department,function,economic"})
        assert r.status_code == 400 and "报表最多按两个维度分组。" in r.content.decode()

    def test_an_address_of_the_earlier_page_still_reads(self, city, user, client):  # noqa: ANN001, ARG002
        client.force_login(user)
        r = client.get("/reports/execution/", {"year": YEAR, "by": "department,function",
                                               "scope": "region:440300"})
        html = r.content.decode()
        assert r.status_code == 200
        assert '<option value="function" selected>' in html  # the second grouping
        assert "功能分类编码" in html and "范围：440300 " in html
        assert ('data-trace="tr:v1:measure=paid;year=2026;region=440300;'
                'department=440300100;function=2050203"') in html


class TestExecutionCharts:
    def test_budget_and_payments_in_wan_with_code_and_name(self, city, user, client):  # noqa: ANN001, ARG002
        client.force_login(user)
        html = client.get("/reports/execution/", {"year": YEAR}).content.decode()
        chart = svg(html, "chart-budget-paid")
        assert "按主管部门的预算与支付 (万元)" in chart
        for label, budget, paid in (("440300100 深圳市教育局", "133.50", "58.54"),
                                    ("440300200 深圳市卫生健康委员会", "13.00", "8.00"),
                                    ("440303100 罗湖区教育局", "9.00", "4.50")):
            assert f">{label}</text>" in chart
            assert f">{budget}</text>" in chart and f">{paid}</text>" in chart
        # the largest first; a round scale (0, 50, 100, 150 万元), never "1e6"
        assert chart.index("深圳市教育局") < chart.index("深圳市卫生健康委员会")
        ticks = re.findall(r'class="tick"[^>]*>([^<]+)<', chart)
        assert ticks == ["0", "50", "100", "150"]
        assert "e+" not in chart and "1e" not in chart
        rate = svg(html, "chart-rate")
        assert ">43.85%</text>" in rate and ">61.54%</text>" in rate and ">50.00%</text>" in rate
        monthly = svg(html, "chart-monthly")
        assert ">4月</text>" in monthly and ">71.04</text>" in monthly

    def test_a_chart_of_many_categories_draws_ten_and_sums_the_rest_as_other(self):
        from django.utils import translation

        from web.charts import Chart, Series

        labels = [f"D{n:02d}" for n in range(1, 13)]
        values = [D(n * 10000) for n in range(1, 13)]  # 1 … 12 万元
        chart = Chart(title="t", labels=labels, series=[Series("s", values)])
        with translation.override("zh-hans"):
            drawn = str(chart.svg)
        names = re.findall(r'class="label"[^>]*>([^<]+)<', drawn)
        # D12 … D03 (12 … 3 万元), then D01 + D02 = 3 万元 as one bar
        assert names == [f"D{n:02d}" for n in range(12, 2, -1)] + ["其他（2 项）"]
        assert ">3.00</text>" in drawn.rsplit("其他", 1)[1]
        assert len(chart.rows) == 12  # the table under the chart keeps every category


class TestFinalAccountsAndDrafts:
    def test_final_accounts_scope_from_a_list_and_a_bad_one_on_the_page(self, city, user, client):  # noqa: ANN001, ARG002
        client.force_login(user)
        r = client.get("/reports/final-accounts/", {"year": YEAR, "scope": "departmnt:1"})
        assert r.status_code == 400 and "选择一个有效的选项" in r.content.decode()
        html = client.get("/reports/final-accounts/", {
            "year": YEAR, "scope": "department:440300100"}).content.decode()
        assert "2026年决算报表（440300100 深圳市教育局）" in html
        assert "tr:v1:measure=expenditure;year=2026;department=440300100" in "".join(
            links(html, "/reports/figure/"))

    def test_a_draft_sets_tables_link_every_amount_to_its_figure(self, city, user, client):  # noqa: ANN001, ARG002
        from reports import services

        ds = services.disclosure_set_create(department_code="440300100", year=YEAR,
                                            kind="budget", approved_on=dt.date(YEAR, 2, 1),
                                            user=user)
        client.force_login(user)
        listing = client.get("/reports/disclosure/").content.decode()
        assert f'href="?set={ds.pk}#set-tables"' in listing
        html = client.get("/reports/disclosure/", {"set": ds.pk}).content.decode()
        assert "部门收支总表" in html and "草稿" in html
        cells = re.findall(r'<td class="num" data-trace="([^"]+)"><a href="([^"]+)">', html)
        assert len(cells) > 50 and all(unescape(h).startswith("/reports/figure/?ref=")
                                       for _t, h in cells)
        total = "tr:v1:measure=budget;year=2026;department=440300100"
        assert f'data-trace="{total}"><a href="/reports/figure/?ref=' in html
        # B1's total in 万元: 1,335,000.00 元
        assert re.search(re.escape(f'data-trace="{total}"') + r'><a [^>]+>133\.50</a>', html)
        page = client.get("/reports/figure/", {"ref": total}).content.decode()
        assert '<strong class="num" id="total">1,335,000.00</strong>' in page


class TestMenu:
    def test_a_reader_of_reports_has_them_in_the_menu(self, city, user, client):  # noqa: ANN001, ARG002
        client.force_login(user)
        html = client.get("/reports/execution/").content.decode()
        menu = html.split('id="sidebar"', 1)[1].split("</nav>", 1)[0]
        for path in ("/reports/execution/", "/reports/final-accounts/", "/reports/disclosure/"):
            assert f'href="{path}"' in menu
