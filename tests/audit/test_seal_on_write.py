"""Issue 20: history is sealed as it is written (right after the writing transaction
commits), so an edited history row of a payment request is caught without waiting for
the periodic run; rows left unsealed are reported."""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.utils import timezone

from audit.models import HistorySeal
from finance import selectors
from finance import services as finance_services
from finance.ids import make_uscc
from finance.models import Organization
from payments.models import PaymentRequest
from tests.payments.conftest import (  # noqa: F401 - the payments fixtures, by name
    acme,
    agent,
    banks,
    file_request,
    ledger,
    people,
    plan,
    ready,
)
from tests.payments.test_bank import day, paid  # noqa: F401 - the paid vouchers, by name


def _tamper(sql: str, params: list) -> None:
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute(sql, params)


def _sealed(model: type) -> tuple[int, int]:
    table = model.history.model._meta.db_table
    return HistorySeal.objects.filter(table=table).count(), model.history.count()


@pytest.mark.django_db(transaction=True)
class TestSealedOnCommit:
    def test_a_write_is_sealed_as_soon_as_it_commits(self, ready):  # noqa: F811
        req = file_request(ready.people, ready.payee, "100.00")  # each service commits
        sealed, rows = _sealed(PaymentRequest)
        assert rows >= 2 and sealed == rows  # created and submitted: both sealed
        assert req.history.count() == rows
        result = selectors.ledger_verify()
        assert result.ok, result.problems


class TestUnsealed:
    def test_a_row_dated_in_the_future_is_named(self, orgs):  # noqa: ANN001, ARG002
        ahead = dt.datetime(2099, 1, 1, tzinfo=dt.UTC)
        row = Organization.history.order_by("history_id").first()
        Organization.history.filter(history_id=row.history_id).update(history_date=ahead)
        problems = [str(p) for p in selectors.ledger_verify().problems]
        assert problems == [f"history finance.organization row {row.history_id}: row is dated "
                            "2099-01-01T00:00:00+00:00, in the future: sealing stops at it"]

    def test_history_written_by_migrations_is_sealed_before_the_tests(self, db, monkeypatch):  # noqa: ANN001, ARG002
        from audit import seals
        from payments.models import BankProfile

        shipped = BankProfile.history.count()
        assert shipped > 0  # the shipped profiles (payments migration 0006), with history
        assert _sealed(BankProfile) == (shipped, shipped)
        monkeypatch.setattr(seals, "UNSEALED_LIMIT", dt.timedelta(0))  # as if hours later
        result = selectors.ledger_verify()
        assert result.ok and result.checked["unsealed history rows"] == 0, result.problems

    def test_rows_left_unsealed_are_reported_once_old(self, orgs):
        # no commit here (the test's transaction): nothing was sealed
        result = selectors.ledger_verify()
        assert result.ok and result.checked["unsealed history rows"] > 0
        Organization.history.update(history_date=timezone.now() - dt.timedelta(hours=1))
        result = selectors.ledger_verify()
        unsealed = [p for p in result.problems if "row is not sealed" in p.reason]
        assert len(unsealed) == Organization.history.count()
        assert unsealed[0].where.startswith("history finance.organization row ")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestEditedPaymentRequestHistory:
    def test_an_edited_history_row_of_a_payment_request_is_caught(self, ready, user):  # noqa: F811
        req = file_request(ready.people, ready.payee, "100.00")
        finance_services.organization_upsert(
            code="440300001", name="深圳市财政局（新）", kind="bureau", region_code="440300",
            uscc=make_uscc("440300", 1), user=user, reason="rename")
        row = req.history.order_by("history_id").first()
        _tamper("UPDATE payments_historicalpaymentrequest SET amount = amount + 1 "
                "WHERE history_id = %s", [row.history_id])
        result = selectors.ledger_verify()
        assert [str(p) for p in result.problems] == [
            f"history payments.paymentrequest row {row.history_id}: row content does not "
            "match its seal (changed)"]


@pytest.mark.django_db(transaction=True)
class TestSealedInBulk:
    """Rows written in bulk — a statement import's reconciliation exceptions (COPY and one
    INSERT … SELECT of their history on PostgreSQL, bulk_create_with_history elsewhere) and
    an update of many rows (UPDATE … FROM unnest and INSERT … SELECT) — send no simple-
    history signal per row; they are sealed as soon as they commit all the same."""

    def test_history_written_in_bulk_is_sealed_as_soon_as_it_commits(self, paid, user):  # noqa: F811
        from payments import services as pay
        from payments.models import Bank, ReconException
        from tests.payments.test_bank_set_based import AS_OF, odd_statement

        report = pay.bank_file_import(content=odd_statement(), filename="odd.xml", user=user,
                                      as_of=AS_OF)
        assert report.exceptions == 2
        assert _sealed(ReconException) == (2, 2)  # both "+" rows, sealed at the commit
        before = Bank.history.count()  # the fixtures' banks
        made = [pay.bank_upsert(cnaps=f"1025840077{i:02d}", name=f"旧{i}", user=user)
                for i in range(3)]
        for i, bank in enumerate(made):
            bank.name = f"新{i}"
        finance_services.bulk_save_with_history(made, user=user, reason="renamed",
                                                fields=["name"])
        # 3 rows created one by one, then 3 "~" rows of the update written in one statement
        assert _sealed(Bank) == (before + 6, before + 6)
        result = selectors.ledger_verify()
        assert result.ok and result.checked["unsealed history rows"] == 0, result.problems


@pytest.mark.django_db(transaction=True)
class TestBackdatedWork:
    """A run that works at a date of its own (the city-year's simulated days, a statement
    imported "as of" its value date) writes history rows dated when they are written, as
    simple-history dates them: sealing walks the rows in id order and stops at the first
    row younger than its cut-off, so a row dated by the simulated day (in the future of the
    run) left it and every row after it unsealed — the 3,000-unit year's 2 unsealed rows."""

    def test_reconciliation_history_is_dated_when_written_and_sealed_at_the_end(
            self, paid, user, monkeypatch):  # noqa: F811
        from audit import seals
        from audit import services as audit_services
        from payments import services as pay
        from payments.models import ReconException
        from tests.payments.test_bank_set_based import odd_statement

        monkeypatch.setattr(seals, "ON_WRITE", False)  # as in the city-year's parallel run
        later = timezone.now() + dt.timedelta(days=30)  # the simulated day, ahead of now
        before = timezone.now()
        report = pay.bank_file_import(content=odd_statement(), filename="odd.xml", user=user,
                                      as_of=later)
        after = timezone.now()
        assert report.exceptions == 2
        dates = list(ReconException.history.values_list("history_date", flat=True))
        assert len(dates) == 2 and all(before <= d <= after for d in dates)
        assert ReconException.objects.filter(created_at=later).count() == 2  # the day is kept
        audit_services.history_seal(grace=dt.timedelta(0))  # the run's end
        assert _sealed(ReconException) == (2, 2)
        result = selectors.ledger_verify()
        assert result.checked["unsealed history rows"] == 0, result.problems


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestSealedInProcesses:
    """`seal_history --workers 2` (the city-year's end): each table's chain sealed in a
    forked process of its own — the same seals as one process makes: every row, the same
    keyed links (a seal depends only on the row and the one before it), and it verifies."""

    def test_the_same_seals_as_one_process(self, paid, user, monkeypatch):  # noqa: F811
        import io

        from django.core.management import call_command

        from audit import seals
        from payments import services as pay

        monkeypatch.setattr(seals, "ON_WRITE", False)  # nothing sealed as it is written
        for name in ("深圳市财政局（新）", "深圳市财政局"):
            finance_services.organization_upsert(
                code="440300001", name=name, kind="bureau", region_code="440300",
                uscc=make_uscc("440300", 1), user=user, reason="rename")
        pay.bank_upsert(cnaps="102584007799", name="新银行", user=user)
        rows = {label: h.objects.count() for label, h in seals.history_models().items()}
        sealed_before = HistorySeal.objects.count()  # the fixtures' rows, sealed on commit
        waiting = sum(rows.values()) - sealed_before
        out = io.StringIO()
        call_command("seal_history", "--grace", "0", "--workers", "2", stdout=out)
        assert waiting == 3  # by hand: the bureau renamed twice, one bank created
        assert f"sealed {waiting} rows" in out.getvalue()
        by_process = list(HistorySeal.objects.order_by("table", "history_id").values_list(
            "table", "history_id", "row_hash", "prev_hash", "chain_hash"))
        assert len(by_process) == sum(rows.values())
        result = selectors.ledger_verify()
        assert result.ok and result.checked["unsealed history rows"] == 0, result.problems
        # the same seals again in one process (the table emptied as an attacker would)
        _tamper("DELETE FROM audit_historyseal", [])
        seals.history_seal(grace=dt.timedelta(0))
        assert list(HistorySeal.objects.order_by("table", "history_id").values_list(
            "table", "history_id", "row_hash", "prev_hash", "chain_hash")) == by_process
