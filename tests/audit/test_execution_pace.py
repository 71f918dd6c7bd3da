"""Execution pace (序时进度): graded alerts per department and project, raised once a
month, upgraded yellow → red, and the loop notified → explained → rectified.

Figures by hand. Day counting: the day measured counts; 30 June 2026 is day
31 + 28 + 31 + 30 + 31 + 30 = 181 of 365 (2026 is not a leap year):
181 / 365 = 0.495890… = 49.59 % of the year elapsed.

Three departments, each with one unit and an indicator of 1,000,000.00 (approved
2026-03-10), payments dated 2026-03-10:
- 440300100 教育局 (unit 440300101, on project P-A): paid 300,000.00 → 30.00 %;
  lag 49.589… − 30.00 = 19.59 points → yellow (10 ≤ lag < 20); project P-A the same;
- 440300200 卫健委 (unit 440300201): paid 200,000.00 → 20.00 %; lag 29.59 → red (≥ 20);
- 440300300 交通局 (unit 440300301): paid 450,000.00 → 45.00 %; lag 4.59 → none.
Then an adjustment (调增) of 500,000.00 on P-A (2026-06-20): indicator 1,500,000.00,
paid 300,000.00 → 300,000 / 1,500,000 = 20.00 %; lag 29.59 → red: 440300100 and P-A
are upgraded, still one alert each for June."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from audit import monitoring, pace, services
from audit.errors import AlertTransitionRefused, AuditorReadOnly
from audit.models import PaceAlert
from finance import roles
from finance import services as fin
from finance.errors import NotPermitted
from finance.ids import make_uscc
from finance.models import WorkflowStep
from tests.audit.conftest import at
from tests.helpers import ON, approve_lines, commit_lines, dims, grant, pay_lines

D = Decimal
JUNE_30 = dt.date(2026, 6, 30)
DEPTS = {"440300100": "440300101", "440300200": "440300201", "440300300": "440300301"}


def _org(code: str, name: str, kind: str, parent: str, user) -> object:  # noqa: ANN001
    return fin.organization_upsert(code=code, name=name, kind=kind, region_code="440300",
                                   uscc=make_uscc("440300", int(code[-3:]) + 500), user=user,
                                   parent_code=parent, reason="set-up")


def _pay(amount: Decimal, d, user) -> None:  # noqa: ANN001
    fin.entry_post(lines=commit_lines(amount, d), description="占用", user=user, on=ON,
                   as_of=at(ON, 10), kind="commit")
    fin.entry_post(lines=pay_lines(amount, d), description="支付", user=user, on=ON,
                   as_of=at(ON, 11), kind="payment")


@pytest.fixture
def city(fiscal_year, orgs, user):  # noqa: ANN001, ARG001
    """The three departments above, their indicators and payments; people: a filer of
    each unit, a member of each department, the budget office, an auditor."""
    from budgets import services as budgets

    _org("440300200", "深圳市卫生健康委员会", "department", "440300001", user)
    _org("440300201", "深圳市人民医院", "budget_unit", "440300200", user)
    _org("440300300", "深圳市交通运输局", "department", "440300001", user)
    _org("440300301", "深圳市公路事务中心", "budget_unit", "440300300", user)
    mk = type(user).objects.create_user
    people = {}
    for dept, unit in DEPTS.items():
        people[unit] = grant(mk(username=f"filer-{unit}"), roles.UNIT_FILER,
                             organization=fin_org(unit), by=user)
        people[dept] = grant(mk(username=f"dept-{dept}"), organization=fin_org(dept), by=user)
    people["office"] = grant(mk(username="office"), roles.BUDGET_OFFICE)
    people["auditor"] = grant(mk(username="auditor"), roles.AUDITOR)
    budgets.project_create(unit_code="440300101", code="P-A", name="校舍维修", category="specific",
                           total_amount="1500000.00", user=people["440300101"])
    for unit, paid, project in (("440300101", "300000.00", "P-A"),
                                ("440300201", "200000.00", ""),
                                ("440300301", "450000.00", "")):
        d = dims(unit=unit, project=project)
        fin.entry_post(lines=approve_lines(D("1000000.00"), d), description="批复", user=user,
                       on=ON, as_of=at(ON, 9), kind="approval")
        _pay(D(paid), d, user)
    return people


def fin_org(code: str):  # noqa: ANN201
    from finance.models import Organization

    return Organization.objects.get(code=code)


def alerts() -> list[tuple[str, str, str, str, str, str, str]]:
    return [(a.scope, a.subject_code, a.grade, a.status, str(a.time_pct), str(a.execution_pct),
             str(a.lag_points))
            for a in PaceAlert.objects.order_by("scope", "subject_code")]


def steps(alert: PaceAlert) -> list[tuple[str, str, str, str]]:
    return [(s.action, s.from_state, s.to_state, s.actor.username if s.actor else "")
            for s in WorkflowStep.objects.filter(doc_id=str(alert.pk),
                                                 doc_type__model="pacealert").order_by("id")]


class TestGradedAlerts:
    def test_time_share_counts_the_day_measured(self):
        assert pace.pct(pace.time_share(JUNE_30)) == D("49.59")  # 181 / 365
        assert pace.pct(pace.time_share(dt.date(2024, 6, 30))) == D("49.73")  # 182 / 366 leap

    def test_yellow_red_and_none_per_department_and_project_raised_once(self, city):
        monitoring.monitoring_sweep(on=JUNE_30, as_of=at(dt.date(2026, 7, 1), 1))
        expected = [
            ("department", "440300100", "yellow", "notified", "49.59", "30.00", "19.59"),
            ("department", "440300200", "red", "notified", "49.59", "20.00", "29.59"),
            ("project", "P-A", "yellow", "notified", "49.59", "30.00", "19.59"),
        ]  # 440300300 at 45.00 %: lag 4.59, no alert
        assert alerts() == expected
        again = pace.execution_pace_sweep(on=JUNE_30, as_of=at(dt.date(2026, 7, 1), 2))
        assert again == [] and alerts() == expected
        assert WorkflowStep.objects.filter(doc_type__model="pacealert").count() == 3

    def test_a_worsening_upgrades_yellow_to_red_and_asks_again(self, city):
        pace.execution_pace_sweep(on=JUNE_30, as_of=at(JUNE_30, 23))
        a = PaceAlert.objects.get(subject_code="440300100")
        services.pace_alert_explain(alert_id=a.pk, user=city["440300100"], text="招标延后")
        d = dims(unit="440300101", project="P-A")
        fin.entry_post(lines=approve_lines(D("500000.00"), d), description="调增", on=dt.date(2026, 6, 20),
                       as_of=at(dt.date(2026, 6, 20)), kind="adjustment")
        upgraded = pace.execution_pace_sweep(on=JUNE_30, as_of=at(dt.date(2026, 7, 1), 1))
        assert sorted(u.subject_code for u in upgraded) == ["440300100", "P-A"]
        assert alerts() == [
            ("department", "440300100", "red", "notified", "49.59", "20.00", "29.59"),
            ("department", "440300200", "red", "notified", "49.59", "20.00", "29.59"),
            ("project", "P-A", "red", "notified", "49.59", "20.00", "29.59"),
        ]
        assert steps(a) == [("notify", "", "notified", ""),
                            ("explain", "notified", "explained", "dept-440300100"),
                            ("upgrade", "explained", "notified", "")]
        assert pace.execution_pace_sweep(on=JUNE_30, as_of=at(dt.date(2026, 7, 1), 2)) == []

    def test_grades_are_rule_data(self, city):
        services.monitoring_rule_update(code="execution_pace", user=city["office"], reason="t",
                                        params={"yellow_points": "5", "red_points": "30"})
        pace.execution_pace_sweep(on=JUNE_30, as_of=at(JUNE_30, 23))
        # lags 19.59 / 29.59 / 4.59: yellow, yellow (< 30), none (< 5)
        assert [(a[1], a[2]) for a in alerts()] == [("440300100", "yellow"),
                                                    ("440300200", "yellow"), ("P-A", "yellow")]


class TestRectificationLoop:
    def test_steps_in_order_by_the_right_people_each_recorded(self, city):
        pace.execution_pace_sweep(on=JUNE_30, as_of=at(JUNE_30, 23))
        red = PaceAlert.objects.get(subject_code="440300200")
        with pytest.raises(AlertTransitionRefused):  # nothing explained yet
            services.pace_alert_rectify(alert_id=red.pk, user=city["office"], text="ok")
        for wrong in (city["440300100"], city["440300201"], city["office"]):
            # another department; the unit for its department's alert; the bureau
            with pytest.raises(NotPermitted):
                services.pace_alert_explain(alert_id=red.pk, user=wrong, text="x")
        with pytest.raises(AuditorReadOnly):
            services.pace_alert_explain(alert_id=red.pk, user=city["auditor"], text="x")
        services.pace_alert_explain(alert_id=red.pk, user=city["440300200"],
                                    text="设备采购合同6月签订，7月付款", as_of=at(dt.date(2026, 7, 2)))
        with pytest.raises(NotPermitted):  # the department does not confirm its own
            services.pace_alert_rectify(alert_id=red.pk, user=city["440300200"], text="x")
        services.pace_alert_rectify(alert_id=red.pk, user=city["office"], text="已整改",
                                    as_of=at(dt.date(2026, 7, 20)))
        with pytest.raises(AlertTransitionRefused):
            services.pace_alert_close(alert_id=red.pk, user=city["office"], text="again")
        assert steps(red) == [("notify", "", "notified", ""),
                              ("explain", "notified", "explained", "dept-440300200"),
                              ("rectify", "explained", "rectified", "office")]
        explained = WorkflowStep.objects.get(doc_id=str(red.pk), action="explain")
        assert (explained.comment, explained.at) == ("设备采购合同6月签订，7月付款",
                                                     at(dt.date(2026, 7, 2)))
        # a project's alert is answered by the project's unit
        project = PaceAlert.objects.get(subject_code="P-A")
        services.pace_alert_explain(alert_id=project.pk, user=city["440300101"], text="招标中")
        services.pace_alert_close(alert_id=project.pk, user=city["office"], text="说明合理")
        assert PaceAlert.objects.get(pk=project.pk).status == "closed"

    def test_the_demo_helper_leaves_explanations_waiting(self, city):
        done = pace.execution_pace_demo(on=JUNE_30, as_of=at(JUNE_30, 23), explain=2)
        assert len(done) == 2 and {a.status for a in done} == {"explained"}
