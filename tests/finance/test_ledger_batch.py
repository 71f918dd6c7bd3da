"""entries_post: many entries posted as one unit of work, checked as entry_post checks each."""
from __future__ import annotations

from decimal import Decimal

import pytest

from finance import errors, selectors, services
from finance.ledger import (
    EntryInput,
    entries_post,
    entry_post,
    entry_reverse,
    register_after_posting,
    reversal_inputs,
)
from finance.models import Balance, Entry, Line
from tests.helpers import ON, approve_lines, commit_lines, dims, pay_lines

D = Decimal


def _commits(*amounts: str, unit: str = "440300101", key: str = "") -> list[EntryInput]:
    return [EntryInput(lines=commit_lines(D(a), dims(unit=unit)), description=f"c{i}", on=ON,
                       idempotency_key=f"{key}{i}" if key else None)
            for i, a in enumerate(amounts, start=1)]


def _state() -> tuple:
    return (Entry.objects.count(), Line.objects.count(),
            sorted(Balance.objects.values_list("dim_key", "debit_fen", "credit_fen")))


class TestEntriesPost:
    def test_numbers_chains_and_balances_like_single_postings(self, ledger, user):
        posted = entries_post(entries=_commits("10.00", "20.00", "30.05"), user=user)

        assert [e.number for e in posted] == [2, 3, 4]
        assert posted[0].prev_hash == Entry.objects.get(number=1).hash
        assert [e.prev_hash for e in posted[1:]] == [e.hash for e in posted[:-1]]
        assert [e.description for e in Entry.objects.order_by("number")[1:]] == ["c1", "c2", "c3"]
        assert selectors.balance(account="9201") == D("60.05")
        assert selectors.balance(account="9101", unit="440300101") == D("939.95")
        single = entry_post(lines=commit_lines(D("1.00")), description="after", user=user, on=ON)
        assert single.number == 5 and single.prev_hash == posted[-1].hash
        assert selectors.ledger_verify().ok

    def test_a_batch_of_many_lines_is_written_as_the_small_one(self, ledger, user):
        """From COPY_LINES_FROM lines PostgreSQL gets them by COPY (elsewhere, and below,
        multi-row INSERTs): 40 commitments of 0.01–0.40 are 80 lines; worked by hand:
        0.01 + … + 0.40 = 40 × 41 / 2 fen = 8.20 committed of the fixture's 1,000.00."""
        from finance import ledger as ledger_module

        assert ledger_module.COPY_LINES_FROM <= 2 * 40
        amounts = [f"0.{n:02d}" for n in range(1, 40)] + ["0.40"]
        posted = entries_post(entries=_commits(*amounts), user=user)

        assert [e.number for e in posted] == list(range(2, 42))
        lines = Line.objects.filter(entry__in=posted).order_by("entry__number", "seq")
        assert lines.count() == 80
        first = lines[0]
        assert (first.seq, first.unit.code, first.year, first.debit_fen + first.credit_fen) == (
            1, "440300101", 2026, 1)
        assert sorted({line.entry_id for line in lines}) == sorted(e.pk for e in posted)
        assert selectors.balance(account="9201") == D("8.20")
        assert selectors.balance(account="9101", unit="440300101") == D("991.80")
        assert selectors.ledger_verify().ok

    def test_an_overdrawn_entry_refuses_the_whole_batch(self, ledger, user):
        before = _state()
        with pytest.raises(errors.IndicatorInsufficient) as exc:
            entries_post(entries=_commits("600.00", "500.00"), user=user)
        assert exc.value.available == D("1000.00")
        assert "1100.00 requested" in str(exc.value)
        assert _state() == before

    def test_an_increase_counts_for_the_entries_after_it_only(self, ledger, user):
        # as if posted one by one in the batch's order: the 1,500.00 commitment is refused
        # before the 600.00 increase and allowed after it
        before = _state()
        more = EntryInput(lines=approve_lines(D("600.00")), description="追加", on=ON)
        with pytest.raises(errors.IndicatorInsufficient) as exc:
            entries_post(entries=[*_commits("1500.00"), more], user=user)
        assert exc.value.available == D("1000.00")
        assert _state() == before
        entries_post(entries=[more, *_commits("1500.00", "100.00")], user=user)
        assert selectors.balance(account="9101", unit="440300101") == D("0.00")
        with pytest.raises(errors.IndicatorInsufficient):  # 0.00 left: a further 0.01 fails
            entries_post(entries=[*_commits("0.01"), more], user=user)

    def test_a_closed_period_refuses_the_batch(self, ledger, user):
        services.period_close(year=2026, month=3, user=user)
        before = _state()
        with pytest.raises(errors.PeriodClosed):
            entries_post(entries=_commits("1.00", "2.00"), user=user)
        assert _state() == before

    def test_unknown_code_names_the_code(self, ledger, user):
        bad = EntryInput(lines=[services.dr("indicator", "9999", D("1.00"), dims()),
                                services.cr("indicator", "9101", D("1.00"), dims())],
                         description="x", on=ON)
        with pytest.raises(errors.UnknownCode, match="account code 9999"):
            entries_post(entries=[*_commits("1.00"), bad], user=user)
        assert Entry.objects.count() == 1

    def test_replayed_keys_return_the_stored_entries(self, ledger, user):
        first = entries_post(entries=_commits("10.00", "20.00", key="k"), user=user)
        again = entries_post(entries=_commits("10.00", "20.00", "30.00", key="k"), user=user)

        assert [e.pk for e in again[:2]] == [e.pk for e in first]
        assert again[2].number == 4
        assert selectors.balance(account="9201") == D("60.00")

    def test_a_key_used_for_other_content_is_an_error(self, ledger, user):
        entries_post(entries=_commits("10.00", key="k"), user=user)
        before = _state()
        with pytest.raises(errors.IdempotencyConflict):
            entries_post(entries=_commits("11.00", key="k"), user=user)
        assert _state() == before

    def test_reversals_in_a_batch_mirror_their_entries_once(self, ledger, user):
        a, b = entries_post(entries=_commits("10.00", "20.00"), user=user)
        revs = entries_post(entries=reversal_inputs([(a, "r", "ra", ON), (b, "r", "rb", ON)]),
                            user=user)
        assert [r.reverses_id for r in revs] == [a.pk, b.pk]
        assert selectors.balance(account="9201") == D("0.00")
        with pytest.raises(errors.AlreadyReversed):
            entries_post(entries=reversal_inputs([(a, "again", None, ON)]), user=user)
        with pytest.raises(errors.AlreadyReversed):
            entry_reverse(entry=b, user=user, reason="again", on=ON)
        c = entry_post(lines=commit_lines(D("5.00")), description="c", user=user, on=ON)
        with pytest.raises(errors.AlreadyReversed):
            entries_post(entries=reversal_inputs([(c, "x", None, ON), (c, "y", None, ON)]),
                         user=user)
        assert selectors.ledger_verify().ok

    def test_reversal_inputs_match_entry_reverse(self, ledger, user):
        entry_post(lines=commit_lines(D("3.00")), description="c", user=user, on=ON)
        a = entry_post(lines=pay_lines(D("3.00")), description="p", user=user, on=ON,
                       tracking_id="T1")
        item = reversal_inputs([(a, "why", "key", ON)])[0]
        posted = entry_reverse(entry=a, user=user, reason="why", on=ON)
        assert item.description == posted.description
        assert item.tracking_id == posted.tracking_id == "T1"
        assert [(s.account, s.debit, s.credit) for s in item.lines] == [
            (ln.account.code, ln.debit, ln.credit) for ln in posted.lines.order_by("seq")]

    def test_one_hook_call_for_the_batch_after_commit(self, ledger, user,
                                                      django_capture_on_commit_callbacks):
        from finance import ledger as ledger_mod

        each: list[Entry] = []
        batches: list[list[Entry]] = []
        register_after_posting(each.append, many=batches.append)
        try:
            with django_capture_on_commit_callbacks(execute=True):
                posted = entries_post(entries=_commits("1.00", "2.00"), user=user)
                assert batches == []
                entry_post(lines=commit_lines(D("3.00")), description="single", user=user, on=ON)
        finally:
            ledger_mod._after_posting.remove(each.append)
            ledger_mod._after_posting_many.pop(each.append)
        assert [[e.pk for e in b] for b in batches] == [[e.pk for e in posted]]
        assert [e.description for e in each] == ["single"]

    def test_every_entry_of_a_batch_is_in_one_year(self, ledger, user):
        import datetime as dt

        other = EntryInput(lines=commit_lines(D("1.00")), description="x", on=dt.date(2027, 1, 5))
        with pytest.raises(ValueError, match="one fiscal year"):
            entries_post(entries=[*_commits("1.00"), other], user=user)
