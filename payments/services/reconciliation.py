"""对账: statement lines matched to paid vouchers and clearing notices, the exceptions
queue and its resolution by hand."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from finance.services import (
    save_with_history,
)
from payments import errors
from payments.models import (
    ClearingNotice,
    ReconException,
    StatementLine,
    Voucher,
)
from payments.services._common import (
    CENT,
)


def statement_reconcile(*, account: str, dates: list[dt.date], user: Any,
                        as_of: dt.datetime | None = None) -> tuple[int, int]:
    """对账 for an account's days: debit lines to paid vouchers by EndToEndId (= voucher
    number), then by amount + date + payee account; the clearing credit against the
    day's paid vouchers and the clearing-limit notice; the rest becomes exceptions.
    Returns (lines matched, exceptions opened). Safe to run again."""
    as_of = as_of or timezone.now()
    matched = 0
    new_exc: list[ReconException] = []
    with transaction.atomic():
        lines = list(StatementLine.objects.select_for_update()
                     .filter(account=account, booking_date__in=dates, matched_by=""))
        vouchers = {v.number: v for v in Voucher.objects.filter(
            batch__agent_account__number=account, paid_on__in=dates,
            status=Voucher.Status.PAID).select_related("request__payee")}
        taken = set(StatementLine.objects.filter(voucher__number__in=list(vouchers))
                    .values_list("voucher__number", flat=True))
        free = {n: v for n, v in vouchers.items() if n not in taken}
        updates: list[StatementLine] = []
        debits = [ln for ln in lines if not ln.credit]
        # vouchers paid on another day than booked, still without a line
        other_days = sorted({ln.end_to_end_id for ln in debits if ln.end_to_end_id} - set(free))
        for i in range(0, len(other_days), 5000):
            free.update({v.number: v for v in Voucher.objects.filter(
                number__in=other_days[i:i + 5000], status=Voucher.Status.PAID,
                batch__agent_account__number=account, statement_lines__isnull=True,
            ).select_related("request__payee")})
        # 1) by voucher number
        for ln in debits:
            v = free.get(ln.end_to_end_id) if ln.end_to_end_id else None
            if v is None:
                continue
            free.pop(v.number, None)
            ln.voucher, ln.tracking_id, ln.matched_by = v, v.request.tracking_id, "voucher"
            if v.amount != ln.amount:
                new_exc.append(_exc("amount_difference", f"amount:{ln.pk}", account,
                                    ln.booking_date, as_of, line=ln, voucher=v,
                                    expected=v.amount, actual=ln.amount))
            updates.append(ln)
        # 2) by amount + date + payee account
        index: dict[tuple, list[Voucher]] = defaultdict(list)
        for v in free.values():
            index[(v.amount, v.paid_on, v.request.payee.account_number)].append(v)
        for ln in debits:
            if ln.matched_by:
                continue
            cands = index.get((ln.amount, ln.booking_date, ln.payee_account))
            if cands:
                v = cands.pop(0)
                free.pop(v.number, None)
                ln.voucher, ln.tracking_id, ln.matched_by = v, v.request.tracking_id, "amount"
                updates.append(ln)
        # 3) the clearing credit: the day's paid vouchers and the notice (three-way)
        for ln in (x for x in lines if x.credit):
            paid = Voucher.objects.filter(batch__agent_account__number=account,
                                          paid_on=ln.booking_date,
                                          status=Voucher.Status.PAID).aggregate(s=Sum("amount"))
            paid_total = Decimal(paid["s"] or 0).quantize(CENT)
            notice = ClearingNotice.objects.filter(agent_account__number=account,
                                                   date=ln.booking_date).first()
            if notice is None:
                continue  # not a clearing credit: falls through to exceptions below
            ln.notice, ln.matched_by = notice, "clearing"
            updates.append(ln)
            if paid_total != ln.amount or ln.amount > notice.total:
                new_exc.append(_exc("clearing_difference", f"clearing:{ln.pk}", account,
                                    ln.booking_date, as_of, line=ln, expected=paid_total,
                                    actual=ln.amount))
        StatementLine.objects.bulk_update(updates, ["voucher", "tracking_id", "matched_by",
                                                    "notice"], batch_size=2000)
        matched = len(updates)
        for ln in lines:
            if not ln.matched_by:
                new_exc.append(_exc("line_without_voucher", f"line:{ln.pk}", account,
                                    ln.booking_date, as_of, line=ln, actual=ln.amount))
        for v in free.values():
            new_exc.append(_exc("voucher_without_line", f"voucher:{v.pk}", account, v.paid_on,
                                as_of, voucher=v, expected=v.amount))
        keys = {e.key for e in new_exc}
        known = set()
        key_list = list(keys)
        for i in range(0, len(key_list), 5000):
            known |= set(ReconException.objects.filter(key__in=key_list[i:i + 5000])
                         .values_list("key", flat=True))
        # a voucher found later resolves its own "without line" exception by matching
        fresh = [e for e in new_exc if e.key not in known]
        _insert_exceptions(fresh, user, as_of)
        _close_found(updates, user, as_of)
    return matched, len(fresh)


def _insert_exceptions(rows: list[ReconException], user: Any, as_of: dt.datetime) -> None:
    """New exceptions and their history rows ("+", reason "reconciliation"). On
    PostgreSQL ids are reserved from the sequence and both tables are COPYed."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        bulk_create_with_history(rows, ReconException, batch_size=2000, default_user=user,
                                 default_change_reason="reconciliation")
        return
    fields = [f for f in ReconException._meta.concrete_fields]
    hist = ReconException.history.model
    user_id = getattr(user, "pk", None)
    table, htable = ReconException._meta.db_table, hist._meta.db_table
    with connection.cursor() as cur:
        cur.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [table, len(rows)])
        for row, (pk,) in zip(rows, cur.fetchall(), strict=True):
            row.pk = pk
        cols = ", ".join(f.column for f in fields)
        with cur.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row([getattr(row, f.attname) for f in fields])
        hcols = cols + ", history_date, history_change_reason, history_type, history_user_id"
        with cur.cursor.copy(f"COPY {htable} ({hcols}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row([getattr(row, f.attname) for f in fields]
                             + [as_of, "reconciliation", "+", user_id])
    for row in rows:
        row._state.adding = False


def _close_found(lines: list[StatementLine], user: Any, as_of: dt.datetime) -> None:
    keys = [f"voucher:{ln.voucher_id}" for ln in lines if ln.voucher_id]
    for exc in ReconException.objects.filter(key__in=keys, status=ReconException.Status.OPEN):
        exc.status, exc.resolution = ReconException.Status.RESOLVED, "statement line arrived"
        exc.resolved_at = as_of
        save_with_history(exc, user=user, reason="matched automatically")


def _exc(kind: str, key: str, account: str, day: dt.date, as_of: dt.datetime, *,
         line: StatementLine | None = None, voucher: Voucher | None = None,
         expected: Decimal | None = None, actual: Decimal | None = None) -> ReconException:
    return ReconException(kind=kind, key=key, account=account, date=day, statement_line=line,
                          voucher=voucher, expected=expected, actual=actual, created_at=as_of)


def recon_exception_resolve(*, exception: ReconException, reason: str, user: Any,
                            as_of: dt.datetime | None = None) -> ReconException:
    """Treasury resolves an exception by hand; the reason is kept in history."""
    if not reason.strip():
        raise errors.ReasonRequired()
    with transaction.atomic():
        exc = ReconException.objects.select_for_update().get(pk=exception.pk)
        if exc.status == ReconException.Status.RESOLVED:
            raise errors.AlreadyResolved(pk=exc.pk)
        exc.status, exc.resolution = ReconException.Status.RESOLVED, reason
        exc.resolved_by, exc.resolved_at = user, as_of or timezone.now()
        save_with_history(exc, user=user, reason=reason)
        return exc
