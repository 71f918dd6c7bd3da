"""Tamper evidence for history rows: seal every django-simple-history row with a hash
of its content chained per table, and verify the seals (registered into
`verify_ledger` through finance.selectors.register_verifier)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from simple_history.models import registered_models

from audit.models import HistorySeal
from finance.selectors import VerifyProblem, VerifyResult

# Rows younger than this are left for the next run: a transaction that took a lower
# history id may still be committing, and sealing past it would later look like an
# inserted row.
SEAL_GRACE = dt.timedelta(seconds=60)
_CHUNK = 5000


def history_models() -> dict[str, type[models.Model]]:
    """label ("app.model") → historical model of every model kept with simple-history,
    except audit's own seals (which are not historical)."""
    found = {}
    for tracked in registered_models.values():
        manager = getattr(tracked, tracked._meta.simple_history_manager_attribute, None)
        if manager is None:
            continue
        found[tracked._meta.label_lower] = manager.model
    return dict(sorted(found.items()))


def genesis(table: str) -> str:
    return _sha(f"smart-finance|history|{table}")


def chain(prev: str, history_id: int, row_hash: str) -> str:
    return _sha(f"{prev}|{history_id}|{row_hash}")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _norm(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat() if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, dt.date | Decimal):
        return str(value)
    if isinstance(value, bool | int | str) or value is None:
        return value
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def _columns(hmodel: type[models.Model]) -> list[str]:
    return sorted(f.attname for f in hmodel._meta.concrete_fields)


def row_hash(columns: list[str], row: tuple) -> str:
    """SHA-256 of a history row's every column (canonical JSON)."""
    content = json.dumps({c: _norm(v) for c, v in zip(columns, row, strict=True)},
                         sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return _sha(content)


def _rows(hmodel: type[models.Model], columns: list[str], after: int | None = None,
          upto: int | None = None) -> Iterator[tuple]:
    """History rows in id order, streamed in chunks (keyset pagination)."""
    last = after
    while True:
        qs = hmodel._default_manager.all()
        if last is not None:
            qs = qs.filter(history_id__gt=last)
        if upto is not None:
            qs = qs.filter(history_id__lte=upto)
        batch = list(qs.order_by("history_id").values_list(*columns)[:_CHUNK])
        if not batch:
            return
        yield from batch
        last = batch[-1][columns.index("history_id")]


def history_seal(*, as_of: dt.datetime | None = None, grace: dt.timedelta = SEAL_GRACE) -> dict[str, int]:
    """Seal the history rows of every table written since the last seal, up to
    `as_of - grace`. Returns the number of rows sealed per model label. Concurrent
    runs are harmless: the unique (table, history_id) makes the loser roll back."""
    as_of = as_of or timezone.now()
    sealed: dict[str, int] = {}
    for label, hmodel in history_models().items():
        try:
            count = _seal_table(hmodel, as_of - grace, as_of)
        except IntegrityError:  # another run sealed the same rows first
            count = 0
        if count:
            sealed[label] = count
    return sealed


@transaction.atomic
def _seal_table(hmodel: type[models.Model], upto_date: dt.datetime, as_of: dt.datetime) -> int:
    table = hmodel._meta.db_table
    last = (HistorySeal.objects.select_for_update().filter(table=table)
            .order_by("-history_id").first())
    prev = last.chain_hash if last else genesis(table)
    after = last.history_id if last else None
    columns = _columns(hmodel)
    hid = columns.index("history_id")
    hdate = columns.index("history_date")
    seals: list[HistorySeal] = []
    count = 0
    for row in _rows(hmodel, columns, after=after):
        if row[hdate] > upto_date:
            break  # keep id order: stop at the first row still inside the grace period
        rh = row_hash(columns, row)
        new = chain(prev, row[hid], rh)
        seals.append(HistorySeal(table=table, history_id=row[hid], row_hash=rh, prev_hash=prev,
                                 chain_hash=new, sealed_at=as_of))
        prev = new
        if len(seals) >= _CHUNK:
            HistorySeal.objects.bulk_create(seals)
            count += len(seals)
            seals = []
    HistorySeal.objects.bulk_create(seals)
    return count + len(seals)


def history_verify(result: VerifyResult) -> None:
    """Registered verifier: recompute every sealed row's hash and each table's chain;
    report the first broken row per table (edited, deleted or inserted)."""
    rows_checked = 0
    for label, hmodel in history_models().items():
        table = hmodel._meta.db_table
        problem, checked = _verify_table(label, hmodel, table)
        rows_checked += checked
        if problem:
            result.problems.append(problem)
    result.checked["sealed history rows"] = rows_checked


def _verify_table(label: str, hmodel: type[models.Model], table: str) -> tuple[VerifyProblem | None, int]:
    columns = _columns(hmodel)
    hid = columns.index("history_id")
    prev = genesis(table)
    seals = (HistorySeal.objects.filter(table=table).order_by("history_id")
             .values_list("history_id", "row_hash", "prev_hash", "chain_hash").iterator(_CHUNK))
    rows = _rows(hmodel, columns)
    pending = next(rows, None)
    checked = 0

    def problem(history_id: int, reason: str) -> VerifyProblem:
        return VerifyProblem(0, None, None, reason, where=f"history {label} row {history_id}")

    for history_id, sealed_hash, prev_hash, chain_hash in seals:
        # every history row before this seal must itself be sealed
        if pending is not None and pending[hid] < history_id:
            return problem(pending[hid], "row is not sealed but a later row is "
                                         "(inserted after sealing)"), checked
        if prev_hash != prev or chain(prev, history_id, sealed_hash) != chain_hash:
            return problem(history_id, "seal chain is broken (a seal was removed or changed)"), checked
        if pending is None or pending[hid] != history_id:
            return problem(history_id, "sealed row is missing (deleted)"), checked
        if row_hash(columns, pending) != sealed_hash:
            return problem(history_id, "row content does not match its seal (changed)"), checked
        checked += 1
        prev = chain_hash
        pending = next(rows, None)
    return None, checked
