"""Model constraints validated before a save, with check constraints evaluated in Python.

Django validates a `CheckConstraint` by sending `SELECT 1 WHERE COALESCE(<condition>, true)`
with the instance's values, inside a savepoint: three statements per constraint and save.
Every check constraint of this project is a tree of `Q` leaves over the row's own fields
with the lookups exact / gt / gte / lt / lte / isnull and literal values (or F() of another
field of the same row, as in end >= start), which Python
decides the same way (SQL's three-valued logic: a comparison with NULL is unknown, and an
unknown condition passes, as in Django's COALESCE(…, true) and in the database's CHECK).

Anything else — another lookup, any other expression, a string compared by
order (collations differ), mixed types — is handed to Django's own `constraint.validate`,
and so are unique constraints. The database constraints still guard every write; this
only decides which `ValidationError` a caller sees first, and
`tests/finance/test_constraints.py` checks that both ways agree for every check constraint
of every installed model, on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import operator
from decimal import Decimal
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models, router
from django.db.models import Q
from django.db.models.constants import LOOKUP_SEP

_NUMBERS = (int, Decimal)  # bool is an int; float is never a money value here
_ORDER = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


class Unsupported(Exception):
    """The condition needs the database (caller falls back to Django's validate)."""


class Excluded(Exception):
    """The condition names a field excluded from validation (Django skips it too)."""


def _value(model: type[models.Model], obj: models.Model, name: str, key: str,
           exclude: set[str]) -> Any:
    """The row's own value of field `name` (a local concrete field, or pk)."""
    if name == "pk":
        field = model._meta.pk
    else:
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist as e:
            raise Unsupported(key) from e
        if field not in model._meta.local_concrete_fields or field.name != name:
            raise Unsupported(key)  # attname, reverse relation, generated or inherited field
        if getattr(field, "generated", False):
            raise Unsupported(key)
    if field.name in exclude or (name == "pk" and "pk" in exclude):
        raise Excluded(key)
    value = getattr(obj, field.attname)
    if hasattr(value, "resolve_expression"):
        raise Unsupported(key)
    return value


def _leaf(model: type[models.Model], obj: models.Model, key: str, rhs: Any,
          exclude: set[str]) -> bool | None:
    name, _, lookup = key.partition(LOOKUP_SEP)
    lookup = lookup or "exact"
    if LOOKUP_SEP in lookup:
        raise Unsupported(key)
    value = _value(model, obj, name, key, exclude)
    if isinstance(rhs, models.F) and LOOKUP_SEP not in rhs.name and lookup != "isnull":
        # another field of the same row (end >= start): NULL on either side is unknown
        rhs = _value(model, obj, rhs.name, key, exclude)
        if rhs is None:
            return None
    elif hasattr(rhs, "resolve_expression"):
        raise Unsupported(key)
    if lookup == "exact" and rhs is None:
        lookup, rhs = "isnull", True
    if lookup == "isnull":
        if not isinstance(rhs, bool):
            raise Unsupported(key)
        return (value is None) is rhs
    if rhs is None:
        raise Unsupported(key)
    if value is None:
        return None  # NULL compared with anything is unknown
    numbers = isinstance(value, _NUMBERS) and isinstance(rhs, _NUMBERS)
    strings = isinstance(value, str) and isinstance(rhs, str)
    times = (type(value) is type(rhs) and isinstance(value, (dt.date, dt.datetime, dt.time)))
    if lookup == "exact":
        if not (numbers or strings or times):
            raise Unsupported(key)
        return value == rhs
    if lookup not in _ORDER:
        raise Unsupported(key)
    if strings and rhs == "" and lookup == "gt":
        return value != ""  # every non-empty string sorts after '' in any collation
    if not (numbers or times):
        raise Unsupported(key)
    try:
        return _ORDER[lookup](value, rhs)
    except TypeError as e:  # e.g. a naive and an aware datetime: the database decides
        raise Unsupported(key) from e


def _and(values: list[bool | None]) -> bool | None:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def _or(values: list[bool | None]) -> bool | None:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def q_evaluate(model: type[models.Model], obj: models.Model, q: Any,
               exclude: set[str] | None = None) -> bool | None:
    """True, False or None (unknown) for a condition on `obj`'s own fields; raises
    Unsupported or Excluded."""
    exclude = exclude or set()
    if not isinstance(q, Q):
        if isinstance(q, tuple) and len(q) == 2 and isinstance(q[0], str):
            return _leaf(model, obj, q[0], q[1], exclude)
        raise Unsupported(repr(q))
    if q.connector not in (Q.AND, Q.OR):  # XOR
        raise Unsupported(q.connector)
    parts = [q_evaluate(model, obj, child, exclude) for child in q.children]
    result = _or(parts) if q.connector == Q.OR else _and(parts)
    if q.negated:
        result = None if result is None else not result
    return result


def check_passes(constraint: models.CheckConstraint, model: type[models.Model],
                 obj: models.Model, exclude: set[str]) -> bool:
    """What `constraint.validate` decides, in Python (raises Unsupported when it can't)."""
    try:
        return q_evaluate(model, obj, Q(constraint.condition), exclude) is not False
    except Excluded:
        return True  # Django skips a condition over an excluded field (FieldError)


def validate_constraints(obj: models.Model, exclude: set[str] | None = None, *,
                         unchanged: frozenset[str] = frozenset()) -> None:
    """Model.validate_constraints() with check constraints decided in Python where they
    can be; same errors, same error dict. `unchanged`: fields of a row read from the
    database that still hold the values read — a plain unique constraint over only those
    fields can only pass and is not sent."""
    exclude = set(exclude or ())
    using = router.db_for_write(obj.__class__, instance=obj)
    errors: dict[str, Any] = {}
    for model_class, model_constraints in obj.get_constraints():
        for constraint in model_constraints:
            try:
                if (isinstance(constraint, models.UniqueConstraint) and constraint.fields
                        and constraint.condition is None and not constraint.expressions
                        and set(constraint.fields) <= unchanged):
                    continue
                if isinstance(constraint, models.CheckConstraint):
                    try:
                        if not check_passes(constraint, model_class, obj, exclude):
                            raise ValidationError(constraint.get_violation_error_message(),
                                                  code=constraint.violation_error_code)
                        continue
                    except Unsupported:
                        pass
                constraint.validate(model_class, obj, exclude=exclude, using=using)
            except ValidationError as e:
                if (getattr(e, "code", None) == "unique"
                        and len(getattr(constraint, "fields", ())) == 1):
                    errors.setdefault(constraint.fields[0], []).append(e)
                else:
                    errors = e.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)
