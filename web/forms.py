"""Forms of the web screens: they parse input; services decide."""
from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from finance.dimensions import BadDimsKey, Dims
from payments.models import AgentAccount, Payee


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
        "The agent bank's payment-result CSV (GBK or UTF-8), a camt.053 statement or an "
        "MT940 statement."))


class ResolveForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, strip=True)
