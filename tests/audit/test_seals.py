"""Tamper evidence: verify_ledger finds an edited amount, a deleted line, an inserted
entry and an edited history row, names the first broken item, and passes when clean."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from audit import services
from audit.models import Alert, HistorySeal
from finance import selectors as finance_selectors
from finance import services as finance_services
from finance.ids import make_uscc
from finance.models import Entry, Organization
from tests.audit.conftest import request_and_pay

D = Decimal
LATER = timezone.now() + dt.timedelta(days=1)


def _tamper(sql: str, params: list) -> None:
    """Raw SQL with the immutability triggers switched off, as an attacker with DB access."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute(sql, params)


def _entry_6_raised() -> Entry:
    """1.00 more on both sides of entry 6 (lines 1 and 2): it still balances, its content
    does not match its hash."""
    target = Entry.objects.get(number=6)
    _tamper("UPDATE finance_line SET debit_fen = debit_fen + 100, credit_fen = 0 "
            "WHERE entry_id = %s AND seq = 1", [target.pk])
    _tamper("UPDATE finance_line SET credit_fen = credit_fen + 100 WHERE entry_id = %s "
            "AND seq = 2", [target.pk])
    return target


@pytest.fixture
def sealed(budget, orgs):
    """Three payments, the bureau renamed twice, every history row sealed."""
    for amount in (D("10.00"), D("20.00"), D("30.00")):
        request_and_pay(budget, amount)
    for name in ("深圳市财政局（新）", "深圳市财政局"):
        finance_services.organization_upsert(
            code="440300001", name=name, kind="bureau", region_code="440300",
            uscc=make_uscc("440300", 1), user=budget["filer"], reason="rename")
    services.history_seal(as_of=LATER)
    return budget


class TestHistorySeal:
    def test_seals_every_history_row_once(self, sealed):
        org_rows = Organization.history.count()
        assert HistorySeal.objects.filter(table="finance_historicalorganization").count() == org_rows
        assert services.history_seal(as_of=LATER) == {}

    def test_rows_inside_the_grace_period_wait_for_the_next_run(self, orgs):
        # the organizations were written just now: not sealed yet (rows a data migration
        # wrote when the test database was made may be past the grace period by the time
        # this test runs, and may be sealed here)
        assert "finance.organization" not in services.history_seal()
        assert services.history_seal(as_of=LATER)["finance.organization"] == 4

    def test_a_clean_ledger_and_clean_history_verify(self, sealed, capsys):
        result = finance_selectors.ledger_verify()
        assert result.ok, result.problems
        assert result.checked["sealed history rows"] == HistorySeal.objects.count()
        call_command("verify_ledger")
        out = capsys.readouterr().out
        assert "ledger OK" in out and "sealed history rows" in out


@pytest.mark.postgres
class TestTamperingIsFound:
    def test_an_edited_amount(self, sealed, capsys):
        target = _entry_6_raised()
        with pytest.raises(CommandError):
            call_command("verify_ledger")
        err = capsys.readouterr().err
        assert (f"FIRST BROKEN: entry 2026-6 (id {target.pk}): content does not match its hash"
                in err)

    def test_a_deleted_line(self, sealed):
        target = Entry.objects.get(number=8)  # a payment: six lines
        _tamper("DELETE FROM finance_line WHERE entry_id = %s AND seq IN (5, 6)", [target.pk])
        result = finance_selectors.ledger_verify()
        assert (result.first_broken.number, result.first_broken.entry_id) == (8, target.pk)
        assert "content does not match" in result.first_broken.reason

    def test_an_inserted_entry(self, sealed):
        last = Entry.objects.order_by("-number").first()
        # a copy of the last payment, lines and all, chained onto it
        _tamper("INSERT INTO finance_entry (fiscal_year, number, date, month, description, kind, "
                "source_type_id, source_id, tracking_id, content_hash, prev_hash, hash, "
                "posted_by_id, posted_at) SELECT fiscal_year, number + 1, date, month, "
                "description, kind, source_type_id, source_id, tracking_id, content_hash, hash, "
                "hash, posted_by_id, posted_at FROM finance_entry WHERE id = %s", [last.pk])
        added = Entry.objects.get(number=last.number + 1)
        _tamper("INSERT INTO finance_line (entry_id, seq, book, account_id, year, region_id, "
                "unit_id, function_id, economic_id, fund_source_id, project_code, debit_fen, "
                "credit_fen) SELECT %s, seq, book, account_id, year, region_id, unit_id, "
                "function_id, economic_id, fund_source_id, project_code, debit_fen, credit_fen "
                "FROM finance_line WHERE entry_id = %s", [added.pk, last.pk])
        result = finance_selectors.ledger_verify()
        assert (result.first_broken.number, result.first_broken.entry_id) == (
            last.number + 1, added.pk)
        assert result.first_broken.reason == "entry hash does not match (header changed)"

    def test_an_edited_history_row_names_the_row(self, sealed, capsys):
        row = Organization.history.filter(name="深圳市财政局（新）").get()
        _tamper("UPDATE finance_historicalorganization SET name = %s WHERE history_id = %s",
                ["深圳市财政局（改）", row.history_id])
        with pytest.raises(CommandError):
            call_command("verify_ledger")
        err = capsys.readouterr().err
        assert (f"FIRST BROKEN: history finance.organization row {row.history_id}: "
                "row content does not match its seal (changed)") in err

    def test_a_deleted_history_row(self, sealed):
        row = Organization.history.filter(name="深圳市财政局（新）").get()
        _tamper("DELETE FROM finance_historicalorganization WHERE history_id = %s",
                [row.history_id])
        problem = finance_selectors.ledger_verify().first_broken
        assert problem.where == f"history finance.organization row {row.history_id}"
        assert problem.reason == "sealed row is missing (deleted)"

    def test_a_history_row_inserted_among_sealed_ones(self, sealed):
        first = Organization.history.order_by("history_id").first()
        _tamper("INSERT INTO finance_historicalorganization (history_id, id, code, name, kind, "
                "parent_id, region_id, uscc, active, history_date, history_change_reason, "
                "history_type, history_user_id) SELECT history_id - 1000000, id, code, 'x', kind, "
                "parent_id, region_id, uscc, active, history_date, 'x', '~', NULL "
                "FROM finance_historicalorganization WHERE history_id = %s", [first.history_id])
        problem = finance_selectors.ledger_verify().first_broken
        assert problem.where == f"history finance.organization row {first.history_id - 1000000}"
        assert "inserted after sealing" in problem.reason


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestDailyVerification:
    def test_a_failed_verification_raises_one_alert_naming_the_first_broken_entry(self, budget):
        from audit.tasks import verify_ledger_task

        assert verify_ledger_task.delay().get()["ok"] is True
        target = Entry.objects.get(number=2)
        _tamper("UPDATE finance_entry SET description = 'x' WHERE id = %s", [target.pk])
        outcome = verify_ledger_task.delay().get()
        assert outcome["ok"] is False
        alert = Alert.objects.get(rule__code="ledger_verify")
        assert alert.message.startswith(f"FIRST BROKEN: entry 2026-2 (id {target.pk})")
        verify_ledger_task.delay().get()
        assert Alert.objects.filter(rule__code="ledger_verify").count() == 1  # once a day


class TestSealCommand:
    def test_seals_and_reports_counts(self, orgs, capsys):
        call_command("seal_history", "--grace", "0")
        out = capsys.readouterr().out
        assert "finance.organization: 4 rows sealed" in out
        call_command("seal_history", "--grace", "0")
        assert "sealed 0 rows" in capsys.readouterr().out


class TestRowHash:
    """A history row's hash is the SHA-256 of its canonical JSON, written out here by hand
    (the seals of rows sealed before any change of the code must still verify)."""

    def test_the_canonical_text_of_every_kind_of_column(self):
        import hashlib
        import zoneinfo

        from audit.seals import row_hash

        class Code(str):  # a subclass of a plain type goes the long way, to the same text
            pass

        sh = zoneinfo.ZoneInfo("Asia/Shanghai")
        columns = ["a_at", "amount", "b_naive", "day", "flag", "history_id", "meta", "name",
                   "none", "code"]
        row = (dt.datetime(2026, 12, 14, 9, 30, 5, 120000, tzinfo=sh), Decimal("1234.50"),
               dt.datetime(2026, 1, 2, 3, 4, 5),  # noqa: DTZ001 - a naive one on purpose
               dt.date(2026, 12, 31), True, 42,
               {"z": 1, "甲": [Decimal("0.10"), None]}, "深圳市财政局 \"国库\"", None, Code("07"))
        text = ('{"a_at":"2026-12-14T01:30:05.120000+00:00","amount":"1234.50",'
                '"b_naive":"2026-01-02T03:04:05","code":"07","day":"2026-12-31","flag":true,'
                '"history_id":42,"meta":"{\\"z\\": 1, \\"甲\\": [\\"0.10\\", null]}",'
                '"name":"深圳市财政局 \\"国库\\"","none":null}')
        assert row_hash(columns, row) == hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestVerifiedInProcesses:
    """`verify_ledger --workers 2`: the year's chain, the balances and the history seals
    are checked in forked processes (each on its own connection) with the report of the
    one-process check: the same problems in the same order, the same counts."""

    def test_the_same_report_as_one_process(self, sealed, capsys):
        target = _entry_6_raised()
        row = Organization.history.filter(name="深圳市财政局（新）").get()
        _tamper("UPDATE finance_historicalorganization SET name = %s WHERE history_id = %s",
                ["深圳市财政局（改）", row.history_id])
        one = finance_selectors.ledger_verify()
        two = finance_selectors.ledger_verify(workers=2)
        found = [str(p) for p in two.problems]
        # by hand: the entry's content hash, then the two running balances its two lines
        # feed (each now 1.00 behind the lines), then the renamed history row
        assert found[0] == (f"entry 2026-6 (id {target.pk}): content does not match its hash "
                            "(a line or field was changed)")
        assert len(found) == 4 and all("lines sum to" in p for p in found[1:3])
        assert found[3] == (f"history finance.organization row {row.history_id}: row content "
                            "does not match its seal (changed)")
        assert found == [str(p) for p in one.problems]
        assert (two.entries_checked, two.lines_checked, two.balances_checked, two.checked,
                [h.line() for h in two.heads]) == (
            one.entries_checked, one.lines_checked, one.balances_checked, one.checked,
            [h.line() for h in one.heads])
        assert two.entries_checked == Entry.objects.count() and two.problems_found == 4
        with pytest.raises(CommandError):
            call_command("verify_ledger", "--workers", "2")
        assert "FIRST BROKEN: entry 2026-6" in capsys.readouterr().err

    def test_the_parts_ran_in_other_processes(self, sealed, monkeypatch):
        import os

        def where(result):  # a registered verifier that says which process ran it
            result.checked["process"] = os.getpid()

        monkeypatch.setattr(finance_selectors, "_verifiers", [*finance_selectors._verifiers, where])
        assert finance_selectors.ledger_verify().checked["process"] == os.getpid()
        two = finance_selectors.ledger_verify(workers=2)
        assert two.ok and two.checked["process"] != os.getpid()
