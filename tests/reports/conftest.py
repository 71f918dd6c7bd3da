"""A small city on the ledger, built through the real services: two city departments
with units, one district department (罗湖区), approvals on several function/economic
codes (with 三公 codes and a government-fund line and a project), an adjustment, a
reversed approval, commitments and payments (the last one to a named person)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from budgets import services as budgets
from finance import roles, services
from finance.ids import make_uscc
from finance.ledger import Dims, entry_post, entry_reverse
from finance.models import Organization
from tests.helpers import approve_lines, commit_lines, pay_lines, person

D = Decimal
YEAR = 2026


def dims(unit: str, function: str, economic: str, fund: str = "1", project: str = "",
         region: str = "440300") -> Dims:
    return Dims(region=region, unit=unit, function=function, economic=economic,
                fund_source=fund, project=project)


# (name, dims, approved, adjusted, committed-and-paid, committed-only)
LINES = {
    "edu_office": (dims("440300101", "2050203", "30201", project="440300101-GY01"), D("100000.00"), D("0"), D("40000.00"), D("5000.00")),
    "edu_salary": (dims("440300101", "2050203", "30101", project="440300101-RY01"), D("500000.00"), D("25000.00"), D("250000.00"), D("0")),
    "edu_host": (dims("440300102", "2050204", "30217", project="440300102-GY01"), D("30000.00"), D("0"), D("12040.00"), D("0")),
    "edu_car": (dims("440300102", "2050204", "30231", project="440300102-GY01"), D("80000.00"), D("0"), D("33333.00"), D("0")),
    "edu_proj": (dims("440300102", "2050204", "31002", project="P2026-001"), D("200000.00"), D("0"),
                 D("150000.00"), D("0")),
    "edu_fund": (dims("440300101", "2120399", "31005", fund="2", project="P2026-002"),
                 D("400000.00"), D("0"), D("100000.00"), D("0")),
    "health": (dims("440300201", "2100201", "30201", project="440300201-GY01"), D("70000.00"), D("0"), D("70000.00"), D("0")),
    "soe": (dims("440300201", "2100201", "30299", fund="3", project="P2026-003"),
            D("60000.00"), D("0"), D("10000.00"), D("0")),
    "luohu": (dims("440303101", "2010301", "30201", project="440303101-GY01", region="440303"), D("90000.00"), D("0"),
              D("45000.00"), D("0")),
}


PROJECTS = {"440300101-RY01": "personnel", "440300101-GY01": "running",
            "440300102-GY01": "running", "440300201-GY01": "running",
            "440303101-GY01": "running", "P2026-001": "specific", "P2026-002": "specific",
            "P2026-003": "specific"}
UNIT_OF = {"P2026-001": "440300102", "P2026-002": "440300101", "P2026-003": "440300201"}


@pytest.fixture
def city(fiscal_year, orgs, user):  # noqa: ARG001
    mk = services.organization_upsert
    mk(code="440300200", name="深圳市卫生健康委员会", kind="department", region_code="440300",
       uscc=make_uscc("440300", 200), parent_code="440300001", user=user, reason="set-up")
    mk(code="440300201", name="深圳市人民医院", kind="budget_unit", region_code="440300",
       uscc=make_uscc("440300", 201), parent_code="440300200", user=user, reason="set-up")
    mk(code="440303100", name="罗湖区教育局", kind="department", region_code="440303",
       uscc=make_uscc("440303", 100), parent_code="440300001", user=user, reason="set-up")
    mk(code="440303101", name="罗湖区第一小学", kind="budget_unit", region_code="440303",
       uscc=make_uscc("440303", 101), parent_code="440303100", user=user, reason="set-up")
    # every expenditure is a project of the library (一体化): 人员类 RY, 运转类 GY, 特定目标类 P…
    filers = {}
    for code, category in PROJECTS.items():
        unit = UNIT_OF.get(code, code[:9])
        if unit not in filers:  # each unit's filer files its projects
            filers[unit] = person(f"filer-{unit}", roles.UNIT_FILER, by=user,
                                  organization=Organization.objects.get(code=unit))
        budgets.project_create(unit_code=unit, code=code, name=f"项目 {code}",
                               category=category, total_amount=D("0.00"), user=filers[unit])
    march, april = dt.date(YEAR, 3, 10), dt.date(YEAR, 4, 15)
    for name, (d, approved, adjusted, paid, committed) in LINES.items():
        entry_post(lines=approve_lines(approved, d), description=f"批复 {name}", user=user,
                   on=dt.date(YEAR, 1, 20), kind="approval")
        if adjusted:
            entry_post(lines=approve_lines(adjusted, d), description=f"调整 {name}", user=user,
                       on=march, kind="adjustment")
        if paid:
            entry_post(lines=commit_lines(paid + committed, d), description=f"申请 {name}",
                       user=user, on=march, kind="commit")
            entry_post(lines=pay_lines(paid, d), description=f"支付 {name} 收款人 张三丰 "
                       "6222021234567890123", user=user, on=april, kind="payment")
    # an approval posted by mistake and reversed: it must net to nothing
    wrong = entry_post(lines=approve_lines(D("99.99"), LINES["health"][0]), description="误批",
                       user=user, on=march, kind="approval")
    entry_reverse(entry=wrong, user=user, reason="duplicate", on=march)
    return user


def expected(measure: str, names: list[str] | None = None) -> Decimal:
    idx = {"approved": 1, "adjusted": 2, "paid": 3}
    total = D("0.00")
    for name, row in LINES.items():
        if names is not None and name not in names:
            continue
        d, approved, adjusted, paid, committed = row
        total += {"approved": approved, "adjusted": adjusted, "paid": paid,
                  "committed": committed,
                  "available": approved + adjusted - paid - committed}.get(measure, row[idx.get(measure, 1)])
    return total


@pytest.fixture
def approver(django_user_model):  # noqa: ANN001
    """The discloser who approves, reviews the confidentiality of and publishes
    disclosure sets."""
    from django.contrib.auth.models import Permission

    u = django_user_model.objects.create_user(username="head", password="x-Secret-789")
    u.user_permissions.add(*Permission.objects.filter(
        codename__in=DISCLOSER_PERMISSIONS))
    return django_user_model.objects.get(pk=u.pk)


DISCLOSER_PERMISSIONS = ["approve_disclosure", "publish_disclosure",
                         "review_disclosure_confidentiality"]


def make_department_head(django_user_model, code: str = "440300100",  # noqa: ANN001
                         username: str = "dept-head"):  # noqa: ANN201
    """The department's head (主要负责人): the unit head of the department itself."""
    from django.contrib.auth.models import Group

    from finance import roles
    from finance.models import Membership, Organization

    u = django_user_model.objects.create_user(username=username, password="x-Secret-789")
    u.groups.add(Group.objects.get_or_create(name=roles.UNIT_HEAD)[0])
    Membership.objects.create(user=u, organization=Organization.objects.get(code=code))
    return django_user_model.objects.get(pk=u.pk)


@pytest.fixture
def dept_head(django_user_model, city):  # noqa: ANN001, ARG001
    return make_department_head(django_user_model)


def sign_off(ds, *, reviewer, head, as_of=None):  # noqa: ANN001, ANN201
    """保密审查 (cleared) and 主要负责人审签 of an approved set."""
    from reports import services

    services.disclosure_set_confidentiality(disclosure_id=ds.pk, user=reviewer,
                                            conclusion="cleared", note="不涉密", as_of=as_of)
    return services.disclosure_set_sign(disclosure_id=ds.pk, user=head, as_of=as_of)
