"""The bureau's batch services (一下 `plans_control_set`, 批复 `plans_approve`) write
exactly what the one-by-one services write, refuse what they refuse, and the unit's
save-and-submit (`plan_create(lines=, submit=True)`, `plan_lines_save(submit=True)`)
is `plan_lines_save` + `plan_submit` in one step."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from budgets import errors, services
from budgets.models import BudgetPlan, ControlNumber, Indicator, PlanLine
from finance import errors as finance_errors
from finance import roles
from finance import services as finance_services
from finance.models import Balance, Entry, Line, WorkflowStep
from tests.budgets.conftest import AS_OF, ON, UNITS, lines_for
from tests.helpers import grant

CONTROL = {"1": "130000.00", "2": "50000.00"}
DEPTS = ("440300100", "440300200")


class _Rollback(Exception):  # noqa: N818 - control flow of the tests only
    pass


def _review_all(reviewers) -> None:  # noqa: ANN001
    for dept in DEPTS:
        services.department_plans_review(department_code=dept, year=2026, user=reviewers[dept],
                                         as_of=AS_OF)


def first_reviewed(filers, reviewers) -> list[BudgetPlan]:  # noqa: ANN001
    """Every unit's plan after 一上 (by its filer) and the departments' review, in id order."""
    for unit in UNITS:
        user = filers[unit]
        plan = services.plan_create(unit_code=unit, year=2026, user=user, as_of=AS_OF)
        services.plan_lines_save(plan=plan, lines=lines_for(unit), user=user, as_of=AS_OF)
        services.plan_submit(plan=plan, user=user, as_of=AS_OF)
    _review_all(reviewers)
    return list(BudgetPlan.objects.order_by("id"))


def second_reviewed(filers, reviewers, approver) -> list[BudgetPlan]:  # noqa: ANN001
    plans = first_reviewed(filers, reviewers)
    for plan in plans:
        services.plan_control_set(plan=plan, amounts=CONTROL, user=approver, as_of=AS_OF)
        services.plan_submit(plan=plan, user=filers[plan.unit.code], as_of=AS_OF)
    _review_all(reviewers)
    return list(BudgetPlan.objects.order_by("id"))


def snapshot() -> dict[str, list]:
    """Everything the bureau's actions write, without row ids and write times (the same
    rows written twice get other ids and history dates)."""
    ct = ContentType.objects.get_for_model(BudgetPlan)
    return {
        "plans": list(BudgetPlan.objects.order_by("id").values_list(
            "id", "status", "return_reason", "approval_entry__number")),
        "plan history": sorted(BudgetPlan.history.values_list(
            "id", "status", "return_reason", "approval_entry__number", "history_type",
            "history_change_reason", "history_user_id")),
        "control numbers": sorted(ControlNumber.objects.values_list(
            "plan_id", "fund_source_id", "amount")),
        "control history": sorted(ControlNumber.history.values_list(
            "plan_id", "fund_source_id", "amount", "history_type", "history_change_reason",
            "history_user_id")),
        "workflow": sorted(WorkflowStep.objects.filter(doc_type=ct).values_list(
            "doc_id", "from_state", "to_state", "action", "actor_id", "at", "comment")),
        "entries": list(Entry.objects.order_by("number").values_list(
            "fiscal_year", "number", "date", "month", "description", "kind", "source_type",
            "source_id", "idempotency_key", "content_hash", "hash", "prev_hash",
            "posted_by_id", "posted_at")),
        "lines": list(Line.objects.order_by("entry__number", "seq").values_list(
            "entry__number", "seq", "book", "account_id", "region_id", "unit_id", "function_id",
            "economic_id", "fund_source_id", "project_code", "debit_fen", "credit_fen")),
        "balances": sorted(Balance.objects.values_list(
            "account_id", "dim_key", "year", "debit_fen", "credit_fen")),
        "indicators": sorted(Indicator.objects.values_list(
            "year", "dim_key", "region_code", "unit_id", "function_code", "economic_code",
            "fund_source_code", "project_code", "plan_line_id", "entry__number")),
    }


def one_by_one_then_rolled_back(act, read=snapshot):  # noqa: ANN001, ANN201
    """`read()` (the snapshot) after `act()`, which is then undone."""
    try:
        with transaction.atomic():
            act()
            raise _Rollback(read())
    except _Rollback as done:
        return done.args[0]


class TestControlNumbersInABatch:
    def test_a_batch_writes_what_one_by_one_writes(self, projects, user, filers, reviewers,
                                                   approver):  # noqa: ANN001, ARG002
        plans = first_reviewed(filers, reviewers)
        amounts = {p.pk: {"1": f"{130000 + i}.00", "2": "50000.00"} for i, p in enumerate(plans)}

        def singles() -> None:
            for p in plans:
                services.plan_control_set(plan=p, amounts=amounts[p.pk], user=approver,
                                          as_of=AS_OF, comment="一下")

        expected = one_by_one_then_rolled_back(singles)
        out = services.plans_control_set(items=[(p, amounts[p.pk]) for p in plans],
                                         user=approver, as_of=AS_OF, comment="一下")
        assert out.refused == []
        assert [p.pk for p in out.done] == [p.pk for p in plans]
        assert {p.status for p in out.done} == {BudgetPlan.Status.CONTROLLED}
        assert snapshot() == expected
        assert len(expected["control numbers"]) == 2 * len(plans)

    def test_a_wrong_state_or_bad_amount_is_refused_as_the_single_service_refuses_it(
            self, projects, user, filers, reviewers, approver):  # noqa: ANN001, ARG002
        plans = first_reviewed(filers, reviewers)
        done_already, bad_amount, good, _other = plans
        services.plan_control_set(plan=done_already, amounts=CONTROL, user=approver, as_of=AS_OF)
        before = ControlNumber.history.count()
        out = services.plans_control_set(
            items=[(done_already, CONTROL), (bad_amount, {"1": "-5", "99": "1"}), (good, CONTROL)],
            user=approver, as_of=AS_OF)
        assert [p.pk for p in out.done] == [good.pk]
        refused = {p.pk: exc for p, exc in out.refused}
        assert isinstance(refused[done_already.pk], errors.WrongState)
        assert isinstance(refused[bad_amount.pk], errors.PlanLinesInvalid)
        for plan, amounts in ((done_already, CONTROL), (bad_amount, {"1": "-5", "99": "1"})):
            with pytest.raises(type(refused[plan.pk])) as single:
                services.plan_control_set(plan=plan, amounts=amounts, user=approver, as_of=AS_OF)
            assert str(single.value) == str(refused[plan.pk])
        # only the good plan's two numbers were written
        assert ControlNumber.history.count() == before + 2
        assert BudgetPlan.objects.get(pk=bad_amount.pk).status == BudgetPlan.Status.FIRST_REVIEWED
        assert not ControlNumber.objects.filter(plan=bad_amount).exists()

    def test_a_unit_filer_cannot_act_as_the_budget_office_and_nothing_is_written(
            self, projects, user, filers, reviewers):  # noqa: ANN001, ARG002
        plans = first_reviewed(filers, reviewers)
        with pytest.raises(finance_errors.NotPermitted) as exc:
            services.plans_control_set(items=[(p, CONTROL) for p in plans], user=user,
                                       as_of=AS_OF)
        assert str(exc.value) == "clerk may not do this: it needs the role “budget office”."
        assert not ControlNumber.objects.exists()
        assert set(BudgetPlan.objects.values_list("status", flat=True)) == {"first_reviewed"}

    def test_the_filer_of_a_plan_is_refused_that_plan_even_in_the_budget_office(
            self, projects, user, filers, reviewers):  # noqa: ANN001, ARG002
        plans = first_reviewed(filers, reviewers)
        grant(user, roles.BUDGET_OFFICE)  # files for 440300101 and works in the office
        out = services.plans_control_set(items=[(p, CONTROL) for p in plans], user=user,
                                         as_of=AS_OF)
        assert [(p.unit.code, type(exc)) for p, exc in out.refused] == [
            ("440300101", errors.SegregationOfDuties)]
        assert [p.unit.code for p in out.done] == ["440300102", "440303201", "440304202"]
        assert not ControlNumber.objects.filter(plan__unit__code="440300101").exists()

    def test_a_plan_twice_in_a_batch_is_a_programming_error(self, projects, user, filers,
                                                            reviewers,
                                                            approver):  # noqa: ANN001, ARG002
        plan = first_reviewed(filers, reviewers)[0]
        with pytest.raises(ValueError, match="twice"):
            services.plans_control_set(items=[(plan, CONTROL), (plan, CONTROL)], user=approver)


class TestApprovalInABatch:
    def test_a_batch_posts_and_writes_what_one_by_one_does(self, projects, user, filers,
                                                           reviewers,
                                                           approver):  # noqa: ANN001, ARG002
        plans = second_reviewed(filers, reviewers, approver)

        def singles() -> None:
            for p in plans:  # in id order, the batch's order: the same entry numbers
                services.plan_approve(plan=p, user=approver, as_of=AS_OF, on=ON, comment="批复")

        expected = one_by_one_then_rolled_back(singles)
        out = services.plans_approve(plans=plans, user=approver, as_of=AS_OF, on=ON,
                                     comment="批复")
        assert out.refused == []
        assert {p.status for p in out.done} == {BudgetPlan.Status.APPROVED}
        got = snapshot()
        assert got == expected  # same entries (to the hash chain), lines, balances, register
        assert len(got["entries"]) == len(plans)
        assert len(got["indicators"]) == PlanLine.objects.count()

    def test_wrong_states_and_exceeded_control_numbers_are_refused_as_one_by_one(
            self, projects, user, filers, reviewers, approver):  # noqa: ANN001, ARG002
        plans = second_reviewed(filers, reviewers, approver)
        approved, exceeded, good, _other = plans
        services.plan_approve(plan=approved, user=approver, as_of=AS_OF, on=ON)
        ControlNumber.objects.filter(plan=exceeded, fund_source__code="1").update(
            amount=Decimal("1.00"))
        entries = Entry.objects.count()
        out = services.plans_approve(plans=[approved, exceeded, good], user=approver,
                                     as_of=AS_OF, on=ON)
        assert [p.pk for p in out.done] == [good.pk]
        refused = {p.pk: exc for p, exc in out.refused}
        assert isinstance(refused[approved.pk], errors.WrongState)
        assert isinstance(refused[exceeded.pk], errors.ControlNumbersExceeded)
        for plan in (approved, exceeded):
            with pytest.raises(type(refused[plan.pk])) as single:
                services.plan_approve(plan=plan, user=approver, as_of=AS_OF, on=ON)
            assert str(single.value) == str(refused[plan.pk])
        assert Entry.objects.count() == entries + 1
        assert BudgetPlan.objects.get(pk=exceeded.pk).approval_entry_id is None
        assert not Indicator.objects.filter(unit=exceeded.unit).exists()

    def test_a_unit_filer_cannot_approve_as_the_budget_office(self, projects, user, filers,
                                                              reviewers, approver):  # noqa: ANN001
        plans = second_reviewed(filers, reviewers, approver)
        with pytest.raises(finance_errors.NotPermitted) as exc:
            services.plans_approve(plans=plans, user=user, as_of=AS_OF, on=ON)
        assert str(exc.value) == "clerk may not do this: it needs the role “budget office”."
        assert not Entry.objects.exists()

    def test_the_filer_is_refused_their_own_plan(self, projects, user, filers, reviewers,
                                                 approver):  # noqa: ANN001
        plans = second_reviewed(filers, reviewers, approver)
        grant(user, roles.BUDGET_OFFICE)
        out = services.plans_approve(plans=plans, user=user, as_of=AS_OF, on=ON)
        assert [(p.unit.code, type(exc)) for p, exc in out.refused] == [
            ("440300101", errors.SegregationOfDuties)]
        assert Entry.objects.count() == 3

    def test_a_ledger_refusal_refuses_the_whole_batch(self, projects, user, filers,
                                                      reviewers,
                                                      approver):  # noqa: ANN001, ARG002
        plans = second_reviewed(filers, reviewers, approver)
        finance_services.period_close(year=2026, month=ON.month, user=approver)
        with pytest.raises(finance_errors.PeriodClosed):
            services.plans_approve(plans=plans, user=approver, as_of=AS_OF, on=ON)
        assert not Entry.objects.exists()
        assert not Indicator.objects.exists()
        assert set(BudgetPlan.objects.values_list("status", flat=True)) == {"second_reviewed"}

    def test_a_batch_run_again_is_refused_and_posts_nothing_twice(self, projects, user, filers,
                                                                  reviewers,
                                                                  approver):  # noqa: ANN001, ARG002
        plans = second_reviewed(filers, reviewers, approver)
        services.plans_approve(plans=plans, user=approver, as_of=AS_OF, on=ON)
        before = snapshot()
        again = services.plans_approve(plans=plans, user=approver, as_of=AS_OF, on=ON)
        assert again.done == []
        assert {type(exc) for _, exc in again.refused} == {errors.WrongState}
        assert snapshot() == before

    def test_the_statements_of_a_batch_do_not_grow_with_its_plans(self, projects, user, filers,
                                                                  reviewers,
                                                                  approver):  # noqa: ANN001, ARG002
        plans = second_reviewed(filers, reviewers, approver)
        with CaptureQueriesContext(connection) as one:
            services.plans_approve(plans=plans[:1], user=approver, as_of=AS_OF, on=ON)
        with CaptureQueriesContext(connection) as three:
            services.plans_approve(plans=plans[1:], user=approver, as_of=AS_OF, on=ON)
        assert len(three) == len(one)


class TestSaveAndSubmit:
    def test_create_fill_and_submit_in_one_step_is_the_three_steps(self, projects, user):  # noqa: ANN001, ARG002
        def three_steps() -> None:
            plan = services.plan_create(unit_code="440300101", year=2026, user=user, as_of=AS_OF)
            services.plan_lines_save(plan=plan, lines=lines_for("440300101"), user=user,
                                     as_of=AS_OF)
            services.plan_submit(plan=plan, user=user, as_of=AS_OF)

        def shape() -> list:
            ct = ContentType.objects.get_for_model(BudgetPlan)
            plan = BudgetPlan.objects.get()
            return [
                (plan.status, plan.filed_by_id, plan.unit_id),
                sorted(plan.lines.values_list("project_id", "function_id", "economic_id",
                                              "fund_source_id", "amount", "last_year_amount")),
                list(BudgetPlan.history.order_by("history_id").values_list(
                    "status", "history_type", "history_change_reason", "history_user_id")),
                sorted(PlanLine.history.values_list("amount", "history_type",
                                                    "history_change_reason")),
                list(WorkflowStep.objects.filter(doc_type=ct).order_by("id").values_list(
                    "from_state", "to_state", "action", "actor_id", "at", "comment")),
            ]

        expected = one_by_one_then_rolled_back(three_steps, read=shape)
        plan = services.plan_create(unit_code="440300101", year=2026, user=user, as_of=AS_OF,
                                    lines=lines_for("440300101"), submit=True)
        assert plan.status == BudgetPlan.Status.FIRST_SUBMITTED
        assert shape() == expected

    def test_bad_lines_create_no_plan(self, projects, user):  # noqa: ANN001, ARG002
        bad = [*lines_for("440300101"), lines_for("440300101")[0]]  # a tuple twice
        with pytest.raises(errors.PlanLinesInvalid):
            services.plan_create(unit_code="440300101", year=2026, user=user, as_of=AS_OF,
                                 lines=bad, submit=True)
        with pytest.raises(errors.PlanEmpty):
            services.plan_create(unit_code="440300101", year=2026, user=user, as_of=AS_OF,
                                 lines=[], submit=True)
        assert not BudgetPlan.objects.exists()

    def test_a_second_submission_over_the_control_numbers_saves_nothing(self, controlled_plan,
                                                                        user):  # noqa: ANN001
        lines_before = sorted(controlled_plan.lines.values_list("id", "amount"))
        with pytest.raises(errors.ControlNumbersExceeded):
            services.plan_lines_save(plan=controlled_plan, lines=lines_for("440300101", 2),
                                     user=user, as_of=AS_OF, submit=True)
        assert sorted(controlled_plan.lines.values_list("id", "amount")) == lines_before
        assert BudgetPlan.objects.get(pk=controlled_plan.pk).status == "controlled"

    def test_save_and_submit_within_the_control_numbers(self, controlled_plan, user):  # noqa: ANN001
        lines = lines_for("440300101")
        lines[0] = lines[0].__class__(*lines[0].key(), Decimal("100000.00"))
        result = services.plan_lines_save(plan=controlled_plan, lines=lines, user=user,
                                          as_of=AS_OF, submit=True, comment="二上")
        assert (result.updated, result.unchanged) == (1, 2)
        plan = BudgetPlan.objects.get(pk=controlled_plan.pk)
        assert plan.status == BudgetPlan.Status.SECOND_SUBMITTED
        step = WorkflowStep.objects.filter(doc_id=str(plan.pk)).order_by("id").last()
        assert (step.action, step.comment) == ("submit 二上", "二上")
