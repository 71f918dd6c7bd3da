"""The one posting service: the only code that writes entries, lines and balances."""
from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import date as date_type
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, OperationalError, connection, models, transaction
from django.utils import timezone

from finance import errors
from finance.chain import entry_mac
from finance.chart import EntryKind
from finance.dimensions import Dims
from finance.models import Entry, Line, fen_to_decimal

log = logging.getLogger(__name__)
ZERO = Decimal("0")
GENESIS = "0" * 64


@dataclass(frozen=True)
class LineSpec:
    """One line to post. Exactly one of debit/credit is a positive Decimal."""

    book: str
    account: str
    debit: Any = ZERO
    credit: Any = ZERO
    dims: Dims = field(default_factory=Dims)


def dr(book: str, account: str, amount: Any, dims: Dims | None = None) -> LineSpec:
    return LineSpec(book=book, account=account, debit=amount, dims=dims or Dims())


def cr(book: str, account: str, amount: Any, dims: Dims | None = None) -> LineSpec:
    return LineSpec(book=book, account=account, credit=amount, dims=dims or Dims())


# ------------------------------------------------------------- after-posting hooks
_after_posting: list[Callable[[Entry], None]] = []
_after_posting_many: dict[Callable[[Entry], None], Callable[[list[Entry]], None]] = {}


def register_after_posting(hook: Callable[[Entry], None], *,
                           many: Callable[[list[Entry]], None] | None = None) -> None:
    """Apps (e.g. audit monitoring) register here from AppConfig.ready(); hooks run
    after the posting transaction commits, so they never block or undo a posting.
    `many` (optional) takes the entries of one `entries_post` call at once; without it
    the hook is called for each of them."""
    if hook not in _after_posting:
        _after_posting.append(hook)
    if many is not None:
        _after_posting_many[hook] = many


def _run_hooks(entry: Entry) -> None:
    _run_hooks_many([entry])


def _run_hooks_many(entries: list[Entry]) -> None:
    for hook in list(_after_posting):
        many = _after_posting_many.get(hook)
        calls = [(many, entries)] if many is not None and len(entries) > 1 else [
            (hook, e) for e in entries]
        for fn, arg in calls:
            try:
                fn(arg)  # type: ignore[arg-type]
            except Exception:  # a monitoring failure must not surface as a posting failure
                log.exception("after-posting hook %r failed for %s", fn,
                              [e.pk for e in arg] if isinstance(arg, list) else arg.pk)


# ------------------------------------------------------------------- validation
def to_fen(amount: Any) -> int:
    """Exact conversion; refuses floats, non-positive amounts and more than 2 places."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise errors.InvalidAmount(amount=amount)
    value = Decimal(amount)
    if not value.is_finite() or value <= 0 or value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise errors.InvalidAmount(amount=amount)
    return int(value * 100)


@dataclass(frozen=True)
class _Ref:
    """A resolved account or code: what posting needs, read in one round trip."""

    id: int
    code: str
    active: bool
    has_child: bool
    book: str = ""
    normal_side: str = ""
    must_not_go_negative: bool = False


# dims field: (table, label in messages, must be leaf)
_DIM_TABLES: dict[str, tuple[str, str, bool]] = {
    "region": ("finance_region", "region", False),
    "unit": ("finance_organization", "unit", False),
    "function": ("finance_functioncode", "function", True),
    "economic": ("finance_economiccode", "economic", True),
    "fund_source": ("finance_fundsource", "fund source", True),
}


def _resolve_all(accounts: set[str], dim_codes: dict[str, set[str]]) -> dict[str, dict[str, _Ref]]:
    """Look up every account and code of an entry in a single query (UNION ALL) and
    check each exists, is active and (where required) is a leaf."""
    parts, params = [], []
    wanted = {"account": accounts, **dim_codes}
    for kind, codes in wanted.items():
        if not codes:
            continue
        table = "finance_account" if kind == "account" else _DIM_TABLES[kind][0]
        if kind == "account":
            extra, part_params = "t.book, t.normal_side, t.must_not_go_negative", [kind]
        else:
            extra, part_params = "'', '', %s", [kind, False]
        marks = ", ".join(["%s"] * len(codes))
        parts.append(
            f"SELECT %s, t.id, t.code, t.active, EXISTS (SELECT 1 FROM {table} c "
            f"WHERE c.parent_id = t.id AND c.active), {extra} FROM {table} t "
            f"WHERE t.code IN ({marks})"
        )
        params += part_params + sorted(codes)
    found: dict[str, dict[str, _Ref]] = {kind: {} for kind in wanted}
    if parts:
        with connection.cursor() as cur:
            cur.execute(" UNION ALL ".join(parts), params)
            for kind, pk, code, active, has_child, book, side, mnn in cur.fetchall():
                found[kind][code] = _Ref(pk, code, bool(active), bool(has_child), book, side,
                                         bool(mnn))
    for kind, codes in wanted.items():
        label, leaf = ("account", True) if kind == "account" else _DIM_TABLES[kind][1:]
        for code in sorted(codes):
            ref = found[kind].get(code)
            if ref is None:
                raise errors.UnknownCode(kind=label, code=code)
            if not ref.active:
                raise errors.RetiredCode(kind=label, code=code)
            if leaf and ref.has_child:
                raise errors.CodeNotLeaf(kind=label, code=code)
    return found


@dataclass
class _Prepared:
    year: int
    month: int
    rows: list[tuple[int, str, _Ref, Dims, int, int]]  # seq, book, account, dims, dr, cr
    refs: dict[str, dict[str, _Ref]]
    content: str
    content_hash: str

    def dim_ids(self, dims: Dims) -> tuple[int | None, ...]:
        return tuple(
            self.refs[name][getattr(dims, name)].id if getattr(dims, name) else None
            for name in _DIM_TABLES
        )


def _prepare(lines: Sequence[LineSpec], on: date_type, description: str, kind: str,
             source_ref: str, tracking_id: str, reverses: Entry | None,
             resolved: dict[str, dict[str, _Ref]] | None = None) -> _Prepared:
    """Check and price the lines of one entry. `resolved`: codes already looked up for
    a batch (a superset of this entry's codes); else they are looked up here."""
    if len(lines) < 2:
        raise errors.TooFewLines()
    if kind and kind not in EntryKind.values:
        raise errors.UnknownEntryKind(kind=kind, kinds=", ".join(EntryKind.values))
    year, month = on.year, on.month
    amounts: list[tuple[int, int]] = []
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for seq, spec in enumerate(lines, start=1):
        has_dr = not (isinstance(spec.debit, Decimal | int) and not isinstance(spec.debit, bool)
                      and spec.debit == 0)
        has_cr = not (isinstance(spec.credit, Decimal | int) and not isinstance(spec.credit, bool)
                      and spec.credit == 0)
        if has_dr == has_cr:
            raise errors.BadLine(seq=seq)
        d = to_fen(spec.debit) if has_dr else 0
        c = to_fen(spec.credit) if has_cr else 0
        amounts.append((d, c))
        totals[spec.book][0] += d
        totals[spec.book][1] += c
    for book, (d, c) in sorted(totals.items()):
        if d != c:
            raise errors.EntryUnbalanced(book=book, debit=fen_to_decimal(d), credit=fen_to_decimal(c))

    if resolved is None:
        resolved = _resolve_all(*_codes_of(lines))
    refs = {k: v for k, v in resolved.items() if k != "account"}
    accounts = resolved["account"]
    for spec in lines:
        acc = accounts[spec.account]
        if acc.book != spec.book:
            raise errors.WrongBook(code=acc.code, actual=acc.book, book=spec.book)
    rows = [
        (seq, spec.book, accounts[spec.account], spec.dims, d, c)
        for seq, (spec, (d, c)) in enumerate(zip(lines, amounts, strict=True), start=1)
    ]
    content = canonical_content(
        year=year, date=on.isoformat(), description=description, kind=kind, source=source_ref,
        tracking_id=tracking_id,
        reverses=f"{reverses.fiscal_year}-{reverses.number}" if reverses else "",
        lines=[(seq, book, acc.code, dims.key(year), d, c) for seq, book, acc, dims, d, c in rows],
    )
    return _Prepared(year, month, rows, refs, content, sha256(content))


def _codes_of(lines: Sequence[LineSpec]) -> tuple[set[str], dict[str, set[str]]]:
    return ({s.account for s in lines},
            {name: {getattr(s.dims, name) for s in lines} - {""} for name in _DIM_TABLES})


def canonical_content(*, year: int, date: str, description: str, kind: str, source: str,
                      tracking_id: str, reverses: str, lines: list[tuple]) -> str:
    """The business content of an entry, serialised the same way at posting and at
    verification; its hash decides idempotency and feeds the chain."""
    return json.dumps(
        {"year": year, "date": date, "description": description, "kind": kind,
         "source": source, "tracking_id": tracking_id, "reverses": reverses,
         "lines": [list(x) for x in lines]},
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    )


def chain_hash(*, prev_hash: str, number: int, content_hash: str, posted_by: int | None,
               posted_at: datetime) -> str:
    stamp = posted_at.astimezone(UTC).isoformat()
    return sha256(f"{prev_hash}|{number}|{content_hash}|{posted_by or ''}|{stamp}")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def source_ref(source: models.Model | None) -> tuple[ContentType | None, str, str]:
    if source is None:
        return None, "", ""
    ct = ContentType.objects.get_for_model(source)
    return ct, str(source.pk), f"{ct.app_label}.{ct.model}:{source.pk}"


# ------------------------------------------------------------------- balances
_UPSERT = """
INSERT INTO finance_balance (account_id, dim_key, year, region_id, unit_id, function_id,
                             economic_id, fund_source_id, project_code, debit_fen, credit_fen)
VALUES {values}
ON CONFLICT (account_id, dim_key) DO UPDATE
SET debit_fen = finance_balance.debit_fen + excluded.debit_fen,
    credit_fen = finance_balance.credit_fen + excluded.credit_fen
"""
_UPSERT_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
_GUARDED = """
UPDATE finance_balance SET debit_fen = debit_fen + %s, credit_fen = credit_fen + %s
WHERE account_id = %s AND dim_key = %s AND {normal} >= %s
"""
_NORMAL = {"debit": "(debit_fen - credit_fen)", "credit": "(credit_fen - debit_fen)"}


def _apply_balances(cur: Any, preps: Sequence[_Prepared]) -> None:
    """Add the entries' net movement to each (account, tuple) balance.

    Rows are touched in one global order — accounts without the must-not-go-negative
    flag first (in one multi-row upsert), then flagged ones — so two postings never
    wait on each other in a cycle. A flagged account that is reduced is checked in
    the same UPDATE that moves it: the row lock makes a concurrent second writer
    re-evaluate the condition on the committed balance, so nothing is overspent.

    Several entries (a batch), in their order: a flagged balance must cover, after each
    entry that reduces it, the reductions so far net of the increases so far — exactly
    the check each entry would pass or fail if posted alone in that order."""
    net: dict[tuple[bool, int, str], list] = {}
    for prep in preps:
        per_entry: dict[tuple[bool, int, str], list[int]] = {}
        for _seq, _book, acc, dims, d, c in prep.rows:
            key = (acc.must_not_go_negative, acc.id, dims.key(prep.year))
            if key not in net:
                net[key] = [acc, dims, prep, 0, 0, 0, 0]  # ..., debit, credit, so far, needed
            net[key][3] += d
            net[key][4] += c
            per_entry.setdefault(key, [0, 0])
            per_entry[key][0] += d
            per_entry[key][1] += c
        for key, (d, c) in per_entry.items():
            acc = net[key][0]
            reduction = (c - d) if acc.normal_side == "debit" else (d - c)
            net[key][5] += reduction
            if reduction > 0:
                net[key][6] = max(net[key][6], net[key][5])
    batch: list[Any] = []
    rows = 0
    for key in sorted(net):
        acc, dims, prep, d, c, _so_far, reduction = net[key]
        if not (acc.must_not_go_negative and reduction > 0):
            batch += [acc.id, key[2], prep.year, *prep.dim_ids(dims), dims.project, d, c]
            rows += 1
            continue
        if rows:
            cur.execute(_UPSERT.format(values=", ".join([_UPSERT_ROW] * rows)), batch)
            batch, rows = [], 0
        cur.execute(_GUARDED.format(normal=_NORMAL[acc.normal_side]),
                    [d, c, acc.id, key[2], reduction])
        if cur.rowcount != 1:
            cur.execute(f"SELECT {_NORMAL[acc.normal_side]} FROM finance_balance "
                        "WHERE account_id = %s AND dim_key = %s", [acc.id, key[2]])
            row = cur.fetchone()
            raise errors.IndicatorInsufficient(
                account=acc.code, dims=key[2], available=fen_to_decimal(row[0] if row else 0),
                requested=fen_to_decimal(reduction),
            )
    if rows:
        cur.execute(_UPSERT.format(values=", ".join([_UPSERT_ROW] * rows)), batch)


# ------------------------------------------------------------------- the service
class _Replay(Exception):  # noqa: N818 - internal control flow, never escapes
    pass


def entry_post(
    *,
    lines: Sequence[LineSpec],
    description: str,
    user: Any = None,
    on: date_type | None = None,
    as_of: datetime | None = None,
    source: models.Model | None = None,
    kind: str = "",
    tracking_id: str = "",
    idempotency_key: str | None = None,
    reverses: Entry | None = None,
) -> Entry:
    """Post one balanced entry (凭证). `on` is the accounting date (default: the local
    date of `as_of`). Returns the existing entry when `idempotency_key` was used
    before for the same content."""
    as_of = as_of or timezone.now()
    on = on or timezone.localdate(as_of)
    src_ct, src_id, src_ref = source_ref(source)
    prep = _prepare(lines, on, description, kind, src_ref, tracking_id, reverses)
    if idempotency_key:
        existing = _replayed(idempotency_key, prep.content_hash)
        if existing:
            return existing
    attempts = 1 if connection.in_atomic_block else 5
    for attempt in range(1, attempts + 1):
        try:
            entry = _post_atomic(prep, description, kind, src_ct, src_id, tracking_id,
                                 idempotency_key, reverses, user, as_of, on)
        except _Replay:
            found = _replayed(idempotency_key or "", prep.content_hash)
            assert found is not None  # noqa: S101 - _Replay is raised only when it exists
            return found
        except OperationalError as exc:  # deadlock / serialization: retry whole txn
            if attempt == attempts or not retryable(exc):
                raise
            time.sleep(0.01 * attempt)
            continue
        # the accounts this entry debits, for after-posting hooks (monitoring skips its
        # payment queries for an entry that debits no payment account)
        entry.debited_accounts = frozenset(r[2].code for r in prep.rows if r[4] > 0)
        transaction.on_commit(lambda e=entry: _run_hooks(e))
        return entry
    raise AssertionError("unreachable")  # pragma: no cover


def retryable(exc: OperationalError) -> bool:
    """A deadlock, a serialization failure or SQLite's busy database: the transaction
    was rolled back whole and may simply be run again."""
    code = getattr(getattr(exc, "__cause__", None), "sqlstate", None)
    return code in {"40001", "40P01"} or "database is locked" in str(exc)


def _replayed(key: str, content_hash: str) -> Entry | None:
    existing = Entry.objects.filter(idempotency_key=key).first()
    if existing is None:
        return None
    if existing.content_hash != content_hash:
        raise errors.IdempotencyConflict(key=key, entry=existing.pk)
    return existing


def _post_atomic(prep: _Prepared, description: str, kind: str, src_ct: ContentType | None,
                 src_id: str, tracking_id: str, idempotency_key: str | None,
                 reverses: Entry | None, user: Any, as_of: datetime, on: date_type) -> Entry:
    user_id = getattr(user, "pk", None)
    entry = Entry(
        fiscal_year=prep.year, date=on, month=prep.month, description=description, kind=kind,
        source_type=src_ct, source_id=src_id, tracking_id=tracking_id,
        idempotency_key=idempotency_key, reverses=reverses, content_hash=prep.content_hash,
        posted_by_id=user_id, posted_at=as_of,
    )
    line_values = [
        [s, book, acc.id, prep.year, *prep.dim_ids(dims), dims.project, d, c]
        for s, book, acc, dims, d, c in prep.rows
    ]
    try:
        with transaction.atomic(), connection.cursor() as cur:
            if reverses is not None:
                by = Entry.objects.filter(reverses=reverses).first()
                if by is not None:
                    raise errors.AlreadyReversed(entry=reverses.pk, by=by.pk)
            _apply_balances(cur, [prep])
            if connection.vendor == "postgresql":
                _number_and_insert_pg(cur, entry, line_values, user_id, as_of)
            else:
                _number_and_insert(cur, entry, line_values, user_id, as_of)
    except IntegrityError:
        if idempotency_key and Entry.objects.filter(idempotency_key=idempotency_key).exists():
            raise _Replay() from None
        if reverses is not None and Entry.objects.filter(reverses=reverses).exists():
            by = Entry.objects.get(reverses=reverses)
            raise errors.AlreadyReversed(entry=reverses.pk, by=by.pk) from None
        raise
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry


def _closed_or_missing(cur: Any, year: int, month: int) -> errors.LedgerError:
    cur.execute("SELECT closed_months FROM finance_vouchersequence WHERE fiscal_year = %s", [year])
    row = cur.fetchone()
    if row is None:
        return errors.PeriodMissing(year=year, month=month)
    return errors.PeriodClosed(year=year, month=month)


_LINE_COLUMNS = ("entry_id, seq, book, account_id, year, region_id, unit_id, function_id, "
                 "economic_id, fund_source_id, project_code, debit_fen, credit_fen")
_ENTRY_COLUMNS = ("fiscal_year, number, date, month, description, kind, source_type_id, "
                  "source_id, tracking_id, idempotency_key, reverses_id, content_hash, prev_hash, "
                  "hash, posted_by_id, posted_at")

# PostgreSQL: number, chain and insert in ONE statement, so the sequence row is locked
# for one round trip plus the commit. The chain hash is computed by the server with the
# same formula as chain_hash() and checked against it below.
_PG_NUMBER_AND_INSERT = f"""
WITH seq AS (
  UPDATE finance_vouchersequence s
  SET prev_hash = s.last_hash,
      last_number = s.last_number + 1,
      last_hash = encode(sha256(convert_to(
        s.last_hash || '|' || (s.last_number + 1)::text || '|' || %s || '|' || %s || '|' || %s,
        'UTF8')), 'hex')
  WHERE s.fiscal_year = %s AND (s.closed_months & %s) = 0
  RETURNING s.last_number, s.prev_hash, s.last_hash
), ent AS (
  INSERT INTO finance_entry ({_ENTRY_COLUMNS})
  SELECT %s, seq.last_number, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, seq.prev_hash,
         seq.last_hash, %s, %s
  FROM seq
  RETURNING id, number, prev_hash, hash
), lin AS (
  INSERT INTO finance_line ({_LINE_COLUMNS})
  SELECT ent.id, v.* FROM ent, (VALUES {{values}}) AS v
)
SELECT id, number, prev_hash, hash FROM ent
"""
_PG_VALUE = ("(%s::smallint, %s::varchar, %s::bigint, %s::smallint, %s::bigint, %s::bigint, "
             "%s::bigint, %s::bigint, %s::bigint, %s::varchar, %s::bigint, %s::bigint)")


def _number_and_insert_pg(cur: Any, entry: Entry, line_values: list[list], user_id: int | None,
                          as_of: datetime) -> None:
    stamp = as_of.astimezone(UTC).isoformat()
    sql = _PG_NUMBER_AND_INSERT.format(values=", ".join([_PG_VALUE] * len(line_values)))
    params: list[Any] = [
        entry.content_hash, "" if user_id is None else str(user_id), stamp,
        entry.fiscal_year, 1 << (entry.month - 1),
        entry.fiscal_year, entry.date, entry.month, entry.description, entry.kind,
        entry.source_type_id, entry.source_id, entry.tracking_id, entry.idempotency_key,
        entry.reverses_id, entry.content_hash, user_id, as_of,
    ]
    for row in line_values:
        params += row
    cur.execute(sql, params)
    row = cur.fetchone()
    if row is None:
        raise _closed_or_missing(cur, entry.fiscal_year, entry.month)
    entry.pk, entry.number, entry.prev_hash, entry.hash = row
    expected = chain_hash(prev_hash=entry.prev_hash, number=entry.number,
                          content_hash=entry.content_hash, posted_by=user_id, posted_at=as_of)
    if expected != entry.hash:  # the server and Python must agree, or verify would fail later
        raise RuntimeError(f"chain hash mismatch for entry {entry.fiscal_year}-{entry.number}")
    _insert_macs(cur, [entry], commit=_outermost_transaction())


_MAC_INSERT = "INSERT INTO finance_entrymac (entry_id, key_id, mac) VALUES "
_MAC_LITERAL = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _outermost_transaction() -> bool:
    """True inside the posting's own transaction.atomic() when it is the outermost
    one on PostgreSQL: that atomic would COMMIT right after our last statement."""
    return (connection.vendor == "postgresql" and connection.commit_on_exit
            and len(connection.atomic_blocks) == 1 and not connection.savepoint_ids
            and not connection.needs_rollback
            and not getattr(connection.atomic_blocks[0], "_from_testcase", False))


def _insert_macs(cur: Any, entries: Sequence[Entry], *, commit: bool = False) -> bool:
    """Insert the keyed MAC of each entry (finance.chain), computed here in Python: the
    key never reaches the database, so its superuser cannot recompute it.

    The MAC needs the number and hash that the numbering statement makes under the
    year's sequence-row lock, so it can only be written after that statement, while the
    lock is held. `commit` (the posting's own outermost transaction on PostgreSQL, see
    `_outermost_transaction`) sends the INSERT and the COMMIT as ONE message (simple
    query protocol, the values as checked literals: integers, key ids and hex digests),
    so the lock is held for exactly the round trips of a posting without the MAC; the
    enclosing atomic() then finds the transaction committed (psycopg's commit() is a
    no-op when idle) and runs its on-commit hooks as usual. Returns True when it
    committed."""
    rows = [(int(e.pk), *entry_mac(year=e.fiscal_year, number=e.number, entry_hash=e.hash))
            for e in entries]
    if commit and len(rows) <= 2000:
        for _pk, key_id, mac in rows:  # never interpolate anything but these shapes
            if not (_MAC_LITERAL.match(key_id) and _MAC_LITERAL.match(mac)):
                raise ValueError(f"unexpected key id or MAC {key_id!r} {mac!r}")
        cur.execute(_MAC_INSERT + ", ".join(f"({pk}, '{kid}', '{mac}')" for pk, kid, mac in rows)
                    + "; COMMIT")
        return True
    for i in range(0, len(rows), 2000):
        chunk = rows[i:i + 2000]
        cur.execute(_MAC_INSERT + ", ".join(["(%s, %s, %s)"] * len(chunk)),
                    [v for row in chunk for v in row])
    return False


def _number_and_insert(cur: Any, entry: Entry, line_values: list[list], user_id: int | None,
                       as_of: datetime) -> None:
    """Portable path (SQLite, whose IMMEDIATE transactions already serialise writers)."""
    for_update = " FOR UPDATE" if connection.features.has_select_for_update else ""
    cur.execute("SELECT id, last_number, last_hash, closed_months FROM finance_vouchersequence "
                f"WHERE fiscal_year = %s{for_update}", [entry.fiscal_year])
    seq = cur.fetchone()
    if seq is None or seq[3] & (1 << (entry.month - 1)):
        raise _closed_or_missing(cur, entry.fiscal_year, entry.month)
    seq_id, last_number, last_hash, _closed = seq
    entry.number = last_number + 1
    entry.prev_hash = last_hash
    entry.hash = chain_hash(prev_hash=last_hash, number=entry.number,
                            content_hash=entry.content_hash, posted_by=user_id, posted_at=as_of)
    Entry.objects.bulk_create([entry])
    if entry.pk is None:  # backends without RETURNING on bulk insert
        entry.pk = Entry.objects.get(fiscal_year=entry.fiscal_year, number=entry.number).pk
    marks = "(" + ", ".join(["%s"] * 13) + ")"
    params: list[Any] = []
    for row in line_values:
        params += [entry.pk, *row]
    cur.execute(f"INSERT INTO finance_line ({_LINE_COLUMNS}) VALUES "
                + ", ".join([marks] * len(line_values)), params)
    _insert_macs(cur, [entry])
    cur.execute("UPDATE finance_vouchersequence SET last_number = %s, last_hash = %s, "
                "prev_hash = %s WHERE id = %s", [entry.number, entry.hash, last_hash, seq_id])


def entry_reverse(*, entry: Entry, user: Any, reason: str, on: date_type | None = None,
                  as_of: datetime | None = None, idempotency_key: str | None = None) -> Entry:
    """冲销: post the mirror image of `entry`, linked to it; an entry is reversed once."""
    item = reversal_inputs([(entry, reason, idempotency_key, on)])[0]
    return entry_post(
        lines=item.lines, description=item.description, user=user, on=on, as_of=as_of,
        source=entry.source, kind=EntryKind.REVERSAL, tracking_id=entry.tracking_id,
        idempotency_key=idempotency_key, reverses=entry,
    )


# ------------------------------------------------------------------- batches
@dataclass(frozen=True)
class EntryInput:
    """One entry of an `entries_post` batch: the arguments of `entry_post` but the user
    and time, which the batch shares. `source_type_id`/`source_id` name the source
    document without loading it (a reversal names its original's source)."""

    lines: Sequence[LineSpec]
    description: str
    on: date_type | None = None
    source: models.Model | None = None
    kind: str = ""
    tracking_id: str = ""
    idempotency_key: str | None = None
    reverses: Entry | None = None
    source_type_id: int | None = None
    source_id: str = ""
    posted_at: datetime | None = None  # when it is posted, if not the batch's `as_of`

    def source_ref(self) -> tuple[ContentType | None, str, str]:
        if self.source is not None or self.source_type_id is None:
            return source_ref(self.source)
        ct = ContentType.objects.get_for_id(self.source_type_id)
        return ct, self.source_id, f"{ct.app_label}.{ct.model}:{self.source_id}"


def reversal_inputs(
        items: Sequence[tuple[Entry, str, str | None, date_type | None]]) -> list[EntryInput]:
    """The mirror images of entries, as `entry_reverse` posts them: (entry, reason,
    idempotency key, accounting date) each; the lines of all are read in one query."""
    by_entry: dict[int, list[LineSpec]] = defaultdict(list)
    lines = (Line.objects.filter(entry_id__in=[item[0].pk for item in items])
             .select_related("account", "region", "unit", "function", "economic", "fund_source")
             .order_by("entry_id", "seq"))
    for line in lines:
        dims = Dims(
            region=line.region.code if line.region else "",
            unit=line.unit.code if line.unit else "",
            function=line.function.code if line.function else "",
            economic=line.economic.code if line.economic else "",
            fund_source=line.fund_source.code if line.fund_source else "",
            project=line.project_code,
        )
        by_entry[line.entry_id].append(LineSpec(book=line.book, account=line.account.code,
                                                debit=line.credit, credit=line.debit, dims=dims))
    return [EntryInput(lines=by_entry[e.pk], on=on, kind=EntryKind.REVERSAL, tracking_id=e.tracking_id,
                       description=f"冲销 reversal of {e.fiscal_year}-{e.number}: {reason}",
                       idempotency_key=key, reverses=e, source_type_id=e.source_type_id,
                       source_id=e.source_id)
            for e, reason, key, on in items]


def entries_post(*, entries: Sequence[EntryInput], user: Any = None,
                 as_of: datetime | None = None) -> list[Entry]:
    """Post many balanced entries of one fiscal year as ONE unit of work: each entry is
    checked exactly as `entry_post` checks it (balance per book, codes, period open,
    idempotency key, reversed once, flagged balances not overdrawn), and if any check
    fails nothing is posted and the error of `entry_post` is raised. The codes of all
    entries are looked up in one query, the balances moved in one upsert (plus one
    guarded UPDATE per flagged balance reduced), and the entries numbered and inserted
    with their lines in a few statements at the end, so the year's sequence row is held
    for those statements and the caller's commit. Returns the entries in input order;
    an entry whose idempotency key was used before for the same content is returned,
    not posted again. After-posting hooks run once the transaction commits."""
    if not entries:
        return []
    as_of = as_of or timezone.now()
    ons = [x.on or timezone.localdate(as_of) for x in entries]
    years = {on.year for on in ons}
    if len(years) != 1:
        raise ValueError("entries_post: every entry of a batch must be in one fiscal year")
    accounts: set[str] = set()
    dim_codes: dict[str, set[str]] = {name: set() for name in _DIM_TABLES}
    for x in entries:
        a, d = _codes_of(x.lines)
        accounts |= a
        for name, codes in d.items():
            dim_codes[name] |= codes
    resolved = _resolve_all(accounts, dim_codes)
    srcs = [x.source_ref() for x in entries]
    preps = [_prepare(x.lines, on, x.description, x.kind, src[2], x.tracking_id, x.reverses,
                      resolved)
             for x, on, src in zip(entries, ons, srcs, strict=True)]
    keys = [x.idempotency_key for x in entries if x.idempotency_key]
    if len(set(keys)) != len(keys):
        raise ValueError("entries_post: an idempotency key appears twice in the batch")
    existing = {e.idempotency_key: e for e in Entry.objects.filter(idempotency_key__in=keys)}
    result: list[Entry | None] = []
    todo: list[int] = []
    for i, (x, prep) in enumerate(zip(entries, preps, strict=True)):
        found = existing.get(x.idempotency_key) if x.idempotency_key else None
        if found is not None and found.content_hash != prep.content_hash:
            raise errors.IdempotencyConflict(key=x.idempotency_key, entry=found.pk)
        result.append(found)
        if found is None:
            todo.append(i)
    user_id = getattr(user, "pk", None)
    new = [Entry(fiscal_year=preps[i].year, date=ons[i], month=preps[i].month,
                 description=entries[i].description, kind=entries[i].kind,
                 source_type=srcs[i][0], source_id=srcs[i][1],
                 tracking_id=entries[i].tracking_id,
                 idempotency_key=entries[i].idempotency_key, reverses=entries[i].reverses,
                 content_hash=preps[i].content_hash, posted_by_id=user_id,
                 posted_at=entries[i].posted_at or as_of)
           for i in todo]
    reversed_ids = [e.reverses_id for e in new if e.reverses_id]
    if len(set(reversed_ids)) != len(reversed_ids):
        twice = next(r for r in reversed_ids if reversed_ids.count(r) > 1)
        raise errors.AlreadyReversed(entry=twice, by=twice)
    with transaction.atomic(), connection.cursor() as cur:
        if reversed_ids:
            by = Entry.objects.filter(reverses_id__in=reversed_ids).first()
            if by is not None:
                raise errors.AlreadyReversed(entry=by.reverses_id, by=by.pk)
        if new:
            _apply_balances(cur, [preps[i] for i in todo])
            _number_and_insert_many(cur, new, [preps[i] for i in todo], user_id, as_of)
    for i, entry in zip(todo, new, strict=True):
        entry.debited_accounts = frozenset(r[2].code for r in preps[i].rows if r[4] > 0)
        result[i] = entry
    if new:
        transaction.on_commit(lambda: _run_hooks_many(new))
    return [e for e in result if e is not None]


# From this many lines a batch's lines are COPYed on PostgreSQL: a multi-row VALUES
# costs the client and the server ~45 µs a line (every value a parameter, every size a
# new statement to parse and plan), COPY ~6 µs (docs/PERFORMANCE.md, 2026-12-05).
COPY_LINES_FROM = 64


def _insert_lines(cur: Any, values: list[list[Any]]) -> None:
    """Insert ledger lines (rows in _LINE_COLUMNS' order): COPY on PostgreSQL for a
    batch, else multi-row INSERTs in chunks below the databases' parameter limits. The
    table's checks, keys and immutability trigger apply to both alike."""
    if connection.vendor == "postgresql" and len(values) >= COPY_LINES_FROM:
        with cur.cursor.copy(f"COPY finance_line ({_LINE_COLUMNS}) FROM STDIN") as cp:
            for row in values:
                cp.write_row(row)
        return
    marks = "(" + ", ".join(["%s"] * 13) + ")"
    for i in range(0, len(values), 2000):
        chunk = values[i:i + 2000]
        cur.execute(f"INSERT INTO finance_line ({_LINE_COLUMNS}) VALUES "
                    + ", ".join([marks] * len(chunk)), [v for row in chunk for v in row])


def _number_and_insert_many(cur: Any, new: list[Entry], preps: list[_Prepared],
                            user_id: int | None, as_of: datetime) -> None:
    """Number the batch gap-free under the sequence row's lock, chain each hash to the
    one before (same formula as a single posting), insert entries and lines, move the
    chain head. Lines go in chunks below the databases' parameter limits."""
    year = new[0].fiscal_year
    for_update = " FOR UPDATE" if connection.features.has_select_for_update else ""
    cur.execute("SELECT id, last_number, last_hash, closed_months FROM finance_vouchersequence "
                f"WHERE fiscal_year = %s{for_update}", [year])
    seq = cur.fetchone()
    for entry in new:
        if seq is None or seq[3] & (1 << (entry.month - 1)):
            raise _closed_or_missing(cur, year, entry.month)
    seq_id, number, head, _closed = seq
    prev = head
    for entry in new:
        number += 1
        entry.number, entry.prev_hash = number, head
        entry.hash = chain_hash(prev_hash=head, number=number, content_hash=entry.content_hash,
                                posted_by=user_id, posted_at=entry.posted_at)
        prev, head = head, entry.hash
    Entry.objects.bulk_create(new)
    if any(e.pk is None for e in new):  # backends without RETURNING on bulk insert
        ids = dict(Entry.objects.filter(fiscal_year=year, number__in=[e.number for e in new])
                   .values_list("number", "id"))
        for e in new:
            e.pk = ids[e.number]
    values: list[list[Any]] = []
    for entry, prep in zip(new, preps, strict=True):
        values += [[entry.pk, s, book, acc.id, prep.year, *prep.dim_ids(dims), dims.project, d, c]
                   for s, book, acc, dims, d, c in prep.rows]
    _insert_lines(cur, values)
    _insert_macs(cur, new)
    cur.execute("UPDATE finance_vouchersequence SET last_number = %s, last_hash = %s, "
                "prev_hash = %s WHERE id = %s", [number, head, prev, seq_id])
    for entry in new:
        entry._state.adding = False
        entry._state.db = connection.alias
