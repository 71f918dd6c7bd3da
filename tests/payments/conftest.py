"""Payments fixtures: people in their roles, banks, payees, an agent account and an
approved monthly plan, all made through the real services."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group

from payments import services
from tests.helpers import YEAR, dims, indicator_approve

SH = ZoneInfo("Asia/Shanghai")
AS_OF = dt.datetime(2026, 3, 10, 10, 0, tzinfo=SH)
BANKS = {
    "102584002015": "中国工商银行深圳南山支行",
    "105584000135": "中国建设银行深圳福田支行",
    "103584003018": "中国农业银行深圳罗湖支行",
    "308584000013": "招商银行深圳分行营业部",
    "102584000002": "中国工商银行深圳分行",
}


@pytest.fixture
def ledger(fiscal_year, orgs, user):  # noqa: ANN001, ARG001
    """The approved indicator of 1,000.00 on the default tuple (as tests/conftest.py's
    `ledger`), made through budgets' services so that it is in the indicator register: a
    payment request is drafted only on an approved indicator of the register."""
    indicator_approve(Decimal("1000.00"))
    return user


@pytest.fixture
def people(orgs, user, django_user_model):  # noqa: ANN001
    def mk(name: str, role: str, org: object | None = None) -> object:
        u = django_user_model.objects.create_user(username=name, password="x-Secret-123")
        u.groups.add(Group.objects.get_or_create(name=role)[0])
        if org is not None:
            services.membership_set(member=u, organization=org, user=user)
        return u

    return SimpleNamespace(
        filer=mk("filer", services.FILER, orgs["u1"]),
        head=mk("head", services.UNIT_HEAD, orgs["u1"]),
        reviewer=mk("reviewer", services.REVIEWER, orgs["bureau"]),
        director=mk("director", services.DIRECTOR, orgs["bureau"]),
        other_head=mk("other_head", services.UNIT_HEAD, orgs["u2"]),
    )


@pytest.fixture
def banks(user):  # noqa: ANN001
    return {code: services.bank_upsert(cnaps=code, name=name, user=user)
            for code, name in BANKS.items()}


@pytest.fixture
def agent(banks, user):  # noqa: ANN001
    return services.agent_account_upsert(number="44030100040012345",
                                         name="深圳市财政局国库支付中心零余额账户",
                                         bank=banks["102584000002"], user=user)


def payee(user: object, name: str = "深圳市南山某科技有限公司",
          account: str = "6222020200112233445", cnaps: str = "102584002015",
          bank: str = "中国工商银行", branch: str = "深圳南山支行") -> object:
    return services.payee_save(name=name, account_number=account, bank_name=bank,
                               branch_name=branch, cnaps=cnaps, user=user, reason="set-up")


@pytest.fixture
def acme(banks, user):  # noqa: ANN001
    return payee(user)


@pytest.fixture
def plan(ledger, user):  # noqa: ANN001
    """March's plan on the default indicator: 1,000.00 applied and approved."""
    p = services.plan_apply(dims=dims(), year=YEAR, month=3, amount=Decimal("1000.00"),
                            user=user, as_of=AS_OF)
    return services.plan_approve(plan=p, user=user, as_of=AS_OF)


@pytest.fixture
def ready(ledger, plan, people, acme, agent):  # noqa: ANN001
    """Everything needed to file against the 1,000.00 indicator in March."""
    return SimpleNamespace(people=people, payee=acme, agent=agent, plan=plan)


def file_request(people: SimpleNamespace, payee_: object, amount: str, *,
                 as_of: dt.datetime = AS_OF, submit: bool = True, **dim_kw: str) -> object:
    req = services.payment_request_create(
        dims=dims(**dim_kw), year=YEAR, amount=Decimal(amount), payee=payee_,
        purpose="办公费", user=people.filer, as_of=as_of)
    if submit:
        req = services.payment_request_submit(request=req, user=people.filer, as_of=as_of)
    return req


def approve_all(people: SimpleNamespace, req: object, as_of: dt.datetime = AS_OF) -> object:
    req = services.payment_request_approve(request=req, user=people.head, comment="ok",
                                           as_of=as_of)
    req = services.payment_request_approve(request=req, user=people.reviewer, comment="ok",
                                           as_of=as_of)
    if req.status == "director_review":
        req = services.payment_request_approve(request=req, user=people.director,
                                               comment="ok", as_of=as_of)
    return req
