"""对账: statement lines matched to paid vouchers and clearing notices, the exceptions
queue and its resolution by hand."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from finance.services import (
    bulk_update,
    copy_insert,
    history_written_in_bulk,
    save_with_history,
)
from payments import errors
from payments.models import (
    AgentAccount,
    ClearingNotice,
    ReconException,
    StatementLine,
    Voucher,
)
from payments.services._common import (
    CENT,
    AnyOf,
)


def statement_reconcile(*, account: str, dates: list[dt.date], user: Any,
                        as_of: dt.datetime | None = None, cause: str = "") -> tuple[int, int]:
    """对账 of an account's days, as a function of what is stored (not of the order files
    arrived in): every statement line of those days is matched afresh — debit lines to
    paid vouchers by EndToEndId (= voucher number), then by amount + date + payee account;
    a credit naming a returned voucher is its 退票; the clearing credit against the day's
    paid vouchers and the clearing-limit notice — and the exceptions that result are
    compared with those stored: new ones are opened, open ones nothing explains any more
    are resolved automatically (history, reason naming `cause`: the file or command that
    explained them), automatically resolved ones that are due again are reopened. Ones
    treasury resolved by hand stay resolved. A line on an account the system does not
    know, or in a currency other than CNY, is an exception and is not matched.
    Returns (lines matched, exceptions opened). Running it again changes nothing."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        # the lines as plain rows (a 20,000-line statement: no model instance per line)
        lines = list(StatementLine.objects.select_for_update()
                     .filter(account=account, booking_date__in=list(set(dates))).order_by("id")
                     .values_list(*_LINE_FIELDS, named=True))
        if not lines:
            return 0, 0
        days = sorted({ln.booking_date for ln in lines})
        agent = AgentAccount.objects.filter(number=account).first()
        want: dict[str, Due] = {}
        match: dict[int, tuple[Voucher | None, ClearingNotice | None, str]] = {}
        for ln in lines:
            match[ln.id] = (None, None, "")
        found: list[Voucher] = []
        if agent is None:
            for ln in lines:
                want[f"account:{ln.id}"] = _exc("unknown_account", f"account:{ln.id}", account,
                                                ln.booking_date, as_of, line=ln, actual=ln.amount)
        else:
            found = _match(agent, lines, days, match, want, as_of)
        changed = []
        for ln in lines:
            voucher, notice, how = match[ln.id]
            if (ln.voucher_id, ln.notice_id, ln.matched_by) != (
                    getattr(voucher, "pk", None), getattr(notice, "pk", None), how):
                changed.append(StatementLine(
                    id=ln.id, voucher=voucher, notice=notice, matched_by=how,
                    tracking_id=voucher.request.tracking_id if voucher else ""))
        bulk_update(StatementLine, changed, ["voucher", "tracking_id", "matched_by", "notice"])
        opened = _settle(account, days, want, [f"voucher:{v.pk}" for v in found], user, as_of,
                         cause)
    return sum(1 for m in match.values() if m[2]), opened


# what reconciliation reads of a statement line
_LINE_FIELDS = ("id", "booking_date", "amount", "credit", "end_to_end_id", "payee_account",
                "currency", "voucher_id", "notice_id", "matched_by")


@dataclass(slots=True)
class Due:
    """An exception reconciliation finds due (stored as a ReconException if new)."""

    kind: str
    key: str
    account: str
    date: dt.date
    statement_line_id: int | None
    voucher_id: int | None
    expected: Decimal | None
    actual: Decimal | None
    created_at: dt.datetime


def _match(agent: AgentAccount, lines: list[Any], days: list[dt.date],
           match: dict[int, tuple], want: dict[str, Due],
           as_of: dt.datetime) -> list[Voucher]:
    """Fills `match` (line → voucher, notice, how) and `want` (the exceptions due);
    returns the vouchers found a debit line."""
    account = agent.number
    was_paid = Q(paid_on__isnull=False, status__in=[Voucher.Status.PAID, Voucher.Status.RETURNED])
    vouchers = {v.number: v for v in Voucher.objects.filter(
        was_paid, batch__agent_account=agent, paid_on__in=days).select_related("request__payee")}
    named = sorted({ln.end_to_end_id for ln in lines if ln.end_to_end_id} - set(vouchers))
    for i in range(0, len(named), 20000):
        vouchers.update({v.number: v for v in Voucher.objects.filter(
            was_paid, AnyOf(F("number"), named[i:i + 20000]), batch__agent_account=agent,
        ).select_related("request__payee")})
    # vouchers whose payment line was booked on a day not reconciled now
    ids = [v.pk for v in vouchers.values()]
    here = {ln.id for ln in lines}
    elsewhere: set[int] = set()
    for i in range(0, len(ids), 20000):
        elsewhere |= {vid for pk, vid in StatementLine.objects.filter(
            AnyOf(F("voucher_id"), ids[i:i + 20000]), credit=False).values_list(
            "pk", "voucher_id") if pk not in here}
    free = {n: v for n, v in vouchers.items() if v.pk not in elsewhere}
    returned = {n: v for n, v in vouchers.items() if v.status == Voucher.Status.RETURNED}
    found: list[Voucher] = []
    cny = []
    for ln in lines:
        if ln.currency != "CNY":
            want[f"currency:{ln.id}"] = _exc("foreign_currency", f"currency:{ln.id}", account,
                                             ln.booking_date, as_of, line=ln, actual=ln.amount)
        else:
            cny.append(ln)
    debits = [ln for ln in cny if not ln.credit]
    # 1) by voucher number: the payment (debit), and the 退票 credit of a returned one
    for ln in cny:
        v = (free.get(ln.end_to_end_id) if not ln.credit else returned.get(ln.end_to_end_id)
             ) if ln.end_to_end_id else None
        if v is None:
            continue
        if ln.credit:
            returned.pop(v.number)
            match[ln.id] = (v, None, StatementLine.Match.RETURN)
        else:
            free.pop(v.number)
            found.append(v)
            match[ln.id] = (v, None, StatementLine.Match.VOUCHER)
        if v.amount != ln.amount:
            want[f"amount:{ln.id}"] = _exc("amount_difference", f"amount:{ln.id}", account,
                                           ln.booking_date, as_of, line=ln, voucher=v,
                                           expected=v.amount, actual=ln.amount)
    # 2) by amount + date + payee account
    index: dict[tuple, list[Voucher]] = defaultdict(list)
    for v in sorted(free.values(), key=lambda v: v.number):
        index[(v.amount, v.paid_on, v.request.payee.account_number)].append(v)
    for ln in debits:
        if match[ln.id][2]:
            continue
        cands = index.get((ln.amount, ln.booking_date, ln.payee_account))
        if cands:
            v = cands.pop(0)
            free.pop(v.number)
            found.append(v)
            match[ln.id] = (v, None, StatementLine.Match.AMOUNT)
    # 3) the clearing credit: the day's paid vouchers and the notice (three-way)
    notices = {n.date: n for n in ClearingNotice.objects.filter(agent_account=agent,
                                                                date__in=days)}
    paid_by_day = dict(Voucher.objects.filter(was_paid, batch__agent_account=agent,
                                              paid_on__in=days)
                       .order_by().values_list("paid_on").annotate(s=Sum("amount")))
    for ln in cny:
        if not ln.credit or match[ln.id][2] or ln.booking_date not in notices:
            continue
        notice = notices[ln.booking_date]
        match[ln.id] = (None, notice, StatementLine.Match.CLEARING)
        paid_total = Decimal(paid_by_day.get(ln.booking_date) or 0).quantize(CENT)
        if paid_total != ln.amount or ln.amount > notice.total:
            want[f"clearing:{ln.id}"] = _exc("clearing_difference", f"clearing:{ln.id}", account,
                                             ln.booking_date, as_of, line=ln,
                                             expected=paid_total, actual=ln.amount)
    for ln in cny:
        if not match[ln.id][2]:
            want[f"line:{ln.id}"] = _exc("line_without_voucher", f"line:{ln.id}", account,
                                         ln.booking_date, as_of, line=ln, actual=ln.amount)
    for v in free.values():
        if v.paid_on in days:  # a day with a statement: its payment should be on it
            want[f"voucher:{v.pk}"] = _exc("voucher_without_line", f"voucher:{v.pk}", account,
                                           v.paid_on, as_of, voucher=v, expected=v.amount)
    return found


def _settle(account: str, days: list[dt.date], want: dict[str, Due],
            found_keys: list[str], user: Any, as_of: dt.datetime, cause: str) -> int:
    """Stored exceptions made to agree with `want`; returns how many were opened."""
    stored: dict[str, ReconException] = {}
    keys = list(want)
    for i in range(0, len(keys), 20000):
        stored.update({e.key: e for e in ReconException.objects.select_for_update().filter(
            AnyOf(F("key"), keys[i:i + 20000]))})
    open_ = ReconException.objects.select_for_update().filter(status=ReconException.Status.OPEN)
    stale = {e.key: e for e in open_.filter(account=account, date__in=days)
             if e.key not in want}
    for i in range(0, len(found_keys), 20000):  # a voucher found on a later day's statement
        stale.update({e.key: e for e in open_.filter(AnyOf(F("key"), found_keys[i:i + 20000]))
                      if e.key not in want})
    why = cause or "重新对账"
    for exc in stale.values():
        exc.status, exc.auto, exc.resolved_at = ReconException.Status.RESOLVED, True, as_of
        exc.resolved_by = None
        exc.resolution = f"自动对平（{why}）"
        save_with_history(exc, user=user, reason=f"reconciled automatically: {why}")
    for key, exc in stored.items():
        new = want[key]
        if exc.status == ReconException.Status.RESOLVED and exc.auto:
            exc.status, exc.auto, exc.resolution = ReconException.Status.OPEN, False, ""
            exc.resolved_at = exc.resolved_by = None
            exc.expected, exc.actual = new.expected, new.actual
            save_with_history(exc, user=user, reason=f"opened again by reconciliation: {why}")
        elif exc.status == ReconException.Status.OPEN and (exc.expected, exc.actual) != (
                new.expected, new.actual):
            exc.expected, exc.actual = new.expected, new.actual
            save_with_history(exc, user=user, reason=f"amounts updated by reconciliation: {why}")
    fresh = [e for k, e in want.items() if k not in stored]
    _insert_exceptions(fresh, user)
    return len(fresh)


def reconcile(*, day: dt.date, account: str | None = None, user: Any,
              as_of: dt.datetime | None = None, cause: str = "") -> dict[str, int]:
    """`manage.py reconcile --date D [--account A]` and the treasury's button: every
    account with statement lines that day (or the one named) reconciled again.
    Returns accounts, lines matched, exceptions opened and exceptions still open."""
    accounts = [account] if account else sorted(set(StatementLine.objects.filter(
        booking_date=day).values_list("account", flat=True)))
    matched = opened = 0
    for acct in accounts:
        m, o = statement_reconcile(account=acct, dates=[day], user=user, as_of=as_of,
                                   cause=cause or f"对账 {day}")
        matched, opened = matched + m, opened + o
    still = ReconException.objects.filter(date=day, status=ReconException.Status.OPEN)
    if account:
        still = still.filter(account=account)
    return {"accounts": len(accounts), "matched": matched, "opened": opened,
            "open": still.count()}


def _insert_exceptions(rows: list[Due], user: Any) -> None:
    """New exceptions (open, as the model's defaults make them) and their history rows
    ("+", reason "reconciliation"). On PostgreSQL ids are reserved from the sequence, the
    exceptions are COPYed and their history rows INSERTed from them by one statement;
    elsewhere bulk_create_with_history writes them."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        bulk_create_with_history([ReconException(**_due_values(due)) for due in rows],
                                 ReconException, batch_size=2000, default_user=user,
                                 default_change_reason="reconciliation")
        history_written_in_bulk(ReconException)
        return
    history_written_in_bulk(ReconException)  # the INSERT … SELECT below: sealed on commit
    fields = [f for f in ReconException._meta.concrete_fields if not f.primary_key]
    table = ReconException._meta.db_table
    htable = ReconException.history.model._meta.db_table
    blank = ReconException()  # the defaults of what a due exception does not say
    own = set(Due.__slots__)  # type: ignore[attr-defined]
    at = [(f.attname in own, f.attname, getattr(blank, f.attname)) for f in fields]
    ids = copy_insert(ReconException, [f.column for f in fields], (
        [getattr(due, name) if mine else default for mine, name, default in at]
        for due in rows), len(rows))
    # the history rows from the rows just stored, in the database (no second stream),
    # dated when written as simple-history dates them (not by the day worked on, `as_of`:
    # sealing walks history in id order up to a time, so a row dated ahead of its writing
    # would stop it there and leave every later row unsealed)
    cols = ", ".join([ReconException._meta.pk.column, *[f.column for f in fields]])
    hcols = cols + ", history_date, history_change_reason, history_type, history_user_id"
    with connection.cursor() as cur:
        cur.execute(f"INSERT INTO {htable} ({hcols}) SELECT {cols}, %s, %s, %s, %s "  # noqa: S608 - names from the model
                    f"FROM {table} WHERE id = ANY(%s) ORDER BY id",
                    [timezone.now(), "reconciliation", "+", getattr(user, "pk", None), ids])


def _due_values(due: Due) -> dict[str, Any]:
    return {name: getattr(due, name) for name in Due.__slots__}  # type: ignore[attr-defined]


def _exc(kind: str, key: str, account: str, day: dt.date, as_of: dt.datetime, *,
         line: Any = None, voucher: Voucher | None = None,
         expected: Decimal | None = None, actual: Decimal | None = None) -> Due:
    return Due(kind, key, account, day, line.id if line is not None else None,
               voucher.pk if voucher is not None else None, expected, actual, as_of)


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
