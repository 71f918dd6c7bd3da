"""Balances for partial tuples and dates, trial balances, and ledger verification."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from finance import selectors
from finance.ledger import entry_post
from finance.models import Entry
from tests.helpers import ON, approve_lines, commit_lines, dims, pay_lines

D = Decimal


@pytest.fixture
def posted(ledger, user):
    """Approvals on two units and two economic codes, a commitment and a payment."""
    entry_post(lines=approve_lines(D("500.00"), dims(unit="440300102")), description="批复2",
               user=user, on=ON)
    entry_post(lines=approve_lines(D("200.00"), dims(economic="30211")), description="批复3",
               user=user, on=ON)
    entry_post(lines=commit_lines(D("120.50")), description="申请", user=user,
               on=dt.date(2026, 4, 2))
    entry_post(lines=pay_lines(D("120.50")), description="支付", user=user, on=dt.date(2026, 4, 9))
    return user


class TestBalance:
    def test_partial_tuples_sum_over_the_omitted_dimensions(self, posted):
        assert selectors.balance(account="9001") == D("1700.00")
        assert selectors.balance(account="9001", unit="440300101") == D("1200.00")
        assert selectors.balance(account="9001", unit="440300101", economic="30201") == D("1000.00")
        assert selectors.balance(account="9101", unit="440300101", economic="30201") == D("879.50")
        assert selectors.balance(account="9301", fund_source="1", year=2026) == D("120.50")
        assert selectors.balance(account="9301", year=2025) == D("0.00")

    def test_as_of_a_date_uses_only_lines_up_to_it(self, posted):
        assert selectors.balance(account="9201", as_of=dt.date(2026, 4, 1)) == D("0.00")
        assert selectors.balance(account="9201", as_of=dt.date(2026, 4, 2)) == D("120.50")
        assert selectors.balance(account="9201", as_of=dt.date(2026, 4, 9)) == D("0.00")
        assert selectors.balance(account="7101", as_of=dt.date(2026, 12, 31)) == D("120.50")

    def test_as_of_today_equals_running_balance(self, posted):
        for account in ("9001", "9101", "9201", "9301", "7101", "6001", "5001", "4001"):
            assert selectors.balance(account=account) == selectors.balance(
                account=account, as_of=dt.date(2026, 12, 31))


class TestTrialBalance:
    def test_each_book_balances_and_lists_its_accounts(self, posted):
        tb = selectors.trial_balance(book="indicator", year=2026)
        assert tb.balanced
        assert [(r.account, r.balance) for r in tb.rows] == [
            ("9001", D("1700.00")), ("9101", D("1579.50")), ("9201", D("0.00")),
            ("9301", D("120.50"))]
        fin = selectors.trial_balance(book="financial")
        assert fin.total_debit == fin.total_credit == D("120.50")

    def test_query_count_does_not_grow_with_rows(self, posted, django_assert_max_num_queries):
        with django_assert_max_num_queries(1):
            selectors.trial_balance(book="indicator")


class TestVerifyLedger:
    def test_clean_ledger_verifies(self, posted, capsys):
        result = selectors.ledger_verify()
        assert result.ok, result.problems
        assert result.entries_checked == 5 and result.lines_checked == 14
        call_command("verify_ledger")
        assert "ledger OK" in capsys.readouterr().out

    @pytest.mark.postgres
    def test_finds_an_edited_amount_and_names_the_entry(self, posted, capsys):
        target = Entry.objects.get(number=3)
        # both sides edited, so the entry still balances: only the hash can tell
        _tamper("UPDATE finance_line SET debit_fen = debit_fen + 100 WHERE entry_id = %s AND seq = 1",
                [target.pk])
        _tamper("UPDATE finance_line SET credit_fen = credit_fen + 100 WHERE entry_id = %s AND seq = 2",
                [target.pk])
        result = selectors.ledger_verify()
        assert not result.ok
        assert (result.first_broken.number, result.first_broken.entry_id) == (3, target.pk)
        assert "content does not match" in result.first_broken.reason
        with pytest.raises(CommandError):
            call_command("verify_ledger")
        assert f"FIRST BROKEN: entry 2026-3 (id {target.pk})" in capsys.readouterr().err

    @pytest.mark.postgres
    def test_finds_a_one_sided_edit_as_unbalanced(self, posted):
        target = Entry.objects.get(number=4)
        _tamper("UPDATE finance_line SET credit_fen = 1 WHERE entry_id = %s AND seq = 2", [target.pk])
        result = selectors.ledger_verify()
        assert result.first_broken.number == 4
        assert result.first_broken.reason == (
            "book indicator does not balance: debit 120.50 credit 0.01")

    @pytest.mark.postgres
    def test_finds_an_entry_appended_behind_the_sequence(self, posted):
        last = Entry.objects.order_by("-number").first()
        _tamper("UPDATE finance_vouchersequence SET last_number = last_number - 1", [])
        result = selectors.ledger_verify()
        assert not result.ok and last.number == 5
        assert "entries missing or added" in result.first_broken.reason

    @pytest.mark.postgres
    def test_finds_a_changed_header(self, posted):
        target = Entry.objects.get(number=2)
        _tamper("UPDATE finance_entry SET posted_by_id = NULL WHERE id = %s", [target.pk])
        result = selectors.ledger_verify()
        assert result.first_broken.number == 2
        assert result.first_broken.reason == "entry hash does not match (header changed)"

    @pytest.mark.postgres
    def test_finds_a_deleted_entry(self, posted):
        target = Entry.objects.get(number=2)
        _tamper("DELETE FROM finance_line WHERE entry_id = %s", [target.pk])
        _tamper("DELETE FROM finance_entrymac WHERE entry_id = %s", [target.pk])
        _tamper("DELETE FROM finance_entry WHERE id = %s", [target.pk])
        result = selectors.ledger_verify()
        assert result.first_broken.number == 3
        assert "gap or deletion" in result.first_broken.reason

    @pytest.mark.postgres
    def test_finds_a_balance_that_does_not_match_its_lines(self, posted):
        _tamper("UPDATE finance_balance SET debit_fen = debit_fen + 1 WHERE id = "
                "(SELECT MIN(id) FROM finance_balance)", [])
        result = selectors.ledger_verify()
        assert len(result.problems) == 1 and "lines sum to" in result.problems[0].reason


def _tamper(sql: str, params: list) -> None:
    """Raw SQL with the immutability triggers switched off, as an attacker with DB access."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute(sql, params)
