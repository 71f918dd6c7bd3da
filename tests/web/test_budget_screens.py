"""Budget screens driven through Django's test client with the real services: a unit
files a project and a plan (online and by a real .xlsx template), bad lines and bad
template rows are reported with nothing saved, the department reviews, the budget office
sets control numbers and approves (the indicator is then in the ledger), an adjustment
moves the figures; another unit never sees the plan; English and Chinese render."""
from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from budgets import selectors
from budgets import services as budgets_services
from budgets.models import Adjustment, BudgetPlan, Indicator, PlanLine, Project
from budgets.validation import PlanLineInput
from finance import selectors as ledger
from finance.ledger import Dims
from tests.helpers import YEAR
from tests.web.conftest import U1

PROJECT = "P2026-U1-001"
FUNCTION, ECON_A, ECON_B, FUND = "2050203", "30201", "30202", "1"

pytestmark = pytest.mark.django_db


def as_user(client, person):  # noqa: ANN001, ANN201
    client.force_login(person)
    return client


def text(response) -> str:  # noqa: ANN001
    return response.content.decode()


def follow(client, url: str, data: dict, **kw) -> str:  # noqa: ANN001
    response = client.post(url, data, follow=True, **kw)
    assert response.status_code == 200, (url, response.status_code)
    return text(response)


def lines_post(rows: list[tuple[str, ...]], extra: int = 0) -> dict[str, str]:
    data = {"form-TOTAL_FORMS": str(len(rows) + extra), "form-INITIAL_FORMS": "0",
            "form-MIN_NUM_FORMS": "0", "form-MAX_NUM_FORMS": "500"}
    for i, row in enumerate(rows):
        for name, value in zip(("project", "function", "economic", "fund_source", "amount",
                                "last_year_amount"), row, strict=True):
            data[f"form-{i}-{name}"] = value
    return data


def dims(economic: str) -> Dims:
    return Dims(region="440300", unit=U1, function=FUNCTION, economic=economic, fund_source=FUND,
                project=PROJECT)


@pytest.fixture
def library_project(client, world) -> Project:  # noqa: ANN001
    """The filer files a project on the page; the department reviews, the office accepts."""
    p = world.people
    body = follow(as_user(client, p.filer), "/web/budget/projects/new/", {
        "code": PROJECT, "name": "教学设备更新", "category": "specific", "total_amount": "50,000.00",
        "plan_year": YEAR, "plan_fund_source": FUND, "plan_amount": "30000",
        "target_name": "设备完好率", "target_value": "95", "target_unit": "%"})
    assert "saved as a draft" in body
    project = Project.objects.get(code=PROJECT)
    url = f"/web/budget/projects/{project.pk}/act/"
    assert "submitted" in follow(client, url, {"action": "submit"})
    assert "reviewed" in follow(as_user(client, p.dept), url, {"action": "review"})
    body = follow(as_user(client, p.office), url, {"action": "accept"})
    project.refresh_from_db()
    assert project.status == Project.Status.IN_LIBRARY
    assert "设备完好率" in body and "50,000.00" in body and "30,000.00" in body
    assert [s.action for s in selectors.plan_steps(document=project).order_by("at", "id")] == [
        "file", "submit", "review", "accept"]
    return project


@pytest.fixture
def plan(client, world, library_project) -> BudgetPlan:  # noqa: ANN001, ARG001
    body = follow(as_user(client, world.people.filer), "/web/budget/plans/new/", {"year": YEAR})
    assert "fill in its lines" in body
    return BudgetPlan.objects.get(unit__code=U1, year=YEAR)


def template_with(content: bytes, rows: dict[int, list]) -> bytes:
    wb = load_workbook(io.BytesIO(content))
    ws = wb["Plan"]
    for row, values in rows.items():
        for col, value in enumerate(values, start=1):
            ws.cell(row=row, column=col, value=value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(client, plan: BudgetPlan, content: bytes):  # noqa: ANN001, ANN201
    f = io.BytesIO(content)
    f.name = "plan.xlsx"
    return client.post(f"/web/budget/plans/{plan.pk}/upload/", {"file": f}, follow=True)


class TestUnitFiling:
    def test_online_lines_with_errors_save_nothing_and_list_each_row_field_and_reason(
            self, client, world, plan):  # noqa: ANN001
        url = f"/web/budget/plans/{plan.pk}/lines/"
        client = as_user(client, world.people.filer)
        assert PROJECT in text(client.get(url))  # the library project is offered
        body = text(client.post(url, lines_post([
            (PROJECT, FUNCTION, ECON_A, FUND, "1,200.00", "1000"),
            (PROJECT, FUNCTION, "30299x", FUND, "12.345", ""),
        ], extra=2)))
        assert "Nothing was saved" in body
        problems = re.findall(r'<tr class="msg-error"><td>(\d+)</td><td></td><td>([a-z_ ]+)</td>'
                              r'<td>([^<]+)</td>', body)
        assert ("2", "economic", "economic code 30299x does not exist") in problems
        assert ("2", "amount", "amount 12.345 has more than 2 decimal places") in problems
        assert PlanLine.objects.filter(plan=plan).count() == 0

        body = follow(client, url, lines_post([(PROJECT, FUNCTION, ECON_A, FUND, "1,200.00", "1000")],
                                              extra=3))
        assert "1 added" in body and "1,200.00" in body
        line = PlanLine.objects.get(plan=plan)
        assert (line.amount, line.last_year_amount) == (Decimal("1200.00"), Decimal("1000.00"))

    def test_the_excel_template_is_downloaded_filled_and_uploaded_bad_rows_by_cell(
            self, client, world, plan):  # noqa: ANN001
        client = as_user(client, world.people.filer)
        follow(client, f"/web/budget/plans/{plan.pk}/lines/",
               lines_post([(PROJECT, FUNCTION, ECON_A, FUND, "1200", "")]))
        response = client.get(f"/web/budget/plans/{plan.pk}/template.xlsx")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/vnd.openxmlformats")
        content = response.content
        assert load_workbook(io.BytesIO(content))["Plan"]["A3"].value == PROJECT

        bad = template_with(content, {4: [PROJECT, FUNCTION, "30299x", FUND, 800, 0],
                                      5: [PROJECT, FUNCTION, ECON_B, FUND, -5, 0]})
        body = text(upload(client, plan, bad))
        assert "2 error(s); nothing was saved" in body
        assert "<td>4</td><td>Plan!C4</td><td>economic</td>" in body
        assert "economic code 30299x does not exist" in body
        assert "<td>5</td><td>Plan!E5</td><td>amount</td>" in body
        assert PlanLine.objects.filter(plan=plan).count() == 1

        good = template_with(content, {4: [PROJECT, FUNCTION, ECON_B, FUND, 800.5, 600]})
        body = text(upload(client, plan, good))
        assert "1 lines added" in body and "2,000.50" in body
        assert PlanLine.objects.filter(plan=plan).count() == 2

        body = text(upload(client, plan, b"not a spreadsheet"))
        assert "not a filing template of this system" in body
        assert PlanLine.objects.filter(plan=plan).count() == 2

    def test_a_plan_cannot_be_submitted_without_lines_and_the_error_is_on_the_page(
            self, client, world, plan):  # noqa: ANN001
        body = follow(as_user(client, world.people.filer), f"/web/budget/plans/{plan.pk}/act/",
                      {"action": "submit"})
        assert "has no lines" in body
        plan.refresh_from_db()
        assert plan.status == BudgetPlan.Status.DRAFT


class TestWholeCycle:
    def test_file_review_control_approve_then_a_virement_moves_the_figures(
            self, client, world, plan):  # noqa: ANN001
        p, act = world.people, f"/web/budget/plans/{plan.pk}/act/"
        lines_url = f"/web/budget/plans/{plan.pk}/lines/"
        follow(as_user(client, p.filer), lines_url, lines_post([
            (PROJECT, FUNCTION, ECON_A, FUND, "1,200.00", "1,000.00"),
            (PROJECT, FUNCTION, ECON_B, FUND, "800.00", "")]))
        assert "一上 submitted" in follow(client, act, {"action": "submit"})

        # the department forwards all its units' plans; the office sees the consolidation
        body = text(as_user(client, p.dept).get(f"/web/budget/review/?year={YEAR}"))
        assert "440300101" in body and "2,000.00" in body
        assert "1 plan(s) forwarded" in follow(client, "/web/budget/review/department/",
                                                {"year": YEAR})
        body = text(as_user(client, p.office).get(f"/web/budget/review/?year={YEAR}"))
        by_class = body.split('id="by-class"')[1]
        assert "205 教育支出" in by_class and "2,000.00" in by_class
        assert "440300100 深圳市教育局" in body.split('id="by-department"')[1]

        # a filer cannot issue control numbers or approve
        assert as_user(client, p.filer).post(act, {"action": "control", "fund_1": "9"}).status_code == 403
        assert client.post(act, {"action": "approve"}).status_code == 403

        body = follow(as_user(client, p.office), act, {"action": "control", "fund_1": "1,500.00",
                                                       "fund_2": "100.00"})
        assert "control numbers issued" in body
        body = follow(as_user(client, p.filer), act, {"action": "submit"})
        assert "does not fit the control numbers" in body and "2000.00" in body
        plan.refresh_from_db()
        assert plan.status == BudgetPlan.Status.CONTROLLED
        follow(client, lines_url, lines_post([
            (PROJECT, FUNCTION, ECON_A, FUND, "1,200.00", "1,000.00"),
            (PROJECT, FUNCTION, ECON_B, FUND, "300.00", "")]))
        body = text(client.get(f"/web/budget/plans/{plan.pk}/"))
        controls = body.split('id="controls"')[1]
        assert "1,500.00" in controls and "exceeds" not in controls
        assert "二上 submitted" in follow(client, act, {"action": "submit"})
        queue = text(as_user(client, p.office).get(f"/web/budget/review/?year={YEAR}")).split(
            'id="queue"')[1].split("</table>")[0]
        assert re.search(r'1,500\.00</td><td class="num">1,600\.00</td>', queue)  # no fan-out
        assert "二上 reviewed" in follow(as_user(client, p.dept), act, {"action": "review"})
        assert "approved" in follow(as_user(client, p.office), act, {"action": "approve"})
        plan.refresh_from_db()
        assert plan.status == BudgetPlan.Status.APPROVED and plan.approval_entry_id
        year = plan.approval_entry.fiscal_year
        assert selectors.indicator_available(dims=dims(ECON_A), year=year) == Decimal("1200.00")
        assert ledger.balance(account="9101", year=year, unit=U1, project=PROJECT) == Decimal("1500.00")
        assert Indicator.objects.filter(year=year, project_code=PROJECT).count() == 2
        steps = [s.action for s in selectors.plan_steps(document=plan).order_by("at", "id")]
        assert steps[-1] == "approve 批复"

        # the unit files a virement of 200.00 from 30201 to 30202; the office approves it
        source, target = dims(ECON_A).key(year), dims(ECON_B).key(year)
        body = follow(as_user(client, p.filer), f"/web/budget/adjustments/new/?year={year}", {
            "kind": "virement", "year": year, "amount": "200.00", "batch_no": "TJ-2026-01",
            "doc_no": "深财预〔2026〕12号", "date": "2026-06-01", "reason": "设备采购调剂",
            "source": source, "target": target})
        adj = Adjustment.objects.get(batch_no="TJ-2026-01")
        figures = body.split('id="figures"')[1]
        assert re.search(r"1,200\.00</td><td class=\"num\">-200\.00</td><td class=\"num\">1,000\.00",
                         figures)
        assert re.search(r"300\.00</td><td class=\"num\">200\.00</td><td class=\"num\">500\.00",
                         figures)
        url = f"/web/budget/adjustments/{adj.pk}/act/"
        assert client.post(url, {"action": "approve"}).status_code == 403  # not the office
        assert "A return or rejection needs a reason" in follow(
            as_user(client, p.office), url, {"action": "reject", "reason": " "})
        body = follow(client, url, {"action": "approve"})
        assert "is now: approved" in body
        assert selectors.indicator_available(dims=dims(ECON_A), year=year) == Decimal("1000.00")
        assert selectors.indicator_available(dims=dims(ECON_B), year=year) == Decimal("500.00")
        figures = body.split('id="figures"')[1]
        assert re.search(r"1,200\.00</td><td class=\"num\">-200\.00</td><td class=\"num\">1,000\.00",
                         figures)

    def test_a_short_source_and_segregation_of_duties_are_messages_not_errors(
            self, client, world, plan):  # noqa: ANN001
        p = world.people
        # the office files a decrease itself, so it cannot approve it (segregation)
        follow(as_user(client, p.filer), f"/web/budget/plans/{plan.pk}/lines/",
               lines_post([(PROJECT, FUNCTION, ECON_A, FUND, "100", "")]))
        for who, action, extra in ((p.filer, "submit", {}), (p.dept, "review", {}),
                                   (p.office, "control", {"fund_1": "100"}),
                                   (p.filer, "submit", {}), (p.dept, "review", {}),
                                   (p.office, "approve", {})):
            follow(as_user(client, who), f"/web/budget/plans/{plan.pk}/act/", {"action": action, **extra})
        plan.refresh_from_db()
        year = plan.approval_entry.fiscal_year
        before = Adjustment.objects.count()  # the world's indicators came as increases
        body = follow(as_user(client, p.office), f"/web/budget/adjustments/new/?year={year}", {
            "kind": "decrease", "year": year, "amount": "100.01", "batch_no": "TZ-1",
            "doc_no": "深财预〔2026〕13号", "date": "2026-06-01", "reason": "压减",
            "source": dims(ECON_A).key(year)})
        assert "available" in body.lower() and Adjustment.objects.count() == before
        follow(client, f"/web/budget/adjustments/new/?year={year}", {
            "kind": "decrease", "year": year, "amount": "40", "batch_no": "TZ-1",
            "doc_no": "深财预〔2026〕13号", "date": "2026-06-01", "reason": "压减",
            "source": dims(ECON_A).key(year)})
        adj = Adjustment.objects.get(batch_no="TZ-1")
        response = client.post("/web/budget/adjustments/new/", {"year": "20x6", "kind": "increase"})
        assert response.status_code == 200 and Adjustment.objects.count() == before + 1  # form errors, no 500
        body = follow(client, f"/web/budget/adjustments/{adj.pk}/act/", {"action": "approve"})
        assert "cannot also approve" in body
        adj.refresh_from_db()
        assert adj.status == Adjustment.Status.SUBMITTED


class TestScoping:
    def test_another_unit_never_reaches_the_plan_nor_sees_its_unit(self, client, world, plan):  # noqa: ANN001
        u1 = world.orgs["u1"]
        other = as_user(client, world.people.other_filer)
        for url in (f"/web/budget/plans/{plan.pk}/", f"/web/budget/plans/{plan.pk}/lines/",
                    f"/web/budget/plans/{plan.pk}/upload/",
                    f"/web/budget/plans/{plan.pk}/template.xlsx",
                    f"/web/budget/projects/{Project.objects.get(code=PROJECT).pk}/"):
            response = other.get(url)
            assert response.status_code == 404, url
            assert u1.code not in text(response) and u1.name not in text(response)
        assert other.post(f"/web/budget/plans/{plan.pk}/act/", {"action": "submit"}).status_code == 404
        for url in ("/web/budget/plans/", "/web/budget/projects/", "/web/budget/adjustments/"):
            body = text(other.get(url))
            assert u1.code not in body and u1.name not in body and PROJECT not in body, url
        assert other.get("/web/budget/review/").status_code == 403
        # the department sees its unit's plan, the unit head reads it but cannot edit
        assert as_user(client, world.people.dept).get(f"/web/budget/plans/{plan.pk}/").status_code == 200
        head = as_user(client, world.people.head)
        assert head.get(f"/web/budget/plans/{plan.pk}/").status_code == 200
        assert head.get(f"/web/budget/plans/{plan.pk}/lines/").status_code == 403

    def test_the_dashboard_links_the_budget_screens_by_role(self, client, world, plan):  # noqa: ANN001
        body = text(as_user(client, world.people.filer).get("/web/"))
        assert "/web/budget/plans/" in body and "/web/budget/review/" not in body
        body = text(as_user(client, world.people.office).get(f"/web/?year={YEAR}"))
        assert "/web/budget/review/" in body and "/web/budget/adjustments/" in body
        assert f'href="/web/budget/plans/{plan.pk}/"' in body  # plans not yet approved
        body = text(as_user(client, world.people.dept).get("/web/"))
        assert "/web/budget/review/" in body


class TestLanguages:
    def test_the_budget_screens_render_in_chinese_and_english(self, world, plan):  # noqa: ANN001
        from django.test import Client
        from django.utils import translation

        with translation.override(None):
            zh = Client()
            zh.force_login(world.people.filer)
            zh_body = text(zh.get(f"/web/budget/plans/{plan.pk}/"))
            refused = text(zh.post(f"/web/budget/plans/{plan.pk}/act/", {"action": "submit"},
                                   follow=True))
            en = Client(headers={"accept-language": "en"})
            en.force_login(world.people.filer)
            en_body = text(en.get(f"/web/budget/plans/{plan.pk}/"))
        assert "控制数（一下）" in zh_body and "在线编辑明细" in zh_body
        assert "草稿（一上编制中）" in zh_body  # the plan's status, from budgets/locale
        assert "单位 440300101 的 2026 年预算没有明细。" in refused  # the service's error, translated
        assert "Control numbers (一下)" in en_body and "Edit lines online" in en_body


class TestQueryCounts:
    def test_the_lists_and_the_review_page_do_not_query_per_plan(self, client, world, plan):  # noqa: ANN001
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        def counts() -> list[int]:
            found = []
            for who, url in ((world.people.office, f"/web/budget/review/?year={YEAR}"),
                             (world.people.office, "/web/budget/plans/"),
                             (world.people.dept, f"/web/budget/review/?year={YEAR}"),
                             (world.people.office, "/web/budget/projects/")):
                as_user(client, who).get(url)  # warm the session and caches
                with CaptureQueriesContext(connection) as ctx:
                    assert client.get(url).status_code == 200
                found.append(len(ctx.captured_queries))
            return found

        follow(as_user(client, world.people.filer), f"/web/budget/plans/{plan.pk}/lines/",
               lines_post([(PROJECT, FUNCTION, ECON_A, FUND, "10", "")]))
        one = counts()
        p2 = budgets_services.project_create(unit_code="440300102", code="P-U2", name="二中项目",
                                             category="specific", total_amount="1", user=world.people.other_filer)
        budgets_services.project_submit(project=p2, user=world.people.other_filer)
        budgets_services.project_review(project=p2, user=world.people.dept)
        budgets_services.project_accept(project=p2, user=world.people.office)
        plan2 = budgets_services.plan_create(unit_code="440300102", year=YEAR,
                                             user=world.people.other_filer)
        budgets_services.plan_lines_save(plan=plan2, user=world.people.other_filer, lines=[
            PlanLineInput("P-U2", FUNCTION, ECON_A, FUND, "20"),
            PlanLineInput("P-U2", "2050204", ECON_B, "2", "30")])
        assert counts() == one


class TestReturns:
    def test_a_plan_and_a_project_are_returned_with_a_reason_shown_to_the_unit(
            self, client, world, plan, library_project):  # noqa: ANN001
        p, act = world.people, f"/web/budget/plans/{plan.pk}/act/"
        follow(as_user(client, p.filer), f"/web/budget/plans/{plan.pk}/lines/",
               lines_post([(PROJECT, FUNCTION, ECON_A, FUND, "10", "")]))
        follow(client, act, {"action": "submit"})
        body = follow(as_user(client, p.dept), act, {"action": "return", "reason": "  "})
        assert "A return or rejection needs a reason" in body
        body = follow(client, act, {"action": "return", "reason": "印刷费另列"})
        plan.refresh_from_db()
        assert plan.status == BudgetPlan.Status.DRAFT and plan.return_reason == "印刷费另列"
        body = text(as_user(client, p.filer).get(f"/web/budget/plans/{plan.pk}/"))
        assert "印刷费另列" in body and 'id="edit-lines"' in body

        project = budgets_services.project_create(unit_code=U1, code="P-RET", name="退回测试",
                                                  category="specific", total_amount="1.00", user=p.filer)
        url = f"/web/budget/projects/{project.pk}/act/"
        follow(client, url, {"action": "submit"})
        assert as_user(client, p.head).post(url, {"action": "return", "reason": "x"}).status_code == 403
        follow(as_user(client, p.office), url, {"action": "return", "reason": "缺少绩效目标"})
        body = text(as_user(client, p.filer).get(f"/web/budget/projects/{project.pk}/"))
        assert "缺少绩效目标" in body and 'id="submit"' in body
        assert library_project.status == Project.Status.IN_LIBRARY


class TestIncreaseOnANewIndicator:
    def test_an_increase_opens_a_new_indicator_only_within_the_filers_scope(self, client, world):  # noqa: ANN001
        p = world.people
        data = {"kind": "increase", "year": YEAR, "amount": "2,500.00", "batch_no": "ZJ-1",
                "doc_no": "深财预〔2026〕20号", "date": "2026-07-01", "reason": "追加水费",
                "target_unit": U1, "target_function": FUNCTION, "target_economic": "30205",
                "target_fund": FUND}
        before = Adjustment.objects.count()  # the world's indicators came as increases
        body = text(as_user(client, p.other_filer).post(f"/web/budget/adjustments/new/?year={YEAR}",
                                                        data))
        assert "Unknown unit, or not one you may see." in body
        assert Adjustment.objects.count() == before
        follow(as_user(client, p.dept), f"/web/budget/adjustments/new/?year={YEAR}", data)
        adj = Adjustment.objects.get(batch_no="ZJ-1")
        body = follow(as_user(client, p.office), f"/web/budget/adjustments/{adj.pk}/act/",
                      {"action": "approve"})
        assert re.search(r'0\.00</td><td class="num">2,500\.00</td><td class="num">2,500\.00', body)
        new = Dims(region="440300", unit=U1, function=FUNCTION, economic="30205", fund_source=FUND,
                   project="")
        assert selectors.indicator_available(dims=new, year=YEAR) == Decimal("2500.00")
        assert Indicator.objects.filter(year=YEAR, dim_key=new.key(YEAR)).exists()
