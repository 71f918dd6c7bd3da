"""Property tests: random postings and reversals keep the books balanced, balances equal
the lines, and no must-not-go-negative balance ever goes below zero."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finance import errors, selectors
from finance.ledger import entry_post, entry_reverse
from finance.models import Balance, Book, Entry
from tests.helpers import ON, approve_lines, commit_lines, dims, pay_lines

TUPLES = [dims(), dims(unit="440300102"), dims(economic="30211")]
FLAGGED = {"9101", "9201"}
amounts = st.integers(min_value=1, max_value=200_000).map(lambda fen: Decimal(fen) / 100)
ops = st.one_of(
    st.tuples(st.sampled_from(["approve", "commit", "pay"]), st.integers(0, len(TUPLES) - 1), amounts),
    st.tuples(st.just("reverse"), st.integers(0, 50), st.just(Decimal(0))),
)
SHAPES = {"approve": approve_lines, "commit": commit_lines, "pay": pay_lines}


def _normal(code: str, d: int, c: int) -> int:
    return d - c if code[0] in "1579" else c - d  # debit-normal classes in this chart


class TestPostingProperties:
    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(sequence=st.lists(ops, min_size=1, max_size=20))
    def test_random_postings_and_reversals_keep_invariants(self, ledger, user, sequence):
        sid = transaction.savepoint()
        try:
            self._run(sequence, user)
        finally:
            transaction.savepoint_rollback(sid)

    def _run(self, sequence, user) -> None:
        model: dict[tuple[str, str], int] = defaultdict(int)
        for e in Entry.objects.all():
            for ln in e.lines.select_related("account"):
                model[(ln.account.code, _key(ln))] += _normal(ln.account.code, ln.debit_fen, ln.credit_fen)
        for op, arg, amount in sequence:
            if op == "reverse":
                entries = list(Entry.objects.order_by("number"))
                target = entries[arg % len(entries)]
                moves = [(ln.account.code, _key(ln), _normal(ln.account.code, ln.credit_fen, ln.debit_fen))
                         for ln in target.lines.select_related("account", "unit", "economic")]
                post = lambda t=target: entry_reverse(entry=t, user=user, reason="p", on=ON)  # noqa: E731
                already = hasattr(target, "reversed_by") and Entry.objects.filter(reverses=target).exists()
            else:
                lines = SHAPES[op](amount, TUPLES[arg])
                moves = [(ls.account, TUPLES[arg].key(2026)[5:],
                          _normal(ls.account, int(ls.debit * 100), int(ls.credit * 100))) for ls in lines]
                post = lambda lines=lines, op=op: entry_post(lines=lines, description=op, user=user, on=ON)  # noqa: E731
                already = False
            after = dict(model)
            for code, key, delta in moves:
                after[(code, key)] = after.get((code, key), 0) + delta
            would_overspend = any(v < 0 for (code, _k), v in after.items() if code in FLAGGED)
            try:
                post()
            except errors.AlreadyReversed:
                assert already
                continue
            except errors.IndicatorInsufficient:
                assert would_overspend and not already
                continue
            assert not already and not would_overspend
            model = defaultdict(int, after)

        for book in Book.values:
            assert selectors.trial_balance(book=book).balanced
        assert selectors.ledger_verify().ok
        for bal in Balance.objects.select_related("account"):
            value = _normal(bal.account.code, bal.debit_fen, bal.credit_fen)
            if bal.account.must_not_go_negative:
                assert value >= 0
            assert value == model[(bal.account.code, bal.dim_key[5:])]


def _key(line) -> str:
    return "|".join(("440300", line.unit.code, "2050203", line.economic.code, "1", ""))
