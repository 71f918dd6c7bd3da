"""The bureau's period pages (月结 / 年结): a year's twelve months with their status and
who closed them when, month close and reopening (with a reason), the year-end close with
its preconditions and result, its reopening, and the history of every close and reopening.

Who may do what is asked of the rules that already decide it, never restated here: the
page is the reports app's (web.policy: city level); closing asks the API's rule
`reports.write` and audit's read-only guard (auditors change nothing); reopening the
permission `reports.reopen_year` that reports.services checks again. Each write is one
reports.services call; its refusal is shown as a list, never a 500."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import rules
from django import forms
from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from audit import access as audit_access
from audit.errors import AuditError
from finance.errors import LedgerError
from finance.models import Account, Entry, FiscalYear, FundSource, Period, WorkflowStep
from reports import errors as report_errors
from reports import services as report_services
from reports.models import FundSourcePolicy, YearEndClose
from web import policy

MONTHS = range(1, 13)
# the reasons reports.services gives finance.period_close itself (not typed by a person)
SERVICE_REASONS = {
    "month close": gettext_lazy("month close"),
    "year-end close": gettext_lazy("year-end close"),
}
MSG_MONTH_STILL_OPEN = gettext_lazy("Month %(month)s is still open: close it first.")
MSG_CLOSE_REFUSED = gettext_lazy("Month %(month)s of %(year)s was not closed:")
MSG_REOPEN_REFUSED = gettext_lazy("Month %(month)s of %(year)s was not reopened:")
MSG_YEAR_CLOSE_REFUSED = gettext_lazy("The year-end close of %(year)s was not done:")
MSG_YEAR_REOPEN_REFUSED = gettext_lazy("Fiscal year %(year)s was not reopened:")


class ReasonForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=500, required=False,
                             widget=forms.TextInput(attrs={"maxlength": 500}))


# ------------------------------------------------------------------ who may act
def may_close(user: Any) -> bool:
    """Close a month or a year: the reports API's write rule, auditors excepted."""
    return bool(rules.has_perm("reports.write", user) and not audit_access.is_auditor(user))


def may_reopen(user: Any) -> bool:
    """Reopen: who may close, holding reports.reopen_year (the services check it again)."""
    return may_close(user) and bool(user.has_perm("reports.reopen_year"))


def _require_close(user: Any) -> None:
    if not may_close(user):
        raise PermissionDenied(_("Only the finance bureau's closing roles may close or "
                                 "reopen periods."))


# ------------------------------------------------------------------ reading
@dataclass
class Change:
    """One close or reopening of a month or of the year (who, when, why)."""

    at: datetime
    what: str
    status: str
    user: Any
    reason: str
    month: int | None = None


def _year_of(request: HttpRequest, default: int | None = None) -> int:
    y = request.GET.get("year", "")
    if y.isdigit() and 2000 <= int(y) <= 2100:
        return int(y)
    return default or timezone.localdate().year


def _reason_text(text: str) -> str:
    return str(SERVICE_REASONS.get(text, text))


def _month_changes(fy: FiscalYear | None) -> list[Change]:
    """Every status change of the year's months, from the periods' history (month close,
    the year-end close of December, every reopening), oldest first."""
    if fy is None:
        return []
    rows = (Period.history.filter(fiscal_year_id=fy.pk).select_related("history_user")
            .order_by("history_date", "history_id"))
    before: dict[int, str] = {}
    out = []
    for h in rows:
        prev = before.get(h.month, Period.Status.OPEN)
        before[h.month] = h.status
        if h.status == prev:  # created open, or saved without a change of status
            continue
        closed = h.status == Period.Status.CLOSED
        out.append(Change(at=h.history_date, month=h.month, status=h.status,
                          what=(_("Month %(m)s closed") if closed else _("Month %(m)s reopened"))
                          % {"m": h.month}, user=h.history_user,
                          reason=_reason_text(h.history_change_reason or "")))
    return out


def _year_changes(year: int) -> list[Change]:
    """The year-end closes and reopenings of `year`, from the shared workflow log."""
    closes = {str(c.pk): c for c in YearEndClose.objects.filter(year=year)}
    if not closes:
        return []
    steps = (WorkflowStep.objects.filter(doc_type=ContentType.objects.get_for_model(YearEndClose),
                                         doc_id__in=list(closes)).select_related("actor"))
    return [Change(at=s.at, status=s.to_state, user=s.actor, reason=s.comment,
                   what=_("Year-end close") if s.to_state == "closed" else
                   _("Year-end close reopened (reversed)")) for s in steps]


def _accounts() -> dict[str, str]:
    return dict(Account.objects.values_list("code", "name"))


def _summary_rows(close: YearEndClose) -> list[dict[str, Any]]:
    """The close's summary (`budget 7101`, `financial 5001`, `indicator take_back`: yuan
    as text) in words: book, account or action with its name, amount."""
    names = _accounts()
    books = {"budget": _("Budget accounting"), "financial": _("Financial accounting"),
             "indicator": _("Indicators")}
    actions = {"take_back": _("unspent indicators taken back (收回)"),
               "carry_forward": _("unspent indicators carried forward (结转)")}
    rows = []
    for key, amount in close.summary.items():
        if not isinstance(amount, str):  # the open commitments: _commitment_rows
            continue
        book, _sep, code = key.partition(" ")
        if book == "indicator":
            label = actions.get(code, code)
        else:
            label = f"{code} {names.get(code, '')}".strip()
        rows.append({"book": books.get(book, book), "label": label,
                     "amount": Decimal(str(amount))})
    return rows


def _commitment_rows(close: YearEndClose) -> list[dict[str, Any]]:
    """Open commitments (unpaid requests and contracts) the close carried into next year
    or released, with their count and total (reports.commitments)."""
    done = close.summary.get("commitments") or {}
    labels = {"carried": _("carried into %(year)s (结转)") % {"year": close.year + 1},
              "released": _("released, requests withdrawn (收回)")}
    return [{"label": labels[k], "count": done.get(k, {}).get("count", 0),
             "total": Decimal(done.get(k, {}).get("total", "0.00"))} for k in labels]


def _policies() -> list[dict[str, Any]]:
    """What the close does with each fund source's unspent indicators (code with name)."""
    chosen = {p.fund_source.code: p.action
              for p in FundSourcePolicy.objects.select_related("fund_source")}
    labels = dict(FundSourcePolicy.Action.choices)
    out = []
    for fs in FundSource.objects.order_by("code"):
        action = chosen.get(fs.code, report_services.DEFAULT_POLICY.get(fs.code, "take_back"))
        out.append({"code": fs.code, "name": fs.name, "action": labels.get(action, action),
                    "set": fs.code in chosen})
    return out


def _problems(exc: Exception) -> list[str]:
    """A refusal as a list a clerk reads: one line per open month, else the message."""
    if isinstance(exc, report_errors.MonthsStillOpen):
        months = [m.strip() for m in str(exc.params.get("months", "")).split(",") if m.strip()]
        return [str(MSG_MONTH_STILL_OPEN % {"month": m}) for m in months]
    many = getattr(exc, "problems", None) or getattr(exc, "failures", None)
    if many:
        return [str(p) for p in many]
    return [str(exc)]


def _context(request: HttpRequest, year: int) -> dict[str, Any]:
    fy = FiscalYear.objects.filter(year=year).first()
    periods = {p.month: p for p in Period.objects.filter(fiscal_year=fy)} if fy else {}
    changes = _month_changes(fy)
    last: dict[int, Change] = {}
    for c in changes:
        last[c.month] = c  # type: ignore[index]
    entries = dict(Entry.objects.filter(fiscal_year=year).values_list("month")
                   .annotate(n=Count("id")).values_list("month", "n"))
    months = []
    for m in MONTHS:
        p = periods.get(m)
        months.append({"month": m, "period": p, "status": p.status if p else "",
                       "last": last.get(m), "entries": entries.get(m, 0)})
    years = sorted({*FiscalYear.objects.values_list("year", flat=True), year}, reverse=True)
    history = sorted(changes + _year_changes(year), key=lambda c: c.at, reverse=True)
    close = YearEndClose.objects.filter(year=year, status=YearEndClose.Status.CLOSED).first()
    return {"year": year, "fy": fy, "months": months, "years": years, "history": history,
            "close": close, "may_close": may_close(request.user),
            "may_reopen": may_reopen(request.user), "form": ReasonForm()}


# ------------------------------------------------------------------ pages
def periods(request: HttpRequest, refused: dict[str, Any] | None = None,
            year: int | None = None) -> HttpResponse:
    """A year's months: status, who closed when, entries posted; close / reopen."""
    year = year or _year_of(request)
    ctx = _context(request, year)
    ctx["refused"] = refused
    return render(request, "web/bureau/periods.html", ctx, status=400 if refused else 200)


@require_POST
def month_close(request: HttpRequest, year: int, month: int) -> HttpResponse:
    _require_close(request.user)
    try:
        audit_access.ensure_not_auditor(request.user)
        report_services.month_close(year=year, month=month, user=request.user)
    except (report_errors.ReportError, LedgerError, AuditError) as exc:
        return periods(request, year=year, refused={
            "title": MSG_CLOSE_REFUSED % {"month": month, "year": year},
            "problems": _problems(exc), "month": month})
    messages.success(request, _("Month %(month)s of %(year)s is closed: postings dated in it "
                                "are refused from now on.") % {"month": month, "year": year})
    return redirect(f"{reverse('web:bureau_periods')}?year={year}")


@require_POST
def month_reopen(request: HttpRequest, year: int, month: int) -> HttpResponse:
    _require_close(request.user)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"].strip() if form.is_valid() else ""
    try:
        audit_access.ensure_not_auditor(request.user)
        report_services.month_reopen(year=year, month=month, user=request.user, reason=reason)
    except (report_errors.ReportError, LedgerError, AuditError) as exc:
        return periods(request, year=year, refused={
            "title": MSG_REOPEN_REFUSED % {"month": month, "year": year},
            "problems": _problems(exc), "month": month})
    messages.success(request, _("Month %(month)s of %(year)s is open again. Reason recorded: "
                                "%(reason)s") % {"month": month, "year": year, "reason": reason})
    return redirect(f"{reverse('web:bureau_periods')}?year={year}")


def year_end(request: HttpRequest, year: int, refused: dict[str, Any] | None = None
             ) -> HttpResponse:
    """年终结账 of `year`: the preconditions the close checks, what it does with unspent
    indicators per fund source, and — once closed — its result; reopening with a reason."""
    fy = FiscalYear.objects.filter(year=year).first()
    open_months = (list(Period.objects.filter(fiscal_year=fy, month__lt=12, status="open")
                        .order_by("month").values_list("month", flat=True)) if fy else [])
    close = (YearEndClose.objects.filter(year=year, status=YearEndClose.Status.CLOSED)
             .select_related("closed_by").first())
    checks = [
        {"ok": fy is not None, "text": _("Fiscal year %(year)s is open in the ledger.")
         % {"year": year}},
        {"ok": fy is not None and not open_months,
         "text": _("January to November are closed."),
         "problems": [str(MSG_MONTH_STILL_OPEN % {"month": m})
                      for m in open_months]},
        {"ok": close is None and not (fy and fy.is_closed),
         "text": _("The year is not closed yet.")},
    ]
    entries = (list(Entry.objects.filter(pk__in=close.entry_ids).order_by("fiscal_year", "number")
                    .only("fiscal_year", "number", "date", "kind", "description"))
               if close else [])
    past = (YearEndClose.objects.filter(year=year).select_related("closed_by")
            .order_by("-closed_at", "-id"))
    ctx = {
        "year": year, "fy": fy, "checks": checks, "ready": all(c["ok"] for c in checks),
        "close": close, "summary": _summary_rows(close) if close else [],
        "commitments": _commitment_rows(close) if close else [],
        "entries": entries, "policies": _policies(), "past": past,
        "history": sorted(_year_changes(year), key=lambda c: c.at, reverse=True),
        "may_close": may_close(request.user), "may_reopen": may_reopen(request.user),
        "form": ReasonForm(), "refused": refused,
        "entry_links": bool(policy.NAMESPACE_POLICY["audit"](request, {})),
        "next_year": year + 1,
    }
    return render(request, "web/bureau/year_end.html", ctx, status=400 if refused else 200)


@require_POST
def year_close(request: HttpRequest, year: int) -> HttpResponse:
    _require_close(request.user)
    started = time.monotonic()
    try:
        audit_access.ensure_not_auditor(request.user)
        close = report_services.year_end_close(year=year, user=request.user)
    except (report_errors.ReportError, LedgerError, AuditError) as exc:
        return year_end(request, year, refused={
            "title": MSG_YEAR_CLOSE_REFUSED % {"year": year}, "problems": _problems(exc)})
    messages.success(request, _(
        "Year-end close of %(year)s done in %(seconds)s s: %(entries)s entries posted; "
        "%(next)s is open.") % {"year": year, "seconds": f"{time.monotonic() - started:.1f}",
                                "entries": len(close.entry_ids), "next": year + 1})
    return redirect("web:bureau_year_end", year=year)


@require_POST
def year_reopen(request: HttpRequest, year: int) -> HttpResponse:
    _require_close(request.user)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"].strip() if form.is_valid() else ""
    try:
        audit_access.ensure_not_auditor(request.user)
        close = report_services.year_end_reopen(year=year, user=request.user, reason=reason)
    except (report_errors.ReportError, LedgerError, AuditError) as exc:
        return year_end(request, year, refused={
            "title": MSG_YEAR_REOPEN_REFUSED % {"year": year}, "problems": _problems(exc)})
    messages.success(request, _(
        "Fiscal year %(year)s is open again: the %(entries)s entries of its close were "
        "reversed. Reason recorded: %(reason)s") % {
        "year": year, "entries": len(close.entry_ids), "reason": reason})
    return redirect("web:bureau_year_end", year=year)
