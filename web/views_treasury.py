"""Treasury screens: vouchers (支付凭证) and their bank files, bank-file imports with
progress, the reconciliation exceptions queue. Treasury roles only (the page policy
checks first; every view checks again so an account the policy lets through — e.g. a
role-less clerk outside WEB_STRICT_PAGES — still gets 403). Reads go through
web.scoping and the payments selectors; each write calls one payments service."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from finance.errors import LedgerError
from finance.jobs import job_create
from finance.models import Job, Organization
from payments import selectors as pay_selectors
from payments import services as pay
from payments.models import (
    AgentAccount,
    Bank,
    BankFile,
    BankProfile,
    BankResult,
    ClearingNotice,
    PaymentRequest,
    ReconException,
    StatementLine,
    VoucherBatch,
)
from payments.tasks import bank_file_import_task
from web import scoping
from web.forms import BankFileForm, ReconcileForm, ResolveForm, VoucherBatchForm

IMPORT_KIND = "payments.import_bank"  # the Job kind the API upload uses too
EXCEPTIONS_PER_PAGE = 200
FILES_PER_PAGE = 50  # stored bank files per page of the Bank files list
LINES_PER_PAGE = 200  # result and statement lines per page of a bank file
JOBS_SHOWN = 10  # recent uploads (jobs) above the list of files


def is_treasury(user: Any) -> bool:
    return bool(user.is_authenticated and (
        user.is_superuser or user.is_staff or scoping.roles_of(user) & set(scoping.TREASURY)))


def treasury_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_treasury(request.user):
            raise PermissionDenied(_("Only treasury reviewers and the treasury director may "
                                     "open the treasury screens."))
        return view(request, *args, **kwargs)
    return wrapped


# ------------------------------------------------------------------ vouchers
@treasury_required
def vouchers(request: HttpRequest) -> HttpResponse:
    """Approved requests awaiting a voucher; put the chosen ones on a batch for an agent
    bank (voucher_batch_create); the batches issued so far."""
    awaiting = list(scoping.visible_requests(request.user)
                    .filter(status=PaymentRequest.Status.APPROVED).order_by("id")[:500])
    form = VoucherBatchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ids = request.POST.getlist("ids")
        chosen = [r for r in awaiting if r.tracking_id in ids]
        if not chosen:
            messages.error(request, _("Choose at least one approved request."))
        else:
            try:
                batch = pay.voucher_batch_create(agent_account=form.cleaned_data["agent_account"],
                                                 user=request.user, requests=chosen)
            except LedgerError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, _("Batch %(id)s issued with %(n)s vouchers.") % {
                    "id": batch.pk, "n": batch.vouchers.count()})
                return redirect("web:treasury_batch", pk=batch.pk)
    total = sum((r.amount for r in awaiting), Decimal("0.00"))
    _name_units(awaiting)
    batches = (VoucherBatch.objects.select_related("agent_account__bank")
               .annotate(n=Count("vouchers"), total=Sum("vouchers__amount"))
               .order_by("-date", "-id")[:50])
    return render(request, "web/treasury/vouchers.html", {
        "awaiting": awaiting, "awaiting_total": total, "form": form, "batches": batches,
        "has_accounts": AgentAccount.objects.exists()})


def _name_units(requests: list[PaymentRequest]) -> None:
    """Give each request its unit's name (`unit_name`), read in one query."""
    names = dict(Organization.objects.filter(code__in={r.unit for r in requests})
                 .values_list("code", "name"))
    for r in requests:
        r.unit_name = names.get(r.unit, "")  # type: ignore[attr-defined]


@treasury_required
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(VoucherBatch.objects.select_related("agent_account__bank",
                                                                  "created_by"), pk=pk)
    rows = list(batch.vouchers.select_related("request__payee").order_by("number"))
    _name_units([v.request for v in rows])
    notice = ClearingNotice.objects.filter(agent_account=batch.agent_account,
                                           date=batch.date).first()
    total = sum((v.amount for v in rows), Decimal("0.00"))
    return render(request, "web/treasury/batch.html", {
        "batch": batch, "vouchers": rows, "total": total,
        "total_capital": pay.amount_in_capitals(total) if rows else "", "notice": notice})


@treasury_required
def batch_export(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    """The bank file of a batch: the same selectors the API export calls."""
    batch = get_object_or_404(VoucherBatch, pk=pk)
    if fmt == "csv":
        body, ctype, ext = (pay_selectors.voucher_batch_csv(batch=batch),
                            "text/csv; charset=gb18030", "csv")
    else:
        body, ctype, ext = (pay_selectors.voucher_batch_pain001(batch=batch),
                            "application/xml", "xml")
    resp = HttpResponse(body, content_type=ctype)
    resp["Content-Disposition"] = f'attachment; filename="vouchers_{batch.pk}.{ext}"'
    return resp


@treasury_required
def notice_export(request: HttpRequest, pk: int) -> HttpResponse:
    """清算额度通知单 of the batch's day and agent bank, as CSV (GBK) for the central bank."""
    batch = get_object_or_404(VoucherBatch, pk=pk)
    notice = get_object_or_404(ClearingNotice.objects.select_related("agent_account__bank"),
                               agent_account=batch.agent_account, date=batch.date)
    resp = HttpResponse(pay_selectors.clearing_notice_csv(notice=notice),
                        content_type="text/csv; charset=gb18030")
    resp["Content-Disposition"] = (f'attachment; filename="clearing_notice_{notice.date:%Y%m%d}_'
                                   f'{batch.agent_account.number}.csv"')
    return resp


# ------------------------------------------------------------------ bank imports
@treasury_required
def imports(request: HttpRequest) -> HttpResponse:
    """Upload a bank result file or statement; it is imported as a job (Celery; eager
    when no broker is configured) exactly as the API upload does."""
    form = BankFileForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        # (an upload above settings.UPLOAD_MAX_BYTES is refused with 413 before this view
        # by config.upload_limit)
        upload, user_id = form.cleaned_data["file"], request.user.pk
        profile = form.cleaned_data["profile"] or None
        with transaction.atomic():
            job = job_create(kind=IMPORT_KIND, user=request.user, filename=upload.name,
                             content=upload.read())
            # robust: a crash of the task is recorded on the job (failed, with its
            # message) and shown on the job's page instead of a server error here.
            transaction.on_commit(lambda: bank_file_import_task.delay(
                job_id=job.pk, user_id=user_id, profile=profile), robust=True)
        return redirect("web:treasury_import", pk=job.pk)
    jobs = Job.objects.filter(kind=IMPORT_KIND).select_related("created_by")[:JOBS_SHOWN]
    files, chosen = _bank_files(request)
    page = Paginator(files, FILES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "web/treasury/imports.html", {
        "form": form, "jobs": jobs, "page": page, "rows": _file_rows(list(page.object_list)),
        "banks": _agent_banks(), "formats": sorted(set(BankFile.objects.values_list(
            "format", flat=True).order_by())), "chosen": chosen})


# ------------------------------------------------------------------ bank files
def _agent_banks() -> list[Bank]:
    """The banks whose files come in: agent banks (an account of ours) and banks with a
    profile of their own."""
    return list(Bank.objects.filter(Q(agent_accounts__isnull=False) | Q(cnaps__in=(
        BankProfile.objects.exclude(cnaps="").values("cnaps")))).distinct().order_by("cnaps"))


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _bank_files(request: HttpRequest) -> tuple[Any, dict[str, Any]]:
    """The stored bank files, newest first, filtered by bank (CNAPS: the profile it was
    read with, the agent account of the vouchers its results name or of its statement
    lines), format and the day received (from / to, Asia/Shanghai)."""
    qs = BankFile.objects.select_related("imported_by").order_by("-imported_at", "-id")
    bank, fmt = request.GET.get("bank", "").strip(), request.GET.get("format", "").strip()
    since, until = _day(request.GET.get("from", "")), _day(request.GET.get("to", ""))
    if bank:
        accounts = AgentAccount.objects.filter(bank__cnaps=bank).values("number")
        qs = qs.filter(
            Q(profile__in=BankProfile.objects.filter(cnaps=bank).values("code"))
            | Exists(BankResult.objects.filter(file=OuterRef("pk"),
                                               voucher__batch__agent_account__bank__cnaps=bank))
            | Exists(StatementLine.objects.filter(file=OuterRef("pk"), account__in=accounts)))
    if fmt:
        qs = qs.filter(format=fmt)
    if since:
        qs = qs.filter(imported_at__date__gte=since)
    if until:
        qs = qs.filter(imported_at__date__lte=until)
    return qs, {"bank": bank, "format": fmt, "from": since, "to": until}


def _file_rows(files: list[BankFile]) -> list[dict[str, Any]]:
    """Each file with its bank (code and name), profile, line counts and outcomes: a
    fixed number of queries for the page, whatever its size."""
    ids = [f.pk for f in files]
    outcomes: dict[int, dict[str, int]] = defaultdict(dict)
    for file_id, outcome, n in (BankResult.objects.filter(file_id__in=ids).order_by()
                                .values_list("file_id", "outcome").annotate(n=Count("id"))):
        outcomes[file_id][outcome] = n
    lines = dict(StatementLine.objects.filter(file_id__in=ids).order_by()
                 .values_list("file_id").annotate(n=Count("id")))
    cnaps_of: dict[int, set[str]] = defaultdict(set)
    for file_id, cnaps in (BankResult.objects.filter(file_id__in=ids).order_by()
                           .values_list("file_id", "voucher__batch__agent_account__bank__cnaps")
                           .distinct()):
        cnaps_of[file_id].add(cnaps)
    account_bank = dict(AgentAccount.objects.values_list("number", "bank__cnaps"))
    for file_id, account in (StatementLine.objects.filter(file_id__in=ids).order_by()
                             .values_list("file_id", "account").distinct()):
        if account in account_bank:
            cnaps_of[file_id].add(account_bank[account])
    profiles = {p.code: p for p in BankProfile.objects.filter(
        code__in={f.profile for f in files if f.profile})}
    for f in files:
        p = profiles.get(f.profile)
        if p is not None and p.cnaps:
            cnaps_of[f.pk].add(p.cnaps)
    names = dict(Bank.objects.filter(cnaps__in={c for s in cnaps_of.values() for c in s})
                 .values_list("cnaps", "name"))
    rows = []
    for f in files:
        o = outcomes.get(f.pk, {})
        results = sum(o.values())
        rows.append({
            "file": f, "profile": profiles.get(f.profile),
            "banks": [(c, names.get(c, "")) for c in sorted(cnaps_of.get(f.pk, ()))],
            "results": results, "statement_lines": lines.get(f.pk, 0),
            "lines": results + lines.get(f.pk, 0),
            "paid": o.get(BankResult.Outcome.PAID, 0),
            "returned": o.get(BankResult.Outcome.RETURNED, 0),
            "rejected": o.get(BankResult.Outcome.REJECTED, 0)})
    return rows


@treasury_required
def bank_file(request: HttpRequest, pk: int) -> HttpResponse:
    """One stored bank file: what it is (bank, format, profile, when, by whom, SHA-256),
    its counts, its result lines with the vouchers and requests they settled, its
    statement lines with what they matched, and every problem found; pages of 200."""
    f = get_object_or_404(BankFile.objects.select_related("imported_by"), pk=pk)
    row = _file_rows([f])[0]
    results = Paginator(
        BankResult.objects.filter(file=f).select_related("voucher__request__payee",
                                                         "voucher__batch")
        .order_by("id"), LINES_PER_PAGE).get_page(request.GET.get("rpage"))
    lines = Paginator(
        StatementLine.objects.filter(file=f).select_related("voucher__request", "notice")
        .annotate(open_exceptions=Count("exceptions", filter=Q(
            exceptions__status=ReconException.Status.OPEN)))
        .order_by("line_no", "id"), LINES_PER_PAGE).get_page(request.GET.get("lpage"))
    units = {r.voucher.request.unit for r in results.object_list} | {
        ln.voucher.request.unit for ln in lines.object_list if ln.voucher_id}
    unit_names = dict(Organization.objects.filter(code__in=units).values_list("code", "name"))
    for r in results.object_list:
        r.unit_name = unit_names.get(r.voucher.request.unit, "")
    accounts = {a.number: a for a in AgentAccount.objects.select_related("bank").filter(
        number__in={ln.account for ln in lines.object_list})}
    for ln in lines.object_list:
        ln.agent = accounts.get(ln.account)
    job = Job.objects.filter(kind=IMPORT_KIND, result__file_id=f.pk).order_by("-id").first()
    return render(request, "web/treasury/bank_file.html", {
        "f": f, "row": row, "results": results, "lines": lines, "job": job})


@treasury_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Progress (polled by web/static/web/job_progress.js from /api/finance/jobs/<id>/)
    and then the import report: counts and every line-level issue."""
    job = get_object_or_404(Job.objects.select_related("created_by"), pk=pk, kind=IMPORT_KIND)
    result: dict[str, Any] = job.result or {}
    finished = job.status in (Job.Status.DONE, Job.Status.FAILED)
    unchanged = bool(finished and result.get("format") and not result.get("stored")
                     and result.get("skipped"))
    bank_file = (BankFile.objects.filter(pk=result["file_id"]).first()
                 if result.get("file_id") else None)
    profile = (BankProfile.objects.filter(code=result["profile"]).first()
               if result.get("profile") else None)
    return render(request, "web/treasury/import.html", {
        "job": job, "result": result, "finished": finished, "unchanged": unchanged,
        "bank_file": bank_file, "profile": profile})


# ------------------------------------------------------------------ exceptions
@treasury_required
def exceptions(request: HttpRequest) -> HttpResponse:
    """对账差异: the open exceptions, each with a resolve-with-reason form, and the
    latest resolved ones with who resolved them and why."""
    kinds = ReconException.Kind
    kind = request.GET.get("kind", "")
    open_ = pay_selectors.open_exceptions().select_related("voucher", "statement_line")
    if kind in kinds.values:
        open_ = open_.filter(kind=kind)
    else:
        kind = ""
    page = Paginator(open_.order_by("date", "id"), EXCEPTIONS_PER_PAGE).get_page(
        request.GET.get("page"))
    resolved = list(ReconException.objects.filter(status=ReconException.Status.RESOLVED)
                    .select_related("voucher", "statement_line", "resolved_by")
                    .order_by("-resolved_at", "-id")[:50])
    accounts = list(AgentAccount.objects.select_related("bank").order_by("number"))
    by_number = {a.number: a for a in accounts}
    for x in [*page.object_list, *resolved]:
        x.agent = by_number.get(x.account)
    return render(request, "web/treasury/exceptions.html", {
        "page": page, "open_count": page.paginator.count, "kinds": kinds.choices,
        "kind": kind, "resolved": resolved, "form": ResolveForm(),
        "reconcile_form": ReconcileForm(initial={"date": timezone.localdate()}),
        "accounts": accounts})


@treasury_required
@require_POST
def exceptions_reconcile(request: HttpRequest) -> HttpResponse:
    """重新对账: `payments.services.reconcile` for a day (one account or all); exceptions
    a later file explains close themselves, with the reason in their history."""
    form = ReconcileForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the day to reconcile (YYYY-MM-DD)."))
        return redirect("web:treasury_exceptions")
    day, account = form.cleaned_data["date"], form.cleaned_data["account"].strip()
    try:
        counts = pay.reconcile(day=day, account=account or None, user=request.user,
                               cause=f"{request.user.get_username()} 重新对账 {day:%Y-%m-%d}")
    except LedgerError as exc:
        messages.error(request, str(exc))
        return redirect("web:treasury_exceptions")
    if not counts["accounts"]:
        messages.warning(request, _("No statement lines on %(day)s: nothing to reconcile.") % {
            "day": f"{day:%Y-%m-%d}"})
    else:
        messages.success(request, _(
            "Reconciled %(day)s again: %(accounts)s account(s), %(matched)s statement lines "
            "matched, %(opened)s new exceptions, %(open)s still open.") % {
            "day": f"{day:%Y-%m-%d}", **counts})
    return redirect("web:treasury_exceptions")


@treasury_required
@require_POST
def exception_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(ReconException, pk=pk)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Exception %(id)s: give the reason for resolving it.") % {
            "id": pk})
        return redirect(_back(request))
    try:
        pay.recon_exception_resolve(exception=row, user=request.user,
                                    reason=form.cleaned_data["reason"])
    except LedgerError as exc:
        messages.error(request, f"{pk}: {exc}")
    else:
        messages.success(request, _("Exception %(id)s resolved.") % {"id": pk})
    return redirect(_back(request))


def _back(request: HttpRequest) -> str:
    """The queue page the form was posted from (same filter and page)."""
    nxt = request.POST.get("next", "")
    return nxt if nxt.startswith("/web/treasury/exceptions/") else "web:treasury_exceptions"
