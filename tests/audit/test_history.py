"""History of any model kept with simple-history: as of a date, and what changed."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from audit import selectors
from audit.errors import (
    MSG_NO_RECORD_AS_OF,
    MSG_UNKNOWN_HISTORY_MODEL,
    NoRecordAsOf,
    UnknownHistoryModel,
)
from finance.services import save_with_history


def _at(day: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(f"{day}T10:00"))


@pytest.fixture
def renamed(orgs, people):
    """Unit 1 created (now), renamed on 2026-02-01 by head, moved to unit 2's parent
    and deactivated on 2026-03-01 by treasury; its first history row is dated 2026-01-05."""
    unit = orgs["u1"]
    first = unit.history.order_by("history_id").first()
    type(first).objects.filter(history_id=first.history_id).update(history_date=_at("2026-01-05"))
    unit.name = "深圳市第一高级中学"
    unit._history_date = _at("2026-02-01")
    save_with_history(unit, user=people["head"], reason="更名 rename")
    unit.active = False
    unit.parent = orgs["bureau"]
    unit._history_date = _at("2026-03-01")
    save_with_history(unit, user=people["treasury"], reason="撤销 retire")
    return unit


class TestRecordAsOf:
    def test_shows_the_record_as_it_was_on_a_date(self, renamed):
        jan = selectors.record_as_of(label="finance.organization", pk=renamed.pk, when="2026-01-31")
        assert jan.value("name") == "深圳市第一中学"
        assert jan.value("parent_id") == "440300100 深圳市教育局"
        assert jan.value("active") == "True"
        feb = selectors.record_as_of(label="finance.organization", pk=renamed.pk,
                                     when=dt.date(2026, 2, 1))
        assert (feb.value("name"), feb.user, feb.reason) == ("深圳市第一高级中学", "head", "更名 rename")

    def test_refuses_a_date_before_the_record_existed(self, renamed):
        with pytest.raises(NoRecordAsOf) as err:
            selectors.record_as_of(label="finance.organization", pk=renamed.pk, when="2025-12-31")
        assert str(err.value) == str(MSG_NO_RECORD_AS_OF) % {
            "label": "finance.organization", "pk": renamed.pk,
            "when": "2025-12-31T23:59:59.999999+08:00"}

    def test_refuses_a_model_without_history(self, db):
        with pytest.raises(UnknownHistoryModel) as err:
            selectors.record_as_of(label="finance.line", pk=1, when="2026-01-01")
        assert str(err.value) == str(MSG_UNKNOWN_HISTORY_MODEL) % {"label": "finance.line"}

    def test_every_business_model_with_history_is_listed(self, db):
        labels = selectors.history_models()
        assert {"finance.organization", "finance.functioncode", "finance.account",
                "audit.monitoringrule", "audit.alert"} <= set(labels)


class TestRecordChanges:
    def test_lists_each_change_between_two_dates_field_by_field(self, renamed):
        diff = selectors.record_changes(label="finance.organization", pk=renamed.pk,
                                        start="2026-01-31", end="2026-03-31")
        # in the model's field order
        assert [(c.name, c.old, c.new) for c in diff.net] == [
            ("name", "深圳市第一中学", "深圳市第一高级中学"),
            ("parent_id", "440300100 深圳市教育局", "440300001 深圳市财政局"),
            ("active", "True", "False"),
        ]
        assert [(s.user, s.reason, sorted(c.name for c in s.changes)) for s in diff.steps] == [
            ("head", "更名 rename", ["name"]),
            ("treasury", "撤销 retire", ["active", "parent_id"]),
        ]

    def test_an_interval_without_changes_is_empty(self, renamed):
        diff = selectors.record_changes(label="finance.organization", pk=renamed.pk,
                                        start="2026-02-02", end="2026-02-28")
        assert diff.net == [] and diff.steps == []
