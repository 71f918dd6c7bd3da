"""Forms of the unit's payee book (收款人) and of the request pages that use it: they parse
input; payments.services decides (CNAPS, account number, duplicates, attachments)."""
from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from finance.models import Organization
from payments.models import Payee
from payments.services import ATTACHMENT_TYPES
from web.forms import RefileForm, RequestFileForm


def payees_for_unit(unit: Organization | None) -> QuerySet[Payee]:
    """What a unit's request may pay: its own book and the shared payees, not blocked."""
    own = Q(unit__isnull=True) | (Q(unit=unit) if unit is not None else Q(pk__in=[]))
    return Payee.objects.filter(own, blocked=False).order_by("name", "id")


class PayeeForm(forms.Form):
    """A payee of the unit's book: the bank and branch come from the CNAPS code (filled in
    as it is typed by web/static/web/payee_bank.js, and again by the service on save)."""

    name = forms.CharField(label=_("Payee name"), max_length=200)
    account_number = forms.CharField(
        label=_("Account number"), max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text=_("Digits only, 8 to 32 of them; spaces are removed."))
    cnaps = forms.CharField(
        label=_("CNAPS code (联行号)"), max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off",
                                      "maxlength": "12", "pattern": "[0-9]{12}"}),
        help_text=_("12 digits: the bank and branch are filled in from the bank list."))
    bank_name = forms.CharField(label=_("Bank"), required=False, disabled=True)
    branch_name = forms.CharField(label=_("Branch"), required=False, disabled=True)
    is_individual = forms.BooleanField(
        label=_("An individual (natural person)"), required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}))
    reason = forms.CharField(label=_("Reason for the change"), max_length=300)

    def __init__(self, *args: Any, lookup_url: str = "", new: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cnaps"].widget.attrs["data-lookup"] = lookup_url
        if new:  # a new payee's history says "added"; no reason to give
            self.fields["reason"].required = False
            self.fields["reason"].widget = forms.HiddenInput()


class PayeeBlockForm(forms.Form):
    """停用 / 启用 a payee, with the reason (kept in its history)."""

    reason = forms.CharField(label=_("Reason"), max_length=300)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented pattern); an empty list when none."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={
            "accept": ",".join(sorted(ATTACHMENT_TYPES))}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        one = super().clean
        files = data if isinstance(data, list | tuple) else [data]
        return [f for f in (one(d, initial) for d in files if d) if f]


class UnitRequestFileForm(RequestFileForm):
    """The filing form with the unit's payees only (its book and the shared ones), the
    contract reference (合同号) and attachments."""

    contract_ref = forms.CharField(label=_("Contract number (合同号)"), max_length=100,
                                   required=False)
    attachments = MultipleFileField(
        label=_("Attachments"), required=False,
        help_text=_("Contract, invoice, acceptance: PDF, OFD, JPEG, PNG, Word or Excel; "
                    "several files may be chosen."))

    def __init__(self, *args: Any, unit: Organization | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["payee"].queryset = payees_for_unit(unit)


class UnitRefileForm(RefileForm):
    """Correct and file again: the payee chosen among the unit's payees."""

    def __init__(self, *args: Any, unit: Organization | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["payee"].queryset = payees_for_unit(unit)


class WithdrawForm(forms.Form):
    """撤回 / 作废 a draft, refused or returned request, with the reason."""

    reason = forms.CharField(label=_("Reason for withdrawing"), max_length=300)
