"""The posting service: every rule, each with the error a user sees."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, transaction

from finance import errors, selectors, services
from finance.ledger import LineSpec, cr, dr, entry_post, entry_reverse
from finance.models import Balance, Entry, Line
from tests.helpers import ON, approve_lines, commit_lines, dims, pay_lines

D = Decimal


class TestEntryPost:
    def test_posts_balanced_entry_with_number_hash_and_balances(self, ledger, user):
        entry = entry_post(lines=commit_lines(D("15.00")), description="申请", user=user, on=ON)

        assert entry.number == 2
        assert entry.prev_hash == Entry.objects.get(number=1).hash
        assert len(entry.hash) == 64
        assert [(ln.account.code, ln.debit, ln.credit) for ln in entry.lines.order_by("seq")] == [
            ("9201", D("15.00"), D("0.00")), ("9101", D("0.00"), D("15.00"))]
        assert selectors.balance(account="9101", unit="440300101") == D("985.00")
        assert selectors.balance(account="9201") == D("15.00")

    def test_refuses_unbalanced_book(self, ledger, user):
        lines = [dr("indicator", "9201", D("15.00"), dims()), cr("indicator", "9101", D("14.99"), dims())]
        with pytest.raises(errors.EntryUnbalanced) as exc:
            entry_post(lines=lines, description="x", user=user, on=ON)
        assert str(exc.value) == str(errors.MSG_UNBALANCED % {
            "book": "indicator", "debit": D("15.00"), "credit": D("14.99")})

    def test_each_book_must_balance_on_its_own(self, ledger, user):
        d = dims()
        lines = [dr("budget", "7101", D("5.00"), d), cr("financial", "4001", D("5.00"), d)]
        with pytest.raises(errors.EntryUnbalanced, match="budget"):
            entry_post(lines=lines, description="x", user=user, on=ON)

    @pytest.mark.parametrize("amount", [15.0, "15.00", D("15.001"), D("-1.00"), D("0"), D("NaN"), True])
    def test_refuses_amounts_that_are_not_positive_two_place_decimals(self, ledger, user, amount):
        lines = [LineSpec("indicator", "9201", debit=amount, dims=dims()),
                 LineSpec("indicator", "9101", credit=amount, dims=dims())]
        with pytest.raises((errors.InvalidAmount, errors.BadLine)):
            entry_post(lines=lines, description="x", user=user, on=ON)
        assert Entry.objects.count() == 1

    def test_float_is_refused_with_clear_message(self, ledger, user):
        with pytest.raises(errors.InvalidAmount) as exc:
            entry_post(lines=commit_lines(15.0), description="x", user=user, on=ON)  # type: ignore[arg-type]
        assert "15.0" in str(exc.value) and "Decimal" in str(exc.value)

    def test_refuses_line_with_both_sides(self, ledger, user):
        lines = [LineSpec("indicator", "9201", debit=D("1.00"), credit=D("1.00"), dims=dims()),
                 cr("indicator", "9101", D("1.00"), dims())]
        with pytest.raises(errors.BadLine):
            entry_post(lines=lines, description="x", user=user, on=ON)

    def test_refuses_single_line(self, ledger, user):
        with pytest.raises(errors.TooFewLines):
            entry_post(lines=commit_lines(D("1.00"))[:1], description="x", user=user, on=ON)

    def test_refuses_unknown_account(self, ledger, user):
        lines = [dr("indicator", "9999", D("1.00"), dims()), cr("indicator", "9101", D("1.00"), dims())]
        with pytest.raises(errors.UnknownCode, match="account code 9999"):
            entry_post(lines=lines, description="x", user=user, on=ON)

    def test_refuses_account_of_another_book(self, ledger, user):
        lines = [dr("budget", "9201", D("1.00"), dims()), cr("budget", "6001", D("1.00"), dims())]
        with pytest.raises(errors.WrongBook, match="9201 belongs to book indicator"):
            entry_post(lines=lines, description="x", user=user, on=ON)

    def test_refuses_non_leaf_function_code(self, ledger, user):
        with pytest.raises(errors.CodeNotLeaf, match="function code 20502 is not a leaf"):
            entry_post(lines=commit_lines(D("1.00"), dims(function="20502")), description="x",
                       user=user, on=ON)

    def test_refuses_unknown_economic_code(self, ledger, user):
        with pytest.raises(errors.UnknownCode, match="economic code 30299x"):
            entry_post(lines=commit_lines(D("1.00"), dims(economic="30299x")), description="x",
                       user=user, on=ON)

    def test_refuses_retired_code(self, ledger, user):
        from finance.models import EconomicCode

        code = EconomicCode.objects.get(code="30202")
        code.active = False
        services.save_with_history(code, user=user, reason="retired by test")
        with pytest.raises(errors.RetiredCode, match="30202 is retired"):
            entry_post(lines=approve_lines(D("1.00"), dims(economic="30202")), description="x",
                       user=user, on=ON)

    def test_refuses_unknown_unit(self, ledger, user):
        with pytest.raises(errors.UnknownCode, match="unit code 440300999"):
            entry_post(lines=approve_lines(D("1.00"), dims(unit="440300999")), description="x",
                       user=user, on=ON)

    def test_refuses_closed_period(self, ledger, user):
        services.period_close(year=2026, month=3, user=user)
        with pytest.raises(errors.PeriodClosed) as exc:
            entry_post(lines=commit_lines(D("1.00")), description="x", user=user, on=ON)
        assert str(exc.value) == "Period 2026-03 is closed; post into an open period."
        assert selectors.balance(account="9101") == D("1000.00")

    def test_refuses_year_not_opened(self, ledger, user):
        with pytest.raises(errors.PeriodMissing, match="2027-01"):
            entry_post(lines=approve_lines(D("1.00")), description="x", user=user,
                       on=dt.date(2027, 1, 5))

    def test_voucher_numbers_have_no_gaps_after_refusals(self, ledger, user):
        entry_post(lines=commit_lines(D("10.00")), description="a", user=user, on=ON)
        with pytest.raises(errors.IndicatorInsufficient):
            entry_post(lines=commit_lines(D("5000.00")), description="b", user=user, on=ON)
        third = entry_post(lines=commit_lines(D("10.00")), description="c", user=user, on=ON)
        assert list(Entry.objects.values_list("number", flat=True)) == [1, 2, 3]
        assert third.number == 3

    def test_default_date_is_local_date_of_as_of(self, ledger, user):
        as_of = dt.datetime(2026, 3, 31, 17, 30, tzinfo=dt.UTC)  # 01:30 on 1 April in Shanghai
        entry = entry_post(lines=commit_lines(D("1.00")), description="x", user=user, as_of=as_of)
        assert entry.date == dt.date(2026, 4, 1) and entry.month == 4


class TestMustNotGoNegative:
    def test_refuses_overspending_with_available_amount_in_message(self, ledger, user):
        with pytest.raises(errors.IndicatorInsufficient) as exc:
            entry_post(lines=commit_lines(D("1000.01")), description="x", user=user, on=ON)
        assert exc.value.available == D("1000.00")
        assert "1000.00 available, 1000.01 requested" in str(exc.value)
        assert selectors.balance(account="9101") == D("1000.00")
        assert selectors.balance(account="9201") == D("0.00")

    def test_spending_exactly_the_available_amount_is_allowed(self, ledger, user):
        entry_post(lines=commit_lines(D("1000.00")), description="x", user=user, on=ON)
        assert selectors.balance(account="9101") == D("0.00")

    def test_is_per_dimension_tuple(self, ledger, user):
        other = dims(unit="440300102")
        with pytest.raises(errors.IndicatorInsufficient) as exc:
            entry_post(lines=commit_lines(D("1.00"), other), description="x", user=user, on=ON)
        assert exc.value.available == D("0.00")

    def test_accounts_without_the_flag_may_go_negative(self, ledger, user):
        d = dims()
        entry_post(lines=[dr("financial", "1011", D("5.00"), d), cr("financial", "1002", D("5.00"), d)],
                   description="x", user=user, on=ON)
        assert selectors.balance(account="1002") == D("-5.00")

    def test_refusal_inside_a_larger_transaction_leaves_it_usable(self, ledger, user):
        with transaction.atomic(), pytest.raises(errors.IndicatorInsufficient):
            entry_post(lines=commit_lines(D("2000.00")), description="x", user=user, on=ON)
        assert Balance.objects.get(account__code="9101").debit_fen == 100000


class TestIdempotency:
    def test_same_key_same_content_returns_existing_entry(self, ledger, user):
        a = entry_post(lines=commit_lines(D("15.00")), description="x", user=user, on=ON,
                       idempotency_key="req-1")
        b = entry_post(lines=commit_lines(D("15.00")), description="x", user=user, on=ON,
                       idempotency_key="req-1")
        assert a.pk == b.pk
        assert selectors.balance(account="9201") == D("15.00")

    def test_same_key_other_content_is_an_error(self, ledger, user):
        a = entry_post(lines=commit_lines(D("15.00")), description="x", user=user, on=ON,
                       idempotency_key="req-1")
        with pytest.raises(errors.IdempotencyConflict) as exc:
            entry_post(lines=commit_lines(D("16.00")), description="x", user=user, on=ON,
                       idempotency_key="req-1")
        assert str(exc.value) == (f"Idempotency key req-1 was already used for a different "
                                  f"entry (#{a.pk}).")


class TestImmutability:
    def test_orm_refuses_update_and_delete(self, ledger):
        entry = Entry.objects.get()
        entry.description = "tampered"
        with pytest.raises(errors.LedgerImmutable):
            entry.save()
        with pytest.raises(errors.LedgerImmutable):
            entry.delete()
        with pytest.raises(errors.LedgerImmutable):
            Entry.objects.filter(pk=entry.pk).update(description="x")
        with pytest.raises(errors.LedgerImmutable):
            Line.objects.all().delete()
        line = Line.objects.first()
        with pytest.raises(errors.LedgerImmutable):
            line.save()
        assert Entry.objects.get().description == "批复"

    @pytest.mark.postgres
    def test_database_trigger_refuses_raw_sql_update_and_delete(self, ledger):
        from django.db import IntegrityError

        for sql in ("UPDATE finance_line SET debit_fen = debit_fen + 1",
                    "DELETE FROM finance_line",
                    "UPDATE finance_entry SET description = 'x'",
                    "DELETE FROM finance_entry"):
            with pytest.raises(IntegrityError, match="immutable"), transaction.atomic(), \
                    connection.cursor() as cur:
                cur.execute(sql)
        assert Line.objects.count() == 2


class TestReversal:
    def test_reversal_mirrors_lines_and_links_original(self, ledger, user):
        commit = entry_post(lines=commit_lines(D("15.00")), description="申请", user=user, on=ON)
        rev = entry_reverse(entry=commit, user=user, reason="驳回 rejected", on=ON)
        assert rev.reverses_id == commit.pk and commit.reversed_by.pk == rev.pk
        assert selectors.balance(account="9101") == D("1000.00")
        assert selectors.balance(account="9201") == D("0.00")
        assert rev.kind == "reversal"

    def test_entry_is_reversed_at_most_once(self, ledger, user):
        commit = entry_post(lines=commit_lines(D("15.00")), description="申请", user=user, on=ON)
        first = entry_reverse(entry=commit, user=user, reason="r", on=ON)
        with pytest.raises(errors.AlreadyReversed) as exc:
            entry_reverse(entry=commit, user=user, reason="again", on=ON)
        assert str(exc.value) == (f"Entry {commit.pk} has already been reversed by entry "
                                  f"{first.pk}.")

    def test_reversal_cannot_overspend(self, ledger, user):
        approval = Entry.objects.get(number=1)
        entry_post(lines=commit_lines(D("600.00")), description="x", user=user, on=ON)
        with pytest.raises(errors.IndicatorInsufficient) as exc:
            entry_reverse(entry=approval, user=user, reason="take back", on=ON)
        assert exc.value.available == D("400.00")


class TestAfterPostingHooks:
    def test_registered_hook_runs_only_after_commit(self, ledger, user,
                                                    django_capture_on_commit_callbacks):
        from finance import ledger as ledger_mod

        seen: list[Entry] = []
        ledger_mod.register_after_posting(seen.append)
        try:
            with django_capture_on_commit_callbacks(execute=True):
                entry_post(lines=commit_lines(D("1.00")), description="c", user=user, on=ON)
                e = entry_post(lines=pay_lines(D("1.00")), description="p", user=user, on=ON)
                assert seen == []  # nothing runs before the commit
        finally:
            ledger_mod._after_posting.remove(seen.append)
        assert [x.description for x in seen] == ["c", "p"]
        assert seen[-1].pk == e.pk


class TestMessages:
    def test_clerk_sees_chinese_by_default_with_the_figures(self, ledger, user):
        from django.utils import translation

        with pytest.raises(errors.IndicatorInsufficient) as exc:
            entry_post(lines=commit_lines(D("1000.01")), description="x", user=user, on=ON)
        with translation.override("zh-hans"):
            text = str(exc.value)
        assert text.startswith("指标不足：科目 9101")
        assert "可用 1000.00，申请 1000.01" in text
