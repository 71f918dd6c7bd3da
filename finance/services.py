"""Writes to master data, fiscal periods and workflow steps. Ledger writes live in
`finance.ledger` (the one posting service) and are re-exported here."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import connection, models, transaction
from django.dispatch import Signal
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, get_history_manager_for_model

from finance import partitions, roles
from finance.constraints import validate_constraints
from finance.errors import PeriodMissing
from finance.ledger import GENESIS, Dims, LineSpec, cr, dr, entry_post, entry_reverse, sha256
from finance.models import (
    FiscalYear,
    Membership,
    Organization,
    Period,
    Region,
    VoucherSequence,
    WorkflowStep,
)

__all__ = [
    "Dims", "LineSpec", "cr", "dr", "entry_post", "entry_reverse",
    "fiscal_year_open", "period_close", "period_reopen", "region_upsert",
    "organization_upsert", "membership_set", "role_grant", "workflow_record", "workflow_record_many", "save_with_history",
    "bulk_save_with_history", "bulk_update", "bulk_insert", "copy_insert",
    "history_rows_written", "history_written_in_bulk",
]


def _loaded_relations(obj: models.Model) -> list[str]:
    """Foreign keys whose target the caller already holds as a row read from the database
    (cached on `obj`, same key, no `limit_choices_to`). full_clean's existence query for
    them can only confirm what was just read; the database's own foreign-key constraint
    still guards the write. Everything else (field checks, unique and check constraints,
    clean()) is validated as before."""
    names = []
    for f in obj._meta.concrete_fields:
        if not f.is_relation or not f.many_to_one or f.remote_field.limit_choices_to:
            continue
        if not f.is_cached(obj):
            continue
        target = f.get_cached_value(obj)
        if (target is not None and not target._state.adding
                and getattr(target, f.target_field.attname) == getattr(obj, f.attname)):
            names.append(f.name)
    return names


def _unchanged(obj: models.Model) -> frozenset[str]:
    """Fields of a row read from the database (a `LoadedValues` model) that still hold
    the values read: a unique check over only such fields can only pass — the row holds
    them already — so full_clean does not send it (the unique index guards the write)."""
    loaded = getattr(obj, "_loaded_values", None)
    if not loaded or obj._state.adding:
        return frozenset()
    return frozenset(f.name for f in obj._meta.concrete_fields
                     if f.attname in loaded and loaded[f.attname] == getattr(obj, f.attname)
                     and not f.primary_key)


def full_clean(obj: models.Model, *, skip_unique: frozenset[str] = frozenset(),
               only: frozenset[str] | None = None, unique_checked: bool = False) -> None:
    """Model.full_clean() step by step (fields, clean(), unique, constraints), except that
    a foreign key in `_loaded_relations` gets its field checks without the existence query,
    and check constraints are decided in Python where they can be (finance.constraints).
    `skip_unique`: single-field unique checks the caller has made itself (for a batch, in
    one query); `only`: validate just these fields (an UPDATE that writes only them);
    `unique_checked`: the caller has read, in this transaction, the rows the object's
    unique fields and constraints could clash with, so none of those checks is sent (the
    database's unique indexes still guard the write)."""
    loaded = set(_loaded_relations(obj))
    errors: dict[str, Any] = {}
    others = ({f.name for f in obj._meta.concrete_fields} - only) if only is not None else set()
    same = (frozenset(f.name for f in obj._meta.concrete_fields) if unique_checked
            else _unchanged(obj))
    try:
        obj.clean_fields(exclude=loaded | others)
    except ValidationError as e:
        errors = e.update_error_dict(errors)
    for name in loaded:
        field = obj._meta.get_field(name)
        try:
            models.Field.validate(field, getattr(obj, field.attname), obj)  # null, blank
        except ValidationError as e:
            errors = ValidationError({name: e.error_list}).update_error_dict(errors)
    try:
        obj.clean()
    except ValidationError as e:
        errors = e.update_error_dict(errors)
    failed = {n for n in errors if n != NON_FIELD_ERRORS} | others
    for check, skip in ((obj.validate_unique, skip_unique | same),
                        (partial(validate_constraints, obj, unchanged=same), frozenset())):
        try:
            check(exclude=failed | skip)
        except ValidationError as e:
            errors = e.update_error_dict(errors)
        failed = {n for n in errors if n != NON_FIELD_ERRORS} | others
    if errors:
        raise ValidationError(errors)


def _single_unique_fields(model: type[models.Model]) -> list[models.Field]:
    """Fields declared unique=True (not the primary key), when the model has no other
    unique checks that validate_unique would skip along with them (unique_together,
    unique_for_date); otherwise none, and every object is checked on its own."""
    meta = model._meta
    if meta.unique_together or any(f.unique_for_date or f.unique_for_month or f.unique_for_year
                                   for f in meta.concrete_fields):
        return []
    return [f for f in meta.concrete_fields if f.unique and not f.primary_key]


def _unique_in_batch(model: type[models.Model], objs: list[models.Model],
                     fields: list[models.Field]) -> dict[int, dict[str, list]]:
    """validate_unique for single-field unique constraints over a whole batch: one query
    per field for the values already taken by other rows, and duplicates within the batch;
    the same message as Model.validate_unique. Errors by position in `objs`."""
    found: dict[int, dict[str, list]] = {}
    for f in fields:
        values = [getattr(o, f.attname) for o in objs]
        taken = dict(model._default_manager.filter(**{
            f"{f.attname}__in": [v for v in values if v is not None]}).values_list(f.attname, "pk"))
        seen: dict[Any, int] = {}
        for i, (o, v) in enumerate(zip(objs, values, strict=True)):
            if v is None:
                continue
            clash = (v in taken and taken[v] != o.pk) or v in seen
            seen.setdefault(v, i)
            if clash:
                err = o.unique_error_message(model, (f.name,))
                found.setdefault(i, {}).setdefault(f.name, []).append(err)
    return found


# Sent (sender: the historical model) when history rows were written in bulk — simple-
# history's bulk_create_with_history / bulk_history_create and the INSERT … SELECT paths
# send no post_create_historical_record per row — so that audit seals them as soon as the
# writing transaction commits, as it seals rows written one by one.
history_rows_written = Signal()


def history_written_in_bulk(model: type[models.Model]) -> None:
    """Announce history rows of `model` written by a bulk path (see history_rows_written)."""
    hist = getattr(model, "history", None)
    if hist is not None:
        history_rows_written.send(sender=hist.model)


def bulk_save_with_history(objs: list[models.Model], *, user: Any, reason: str,
                           fields: list[str] | None = None,
                           reasons: list[str] | None = None,
                           unique_checked: bool = False, validated: bool = False) -> None:
    """save_with_history for many rows of one model: each is validated as save_with_history
    validates it (single-field unique checks in one query per field for the batch), then
    all are written in one INSERT (`fields` None: new rows) or one UPDATE of `fields`, and
    their history rows in one INSERT with the same user and reason. A validation error of
    any object raises before anything is written (with several objects the error keys
    carry the object's position: "3.cnaps"). `reasons`: one reason per object instead
    of the shared one. `unique_checked`: as for full_clean (no unique check is sent).
    `validated`: the caller has just run `full_clean` on every object as it is now (new
    rows only), so it is not run twice."""
    if not objs:
        return
    if reasons is not None and len(reasons) != len(objs):
        raise ValueError("bulk_save_with_history: one reason per object")
    model = type(objs[0])
    if validated and fields is not None:
        raise ValueError("bulk_save_with_history: validated= is for new rows")
    only = frozenset(fields) if fields is not None else None
    unique = [] if unique_checked else [f for f in _single_unique_fields(model)
                                        if only is None or f.name in only]
    skip = frozenset(f.name for f in unique)
    problems = _unique_in_batch(model, objs, unique) if unique else {}
    for i, obj in enumerate([] if validated else objs):
        try:
            full_clean(obj, skip_unique=skip, only=only, unique_checked=unique_checked)
        except ValidationError as e:
            problems[i] = e.update_error_dict(problems.get(i, {}))
    if problems:
        if len(objs) == 1:
            raise ValidationError(problems[0])
        raise ValidationError({f"{i}.{name}": msgs for i, p in sorted(problems.items())
                               for name, msgs in p.items()})
    if fields is None:
        if _history_by_sql(model, user):
            # PostgreSQL: the rows COPYed (bulk_insert), their "+" history rows made from
            # them by one INSERT … SELECT (what bulk_create_with_history writes, without a
            # historical instance per row in Python)
            with transaction.atomic(savepoint=False):
                bulk_insert(objs)
                _history_from_table(model, objs, user=user, reason=reason, reasons=reasons,
                                    kind="+")
            history_written_in_bulk(model)
            return
        for obj, why in zip(objs, reasons or [], strict=False):
            obj._change_reason = why  # type: ignore[attr-defined]  # read by simple-history
        bulk_create_with_history(objs, model, default_user=user, default_change_reason=reason)
        history_written_in_bulk(model)
        return
    with transaction.atomic(savepoint=False):
        bulk_update(model, objs, fields)
        history_written_in_bulk(model)  # sealed after the commit, whichever way below
        # the history rows are made from the rows as stored (re-read), not from the objects
        # in memory, whose other fields this UPDATE did not write
        if _history_from_table(model, objs, user=user, reason=reason, reasons=reasons):
            return
        stored = list(model._default_manager.filter(pk__in=[o.pk for o in objs]).order_by("pk"))
        if reasons is not None:
            why = {o.pk: r for o, r in zip(objs, reasons, strict=True)}
            for row in stored:
                row._change_reason = why[row.pk]  # type: ignore[attr-defined]
        get_history_manager_for_model(model).bulk_history_create(
            stored, update=True, default_user=user, default_change_reason=reason)


# field types whose values psycopg sends as an array of the column's type
_ARRAY_SAFE = (models.CharField, models.TextField, models.DateField, models.DecimalField,
               models.IntegerField, models.BooleanField, models.ForeignKey)


def bulk_update(model: type[models.Model], objs: list[models.Model], fields: list[str]) -> None:
    """`QuerySet.bulk_update`; on PostgreSQL one `UPDATE … FROM unnest(…)` with one array
    parameter per column. Django's own writes a CASE WHEN per row for every field, in
    statements whose size and planning grow with rows × fields (500 result lines: ~0.5 s
    per model on the bank-result path); the values written are the same."""
    meta = model._meta
    cols = [meta.get_field(name) for name in fields]
    pks = [o.pk for o in objs]
    if (connection.vendor != "postgresql" or len(set(pks)) != len(pks)
            or not all(isinstance(f, _ARRAY_SAFE) and f.concrete and not f.primary_key
                       for f in cols)):
        model._default_manager.bulk_update(objs, fields)
        return
    qn = connection.ops.quote_name
    pk = meta.pk
    arrays = ", ".join(f"%s::{f.cast_db_type(connection)}[]" for f in [pk, *cols])
    names = ", ".join(["pk_", *[f"c{i}" for i in range(len(cols))]])
    sets = ", ".join(f"{qn(f.column)} = v.c{i}" for i, f in enumerate(cols))
    params = [[pk.get_db_prep_value(v, connection) for v in pks]] + [
        [f.get_db_prep_save(getattr(o, f.attname), connection) for o in objs] for f in cols]
    sql = (f"UPDATE {qn(meta.db_table)} AS t SET {sets} FROM unnest({arrays}) "  # noqa: S608 - names from the model
           f"AS v({names}) WHERE t.{qn(pk.column)} = v.pk_")
    with connection.cursor() as cur:
        cur.execute(sql, params)


def _history_by_sql(model: type[models.Model], user: Any) -> bool:
    """Whether `_history_from_table` can write the model's history rows: PostgreSQL,
    history on, a user with an id (else simple-history asks its own default), a history
    model of the tracked columns and simple-history's own only."""
    hist = getattr(model, "history", None)
    if (connection.vendor != "postgresql" or hist is None or not getattr(user, "pk", None)
            or not getattr(settings, "SIMPLE_HISTORY_ENABLED", True)):
        return False
    hmodel = hist.model
    if hasattr(hmodel, "history_relation"):
        return False
    own = {"history_id", "history_date", "history_change_reason", "history_type",
           "history_user_id"}
    return ({f.column for f in hmodel._meta.concrete_fields}
            == own | {f.column for f in hmodel.tracked_fields})


def _history_from_table(model: type[models.Model], objs: list[models.Model], *, user: Any,
                        reason: str, reasons: list[str] | None, kind: str = "~") -> bool:
    """The history rows ("~" of rows just updated, `kind` "+" of rows just created),
    written on PostgreSQL by one INSERT … SELECT from the table (the rows as stored, in
    id order: what simple-history's bulk_history_create writes from the rows re-read,
    without reading them into Python); the history time is one `now` for the batch.
    False (nothing written) where `_history_by_sql` says this does not apply."""
    if not _history_by_sql(model, user):
        return False
    hmodel = model.history.model  # type: ignore[attr-defined]
    tracked = [f.column for f in hmodel.tracked_fields]
    qn = connection.ops.quote_name
    pk = model._meta.pk
    cols = ", ".join(qn(c) for c in tracked)
    picked = ", ".join(f"t.{qn(c)}" for c in tracked)
    why = reasons if reasons is not None else [reason] * len(objs)
    sql = (f"INSERT INTO {qn(hmodel._meta.db_table)} ({cols}, history_date, "  # noqa: S608 - names from the model
           f"history_change_reason, history_type, history_user_id) "
           f"SELECT {picked}, %s, v.why, %s, %s FROM {qn(model._meta.db_table)} AS t "
           f"JOIN unnest(%s::{pk.cast_db_type(connection)}[], %s::text[]) AS v(pk_, why) "
           f"ON t.{qn(pk.column)} = v.pk_ ORDER BY t.{qn(pk.column)}")
    with connection.cursor() as cur:
        cur.execute(sql, [timezone.now(), kind, user.pk, [o.pk for o in objs], list(why)])
    return True


def bulk_insert(objs: list[models.Model]) -> list[models.Model]:
    """`bulk_create` of new rows of one model (ids set on the objects); on PostgreSQL the
    rows are COPYed (`copy_insert`) — a 500-row INSERT of 20 columns is 10,000 parameters
    for the client to bind. Like bulk_create: no save(), no signals."""
    if not objs:
        return objs
    model = type(objs[0])
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    if (connection.vendor != "postgresql"
            or not isinstance(meta.pk, models.AutoField | models.BigAutoField)
            or any(o.pk is not None for o in objs)
            or any(getattr(f, "generated", False) or f.db_default is not models.NOT_PROVIDED
                   for f in fields)):
        return model._default_manager.bulk_create(objs)
    ids = copy_insert(model, [f.column for f in fields], (
        [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
        for obj in objs), len(objs))
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding, obj._state.db = False, connection.alias
    return objs


def copy_insert(model: type[models.Model], columns: list[str], rows: Iterable[list[Any]],
                count: int) -> list[int]:
    """PostgreSQL only: `count` new rows of `model`, each a list of values in the order of
    `columns` (the primary key left out), written by one COPY with ids drawn from the
    table's sequence first. Returns the ids in the rows' order. For writers that hold
    plain values, not model instances (the statement import's exceptions, bulk_insert)."""
    meta = model._meta
    qn = connection.ops.quote_name
    with connection.cursor() as cur:
        cur.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [meta.db_table, meta.pk.column, count])
        ids = [pk for (pk,) in cur.fetchall()]
        cols = ", ".join(qn(c) for c in [meta.pk.column, *columns])
        with cur.cursor.copy(f"COPY {qn(meta.db_table)} ({cols}) FROM STDIN") as cp:
            for pk, row in zip(ids, rows, strict=True):
                cp.write_row([pk, *row])
    return ids


def remember_stored(obj: models.Model) -> None:
    """After a row was just written in this transaction: remember its values as stored,
    as `LoadedValues` does for a row read, so that the next save_with_history of it skips
    the unique checks its unchanged fields would repeat."""
    obj._loaded_values = {f.attname: getattr(obj, f.attname)  # type: ignore[attr-defined]
                          for f in obj._meta.concrete_fields}


def save_with_history(obj: models.Model, *, user: Any, reason: str,
                      skip_unique: frozenset[str] = frozenset()) -> None:
    """Validate and save a master-data row; the history row carries user and reason.
    `skip_unique`: single-field unique checks not sent (as for full_clean), e.g. for a
    value just drawn at random, whose unique index guards the INSERT."""
    full_clean(obj, skip_unique=skip_unique)
    obj._history_user = user  # type: ignore[attr-defined]  # read by simple-history
    obj._change_reason = reason  # type: ignore[attr-defined]
    obj.save()


@transaction.atomic
def fiscal_year_open(*, year: int, user: Any, reason: str = "open fiscal year") -> FiscalYear:
    """Create the year, its twelve open periods and the voucher sequence (idempotent)."""
    fy = FiscalYear.objects.filter(year=year).first()
    if fy is None:
        fy = FiscalYear(year=year)
        save_with_history(fy, user=user, reason=reason)
    for month in range(1, 13):
        if not Period.objects.filter(fiscal_year=fy, month=month).exists():
            save_with_history(Period(fiscal_year=fy, month=month), user=user, reason=reason)
    VoucherSequence.objects.get_or_create(
        fiscal_year=year, defaults={"last_hash": sha256(f"{GENESIS}|smart-finance|{year}")}
    )
    if settings.LEDGER_PARTITIONS:
        # PostgreSQL with a partitioned finance_line: the year's own partition (rows of the
        # year already in the DEFAULT partition move into it); elsewhere nothing
        partitions.year_partition_ensure(year)
    return fy


def _set_period_status(year: int, month: int, status: str, user: Any, reason: str) -> Period:
    with transaction.atomic():
        # Locking the sequence row serialises the change against in-flight postings.
        seq = VoucherSequence.objects.select_for_update().filter(fiscal_year=year).first()
        period = Period.objects.select_for_update().filter(fiscal_year__year=year,
                                                           month=month).first()
        if seq is None or period is None:
            raise PeriodMissing(year=year, month=month)
        if period.status != status:
            period.status = status
            save_with_history(period, user=user, reason=reason)
            bit = 1 << (month - 1)
            seq.closed_months = (seq.closed_months | bit if status == Period.Status.CLOSED
                                 else seq.closed_months & ~bit)
            seq.save(update_fields=["closed_months"])
        return period


def period_close(*, year: int, month: int, user: Any, reason: str = "month close") -> Period:
    return _set_period_status(year, month, Period.Status.CLOSED, user, reason)


def period_reopen(*, year: int, month: int, user: Any, reason: str) -> Period:
    return _set_period_status(year, month, Period.Status.OPEN, user, reason)


def region_upsert(*, code: str, name: str, level: str, parent_code: str = "", user: Any,
                  reason: str) -> Region:
    region = Region.objects.filter(code=code).first() or Region(code=code)
    parent = Region.objects.get(code=parent_code) if parent_code else None
    if (region.pk and region.name == name and region.level == level
            and region.parent_id == (parent.pk if parent else None)):
        return region
    region.name, region.level, region.parent = name, level, parent
    save_with_history(region, user=user, reason=reason)
    return region


def organization_upsert(*, code: str, name: str, kind: str, region_code: str, uscc: str,
                        parent_code: str = "", user: Any, reason: str) -> Organization:
    """Create or change an organization; the USCC is validated; unchanged rows are left
    alone (no history row)."""
    org = Organization.objects.filter(code=code).first() or Organization(code=code)
    parent = Organization.objects.get(code=parent_code) if parent_code else None
    region = Region.objects.get(code=region_code)
    new = {"name": name, "kind": kind, "region_id": region.pk, "uscc": uscc,
           "parent_id": parent.pk if parent else None}
    if org.pk and all(getattr(org, k) == v for k, v in new.items()):
        return org
    for k, v in new.items():
        setattr(org, k, v)
    save_with_history(org, user=user, reason=reason)
    return org


def membership_set(*, member: Any, organization: Organization, user: Any,
                   reason: str = "membership") -> Membership:
    """Say which organization `member` works for (one each; kept with history). The
    member object's cached organization (finance.roles) is set to it."""
    m = Membership.objects.filter(user=member).first() or Membership(user=member)
    if m.pk is None or m.organization_id != organization.pk:
        m.organization = organization
        save_with_history(m, user=user, reason=reason)
    roles.remember_organization(member, organization)
    return m


def role_grant(*, member: Any, role: str) -> None:
    """Give `member` a role (its Django group, created if need be); the member object's
    cached roles are dropped so the next check reads them again."""
    if role not in roles.GROUP_ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(roles.GROUP_ROLES)}")
    member.groups.add(Group.objects.get_or_create(name=role)[0])
    roles.forget(member)


def workflow_record(*, document: models.Model, from_state: str, to_state: str, action: str,
                    user: Any, comment: str = "", as_of: datetime | None = None) -> WorkflowStep:
    """Record one workflow transition of any document (the shared trail)."""
    return WorkflowStep.objects.create(
        doc_type=ContentType.objects.get_for_model(document), doc_id=str(document.pk),
        from_state=from_state, to_state=to_state, action=action,
        actor=user if getattr(user, "pk", None) else None,
        at=as_of or timezone.now(), comment=comment,
    )


def workflow_record_many(steps: list[tuple], *, action: str, user: Any, comment: str = "",
                         as_of: datetime | None = None) -> list[WorkflowStep]:
    """workflow_record for many documents in one INSERT: (document, from, to),
    (document, from, to, comment) or (document, from, to, comment, at) each."""
    at = as_of or timezone.now()
    actor = user if getattr(user, "pk", None) else None
    return bulk_insert([
        WorkflowStep(doc_type=ContentType.objects.get_for_model(step[0]), doc_id=str(step[0].pk),
                     from_state=step[1], to_state=step[2], action=action, actor=actor,
                     at=step[4] if len(step) > 4 else at,
                     comment=step[3] if len(step) > 3 else comment) for step in steps])
