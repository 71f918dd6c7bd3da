"""Forms of the web screens: they parse input; services decide."""
from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from finance.dimensions import BadDimsKey, Dims
from payments.models import AgentAccount, BankProfile, Payee


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
        self.fields["indicator"].choices = [
            (r.dims.key(year), f"{r.dims.function} / {r.dims.economic} / {r.dims.fund_source}"
             f"{' / ' + r.dims.project if r.dims.project else ''} ({r.available:,.2f})")
            for r in indicators]


class DecideForm(forms.Form):
    ACTIONS = (("approve", _("Approve")), ("reject", _("Reject")))
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
