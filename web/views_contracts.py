"""合同: a unit's contract register — the list (search, status, pages), a new contract with
its payment schedule, a contract's page (schedule, paid / remaining from the ledger, the
requests paid under it, its ledger entries, workflow steps and history) with the sign and
close-early forms.

Who: a unit's people read their unit's contracts, the city level (treasury, budget office,
auditors) every contract; the unit's filer registers them; the unit head signs and closes
them (finance.roles.may_sign_contract). Every write is one payments.services call, whose
domain errors are shown on the page; the services check the roles again."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from budgets import selectors as budget_selectors
from finance import control, labels, roles
from finance.errors import LedgerError
from finance.models import ControlCheck, WorkflowStep
from payments import services as pay
from payments.models import Contract
from payments.services import control as contract_control
from web import menu, scoping
from web.forms import dims_parse, indicator_choices, indicator_labels
from web.forms_payees import payees_for_unit

PAGE_SIZE = 50


def visible_contracts(user: Any) -> QuerySet[Contract]:
    """Every contract for the city level; else those of the units the user sees."""
    qs = Contract.objects.select_related("counterparty")
    if scoping.is_city_level(user):
        return qs
    if scoping.organization_of(user) is None:
        return qs.none()
    return qs.filter(unit__in=scoping.visible_organizations(user).values("code"))


def signed_contracts(unit_code: str, year: int) -> QuerySet[Contract]:
    """What the request form offers: the unit's signed contracts of the year."""
    return pay.contracts_for_unit(unit_code).filter(status=Contract.Status.SIGNED, year=year)


def contract_field(unit_code: str, year: int) -> forms.ModelChoiceField | None:
    """The request form's optional 合同 choice (None when the unit has no signed one)."""
    qs = signed_contracts(unit_code, year)
    if not qs.exists():
        return None
    return forms.ModelChoiceField(
        label=gettext_lazy("Contract (合同)"), queryset=qs, required=False,
        help_text=gettext_lazy("A payment under a signed contract uses its indicator and its "
                               "counterparty and draws on the contract's commitment."))


def _reader(request: HttpRequest) -> None:
    u = request.user
    if not (scoping.is_city_level(u) or scoping.organization_of(u) is not None):
        raise PermissionDenied(_("The contract register belongs to a unit; this account has "
                                 "none."))


@login_required
def contracts(request: HttpRequest) -> HttpResponse:
    """The register: search by number, title or counterparty; filter by status."""
    _reader(request)
    q, show = request.GET.get("q", "").strip()[:100], request.GET.get("status", "")
    qs = visible_contracts(request.user)
    if q:
        qs = qs.filter(Q(number__icontains=q) | Q(title__icontains=q)
                       | Q(counterparty__name__icontains=q))
    if show in Contract.Status.values:
        qs = qs.filter(status=show)
    page = Paginator(qs.order_by("-created_at", "-id"), PAGE_SIZE).get_page(
        request.GET.get("page"))
    org = scoping.organization_of(request.user)
    return render(request, "web/contracts.html", {
        "page": page, "q": q, "show": show, "statuses": Contract.Status.choices,
        "can_file": org is not None and roles.may_file(request.user, org.code)})


class ContractForm(forms.Form):
    """A new contract: number, counterparty, title, amount, term, indicator, schedule."""

    number = forms.CharField(label=gettext_lazy("Contract number (合同号)"), max_length=100)
    title = forms.CharField(label=gettext_lazy("Contract title"), max_length=200)
    counterparty = forms.ModelChoiceField(label=gettext_lazy("Counterparty"),
                                          queryset=payees_for_unit(None))
    indicator = forms.ChoiceField(label=gettext_lazy("Indicator"))
    amount = forms.DecimalField(label=gettext_lazy("Contract amount"), max_digits=16,
                                decimal_places=None, min_value=Decimal("0.01"),
                                widget=forms.NumberInput(attrs={"step": "0.01"}))
    start = forms.DateField(label=gettext_lazy("Term start"),
                            widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("Term end"),
                          widget=forms.DateInput(attrs={"type": "date"}))
    schedule = forms.CharField(
        label=gettext_lazy("Payment schedule"), widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("One instalment per line: due date and amount, e.g. "
                               "2026-04-15 250.00. The instalments add up to the amount."))

    def __init__(self, *args: Any, unit: Any, indicators: list, year: int,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["counterparty"].queryset = payees_for_unit(unit)
        self.fields["indicator"].choices = indicator_choices(indicators, year)

    def clean_indicator(self) -> Any:
        return dims_parse(self.cleaned_data["indicator"])

    def clean_schedule(self) -> list[tuple[dt.date, Decimal]]:
        out = []
        for n, raw in enumerate(self.cleaned_data["schedule"].splitlines(), start=1):
            parts = raw.replace(",", " ").replace("，", " ").split()
            if not parts:
                continue
            try:
                if len(parts) != 2:  # noqa: PLR2004 - a date and an amount
                    raise ValueError
                out.append((dt.date.fromisoformat(parts[0]), Decimal(parts[1])))
            except (ValueError, InvalidOperation):
                raise forms.ValidationError(
                    _("Line %(n)s: write a due date and an amount, e.g. 2026-04-15 250.00.")
                    % {"n": n}) from None
        if not out:
            raise forms.ValidationError(_("Enter at least one instalment."))
        return out


@login_required
def contract_new(request: HttpRequest) -> HttpResponse:
    """The unit's filer registers a contract (draft) with its schedule."""
    org = scoping.organization_of(request.user)
    if org is None or not roles.may_file(request.user, org.code):
        raise PermissionDenied(_("Only a unit's filer registers its contracts."))
    from web.views import _year  # noqa: PLC0415 - the pages' year

    year = _year(request)
    indicators = budget_selectors.unit_indicators(unit_code=org.code, year=year)
    form = ContractForm(request.POST or None, unit=org, indicators=indicators, year=year)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            c = pay.contract_create(
                dims=d["indicator"], year=year, number=d["number"],
                counterparty=d["counterparty"], title=d["title"], amount=d["amount"],
                start=d["start"], end=d["end"], schedule=d["schedule"], user=request.user)
        except LedgerError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Contract %(number)s is registered as a draft; the "
                                        "unit head signs it.") % {"number": c.number})
            return redirect("web:contract", pk=c.pk)
    return render(request, "web/contracts_form.html", {"form": form, "org": org, "year": year})


def _visible(request: HttpRequest, pk: int) -> Contract:
    _reader(request)
    return get_object_or_404(visible_contracts(request.user), pk=pk)


FIELD_LABELS = {"status": gettext_lazy("Status"), "number": gettext_lazy("Contract number (合同号)"),
                "title": gettext_lazy("Contract title"),
                "amount": gettext_lazy("Contract amount"),
                "close_reason": gettext_lazy("Reason for closing")}


def _history(c: Contract) -> list[dict[str, Any]]:
    records = list(c.history.select_related("history_user")
                   .order_by("-history_date", "-history_id")[:100])
    out = []
    for i, rec in enumerate(records):
        prev = records[i + 1] if i + 1 < len(records) else None
        changes = []
        if prev is not None:
            for ch in rec.diff_against(prev, included_fields=list(FIELD_LABELS)).changes:
                old, new = ch.old, ch.new
                if ch.field == "status":
                    old, new = (labels.state_label(Contract, v) for v in (old, new))
                changes.append(f"{FIELD_LABELS[ch.field]}: {old or '—'} → {new or '—'}")
        out.append({"when": rec.history_date, "who": rec.history_user,
                    "type": rec.history_type,
                    "reason": labels.reason_label(rec.history_change_reason), "changes": changes})
    return out


def _steps(c: Contract) -> list[dict[str, Any]]:
    steps = WorkflowStep.objects.filter(doc_type=ContentType.objects.get_for_model(Contract),
                                        doc_id=str(c.pk)).select_related("actor").order_by("id")
    return [{"at": s.at, "who": s.actor, "action": labels.action_label(s.action),
             "to": labels.state_label(Contract, s.to_state), "comment": s.comment}
            for s in steps]


class CloseForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason for closing"), max_length=300)


@login_required
def contract_detail(request: HttpRequest, pk: int) -> HttpResponse:
    c = _visible(request, pk)
    may_sign = roles.may_sign_contract(request.user, c.unit)
    figures = pay.contract_figures(c)
    return render(request, "web/contracts_detail.html", {
        "contract": c, "figures": figures, "instalments": list(c.instalments.all()),
        "indicator": indicator_labels([c.dims])[c.dims],
        "requests": list(c.requests.select_related("payee").order_by("filed_at", "id")),
        "entries": list(pay.contract_entries(c)),
        "can_audit": menu._allowed(request, "audit:entry"),  # noqa: SLF001
        "steps": _steps(c), "history": _history(c),
        "can_sign": may_sign and c.status == Contract.Status.DRAFT,
        "close_form": CloseForm() if may_sign and c.status == Contract.Status.SIGNED else None,
    })


@login_required
@require_POST
def contract_sign(request: HttpRequest, pk: int) -> HttpResponse:
    c = _visible(request, pk)
    try:
        c = pay.contract_sign(contract=c, user=request.user)
    except LedgerError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Contract %(number)s is signed; %(amount)s is committed "
                                    "against its indicator.") % {
            "number": c.number, "amount": f"{c.amount:,.2f}"})
        checks = control.checks_of(c)
        if checks and checks[-1].outcome == ControlCheck.Outcome.WARNED:
            messages.warning(request, _("Control rule %(rule)s warns from %(threshold)s%%: the "
                                        "indicator's usage is now %(usage)s%%.") % {
                "rule": control.rule_name(checks[-1].rule),
                "threshold": checks[-1].threshold_percent, "usage": checks[-1].usage_percent})
    return redirect("web:contract", pk=pk)


@login_required
@require_POST
def contract_control_override(request: HttpRequest, pk: int) -> HttpResponse:
    """The treasury director overrides a blocking control rule for a draft contract (a
    reason is required); the unit head then signs it again."""
    c = _visible(request, pk)
    try:
        contract_control.contract_control_override(contract=c, user=request.user,
                                                   reason=request.POST.get("reason", ""))
    except LedgerError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Override recorded; the unit head may sign the contract "
                                    "again."))
    return redirect("web:contract", pk=pk)


@login_required
@require_POST
def contract_close(request: HttpRequest, pk: int) -> HttpResponse:
    c = _visible(request, pk)
    form = CloseForm(request.POST)
    try:
        c = pay.contract_close(contract=c, user=request.user,
                               reason=form.data.get("reason", ""))
    except LedgerError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Contract %(number)s is closed; what was left of it is "
                                    "available on the indicator again.") % {"number": c.number})
    return redirect("web:contract", pk=pk)


__all__ = ["contract_close", "contract_control_override", "contract_detail", "contract_field",
           "contract_new", "contract_sign", "contracts", "signed_contracts",
           "visible_contracts"]
