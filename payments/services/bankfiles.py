"""Bank files: detection and parsing, payment results applied (回单 and 退票, one by one
or in chunks), statement lines stored in chunks and handed to reconciliation."""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from finance import errors as ledger_errors
from finance.chart import EntryKind
from finance.ledger import (
    EntryInput,
    entries_post,
    reversal_inputs,
)
from finance.services import (
    bulk_insert,
    bulk_save_with_history,
    workflow_record_many,
)
from payments import errors
from payments.importers import detect, parse
from payments.importers.common import PENDING, ImportIssue, ResultRow, StatementRow
from payments.models import (
    AgentAccount,
    BankFile,
    BankProfile,
    BankResult,
    PaymentRequest,
    StatementLine,
    Voucher,
)
from payments.profiles import shipped, values
from payments.rules import fmt
from payments.services._common import (
    AnyOf,
    S,
)
from payments.services.cards import card_transactions_settle
from payments.services.contracts import contracts_settle
from payments.services.reconciliation import statement_reconcile
from payments.services.requests import _requests_locked, carried_years, payment_lines

log = logging.getLogger(__name__)


@dataclass
class ImportReport:
    filename: str
    format: str = ""
    profile: str = ""
    stored: int = 0
    skipped: int = 0  # already known: stored before (same or new bank reference)
    pending: int = 0  # results still in process at the bank: nothing applied yet
    issues: list[ImportIssue] = field(default_factory=list)
    matched: int = 0
    exceptions: int = 0
    file_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"filename": self.filename, "format": self.format, "profile": self.profile,
                "stored": self.stored, "skipped": self.skipped, "pending": self.pending,
                "matched": self.matched,
                "exceptions": self.exceptions, "file_id": self.file_id,
                "issues": [i.as_dict() for i in self.issues]}


def bank_file_import(*, content: bytes, filename: str, user: Any,
                     as_of: dt.datetime | None = None,
                     progress: Any = None, resume_file_id: int | None = None,
                     on_file: Any = None, profile: str | None = None) -> ImportReport:
    """Detect the format, parse every line, then store: results post payments or
    release commitments (each line on its own, all or nothing); statement lines are
    stored once per (account, bank reference), committed in chunks, and reconciled. A bad
    line is reported with file, line and reason; an unreadable file leaves nothing behind.

    Resumable (issue 9): `on_file(pk)` is called, inside the transaction of the first
    stored line, with the id of the BankFile row; an attempt killed half-way is finished
    by calling again with `resume_file_id=pk` — lines the earlier attempt committed count
    as stored by this file (not skipped), the rest are stored, and the report covers the
    whole file.

    Tables (result files, CSV statements) are read by the bank profiles (`profile`: one
    by code; default: every active one, the header decides). Results still in process at
    the bank (pending) are counted, not applied. What is already known — the same result
    or statement line from an earlier file, under the same or a new bank reference — is
    counted as `skipped` (already known), never stored twice. Every import reconciles the
    accounts and days it touched again."""
    as_of = as_of or timezone.now()
    report = ImportReport(filename=filename)
    fmt_ = detect(content)
    if fmt_ is None:
        report.issues.append(ImportIssue(filename, 0, "format", str(errors.MSG_UNKNOWN_FORMAT % {
            "file": filename})))
        return report
    rows = parse(content, filename, fmt_, dialects=_dialects(profile))
    if rows.profile and not profile:
        rows = _by_account_bank(content, filename, fmt_, rows)
    report.format, report.profile = rows.format, rows.profile
    report.issues += rows.issues
    if rows.fatal:
        return report
    digest = hashlib.sha256(content).hexdigest()
    bank_file = (BankFile.objects.filter(pk=resume_file_id, sha256=digest).first()
                 if resume_file_id else None)
    if bank_file is None:
        bank_file = BankFile(filename=filename, sha256=digest, format=rows.format,
                             profile=rows.profile, imported_at=as_of,
                             imported_by=user if getattr(user, "pk", None) else None)
    bank_file.on_file = on_file  # type: ignore[attr-defined]
    if rows.results:
        _store_results(rows.results, bank_file, report, user, as_of, progress)
        if bank_file.pk:
            _reconcile_results(bank_file, report, user, as_of)
    if rows.statement:
        _store_statement(rows.statement, bank_file, report, user, as_of, progress)
    if bank_file.pk:
        BankFile.objects.filter(pk=bank_file.pk).update(
            stored=report.stored, skipped=report.skipped, pending=report.pending,
            issues=[i.as_dict() for i in report.issues])
        report.file_id = bank_file.pk
    return report


def _reconcile_results(bank_file: BankFile, report: ImportReport, user: Any,
                       as_of: dt.datetime) -> None:
    """A result file changes which vouchers are paid: the accounts and days they touch
    (payment days, and days of statement lines already naming them) are reconciled
    again, so a statement that came first is matched now."""
    days: dict[str, set[dt.date]] = defaultdict(set)
    for number, paid_on in BankResult.objects.filter(file=bank_file).values_list(
            "voucher__batch__agent_account__number", "voucher__paid_on"):
        if paid_on:
            days[number].add(paid_on)
    named = BankResult.objects.filter(file=bank_file).values_list("voucher__number", flat=True)
    for account, day in StatementLine.objects.filter(end_to_end_id__in=named).values_list(
            "account", "booking_date").distinct():
        days[account].add(day)
    for account, dates in sorted(days.items()):
        m, e = statement_reconcile(account=account, dates=sorted(dates), user=user,
                                   as_of=as_of, cause=bank_file.filename)
        report.matched += m
        report.exceptions += e


def _by_account_bank(content: bytes, filename: str, fmt_: str, rows: Any) -> Any:
    """A table two profiles read alike is read by the profile of the agent bank whose
    account it names (payer account of a result, the statement's account), when that
    profile reads it at least as well."""
    accounts = {r.payer_account for r in rows.results if r.payer_account} | {
        r.account for r in rows.statement}
    cnaps = set(AgentAccount.objects.filter(number__in=list(accounts)[:50])
                .values_list("bank__cnaps", flat=True))
    own = BankProfile.objects.filter(cnaps__in=cnaps, active=True).exclude(code=rows.profile)
    if len(cnaps) != 1 or not own:
        return rows
    again = parse(content, filename, fmt_, dialects=[own[0].dialect()])
    if again.fatal or len(again.issues) > len(rows.issues):
        return rows
    return again


def _dialects(code: str | None) -> list[Any]:
    """The bank profiles a table is read with: the one named, or every active one (the
    standard profile last: a bank's own profile wins a header both fit)."""
    qs = BankProfile.objects.filter(code=code) if code else BankProfile.objects.filter(active=True)
    profiles = sorted(qs, key=lambda p: (p.code == "standard", p.code))
    if code and not profiles:
        raise errors.UnknownProfile(code=code)
    if not profiles and not BankProfile.objects.exists():  # a database never given them
        profiles = sorted((BankProfile(code=row["code"], **values(row)) for row in shipped()),
                          key=lambda p: (p.code == "standard", p.code))
    return [p.dialect() for p in profiles]


def _ensure_saved(bank_file: BankFile) -> None:
    if bank_file.pk is None:
        bank_file.save()
        if getattr(bank_file, "on_file", None):
            bank_file.on_file(bank_file.pk)


def _store_results(results: list[ResultRow], bank_file: BankFile, report: ImportReport,
                   user: Any, as_of: dt.datetime, progress: Any) -> None:
    """Result lines in chunks (settings.PAYMENTS_RESULT_CHUNK), each chunk applied by
    `bank_results_apply` in one transaction; a chunk the batch cannot take (a voucher
    twice, a posting refused) is applied line by line, each line on its own, so a bad
    line is reported and the others are stored either way."""
    seen = dict(BankResult.objects.filter(bank_ref__in=[r.bank_ref for r in results])
                .values_list("bank_ref", "file_id"))
    todo: list[ResultRow] = []
    in_file: set[str] = set()
    for row in results:
        if row.outcome == PENDING:  # the bank has not finished: a later file will say
            report.pending += 1
            continue
        if row.bank_ref in in_file:  # the bank's reference names one result only
            report.issues.append(ImportIssue(bank_file.filename, row.line, "bank_ref",
                                             f"{row.bank_ref} appears twice in the file"))
            continue
        in_file.add(row.bank_ref)
        if row.bank_ref in seen:
            if bank_file.pk and seen[row.bank_ref] == bank_file.pk:
                report.stored += 1  # stored by an earlier attempt of this import
            else:
                report.skipped += 1
        else:
            todo.append(row)
    done = len(results) - len(todo)  # progress counts skipped and repeated lines too
    chunk = settings.PAYMENTS_RESULT_CHUNK
    for i in range(0, len(todo), chunk):
        part = todo[i:i + chunk]
        try:
            with transaction.atomic():
                refused = bank_results_apply(rows=part, bank_file=bank_file, user=user,
                                             as_of=as_of)
        except (errors.PaymentError, ledger_errors.LedgerError, IntegrityError,
                NotBatchable) as exc:
            # each line on its own is many times slower: say why, so a file that keeps
            # falling back (and what in it does) can be found
            log.warning("%s: result lines %d–%d applied one by one (%s: %s)", bank_file.filename,
                        part[0].line, part[-1].line, type(exc).__name__, exc)
            _forget_if_rolled_back(bank_file)
            for row in part:
                _store_result(row, bank_file, report, user, as_of)
        else:
            known = [row for row, exc in refused if isinstance(exc, errors.ResultKnown)]
            report.stored += len(part) - len(refused)
            report.skipped += len(known)
            report.issues += [ImportIssue(bank_file.filename, row.line, "voucher_number",
                                          str(exc)) for row, exc in refused
                              if not isinstance(exc, errors.ResultKnown)]
        done += len(part)
        if progress:
            progress(done)


def _forget_if_rolled_back(bank_file: BankFile) -> None:
    if bank_file.pk and not BankFile.objects.filter(pk=bank_file.pk).exists():
        bank_file.pk = None  # its row was rolled back with the failed line or chunk


def _store_result(row: ResultRow, bank_file: BankFile, report: ImportReport, user: Any,
                  as_of: dt.datetime) -> None:
    try:
        with transaction.atomic():
            _ensure_saved(bank_file)
            bank_result_apply(row=row, bank_file=bank_file, user=user, as_of=as_of)
        report.stored += 1
    except errors.ResultKnown:
        report.skipped += 1
    except (errors.PaymentError, ledger_errors.LedgerError) as exc:
        _forget_if_rolled_back(bank_file)
        report.issues.append(ImportIssue(bank_file.filename, row.line, "voucher_number",
                                         str(exc)))


class NotBatchable(Exception):  # noqa: N818 - control flow: apply the lines one by one
    """A chunk of result lines that `bank_results_apply` does not take as one batch."""


def bank_results_apply(*, rows: list[ResultRow], bank_file: BankFile, user: Any,
                       as_of: dt.datetime) -> list[tuple[ResultRow, errors.PaymentError]]:
    """`bank_result_apply` for many lines of one file in one transaction, with the same
    checks and the same rows written: the vouchers and then their requests are locked
    in one statement each (id order); a line naming an unknown voucher, another amount
    or a voucher in the wrong state is refused (returned with its error, nothing of it
    written); the payments and releases (退票) of the other lines are posted together by
    `finance.ledger.entries_post` in line order; vouchers, requests, their history,
    workflow steps and the result rows are written in one statement each. Raises
    NotBatchable when a voucher appears twice (its second line depends on the first's
    posting); a refused posting raises the ledger's error and nothing is written."""
    numbers = [r.voucher_number for r in rows]
    if len(set(numbers)) != len(numbers):
        raise NotBatchable()
    with transaction.atomic():
        vouchers = {v.number: v for v in Voucher.objects.select_for_update(of=("self",))
                    .select_related("batch").filter(number__in=numbers).order_by("id")}
        reqs = {r.pk: r for r in _requests_locked().filter(
            pk__in=[v.request_id for v in vouchers.values()]).order_by("id")}
        last: dict[int, BankResult] = {}  # the result applied last, per voucher
        for res in BankResult.objects.filter(voucher__in=list(vouchers.values())).order_by(
                "traded_at", "id"):
            last[res.voucher_id] = res
        refused: list[tuple[ResultRow, errors.PaymentError]] = []
        # commitments the year-end close carried into a year: paid from the funds carried
        carried = carried_years(list(reqs.values()))
        applied: list[tuple[ResultRow, Voucher, PaymentRequest, str, int]] = []
        postings: list[EntryInput | tuple] = []  # a payment, or a reversal to build
        for row in rows:
            voucher = vouchers.get(row.voucher_number)
            if voucher is None:
                refused.append((row, errors.UnknownVoucher(number=row.voucher_number)))
                continue
            if row.amount is not None and voucher.amount != row.amount:
                refused.append((row, errors.ResultAmountDiffers(
                    amount=fmt(row.amount), number=voucher.number, expected=fmt(voucher.amount))))
                continue
            req = reqs[voucher.request_id]
            on = timezone.localdate(row.traded_at)
            if row.success and voucher.status == Voucher.Status.ISSUED:
                postings.append(EntryInput(
                    lines=payment_lines(req.amount, req.dims,
                                        carried=on.year in carried.get(req.pk, ())),
                    description=f"国库集中支付 {voucher.number}", on=on, source=voucher,
                    kind=EntryKind.PAYMENT, tracking_id=req.tracking_id,
                    idempotency_key=f"{req.tracking_id}:pay"))
                voucher.status, voucher.paid_on = Voucher.Status.PAID, on
                voucher.bank_ref = row.bank_ref
                applied.append((row, voucher, req, S.PAID, 1))
            elif not row.success and voucher.status in (Voucher.Status.ISSUED,
                                                        Voucher.Status.PAID):
                unpay = voucher.status == Voucher.Status.PAID and req.pay_entry is not None
                if unpay:
                    postings.append((req.pay_entry, f"退票 {row.reason}",
                                     f"{req.tracking_id}:unpay", on))
                released = 0
                if req.contract_id is None:
                    assert req.commit_entry is not None  # noqa: S101 - every vouchered request is committed
                    postings.append((req.commit_entry, f"退票 {row.reason}",
                                     f"{req.tracking_id}:release", on))
                    released = 1
                # under a contract: the amount goes back to the contract's commitment (only
                # the payment, if any, is reversed; payments.services.contracts)
                voucher.status, voucher.failure_reason = Voucher.Status.RETURNED, row.reason[:300]
                voucher.bank_ref = row.bank_ref
                req.return_reason = row.reason
                applied.append((row, voucher, req, S.RETURNED, released + unpay))
            elif _says_again(row, voucher, last.get(voucher.pk)):
                refused.append((row, errors.ResultKnown(number=voucher.number,
                                                        status=voucher.get_status_display())))
            else:
                refused.append((row, errors.WrongState(
                    tracking_id=req.tracking_id, status=voucher.status,
                    action="paid" if row.success else "returned")))
        if not applied:
            return refused
        _ensure_saved(bank_file)
        reversals = iter(reversal_inputs([p for p in postings if isinstance(p, tuple)]))
        inputs = [p if isinstance(p, EntryInput) else next(reversals) for p in postings]
        bulk_save_with_history([v for _r, v, *_x in applied], user=user,
                               reason="bank result",
                               reasons=[f"bank result {r.bank_ref}" for r, *_x in applied],
                               fields=["status", "paid_on", "bank_ref", "failure_reason"])
        workflow_record_many([(q, q.status, new, r.bank_ref if new == S.PAID else r.reason)
                              for r, _v, q, new, _n in applied],
                             action="bank_result", user=user, as_of=as_of)
        bulk_insert([
            BankResult(bank_ref=r.bank_ref, voucher=v, success=r.success, outcome=r.outcome,
                       status_word=r.status_word[:40],
                       amount=r.amount if r.amount is not None else v.amount,
                       traded_at=r.traded_at, reason=r.reason[:300], file=bank_file)
            for r, v, *_x in applied])
        # last: the postings hold the year's numbering row until the commit
        posted = entries_post(entries=inputs, user=user, as_of=as_of) if inputs else []
        at = 0
        for _r, _v, q, new, n in applied:
            if new == S.PAID:
                q.pay_entry = posted[at]
            at += n  # a 退票 posts the release, after the payment's reversal if it was paid
            q.status = new
        bulk_save_with_history([q for _r, _v, q, *_x in applied], user=user,
                               reason="bank result",
                               reasons=[f"bank result {r.bank_ref}" for r, *_x in applied],
                               fields=["status", "pay_entry", "return_reason"])
        if under := [q.contract_id for _r, _v, q, *_x in applied if q.contract_id]:
            contracts_settle(under, user=user, as_of=as_of)
        card_transactions_settle([q.pk for _r, _v, q, *_x in applied], user=user)  # 公务卡
        return refused


def _says_again(row: ResultRow, voucher: Voucher, last: BankResult | None) -> bool:
    """The row repeats what is applied: paid again for a paid voucher, refused again for
    a returned one, or a 成功 older than the 退票 that followed it."""
    if voucher.status == Voucher.Status.PAID:
        return row.success
    if voucher.status == Voucher.Status.RETURNED:
        if not row.success:
            return True
        return last is not None and not last.success and row.traded_at <= last.traded_at
    return False


def bank_result_apply(*, row: ResultRow, bank_file: BankFile, user: Any,
                      as_of: dt.datetime) -> BankResult:
    """回单: success posts the payment (control, budget and financial books); failure
    (退票) releases the commitment — or, after a success, reverses payment and commitment —
    and returns the request to its filer with the bank's reason. One line: the batch of
    one (`bank_results_apply`), whose refusal is raised."""
    refused = bank_results_apply(rows=[row], bank_file=bank_file, user=user, as_of=as_of)
    if refused:
        raise refused[0][1]
    return BankResult.objects.get(bank_ref=row.bank_ref)


def _store_statement(rows: list[StatementRow], bank_file: BankFile, report: ImportReport,
                     user: Any, as_of: dt.datetime, progress: Any) -> None:
    """Lines are stored once: (account, bank_ref) already present is skipped, the same
    reference twice in one file is an issue. Then the touched days are reconciled."""
    by_key: dict[tuple[str, str], StatementRow] = {}
    for row in rows:
        key = (row.account, row.bank_ref)
        if key in by_key:
            report.issues.append(ImportIssue(bank_file.filename, row.line, "bank_ref",
                                             f"{row.bank_ref} appears twice in the file"))
            continue
        by_key[key] = row
    existing: dict[tuple[str, str], int] = {}
    for account in {k[0] for k in by_key}:
        refs = [k[1] for k in by_key if k[0] == account]
        for i in range(0, len(refs), 20000):
            existing.update({(account, r): f for r, f in StatementLine.objects.filter(
                AnyOf(F("bank_ref"), refs[i:i + 20000]), account=account).values_list(
                "bank_ref", "file_id")})
    # lines an earlier, killed attempt of this same import committed: stored, not skipped
    resumed = [r for k, r in by_key.items()
               if bank_file.pk and existing.get(k) == bank_file.pk]
    new = _not_known([r for k, r in by_key.items() if k not in existing])
    report.skipped += len(by_key) - len(new) - len(resumed)
    report.stored += len(resumed)
    if not new and not resumed:
        return
    # each chunk is committed on its own, so a killed worker loses at most one chunk and
    # progress is visible while the import runs; the rerun stores only what is missing
    chunk = settings.PAYMENTS_STATEMENT_CHUNK
    for i in range(0, len(new), chunk):
        with transaction.atomic():
            _ensure_saved(bank_file)
            _insert_lines(new[i:i + chunk], bank_file, None)
        report.stored += len(new[i:i + chunk])
        if progress:
            progress(len(resumed) + min(i + chunk, len(new)))
    with transaction.atomic():
        days: dict[str, set[dt.date]] = defaultdict(set)
        for r in [*resumed, *new]:
            days[r.account].add(r.booking_date)
        for account, dates in days.items():
            m, e = statement_reconcile(account=account, dates=sorted(dates), user=user,
                                       as_of=as_of, cause=bank_file.filename)
            report.matched += m
            report.exceptions += e


def fingerprint(account: str, day: dt.date, credit: bool, amount: Any, e2e: str) -> tuple:
    """What makes two statement lines the same booking whatever file and bank reference
    they came with (a camt.053 and an MT940 of the same day, a re-sent file with new
    references): account, day, side, amount in fen and the end-to-end reference."""
    return (account, day, bool(credit), int(round(amount * 100)), e2e or "")


def _not_known(rows: list[StatementRow]) -> list[StatementRow]:
    """The rows (not known by their bank reference) that are not already stored under
    another reference: the k-th line with a fingerprint in this file is known when at
    least k lines with that fingerprint are stored — so two equal payments in one file
    stay two, and a file repeating one of them adds nothing."""
    if not rows:
        return rows
    stored: dict[tuple, int] = defaultdict(int)
    by_account: dict[str, set[dt.date]] = defaultdict(set)
    for r in rows:
        by_account[r.account].add(r.booking_date)
    for account, days in by_account.items():
        for day, credit, amount, e2e in StatementLine.objects.filter(
                account=account, booking_date__in=sorted(days)).values_list(
                "booking_date", "credit", "amount", "end_to_end_id").iterator(chunk_size=5000):
            stored[fingerprint(account, day, credit, amount, e2e)] += 1
    if not stored:  # nothing stored on those days: every row is new
        return rows
    seen: dict[tuple, int] = defaultdict(int)
    new = []
    for r in rows:
        fp = fingerprint(r.account, r.booking_date, r.credit, r.amount, r.end_to_end_id)
        seen[fp] += 1
        if seen[fp] > stored.get(fp, 0):
            new.append(r)
    return new



_LINE_COLUMNS = ("account", "bank_ref", "booking_date", "amount", "credit", "end_to_end_id",
                 "payee_account", "payee_name", "info", "file_id", "line_no", "matched_by",
                 "tracking_id", "currency", "batch_ref")


def _insert_lines(rows: list[StatementRow], bank_file: BankFile, progress: Any) -> None:
    """Store new statement lines: COPY on PostgreSQL (a 100,000-line statement is one
    stream), bulk_create elsewhere. The unique (account, bank_ref) constraint still
    guards against a concurrent import of the same lines."""
    values = [(r.account, r.bank_ref, r.booking_date, r.amount, r.credit, r.end_to_end_id,
               r.payee_account[:40], r.payee_name[:200], r.info[:300], bank_file.pk, r.line, "",
               "", (r.currency or "CNY")[:3], r.batch_ref[:60])
              for r in rows]
    step = 5000
    if connection.vendor == "postgresql":
        table = StatementLine._meta.db_table
        sql = f"COPY {table} ({', '.join(_LINE_COLUMNS)}) FROM STDIN"
        with connection.cursor() as cur, cur.cursor.copy(sql) as cp:
            for n, row in enumerate(values, start=1):
                cp.write_row(row)
                if progress and n % step == 0:
                    progress(n)
        if progress:
            progress(len(values))
        return
    for i in range(0, len(values), step):
        StatementLine.objects.bulk_create(
            [StatementLine(**dict(zip(_LINE_COLUMNS, v, strict=True))) for v in values[i:i + step]])
        if progress:
            progress(min(i + step, len(values)))
