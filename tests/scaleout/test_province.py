"""The province generator of bench/province.py at a tiny size, into the test database
(thrown away with the test's transaction): 4 units over 2 years and 200 lines. Worked by
hand from the generator's shapes:

- per unit and year 4 tuples, each approved once (2 lines): 4 units × 2 years × 4 × 2 =
  64 approval lines;
- the rest are payments of 8 lines (commit 2 + payment 6): ceil((200 − 64) / 8) = 17
  payments, 8 in the first year (17 × 1 // 2) and 9 in the second → 64 + 17 × 8 = 200
  lines;
- entries: 2025: 16 approvals + 8 × 2 = 32; 2026: 16 + 9 × 2 = 34.
PostgreSQL only (COPY)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from django.db import connection

from finance import services
from finance.ledger import chain_hash
from finance.models import Entry, Organization, VoucherSequence
from finance.selectors import trial_balance

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
YEARS = [2025, 2026]


def _province():  # bench/ is not a package: load the script as a module
    spec = importlib.util.spec_from_file_location("bench_province", ROOT / "bench" / "province.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


def _rows(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params or [])
        return cur.fetchall()


def test_province_generator_tiny(codes, user):  # noqa: ANN001, ARG001
    province = _province()
    genesis = {}
    for year in YEARS:
        services.fiscal_year_open(year=year, user=user)
        genesis[year] = VoucherSequence.objects.get(fiscal_year=year).last_hash
    connection.ensure_connection()
    gen = province.generate(connection.connection, units=4, years=YEARS, lines=200,
                            log=lambda s: None)

    # sizes worked by hand (module docstring)
    assert (gen.lines, gen.entries, gen.units, gen.regions) == (200, 66, 4, 120)
    assert _rows("SELECT count(*) FROM finance_line") == [(200,)]
    assert _rows("SELECT fiscal_year, count(*) FROM finance_entry GROUP BY 1 ORDER BY 1") == [
        (2025, 32), (2026, 34)]
    assert _rows("SELECT kind, count(*) FROM finance_entry GROUP BY 1 ORDER BY 1") == [
        ("approval", 32), ("commit", 17), ("payment", 17)]
    # one unit in each of the first 4 regions, so 4 departments and 4 bureaus
    assert Organization.objects.filter(code__startswith="45", kind="budget_unit").count() == 4
    assert Organization.objects.filter(code__startswith="45", kind="department").count() == 4

    # every entry balances in every book; approvals 2 lines, commits 2, payments 6
    assert _rows("SELECT entry_id, book FROM finance_line GROUP BY 1, 2 "
                 "HAVING sum(debit_fen) <> sum(credit_fen)") == []
    assert _rows("SELECT e.kind, count(l.id) FROM finance_entry e JOIN finance_line l "
                 "ON l.entry_id = e.id GROUP BY e.id, e.kind "
                 "HAVING count(l.id) <> CASE e.kind WHEN 'payment' THEN 6 ELSE 2 END") == []

    # every balance row is the sum of its lines, and every (account, tuple) has one
    grouped = """SELECT l.account_id, concat_ws('|', l.year, coalesce(r.code, ''),
        coalesce(o.code, ''), coalesce(f.code, ''), coalesce(x.code, ''), coalesce(s.code, ''),
        l.project_code), sum(l.debit_fen), sum(l.credit_fen)
        FROM finance_line l LEFT JOIN finance_region r ON r.id = l.region_id
        LEFT JOIN finance_organization o ON o.id = l.unit_id
        LEFT JOIN finance_functioncode f ON f.id = l.function_id
        LEFT JOIN finance_economiccode x ON x.id = l.economic_id
        LEFT JOIN finance_fundsource s ON s.id = l.fund_source_id GROUP BY 1, 2"""
    balances = "SELECT account_id, dim_key, debit_fen, credit_fen FROM finance_balance"
    assert _rows(f"{grouped} EXCEPT {balances}") == []
    assert _rows(f"{balances} EXCEPT {grouped}") == []
    assert len(_rows(balances)) == gen.balances

    # one tuple by hand: its 9101 balance = its approval (debit) and its commits (credit)
    (key, approved, unit, function, economic, fund, project), = _rows(
        "SELECT b.dim_key, b.credit_fen, b.unit_id, b.function_id, b.economic_id, "
        "b.fund_source_id, b.project_code FROM finance_balance b JOIN finance_account a "
        "ON a.id = b.account_id WHERE a.code = '9001' ORDER BY b.dim_key LIMIT 1")
    assert key.startswith("2025|450100|450100") and key.count("|") == 6
    (committed,), = _rows(
        "SELECT coalesce(sum(l.debit_fen), 0) FROM finance_line l JOIN finance_account a "
        "ON a.id = l.account_id WHERE a.code = '9201' AND l.year = 2025 AND l.unit_id = %s "
        "AND l.function_id = %s AND l.economic_id = %s AND l.fund_source_id = %s "
        "AND l.project_code = %s", [unit, function, economic, fund, project])
    assert _rows("SELECT b.debit_fen, b.credit_fen FROM finance_balance b JOIN finance_account a "
                 "ON a.id = b.account_id WHERE a.code = '9101' AND b.dim_key = %s",
                 [key]) == [(approved, committed)]
    assert approved > committed  # approved for 105-130 % of what it pays, so never negative

    # the app's trial balance = a plain SQL sum of the same lines, per book and year
    for year in YEARS:
        for book in ("indicator", "budget", "financial"):
            tb = trial_balance(book=book, year=year)
            (d, c), = _rows("SELECT sum(debit_fen), sum(credit_fen) FROM finance_line "
                            "WHERE book = %s AND year = %s", [book, year])
            assert (int(tb.total_debit * 100), int(tb.total_credit * 100)) == (d, c)
            assert tb.balanced and d > 0

    # the chain links use the posting service's formula, and the sequence is at the head
    for year, count in ((2025, 32), (2026, 34)):
        first = Entry.objects.get(fiscal_year=year, number=1)
        assert first.prev_hash == genesis[year]
        assert first.hash == chain_hash(prev_hash=genesis[year], number=1,
                                        content_hash=first.content_hash, posted_by=None,
                                        posted_at=first.posted_at)
        last = Entry.objects.get(fiscal_year=year, number=count)
        seq = VoucherSequence.objects.get(fiscal_year=year)
        assert (seq.last_number, seq.last_hash) == (count, last.hash)
