"""二上二下: 一上 → 一下 (control numbers) → 二上 → 批复, into the ledger's control book."""
from __future__ import annotations

from decimal import Decimal

import pytest

from budgets import errors, selectors, services
from budgets.models import BudgetPlan, Indicator
from finance import roles
from finance import selectors as ledger
from finance.models import Entry
from finance.services import Dims
from tests.budgets.conftest import AS_OF, ON, UNITS, lines_for
from tests.helpers import grant

CONTROL = {"1": "130000.00", "2": "50000.00"}


def run_cycle(filers, reviewers, approver) -> dict[str, BudgetPlan]:  # noqa: ANN001
    """Every unit's plan through 二上二下: each unit's filer files, each department's
    reviewer forwards, the budget office sets control numbers and approves."""
    plans = {}
    for unit in UNITS:
        user = filers[unit]
        plans[unit] = services.plan_create(unit_code=unit, year=2026, user=user, as_of=AS_OF)
        services.plan_lines_save(plan=plans[unit], lines=lines_for(unit), user=user, as_of=AS_OF)
        services.plan_submit(plan=plans[unit], user=user, as_of=AS_OF, comment="一上")
    for dept, reviewer in reviewers.items():
        services.department_plans_review(department_code=dept, year=2026, user=reviewer, as_of=AS_OF)
    for unit, plan in plans.items():
        services.plan_control_set(plan=plan, amounts=CONTROL, user=approver, as_of=AS_OF)
        services.plan_submit(plan=plan, user=filers[unit], as_of=AS_OF, comment="二上")
    for dept, reviewer in reviewers.items():
        services.department_plans_review(department_code=dept, year=2026, user=reviewer, as_of=AS_OF)
    for plan in plans.values():
        services.plan_approve(plan=plan, user=approver, as_of=AS_OF, on=ON, comment="批复")
    return {u: BudgetPlan.objects.get(pk=p.pk) for u, p in plans.items()}


class TestTheWholeCycle:
    def test_indicators_equal_the_approved_plan_lines_to_the_cent(self, projects, filers,
                                                                  reviewers, approver):
        plans = run_cycle(filers, reviewers, approver)
        assert {p.status for p in plans.values()} == {"approved"}
        for unit, (name, region, _dept) in UNITS.items():
            rows = selectors.unit_indicators(unit_code=unit, year=2026)
            got = {(r.dims.project, r.dims.economic, r.dims.fund_source): r.approved for r in rows}
            assert got == {(x.project, x.economic, x.fund_source): x.amount for x in lines_for(unit)}
            assert all(r.available == r.approved and r.adjusted == 0 for r in rows)
            assert {r.dims.region for r in rows} == {region}, name
        total = sum(x.amount for u in UNITS for x in lines_for(u))
        assert total == Decimal("692002.72")
        assert ledger.balance(account="9101", year=2026) == total
        assert ledger.balance(account="9001", year=2026) == total
        assert ledger.trial_balance(book="indicator", year=2026).balanced
        assert ledger.ledger_verify().ok

    def test_approval_posts_one_entry_per_unit_with_a_line_pair_per_plan_line(
            self, projects, filers, reviewers, approver):
        plans = run_cycle(filers, reviewers, approver)
        entries = Entry.objects.filter(kind="approval")
        assert entries.count() == 4
        for plan in plans.values():
            entry = plan.approval_entry
            assert entry.lines.count() == 6
            assert entry.source == plan and entry.posted_by == approver
            assert entry.date == ON
        assert Indicator.objects.filter(plan_line__plan=plans["440303201"]).count() == 3

    def test_every_transition_records_who_when_and_comment(self, projects, filers, reviewers,
                                                           approver):
        plan = run_cycle(filers, reviewers, approver)["440300102"]
        steps = [(s.from_state, s.to_state, s.actor.username, s.comment)
                 for s in selectors.plan_steps(document=plan)]
        assert steps == [
            ("", "draft", "filer-440300102", ""),
            ("draft", "first_submitted", "filer-440300102", "一上"),
            ("first_submitted", "first_reviewed", "dept-reviewer", ""),
            ("first_reviewed", "controlled", "bureau-approver", ""),
            ("controlled", "second_submitted", "filer-440300102", "二上"),
            ("second_submitted", "second_reviewed", "dept-reviewer", ""),
            ("second_reviewed", "approved", "bureau-approver", "批复"),
        ]
        assert all(s.at == AS_OF for s in selectors.plan_steps(document=plan))


class TestControlNumbers:
    def test_resubmission_over_the_control_numbers_lists_every_violation(
            self, controlled_plan, user):
        services.plan_lines_save(plan=controlled_plan, lines=lines_for("440300101", scale=2),
                                 user=user, as_of=AS_OF)
        with pytest.raises(errors.ControlNumbersExceeded) as exc:
            services.plan_submit(plan=controlled_plan, user=user, as_of=AS_OF)
        assert exc.value.violations == [
            "fund source 1: lines total 256000.70, control number 130000.00",
            "fund source 2: lines total 90000.66, control number 50000.00",
        ]
        assert BudgetPlan.objects.get(pk=controlled_plan.pk).status == "controlled"

    def test_a_fund_source_without_a_control_number_has_a_ceiling_of_zero(
            self, controlled_plan, user):
        lines = [*lines_for("440300101"),
                 services.PlanLineInput("440300101-XM01", "2050203", "31002", "3", "10.00")]
        services.plan_lines_save(plan=controlled_plan, lines=lines, user=user, as_of=AS_OF)
        with pytest.raises(errors.ControlNumbersExceeded) as exc:
            services.plan_submit(plan=controlled_plan, user=user, as_of=AS_OF)
        assert str(exc.value) == ("二上 does not fit the control numbers: fund source 3: "
                                  "lines total 10.00, control number 0.00")

    def test_the_department_sees_its_units_beside_their_control_numbers(self, controlled_plan):
        rows = selectors.department_consolidation(department_code="440300100", year=2026)
        assert [(r.unit, r.fund_source, r.total, r.last_year, r.control) for r in rows] == [
            ("440300101", "1", Decimal("128000.35"), Decimal("117600.00"), Decimal("130000.00")),
            ("440300101", "2", Decimal("45000.33"), Decimal("0.00"), Decimal("50000.00")),
        ]


class TestWorkflowRules:
    def test_the_filer_can_never_approve_their_own_plan(self, controlled_plan, user, reviewer):
        services.plan_submit(plan=controlled_plan, user=user, as_of=AS_OF)
        services.plan_review(plan=controlled_plan, user=reviewer, as_of=AS_OF)
        grant(user, roles.BUDGET_OFFICE)  # even one who also works in the budget office
        with pytest.raises(errors.SegregationOfDuties) as exc:
            services.plan_approve(plan=controlled_plan, user=user, as_of=AS_OF)
        assert str(exc.value) == "clerk filed budget plan and cannot also approve it."
        assert not Entry.objects.filter(kind="approval").exists()

    def test_a_return_loops_back_for_revision_with_the_reason(self, controlled_plan, user,
                                                              reviewer):
        services.plan_submit(plan=controlled_plan, user=user, as_of=AS_OF)
        plan = services.plan_return(plan=controlled_plan, user=reviewer, as_of=AS_OF,
                                    reason="设备购置缺少绩效目标")
        assert (plan.status, plan.return_reason) == ("controlled", "设备购置缺少绩效目标")
        last = list(selectors.plan_steps(document=plan))[-1]
        assert (last.action, last.to_state, last.comment) == ("return", "controlled", "设备购置缺少绩效目标")
        services.plan_submit(plan=plan, user=user, as_of=AS_OF)
        assert BudgetPlan.objects.get(pk=plan.pk).status == "second_submitted"

    def test_a_return_without_a_reason_is_refused(self, controlled_plan, user, reviewer):
        services.plan_submit(plan=controlled_plan, user=user, as_of=AS_OF)
        with pytest.raises(errors.ReasonRequired):
            services.plan_return(plan=controlled_plan, user=reviewer, as_of=AS_OF, reason=" ")

    def test_an_approved_plan_is_read_only(self, approved_plan, user, approver):
        with pytest.raises(errors.PlanReadOnly) as exc:
            services.plan_lines_save(plan=approved_plan, lines=lines_for("440300101", 2), user=user)
        assert str(exc.value) == ("The plan of unit 440300101 for 2026 is approved and cannot be "
                                  "edited.")
        with pytest.raises(errors.WrongState) as exc:
            services.plan_approve(plan=approved_plan, user=approver)
        assert "“approve” is not possible now" in str(exc.value)
        assert Entry.objects.filter(kind="approval").count() == 1

    def test_the_unit_sees_its_indicators_by_tuple(self, approved_plan):
        d = Dims(region="440300", unit="440300101", function="2050203", economic="30201",
                 fund_source="1", project="440300101-JB01")
        assert selectors.indicator_available(dims=d, year=2026) == Decimal("8000.25")
        assert selectors.indicator_exists(dims=d, year=2026)


class TestBadInput:
    def test_an_unknown_unit_or_a_department_cannot_have_a_plan(self, city, user):
        with pytest.raises(errors.UnknownUnit) as exc:
            services.plan_create(unit_code="440399999", year=2026, user=user)
        assert str(exc.value) == "Unknown unit 440399999."
        with pytest.raises(errors.NotBudgetUnit):
            services.plan_create(unit_code="440300100", year=2026, user=user)
        assert not BudgetPlan.objects.exists()

    def test_every_bad_line_is_listed_and_nothing_is_half_saved(self, projects, user):
        plan = services.plan_create(unit_code="440300101", year=2026, user=user)
        lines = [
            services.PlanLineInput("440300101-JB01", "2050203", "30201", "1", "10.00"),
            services.PlanLineInput("440300101-JB01", "2050203", "30101", "1", "10.005"),
            services.PlanLineInput("440300101-XM01", "2050203", "30201", "2", "-1.00"),
            services.PlanLineInput("440300102-XM01", "", "30201", "1", "5.00"),
        ]
        with pytest.raises(errors.PlanLinesInvalid) as exc:
            services.plan_lines_save(plan=plan, lines=lines, user=user)
        assert exc.value.problems == [
            "line 2: amount: amount 10.005 has more than 2 decimal places",
            "line 3: amount: amount -1.00 must not be negative",
            "line 4: project: project 440300102-XM01 belongs to unit 440300102",
            "line 4: function: function code is missing",
        ]
        assert plan.lines.count() == 0

    def test_an_empty_plan_cannot_be_submitted(self, projects, user):
        plan = services.plan_create(unit_code="440300101", year=2026, user=user)
        with pytest.raises(errors.PlanEmpty):
            services.plan_submit(plan=plan, user=user)


class TestPlanApi:
    def test_transitions_through_the_api_map_domain_errors_to_400(self, controlled_plan, user,
                                                                  reviewer, client):
        client.force_login(user)
        url = f"/api/budgets/plans/{controlled_plan.pk}/transitions/"
        assert client.post(url, {"action": "submit"}).json() == {
            "id": controlled_plan.pk, "status": "second_submitted"}
        body = client.post(url, {"action": "review"}).json()  # the unit's filer reviewing
        assert body == {"code": "not_permitted",  # the API answers in Chinese by default
                        "detail": "clerk 无权办理此事项：需要 440300101 的“主管部门审核人” / “预算处”角色。"}
        client.force_login(reviewer)
        assert client.post(url, {"action": "return", "reason": "补充说明"}).json()["status"] == "controlled"
