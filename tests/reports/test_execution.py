"""The budget execution report: measures from the control book, tie-out to the trial
balance to the cent, trace references that re-run to the same figure."""
from __future__ import annotations

from decimal import Decimal

from finance import selectors as fin
from finance.selectors import figure_of
from reports import selectors
from reports.selectors import Scope
from tests.reports.conftest import YEAR, expected

D = Decimal


class TestExecutionReport:
    def test_totals_equal_the_trial_balance_to_the_cent(self, city):
        report = selectors.execution_report(year=YEAR, group_by=("department",))
        tb = {r.account: r.balance for r in fin.trial_balance(book="indicator", year=YEAR).rows}
        t = report.total.figures
        assert t["paid"].yuan == tb["9301"] == expected("paid") == D("710373.00")
        assert t["committed"].yuan == tb["9201"] == D("5000.00")
        assert t["available"].yuan == tb["9101"]
        assert t["approved"].yuan + t["adjusted"].yuan == tb["9001"] == D("1555000.00")
        assert t["adjusted"].yuan == D("25000.00")  # the adjustment; the reversal nets to zero
        assert sum(r.figures["paid"].fen for r in report.rows) == t["paid"].fen

    def test_groups_by_department_with_names_and_rates(self, city):
        report = selectors.execution_report(year=YEAR, group_by=("department",))
        by = {r.keys["department"]: r for r in report.rows}
        assert set(by) == {"440300100", "440300200", "440303100"}
        edu = by["440300100"]
        assert edu.labels["department"] == "深圳市教育局"
        assert edu.figures["approved"].yuan == expected("approved", [
            "edu_office", "edu_salary", "edu_host", "edu_car", "edu_proj", "edu_fund"])
        assert edu.figures["paid"].yuan == D("585373.00")
        assert edu.rate == (D("585373.00") / D("1335000.00")).quantize(D("0.0001"))
        assert by["440300200"].figures["adjusted"].yuan == D("0.00")

    def test_groups_by_several_dimensions(self, city):
        report = selectors.execution_report(
            year=YEAR, group_by=("unit", "function", "economic", "fund_source"))
        row = next(r for r in report.rows if r.keys["economic"] == "30217")
        assert row.keys == {"unit": "440300102", "function": "2050204", "economic": "30217",
                            "fund_source": "1"}
        assert (row.figures["approved"].yuan, row.figures["paid"].yuan,
                row.figures["available"].yuan) == (D("30000.00"), D("12040.00"), D("17960.00"))
        assert row.labels["economic"] == "公务接待费"

    def test_city_scope_consolidates_its_districts(self, city):
        city_report = selectors.execution_report(year=YEAR, scope=Scope.parse("region:440300"))
        district = selectors.execution_report(year=YEAR, scope=Scope.parse("region:440303"))
        assert city_report.total.figures["paid"].yuan == D("710373.00")
        assert district.total.figures["paid"].yuan == D("45000.00")

    def test_monthly_trend_has_the_payments_in_their_month(self, city):
        report = selectors.execution_report(year=YEAR)
        assert [f.yuan for f in report.monthly_paid][2:5] == [D("0.00"), D("710373.00"), D("0.00")]

    def test_every_trace_reference_reruns_to_its_figure(self, city):
        report = selectors.execution_report(
            year=YEAR, group_by=("region", "unit", "function", "economic"))
        figures = [f for r in [*report.rows, report.total] for f in r.figures.values()]
        figures += report.monthly_paid
        assert len(figures) > 40
        for f in figures:
            assert figure_of(f.trace) == f.fen, f.trace

    def test_as_of_a_date_leaves_out_later_payments(self, city):
        import datetime as dt

        report = selectors.execution_report(year=YEAR, as_of=dt.date(YEAR, 3, 31))
        assert report.total.figures["paid"].fen == 0
        assert report.total.figures["committed"].yuan == D("715373.00")
        assert figure_of(report.total.figures["committed"].trace) == 71537300
