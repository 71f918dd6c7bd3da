"""History reads over every model kept with django-simple-history: a record as it was
at a moment, and what changed between two moments, field by field."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.functional import Promise

from audit.errors import NoRecordAsOf, UnknownHistoryModel
from audit.labels import FIELD_LABELS
from audit.seals import history_models


@dataclass(frozen=True)
class FieldValue:
    name: str
    label: str
    value: str


@dataclass(frozen=True)
class FieldChange:
    name: str
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class Snapshot:
    """A record as it was: the history row in force at `when`."""

    label: str
    pk: str
    when: dt.datetime
    history_id: int
    history_date: dt.datetime
    history_type: str
    user: str
    reason: str
    fields: list[FieldValue]

    def value(self, name: str) -> str:
        return next(f.value for f in self.fields if f.name == name)


@dataclass(frozen=True)
class ChangeSet:
    """One history row and what it changed compared with the row before it."""

    history_id: int
    history_date: dt.datetime
    history_type: str  # + created, ~ changed, - deleted
    user: str
    reason: str
    changes: list[FieldChange]


@dataclass(frozen=True)
class HistoryDiff:
    label: str
    pk: str
    start: dt.datetime
    end: dt.datetime
    net: list[FieldChange]  # as_of(start) → as_of(end)
    steps: list[ChangeSet] = field(default_factory=list)  # every change in (start, end]


def to_moment(value: dt.date | dt.datetime | str) -> dt.datetime:
    """A date means the end of that day (Asia/Shanghai); a naive datetime is local."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value or " " in value \
            else dt.date.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time.max)
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _history_model(label: str) -> type[models.Model]:
    hmodel = history_models().get(label.lower())
    if hmodel is None:
        raise UnknownHistoryModel(label=label)
    return hmodel


def model_title(label: str) -> str:
    """The model's name for people (its verbose name: 用款申请 for
    payments.paymentrequest in Chinese); the label itself when it is not a history model."""
    hmodel = history_models().get(label.lower())
    model = getattr(hmodel, "instance_type", None)
    return f"{model._meta.verbose_name}" if model is not None else label


def field_label(f: models.Field) -> str:
    """A field's name for people: its own verbose name when it has a translated one, else
    the history pages' vocabulary (audit.labels), else the verbose name as it is."""
    name = f.verbose_name
    if isinstance(name, Promise):
        return f"{name}"
    found = FIELD_LABELS.get(f"{name}")
    return f"{found}" if found is not None else f"{name}"


def _tracked_fields(hmodel: type[models.Model]) -> list[models.Field]:
    return [f for f in hmodel.tracked_fields if f.editable or f.primary_key]  # type: ignore[attr-defined]


def _display(f: models.Field, value: Any, cache: dict) -> str:
    if value is None:
        return ""
    if f.is_relation and f.related_model is not None:
        key = (f.related_model, value)
        if key not in cache:
            obj = f.related_model._default_manager.filter(pk=value).first()
            cache[key] = f"{obj}" if obj is not None else f"#{value} (deleted)"
        return cache[key]
    if getattr(f, "choices", None):
        return f"{dict(f.flatchoices).get(value, value)}"
    return f"{value}"


def _user(row: models.Model) -> str:
    user = getattr(row, "history_user", None)
    return user.get_username() if user is not None else ""


def _row_at(hmodel: type[models.Model], pk: Any, when: dt.datetime) -> models.Model | None:
    return (hmodel._default_manager.filter(id=pk, history_date__lte=when)
            .select_related("history_user").order_by("-history_date", "-history_id").first())


def record_as_of(*, label: str, pk: Any, when: dt.date | dt.datetime | str) -> Snapshot:
    """The record `label` #pk as it was at `when` (a date: the end of that day)."""
    hmodel = _history_model(label)
    moment = to_moment(when)
    row = _row_at(hmodel, pk, moment)
    if row is None or row.history_type == "-":
        raise NoRecordAsOf(label=label, pk=pk, when=moment.isoformat())
    cache: dict = {}
    fields = [FieldValue(f.attname if f.is_relation else f.name, field_label(f),
                         _display(f, getattr(row, f.attname), cache))
              for f in _tracked_fields(hmodel)]
    return Snapshot(label=label.lower(), pk=str(pk), when=moment, history_id=row.history_id,
                    history_date=row.history_date, history_type=row.history_type,
                    user=_user(row), reason=row.history_change_reason or "", fields=fields)


def _diff(hmodel: type[models.Model], old: models.Model | None, new: models.Model | None,
          cache: dict) -> list[FieldChange]:
    changes = []
    for f in _tracked_fields(hmodel):
        a = getattr(old, f.attname) if old is not None and old.history_type != "-" else None
        b = getattr(new, f.attname) if new is not None and new.history_type != "-" else None
        if a != b:
            changes.append(FieldChange(f.attname if f.is_relation else f.name,
                                       field_label(f), _display(f, a, cache),
                                       _display(f, b, cache)))
    return changes


def record_changes(*, label: str, pk: Any, start: dt.date | dt.datetime | str,
                   end: dt.date | dt.datetime | str) -> HistoryDiff:
    """What changed on `label` #pk between `start` and `end`: the net field-by-field
    difference and each change in between with who, when and why."""
    hmodel = _history_model(label)
    a, b = to_moment(start), to_moment(end)
    cache: dict = {}
    rows = list(hmodel._default_manager.filter(id=pk, history_date__lte=b)
                .select_related("history_user").order_by("history_date", "history_id"))
    before = [r for r in rows if r.history_date <= a]
    previous = before[-1] if before else None
    steps = []
    for row in rows[len(before):]:
        steps.append(ChangeSet(history_id=row.history_id, history_date=row.history_date,
                               history_type=row.history_type, user=_user(row),
                               reason=row.history_change_reason or "",
                               changes=_diff(hmodel, previous, row, cache)))
        previous = row
    at_start = before[-1] if before else None
    at_end = rows[-1] if rows else None
    return HistoryDiff(label=label.lower(), pk=str(pk), start=a, end=b,
                       net=_diff(hmodel, at_start, at_end, cache), steps=steps)
