"""Tamper evidence for history rows: seal every django-simple-history row with a hash
of its content chained per table under the ledger key (finance.chain.seal_mac: the
database never holds the key, so its superuser cannot re-seal an edited row), and
verify the seals (registered into `verify_ledger` through
finance.selectors.register_verifier).

Rows are sealed as they are written: a transaction that creates history rows seals
them right after it commits (`history_row_written`, connected in AuditConfig.ready),
in history_id order and never past a younger gap (a lower id still committing) — in
the writing process when Celery runs in process (no broker: the demo, tests), or, with
a broker, by a worker a few seconds later (`AUDIT_SEAL_ON_COMMIT`, `_seal_soon`), so
the request that wrote them does not wait for their seals; the periodic `history_seal`
(every minute) picks up whatever that left, and city_year seals everything before it
finishes."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Max
from django.utils import timezone
from simple_history.models import registered_models

from audit.models import HistorySeal
from finance.chain import RekeyResult, check_rekey_keys, register_rekeyer, seal_mac, seal_mac_ok
from finance.processes import forkable, in_processes
from finance.selectors import VerifyProblem, VerifyResult
from finance.services import bulk_insert

log = logging.getLogger(__name__)

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


def chain(table: str, prev: str, history_id: int, row_hash: str) -> str:
    """The keyed link: "key_id:HMAC(prev|history_id|row_hash)" under the ledger key."""
    return seal_mac(table=table, prev=prev, history_id=history_id, row_hash=row_hash)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _norm(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return _norm_datetime(value)
    if isinstance(value, dt.date | Decimal):
        return str(value)
    if isinstance(value, bool | int | str) or value is None:
        return value
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def _norm_datetime(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat() if timezone.is_aware(value) else value.isoformat()


# `_norm` by a value's exact type (None: the value as it is), what nearly every column
# holds; any other type (a subclass, a JSON value) goes through `_norm` itself. Hashing is
# what sealing and verification spend their time on (millions of rows a year): the
# lookup and one shared encoder make it 1.5-2x faster than the isinstance chain and a
# json.dumps (which builds an encoder per call) — the same text, so the same hash.
_NORM_BY_TYPE: dict[type, Callable[[Any], Any] | None] = {
    str: None, int: None, bool: None, type(None): None,
    dt.datetime: _norm_datetime, dt.date: str, Decimal: str}
_ROW_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _columns(hmodel: type[models.Model]) -> list[str]:
    return sorted(f.attname for f in hmodel._meta.concrete_fields)


def row_hash(columns: list[str], row: tuple) -> str:
    """SHA-256 of a history row's every column (canonical JSON: keys sorted, no spaces,
    non-ASCII as it is; datetimes in UTC ISO 8601, dates and decimals as text)."""
    norm_of = _NORM_BY_TYPE.get
    content = {}
    for c, v in zip(columns, row, strict=True):
        f = norm_of(type(v), _norm)
        content[c] = v if f is None else f(v)
    return _sha(_ROW_JSON.encode(content))


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
        yield from batch
        if len(batch) < _CHUNK:  # the last chunk: no need to ask for the (empty) next one
            return
        last = batch[-1][columns.index("history_id")]


def history_seal(*, as_of: dt.datetime | None = None, grace: dt.timedelta = SEAL_GRACE,
                 only: set[type[models.Model]] | None = None,
                 contiguous: bool = False, workers: int = 1) -> dict[str, int]:
    """Seal the history rows of every table (or of the historical models `only`)
    written since the last seal, up to `as_of - grace` — or, `contiguous`, also younger
    rows as long as their ids follow on without a gap. Returns the number of rows sealed
    per model label. Concurrent runs are harmless: they queue on a per-table lock, and
    the unique (table, history_id) makes a loser roll back. `workers` > 1 (PostgreSQL,
    outside a transaction): the tables are sealed at once in that many forked processes,
    the ones with most rows to seal first (each table's chain is its own)."""
    as_of = as_of or timezone.now()
    labels = [label for label, hmodel in history_models().items()
              if only is None or hmodel in only]
    tasks = [(label, as_of, grace, contiguous) for label in labels]
    if forkable(workers, len(tasks)):
        waiting = _unsealed_estimate()
        tasks.sort(key=lambda t: -waiting.get(t[0], 0))
        done = dict(in_processes(_seal_part, tasks, workers, ordered=False))
    else:
        done = dict(map(_seal_part, tasks))
    return {label: done[label] for label in labels if done[label]}


def _seal_part(task: tuple[str, dt.datetime, dt.timedelta, bool]) -> tuple[str, int]:
    label, as_of, grace, contiguous = task
    try:
        return label, _seal_table(history_models()[label], as_of - grace, as_of, contiguous)
    except IntegrityError:  # another run sealed the same rows first
        return label, 0


def _unsealed_estimate() -> dict[str, int]:
    """label → the newest history id less the last sealed one (what sealing has ahead)."""
    last = dict(HistorySeal.objects.values("table").annotate(m=Max("history_id"))
                .values_list("table", "m"))
    found = {}
    for label, hmodel in history_models().items():
        top = hmodel._default_manager.aggregate(m=Max("history_id"))["m"] or 0
        found[label] = top - (last.get(hmodel._meta.db_table) or 0)
    return found


# ------------------------------------------------------------- sealing on write
_pending: set[type[models.Model]] = set()
# Off while several processes write history at once (the city-year's worker processes):
# a sealer in one process would seal past rows another has not committed yet; the run
# seals everything in order at its end.
ON_WRITE = True


def history_row_written(sender: type[models.Model], **kwargs: Any) -> None:  # noqa: ARG001
    """simple-history's post_create_historical_record: remember the table and seal it
    once the writing transaction commits (at once outside a transaction)."""
    if not ON_WRITE:
        return
    _pending.add(sender)
    # one callback per transaction: the first to run seals every pending table (a
    # rolled-back transaction's tables are sealed with the next one, or by the periodic run)
    if connection.in_atomic_block and any(
            cb is _seal_pending for _sids, cb, *_rest in connection.run_on_commit):
        return
    transaction.on_commit(_seal_pending)


def _seal_pending() -> None:
    if not _pending:
        return
    only = set(_pending)
    _pending.clear()
    if seal_on_worker():
        _seal_soon(only)
        return
    try:
        history_seal(only=only, contiguous=True)
    except Exception:  # sealing must never fail a committed write; the periodic run retries
        log.exception("sealing history on commit failed")


def seal_on_worker() -> bool:
    """Whether a commit's history rows are sealed by a Celery worker a few seconds later
    (`AUDIT_SEAL_ON_COMMIT`: "worker", or "auto" with a broker configured) rather than
    in the writing process right after the commit ("inline", or "auto" without one)."""
    mode = getattr(settings, "AUDIT_SEAL_ON_COMMIT", "auto")
    if mode == "auto":
        return not settings.CELERY_TASK_ALWAYS_EAGER
    return mode == "worker"


# label of a historical model → monotonic time until which a task already sent will seal
# whatever this process commits to it (each task runs after its countdown, so after
# every commit made before that time)
_soon: dict[str, float] = {}
_soon_lock = threading.Lock()


def _send(labels: list[str], countdown: float) -> None:
    from audit.tasks import history_seal_soon_task

    history_seal_soon_task.apply_async(kwargs={"labels": labels}, countdown=countdown)


def _seal_soon(only: set[type[models.Model]]) -> None:
    """Queue the sealing of these tables' new rows on a worker, `AUDIT_SEAL_SOON_SECONDS`
    from now — at most one task per table and process in that time: the first commit
    sends it, the ones after it until it runs ride along (they committed before it runs,
    so it seals them too, or stops at a gap that the gap's own process's task closes).
    A broker that cannot be reached loses nothing: the rows wait for the periodic run."""
    delay = float(getattr(settings, "AUDIT_SEAL_SOON_SECONDS", 2.0))
    now = time.monotonic()
    with _soon_lock:
        labels = sorted(m._meta.label_lower for m in only
                        if _soon.get(m._meta.label_lower, 0.0) <= now)
        for label in labels:
            _soon[label] = now + delay
    if not labels:
        return
    try:
        _send(labels, delay)
    except Exception:  # a committed write never fails for its seal; the minute run seals it
        with _soon_lock:
            for label in labels:
                _soon.pop(label, None)
        log.exception("queueing the history seal failed; the periodic run will seal")


def history_seal_soon(labels: list[str]) -> dict[str, int]:
    """The worker's half of `_seal_soon`: seal the new rows of these historical models
    (labels "app.historicalmodel"), in id order, up to the first gap."""
    from django.apps import apps

    only = {apps.get_model(label) for label in labels}
    return history_seal(only=only, contiguous=True)


@transaction.atomic
def _seal_table(hmodel: type[models.Model], upto_date: dt.datetime, as_of: dt.datetime,
                contiguous: bool = False) -> int:
    table = hmodel._meta.db_table
    if connection.vendor == "postgresql":  # one sealer per table, also before its first seal
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"history-seal:{table}"])
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
        follows = after is None or row[hid] == after + 1
        if row[hdate] > upto_date and not (contiguous and follows):
            # keep id order: stop at the first young row that may have a lower id
            # still committing (a gap before it)
            break
        after = row[hid]
        rh = row_hash(columns, row)
        new = chain(table, prev, row[hid], rh)
        seals.append(HistorySeal(table=table, history_id=row[hid], row_hash=rh, prev_hash=prev,
                                 chain_hash=new, sealed_at=as_of))
        prev = new
        if len(seals) >= _CHUNK:
            bulk_insert(seals)
            count += len(seals)
            seals = []
    bulk_insert(seals)
    return count + len(seals)


UNSEALED_LIMIT = dt.timedelta(minutes=10)


def history_verify(result: VerifyResult) -> None:
    """Registered verifier: recompute every sealed row's hash and each table's keyed
    chain; report every broken row (edited, deleted, inserted, re-sealed without the
    key) and every row left unsealed longer than UNSEALED_LIMIT."""
    rows_checked = unsealed = 0
    now = timezone.now()
    for label, hmodel in history_models().items():
        table = hmodel._meta.db_table
        problems, checked, tail = _verify_table(label, hmodel, table)
        rows_checked += checked
        for problem in problems:
            result.add(problem)
        for row_id, written in tail:
            unsealed += 1
            if written < now - UNSEALED_LIMIT:
                result.add(VerifyProblem(0, None, None, "row is not sealed (written outside "
                                         "the application, or sealing has stopped)",
                                         where=f"history {label} row {row_id}"))
            elif written > now + UNSEALED_LIMIT:
                # sealing stops at it (ids in order up to a time), so every row after it
                # stays unsealed: name the cause, not only its effect
                result.add(VerifyProblem(0, None, None, f"row is dated {written.isoformat()}, "
                                         "in the future: sealing stops at it",
                                         where=f"history {label} row {row_id}"))
    result.checked["sealed history rows"] = rows_checked
    result.checked["unsealed history rows"] = unsealed


def _verify_table(label: str, hmodel: type[models.Model],
                  table: str) -> tuple[list[VerifyProblem], int, list[tuple[int, dt.datetime]]]:
    """(problems, rows checked, the unsealed rows after the last seal)."""
    found: list[VerifyProblem] = []
    columns = _columns(hmodel)
    hid = columns.index("history_id")
    prev = genesis(table)
    seals = (HistorySeal.objects.filter(table=table).order_by("history_id")
             .values_list("history_id", "row_hash", "prev_hash", "chain_hash").iterator(_CHUNK))
    hdate = columns.index("history_date")
    rows = _rows(hmodel, columns)
    pending = next(rows, None)
    checked = 0

    def problem(history_id: int, reason: str) -> None:
        found.append(VerifyProblem(0, None, None, reason,
                                   where=f"history {label} row {history_id}"))

    for history_id, sealed_hash, prev_hash, chain_hash in seals:
        # every history row before this seal must itself be sealed
        while pending is not None and pending[hid] < history_id:
            problem(pending[hid], "row is not sealed but a later row is (inserted after sealing)")
            pending = next(rows, None)
        why = "seal chain is broken (a seal was removed or changed)" if prev_hash != prev else \
            seal_mac_ok(table=table, prev=prev, history_id=history_id, row_hash=sealed_hash,
                        stored=chain_hash)
        if why:
            problem(history_id, why)
        if pending is None or pending[hid] != history_id:
            problem(history_id, "sealed row is missing (deleted)")
        else:
            if row_hash(columns, pending) != sealed_hash:
                problem(history_id, "row content does not match its seal (changed)")
            pending = next(rows, None)
        checked += 1
        prev = chain_hash  # go on from what is stored: every later broken row is named too
    tail = []
    while pending is not None:
        tail.append((pending[hid], pending[hdate]))
        pending = next(rows, None)
    return found, checked, tail


# ------------------------------------------------------------------- rekeying
def history_rekey(*, old: str, new: str, batch: int = 5000, limit: int = 100,
                  dry_run: bool = False,
                  progress: Callable[[str], None] | None = None) -> list[RekeyResult]:
    """`ledger_rekey` for history seals (registered with finance.chain.register_rekeyer).

    A seal's keyed link covers the previous seal's stored link, so re-MACing one seal
    changes the `prev` of the next: each table is rekeyed from its first seal under
    `old` to its end (later seals under other keys are re-MACed too, with the new key),
    in ONE transaction per table holding the table's sealing lock — an interrupted run
    leaves each table either done or untouched, and running it again goes on with the
    tables still holding `old` seals. Each seal is verified first (its link to the one
    before, its keyed MAC under its own key, its row's content); a seal that fails is
    REFUSED: kept as it is, so verify_ledger still names it, and named in the result
    (the next seal links on to it as stored)."""
    check_rekey_keys(old, new)
    results = []
    for label, hmodel in history_models().items():
        table = hmodel._meta.db_table
        if not HistorySeal.objects.filter(table=table, chain_hash__startswith=f"{old}:").exists():
            continue
        result = RekeyResult(f"history {label}")
        _rekey_table(label, hmodel, table, old, new, batch, limit, dry_run, result)
        results.append(result)
        if progress:
            progress(f"history {label}: {result.checked} seals checked, {result.rekeyed} "
                     f"{'would be ' if dry_run else ''}re-MACed, {result.refused} refused")
    return results


@transaction.atomic
def _rekey_table(label: str, hmodel: type[models.Model], table: str, old: str, new: str,
                 batch: int, limit: int, dry_run: bool, result: RekeyResult) -> None:
    if connection.vendor == "postgresql":  # no sealer appends to this chain meanwhile
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"history-seal:{table}"])
    first = (HistorySeal.objects.filter(table=table, chain_hash__startswith=f"{old}:")
             .order_by("history_id").values_list("history_id", flat=True).first())
    if first is None:
        return
    before = (HistorySeal.objects.filter(table=table, history_id__lt=first)
              .order_by("-history_id").values_list("chain_hash", flat=True).first())
    stored_prev = new_prev = before or genesis(table)
    columns = _columns(hmodel)
    hid = columns.index("history_id")
    rows = _rows(hmodel, columns, after=first - 1)
    pending = next(rows, None)
    last = first - 1
    while True:  # keyset batches (SQLite: never write a table while a cursor reads it)
        seals = list(HistorySeal.objects.select_for_update()
                     .filter(table=table, history_id__gt=last).order_by("history_id")[:batch])
        if not seals:
            return
        changed: list[HistorySeal] = []
        for seal in seals:
            result.checked += 1
            while pending is not None and pending[hid] < seal.history_id:
                pending = next(rows, None)
            if seal.prev_hash != stored_prev:
                why = "seal chain is broken (a seal before it was removed or changed)"
            else:
                why = seal_mac_ok(table=table, prev=seal.prev_hash, history_id=seal.history_id,
                                  row_hash=seal.row_hash, stored=seal.chain_hash)
            if why is None and (pending is None or pending[hid] != seal.history_id):
                why = "sealed row is missing (deleted)"
            elif why is None and row_hash(columns, pending) != seal.row_hash:
                why = "row content does not match its seal (changed)"
            stored_prev = seal.chain_hash
            if why:
                result.refuse(f"history {label} row {seal.history_id}", why, limit)
                new_prev = seal.chain_hash  # the next seal links on to it as stored
                continue
            seal.prev_hash = new_prev
            seal.chain_hash = seal_mac(table=table, prev=new_prev, history_id=seal.history_id,
                                       row_hash=seal.row_hash, key_id=new)
            new_prev = seal.chain_hash
            changed.append(seal)
        if changed and not dry_run:
            HistorySeal.objects.bulk_update(changed, ["prev_hash", "chain_hash"])
        result.rekeyed += len(changed)
        last = seals[-1].history_id


register_rekeyer(history_rekey)
