"""用款计划 (monthly payment plans): a unit's filer sees its plans of the year, month by
month and indicator (applied, approved, used by requests, remaining), and applies for a
month; the treasury approves the applied plans (in full or a smaller amount). The plan
decides whether a request is refused at submission (payments.services.requests
._plan_check: approved − used by open requests of the plan's month and indicator)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from budgets import selectors as budget_selectors
from finance import roles as finance_roles
from finance.errors import LedgerError
from finance.models import Organization
from payments import services as pay
from payments.models import FundSourceSetting, PaymentPlan
from payments.rules import plans_used
from web import scoping
from web.forms import PlanApplyForm, PlanApproveForm, dims_parse, indicator_labels
from web.views import _year
from web.views_treasury import treasury_required

ZERO = Decimal("0.00")
REVIEW_LIMIT = 500  # applied plans shown in the treasury's queue at once


def plan_rows(plans: list[PaymentPlan]) -> list[PaymentPlan]:
    """The plans with what the pages show: the indicator's codes and names (`label`), the
    unit's name, the amount used by the plan's open requests (as the plan check counts it)
    and what remains (nothing while a plan waits for approval)."""
    used = plans_used([p.pk for p in plans])
    labels = indicator_labels({p.dims for p in plans})
    units = dict(Organization.objects.filter(code__in={p.unit for p in plans})
                 .values_list("code", "name"))
    for p in plans:
        p.label = labels[p.dims]  # type: ignore[attr-defined]
        p.unit_name = units.get(p.unit, "")  # type: ignore[attr-defined]
        p.used = used.get(p.pk, ZERO)  # type: ignore[attr-defined]
        p.remaining = (max(p.approved - p.used, ZERO)  # type: ignore[attr-defined]
                       if p.status == PaymentPlan.Status.APPROVED else ZERO)
    return plans


def _totals(plans: list[PaymentPlan]) -> dict[str, Decimal]:
    """Column totals; a plan waiting for (re)approval counts nothing approved."""
    out = {k: sum((getattr(p, k) for p in plans), ZERO) for k in ("applied", "used", "remaining")}
    out["approved"] = sum((p.approved for p in plans if p.status == PaymentPlan.Status.APPROVED),
                          ZERO)
    return out


@login_required
def plans(request: HttpRequest) -> HttpResponse:
    """The unit's plans of the year and the form to apply for a month on an indicator."""
    user = request.user
    org = scoping.organization_of(user)
    if org is None or not finance_roles.has_role(user, finance_roles.UNIT_FILER):
        raise PermissionDenied(_("Only a unit's filer applies for payment plans."))
    year = _year(request)
    indicators = budget_selectors.unit_indicators(unit_code=org.code, year=year)
    form = PlanApplyForm(request.POST or None, indicators=indicators, year=year,
                         initial={"month": timezone.localdate().month})
    if request.method == "POST" and form.is_valid():
        d = dims_parse(form.cleaned_data["indicator"])
        if d.unit != org.code:  # never offered; a forged choice
            raise PermissionDenied(_("Only a unit's filer applies for payment plans."))
        try:
            plan = pay.plan_apply(dims=d, year=year, month=form.cleaned_data["month"],
                                  amount=form.cleaned_data["amount"], user=user)
        except (LedgerError, ValueError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Payment plan %(year)s-%(month)02d applied for: "
                                        "%(amount)s; the treasury approves it.") % {
                "year": plan.year, "month": plan.month, "amount": f"{plan.applied:,.2f}"})
            return redirect(f"{reverse('web:plans')}?year={year}")
    rows = plan_rows(list(PaymentPlan.objects.filter(year=year, unit=org.code).order_by(
        "month", "function", "economic", "fund_source", "project")))
    free = set(FundSourceSetting.objects.filter(plan_control=False)
               .values_list("fund_source", flat=True))
    return render(request, "web/plans.html", {
        "form": form, "year": year, "org": org, "plans": rows, "totals": _totals(rows),
        "month": timezone.localdate().month if year == timezone.localdate().year else None,
        "free_funds": sorted(free)})


@treasury_required
def plan_review(request: HttpRequest) -> HttpResponse:
    """用款计划审核: the applied plans, oldest month first, each approved in full or in
    part; several at once at their applied amounts."""
    qs = PaymentPlan.objects.filter(status=PaymentPlan.Status.APPLIED).order_by(
        "year", "month", "unit", "function", "economic", "fund_source", "project")
    rows = plan_rows(list(qs[:REVIEW_LIMIT]))
    recent = plan_rows(list(PaymentPlan.objects.filter(status=PaymentPlan.Status.APPROVED)
                            .order_by("-id")[:20]))
    return render(request, "web/plans_review.html", {
        "plans": rows, "count": qs.count(), "limit": REVIEW_LIMIT, "recent": recent,
        "total": qs.aggregate(s=Sum("applied"))["s"] or ZERO})


def _back(request: HttpRequest) -> HttpResponse:
    return redirect("web:plan_review")


@require_POST
@treasury_required
def plan_approve(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(PaymentPlan, pk=pk)
    form = PlanApproveForm(request.POST)
    what = f"{plan.unit} {plan.year}-{plan.month:02d}"
    if plan.status != PaymentPlan.Status.APPLIED:
        messages.error(request, _("Payment plan %(plan)s is not waiting for approval.")
                       % {"plan": what})
        return _back(request)
    if not form.is_valid():
        messages.error(request, "; ".join(str(e) for errs in form.errors.values() for e in errs))
        return _back(request)
    amount = form.cleaned_data["amount"]
    if amount is not None and amount > plan.applied:
        messages.error(request, _("Payment plan %(plan)s: at most the applied %(applied)s can "
                                  "be approved.") % {"plan": what,
                                                     "applied": f"{plan.applied:,.2f}"})
        return _back(request)
    plan = pay.plan_approve(plan=plan, amount=amount, user=request.user,
                            comment=form.cleaned_data["comment"])
    messages.success(request, _("Payment plan %(plan)s approved: %(amount)s.") % {
        "plan": what, "amount": f"{plan.approved:,.2f}"})
    return _back(request)


@require_POST
@treasury_required
def plans_approve(request: HttpRequest) -> HttpResponse:
    """The selected applied plans approved at their applied amounts (one locked pass)."""
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()][:REVIEW_LIMIT]
    chosen: list[Any] = list(PaymentPlan.objects.filter(pk__in=ids,
                                                        status=PaymentPlan.Status.APPLIED))
    if not chosen:
        messages.error(request, _("Choose at least one payment plan."))
        return _back(request)
    done = pay.plans_approve(plans=chosen, user=request.user)
    messages.success(request, _("%(count)s payment plan(s) approved at the applied amounts.")
                     % {"count": len(done)})
    return _back(request)
