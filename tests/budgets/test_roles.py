"""Who may act in budgets: every write a person performs asks finance.roles and refuses a
user without the right role or unit with finance.errors.NotPermitted (nothing written);
the investment-project feed, a system path without a person, checks no actor (its
command runs with no user: tests/budgets/test_projects.py)."""
from __future__ import annotations

import pytest
from django.utils import translation

from budgets import services
from budgets.models import Adjustment, BudgetPlan, ControlNumber, Project
from finance.errors import NotPermitted
from finance.ledger import Dims
from finance.models import Entry
from tests.budgets.conftest import AS_OF, ON, lines_for
from tests.helpers import person

NEED_FILER_101 = "filer-440300102 may not do this: it needs the role “unit filer” for 440300101."
NEED_OFFICE = "filer-440300102 may not do this: it needs the role “budget office”."


def submitted(unit: str, filer) -> BudgetPlan:  # noqa: ANN001
    plan = services.plan_create(unit_code=unit, year=2026, user=filer, as_of=AS_OF,
                                lines=lines_for(unit), submit=True)
    return BudgetPlan.objects.get(pk=plan.pk)


class TestTheUnitsFiler:
    def test_a_filer_of_another_unit_cannot_file_its_plan(self, projects, filers):
        with pytest.raises(NotPermitted) as exc:
            services.plan_create(unit_code="440300101", year=2026, user=filers["440300102"],
                                 lines=lines_for("440300101"), submit=True)
        assert str(exc.value) == NEED_FILER_101
        assert not BudgetPlan.objects.exists()

    def test_a_filer_of_another_unit_cannot_fill_or_submit_its_plan(self, projects, filers, user):
        plan = services.plan_create(unit_code="440300101", year=2026, user=user)
        other = filers["440300102"]
        for act in (lambda: services.plan_lines_save(plan=plan, lines=lines_for("440300101"),
                                                     user=other, submit=True),
                    lambda: services.plan_submit(plan=plan, user=other)):
            with pytest.raises(NotPermitted) as exc:
                act()
            assert str(exc.value) == NEED_FILER_101
        plan.refresh_from_db()
        assert (plan.status, plan.lines.count()) == ("draft", 0)

    def test_the_message_names_the_role_in_chinese(self, projects, filers):
        with pytest.raises(NotPermitted) as exc:
            services.plan_create(unit_code="440300101", year=2026, user=filers["440300102"])
        with translation.override("zh-hans"):
            assert str(exc.value) == "filer-440300102 无权办理此事项：需要 440300101 的“经办人”角色。"

    def test_a_reviewer_or_the_budget_office_files_no_project(self, city, reviewer, approver):
        for who in (reviewer, approver):
            with pytest.raises(NotPermitted):
                services.project_create(unit_code="440300101", code="P-X", name="x",
                                        category="personnel", total_amount="1.00", user=who)
        assert not Project.objects.exists()


class TestTheBudgetOffice:
    def test_a_unit_filer_cannot_set_control_numbers_or_approve(self, projects, filers,
                                                                 reviewers, approver):
        plan = submitted("440300101", filers["440300101"])
        services.plan_review(plan=plan, user=reviewers["440300100"], as_of=AS_OF)
        with pytest.raises(NotPermitted) as exc:
            services.plan_control_set(plan=plan, amounts={"1": "1.00"}, user=filers["440300102"])
        assert str(exc.value) == NEED_OFFICE
        assert not ControlNumber.objects.exists()
        services.plan_control_set(plan=plan, amounts={"1": "130000.00", "2": "50000.00"},
                                  user=approver, as_of=AS_OF)
        services.plan_submit(plan=plan, user=filers["440300101"], as_of=AS_OF)
        services.plan_review(plan=plan, user=reviewers["440300100"], as_of=AS_OF)
        with pytest.raises(NotPermitted) as exc:
            services.plan_approve(plan=plan, user=filers["440300102"], on=ON)
        assert str(exc.value) == NEED_OFFICE
        assert not Entry.objects.exists()
        assert services.plan_approve(plan=plan, user=approver, as_of=AS_OF, on=ON).status == (
            "approved")

    def test_a_department_reviewer_cannot_approve_either(self, projects, filers, reviewers):
        plan = submitted("440300101", filers["440300101"])
        with pytest.raises(NotPermitted) as exc:
            services.plans_approve(plans=[plan], user=reviewers["440300100"], on=ON)
        assert str(exc.value) == ("dept-reviewer may not do this: it needs the role "
                                  "“budget office”.")


class TestTheDepartment:
    def test_a_department_reviewer_cannot_review_another_departments_plan(
            self, projects, filers, reviewers):
        plan = submitted("440303201", filers["440303201"])  # a health unit
        education = reviewers["440300100"]
        with pytest.raises(NotPermitted) as exc:
            services.plan_review(plan=plan, user=education, as_of=AS_OF)
        assert str(exc.value) == ("dept-reviewer may not do this: it needs the role "
                                  "“department reviewer” / “budget office” for 440303201.")
        with pytest.raises(NotPermitted) as exc:
            services.department_plans_review(department_code="440300200", year=2026,
                                             user=education, as_of=AS_OF)
        assert str(exc.value) == ("dept-reviewer may not do this: it needs the role "
                                  "“department reviewer” / “budget office” for 440300200.")
        with pytest.raises(NotPermitted):
            services.plan_return(plan=plan, user=education, reason="x")
        assert BudgetPlan.objects.get(pk=plan.pk).status == "first_submitted"
        done = services.department_plans_review(department_code="440300200", year=2026,
                                                user=reviewers["440300200"], as_of=AS_OF)
        assert [p.unit.code for p in done] == ["440303201"]

    def test_a_queue_of_two_departments_projects_refuses_the_other_departments(
            self, city, filers, reviewers):
        mine, theirs = (services.project_create(
            unit_code=unit, code=f"P-{unit}", name="x", category="specific",
            total_amount="1.00", user=filers[unit], as_of=AS_OF, submit=True)
            for unit in ("440300102", "440304202"))
        out = services.projects_review(projects=[mine, theirs], user=reviewers["440300100"],
                                       as_of=AS_OF)
        assert [p.code for p in out.done] == ["P-440300102"]
        (refused, exc), = out.refused
        assert refused.code == "P-440304202" and isinstance(exc, NotPermitted)
        with pytest.raises(NotPermitted) as single:  # as the one-by-one service says it
            services.project_review(project=theirs, user=reviewers["440300100"])
        assert str(exc) == str(single.value)
        assert Project.objects.get(code="P-440304202").status == "submitted"

    def test_a_member_of_no_department_reviews_nothing(self, projects, filers, user):
        plan = submitted("440300102", filers["440300102"])
        nobody = person("nobody")
        with pytest.raises(NotPermitted):
            services.plan_review(plan=plan, user=nobody)


class TestAdjustments:
    TUPLE = Dims(region="440300", unit="440300101", function="2050203", economic="30201",
                 fund_source="1", project="440300101-JB01")

    def file(self, user):  # noqa: ANN001, ANN201
        return services.adjustment_file(kind="increase", year=2026, amount="10.00",
                                        batch_no="TZ-1", doc_no="深财预〔2026〕1号", date=ON,
                                        reason="追加", target=self.TUPLE, user=user, as_of=AS_OF)

    def test_the_unit_its_department_or_the_office_files_and_only_the_office_decides(
            self, approved_plan, filers, reviewers, approver):
        with pytest.raises(NotPermitted) as exc:
            self.file(filers["440300102"])
        assert str(exc.value) == (
            "filer-440300102 may not do this: it needs the role “unit filer” / "
            "“department reviewer” / “budget office” for 440300101.")
        with pytest.raises(NotPermitted):
            self.file(reviewers["440300200"])  # another department
        filed = [self.file(u) for u in (filers["440300101"], reviewers["440300100"], approver)]
        assert Adjustment.objects.count() == 3
        with pytest.raises(NotPermitted) as exc:
            services.adjustment_approve(adjustment=filed[0], user=reviewers["440300100"])
        assert str(exc.value) == ("dept-reviewer may not do this: it needs the role "
                                  "“budget office”.")
        with pytest.raises(NotPermitted):
            services.adjustment_reject(adjustment=filed[0], user=filers["440300101"], reason="x")
        assert services.adjustment_approve(adjustment=filed[1], user=approver,
                                           as_of=AS_OF).status == "approved"

