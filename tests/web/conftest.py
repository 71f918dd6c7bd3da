"""Web fixtures: one person per role, two units each with an indicator, a plan and a
submitted request, all made through the real services."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group

from payments import services as pay
from tests.helpers import YEAR, dims, indicator_approve
from tests.payments import conftest as payments_fixtures

SH = ZoneInfo("Asia/Shanghai")
AS_OF = dt.datetime(2026, 3, 10, 10, 0, tzinfo=SH)
U1, U2 = "440300101", "440300102"
# the approved indicator of 1,000.00 on U1's default tuple, in budgets' register (not the
# ledger-only one of tests/conftest.py): requests are drafted only on registered indicators
ledger = payments_fixtures.ledger


@pytest.fixture
def world(ledger, orgs, user, django_user_model):  # noqa: ANN001
    indicator_approve(Decimal("500.00"), dims(unit=U2))
    for unit, amount in ((U1, "1000.00"), (U2, "500.00")):
        plan = pay.plan_apply(dims=dims(unit=unit), year=YEAR, month=3, amount=Decimal(amount),
                              user=user, as_of=AS_OF)
        pay.plan_approve(plan=plan, user=user, as_of=AS_OF)
    pay.bank_upsert(cnaps="102584002015", name="中国工商银行深圳南山支行", user=user)
    payee = pay.payee_save(name="深圳市南山某科技有限公司", account_number="6222020200112233445",
                           bank_name="中国工商银行", branch_name="深圳南山支行",
                           cnaps="102584002015", user=user, reason="set-up")

    def mk(name: str, role: str | None, org: object | None = None) -> object:
        u = django_user_model.objects.create_user(username=name, password="x-Secret-123")
        if role:
            u.groups.add(Group.objects.get_or_create(name=role)[0])
        if org is not None:
            pay.membership_set(member=u, organization=org, user=user)
        return u

    people = SimpleNamespace(
        filer=mk("filer", pay.FILER, orgs["u1"]),
        head=mk("head", pay.UNIT_HEAD, orgs["u1"]),
        other_filer=mk("other_filer", pay.FILER, orgs["u2"]),
        reviewer=mk("reviewer", pay.REVIEWER, orgs["bureau"]),
        office=mk("office", "budget_office", orgs["bureau"]),
        auditor=mk("auditor", "auditor"),
        dept=mk("dept", None, orgs["dept"]),
    )

    def file(filer: object, unit: str, amount: str, purpose: str) -> object:
        req = pay.payment_request_create(dims=dims(unit=unit), year=YEAR, amount=Decimal(amount),
                                         payee=payee, purpose=purpose, user=filer, as_of=AS_OF)
        return pay.payment_request_submit(request=req, user=filer, as_of=AS_OF)

    r1 = file(people.filer, U1, "120.50", "一中办公费")
    r2 = file(people.other_filer, U2, "80.00", "二中办公费")
    return SimpleNamespace(people=people, r1=r1, r2=r2, payee=payee, orgs=orgs)


@pytest.fixture
def client():
    """Pages answer in the browser's language (zh-hans by default); these tests read English."""
    from django.test import Client

    return Client(headers={"accept-language": "en"})


@pytest.fixture
def treasury(world, user, django_user_model):  # noqa: ANN001
    """Treasury screens (tests/web/test_treasury_screens.py, test_browser_treasury.py):
    the agent bank's zero-balance account, a treasury director, and a disclosure
    approver/publisher (reports permissions)."""
    from django.contrib.auth.models import Permission

    bank = pay.bank_upsert(cnaps="102584000002", name="中国工商银行深圳分行", user=user)
    agent = pay.agent_account_upsert(number="44030100040012345",
                                     name="深圳市财政局国库支付中心零余额账户", bank=bank, user=user)
    director = django_user_model.objects.create_user(username="director", password="x-Secret-123")
    director.groups.add(Group.objects.get_or_create(name=pay.DIRECTOR)[0])
    pay.membership_set(member=director, organization=world.orgs["bureau"], user=user)
    publisher = django_user_model.objects.create_user(username="publisher",
                                                      password="x-Secret-123")
    publisher.groups.add(Group.objects.get_or_create(name="budget_office")[0])
    publisher.user_permissions.add(*Permission.objects.filter(
        codename__in=["approve_disclosure", "publish_disclosure",
                      "review_disclosure_confidentiality"]))
    # the department's head (主要负责人) signs its disclosure sets before publication
    dept_head = django_user_model.objects.create_user(username="dept-head",
                                                      password="x-Secret-123")
    dept_head.groups.add(Group.objects.get_or_create(name="unit_head")[0])
    pay.membership_set(member=dept_head, organization=world.orgs["dept"], user=user)
    return SimpleNamespace(agent=agent, director=director,
                           publisher=django_user_model.objects.get(pk=publisher.pk),
                           dept_head=django_user_model.objects.get(pk=dept_head.pk))


def disclosure_sign_off(ds, treasury):  # noqa: ANN001, ANN201
    """保密审查 (the publisher) and 主要负责人审签 (the department's head) of an approved set."""
    from reports import services as rep

    rep.disclosure_set_confidentiality(disclosure_id=ds.pk, user=treasury.publisher,
                                       conclusion="cleared", note="不涉密")
    return rep.disclosure_set_sign(disclosure_id=ds.pk, user=treasury.dept_head)
