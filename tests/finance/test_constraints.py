"""Check constraints decided in Python (finance.constraints) agree with Django's own
database check (`SELECT … WHERE COALESCE(condition, true)`) for every check constraint of
every installed model, over values at and around each literal the condition names (None,
'', boundaries, every status it mentions). Runs on SQLite and, in CI, on PostgreSQL."""
from __future__ import annotations

import datetime as dt
import itertools
import random
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import Q

from finance import constraints as fc


def _leaves(q):  # noqa: ANN001, ANN202
    for child in q.children:
        if isinstance(child, Q):
            yield from _leaves(child)
        else:
            yield child


def _check_constraints():
    found = []
    for model in apps.get_models():
        for c in model._meta.constraints:
            if isinstance(c, models.CheckConstraint):
                found.append((model, c))
    return found


def _candidates(field: models.Field, literals: list) -> list:
    values: list = [None] if field.null else []
    if isinstance(field, models.ForeignKey):
        return [*values, 1, 2]
    if isinstance(field, (models.DecimalField,)):
        base = [Decimal("-0.01"), Decimal("0"), Decimal("0.01"), Decimal("1"), Decimal("12.50")]
        return values + base + [Decimal(x) + d for x in literals if isinstance(x, (int, Decimal))
                                for d in (Decimal("-0.01"), 0, Decimal("0.01"))]
    if isinstance(field, (models.IntegerField, models.BigIntegerField)):
        return values + [-1, 0, 1, 2] + [x + d for x in literals if isinstance(x, int)
                                         and not isinstance(x, bool) for d in (-1, 0, 1)]
    if isinstance(field, models.DateTimeField):
        return [*values, dt.datetime(2026, 5, 1, 10, tzinfo=dt.UTC)]
    if isinstance(field, models.DateField):
        return [*values, dt.date(2026, 4, 30), dt.date(2026, 5, 1), dt.date(2026, 5, 2)]
    if isinstance(field, (models.CharField, models.TextField)):
        texts = ["", "x", "zz"] + [x for x in literals if isinstance(x, str)]
        texts += [c for c, _ in (field.choices or [])][:6]
        return values + sorted(set(texts))
    if isinstance(field, models.BooleanField):
        return [*values, True, False]
    return values


CONSTRAINTS = _check_constraints()


def test_the_project_has_check_constraints_and_python_decides_each():
    assert len(CONSTRAINTS) >= 20
    for model, c in CONSTRAINTS:
        obj = model()
        try:
            fc.q_evaluate(model, obj, Q(c.condition))
        except fc.Unsupported as e:  # a new kind of condition: say which
            pytest.fail(f"{model.__name__}.{c.name}: falls back to the database ({e})")


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "constraint"), CONSTRAINTS,
                         ids=[f"{m._meta.label}.{c.name}" for m, c in CONSTRAINTS])
def test_python_and_database_agree(model, constraint):  # noqa: ANN001
    by_field: dict[str, list] = {}
    for key, rhs in _leaves(Q(constraint.condition)):
        name = key.split("__")[0]
        if isinstance(rhs, models.F):  # another field of the row: it varies too
            by_field.setdefault(name, [])
            by_field.setdefault(rhs.name, [])
        else:
            by_field.setdefault(name, []).append(rhs)
    fields = {n: model._meta.get_field(n) for n in by_field}
    grids = [_candidates(fields[n], by_field[n]) for n in fields]
    combos = list(itertools.product(*grids))
    random.Random(constraint.name).shuffle(combos)
    checked = {True: 0, False: 0}
    for combo in combos[:300]:
        obj = model()
        for field, value in zip(fields.values(), combo, strict=True):
            setattr(obj, field.attname, value)
        python = fc.check_passes(constraint, model, obj, set())
        try:
            constraint.validate(model, obj, using=connection.alias)
            database = True
        except ValidationError:
            database = False
        assert python is database, (constraint.name, dict(zip(fields, combo, strict=True)))
        checked[python] += 1
    assert checked[True] and checked[False], checked  # both outcomes were exercised


@pytest.mark.django_db
def test_validation_errors_are_the_same_as_djangos():
    """A failing check gives the same error dict through finance.constraints as through
    Model.validate_constraints (a plan line with a zero amount)."""
    from budgets.models import PlanLine

    obj = PlanLine(amount=Decimal("0"), last_year_amount=Decimal("-1"))
    with pytest.raises(ValidationError) as ours:
        fc.validate_constraints(obj)
    with pytest.raises(ValidationError) as djangos:
        obj.validate_constraints()
    assert ours.value.message_dict == djangos.value.message_dict
    assert len(ours.value.messages) == 2


def test_excluded_fields_skip_the_condition_like_django():
    from payments.models import PaymentRequest

    (c,) = [c for c in PaymentRequest._meta.constraints if c.name == "request_amount_positive"]
    obj = PaymentRequest(amount=Decimal("-5"))
    assert fc.check_passes(c, PaymentRequest, obj, set()) is False
    assert fc.check_passes(c, PaymentRequest, obj, {"amount"}) is True


def test_an_expression_or_string_order_goes_to_the_database():
    from django.db.models import F

    from payments.models import PaymentRequest

    obj = PaymentRequest(amount=Decimal("5"), purpose="b")
    # another field of the row is read (end >= start); an expression is not
    assert fc.q_evaluate(PaymentRequest, obj, Q(amount__gte=F("amount"))) is True
    assert fc.q_evaluate(PaymentRequest, obj, Q(amount__gt=F("amount"))) is False
    with pytest.raises(fc.Unsupported):
        fc.q_evaluate(PaymentRequest, obj, Q(amount__gt=F("amount") + 1))
    with pytest.raises(fc.Unsupported):
        fc.q_evaluate(PaymentRequest, obj, Q(purpose__gt="a"))
    with pytest.raises(fc.Unsupported):
        fc.q_evaluate(PaymentRequest, obj, Q(purpose__startswith="a"))
    assert fc.q_evaluate(PaymentRequest, obj, Q(purpose__gt="")) is True


def test_values_python_cannot_order_go_to_the_database():
    """A naive and an aware datetime cannot be compared in Python: the database decides
    (no TypeError reaches the caller)."""
    from reports.models import DisclosureSet

    obj = DisclosureSet(approved_at=dt.datetime(2026, 5, 1, 10))  # noqa: DTZ001 - naive on purpose
    with pytest.raises(fc.Unsupported):
        fc.q_evaluate(DisclosureSet, obj,
                      Q(approved_at__gt=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))
    with pytest.raises(fc.Unsupported):
        fc.q_evaluate(DisclosureSet, obj, Q(approved_at__gt=1) ^ Q(approved_at__isnull=True))
