"""The same finding raised at once by several postings is stored once, without errors."""
from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import Alert
from audit.services import alert_raise, monitoring_rule_get


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestAlertRaiseRace:
    def test_eight_concurrent_raises_of_one_fingerprint_store_one_alert(self):
        rule = monitoring_rule_get(code="duplicate_payment")
        barrier = threading.Barrier(8)

        def raise_one(i: int):
            try:
                barrier.wait()
                return alert_raise(rule=rule, fingerprint="1:2", message=f"dup {i}",
                                   as_of=timezone.now() - dt.timedelta(seconds=i))
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(raise_one, range(8)))
        assert sum(r is not None for r in results) == 1
        assert Alert.objects.filter(fingerprint="duplicate_payment:1:2").count() == 1


@pytest.mark.django_db
class TestAlertRaiseLostRace:
    def test_a_finding_stored_between_check_and_save_is_not_an_error(self, monkeypatch):
        """Fault injection: the duplicate check runs before another posting commits the
        same finding, so the save meets the unique fingerprint."""
        from django.db.models.query import QuerySet

        rule = monitoring_rule_get(code="duplicate_payment")
        first = alert_raise(rule=rule, fingerprint="7:8", message="first", as_of=timezone.now())
        real_exists = QuerySet.exists
        calls = {"n": 0}

        def stale_exists(qs):
            calls["n"] += 1
            return False if calls["n"] == 1 else real_exists(qs)

        monkeypatch.setattr(QuerySet, "exists", stale_exists)
        again = alert_raise(rule=rule, fingerprint="7:8", message="again", as_of=timezone.now())
        assert first is not None and again is None
        assert Alert.objects.filter(fingerprint="duplicate_payment:7:8").count() == 1
