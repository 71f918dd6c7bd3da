"""Role screens: a dashboard per role, filing and deciding payment requests. Every read
goes through web.scoping (the query layer); every write calls one payments service."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from budgets import selectors as budget_selectors
from budgets.models import BudgetPlan
from finance import roles as finance_roles
from finance.errors import LedgerError
from finance.models import WorkflowStep
from payments import services as pay
from payments.models import PaymentRequest
from web import scoping
from web.forms import DecideForm, RequestFileForm, dims_parse

S = PaymentRequest.Status
QUEUE_OF = {finance_roles.UNIT_HEAD: S.UNIT_REVIEW,
            finance_roles.TREASURY_REVIEWER: S.TREASURY_REVIEW,
            finance_roles.TREASURY_DIRECTOR: S.DIRECTOR_REVIEW}


def _year(request: HttpRequest) -> int:
    y = request.GET.get("year", "")
    return int(y) if y.isdigit() and 2000 <= int(y) <= 2100 else timezone.localdate().year


def _reject_reasons(reqs: list[PaymentRequest]) -> dict[int, str]:
    """The rejection comment of each rejected request (from the shared workflow log)."""
    ids = [str(r.pk) for r in reqs if r.status == S.REJECTED]
    if not ids:
        return {}
    steps = WorkflowStep.objects.filter(doc_type=ContentType.objects.get_for_model(PaymentRequest),
                                        doc_id__in=ids, action="reject")
    return {int(s.doc_id): s.comment for s in steps}


def _with_reasons(reqs: list[PaymentRequest]) -> list[PaymentRequest]:
    rejected = _reject_reasons(reqs)
    for r in reqs:
        reasons = [h.reason for h in r.hits.all()]
        if r.pk in rejected:
            reasons.append(_("Rejected: %(comment)s") % {"comment": rejected[r.pk]})
        if r.return_reason:
            reasons.append(_("Returned by the bank (退票): %(reason)s") % {"reason": r.return_reason})
        r.reasons = reasons  # type: ignore[attr-defined]
    return reqs


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The home screen of the signed-in user's roles."""
    user, year = request.user, _year(request)
    roles, org = scoping.roles_of(user), scoping.organization_of(user)
    ctx: dict[str, Any] = {"year": year, "roles": sorted(roles), "org": org, "queues": [],
                           "role_labels": [finance_roles.label(r) for r in sorted(roles)]}
    if org is not None and not scoping.is_city_level(user):
        units = list(scoping.visible_organizations(user).filter(
            kind__in=["budget_unit", "nontax_unit"]))
        ctx["indicators"] = {u: budget_selectors.unit_indicators(unit_code=u.code, year=year)
                             for u in units}
        ctx["requests"] = _with_reasons(list(scoping.visible_requests(user).filter(year=year)[:200]))
        ctx["can_file"] = finance_roles.UNIT_FILER in roles
    for role, status in QUEUE_OF.items():
        if role in roles:
            qs = scoping.visible_requests(user).filter(status=status)
            ctx["queues"].append((S(status).label, _with_reasons(list(qs[:500]))))
    ctx["treasury"] = bool(roles & set(finance_roles.TREASURY_ROLES))
    if finance_roles.BUDGET_OFFICE in roles:
        ctx["plans"] = list(budget_selectors.plans(year=year).exclude(
            status=BudgetPlan.Status.APPROVED))
    ctx["auditor"] = finance_roles.AUDITOR in roles
    return render(request, "web/dashboard.html", ctx)


@login_required
def request_file(request: HttpRequest) -> HttpResponse:
    """A filer drafts a payment request on one of the unit's indicators."""
    org = scoping.organization_of(request.user)
    if org is None or not finance_roles.has_role(request.user, finance_roles.UNIT_FILER):
        raise PermissionDenied(_("Only a unit's filer files payment requests."))
    year = _year(request)
    indicators = budget_selectors.unit_indicators(unit_code=org.code, year=year)
    form = RequestFileForm(request.POST or None, indicators=indicators, year=year)
    if request.method == "POST" and form.is_valid():
        and_submit = "and_submit" in request.POST  # the "Save and submit" button (保存并送审)
        try:
            req = pay.payment_request_create(
                dims=dims_parse(form.cleaned_data["indicator"]), year=year,
                amount=form.cleaned_data["amount"], payee=form.cleaned_data["payee"],
                purpose=form.cleaned_data["purpose"], user=request.user, submit=and_submit)
        except LedgerError as exc:
            form.add_error(None, str(exc))
        else:
            if and_submit:
                messages.info(request, _("Request %(id)s is now: %(status)s.") % {
                    "id": req.tracking_id, "status": req.get_status_display()})
            else:
                messages.success(request, _("Request %(id)s saved as a draft; submit it to "
                                            "send it for review.") % {"id": req.tracking_id})
            return redirect("web:request", tracking_id=req.tracking_id)
    return render(request, "web/request_file.html", {"form": form, "year": year, "org": org})


def _steps(req: PaymentRequest) -> list[WorkflowStep]:
    return list(WorkflowStep.objects.filter(
        doc_type=ContentType.objects.get_for_model(PaymentRequest), doc_id=str(req.pk))
        .select_related("actor").order_by("at", "id"))


@login_required
def request_detail(request: HttpRequest, tracking_id: str) -> HttpResponse:
    req = get_object_or_404(scoping.visible_requests(request.user), tracking_id=tracking_id)
    roles = scoping.roles_of(request.user)
    can_decide = any(QUEUE_OF.get(r) == req.status for r in roles)
    return render(request, "web/request_detail.html", {
        "req": _with_reasons([req])[0], "steps": _steps(req), "can_decide": can_decide,
        "can_submit": req.filed_by_id == request.user.pk and req.status in (S.DRAFT, S.REFUSED)})


@login_required
@require_POST
def request_submit(request: HttpRequest, tracking_id: str) -> HttpResponse:
    req = get_object_or_404(scoping.visible_requests(request.user), tracking_id=tracking_id)
    try:
        req = pay.payment_request_submit(request=req, user=request.user)
    except LedgerError as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, _("Request %(id)s is now: %(status)s.") % {
            "id": req.tracking_id, "status": req.get_status_display()})
    return redirect("web:request", tracking_id=tracking_id)


@login_required
@require_POST
def requests_decide(request: HttpRequest) -> HttpResponse:
    """Approve or reject one or many requests, each decided on its own and each outcome
    reported: approvals in one locked pass of the batch service (every request gets the
    checks of a single approval), rejections one by one (each releases its commitment)."""
    form = DecideForm(request.POST)
    ids = request.POST.getlist("ids")
    if not form.is_valid() or not ids:
        messages.error(request, _("Choose at least one request and an action."))
        return redirect(request.POST.get("next") or "web:home")
    action, comment = form.cleaned_data["action"], form.cleaned_data["comment"]
    done: dict[str, list[str]] = defaultdict(list)
    chosen = list(scoping.visible_requests(request.user).filter(tracking_id__in=ids[:500]))
    if action == "approve":
        out = pay.payment_requests_approve(requests=chosen, user=request.user, comment=comment)
        for req, exc in out.refused:
            messages.error(request, f"{req.tracking_id}: {exc}")
        done[action] = sorted(r.tracking_id for r in out.approved)
    else:
        for req in chosen:
            try:
                pay.payment_request_reject(request=req, user=request.user, comment=comment)
            except LedgerError as exc:
                messages.error(request, f"{req.tracking_id}: {exc}")
            else:
                done[action].append(req.tracking_id)
    if done:
        text = _("Approved: %(ids)s") if action == "approve" else _("Rejected: %(ids)s")
        messages.success(request, text % {"ids": ", ".join(done[action])})
    nxt = request.POST.get("next", "")
    return redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else "web:home")
