"""收款人: a budget unit's payee book — the list (search, pages), a new payee, a payee's
page with its edit form (a reason for every change), block / unblock and its history —
and the CNAPS look-up (联行号 → bank and branch) the form calls as the code is typed.

Who: a unit's people read their unit's book and the shared payees (no unit), a
department its units' books, the city level every payee; only the unit's filer adds and
changes the unit's payees; the treasury blocks and unblocks any payee. Every write is one
payments.services call (`payee_unit_save`, `payee_unit_block`), whose domain errors are
shown on the form; the services check the roles again."""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from finance import roles
from finance.errors import LedgerError
from payments import errors as pay_errors
from payments import services as pay
from payments.models import Payee
from web import scoping
from web.forms_payees import PayeeBlockForm, PayeeForm

PAGE_SIZE = 50
# the reasons the pages write themselves, shown in the reader's language
ADDED = "added to the payee book"
SYSTEM_REASONS = {ADDED: gettext_lazy("added to the payee book")}
FIELD_LABELS = {
    "name": gettext_lazy("Payee name"), "account_number": gettext_lazy("Account number"),
    "bank_name": gettext_lazy("Bank"), "branch_name": gettext_lazy("Branch"),
    "cnaps": gettext_lazy("CNAPS code (联行号)"),
    "is_individual": gettext_lazy("An individual (natural person)"),
    "blocked": gettext_lazy("Blocked"), "blocked_reason": gettext_lazy("Reason blocked"),
    "unit": gettext_lazy("Unit"),
}


def visible_payees(user: Any) -> QuerySet[Payee]:
    """The payees a user may see: every one for the city level; else the shared payees
    and those of the units the user sees (web.scoping)."""
    qs = Payee.objects.select_related("unit")
    if scoping.is_city_level(user):
        return qs
    if scoping.organization_of(user) is None:
        return qs.none()
    return qs.filter(Q(unit__isnull=True) | Q(unit__in=scoping.visible_organizations(user)))


def _filer_unit(user: Any) -> Any:
    """The organization whose book the user keeps (a unit's filer), else None."""
    org = scoping.organization_of(user)
    return org if org is not None and roles.has_role(user, roles.UNIT_FILER) else None


def _reader(request: HttpRequest) -> None:
    u = request.user
    if not (scoping.is_city_level(u) or scoping.organization_of(u) is not None):
        raise PermissionDenied(_("The payee book belongs to a unit; this account has none."))


@login_required
def payees(request: HttpRequest) -> HttpResponse:
    """The list: search by name, account, CNAPS code or bank; own / shared / blocked."""
    _reader(request)
    q, show = request.GET.get("q", "").strip()[:100], request.GET.get("show", "")
    qs = visible_payees(request.user)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(account_number__icontains=q)
                       | Q(cnaps__startswith=q) | Q(bank_name__icontains=q)
                       | Q(branch_name__icontains=q))
    if show == "own":
        qs = qs.filter(unit__isnull=False)
    elif show == "shared":
        qs = qs.filter(unit__isnull=True)
    elif show == "blocked":
        qs = qs.filter(blocked=True)
    page = Paginator(qs.order_by("blocked", "name", "id"), PAGE_SIZE).get_page(
        request.GET.get("page"))
    return render(request, "web/payees.html", {
        "page": page, "q": q, "show": show, "unit": _filer_unit(request.user),
        "shows": [("", _("all")), ("own", _("units' own")), ("shared", _("shared")),
                  ("blocked", _("blocked"))]})


def _next(request: HttpRequest) -> str:
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    ok = url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()},
                                         require_https=request.is_secure())
    return nxt if ok and nxt.startswith("/") else ""


def _bank_initial(cnaps: str) -> dict[str, str]:
    try:
        bank = pay.payee_bank(cnaps)
    except LedgerError:
        return {}
    return {"bank_name": bank.bank_name, "branch_name": bank.branch_name}


# where each service error is shown on the form
ERROR_FIELDS = {pay_errors.CnapsFormat: "cnaps", pay_errors.CnapsUnknown: "cnaps",
                pay_errors.AccountInvalid: "account_number",
                pay_errors.PayeeDuplicate: "account_number",
                pay_errors.ReasonRequired: "reason"}


def _save(request: HttpRequest, form: PayeeForm, payee: Payee | None) -> Payee | None:
    """The form's payee saved by the service, or None with the error on its field."""
    unit = _filer_unit(request.user)
    data = form.cleaned_data
    try:
        return pay.payee_unit_save(
            unit=unit, payee=payee, name=data["name"], account_number=data["account_number"],
            cnaps=data["cnaps"], is_individual=data["is_individual"], user=request.user,
            reason=data["reason"] or ADDED)
    except LedgerError as exc:
        field = next((f for cls, f in ERROR_FIELDS.items() if isinstance(exc, cls)), None)
        if field == "reason" and payee is None:
            field = None
        form.add_error(field, str(exc))
        return None


@login_required
def payee_new(request: HttpRequest) -> HttpResponse:
    """A unit's filer adds a payee to the unit's book; `next` leads back to the form the
    clerk came from (the filing form links here), with the new payee chosen."""
    unit = _filer_unit(request.user)
    if unit is None:
        raise PermissionDenied(_("Only a unit's filer adds payees to the unit's book."))
    lookup = reverse("web:payee_bank")
    form = PayeeForm(request.POST or None, lookup_url=lookup, new=True,
                     initial=_bank_initial(request.POST.get("cnaps", "")))
    if request.method == "POST" and form.is_valid():
        payee = _save(request, form, None)
        if payee is not None:
            messages.success(request, _("Payee %(name)s added to the payee book of %(unit)s.")
                             % {"name": payee.name, "unit": unit.name})
            if nxt := _next(request):
                sep = "&" if "?" in nxt else "?"
                return redirect(f"{nxt}{sep}payee={payee.pk}")
            return redirect("web:payee", pk=payee.pk)
    return render(request, "web/payees_form.html", {"form": form, "unit": unit,
                                                    "next": _next(request)})


@login_required
def payee_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A payee: its details, the edit form for the unit's filer (a reason for every
    change), block / unblock, and its history (who, when, why, what changed)."""
    _reader(request)
    payee = get_object_or_404(visible_payees(request.user), pk=pk)
    unit = _filer_unit(request.user)
    can_edit = unit is not None and payee.unit_id == unit.pk
    form = None
    if can_edit:
        initial = {f: getattr(payee, f) for f in ("name", "account_number", "cnaps",
                                                  "bank_name", "branch_name", "is_individual")}
        if request.method == "POST":
            initial.update(_bank_initial(request.POST.get("cnaps", "")))
        form = PayeeForm(request.POST or None, lookup_url=reverse("web:payee_bank"),
                         initial=initial)
        if request.method == "POST" and form.is_valid():
            saved = _save(request, form, payee)
            if saved is not None:
                messages.success(request, _("Payee %(name)s saved.") % {"name": saved.name})
                return redirect("web:payee", pk=payee.pk)
    elif request.method == "POST":
        raise PermissionDenied(_("Only the unit's filer changes the payees of its book."))
    can_block = can_edit or roles.has_role(request.user, *roles.TREASURY_ROLES)
    return render(request, "web/payees_detail.html", {
        "payee": payee, "form": form, "can_edit": can_edit, "can_block": can_block,
        "block_form": PayeeBlockForm() if can_block else None,
        "history": _history(payee, request.user),
        "requests": list(scoping.visible_requests(request.user).filter(payee=payee)[:20])})


@login_required
@require_POST
def payee_block(request: HttpRequest, pk: int) -> HttpResponse:
    """停用 / 启用 with a reason (`action` block or unblock)."""
    _reader(request)
    payee = get_object_or_404(visible_payees(request.user), pk=pk)
    form = PayeeBlockForm(request.POST)
    blocked = request.POST.get("action") == "block"
    if not form.is_valid():
        messages.error(request, str(pay_errors.MSG_REASON_REQUIRED))
        return redirect("web:payee", pk=pk)
    try:
        payee = pay.payee_unit_block(payee=payee, blocked=blocked,
                                     reason=form.cleaned_data["reason"], user=request.user)
    except LedgerError as exc:
        messages.error(request, str(exc))
    else:
        text = (_("Payee %(name)s is blocked: requests to it are refused.") if blocked
                else _("Payee %(name)s is no longer blocked."))
        messages.success(request, text % {"name": payee.name})
    return redirect("web:payee", pk=pk)


@login_required
@require_GET
def payee_bank(request: HttpRequest) -> JsonResponse:
    """`?cnaps=` → {"cnaps", "bank_name", "branch_name"}; 400 {"error": …} with the
    clerk's message (not 12 digits, not a known branch)."""
    try:
        bank = pay.payee_bank(request.GET.get("cnaps", ""))
    except LedgerError as exc:
        return JsonResponse({"error": str(exc), "code": exc.code}, status=400)
    return JsonResponse({"cnaps": bank.cnaps, "bank_name": bank.bank_name,
                         "branch_name": bank.branch_name})


# ------------------------------------------------------------------ history
def _history(payee: Payee, user: Any) -> list[dict[str, Any]]:
    """The payee's history; an individual's account numbers as `user` may see them."""
    from web.templatetags.web_tags import payee_account_shown  # noqa: PLC0415

    def shown(field: str, v: Any) -> str:
        if field == "account_number" and v:
            return payee_account_shown(Payee(account_number=v, is_individual=payee.is_individual,
                                             unit=payee.unit), user)
        return _value(v)

    records = list(payee.history.select_related("history_user")
                   .order_by("-history_date", "-history_id")[:100])
    out = []
    for i, rec in enumerate(records):
        prev = records[i + 1] if i + 1 < len(records) else None
        changes = []
        if prev is not None:
            for c in rec.diff_against(prev).changes:
                changes.append(f"{FIELD_LABELS.get(c.field, c.field)}: "
                               f"{shown(c.field, c.old)} → {shown(c.field, c.new)}")
        reason = rec.history_change_reason or ""
        out.append({"when": rec.history_date, "who": rec.history_user, "type": rec.history_type,
                    "reason": str(SYSTEM_REASONS.get(reason, reason)), "changes": changes})
    return out


def _value(v: Any) -> str:
    if v is True:
        return _("yes")
    if v is False:
        return _("no")
    return str(v) if v not in (None, "") else "—"
