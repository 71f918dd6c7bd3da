"""Issue 18, the auditor's pages: the trace box takes the reference printed on a report
page (copied from the page, as a person would), and the trace, entry and history pages
read as people speak — model names, workflow actions and states as labels, codes with
their names, amounts with separators, times in Asia/Shanghai.

Figures by hand from tests/reports/conftest.py (LINES): unit 440300101 深圳市第一中学
paid 40,000 (30201) + 250,000 (30101) + 100,000 (31005, fund 2) = 390,000.00; the city
710,373.00; from tests/audit/conftest.py: a request of 1,234.50 paid on 2026-03-10 10:10."""
from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

from tests.audit.conftest import request_and_pay
from tests.reports.conftest import city  # noqa: F401 - the reports' small city, as a fixture

D = Decimal
YEAR = 2026


def text_of(html: str) -> str:
    """What a person reads: the page without tags and attributes."""
    return unescape(re.sub(r"<[^>]+>", " ", html))


def error(html: str) -> str:
    m = re.search(r'id="trace-error">([^<]*)<', html)
    return unescape(m.group(1)) if m else ""


def total(html: str) -> str:
    return re.search(r'id="trace-total">([^<]+)<', html).group(1)


class TestTheTraceBoxTakesTheReferencePrintedOnAReport:
    def test_a_reference_copied_from_the_execution_page(self, city, user, client):  # noqa: ANN001, ARG002, F811
        client.force_login(user)
        page = client.get("/reports/execution/", {"year": YEAR, "by": "unit"}).content.decode()
        copied = unescape(re.search(
            r'data-trace="(tr:v1:measure=paid;year=2026;unit=440300101)"', page).group(1))
        html = client.get("/audit/", {"ref": copied}).content.decode()
        assert error(html) == "" and total(html) == "390,000.00"

    def test_the_reference_printed_on_the_figure_page_with_the_spaces_a_copy_brings(
            self, city, user, client):  # noqa: ANN001, ARG002, F811
        client.force_login(user)
        figure = client.get("/reports/figure/", {
            "ref": "tr:v1:measure=paid;year=2026"}).content.decode()
        printed = unescape(re.search(r'<p class="hint"><code>([^<]+)</code>', figure).group(1))
        for pasted in (printed, f"  {printed}\n", f"\t{printed} "):
            html = client.get("/audit/", {"ref": pasted}).content.decode()
            assert error(html) == "" and total(html) == "710,373.00", pasted

    def test_every_reference_of_the_final_accounts_page_is_accepted(self, city, user, client):  # noqa: ANN001, ARG002, F811
        client.force_login(user)
        page = client.get("/reports/final-accounts/", {
            "year": YEAR, "scope": "department:440300100"}).content.decode()
        refs = sorted({unescape(r) for r in re.findall(r'data-trace="([^"]+)"', page)})
        assert len(refs) > 50
        refused = {}
        for ref in refs:
            message = error(client.get("/audit/", {"ref": ref}).content.decode())
            if message:
                refused[ref] = message
        assert refused == {}


class TestTracePageForPeople:
    def test_lines_name_every_code_and_amounts_have_separators(self, city, user, client):  # noqa: ANN001, ARG002, F811
        client.force_login(user)
        html = client.get("/audit/", {
            "ref": "tr:v1:measure=paid;year=2026;unit=440300101"}).content.decode()
        lines = text_of(html.split('id="trace-lines"', 1)[1].split("</table>", 1)[0])
        for words in ("440300101 深圳市第一中学", "2050203 初中教育", "2120399 ",
                      "30101 基本工资", "30201 办公费", "1 一般公共预算", "2 政府性基金预算",
                      "9301 已支付指标", "指标账", "250,000.00", "40,000.00", "100,000.00"):
            assert words in lines, words
        form = html.split('id="trace-form"', 1)[1].split("</form>", 1)[0]
        assert "功能分类" in form and "资金性质" in form and 'placeholder="fund_source"' not in form

    def test_sources_show_the_model_name_actions_and_local_times(self, budget, client, user):  # noqa: ANN001, ARG002
        request_and_pay(budget, D("1234.50"))
        client.force_login(user)
        html = client.get("/audit/", {"measure": "paid", "year": YEAR}).content.decode()
        sources = html.split('id="trace-sources"', 1)[1].split("</ul>", 1)[0]
        words = text_of(sources)
        assert "后台任务" in words  # finance.Job's verbose name, not finance.job
        assert "finance.job" not in words
        assert "送审" in words and "同意" in words  # submit, approve (finance.labels)
        assert "2026-03-10 10:05" in words and "2026-03-10 10:10" in words  # Asia/Shanghai
        assert "head" in words and "treasury" in words
        assert "1,234.50" in text_of(html.split('id="trace-lines"', 1)[1])


class TestEntryAndHistoryPages:
    def test_the_entry_page_names_the_kind_book_and_codes(self, budget, client, user):  # noqa: ANN001, ARG002
        doc = request_and_pay(budget, D("1234.50"))
        from finance.models import Entry

        entry = Entry.objects.get(source_id=str(doc.pk), kind="payment")
        client.force_login(user)
        html = client.get(f"/audit/entries/{entry.pk}/").content.decode()
        words = text_of(html)
        assert 'id="entry-kind">支付<' in html
        lines = text_of(html.split('id="entry-lines"', 1)[1].split("</table>", 1)[0])
        for w in ("指标账", "9301 已支付指标", "440300101 深圳市第一中学", "2050203 初中教育",
                  "30201 办公费", "1 一般公共预算", "1,234.50"):
            assert w in lines, w
        assert "送审" in words and "indicator" not in lines

    def test_the_history_page_names_the_model_the_kind_of_change_and_choices(
            self, orgs, client, user):  # noqa: ANN001
        from finance import services

        u1 = orgs["u1"]
        services.organization_upsert(code=u1.code, name="深圳市第一高级中学", kind="budget_unit",
                                     region_code="440300", uscc=u1.uscc, parent_code="440300100",
                                     user=user, reason="更名")
        client.force_login(user)
        html = client.get(f"/audit/history/finance.organization/{u1.pk}/").content.decode()
        words = text_of(html)
        assert f"历史 机构 #{u1.pk}" in words
        assert "预算单位" in words  # the kind's label, not budget_unit
        steps = text_of(html.split('id="history-steps"', 1)[1].split("</ol>", 1)[0])
        assert "创建" in steps and "修改" in steps and "更名" in steps
        assert "深圳市第一中学 → 深圳市第一高级中学" in steps
        assert " + " not in steps and " ~ " not in steps
