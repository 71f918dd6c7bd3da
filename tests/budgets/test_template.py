"""The Excel filing template: generated per unit, read back cell by cell, all or nothing."""
from __future__ import annotations

import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from budgets import errors, services, spreadsheets
from budgets.models import PlanLine
from finance.models import EconomicCode
from finance.services import save_with_history
from tests.budgets.conftest import AS_OF, lines_for


@pytest.fixture
def plan(projects, user):  # noqa: ANN001, ARG001
    plan = services.plan_create(unit_code="440300101", year=2026, user=user, as_of=AS_OF)
    services.plan_lines_save(plan=plan, lines=lines_for("440300101"), user=user, as_of=AS_OF)
    return plan


def workbook(plan):  # noqa: ANN001
    return load_workbook(io.BytesIO(spreadsheets.plan_template_build(plan=plan)))


def save(wb) -> bytes:  # noqa: ANN001
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def history_rows() -> int:
    return PlanLine.history.count()


class TestTemplateGeneration:
    def test_the_template_lists_the_plan_lines_and_offers_drop_downs(self, plan):
        wb = workbook(plan)
        ws = wb["Plan"]
        assert [c.value for c in ws[3]][:6] == ["440300101-JB01", "2050203", "30101", "1",
                                               120000.1, 110000]
        lists = {str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation
                 if dv.type == "list"}
        assert sorted(lists) == ["A3:A503", "B3:B503", "C3:C503", "D3:D503"]
        assert lists["A3:A503"] == "=Codes!$A$2:$A$3"  # the unit's two library projects
        assert lists["D3:D503"] == "=Codes!$D$2:$D$6"  # five fund sources
        codes = wb["Codes"]
        assert codes.sheet_state == "hidden"
        assert [codes.cell(row=r, column=1).value for r in (2, 3, 4)] == [
            "440300101-JB01", "440300101-XM01", None]  # only this unit's library projects
        economic = [codes.cell(row=r, column=3).value for r in range(2, codes.max_row + 1)]
        assert "30201" in economic and "302" not in economic  # leaf codes only
        assert wb["Meta"].sheet_state == "veryHidden"


class TestTemplateReadBack:
    def test_a_round_trip_without_edits_changes_nothing(self, plan, user):
        before = history_rows()
        result = services.plan_template_import(plan=plan, content=save(workbook(plan)), user=user)
        assert (result.created, result.updated, result.deleted, result.unchanged) == (0, 0, 0, 3)
        assert history_rows() == before

    def test_filled_rows_are_saved_as_plan_lines(self, plan, user):
        wb = workbook(plan)
        ws = wb["Plan"]
        ws["E4"] = 9000.5  # changed
        for col, value in zip("ABCDEF", ["440300101-XM01", 2050203, "30211", "1", 1234.56, None],
                              strict=True):
            ws[f"{col}6"] = value  # new line, code typed as a number
        result = services.plan_template_import(plan=plan, content=save(wb), user=user)
        assert (result.created, result.updated, result.unchanged) == (1, 1, 2)
        assert sorted(plan.lines.values_list("economic__code", "amount")) == [
            ("30101", Decimal("120000.10")), ("30201", Decimal("9000.50")),
            ("30211", Decimal("1234.56")), ("31002", Decimal("45000.33"))]

    def test_every_error_is_named_by_its_cell_and_nothing_is_saved(self, plan, user):
        retired = EconomicCode.objects.get(code="30299")
        retired.active = False
        save_with_history(retired, user=user, reason="test: retire")
        wb = workbook(plan)
        ws = wb["Plan"]
        ws["E3"] = 1.0  # a valid change that must not be saved either
        ws["C4"] = "30299x"
        ws["E5"] = 12.345
        rows = [["NOPE-1", "2050203", "30201", "1", -5, None],
                ["440300101-XM01", "205", "30299", "9", "abc", None]]
        for r, row in enumerate(rows, start=7):
            for col, value in zip("ABCDEF", row, strict=True):
                ws[f"{col}{r}"] = value
        before = history_rows()
        with pytest.raises(errors.TemplateInvalid) as exc:
            services.plan_template_import(plan=plan, content=save(wb), user=user)
        assert exc.value.problems == [
            "Plan!C4: economic code 30299x does not exist",
            "Plan!E5: amount 12.345 has more than 2 decimal places",
            "Plan!A7: project NOPE-1 does not exist",
            "Plan!E7: amount -5 must not be negative",
            "Plan!B8: function code 205 is not a leaf code",
            "Plan!C8: economic code 30299 is retired",
            "Plan!D8: fund source code 9 does not exist",
            "Plan!E8: amount abc is not a number",
        ]
        assert history_rows() == before
        assert plan.lines.get(economic__code="30101").amount == Decimal("120000.10")

    def test_a_duplicated_line_names_the_first_row(self, plan, user):
        wb = workbook(plan)
        ws = wb["Plan"]
        for col in "ABCDE":
            ws[f"{col}7"] = ws[f"{col}3"].value
        with pytest.raises(errors.TemplateInvalid) as exc:
            services.plan_template_import(plan=plan, content=save(wb), user=user)
        assert exc.value.problems == [
            "Plan!A7: the same project and codes appear again (first in Plan!A3)"]

    def test_a_template_of_another_unit_or_year_is_refused(self, plan, projects, user, filers):
        other = services.plan_create(unit_code="440300102", year=2026, user=filers["440300102"])
        content = spreadsheets.plan_template_build(plan=other)
        with pytest.raises(errors.TemplateOtherPlan) as exc:
            services.plan_template_import(plan=plan, content=content, user=user)
        assert str(exc.value) == ("This template is for unit 440300102, year 2026; it cannot be "
                                  "read into the plan of unit 440300101 for 2026.")
        next_year = services.plan_create(unit_code="440300101", year=2027, user=user)
        with pytest.raises(errors.TemplateOtherPlan):
            services.plan_template_import(plan=plan, content=spreadsheets.plan_template_build(
                plan=next_year), user=user)

    def test_a_file_that_is_not_a_template_is_refused(self, plan, user):
        with pytest.raises(errors.TemplateUnreadable):
            services.plan_template_import(plan=plan, content=b"not a workbook", user=user)


class TestTemplateApi:
    def test_download_then_upload_through_the_api(self, plan, user, client):
        client.force_login(user)
        response = client.get(f"/api/budgets/plans/{plan.pk}/template/")
        assert response["Content-Disposition"] == 'attachment; filename="plan_440300101_2026.xlsx"'
        wb = load_workbook(io.BytesIO(response.content))
        wb["Plan"]["C4"] = "30299x"
        response = client.post(f"/api/budgets/plans/{plan.pk}/template/",
                               {"file": io.BytesIO(save(wb))}, format="multipart")
        assert response.status_code == 400
        # the site's language (zh-hans) unless the client asks for another (issue 18)
        assert response.json()["problems"] == ["Plan!C4: 经济分类编码 30299x 不存在"]
        response = client.post(f"/api/budgets/plans/{plan.pk}/template/",
                               {"file": io.BytesIO(save(wb))}, format="multipart",
                               HTTP_ACCEPT_LANGUAGE="en")
        assert response.json()["problems"] == ["Plan!C4: economic code 30299x does not exist"]
