"""Issue 20, the cost of the keyed chain: on PostgreSQL a posting that is its own
transaction sends its keyed MAC and the COMMIT in one message (finance.ledger.
_insert_macs), so the year's sequence row is locked no longer than without the MAC.
These tests run outside the test transaction (transaction=True) to take that path."""
from __future__ import annotations

import os
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from finance import errors, selectors
from finance import ledger as posting
from finance.chain import EntryMac, ledger_keys
from finance.ledger import entry_post
from finance.models import Entry
from tests.helpers import ON, commit_lines, sealed_under_the_key_now_set

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def keyed(db):  # noqa: ANN001, ARG001
    old = os.environ.get("LEDGER_KEYS")
    os.environ["LEDGER_KEYS"] = "k1:" + "azEtdGhlLWNpdHlzLWxlZGdlci1zZWNyZXQ="
    ledger_keys.cache_clear()
    sealed_under_the_key_now_set()  # the installation has always had k1
    yield
    if old is None:
        os.environ.pop("LEDGER_KEYS", None)
    else:
        os.environ["LEDGER_KEYS"] = old
    ledger_keys.cache_clear()


def _statements(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries]


class TestMacAndCommitInOneMessage:
    def test_a_posting_of_its_own_commits_with_its_mac(self, ledger, user):
        hooks: list = []
        posting.register_after_posting(hooks.append)
        try:
            with CaptureQueriesContext(connection) as ctx:
                entry = entry_post(lines=commit_lines(Decimal("15.00")), description="申请",
                                   user=user, on=ON)
        finally:
            posting._after_posting.remove(hooks.append)
        fused = [s for s in _statements(ctx) if "finance_entrymac" in s]
        assert len(fused) == 1 and fused[0].rstrip().endswith("; COMMIT")
        assert hooks == [entry]  # the on-commit hooks ran as usual
        assert not connection.in_atomic_block and connection.get_autocommit()
        mac = EntryMac.objects.get(entry=entry)
        assert mac.key_id == "k1"
        assert selectors.ledger_verify().ok

    def test_inside_a_callers_transaction_the_mac_is_a_statement_and_rolls_back(self, ledger,
                                                                                user):
        before = Entry.objects.count()
        with pytest.raises(RuntimeError, match="caller fails"), transaction.atomic():
            with CaptureQueriesContext(connection) as ctx:
                entry_post(lines=commit_lines(Decimal("15.00")), description="申请",
                           user=user, on=ON)
            fused = [s for s in _statements(ctx) if "finance_entrymac" in s]
            assert len(fused) == 1 and "COMMIT" not in fused[0]
            raise RuntimeError("caller fails")
        assert Entry.objects.count() == before and EntryMac.objects.count() == before
        entry_post(lines=commit_lines(Decimal("15.00")), description="申请", user=user, on=ON)
        assert selectors.ledger_verify().ok  # the number was not used up: no gap

    def test_a_refused_posting_leaves_nothing_and_the_next_one_goes_through(self, ledger, user):
        with pytest.raises(errors.IndicatorInsufficient):
            entry_post(lines=commit_lines(Decimal("5000.00")), description="太多", user=user,
                       on=ON)
        e = entry_post(lines=commit_lines(Decimal("1.00")), description="申请", user=user, on=ON)
        assert EntryMac.objects.filter(entry=e).exists()
        assert selectors.ledger_verify().ok

    def test_concurrent_postings_are_gap_free_and_each_has_its_mac(self, ledger, user):
        def post(i: int) -> None:
            try:
                for j in range(10):
                    entry_post(lines=commit_lines(Decimal("1.00")), description=f"申请{i}-{j}",
                               user=user, on=ON)
            finally:
                connection.close()

        threads = [threading.Thread(target=post, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        numbers = list(Entry.objects.order_by("number").values_list("number", flat=True))
        assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 60
        assert EntryMac.objects.count() == len(numbers)
        assert selectors.ledger_verify().ok

    def test_only_checked_literals_are_sent(self, ledger, user, monkeypatch):
        monkeypatch.setattr(posting, "entry_mac",
                            lambda **kw: ("k1", "0'; DROP TABLE finance_entry; --"))
        with pytest.raises(ValueError, match="unexpected key id or MAC"):
            entry_post(lines=commit_lines(Decimal("1.00")), description="申请", user=user, on=ON)
        assert Entry.objects.filter(description="申请").count() == 0

