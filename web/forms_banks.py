"""Forms of the bank-profile pages (银行格式): a treasury clerk edits how an agent bank
writes its files without writing JSON — header names per field as comma-separated
aliases, time and date formats one per line, status words as rows of (word, outcome),
debit and credit words as two lists. The form turns them into the JSON fields of
`payments.models.BankProfile`. Every time and date format is read back here; the view
then checks the profile with its dialect's `problems()` and `show_problems` puts each
problem on its field."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django import forms
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from payments.importers import STATEMENT_FORMATS
from payments.importers.dialect import (
    ENCODINGS,
    RESULT_FIELDS,
    RESULT_REQUIRED,
    STATEMENT_FIELDS,
    STATEMENT_REQUIRED,
)
from payments.models import Bank, BankProfile

OUTCOME_LABELS = {
    "paid": pgettext_lazy("bank outcome", "paid"),
    "returned": pgettext_lazy("bank outcome", "returned (退票)"),
    "rejected": pgettext_lazy("bank outcome", "rejected by the bank"),
    "pending": pgettext_lazy("bank outcome", "still in process (nothing applied)"),
}
ENCODING_LABELS = {"auto": _("automatic (UTF-8 or GBK)"), "utf-8": "UTF-8",
                   "gb18030": "GBK / GB18030"}
DELIMITER_LABELS = {",": _("comma (,)"), "\t": _("tab"), "|": _("vertical bar (|)"),
                    ";": _("semicolon (;)")}
DECIMAL_LABELS = {".": _("point (1234.56)"), ",": _("comma (1234,56)")}
THOUSANDS_LABELS = {",": _("comma (1,234)"), ".": _("point (1.234)"),
                    " ": _("space (1 234)"), "'": _("apostrophe (1'234)"), "": _("none")}
STATEMENT_FORMAT_LABELS = {
    "camt053": "ISO 20022 camt.053", "camt054": "ISO 20022 camt.054", "mt940": "SWIFT MT940",
    "mt942": "SWIFT MT942", "statement_csv": _("the bank's own CSV/XLSX statement"),
}
# msgctxt "bank file column": "account" here is a bank account, not a ledger one
FIELD_LABELS = {
    "voucher_number": pgettext_lazy("bank file column", "voucher number"),
    "payer_account": pgettext_lazy("bank file column", "payer account"),
    "payee_account": pgettext_lazy("bank file column", "payee account"),
    "payee_name": pgettext_lazy("bank file column", "payee name"),
    "amount": pgettext_lazy("bank file column", "amount"),
    "status": pgettext_lazy("bank file column", "status"),
    "bank_ref": pgettext_lazy("bank file column", "bank reference"),
    "traded_at": pgettext_lazy("bank file column", "time of the transaction"),
    "reason": pgettext_lazy("bank file column", "reason for failure"),
    "account": pgettext_lazy("bank file column", "account"),
    "booking_date": pgettext_lazy("bank file column", "booking date"),
    "direction": pgettext_lazy("bank file column", "debit or credit"),
    "debit_amount": pgettext_lazy("bank file column", "debit amount"),
    "credit_amount": pgettext_lazy("bank file column", "credit amount"),
    "end_to_end_id": pgettext_lazy("bank file column", "end-to-end id (voucher number)"),
    "info": pgettext_lazy("bank file column", "description"),
    "currency": pgettext_lazy("bank file column", "currency"),
}
STATEMENT_FIELD_LABELS = {"payee_account": pgettext_lazy("bank file column", "counterparty account"),
                          "payee_name": pgettext_lazy("bank file column", "counterparty name")}
ALIAS_SPLIT = re.compile(r"[,，、;；]")
# every part differs: a format must give it back (bank-local time, no zone)
SAMPLE = dt.datetime(2026, 11, 23, 14, 5, 9)  # noqa: DTZ001


def aliases(text: str) -> list[str]:
    """'凭证号, 支付凭证号' → ['凭证号', '支付凭证号'] (commas, Chinese commas, 、 or ;)."""
    out: list[str] = []
    for part in ALIAS_SPLIT.split(text or ""):
        if part.strip() and part.strip() not in out:
            out.append(part.strip())
    return out


def lines(text: str) -> list[str]:
    out: list[str] = []
    for line in (text or "").splitlines():
        if line.strip() and line.strip() not in out:
            out.append(line.strip())
    return out


def result_key(name: str) -> str:
    return f"result_{name}"


def statement_key(name: str) -> str:
    return f"statement_{name}"


class StatusWordForm(forms.Form):
    """One row of the status-word table: the bank's word and what it means."""

    word = forms.CharField(label=_("The bank's word"), max_length=40, required=False)
    outcome = forms.ChoiceField(label=_("Means"), required=False,
                                choices=[("", "—"), *OUTCOME_LABELS.items()])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("word") and not data.get("outcome"):
            self.add_error("outcome", _("Choose what this word means."))
        return data


StatusWordFormSet = forms.formset_factory(StatusWordForm, extra=3)


class BankProfileForm(forms.Form):
    code = forms.SlugField(label=_("Code"), max_length=40, help_text=_(
        "Letters, digits and hyphens, e.g. icbc-sz; recorded on every file read with it."))
    name = forms.CharField(label=_("Name"), max_length=200)
    cnaps = forms.CharField(label=_("Agent bank (CNAPS code)"), max_length=12, required=False,
                            help_text=_("The 12-digit CNAPS code of the agent bank whose files "
                                        "this profile reads; empty for the standard profile."))
    encoding = forms.ChoiceField(label=_("Encoding"), choices=[(e, ENCODING_LABELS.get(e, e)) for e in ENCODINGS])
    delimiter = forms.ChoiceField(label=_("Delimiter"), choices=list(DELIMITER_LABELS.items()))
    decimal_mark = forms.ChoiceField(label=_("Decimal mark"),
                                     choices=list(DECIMAL_LABELS.items()))
    thousands_sep = forms.ChoiceField(label=_("Thousands separator"), required=False,
                                      choices=list(THOUSANDS_LABELS.items()))
    time_formats = forms.CharField(
        label=_("Time formats"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line, in strptime codes: %Y year, %m month, %d day, %H hour, "
                    "%M minute, %S second, e.g. %Y-%m-%d %H:%M:%S or %Y%m%d%H%M%S."))
    date_formats = forms.CharField(
        label=_("Date formats"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line, e.g. %Y-%m-%d or %Y/%m/%d."))
    debit_words = forms.CharField(label=_("Words for debit"), required=False, help_text=_(
        "What the debit/credit column says for a payment out, comma-separated, e.g. 借, 支出."))
    credit_words = forms.CharField(label=_("Words for credit"), required=False, help_text=_(
        "What it says for money in, e.g. 贷, 收入."))
    statement_formats = forms.MultipleChoiceField(
        label=_("Statement formats the bank sends"), required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(f, STATEMENT_FORMAT_LABELS.get(f, f)) for f in STATEMENT_FORMATS])
    active = forms.BooleanField(label=_("Active (used to read uploaded files)"), required=False)
    note = forms.CharField(label=_("Note"), required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))
    # required, but asked for by the view together with the profile's own problems
    reason = forms.CharField(label=_("Reason for the change"), max_length=100, required=False,
                             widget=forms.TextInput(attrs={"required": True}), help_text=_(
                                 "Kept in the profile's history with your name and the time."))

    def __init__(self, *args: Any, instance: BankProfile | None = None, **kwargs: Any) -> None:
        self.instance = instance
        super().__init__(*args, **kwargs)
        for name in RESULT_FIELDS:
            self.fields[result_key(name)] = forms.CharField(
                label=FIELD_LABELS[name], required=False, max_length=300)
        for name in STATEMENT_FIELDS:
            self.fields[statement_key(name)] = forms.CharField(
                label=STATEMENT_FIELD_LABELS.get(name, FIELD_LABELS[name]), required=False,
                max_length=300)
        self.fields["cnaps"].widget.attrs.update({"list": "agent-banks", "inputmode": "numeric"})
        if instance is not None and instance.pk:
            self.fields["code"].disabled = True  # files name the profile by its code
            self.fields["code"].help_text = _("The code does not change: imported files "
                                              "name the profile by it.")

    # ------------------------------------------------------------------ layout
    def result_rows(self) -> list[tuple[forms.BoundField, bool]]:
        return [(self[result_key(n)], n in RESULT_REQUIRED) for n in RESULT_FIELDS]

    def statement_rows(self) -> list[tuple[forms.BoundField, bool]]:
        return [(self[statement_key(n)], n in STATEMENT_REQUIRED) for n in STATEMENT_FIELDS]

    # ------------------------------------------------------------------ checks
    def clean_code(self) -> str:
        code = self.cleaned_data["code"]
        if code == "new":
            raise forms.ValidationError(_("Choose another code."))
        if (self.instance is None or not self.instance.pk) and BankProfile.objects.filter(
                code=code).exists():
            raise forms.ValidationError(_("There is already a bank profile %(code)s.") % {
                "code": code})
        return code

    def clean_cnaps(self) -> str:
        cnaps = self.cleaned_data["cnaps"].strip()
        if not cnaps:
            return ""
        if not (len(cnaps) == 12 and cnaps.isdigit()):
            raise forms.ValidationError(_("A CNAPS code has 12 digits."))
        if not Bank.objects.filter(cnaps=cnaps).exists():
            raise forms.ValidationError(_("No bank with CNAPS code %(cnaps)s is set up.") % {
                "cnaps": cnaps})
        other = BankProfile.objects.filter(cnaps=cnaps)
        if self.instance is not None and self.instance.pk:
            other = other.exclude(pk=self.instance.pk)
        if other.exists():
            raise forms.ValidationError(_("Bank %(cnaps)s already has the profile %(code)s.") % {
                "cnaps": cnaps, "code": other.first().code})
        return cnaps

    def clean_time_formats(self) -> list[str]:
        return _formats(self.cleaned_data["time_formats"], time=True)

    def clean_date_formats(self) -> list[str]:
        return _formats(self.cleaned_data["date_formats"], time=False)

    def clean_reason(self) -> str:
        return self.cleaned_data["reason"].strip()

    # ------------------------------------------------------------------ to the model
    def columns(self, key: Any, names: tuple[str, ...]) -> dict[str, list[str]]:
        out = {n: aliases(self.cleaned_data.get(key(n), "")) for n in names}
        return {n: v for n, v in out.items() if v}

    def apply(self, profile: BankProfile, statuses: dict[str, str]) -> BankProfile:
        """The cleaned data written onto `profile` (not saved)."""
        d = self.cleaned_data
        if not profile.pk:
            profile.code = d["code"]
        profile.name, profile.cnaps = d["name"], d["cnaps"]
        profile.encoding, profile.delimiter = d["encoding"], d["delimiter"]
        profile.decimal_mark, profile.thousands_sep = d["decimal_mark"], d["thousands_sep"]
        profile.time_formats, profile.date_formats = d["time_formats"], d["date_formats"]
        profile.result_columns = self.columns(result_key, RESULT_FIELDS)
        profile.statement_columns = self.columns(statement_key, STATEMENT_FIELDS)
        profile.statuses = statuses
        words = {w: "debit" for w in aliases(d["debit_words"])}
        words.update({w: "credit" for w in aliases(d["credit_words"])})
        profile.direction_words = words
        profile.statement_formats = list(d["statement_formats"])
        profile.active, profile.note = d["active"], d["note"]
        return profile

    def show_problems(self, problems: list[str]) -> None:
        """The dialect's problems, each on the field it is about where that is known."""
        for problem in problems:
            field, message = _place(problem)
            self.add_error(field if field in self.fields else None, message)


def initial_of(profile: BankProfile, *, copy: bool = False) -> tuple[dict, list[dict]]:
    """The form's and the status table's initial values for `profile` (a copy: no code,
    no bank, a name to change)."""
    data: dict[str, Any] = {
        "code": "" if copy else profile.code,
        "name": "" if copy else profile.name,
        "cnaps": "" if copy else profile.cnaps,
        "encoding": profile.encoding, "delimiter": profile.delimiter,
        "decimal_mark": profile.decimal_mark, "thousands_sep": profile.thousands_sep,
        "time_formats": "\n".join(profile.time_formats),
        "date_formats": "\n".join(profile.date_formats),
        "debit_words": ", ".join(w for w, s in profile.direction_words.items() if s == "debit"),
        "credit_words": ", ".join(w for w, s in profile.direction_words.items()
                                  if s == "credit"),
        "statement_formats": list(profile.statement_formats),
        "active": profile.active if not copy else True,
        "note": "" if copy else profile.note,
    }
    for n in RESULT_FIELDS:
        data[result_key(n)] = ", ".join(profile.result_columns.get(n, []))
    for n in STATEMENT_FIELDS:
        data[statement_key(n)] = ", ".join(profile.statement_columns.get(n, []))
    rows = [{"word": w, "outcome": o} for w, o in profile.statuses.items()]
    return data, rows


def statuses_of(formset: Any) -> tuple[dict[str, str], list[str]]:
    """The status table as {word: outcome}; a word given twice with two meanings is an
    error (returned)."""
    out: dict[str, str] = {}
    errors: list[str] = []
    for row in formset.cleaned_data:
        word, outcome = (row or {}).get("word", "").strip(), (row or {}).get("outcome", "")
        if not word:
            continue
        if word in out and out[word] != outcome:
            errors.append(gettext("The status word %(word)s is given twice with different "
                                  "meanings.") % {"word": word})
        out[word] = outcome
    return out, errors


def _formats(text: str, *, time: bool) -> list[str]:
    """Each format must read back what it writes (a bad %-code, a stray % or a format
    without year, month and day is refused, naming the format)."""
    out = lines(text)
    bad = []
    for fmt in out:
        try:
            back = dt.datetime.strptime(SAMPLE.strftime(fmt), fmt)  # noqa: DTZ007 - a check
        except ValueError:
            back = None
        if back is None or back.date() != SAMPLE.date() or (
                time and "%H" in fmt and back.hour != SAMPLE.hour):
            bad.append(fmt)
    if bad:
        raise forms.ValidationError([
            forms.ValidationError(
                _("%(fmt)s is not a usable format: it must give the year, month and day "
                  "with strptime codes (%%Y %%m %%d %%H %%M %%S), e.g. %(example)s."),
                params={"fmt": f"“{fmt}”",
                        "example": "%Y-%m-%d %H:%M:%S" if time else "%Y-%m-%d"})
            for fmt in bad])
    return out


_PLACES = [
    (re.compile(r"^not a time format: '(.*)'$"), "time_formats",
     _("%(0)s is not a time format.")),
    (re.compile(r"^result column '(\w+)' is not named$"), "result_{0}",
     _("A result file needs this column: give at least one header name.")),
    (re.compile(r"^statement column '(\w+)' is not named$"), "statement_{0}",
     _("A CSV statement needs this column: give at least one header name (or leave every "
       "statement column empty if the bank sends no CSV statement).")),
    (re.compile(r"^the thousands separator differs from the decimal mark$"), "thousands_sep",
     _("The thousands separator must differ from the decimal mark.")),
]


def _place(problem: str) -> tuple[str | None, str]:
    for pattern, field, message in _PLACES:
        m = pattern.match(problem)
        if m:
            return field.format(*m.groups()), str(message) % {
                str(i): g for i, g in enumerate(m.groups())}
    return None, problem
