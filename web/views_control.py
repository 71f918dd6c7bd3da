"""控制方式: the bureau's page of control rules (list, add, change with a reason, each rule's
history) and the treasury director's override of a blocking rule on a request's page.
Every write is one call of finance.control or payments.services.control, which check who
may act again; a refusal is shown as a message, never a 500."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_POST

from finance import control, roles
from finance.errors import LedgerError
from finance.models import ControlRule, FundSource
from payments.services import control as request_control
from web import scoping


class ControlRuleForm(forms.Form):
    fund_source = forms.ChoiceField(label=_("Fund source"), required=False)
    economic_prefix = forms.RegexField(label=_("Economic class (code or prefix)"),
                                       regex=r"^\d{0,20}$", required=False, max_length=20)
    unit = forms.RegexField(label=_("Unit code"), regex=r"^\d{0,20}$", required=False,
                            max_length=20)
    mode = forms.ChoiceField(label=_("Control mode"), choices=ControlRule.Mode.choices)
    threshold_percent = forms.DecimalField(label=_("Threshold (%)"), max_digits=5,
                                           decimal_places=2, min_value=Decimal("0.01"),
                                           max_value=Decimal("100"))
    effective_from = forms.DateField(label=_("Effective from"),
                                     widget=forms.DateInput(attrs={"type": "date"},
                                                            format="%Y-%m-%d"))
    active = forms.BooleanField(label=_("In force"), required=False, initial=True)
    reason = forms.CharField(label=_("Reason"), max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["fund_source"].choices = [("", pgettext_lazy("control scope", "any"))] + [
            (f.code, f"{f.code} {f.name}") for f in FundSource.objects.order_by("code")]


def _initial(rule: ControlRule) -> dict[str, Any]:
    return {"fund_source": rule.fund_source, "economic_prefix": rule.economic_prefix,
            "unit": rule.unit, "mode": rule.mode, "threshold_percent": rule.threshold_percent,
            "effective_from": rule.effective_from, "active": rule.active}


def _save(request: HttpRequest, form: ControlRuleForm, rule: ControlRule | None) -> Any:
    """The service call of a valid form; the saved rule, or None with the refusal shown."""
    try:
        return control.control_rule_save(user=request.user, rule=rule, **form.cleaned_data)
    except LedgerError as exc:
        messages.error(request, str(exc))
        return None


@login_required
def control_rules(request: HttpRequest) -> HttpResponse:
    """Every control rule (in force or not) and, for the budget office, the form to add one."""
    may_edit = roles.may_act_as_budget_office(request.user)
    form = ControlRuleForm(request.POST or None, initial={
        "mode": ControlRule.Mode.WARN, "threshold_percent": Decimal("90.00"),
        "effective_from": timezone.localdate(), "active": True})
    if request.method == "POST" and form.is_valid():
        saved = _save(request, form, None)
        if saved is not None:
            messages.success(request, _("Control rule %(rule)s saved.")
                             % {"rule": control.rule_name(saved)})
            return redirect(reverse("web:bureau_control_rule", args=[saved.pk]))
    rules = list(ControlRule.objects.order_by("fund_source", "economic_prefix", "unit",
                                              "effective_from"))
    for r in rules:
        r.name = control.rule_name(r)  # type: ignore[attr-defined]
    return render(request, "web/bureau/control_rules.html", {
        "rules": rules, "form": form if may_edit else None,
        "default_name": control.DEFAULT_RULE_NAME})


@login_required
def control_rule(request: HttpRequest, pk: int) -> HttpResponse:
    """One rule, its history (who changed what, when, why) and, for the budget office,
    the form to change it."""
    rule = get_object_or_404(ControlRule, pk=pk)
    may_edit = roles.may_act_as_budget_office(request.user)
    form = ControlRuleForm(request.POST or None, initial=_initial(rule))
    if request.method == "POST" and form.is_valid():
        saved = _save(request, form, rule)
        if saved is not None:
            messages.success(request, _("Control rule %(rule)s saved.")
                             % {"rule": control.rule_name(saved)})
            return redirect(reverse("web:bureau_control_rule", args=[saved.pk]))
    history = list(rule.history.select_related("history_user").order_by("-history_id"))
    return render(request, "web/bureau/control_rule.html", {
        "rule": rule, "name": control.rule_name(rule), "history": history,
        "form": form if may_edit else None,
        "overrides": list(rule.overrides.select_related("granted_by")
                          .order_by("-granted_at")[:50])})


@login_required
@require_POST
def request_control_override(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """The treasury director overrides a blocking control rule for a request (a reason is
    required); the filer then submits it again."""
    req = get_object_or_404(scoping.visible_requests(request.user), tracking_id=tracking_id)
    try:
        request_control.payment_request_control_override(
            request=req, user=request.user, reason=request.POST.get("reason", ""))
    except LedgerError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Override recorded; the filer may submit the request "
                                    "again."))
    return redirect(reverse("web:request", args=[req.tracking_id]))
