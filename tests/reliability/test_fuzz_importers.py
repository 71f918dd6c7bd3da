"""Every importer, fed generated and damaged files, answers with clean rows, issues with a
reason, or a domain error with a message — never another exception, never a half import.
The ≥ 10,000-file campaign is bench/reliability_fuzz.py; these few hundred run in the suite."""
from __future__ import annotations

import csv
import random
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from budgets import spreadsheets
from budgets.errors import BudgetError
from budgets.importers.projects import parse_projects
from finance.importers import codes as code_importer
from payments.importers import detect, parse
from tests.reliability import fuzzing as fz

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def bank(content: bytes) -> fz.Verdict:
    def run() -> object:
        fmt = detect(content)
        return parse(content, "f", fmt) if fmt else None
    return fz.judge(run, issues_of=lambda r: r.issues if r else [])


def assert_not_crash(v: fz.Verdict) -> None:
    assert v.outcome != "crash", v.detail


class TestBankParsers:
    @FAST
    @given(SEEDS)
    def test_a_generated_result_csv_in_any_encoding_and_line_ending_never_crashes(self, seed):
        assert_not_crash(bank(fz.results_csv(random.Random(seed))))

    @FAST
    @given(SEEDS)
    def test_a_damaged_camt053_never_crashes(self, seed):
        assert_not_crash(bank(fz.camt053(random.Random(seed))))

    @FAST
    @given(SEEDS)
    def test_a_damaged_mt940_never_crashes(self, seed):
        assert_not_crash(bank(fz.mt940(random.Random(seed))))

    @FAST
    @given(st.binary(max_size=2000))
    def test_arbitrary_bytes_are_refused_or_read_never_a_crash(self, data):
        assert_not_crash(bank(data))
        assert_not_crash(bank(b"\xef\xbb\xbf" + fz.RESULT_HEADER.encode() + b"\r\n" + data))

    def test_every_parsed_amount_is_a_positive_decimal_with_two_places(self):
        rnd = random.Random(7)
        for _ in range(200):
            content = fz.results_csv(rnd)
            rows = parse(content, "f", detect(content) or "results_csv")
            for r in rows.results:
                assert isinstance(r.amount, Decimal) and r.amount > 0
                assert r.amount == r.amount.quantize(Decimal("0.01"))


class TestProjectFeed:
    @FAST
    @given(SEEDS)
    def test_a_damaged_project_export_gives_records_or_issues_never_a_crash(self, seed):
        content = fz.project_json(random.Random(seed))
        v = fz.judge(lambda: parse_projects(content, "p.json"), issues_of=lambda r: r[1])
        assert_not_crash(v)


class TestCodeLists:
    @FAST
    @given(seed=SEEDS)
    def test_a_damaged_code_list_gives_rows_or_issues_never_a_crash(self, tmp_path_factory, seed):
        name, content = fz.code_csv(random.Random(seed))
        path = tmp_path_factory.mktemp("codes") / name
        path.write_bytes(content)
        spec = next(s for s in code_importer.FILES if s.filename == name)

        def run() -> object:
            _header, rows = code_importer.read_csv(path)
            return code_importer._parse_rows(spec, rows, set(), set())[1]
        # read_csv's UnicodeDecodeError / csv.Error become an "unreadable file" issue in
        # codes_import, so they count as a clear error here
        v = fz.judge(run, domain=(UnicodeDecodeError, csv.Error), issues_of=lambda r: r)
        assert_not_crash(v)


class TestExcelTemplate:
    @FAST
    @given(SEEDS)
    def test_a_generated_or_damaged_template_is_read_or_refused_with_a_reason(self, seed):
        content = fz.template_xlsx(random.Random(seed))
        v = fz.judge(lambda: spreadsheets.plan_template_read(plan=fz.FAKE_PLAN, content=content),
                     domain=(BudgetError,))
        assert_not_crash(v)

    def test_a_zip_bomb_is_refused_with_a_clear_error_without_inflating_it(self):
        bomb = fz.zip_bomb()
        assert len(bomb) < 1024 * 1024
        with pytest.raises(BudgetError) as err:
            spreadsheets.plan_template_read(plan=fz.FAKE_PLAN, content=bomb)
        assert "too large" in str(err.value)
