"""用款计划: a unit's monthly payment plans, applied (one line or a quarter's lines) and
approved by the treasury (one or many)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q

from finance.ledger import (
    Dims,
)
from finance.services import (
    bulk_save_with_history,
    save_with_history,
    workflow_record,
    workflow_record_many,
)
from payments.models import (
    PaymentPlan,
)
from payments.services._common import (
    _dim_kwargs,
)


def plan_apply(*, dims: Dims, year: int, month: int, amount: Decimal, user: Any,
               as_of: dt.datetime | None = None) -> PaymentPlan:
    """用款计划 申请: a unit applies for a month's amount on one indicator."""
    return plans_apply(lines=[PlanApplyLine(dims=dims, month=month, amount=amount)], year=year,
                       user=user, as_of=as_of)[0]


def plan_approve(*, plan: PaymentPlan, amount: Decimal | None = None, user: Any,
                 comment: str = "", as_of: dt.datetime | None = None) -> PaymentPlan:
    with transaction.atomic():
        plan = PaymentPlan.objects.select_for_update().get(pk=plan.pk)
        old = plan.status
        plan.approved = plan.applied if amount is None else amount
        plan.status = PaymentPlan.Status.APPROVED
        save_with_history(plan, user=user, reason=comment or "plan approved")
        workflow_record(document=plan, from_state=old, to_state=plan.status, action="approve",
                        user=user, comment=comment, as_of=as_of)
        return plan


@dataclass(frozen=True)
class PlanApplyLine:
    """One line of a payment-plan application (用款计划): a month's amount on one
    indicator (not a budget plan's line, budgets.models.PlanLine)."""

    dims: Dims
    month: int
    amount: Decimal


def _plan_key(year: int, month: int, d: Dims) -> tuple:
    return (year, month, d.region, d.unit, d.function, d.economic, d.fund_source, d.project)


def plans_apply(*, lines: list[PlanApplyLine], year: int, user: Any,
                as_of: dt.datetime | None = None) -> list[PaymentPlan]:
    """用款计划 按季分月: a unit applies for several months and indicators in one call
    (e.g. a quarter, month by month). Each line is applied exactly as `plan_apply` applies
    it (a line applied before is applied again, back to `applied`); the plans are read and
    locked in one statement, the new ones written with their history in one INSERT each,
    the workflow steps in one. A month and indicator twice in one call is refused."""
    if len({_plan_key(year, ln.month, ln.dims) for ln in lines}) != len(lines):
        raise ValueError("plans_apply: a month and indicator appears twice")
    if not lines:
        return []
    with transaction.atomic():
        match = Q()
        for ln in lines:
            match |= Q(month=ln.month, **_dim_kwargs(ln.dims))
        found = {_plan_key(p.year, p.month, p.dims): p
                 for p in PaymentPlan.objects.select_for_update().filter(match, year=year)}
        plans, steps, new, again = [], [], [], []
        for ln in lines:
            plan = found.get(_plan_key(year, ln.month, ln.dims))
            if plan is None:
                plan = PaymentPlan(year=year, month=ln.month, **_dim_kwargs(ln.dims))
                new.append(plan)
            else:
                again.append(plan)
            steps.append((plan, plan.status if plan.pk else ""))
            plan.applied = ln.amount
            plan.status = PaymentPlan.Status.APPLIED
            plans.append(plan)
        # every row the new plans could clash with was read (and locked) above
        bulk_save_with_history(new, user=user, reason="plan applied", unique_checked=True)
        bulk_save_with_history(again, user=user, reason="plan applied",
                               fields=["applied", "status"])
        workflow_record_many([(p, old, p.status) for p, old in steps], action="apply",
                             user=user, as_of=as_of)
        return plans


def plans_approve(*, plans: list[PaymentPlan], user: Any, comment: str = "",
                  as_of: dt.datetime | None = None) -> list[PaymentPlan]:
    """The treasury approves many plans at their applied amounts in one locked pass
    (`plan_approve` without an amount, for each): the rows are locked in one statement in
    id order, written with their history and workflow steps in one statement each."""
    if not plans:
        return []
    with transaction.atomic():
        locked = list(PaymentPlan.objects.select_for_update()
                      .filter(pk__in=[p.pk for p in plans]).order_by("id"))
        steps = []
        for plan in locked:
            steps.append((plan, plan.status))
            plan.approved = plan.applied
            plan.status = PaymentPlan.Status.APPROVED
        bulk_save_with_history(locked, user=user, reason=comment or "plan approved",
                               fields=["approved", "status"])
        workflow_record_many([(p, old, p.status) for p, old in steps], action="approve",
                             user=user, comment=comment, as_of=as_of)
        return locked
