"""工资统发: a unit's payroll batches — the list with the upload of the month's file, and a
batch's page (lines with the personal data masked unless `finance.roles.
may_see_personal_data`, totals, the 人员类 indicator, issues, returned lines with their
re-payment, and the actions: submit, approve one level, put on vouchers).

Who: a unit's people see their unit's batches, the city level every batch; the unit's
filer uploads, submits and pays a returned line again; the unit head and the treasury
approve, the treasury issues the vouchers. Every write is one payments service call,
which checks the roles again; its domain errors are shown on the page."""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from finance import roles
from finance.errors import LedgerError
from payments.models import AgentAccount, PayrollBatch, PayrollLine, PayrollWithholding
from payments.services import payroll as pr
from web import scoping
from web.forms import dims_parse, indicator_choices, indicator_labels
from web.forms_payees import payees_for_unit


def visible_batches(user: Any) -> QuerySet[PayrollBatch]:
    qs = PayrollBatch.objects.select_related("organization")
    if scoping.is_city_level(user):
        return qs
    if scoping.organization_of(user) is None:
        return qs.none()
    return qs.filter(unit__in=scoping.visible_organizations(user).values("code"))


class UploadForm(forms.Form):
    indicator = forms.ChoiceField(label=gettext_lazy("Personnel indicator (人员类)"))
    month = forms.TypedChoiceField(label=gettext_lazy("Month"), coerce=int,
                                   choices=[(m, m) for m in range(1, 13)])
    file = forms.FileField(label=gettext_lazy("Payroll file (CSV from the HR system)"))

    def __init__(self, *args: Any, choices: list, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["indicator"].choices = choices

    def clean_indicator(self) -> Any:
        return dims_parse(self.cleaned_data["indicator"])


@login_required
def payrolls(request: HttpRequest) -> HttpResponse:
    """The batches the user may see; the unit's filer uploads a month's file here."""
    from web.views import _year  # noqa: PLC0415 - the pages' year

    year = _year(request)
    org = scoping.organization_of(request.user)
    can_file = org is not None and roles.may_file(request.user, org.code)
    form = None
    if can_file:
        choices = indicator_choices(pr.payroll_indicators(unit_code=org.code, year=year), year)
        form = UploadForm(request.POST or None, request.FILES or None, choices=choices)
        if request.method == "POST" and form.is_valid():
            f = form.cleaned_data["file"]
            try:
                report = pr.payroll_import(content=f.read(), filename=f.name,
                                           dims=form.cleaned_data["indicator"], year=year,
                                           month=form.cleaned_data["month"], user=request.user)
            except LedgerError as exc:
                form.add_error(None, str(exc))
            else:
                for issue in report.issues:
                    messages.error(request, str(issue))
                if report.batch is not None:
                    if report.unchanged:
                        messages.info(request, _("This file was imported already; nothing "
                                                 "changed."))
                    else:
                        messages.success(request, _("%(count)s payroll lines imported.") % {
                            "count": report.stored})
                    return redirect("web:payroll", pk=report.batch.pk)
    elif request.method == "POST":
        raise PermissionDenied(_("Only a unit's filer uploads its payroll."))
    batches = visible_batches(request.user).filter(year=year)
    return render(request, "web/payroll.html", {"batches": batches, "form": form, "year": year})


class SubmitForm(forms.Form):
    tax = forms.ModelChoiceField(label=gettext_lazy("Income tax is paid to"), required=False,
                                 queryset=payees_for_unit(None))
    social = forms.ModelChoiceField(label=gettext_lazy("Social insurance is paid to"),
                                    required=False, queryset=payees_for_unit(None))
    housing = forms.ModelChoiceField(label=gettext_lazy("Housing fund is paid to"),
                                     required=False, queryset=payees_for_unit(None))

    def __init__(self, *args: Any, unit: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("tax", "social", "housing"):
            self.fields[name].queryset = payees_for_unit(unit)


class RepayForm(forms.Form):
    account = forms.CharField(label=gettext_lazy("Corrected bank account"), max_length=40)
    bank_name = forms.CharField(label=gettext_lazy("Bank (开户银行)"), max_length=200)


def _visible(request: HttpRequest, pk: int) -> PayrollBatch:
    return get_object_or_404(visible_batches(request.user), pk=pk)


@login_required
def payroll_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _visible(request, pk)
    user = request.user
    full = roles.may_see_personal_data(user, batch.unit)
    is_filer = roles.may_file(user, batch.unit)
    lines = list(batch.lines.select_related("request").order_by("line_no"))
    for line in lines:
        line.shown = pr.line_display(line, user) if full else {
            "id_number": line.id_masked, "account": line.account_masked}
        line.withheld = line.tax + line.social + line.housing
        line.returned = line.request is not None and line.request.status == "returned"
    reqs = pr.payroll_requests(batch)
    can_approve = any(r.status in pr.LEVELS for r in reqs) and not is_filer
    treasury = roles.has_role(user, *roles.TREASURY_ROLES)
    return render(request, "web/payroll_detail.html", {
        "batch": batch, "lines": lines, "full": full,
        "withholdings": list(batch.withholdings.select_related("request__payee")),
        "indicator": indicator_labels([batch.dims])[batch.dims],
        "available": pr.payroll_available(batch), "figures": pr.payroll_figures(batch),
        "submit_form": SubmitForm(unit=batch.organization) if (
            is_filer and batch.status == PayrollBatch.Status.DRAFT and not batch.issues) else None,
        "repay_form": RepayForm() if is_filer else None,
        "can_approve": can_approve,
        "agents": AgentAccount.objects.order_by("number") if treasury and any(
            r.status == "approved" for r in reqs) else None,
        "kinds": dict(PayrollWithholding.Kind.choices),
    })


@login_required
@require_POST
def payroll_act(request: HttpRequest, pk: int) -> HttpResponse:
    """submit / approve / voucher / repay (one service call each)."""
    batch = _visible(request, pk)
    action, user = request.POST.get("action", ""), request.user
    try:
        if action == "submit":
            form = SubmitForm(request.POST, unit=batch.organization)
            form.is_valid()
            payees = {k: form.cleaned_data.get(k) for k in ("tax", "social", "housing")}
            pr.payroll_submit(batch=batch, user=user, withholding_payees=payees)
            messages.success(request, _("The payroll is submitted; its requests await the "
                                        "unit head."))
        elif action == "approve":
            decided = pr.payroll_approve(batch=batch, user=user,
                                         comment=request.POST.get("comment", ""))
            messages.success(request, _("%(count)s requests approved.") % {
                "count": len(decided.approved)})
        elif action == "voucher":
            agent = get_object_or_404(AgentAccount, pk=request.POST.get("agent_account") or 0)
            vb = pr.payroll_voucher(batch=batch, agent_account=agent, user=user)
            messages.success(request, _("%(count)s vouchers issued.") % {
                "count": vb.vouchers.count()})
        elif action == "repay":
            line = get_object_or_404(PayrollLine, batch=batch,
                                     pk=request.POST.get("line") or 0)
            form = RepayForm(request.POST)
            if not form.is_valid():
                messages.error(request, _("Enter the corrected account and bank."))
            else:
                new = pr.payroll_line_repay(line=line, user=user, **form.cleaned_data)
                messages.success(request, _("%(name)s is paid again by %(tracking_id)s.") % {
                    "name": line.name, "tracking_id": new.tracking_id})
        else:
            messages.error(request, _("Unknown action."))
    except LedgerError as exc:
        messages.error(request, str(exc))
    return redirect("web:payroll", pk=batch.pk)


__all__ = ["payroll_act", "payroll_detail", "payrolls", "visible_batches"]
