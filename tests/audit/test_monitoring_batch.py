"""Monitoring of a posting batch (entries_evaluate, the ledger's `many` hook): the same
findings as entry by entry, with the rules, payments, neighbourhoods and payees read once."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit import monitoring, services, tasks
from audit.models import Alert
from finance.ledger import EntryInput, entries_post
from finance.models import Entry
from tests.audit.conftest import at, request_and_pay
from tests.helpers import commit_lines, dims, pay_lines

D = Decimal


def _found() -> set[tuple[str, str, str]]:
    return set(Alert.objects.values_list("rule__code", "fingerprint", "message"))


class TestEntriesEvaluate:
    def test_finds_what_entry_by_entry_finds(self, budget, people):
        services.monitoring_rule_update(code="split_payment", params={"threshold": "500.00"},
                                        user=people["head"], reason="test")
        request_and_pay(budget, D("120.50"))
        request_and_pay(budget, D("120.50"), day=dt.date(2026, 3, 12))  # duplicate
        request_and_pay(budget, D("300.00"), day=dt.date(2026, 3, 11))
        request_and_pay(budget, D("250.00"), day=dt.date(2026, 3, 11))  # split
        request_and_pay(budget, D("10.00"), unit="440300102", hour=23)  # at night
        request_and_pay(budget, D("700.00"), unit="440300102", day=dt.date(2026, 12, 20))
        request_and_pay(budget, D("120.50"), function="2010101")  # other function: no duplicate
        entries = list(Entry.objects.exclude(kind="approval").order_by("id"))

        batch = monitoring.entries_evaluate(entries)
        at_once = _found()
        Alert.objects.all().delete()
        one_by_one = [a for e in entries for a in monitoring.entry_evaluate(e)]

        assert at_once == _found()
        assert len(batch) == len(one_by_one)
        assert {code for code, _f, _m in at_once} == {
            "duplicate_payment", "split_payment", "outside_hours", "december_spike"}

    def test_reads_the_payments_and_their_neighbours_once_for_the_batch(self, budget):
        for i in range(6):
            request_and_pay(budget, D("100.00") + i, day=dt.date(2026, 3, 10 + i % 3))
        entries = list(Entry.objects.exclude(kind="approval").order_by("id"))
        monitoring.rules_all()  # installs the default rules on first use
        with CaptureQueriesContext(connection) as six:
            monitoring.entries_evaluate(entries)
        fresh = list(Entry.objects.filter(pk__in=[e.pk for e in entries[:2]]))
        with CaptureQueriesContext(connection) as two:
            monitoring.entries_evaluate(fresh)
        assert len(six) == len(two) <= 6  # does not grow with the batch

    def test_december_payments_are_summed_once_per_batch_not_per_payment(self, budget):
        # by hand: unit 440300102 holds 2,000.00 of authority (tests/audit/conftest.py);
        # 6 December payments of 110.00-115.00 on it add up to 675.00, 33.8 % (> 30 %)
        for i in range(6):
            request_and_pay(budget, D("110.00") + i, unit="440300102",
                            day=dt.date(2026, 12, 14 + i % 3))
        entries = list(Entry.objects.exclude(kind="approval").order_by("id"))
        monitoring.rules_all()
        with CaptureQueriesContext(connection) as six:
            monitoring.entries_evaluate(entries)
        assert list(Alert.objects.filter(rule__code="december_spike").values_list(
            "message", flat=True)) == ["Unit 440300102 paid 675.00 in December 2026, 33.8% of "
                                       "its annual indicator 2,000.00 (limit 30.0%)."]
        Alert.objects.all().delete()
        fresh = list(Entry.objects.filter(pk__in=[e.pk for e in entries[:4]]))  # 2 payments
        with CaptureQueriesContext(connection) as two:
            monitoring.entries_evaluate(fresh)
        assert len(six) == len(two)  # does not grow with the December payments

    def test_only_the_time_rule_for_entries_that_cannot_be_payments(self, budget):
        request_and_pay(budget, D("120.50"))
        request_and_pay(budget, D("120.50"), day=dt.date(2026, 3, 12))
        ids = list(Entry.objects.exclude(kind="approval").values_list("id", flat=True))
        assert tasks.entries_evaluate_task(entry_ids=ids, payment_ids=[]) == 0
        assert tasks.entries_evaluate_task(entry_ids=ids, payment_ids=ids) == 1


class TestBatchHook:
    def test_a_posting_batch_is_monitored_once_after_commit(self, budget, people,
                                                            django_capture_on_commit_callbacks):
        d = dims()
        entries_post(entries=[EntryInput(lines=commit_lines(D("160.00"), d), description="c")],
                     user=people["filer"], as_of=at(dt.date(2026, 3, 10), 10))
        pays = [EntryInput(lines=pay_lines(D("80.00"), d), description="p1",
                           on=dt.date(2026, 3, 10)),
                EntryInput(lines=pay_lines(D("80.00"), d), description="p2",
                           on=dt.date(2026, 3, 11))]
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            posted = entries_post(entries=pays, user=people["treasury"],
                                  as_of=at(dt.date(2026, 3, 11), 11))
        assert len(callbacks) == 1
        alert = Alert.objects.get(rule__code="duplicate_payment")
        assert alert.details["entries"] == sorted(e.pk for e in posted)
