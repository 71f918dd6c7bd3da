"""Audit fixtures: small source documents (Jobs stand in for payment requests until the
payments app lands) with workflow steps by three people, posted through the real
posting service."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from audit.access import AUDITOR_GROUP
from finance import jobs, services
from finance.ledger import entry_post
from tests.helpers import ON, approve_lines, commit_lines, dims, pay_lines

D = Decimal


def at(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


@pytest.fixture
def people(django_user_model, user):  # noqa: ANN001
    mk = django_user_model.objects.create_user
    return {"filer": user, "head": mk(username="head", password="x-Secret-123"),
            "treasury": mk(username="treasury", password="x-Secret-123")}


@pytest.fixture
def auditor(django_user_model):  # noqa: ANN001
    person = django_user_model.objects.create_user(username="auditor", password="x-Secret-123")
    person.groups.add(Group.objects.get_or_create(name=AUDITOR_GROUP)[0])
    return person


def request_and_pay(people: dict, amount: Decimal, *, unit: str = "440300101",
                    function: str = "2050203", economic: str = "30201", day: dt.date = ON,
                    hour: int = 10, tracking: str = "") -> object:
    """A payment request (a Job as the document) filed, approved twice, committed and paid."""
    doc = jobs.job_create(kind="payment_request", user=people["filer"],
                          filename=f"request {unit} {amount}", as_of=at(day, hour))
    d = dims(unit=unit, function=function, economic=economic)
    services.workflow_record(document=doc, from_state="draft", to_state="submitted",
                             action="submit", user=people["filer"], as_of=at(day, hour))
    entry_post(lines=commit_lines(amount, d), description="支付申请 指标占用", user=people["filer"],
               on=day, as_of=at(day, hour), source=doc, kind="commit", tracking_id=tracking)
    services.workflow_record(document=doc, from_state="submitted", to_state="unit_approved",
                             action="approve", user=people["head"], comment="ok",
                             as_of=at(day, hour, 5))
    services.workflow_record(document=doc, from_state="unit_approved", to_state="paid",
                             action="approve", user=people["treasury"], comment="pay",
                             as_of=at(day, hour, 10))
    entry_post(lines=pay_lines(amount, d), description="支付 pay", user=people["treasury"],
               on=day, as_of=at(day, hour, 10), source=doc, kind="payment", tracking_id=tracking)
    return doc


@pytest.fixture
def budget(ledger, orgs, people):  # noqa: ANN001, ARG001
    """Indicators: 1,000.00 (fixture) + 5,000.00 on unit 1 function 2050203, 3,000.00 on
    unit 1 function 2010101, 2,000.00 on unit 2 function 2050203; approvals have an
    Organization (the bureau) as their source document."""
    user = people["filer"]
    for amount, d in ((D("5000.00"), dims()), (D("3000.00"), dims(function="2010101")),
                      (D("2000.00"), dims(unit="440300102"))):
        entry_post(lines=approve_lines(amount, d), description="批复 approval", user=user, on=ON,
                   as_of=at(ON, 9), kind="approval", source=orgs["bureau"])
    return people
