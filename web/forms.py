"""Forms of the web screens: they parse input; services decide."""
from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from finance.dimensions import BadDimsKey, Dims
from finance.models import EconomicCode, FunctionCode, FundSource
from payments.models import AgentAccount, BankProfile, Payee


def indicator_labels(tuples: Iterable[Dims]) -> dict[Dims, str]:
    """Each indicator tuple for people: its codes with their names (function / economic /
    fund source / project), as the filing and plan pages offer them."""
    tuples = list(tuples)
    from budgets.models import Project

    names: dict[str, dict[str, str]] = {}
    for attr, qs in (("function", FunctionCode.objects), ("economic", EconomicCode.objects),
                     ("fund_source", FundSource.objects), ("project", Project.objects)):
        codes = {getattr(d, attr) for d in tuples if getattr(d, attr)}
        names[attr] = dict(qs.filter(code__in=codes).values_list("code", "name")) if codes else {}

    def one(d: Dims) -> str:
        parts = [f"{code} {names[attr].get(code, '')}".strip()
                 for attr in ("function", "economic", "fund_source", "project")
                 if (code := getattr(d, attr))]
        return " / ".join(parts)

    return {d: one(d) for d in tuples}


def indicator_choices(indicators: list, year: int) -> list[tuple[str, str]]:
    """The unit's indicators (budgets.selectors.unit_indicators) as choices: the tuple's key,
    labelled with its codes and names and the amount available."""
    labels = indicator_labels(r.dims for r in indicators)
    return [(r.dims.key(year), f"{labels[r.dims]} ({r.available:,.2f})") for r in indicators]


def dims_parse(value: str) -> Dims:
    """The tuple of an indicator choice (its key, finance.dimensions' one format)."""
    try:
        return Dims.from_key(value)[1]
    except BadDimsKey:
        raise forms.ValidationError(_("Not an indicator.")) from None


class RequestFileForm(forms.Form):
    indicator = forms.ChoiceField(label=_("Indicator"))
    payee = forms.ModelChoiceField(label=_("Payee"), queryset=Payee.objects.filter(blocked=False))
    # decimal_places=None: the service refuses more than 2 places naming the amount
    # (payments.errors.AmountPlaces); the browser is still asked for steps of 0.01
    amount = forms.DecimalField(label=_("Amount"), max_digits=16, decimal_places=None,
                                min_value=Decimal("0.01"),
                                widget=forms.NumberInput(attrs={"step": "0.01"}))
    purpose = forms.CharField(label=_("Purpose"), max_length=300)

    def __init__(self, *args: object, indicators: list, year: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["indicator"].choices = indicator_choices(indicators, year)


class PlanApplyForm(forms.Form):
    """用款计划 申请: a month's amount on one of the unit's indicators."""

    indicator = forms.ChoiceField(label=_("Indicator"))
    month = forms.TypedChoiceField(label=_("Month"), coerce=int,
                                   choices=[(m, f"{m:02d}") for m in range(1, 13)])
    amount = forms.DecimalField(label=_("Amount"), max_digits=16, decimal_places=2,
                                min_value=Decimal("0.01"),
                                widget=forms.NumberInput(attrs={"step": "0.01"}))

    def __init__(self, *args: object, indicators: list, year: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["indicator"].choices = indicator_choices(indicators, year)


class PlanApproveForm(forms.Form):
    """The treasury approves an applied plan: in full (no amount) or a smaller amount."""

    amount = forms.DecimalField(label=_("Amount approved"), max_digits=16, decimal_places=2,
                                min_value=Decimal("0.01"), required=False,
                                widget=forms.NumberInput(attrs={"step": "0.01"}))
    comment = forms.CharField(label=_("Comment"), max_length=300, required=False)


class RefileForm(forms.Form):
    """A refused or returned request corrected and filed again as a new draft."""

    payee = forms.ModelChoiceField(label=_("Payee"), queryset=Payee.objects.filter(blocked=False))
    amount = forms.DecimalField(label=_("Amount"), max_digits=16, decimal_places=None,
                                min_value=Decimal("0.01"),
                                widget=forms.NumberInput(attrs={"step": "0.01"}))
    purpose = forms.CharField(label=_("Purpose"), max_length=300)


class DecideForm(forms.Form):
    ACTIONS = (("approve", pgettext_lazy("decision", "Approve")), ("reject", _("Reject")))
    action = forms.ChoiceField(choices=ACTIONS)
    comment = forms.CharField(label=_("Comment"), max_length=300, required=False)


class VoucherBatchForm(forms.Form):
    """Treasury: the agent bank (zero-balance account) the chosen requests are sent to."""

    agent_account = forms.ModelChoiceField(label=_("Agent bank account"),
                                           queryset=AgentAccount.objects.select_related("bank"))


class BankFileForm(forms.Form):
    file = forms.FileField(label=_("Bank file"), help_text=_(
        "The agent bank's result file or statement: CSV or XLSX (read by the bank's "
        "profile), pain.002, camt.053, camt.054, MT940 or MT942."))
    profile = forms.ChoiceField(label=_("Bank profile"), required=False, help_text=_(
        "Automatic: the profile whose header names fit the file reads it. Choose one only "
        "for a file no profile recognises by itself."))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["profile"].choices = [("", _("automatic (the header decides)"))] + [
            (p.code, f"{p.name} ({p.code})")
            for p in BankProfile.objects.filter(active=True).order_by("code")]


class ResolveForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, strip=True)


class ReconcileForm(forms.Form):
    """重新对账: a day (and optionally one account) reconciled again."""

    date = forms.DateField(label=_("Day"), widget=forms.DateInput(attrs={"type": "date"}))
    account = forms.CharField(label=_("Account (optional)"), max_length=40, required=False)
