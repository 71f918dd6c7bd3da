"""Role screens: a dashboard per role, filing and deciding payment requests. Every read
goes through web.scoping (the query layer); every write calls one payments service."""
from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from audit import pace_views
from budgets import selectors as budget_selectors
from budgets.models import Adjustment, BudgetPlan, Project
from finance import dimensions
from finance import roles as finance_roles
from finance.errors import LedgerError
from finance.models import Entry, Job, Organization, WorkflowStep
from payments import errors as pay_errors
from payments import services as pay
from payments.models import (
    Attachment,
    CardTransaction,
    Contract,
    PaymentPlan,
    PaymentRequest,
    PayrollBatch,
    ReconException,
    Voucher,
)
from reports.models import DisclosureSet
from web import budget_access, scoping, views_contracts, views_payees
from web.forms import DecideForm, dims_parse, indicator_labels
from web.forms_payees import UnitRefileForm, UnitRequestFileForm, WithdrawForm

S = PaymentRequest.Status
QUEUE_OF = {finance_roles.UNIT_HEAD: S.UNIT_REVIEW,
            finance_roles.TREASURY_REVIEWER: S.TREASURY_REVIEW,
            finance_roles.TREASURY_DIRECTOR: S.DIRECTOR_REVIEW}


def _year(request: HttpRequest) -> int:
    y = request.GET.get("year", "")
    return int(y) if y.isdigit() and 2000 <= int(y) <= 2100 else timezone.localdate().year


def _reject_reasons(reqs: list[PaymentRequest]) -> dict[int, str]:
    """The rejection or withdrawal comment of each rejected or withdrawn request (from the
    shared workflow log)."""
    ids = [str(r.pk) for r in reqs if r.status in (S.REJECTED, S.WITHDRAWN)]
    if not ids:
        return {}
    steps = WorkflowStep.objects.filter(doc_type=ContentType.objects.get_for_model(PaymentRequest),
                                        doc_id__in=ids, action__in=["reject", "withdraw"])
    return {int(s.doc_id): s.comment for s in steps}


def _with_reasons(reqs: list[PaymentRequest]) -> list[PaymentRequest]:
    closed = _reject_reasons(reqs)
    for r in reqs:
        reasons = [h.reason for h in r.hits.all()]
        if r.pk in closed:
            text = (_("Withdrawn: %(comment)s") if r.status == S.WITHDRAWN
                    else _("Rejected: %(comment)s"))
            reasons.append(text % {"comment": closed[r.pk]})
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
        rows = budget_selectors.units_indicators(unit_codes=[u.code for u in units], year=year)
        ctx["indicators"] = {u: rows.get(u.code, []) for u in units}
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
    ctx["waiting"] = _waiting(user, roles, org, year)
    ctx["pace"] = pace_views.pace_panel(user, year)  # 序时进度: chart (bureau) or waiting
    ctx["names"] = _names_of(ctx)
    return render(request, "web/dashboard.html", ctx)


def _names_of(ctx: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The names of the codes the home shows (indicator tuples, the requests' units), one
    query per dimension (finance.dimensions.code_names)."""
    codes: dict[str, set[str]] = {"function": set(), "economic": set(), "fund_source": set(),
                                  "unit": set()}
    for rows in (ctx.get("indicators") or {}).values():
        for r in rows:
            for dim in ("function", "economic", "fund_source"):
                codes[dim].add(getattr(r.dims, dim))
    for r in [*ctx.get("requests", []), *(x for _label, reqs in ctx["queues"] for x in reqs)]:
        codes["unit"].add(r.unit)
    return dimensions.code_names(codes)


def _waiting(user: Any, roles: set[str], org: Any, year: int) -> list[tuple[str, int, str]]:
    """What waits for the user's roles, counted (label, count, link); only what is there."""
    out: list[tuple[str, int, str]] = []
    reqs = scoping.visible_requests(user).filter(year=year)
    if finance_roles.UNIT_FILER in roles and org is not None:
        out.append((_("Draft requests to submit"), reqs.filter(
            filed_by=user, status__in=[S.DRAFT, S.REFUSED]).count(), "#unit"))
    for role, status, label in (
            (finance_roles.UNIT_HEAD, S.UNIT_REVIEW, _("Requests awaiting the unit head")),
            (finance_roles.TREASURY_REVIEWER, S.TREASURY_REVIEW,
             _("Requests awaiting treasury review")),
            (finance_roles.TREASURY_DIRECTOR, S.DIRECTOR_REVIEW,
             _("Requests awaiting the treasury director"))):
        if role in roles:
            out.append((label, reqs.filter(status=status).count(), "#queues"))
    if finance_roles.UNIT_HEAD in roles and org is not None:
        out.append((_("Contracts awaiting the unit head's signature"), Contract.objects.filter(
            unit=org.code, status=Contract.Status.DRAFT).count(),
            f"{reverse('web:contracts')}?status=draft"))
    if finance_roles.UNIT_FILER in roles and org is not None:
        out.append((_("Payroll files to submit"), PayrollBatch.objects.filter(
            organization=org, status=PayrollBatch.Status.DRAFT).count(), reverse("web:payrolls")))
        out.append((_("Card payments to repay"), CardTransaction.objects.filter(
            card__organization=org, status=CardTransaction.Status.OPEN).count(),
            f"{reverse('web:official_cards')}?status=open"))
        out.append((_("Payment plans awaiting the treasury"), PaymentPlan.objects.filter(
            year=year, unit=org.code, status=PaymentPlan.Status.APPLIED).count(),
            reverse("web:plans")))
    if roles & set(finance_roles.TREASURY_ROLES):
        out.append((_("Payment plans awaiting approval"), PaymentPlan.objects.filter(
            status=PaymentPlan.Status.APPLIED).count(), reverse("web:plan_review")))
        out += [(_("Approved requests awaiting a voucher"), reqs.filter(status=S.APPROVED).count(),
                 reverse("web:treasury_vouchers")),
                (_("Vouchers awaiting the bank's result"), Voucher.objects.filter(
                    status=Voucher.Status.ISSUED, request__year=year).count(), reverse("web:treasury_imports")),
                (_("Open reconciliation exceptions"), ReconException.objects.filter(
                    status=ReconException.Status.OPEN).count(), reverse("web:treasury_exceptions"))]
    PS = BudgetPlan.Status  # noqa: N806
    review = reverse("web:budget_review")
    if budget_access.is_department(user):
        plans = budget_access.visible_plans(user)
        for y in (year, year + 1):
            out.append((_("Budget plans %(year)s awaiting department review") % {"year": y},
                        plans.filter(year=y, status__in=[PS.FIRST_SUBMITTED, PS.SECOND_SUBMITTED])
                        .count(), f"{review}?year={y}"))
        out.append((_("Projects awaiting department review"), budget_access.visible_projects(
            user).filter(status=Project.Status.SUBMITTED).count(),
            f"{reverse('web:budget_projects')}?status=submitted"))
    if finance_roles.BUDGET_OFFICE in roles:
        for y in (year, year + 1):
            out.append((_("Budget plans %(year)s awaiting the budget office") % {"year": y},
                        BudgetPlan.objects.filter(year=y, status__in=[PS.FIRST_REVIEWED,
                                                                      PS.SECOND_REVIEWED])
                        .count(), f"{review}?year={y}"))
        out.append((_("Adjustments awaiting approval"), Adjustment.objects.filter(
            status=Adjustment.Status.SUBMITTED).count(),
            f"{reverse('web:budget_adjustments')}?status=submitted"))
    sets, DS = reverse("reports:disclosure"), DisclosureSet.Status  # noqa: N806
    if user.has_perm("reports.approve_disclosure"):
        out.append((_("Disclosure sets to approve"),
                    DisclosureSet.objects.filter(status=DS.DRAFT).count(), sets))
    if user.has_perm("reports.publish_disclosure"):
        out.append((_("Disclosure sets to publish"),
                    DisclosureSet.objects.filter(status=DS.APPROVED).count(), sets))
    if finance_roles.AUDITOR in roles:
        out.append((_("Published disclosure sets to trace"),
                    DisclosureSet.objects.filter(status=DS.PUBLISHED).count(),
                    reverse("reports:public")))
    return [w for w in out if w[1]]


@login_required
def request_file(request: HttpRequest) -> HttpResponse:
    """A filer drafts a payment request on one of the unit's indicators, to one of the
    unit's payees (its book, or a shared payee), with the contract number and attachments."""
    org = scoping.organization_of(request.user)
    if org is None or not finance_roles.has_role(request.user, finance_roles.UNIT_FILER):
        raise PermissionDenied(_("Only a unit's filer files payment requests."))
    year = _year(request)
    indicators = budget_selectors.unit_indicators(unit_code=org.code, year=year)
    chosen = request.GET.get("payee", "")  # back from adding a payee (web:payee_new)
    form = UnitRequestFileForm(request.POST or None, request.FILES or None,
                               indicators=indicators, year=year, unit=org,
                               initial={"payee": chosen} if chosen.isdigit() else None)
    if (field := views_contracts.contract_field(org.code, year)) is not None:
        form.fields["contract"] = field  # 合同: one of the unit's signed contracts
    if request.method == "POST" and form.is_valid():
        and_submit = "and_submit" in request.POST  # the "Save and submit" button (保存并送审)
        try:
            req = pay.payment_request_create(
                dims=dims_parse(form.cleaned_data["indicator"]), year=year,
                amount=form.cleaned_data["amount"], payee=form.cleaned_data["payee"],
                purpose=form.cleaned_data["purpose"], user=request.user, submit=and_submit,
                contract_ref=form.cleaned_data["contract_ref"].strip(),
                contract=form.cleaned_data.get("contract"),
                attachments=[(f.name, f.read()) for f in form.cleaned_data["attachments"]])
        except LedgerError as exc:
            form.add_error("attachments" if isinstance(exc, pay_errors.AttachmentRefused)
                           else None, str(exc))
        else:
            if and_submit:
                messages.info(request, _("Request %(id)s is now: %(status)s.") % {
                    "id": req.tracking_id, "status": req.get_status_display()})
            else:
                messages.success(request, _("Request %(id)s saved as a draft; submit it to "
                                            "send it for review.") % {"id": req.tracking_id})
            return redirect("web:request", tracking_id=req.tracking_id)
    here = request.get_full_path()
    return render(request, "web/request_file.html", {
        "form": form, "year": year, "org": org,
        "payee_new": f"{reverse('web:payee_new')}?{urlencode({'next': here})}",
        "limits": pay.attachment_limits()})


def _steps(req: PaymentRequest) -> list[WorkflowStep]:
    """The request's workflow steps, with the action and states in the reader's language."""
    steps = list(WorkflowStep.objects.filter(
        doc_type=ContentType.objects.get_for_model(PaymentRequest), doc_id=str(req.pk))
        .select_related("actor").order_by("at", "id"))
    return steps  # each names its action and states (WorkflowStep.action_label …)


def _unit_filer_of(request: HttpRequest, req: PaymentRequest) -> bool:
    return finance_roles.may_file(request.user, req.unit)


@login_required
def request_detail(request: HttpRequest, tracking_id: str) -> HttpResponse:
    req = get_object_or_404(scoping.visible_requests(request.user), tracking_id=tracking_id)
    roles = scoping.roles_of(request.user)
    can_decide = any(QUEUE_OF.get(r) == req.status for r in roles)
    refiled_as = pay.refiled_as(req) if req.status in pay.WITHDRAWABLE else ""
    filer_here = _unit_filer_of(request, req)
    can_refile = bool(req.status in pay.REFILABLE and not refiled_as and filer_here)
    can_withdraw = bool(req.status in pay.WITHDRAWABLE and not refiled_as and filer_here)
    unit = scoping.organization_of(request.user)
    return render(request, "web/request_detail.html", {
        "req": _with_reasons([req])[0], "steps": _steps(req), "can_decide": can_decide,
        "indicator": indicator_labels([req.dims])[req.dims],
        "can_submit": (req.filed_by_id == request.user.pk and req.status in (S.DRAFT, S.REFUSED)
                       and not refiled_as),
        "refiled_as": refiled_as, "refiled_from": pay.refiled_from(req),
        "refile_form": UnitRefileForm(unit=unit, initial={
            "payee": req.payee_id, "amount": req.amount, "purpose": req.purpose})
        if can_refile else None,
        "withdraw_form": WithdrawForm() if can_withdraw else None,
        "attachments": list(req.attachments.order_by("id")),
        "unit_name": Organization.objects.filter(code=req.unit).values_list(
            "name", flat=True).first() or "",
        **_links(request, req)})


def _links(request: HttpRequest, req: PaymentRequest) -> dict[str, Any]:
    """The request's trail (追溯): its voucher and batch, the bank's results and the import
    of each result file, the ledger entries carrying its tracking id, its field history and
    its payee — each link only for those the page policy lets open its target."""
    from web import menu
    from web.views_treasury import IMPORT_KIND

    voucher = Voucher.objects.select_related("batch").filter(request=req).first()
    results = (list(voucher.results.select_related("file").order_by("traded_at", "id"))
               if voucher else [])
    can_treasury = menu._allowed(request, "web:treasury_batch")  # noqa: SLF001
    jobs: dict[int, int] = {}
    if results and can_treasury:  # the upload (finance.Job) that stored each result file
        for pk, result in Job.objects.filter(
                kind=IMPORT_KIND, result__file_id__in=[r.file_id for r in results]
        ).order_by("id").values_list("pk", "result"):
            jobs.setdefault(int(result["file_id"]), pk)
    for r in results:
        r.job_id = jobs.get(r.file_id)  # type: ignore[attr-defined]
    return {
        "voucher": voucher, "results": results,
        "entries": list(Entry.objects.filter(tracking_id=req.tracking_id)
                        .order_by("fiscal_year", "number")),
        "can_audit": menu._allowed(request, "audit:entry"),  # noqa: SLF001
        "can_treasury": can_treasury,
        "can_payee": views_payees.visible_payees(request.user).filter(pk=req.payee_id).exists(),
    }


@login_required
def request_attachment(request: HttpRequest, tracking_id: str, pk: int) -> FileResponse:
    """An attachment of a request, downloaded: only for those who may see the request
    (web.scoping: another unit's request or attachment answers 404)."""
    req = get_object_or_404(scoping.visible_requests(request.user), tracking_id=tracking_id)
    att = get_object_or_404(Attachment, pk=pk, request=req)
    try:
        handle = att.file.open("rb")
    except FileNotFoundError:
        raise Http404(_("The file of this attachment is missing.")) from None
    response = FileResponse(handle, as_attachment=True, filename=att.name,
                            content_type=att.content_type or "application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
def request_withdraw(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """撤回 / 作废 with a reason: one service call; whatever it still holds is released."""
    req = get_object_or_404(scoping.visible_requests(request.user), tracking_id=tracking_id)
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        messages.error(request, str(pay_errors.MSG_REASON_REQUIRED))
        return redirect("web:request", tracking_id=tracking_id)
    try:
        req = pay.payment_request_withdraw(request=req, user=request.user,
                                           reason=form.cleaned_data["reason"])
    except LedgerError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Request %(id)s is withdrawn; it keeps its history and "
                                    "holds nothing of the indicator or the plan.")
                         % {"id": req.tracking_id})
    return redirect("web:request", tracking_id=tracking_id)


@login_required
@require_POST
def request_refile(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """A refused or returned request corrected (payee, amount, purpose) and filed again as
    a new draft; the old one keeps its state and history and names the new one."""
    req = get_object_or_404(scoping.visible_requests(request.user), tracking_id=tracking_id)
    form = UnitRefileForm(request.POST, unit=scoping.organization_of(request.user))
    if not form.is_valid():
        messages.error(request, "; ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect("web:request", tracking_id=tracking_id)
    try:
        new = pay.payment_request_refile(request=req, user=request.user,
                                         amount=form.cleaned_data["amount"],
                                         payee=form.cleaned_data["payee"],
                                         purpose=form.cleaned_data["purpose"])
    except LedgerError as exc:
        messages.error(request, str(exc))
        return redirect("web:request", tracking_id=tracking_id)
    messages.success(request, _("Request %(old)s filed again as draft %(new)s; submit it to "
                                "send it for review.") % {"old": tracking_id,
                                                          "new": new.tracking_id})
    return redirect("web:request", tracking_id=new.tracking_id)


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
    reported: in one locked pass of the batch services (every request gets the checks of a
    single approval or rejection; the rejections' commitments released in one posting)."""
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
        try:
            out = pay.payment_requests_reject(requests=chosen, user=request.user,
                                              comment=comment)
        except LedgerError as exc:  # the releases could not be posted: nothing rejected
            messages.error(request, str(exc))
        else:
            for req, exc in out.refused:
                messages.error(request, f"{req.tracking_id}: {exc}")
            done[action] = sorted(r.tracking_id for r in out.rejected)
    if done:
        text = _("Approved: %(ids)s") if action == "approve" else _("Rejected: %(ids)s")
        messages.success(request, text % {"ids": ", ".join(done[action])})
    nxt = request.POST.get("next", "")
    return redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else "web:home")
