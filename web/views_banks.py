"""银行格式: the treasury's bank profiles (payments.models.BankProfile) — the list, a
profile's page with its edit form and history, and a new profile copied from an existing
one. Treasury roles only (the page policy, then `treasury_required` again). A profile is
checked with its dialect's `problems()` (and every time format read back) before it is
saved with `finance.services.save_with_history` and the clerk's reason."""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from finance.services import save_with_history
from payments.models import AgentAccount, Bank, BankFile, BankProfile
from web.forms_banks import (
    DELIMITER_LABELS,
    ENCODING_LABELS,
    FIELD_LABELS,
    OUTCOME_LABELS,
    STATEMENT_FORMAT_LABELS,
    THOUSANDS_LABELS,
    BankProfileForm,
    StatusWordFormSet,
    initial_of,
    statuses_of,
)
from web.views_treasury import treasury_required

STATUS_PREFIX = "status"
MODEL_LABELS = {
    "code": gettext_lazy("Code"), "name": gettext_lazy("Name"),
    "cnaps": gettext_lazy("Agent bank (CNAPS code)"), "encoding": gettext_lazy("Encoding"),
    "delimiter": gettext_lazy("Delimiter"),
    "result_columns": gettext_lazy("Result file columns"),
    "statement_columns": gettext_lazy("CSV statement columns"),
    "time_formats": gettext_lazy("Time formats"), "date_formats": gettext_lazy("Date formats"),
    "decimal_mark": gettext_lazy("Decimal mark"),
    "thousands_sep": gettext_lazy("Thousands separator"),
    "statuses": gettext_lazy("Status words"),
    "direction_words": gettext_lazy("Debit/credit words"),
    "statement_formats": gettext_lazy("Statement formats the bank sends"),
    "active": gettext_lazy("Active"), "note": gettext_lazy("Note"),
}
DIRECTION_LABELS = {"debit": gettext_lazy("debit"), "credit": gettext_lazy("credit")}
# reasons the system writes (payments migration 0006) shown in the reader's language
SYSTEM_REASONS = {"shipped profile": gettext_lazy("shipped with the system")}


# ------------------------------------------------------------------ list
@treasury_required
def bank_profiles(request: HttpRequest) -> HttpResponse:
    profiles = list(BankProfile.objects.order_by("-active", "code"))
    banks = dict(Bank.objects.filter(cnaps__in=[p.cnaps for p in profiles if p.cnaps])
                 .values_list("cnaps", "name"))
    used = dict(BankFile.objects.exclude(profile="").order_by().values_list("profile")
                .annotate(n=Count("id")))
    rows = [{"p": p, "bank": banks.get(p.cnaps, ""), "files": used.get(p.code, 0),
             "encoding": ENCODING_LABELS.get(p.encoding, p.encoding),
             "delimiter": DELIMITER_LABELS.get(p.delimiter, p.delimiter),
             "formats": [STATEMENT_FORMAT_LABELS.get(f, f) for f in p.statement_formats]}
            for p in profiles]
    covered = {p.cnaps for p in profiles if p.cnaps}
    without = (Bank.objects.filter(agent_accounts__isnull=False).exclude(cnaps__in=covered)
               .distinct().order_by("cnaps"))
    return render(request, "web/treasury/bank_profiles.html", {
        "rows": rows, "without": without})


# ------------------------------------------------------------------ one profile
@treasury_required
def bank_profile(request: HttpRequest, code: str) -> HttpResponse:
    profile = get_object_or_404(BankProfile, code=code)
    return _edit(request, profile, copy_of=None)


@treasury_required
def bank_profile_new(request: HttpRequest) -> HttpResponse:
    """A new profile, filled from an existing one (`?copy=<code>`, default: standard)."""
    source = (BankProfile.objects.filter(code=request.GET.get("copy", "")).first()
              or BankProfile.objects.filter(code="standard").first() or BankProfile())
    bank = Bank.objects.filter(cnaps=request.GET.get("cnaps", "")).first()
    return _edit(request, None, copy_of=source,
                 prefill={"cnaps": bank.cnaps, "name": bank.name} if bank else None)


def _edit(request: HttpRequest, profile: BankProfile | None,
          copy_of: BankProfile | None, prefill: dict[str, str] | None = None) -> HttpResponse:
    if request.method == "POST":
        form = BankProfileForm(request.POST, instance=profile,
                               initial=initial_of(profile)[0] if profile else None)
        formset = StatusWordFormSet(request.POST, prefix=STATUS_PREFIX)
        if form.is_valid() and formset.is_valid():
            saved = _save(request, form, formset, profile)
            if saved is not None:
                return redirect("web:treasury_bank", code=saved.code)
    else:
        data, rows = initial_of(profile or copy_of, copy=profile is None)  # type: ignore[arg-type]
        data.update(prefill or {})
        form = BankProfileForm(initial=data, instance=profile)
        formset = StatusWordFormSet(initial=rows, prefix=STATUS_PREFIX)
    bank = (Bank.objects.filter(cnaps=profile.cnaps).first()
            if profile is not None and profile.cnaps else None)
    return render(request, "web/treasury/bank_profile.html", {
        "profile": profile, "copy_of": copy_of, "form": form, "formset": formset,
        "bank": bank, "history": _history(profile) if profile is not None else [],
        "profiles": BankProfile.objects.order_by("code"),
        "agent_banks": Bank.objects.filter(agent_accounts__isnull=False).distinct()
        .order_by("cnaps"),
        "files": (BankFile.objects.filter(profile=profile.code).count()
                  if profile is not None else 0),
        "accounts": (AgentAccount.objects.filter(bank__cnaps=profile.cnaps).order_by("number")
                     if profile is not None and profile.cnaps else [])})


def _save(request: HttpRequest, form: BankProfileForm, formset: Any,
          profile: BankProfile | None) -> BankProfile | None:
    """Checks the profile the form describes; saves it with history, or puts every
    problem on the form and returns None."""
    statuses, errors = statuses_of(formset)
    for error in errors:
        form.add_error(None, error)
    target = (BankProfile.objects.get(pk=profile.pk) if profile is not None else BankProfile())
    target = form.apply(target, statuses)
    form.show_problems(target.dialect().problems())
    if not form.cleaned_data.get("reason"):
        form.add_error("reason", _("Give the reason for the change."))
    if form.errors:
        return None
    try:
        with transaction.atomic():
            save_with_history(target, user=request.user, reason=form.cleaned_data["reason"])
    except ValidationError as exc:
        for field, errs in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
            for err in errs:
                form.add_error(field if field in form.fields else None, err)
        return None
    messages.success(request, (_("Bank profile %(code)s saved.") if profile is not None
                               else _("Bank profile %(code)s created.")) % {
        "code": target.code})
    return target


# ------------------------------------------------------------------ history
def _history(profile: BankProfile) -> list[dict[str, Any]]:
    records = list(profile.history.select_related("history_user")
                   .order_by("-history_date", "-history_id")[:100])
    out = []
    for i, rec in enumerate(records):
        prev = records[i + 1] if i + 1 < len(records) else None
        changes: list[str] = []
        if prev is not None:
            for change in rec.diff_against(prev).changes:
                changes += _describe(change.field, change.old, change.new)
        out.append({"when": rec.history_date, "who": rec.history_user,
                    "reason": str(SYSTEM_REASONS.get(rec.history_change_reason or "",
                                                     rec.history_change_reason or "")),
                    "type": rec.history_type,
                    "changes": changes})
    return out


def _describe(field: str, old: Any, new: Any) -> list[str]:
    """One change of a profile as lines a clerk reads: added/removed/changed words and
    header names, formats added or removed, or old → new."""
    label = str(MODEL_LABELS.get(field, field))
    if isinstance(old, dict) or isinstance(new, dict):
        old, new = old or {}, new or {}
        show = _value_label(field)
        lines = [f"{label}: + {_key_label(field, k)} → {show(new[k])}"
                 for k in new if k not in old]
        lines += [f"{label}: − {_key_label(field, k)} ({show(old[k])})"
                  for k in old if k not in new]
        lines += [f"{label}: {_key_label(field, k)}: {show(old[k])} → {show(new[k])}"
                  for k in new if k in old and old[k] != new[k]]
        return lines
    if isinstance(old, list) or isinstance(new, list):
        old, new = old or [], new or []
        return ([f"{label}: + {_scalar(field, x)}" for x in new if x not in old]
                + [f"{label}: − {_scalar(field, x)}" for x in old if x not in new]
                or [f"{label}: {', '.join(new)}"])
    return [f"{label}: {_scalar(field, old)} → {_scalar(field, new)}"]


def _key_label(field: str, key: str) -> str:
    return str(FIELD_LABELS.get(key, key)) if field.endswith("_columns") else key


def _value_label(field: str) -> Any:
    if field == "statuses":
        return lambda v: str(OUTCOME_LABELS.get(v, v))
    if field == "direction_words":
        return lambda v: str(DIRECTION_LABELS.get(v, v))
    return lambda v: ", ".join(v) if isinstance(v, list) else str(v)


def _scalar(field: str, value: Any) -> str:
    labels: dict[str, Any] = {"encoding": ENCODING_LABELS, "delimiter": DELIMITER_LABELS,
                              "thousands_sep": THOUSANDS_LABELS,
                              "statement_formats": STATEMENT_FORMAT_LABELS}.get(field, {})
    if field == "active":
        return _("yes") if value else _("no")
    if value in labels:
        return str(labels[value])
    return str(value) if value not in (None, "") else "—"
