"""A small city for the budgets tests: the bureau, two departments with units in the
city and two districts, library projects filed and accepted through the real services.
The people hold real roles (tests.helpers.person / grant): `user` ("clerk") is the filer
of unit 440300101, each other unit has its own filer (`filers`), `reviewer` works for the
education department and each department has one (`reviewers`), `approver` is the
budget office."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from budgets import services
from budgets.validation import PlanLineInput
from finance import roles
from finance import services as finance_services
from finance.ids import make_uscc
from finance.models import Organization
from tests.helpers import grant, person

AS_OF = dt.datetime(2026, 1, 20, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
ON = dt.date(2026, 3, 10)

UNITS = {
    # code: (name, region, department)
    "440300101": ("深圳市第一中学", "440300", "440300100"),
    "440300102": ("深圳市第二中学", "440300", "440300100"),
    "440303201": ("罗湖区卫生健康局机关", "440303", "440300200"),
    "440304202": ("福田区疾控中心", "440304", "440300200"),
}


@pytest.fixture
def reviewer(city, orgs, user):  # noqa: ANN001, ARG001
    """The education department's reviewer (主管部门 of 440300101 and 440300102)."""
    return person("dept-reviewer", organization=orgs["dept"], by=user)


@pytest.fixture
def reviewers(reviewer, user):  # noqa: ANN001
    """A reviewer per department: education's `reviewer`, and health's."""
    return {"440300100": reviewer,
            "440300200": person("dept-reviewer-health", by=user,
                                organization=Organization.objects.get(code="440300200"))}


@pytest.fixture
def approver(orgs, user):  # noqa: ANN001
    """The bureau's budget office (预算处)."""
    return person("bureau-approver", roles.BUDGET_OFFICE, organization=orgs["bureau"], by=user)


@pytest.fixture
def city(fiscal_year, orgs, user):  # noqa: ANN001, ARG001
    """Two departments (education in the city, health with district units), four units;
    `user` becomes the filer of 440300101."""
    mk = finance_services.organization_upsert
    mk(code="440300200", name="深圳市卫生健康委员会", kind="department", region_code="440300",
       uscc=make_uscc("440300", 200), parent_code="440300001", user=user, reason="set-up")
    for code, (name, region, dept) in UNITS.items():
        mk(code=code, name=name, kind="budget_unit", region_code=region,
           uscc=make_uscc(region, int(code[-3:])), parent_code=dept, user=user, reason="set-up")
    grant(user, roles.UNIT_FILER, organization=orgs["u1"], by=user)
    return UNITS


@pytest.fixture
def filers(city, user):  # noqa: ANN001, ARG001
    """Each unit's filer (经办人): `user` for 440300101, a person of its own for the others."""
    return {code: user if code == "440300101" else person(
        f"filer-{code}", roles.UNIT_FILER, organization=Organization.objects.get(code=code),
        by=user) for code in UNITS}


def library_project(code: str, unit: str, *, filer, reviewer, category: str = "specific"):  # noqa: ANN001
    """A project filed by `filer` and taken into the library by `reviewer`."""
    p = services.project_create(unit_code=unit, code=code, name=f"项目 {code}", category=category,
                                total_amount=Decimal("1000000.00"),
                                annual_plans=[(2026, "1", Decimal("500000.00"))],
                                targets=[services.TargetInput("受益学生", "1200", "人")],
                                user=filer, as_of=AS_OF)
    services.project_submit(project=p, user=filer, as_of=AS_OF)
    services.project_review(project=p, user=reviewer, as_of=AS_OF)
    return services.project_accept(project=p, user=reviewer, as_of=AS_OF)


@pytest.fixture
def projects(city, filers, reviewers):  # noqa: ANN001, ARG001
    """Per unit one basic (基本支出) and one project-expenditure project, in the library,
    filed by the unit's filer and accepted by its department."""
    out = {}
    for unit, (_name, _region, dept) in UNITS.items():
        kw = {"filer": filers[unit], "reviewer": reviewers[dept]}
        out[unit] = (
            library_project(f"{unit}-JB01", unit, category="personnel", **kw),
            library_project(f"{unit}-XM01", unit, **kw),
        )
    return out


def lines_for(unit: str, scale: int = 1) -> list[PlanLineInput]:
    """Three lines per unit: salaries and office costs (basic), equipment (project)."""
    return [
        PlanLineInput(f"{unit}-JB01", "2050203", "30101", "1", Decimal("120000.10") * scale,
                      Decimal("110000.00")),
        PlanLineInput(f"{unit}-JB01", "2050203", "30201", "1", Decimal("8000.25") * scale,
                      Decimal("7600.00")),
        PlanLineInput(f"{unit}-XM01", "2050203", "31002", "2", Decimal("45000.33") * scale,
                      Decimal("0")),
    ]


@pytest.fixture
def controlled_plan(projects, user, reviewer, approver):  # noqa: ANN001, ARG001
    """Unit 440300101's plan after 一上 and 一下 (control numbers 1: 130,000; 2: 50,000)."""
    plan = services.plan_create(unit_code="440300101", year=2026, user=user, as_of=AS_OF)
    services.plan_lines_save(plan=plan, lines=lines_for("440300101"), user=user, as_of=AS_OF)
    services.plan_submit(plan=plan, user=user, as_of=AS_OF)
    services.plan_review(plan=plan, user=reviewer, as_of=AS_OF)
    return services.plan_control_set(plan=plan, amounts={"1": "130000.00", "2": "50000.00"},
                                     user=approver, as_of=AS_OF)


@pytest.fixture
def approved_plan(controlled_plan, user, reviewer, approver):  # noqa: ANN001
    services.plan_submit(plan=controlled_plan, user=user, as_of=AS_OF)
    services.plan_review(plan=controlled_plan, user=reviewer, as_of=AS_OF)
    return services.plan_approve(plan=controlled_plan, user=approver, as_of=AS_OF, on=ON)
