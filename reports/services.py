"""Writes of the reports app: month close, year-end close (closing entries of both
accounting books, carry-forward or take-back of unspent indicators, next year's opening
balances) and its reopening by reversal; disclosure sets draft → approved → published
and the bulk export of disclosure files."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from budgets import services as budgets_services
from finance import chart, roles
from finance import selectors as finance_selectors
from finance import services as fin
from finance.chart import EntryKind
from finance.errors import PeriodMissing
from finance.ledger import Dims, LineSpec, entry_post, entry_reverse
from finance.models import (
    Balance,
    Entry,
    FiscalYear,
    Organization,
    Period,
    VoucherSequence,
    fen_to_decimal,
)
from reports import commitments, errors
from reports import selectors as report_selectors
from reports.checks import tables_check
from reports.models import DisclosureFile, DisclosureSet, FundSourcePolicy, YearEndClose
from reports.selectors import MasterData
from reports.tables import FactSet, Table, budget_tables, department_fact_sets, final_tables

MAX_LINES = 400  # lines per closing entry (Line.seq is a small integer)
DEFAULT_POLICY = {"1": "take_back", "2": "carry_forward", "3": "take_back",
                  "4": "carry_forward", "5": "carry_forward"}


def _require(user: Any, permission: str, action: str) -> None:
    if not (user is not None and getattr(user, "has_perm", None) and user.has_perm(permission)):
        raise errors.NotAuthorised(user=str(user), action=action, permission=permission)


# ------------------------------------------------------------------ month close
def month_close(*, year: int, month: int, user: Any, as_of: datetime | None = None) -> Period:
    """月结: lock a period; postings into it are refused from now on."""
    with transaction.atomic():
        period = fin.period_close(year=year, month=month, user=user, reason="month close")
        fin.workflow_record(document=period, from_state="open", to_state="closed",
                            action="month_close", user=user, as_of=as_of)
    return period


def month_reopen(*, year: int, month: int, user: Any, reason: str,
                 as_of: datetime | None = None) -> Period:
    """Reopen a closed month: an authorised role only, with a recorded reason."""
    _require(user, "reports.reopen_year", "reopen a period")
    if not reason.strip():
        raise errors.ReasonRequired(action="reopen a period")
    with transaction.atomic():
        period = fin.period_reopen(year=year, month=month, user=user, reason=reason)
        fin.workflow_record(document=period, from_state="closed", to_state="open",
                            action="month_reopen", user=user, comment=reason, as_of=as_of)
    return period


# ------------------------------------------------------------------ year-end close
def fund_source_policy_set(*, fund_source: str, action: str, user: Any,
                           reason: str) -> FundSourcePolicy:
    """Set what the year-end close does with a fund source's unspent indicators."""
    from finance.models import FundSource

    with transaction.atomic():
        fs = FundSource.objects.get(code=fund_source)
        policy = (FundSourcePolicy.objects.select_for_update().filter(fund_source=fs).first()
                  or FundSourcePolicy(fund_source=fs))
        if policy.pk and policy.action == action:
            return policy
        policy.action = action
        fin.save_with_history(policy, user=user, reason=reason)
    return policy


def _zeroing(account: str, normal: str, fen: int, target: str, dims: Dims,
             book: str) -> list[LineSpec]:
    """Two lines that bring `account`'s normal-side balance `fen` to zero against
    `target`."""
    amount = fen_to_decimal(abs(fen))
    debit_side = (normal == "credit") == (fen > 0)  # reduce a credit balance with a debit
    first = LineSpec(book=book, account=account, debit=amount if debit_side else 0,
                     credit=0 if debit_side else amount, dims=dims)
    second = LineSpec(book=book, account=target, debit=0 if debit_side else amount,
                      credit=amount if debit_side else 0, dims=dims)
    return [first, second]


def _balances(year: int, master: MasterData) -> list[tuple[str, str, str, Dims, int]]:
    """(account, book, normal side, dims, normal-side fen) of every non-zero balance."""
    out = []
    for b in Balance.objects.filter(year=year).exclude(debit_fen=F("credit_fen")):
        code, book, side = master.accounts[b.account_id]
        dims = Dims(region=master.regions.get(b.region_id, ""),
                    unit=master.org_code.get(b.unit_id, ""),
                    function=master.functions.get(b.function_id, ""),
                    economic=master.economics.get(b.economic_id, ""),
                    fund_source=master.funds.get(b.fund_source_id, ""), project=b.project_code)
        fen = b.debit_fen - b.credit_fen if side == "debit" else b.credit_fen - b.debit_fen
        out.append((code, book, side, dims, fen))
    out.sort(key=lambda r: (r[0], r[3].key(year)))
    return out


def _post_chunks(groups: list[list[LineSpec]], *, description: str, on: dt.date, kind: str,
                 user: Any, as_of: datetime) -> list[Entry]:
    """Post balanced groups of lines in entries of at most MAX_LINES lines."""
    entries, batch = [], []
    for group in groups:
        if batch and len(batch) + len(group) > MAX_LINES:
            entries.append(entry_post(lines=batch, description=description, user=user, on=on,
                                      as_of=as_of, kind=kind))
            batch = []
        batch += group
    if batch:
        entries.append(entry_post(lines=batch, description=description, user=user, on=on,
                                  as_of=as_of, kind=kind))
    return entries


def year_end_close(*, year: int, user: Any, as_of: datetime | None = None) -> YearEndClose:
    """年终结账 of `year`, all in one transaction:
    1. budget accounting: 6xxx and 7xxx into 8101 财政拨款结转 (fund sources 1-3) or 8201
       非财政拨款结转 (others);
    2. financial accounting: 4xxx/5xxx into 3301 本期盈余 → 3302 本年盈余分配 → 3001 累计盈余;
    3. indicators: unspent available (9101) is closed against 9001, and carried forward
       into next year (Dr 9101 / Cr 9001 on Jan 1) where the fund source's policy says so;
       open commitments (9201) of payment requests and contracts are, by the same policy,
       carried into next year's indicator and committed there, or released and their
       documents withdrawn (reports.commitments);
    4. next year is opened and the balance-sheet and 8xxx balances opened in it;
    5. December is closed and the year marked closed."""
    as_of = as_of or timezone.now()
    on, next_on = dt.date(year, 12, 31), dt.date(year + 1, 1, 1)
    with transaction.atomic():
        fy = FiscalYear.objects.select_for_update().filter(year=year).first()
        if fy is None:
            raise PeriodMissing(year=year, month=12)
        if fy.is_closed or YearEndClose.objects.filter(year=year, status="closed").exists():
            raise errors.YearAlreadyClosed(year=year)
        still_open = list(Period.objects.filter(fiscal_year=fy, month__lt=12, status="open")
                          .values_list("month", flat=True))
        if still_open:
            raise errors.MonthsStillOpen(year=year, months=", ".join(map(str, still_open)))
        master = MasterData.load()
        policy = {**DEFAULT_POLICY, **{p.fund_source.code: p.action for p in
                                       FundSourcePolicy.objects.select_related("fund_source")}}
        # open commitments first: released (and, carried, closed and their appropriation
        # carried) before the balances below are read
        open_commitments = commitments.commitments_close(year=year, policy=policy, user=user,
                                                         as_of=as_of)
        budget, financial, indicator, carry = [], [], [], []
        surplus: dict[Dims, int] = defaultdict(int)
        moved: dict[str, int] = defaultdict(int)
        for code, book, side, dims, fen in _balances(year, master):
            grant = dims.fund_source in ("1", "2", "3")
            if book == "budget" and code[0] in (chart.BUDGET_REVENUE, chart.BUDGET_EXPENDITURE):
                carry_to = (chart.APPROPRIATION_CARRYOVER if grant
                            else chart.NON_APPROPRIATION_CARRYOVER)
                budget.append(_zeroing(code, side, fen, carry_to, dims, book))
                moved[f"budget {code}"] += fen
            elif book == "financial" and code[0] in (chart.REVENUE, chart.EXPENSE):
                financial.append(_zeroing(code, side, fen, chart.CURRENT_SURPLUS, dims, book))
                surplus[dims] += fen if code[0] == chart.REVENUE else -fen
                moved[f"financial {code}"] += fen
            elif code == chart.AVAILABLE and fen > 0:
                indicator.append(_zeroing(chart.AVAILABLE, side, fen, chart.AUTHORITY, dims, book))
                action = policy.get(dims.fund_source, "take_back")
                moved[f"indicator {action}"] += fen
                if action == "carry_forward":
                    amount = fen_to_decimal(fen)
                    carry.append([LineSpec(book="indicator", account=chart.AVAILABLE, debit=amount,
                                           dims=dims),
                                  LineSpec(book="indicator", account=chart.AUTHORITY, credit=amount,
                                           dims=dims)])
        for dims, fen in sorted(surplus.items(), key=lambda kv: kv[0].key(year)):
            if fen:  # 本期盈余 → 本年盈余分配 → 累计盈余
                financial.append(
                    _zeroing(chart.CURRENT_SURPLUS, "credit", fen, chart.SURPLUS_DISTRIBUTION,
                             dims, "financial")
                    + _zeroing(chart.SURPLUS_DISTRIBUTION, "credit", fen,
                               chart.ACCUMULATED_SURPLUS, dims, "financial"))
        entries: list[Entry] = list(open_commitments.old_entries)
        for groups, text in ((budget, "年终结账 预算会计"), (financial, "年终结账 财务会计"),
                             (indicator, "年终结账 指标")):
            entries += _post_chunks(groups, description=f"{text} {year}", on=on,
                                    kind=EntryKind.CLOSING, user=user, as_of=as_of)
        fin.fiscal_year_open(year=year + 1, user=user, reason=f"opened by year-end close {year}")
        carried = _post_chunks(carry, description=f"上年指标结转 {year}", on=next_on,
                               kind=EntryKind.CARRY_FORWARD, user=user, as_of=as_of)
        commitments.commitments_open(done=open_commitments, year=year, user=user, as_of=as_of)
        # the carried tuples join the new year's indicator register: units file on them
        budgets_services.indicators_carry_register(
            entries=carried + open_commitments.carry_entries)
        entries += carried + open_commitments.new_entries
        entries += _opening(year, master, user, as_of, next_on)
        fin.period_close(year=year, month=12, user=user, reason="year-end close")
        fy.is_closed = True
        fin.save_with_history(fy, user=user, reason="year-end close")
        summary: dict[str, Any] = {k: str(fen_to_decimal(v)) for k, v in sorted(moved.items())}
        if open_commitments.documents:
            summary["commitments"] = open_commitments.summary()
        close = YearEndClose(year=year, entry_ids=[e.pk for e in entries], summary=summary,
                             closed_by=user if getattr(user, "pk", None) else None,
                             closed_at=as_of)
        fin.save_with_history(close, user=user, reason="year-end close")
        fin.workflow_record(document=close, from_state="", to_state="closed", action="close",
                            user=user, as_of=as_of)
    return close


def _opening(year: int, master: MasterData, user: Any, as_of: datetime,
             on: dt.date) -> list[Entry]:
    """Open next year's balances: assets, liabilities, net assets (financial) and the
    carried balances 8xxx (budget), per dimension tuple, on Jan 1."""
    per_tuple: dict[tuple[str, Dims], list[LineSpec]] = defaultdict(list)
    net: dict[tuple[str, Dims], int] = defaultdict(int)
    for code, book, side, dims, fen in _balances(year, master):
        if (book == "financial" and code[0] in "123") or (book == "budget" and code[0] == "8"):
            amount = fen_to_decimal(abs(fen))
            debit = (side == "debit") == (fen > 0)
            per_tuple[(book, dims)].append(LineSpec(book=book, account=code, dims=dims,
                                                    debit=amount if debit else 0,
                                                    credit=0 if debit else amount))
            net[(book, dims)] += abs(fen) if debit else -abs(fen)
    entries = []
    for book in ("budget", "financial"):
        keys = sorted((k for k in per_tuple if k[0] == book), key=lambda k: k[1].key(year))
        # tuples whose balances balance on their own are chunked freely; the others (an
        # entry that moved money between tuples) go together in the last group
        groups = [per_tuple[k] for k in keys if net[k] == 0]
        rest = [line for k in keys if net[k] != 0 for line in per_tuple[k]]
        if rest:
            groups.append(rest)
        if groups:
            entries += _post_chunks(groups, description=f"年初余额 {year + 1} ({book})", on=on,
                                    kind=EntryKind.OPENING, user=user, as_of=as_of)
    return entries


def year_end_reopen(*, year: int, user: Any, reason: str,
                    as_of: datetime | None = None) -> YearEndClose:
    """Reopen a closed year by reversing every entry its close posted (newest first),
    by an authorised role (reports.reopen_year), with the reason recorded."""
    _require(user, "reports.reopen_year", "reopen a fiscal year")
    if not reason.strip():
        raise errors.ReasonRequired(action="reopen a fiscal year")
    as_of = as_of or timezone.now()
    with transaction.atomic():
        close = YearEndClose.objects.select_for_update().filter(year=year,
                                                                status="closed").first()
        if close is None:
            raise errors.YearNotClosed(year=year)
        fin.period_reopen(year=year, month=12, user=user, reason=reason)
        for entry in Entry.objects.filter(pk__in=close.entry_ids).order_by("-fiscal_year",
                                                                           "-number"):
            entry_reverse(entry=entry, user=user, reason=reason, on=entry.date, as_of=as_of)
        commitments.commitments_reopen(summary=close.summary, year=year, user=user,
                                       reason=reason, as_of=as_of)
        fy = FiscalYear.objects.select_for_update().get(year=year)
        fy.is_closed = False
        fin.save_with_history(fy, user=user, reason=reason)
        close.status = YearEndClose.Status.REOPENED
        fin.save_with_history(close, user=user, reason=reason)
        fin.workflow_record(document=close, from_state="closed", to_state="reopened",
                            action="reopen", user=user, comment=reason, as_of=as_of)
    return close


# ------------------------------------------------------------------ disclosure
def disclosure_tables(*, disclosure: DisclosureSet, fact_set: FactSet | None = None,
                      upto: int | None = None) -> list[Table]:
    """The tables of a set, built from the ledger now (`upto`: as it stood after that
    entry number of the year, stamped on every figure's reference)."""
    dept = disclosure.department
    fs = fact_set or department_fact_sets(year=disclosure.year, departments=[dept.code],
                                          upto=upto)[dept.code]
    return _titled(fs, disclosure.kind, dept.name, disclosure.year)


def _titled(fs: FactSet, kind: str, name: str, year: int) -> list[Table]:
    from reports.performance import self_evaluation_tables  # 项目支出绩效自评表 (issue 22)

    tables = (budget_tables(fs) if kind == DisclosureSet.Kind.BUDGET
              else final_tables(fs) + self_evaluation_tables(fs))
    for t in tables:
        t.subtitle = f"编制单位：{name}　　{year}年{'预算' if kind == 'budget' else '决算'}"
    return tables


def disclosure_files(*, tables: list[Table], department: str, name: str, year: int,
                     kind: str) -> dict[str, bytes]:
    """xlsx, pdf, one CSV per table and datapackage.json."""
    from reports import opendata, render

    label = "部门预算公开表" if kind == "budget" else "部门决算公开表"
    title = f"{name} {year}年{label}"
    stem = f"{year}_{department}_{kind}"
    files = {f"{stem}.xlsx": render.tables_xlsx(tables, title=title),
             f"{stem}.pdf": render.tables_pdf(tables, title=title)}
    resources = []
    for t in tables:
        path = f"{stem}_{t.code}.csv"
        files[path] = render.tables_csv(t)
        resources.append((path, t))
    # the fiscal CSV (phases side by side, COFOG/GFS) and datapackage.json: reports.opendata
    files.update(opendata.open_data_files(tables=tables, department=department, name=name,
                                          year=year, stem=stem, title=title,
                                          resources=resources))
    return files


def manifest_build(*, files: dict[str, bytes], tables: list[Table],
                   meta: dict[str, Any]) -> dict[str, Any]:
    return {
        **meta,
        "files": [{"name": n, "sha256": hashlib.sha256(b).hexdigest(), "size": len(b)}
                  for n, b in sorted(files.items())],
        "tables": [{"code": t.code, "title": t.title} for t in tables],
        "figures": [{"table": t.code, "row": r.key, "column": c.key,
                     "row_name": _row_name(r, c), "column_label": c.label,
                     "amount_yuan": str(f.yuan), "trace": f.trace}
                    for t in tables for r, c, f in t.figures()],
    }


def _row_name(row: Any, column: Any) -> str:
    """The row's words as the CSV writes them (code and name, or the summary item)."""
    name = row.cells.get("name") or row.cells.get(
        "in_item" if column.key == "in_amount" else "out_item", "")
    code = row.cells.get("code", "")
    return f"{code} {name}".strip() if isinstance(code, str) else str(name)


def manifest_canonical(doc: dict[str, Any]) -> str:
    """The manifest as published (sorted keys, no spaces): its SHA-256 is the set's."""
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _canonical_sha(doc: dict[str, Any]) -> str:
    return hashlib.sha256(manifest_canonical(doc).encode("utf-8")).hexdigest()


def budget_approved_on(*, department: Organization, year: int) -> dt.date | None:
    """The date of the bureau's 批复 of a department's budget: the latest date of its units'
    approved budget plans' approval entries (None when none is approved)."""
    from budgets.models import BudgetPlan

    return (Entry.objects.filter(pk__in=BudgetPlan.objects.filter(
        unit__parent=department, year=year, status=BudgetPlan.Status.APPROVED)
        .values("approval_entry")).order_by("-date").values_list("date", flat=True).first())


def disclosure_set_create(*, department_code: str, year: int, kind: str,
                          approved_on: dt.date | None = None, user: Any,
                          as_of: datetime | None = None) -> DisclosureSet:
    """A draft set for a department (idempotent while it is a draft). `approved_on`, the
    date of 批复, is entered; without it a budget set takes it from the ledger (the
    department's budget approval) and a final-accounts set is refused
    (`ApprovalDateMissing`: the ledger holds no final-accounts approval)."""
    as_of = as_of or timezone.now()
    dept = Organization.objects.filter(code=department_code).first()
    if dept is None or dept.kind != Organization.Kind.DEPARTMENT:  # unknown codes too
        raise errors.NotDepartment(code=department_code)
    source = DisclosureSet.ApprovalSource.ENTERED
    if approved_on is None:
        if kind == DisclosureSet.Kind.BUDGET:
            approved_on = budget_approved_on(department=dept, year=year)
            source = DisclosureSet.ApprovalSource.BUDGET_APPROVAL
        if approved_on is None:
            raise errors.ApprovalDateMissing(kind=DisclosureSet.Kind(kind).label,
                                             department=dept.code, year=year)
    with transaction.atomic():
        ds = (DisclosureSet.objects.select_for_update()
              .filter(department=dept, year=year, kind=kind).first())
        if ds is not None:
            if ds.status == DisclosureSet.Status.PUBLISHED:
                raise errors.PublishedImmutable(id=ds.pk)
            return ds
        ds = DisclosureSet(department=dept, year=year, kind=kind, approved_on=approved_on,
                           approved_on_source=source, created_by=user if getattr(user, "pk", None) else None,
                           created_at=as_of)
        fin.save_with_history(ds, user=user, reason="draft")
        fin.workflow_record(document=ds, from_state="", to_state="draft", action="create",
                            user=user, as_of=as_of)
    return ds


def disclosure_set_approve(*, disclosure_id: int, user: Any,
                           as_of: datetime | None = None) -> DisclosureSet:
    """draft → approved, by someone with reports.approve_disclosure who did not create it."""
    _require(user, "reports.approve_disclosure", "approve a disclosure set")
    as_of = as_of or timezone.now()
    with transaction.atomic():
        ds = DisclosureSet.objects.select_for_update().get(pk=disclosure_id)
        _expect(ds, DisclosureSet.Status.DRAFT, "approve")
        if ds.created_by_id and ds.created_by_id == getattr(user, "pk", None):
            raise errors.SamePerson(id=ds.pk)
        tables = disclosure_tables(disclosure=ds)
        _block_on_failures(tables)
        ds.approved_figures_sha256 = figures_digest(tables)
        ds.status, ds.approved_by, ds.approved_at = DisclosureSet.Status.APPROVED, user, as_of
        fin.save_with_history(ds, user=user, reason="approve")
        fin.workflow_record(document=ds, from_state="draft", to_state="approved",
                            action="approve", user=user, as_of=as_of)
    return ds


def disclosure_set_return(*, disclosure_id: int, user: Any, reason: str,
                          as_of: datetime | None = None) -> DisclosureSet:
    """approved → draft (e.g. when the ledger changed after approval), with a reason."""
    _require(user, "reports.approve_disclosure", "return a disclosure set to draft")
    if not reason.strip():
        raise errors.ReasonRequired(action="return a disclosure set to draft")
    as_of = as_of or timezone.now()
    with transaction.atomic():
        ds = DisclosureSet.objects.select_for_update().get(pk=disclosure_id)
        _expect(ds, DisclosureSet.Status.APPROVED, "return to draft")
        ds.status, ds.approved_by, ds.approved_at = DisclosureSet.Status.DRAFT, None, None
        ds.approved_figures_sha256 = ""
        ds.head_signed_by, ds.head_signed_at = None, None  # the head signs the approved set
        fin.save_with_history(ds, user=user, reason=reason)
        fin.workflow_record(document=ds, from_state="approved", to_state="draft",
                            action="return", user=user, comment=reason, as_of=as_of)
    return ds


def disclosure_set_confidentiality(*, disclosure_id: int, user: Any, conclusion: str,
                                   note: str = "",
                                   as_of: datetime | None = None) -> DisclosureSet:
    """保密审查 of a draft or approved set, by someone with
    reports.review_disclosure_confidentiality: the conclusion (`cleared` or `withheld`,
    which needs a note saying why) and a note. Recorded again replaces the earlier
    review (the history keeps it)."""
    _require(user, "reports.review_disclosure_confidentiality",
             "record the confidentiality review of a disclosure set")
    if conclusion not in DisclosureSet.Confidentiality.values:
        raise errors.ConclusionUnknown(conclusion=conclusion)
    if conclusion == DisclosureSet.Confidentiality.WITHHELD and not note.strip():
        raise errors.ReasonRequired(action="withhold a disclosure set")
    as_of = as_of or timezone.now()
    with transaction.atomic():
        ds = DisclosureSet.objects.select_for_update().get(pk=disclosure_id)
        if ds.status == DisclosureSet.Status.PUBLISHED:
            raise errors.PublishedImmutable(id=ds.pk)
        ds.confidentiality_by, ds.confidentiality_at = user, as_of
        ds.confidentiality_conclusion, ds.confidentiality_note = conclusion, note.strip()
        fin.save_with_history(ds, user=user, reason="confidentiality review")
        fin.workflow_record(document=ds, from_state=ds.status, to_state=ds.status,
                            action="confidentiality review", user=user,
                            comment=f"{conclusion}: {note.strip()}".rstrip(": "), as_of=as_of)
    return ds


def disclosure_set_sign(*, disclosure_id: int, user: Any,
                        as_of: datetime | None = None) -> DisclosureSet:
    """主要负责人审签 of an approved set by the department's head (the unit head of the
    department itself: `finance.roles.may_approve_unit`). Returning the set to draft
    clears it: the head signs the figures as approved."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        ds = DisclosureSet.objects.select_for_update().select_related("department").get(
            pk=disclosure_id)
        roles.require(roles.may_approve_unit(user, ds.department.code), user=user,
                      role=roles.UNIT_HEAD, unit=ds.department.code)
        _expect(ds, DisclosureSet.Status.APPROVED, "sign")
        ds.head_signed_by, ds.head_signed_at = user, as_of
        fin.save_with_history(ds, user=user, reason="head sign-off")
        fin.workflow_record(document=ds, from_state=ds.status, to_state=ds.status,
                            action="head sign-off", user=user, as_of=as_of)
    return ds


def department_headed_by(user: Any) -> Organization | None:
    """The department whose head (主要负责人: its unit head, `roles.may_approve_unit`) the
    user is, if any: who may sign that department's sets."""
    dept = roles.department_of(user)
    return dept if dept is not None and roles.may_approve_unit(user, dept.code) else None


def _require_sign_offs(ds: DisclosureSet) -> None:
    if not ds.confidentiality_conclusion:
        raise errors.ConfidentialityReviewMissing(id=ds.pk)
    if ds.confidentiality_conclusion != DisclosureSet.Confidentiality.CLEARED:
        raise errors.ConfidentialityWithheld(id=ds.pk, note=ds.confidentiality_note)
    if ds.head_signed_at is None:
        raise errors.HeadSignOffMissing(id=ds.pk, department=ds.department.name)


def sign_offs_json(ds: DisclosureSet) -> dict[str, Any]:
    """Both sign-offs and the deadline as the manifest carries them."""
    due = report_selectors.disclosure_due(ds.approved_on)
    return {
        "approved_on": ds.approved_on.isoformat(),
        "approved_on_source": ds.approved_on_source,
        "deadline": due.isoformat(),
        "confidentiality_review": {
            "by": str(ds.confidentiality_by) if ds.confidentiality_by_id else "",
            "at": (timezone.localtime(ds.confidentiality_at).isoformat()
                   if ds.confidentiality_at else ""),
            "conclusion": ds.confidentiality_conclusion, "note": ds.confidentiality_note},
        "head_sign_off": {
            "by": str(ds.head_signed_by) if ds.head_signed_by_id else "",
            "at": timezone.localtime(ds.head_signed_at).isoformat() if ds.head_signed_at else ""},
    }


_UPTO = re.compile(r";upto=\d+")


def figures_digest(tables: list[Table]) -> str:
    """SHA-256 over every figure (table, row, column, fen, trace) of a set: which figures,
    not at which ledger position (the `upto` of the references is left out)."""
    h = hashlib.sha256()
    for t in tables:
        for r, c, f in t.figures():
            h.update(f"{t.code}|{r.key}|{c.key}|{f.fen}|{_UPTO.sub('', f.trace)}\n".encode())
    return h.hexdigest()


def ledger_head(year: int) -> int:
    """The last entry number of the year: every entry up to it is committed (numbers are
    given under the year's sequence lock, held to commit)."""
    return (VoucherSequence.objects.filter(fiscal_year=year)
            .values_list("last_number", flat=True).first() or 0)


def _block_on_failures(tables: list[Table]) -> None:
    failures = tables_check(tables)
    if failures:
        raise errors.ChecksFailed(count=len(failures), first=str(failures[0]),
                                  failures=failures)


def _expect(ds: DisclosureSet, status: str, action: str) -> None:
    if ds.status == DisclosureSet.Status.PUBLISHED:
        raise errors.PublishedImmutable(id=ds.pk)
    if ds.status != status:
        raise errors.BadState(id=ds.pk, state=ds.status, expected=status, action=action)


def disclosure_set_publish(*, disclosure_id: int, user: Any,
                           as_of: datetime | None = None) -> DisclosureSet:
    """approved → published, once the confidentiality review cleared the set and the
    department head signed it (else `SignOffMissing`): rebuild the tables from the ledger, run the cross-table
    checks (any failure blocks), write the files and the manifest (SHA-256 of each
    file, trace reference of each figure). The set is immutable from then on."""
    _require(user, "reports.publish_disclosure", "publish a disclosure set")
    as_of = as_of or timezone.now()
    with transaction.atomic():
        ds = DisclosureSet.objects.select_for_update().select_related("department").get(
            pk=disclosure_id)
        _expect(ds, DisclosureSet.Status.APPROVED, "publish")
        _require_sign_offs(ds)
        # the figures as the ledger stands now, each reference stamped with this position
        # so that it resolves to the published amount whatever is posted later
        tables = disclosure_tables(disclosure=ds, upto=ledger_head(ds.year))
        _block_on_failures(tables)
        if figures_digest(tables) != ds.approved_figures_sha256:
            raise errors.FiguresChanged(id=ds.pk)
        files = disclosure_files(tables=tables, department=ds.department.code,
                                 name=ds.department.name, year=ds.year, kind=ds.kind)
        published_on = timezone.localdate(as_of)
        manifest = manifest_build(files=files, tables=tables, meta={
            "department": ds.department.code, "department_name": ds.department.name,
            "year": ds.year, "kind": ds.kind, **sign_offs_json(ds),
            "approved_by": str(ds.approved_by), "approved_at": ds.approved_at.isoformat(),
            "published_by": str(user), "published_at": as_of.isoformat(),
            "published_on": published_on.isoformat(),
            "late": published_on > report_selectors.disclosure_due(ds.approved_on),
            # the ledger's chain heads, anchored outside the database in every published
            # manifest: `verify_ledger --anchors manifest.json` checks them
            "ledger_anchors": [a.as_dict() for a in finance_selectors.chain_heads()]})
        for name, content in sorted(files.items()):
            f = DisclosureFile(disclosure=ds, name=name, sha256=hashlib.sha256(content).hexdigest(),
                               size=len(content))
            f.file.save(f"{ds.pk}/{name}", ContentFile(content), save=False)
            f.save()
        ds.manifest, ds.manifest_sha256 = manifest, _canonical_sha(manifest)
        ds.status, ds.published_by, ds.published_at = DisclosureSet.Status.PUBLISHED, user, as_of
        fin.save_with_history(ds, user=user, reason="publish")
        fin.workflow_record(document=ds, from_state="approved", to_state="published",
                            action="publish", user=user, as_of=as_of)
    return ds


def disclosure_export(*, year: int, out: Path, user: Any = None,
                      progress: Callable[[int, int], None] | None = None,
                      departments: list[str] | None = None) -> dict[str, Any]:
    """Write every department's budget and final-account disclosure files under
    `out/<department>/` with a manifest.json each; the cross-table checks run first and
    a department whose tables fail is reported and not written."""
    master = MasterData.load()
    depts = departments or sorted(Organization.objects.filter(
        kind=Organization.Kind.DEPARTMENT, active=True).values_list("code", flat=True))
    sets = department_fact_sets(year=year, departments=depts, master=master)
    result: dict[str, Any] = {"year": year, "departments": 0, "files": 0, "failures": []}
    for i, dept in enumerate(depts, start=1):
        name = master.names["org"].get(dept, dept)
        target = out / dept
        for kind in ("budget", "final"):
            tables = _titled(sets[dept], kind, name, year)
            failures = tables_check(tables)
            if failures:
                result["failures"] += [f"{dept} {kind}: {f}" for f in failures]
                continue
            files = disclosure_files(tables=tables, department=dept, name=name, year=year,
                                     kind=kind)
            (target / kind).mkdir(parents=True, exist_ok=True)
            for fname, content in files.items():
                (target / kind / fname).write_bytes(content)
            manifest = manifest_build(files=files, tables=tables, meta={
                "department": dept, "department_name": name, "year": year, "kind": kind,
                "status": "export (not a published set)"})
            (target / kind / "manifest.json").write_text(
                json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
            result["files"] += len(files) + 1
        result["departments"] += 1
        if progress:
            progress(i, len(depts))
    return result
