"""Trace: any figure back to its lines, entries, documents, approvers and references."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from audit import selectors
from audit.errors import MSG_BAD_TRACE_REF, MSG_UNKNOWN_MEASURE, BadTraceRef, UnknownMeasure
from finance import selectors as finance_selectors
from finance.ledger import entry_reverse
from finance.models import Entry
from tests.audit.conftest import request_and_pay

D = Decimal


@pytest.fixture
def paid(budget):
    """Unit 1 / 2050203 pays 120.50 (Mar), 300.00 (Apr); unit 1 / 2010101 pays 80.00;
    unit 2 / 2050203 pays 55.55."""
    docs = {
        "a": request_and_pay(budget, D("120.50"), tracking="TRK-A"),
        "b": request_and_pay(budget, D("300.00"), day=dt.date(2026, 4, 9), tracking="TRK-B"),
        "c": request_and_pay(budget, D("80.00"), function="2010101"),
        "d": request_and_pay(budget, D("55.55"), unit="440300102"),
    }
    return budget, docs


class TestTraceOfPaid:
    def test_a_units_paid_for_a_function_equals_its_lines_and_reaches_requests_and_approvers(
            self, paid):
        people, docs = paid
        result = selectors.trace(measure="paid", year=2026, unit="440300101", function="2050203")
        assert result.total == D("420.50")
        assert result.total == finance_selectors.balance(account="9301", unit="440300101",
                                                         function="2050203")
        assert result.line_count == len(result.lines) == 2
        assert result.lines_sum == result.total
        assert {(s.label, s.pk) for s in result.sources} == {
            ("finance.job", str(docs["a"].pk)), ("finance.job", str(docs["b"].pk))}
        assert result.approvers == ["clerk", "head", "treasury"]
        steps = result.sources[0].steps
        assert [(s.action, s.actor, s.to_state) for s in steps] == [
            ("submit", "clerk", "submitted"), ("approve", "head", "unit_approved"),
            ("approve", "treasury", "paid")]
        assert result.tracking_ids == ["TRK-A", "TRK-B"]
        assert {e.kind for e in result.entries} == {"payment"}

    def test_a_month_and_a_range_of_months(self, paid):
        assert selectors.trace(measure="paid", year=2026, period=3, unit="440300101").total \
            == D("200.50")
        assert selectors.trace(measure="paid", year=2026, period="1-4", unit="440300101").total \
            == D("500.50")
        assert selectors.trace(measure="paid", year=2026, period=5).total == D("0.00")

    def test_a_function_class_and_a_department_sum_their_subtrees(self, paid):
        # 205 教育支出 covers 2050203; the department covers both units
        assert selectors.trace(measure="paid", year=2026, function="205*").total == D("476.05")
        assert selectors.trace(measure="paid", year=2026, department="440300100").total \
            == D("556.05")

    def test_budget_expenditure_and_available_match_the_ledger(self, paid):
        assert selectors.trace(measure="expenditure", year=2026, book="budget").total \
            == finance_selectors.balance(account="7101")
        available = selectors.trace(measure="available", year=2026, unit="440300101",
                                    function="2050203", economic="30201")
        assert available.total == D("5579.50")
        assert available.total == finance_selectors.balance(
            account="9101", unit="440300101", function="2050203", economic="30201")

    def test_approved_counts_approval_entries_and_their_reversals_only(self, budget):
        assert selectors.trace(measure="approved", year=2026, unit="440300101").total \
            == D("9000.00")
        approval = Entry.objects.filter(kind="approval").order_by("number").last()
        entry_reverse(entry=approval, user=None, reason="wrong unit")
        assert selectors.trace(measure="approved", year=2026, unit="440300102").total == D("0.00")
        assert selectors.trace(measure="budget", year=2026).total == D("9000.00")
        assert selectors.trace(measure="adjusted", year=2026).total == D("0.00")

    def test_approval_sources_lead_to_the_bureau(self, paid):
        result = selectors.trace(measure="approved", year=2026, unit="440300102")
        assert [s.text for s in result.sources] == ["440300001 深圳市财政局"]

    def test_lines_are_paged_but_totals_cover_everything(self, paid):
        result = selectors.trace(measure="paid", year=2026, limit=2)
        assert result.line_count == 4 and len(result.lines) == 2 and result.truncated
        assert result.total == D("556.05")
        rest = selectors.trace(measure="paid", year=2026, limit=2, offset=2)
        assert result.lines_sum + rest.lines_sum == D("556.05")


class TestTraceReference:
    def test_a_reference_round_trips_and_resolves_to_the_same_figure(self, paid):
        query = selectors.trace_query(measure="paid", year=2026, period="1-3",
                                      unit="440300101", function="2050203")
        ref = "tr:v1:measure=paid;year=2026;month=1-3;unit=440300101;function=2050203"
        assert str(query) == ref
        assert selectors.trace_resolve(ref).total == D("120.50")

    def test_a_reference_printed_by_the_older_audit_pages_still_resolves(self, paid):
        assert selectors.trace_resolve("TR1:paid:2026:01-03::u=440300101,f=2050203").total \
            == D("120.50")

    def test_a_reports_reference_resolves_to_the_same_figure(self, paid):
        ref = "tr:v1:measure=paid;year=2026;department=440300100;function=205*"
        assert selectors.trace_resolve(ref).total == D("476.05")
        ref = "tr:v1:measure=expenditure;year=2026;month=4;unit=440300101"
        assert selectors.trace_resolve(ref).total == D("300.00")
        # a comma list (人员经费 = 301*,303*) is one figure too
        assert selectors.trace_resolve(
            "tr:v1:measure=paid;year=2026;function=205*,201*").total == D("556.05")

    def test_a_value_with_the_references_separators_is_refused(self):
        with pytest.raises(BadTraceRef):
            selectors.trace_query(measure="paid", year=2026, project="P;1=x")

    def test_a_malformed_reference_is_refused_with_the_reason(self):
        with pytest.raises(BadTraceRef) as err:
            selectors.trace_ref_parse("TR1:paid:20x6:::")
        assert str(err.value) == str(MSG_BAD_TRACE_REF) % {
            "ref": "TR1:paid:20x6:::", "reason": "year is required"}

    def test_an_unknown_measure_lists_the_known_ones(self):
        with pytest.raises(UnknownMeasure) as err:
            selectors.trace(measure="spent", year=2026)
        assert str(err.value).startswith(str(MSG_UNKNOWN_MEASURE).split("%")[0])
        assert "paid" in str(err.value)
