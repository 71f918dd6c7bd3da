"""Month close and year-end close: closing entries of both books, carry-forward or
take-back of unspent indicators per fund source, next year's opening balances, and
reopening only by reversal by an authorised role."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from finance import errors as ferr
from finance import selectors as fin
from finance.ledger import Dims, cr, dr, entry_post
from finance.models import Entry, FiscalYear, WorkflowStep
from reports import errors, services, tables
from reports.models import FundSourcePolicy, YearEndClose
from reports.selectors import Scope
from tests.reports.conftest import YEAR

D = Decimal


def close_months(user, upto=11):
    for m in range(1, upto + 1):
        services.month_close(year=YEAR, month=m, user=user)


@pytest.fixture
def with_surplus(city, user):
    """Revenue without an equal expense: 事业收入 received into the bank (both books)."""
    d = Dims(region="440300", unit="440300101", function="2050203", economic="30201",
             fund_source="5")
    entry_post(lines=[dr("financial", "1002", D("8000.00"), d), cr("financial", "4101", D("8000.00"), d),
                      dr("budget", "8001", D("8000.00"), d), cr("budget", "6101", D("8000.00"), d)],
               description="事业收入", user=user, on=dt.date(YEAR, 5, 5), kind="receipt")
    return user


@pytest.fixture
def manager(django_user_model):
    u = django_user_model.objects.create_user(username="chief", password="x-Secret-456")
    u.user_permissions.add(Permission.objects.get(codename="reopen_year"))
    return django_user_model.objects.get(pk=u.pk)


class TestMonthClose:
    def test_a_closed_month_refuses_postings_and_is_recorded(self, city, user):
        services.month_close(year=YEAR, month=4, user=user)
        with pytest.raises(ferr.PeriodClosed):
            entry_post(lines=[dr("indicator", "9101", D("1.00"), Dims(unit="440300101")),
                              cr("indicator", "9001", D("1.00"), Dims(unit="440300101"))],
                       description="late", user=user, on=dt.date(YEAR, 4, 30))
        step = WorkflowStep.objects.get(action="month_close")
        assert (step.from_state, step.to_state, step.actor) == ("open", "closed", user)

    def test_reopening_a_month_needs_the_role_and_a_reason(self, city, user, manager):
        services.month_close(year=YEAR, month=4, user=user)
        with pytest.raises(errors.NotAuthorised) as exc:
            services.month_reopen(year=YEAR, month=4, user=user, reason="fix")
        assert "the role reports.reopen_year is required" in str(exc.value)
        with pytest.raises(errors.ReasonRequired):
            services.month_reopen(year=YEAR, month=4, user=manager, reason=" ")
        services.month_reopen(year=YEAR, month=4, user=manager, reason="late invoice")
        assert WorkflowStep.objects.get(action="month_reopen").comment == "late invoice"


class TestYearEndClose:
    def test_refuses_while_months_are_open(self, city, user):
        close_months(user, upto=9)
        with pytest.raises(errors.MonthsStillOpen) as exc:
            services.year_end_close(year=YEAR, user=user)
        assert str(exc.value) == "Close months 10, 11 of 2026 before the year-end close."

    def test_closes_both_books_into_surplus_and_carry_forward_accounts(self, with_surplus, user):
        fy = FiscalYear.objects.get(year=YEAR)  # noqa: F841
        revenue_6001 = fin.balance(account="6001", year=YEAR)
        close_months(user)
        close = services.year_end_close(year=YEAR, user=user)
        for account in ("6001", "6101", "7101", "4001", "4101", "5001", "3301", "3302"):
            assert fin.balance(account=account, year=YEAR) == D("0.00"), account
        assert revenue_6001 == D("710373.00")
        # grant revenue equals grant spending here, so 8101 nets to zero; 事业收入 remains
        assert fin.balance(account="8101", year=YEAR) == D("0.00")
        assert fin.balance(account="8201", year=YEAR) == D("8000.00")
        assert fin.balance(account="3001", year=YEAR) == D("8000.00")
        for book in ("indicator", "budget", "financial"):
            assert fin.trial_balance(book=book, year=YEAR).balanced
        assert FiscalYear.objects.get(year=YEAR).is_closed
        assert close.summary["financial 4101"] == "8000.00"
        assert fin.ledger_verify().ok

    def test_final_accounts_still_show_the_years_flows_after_closing(self, with_surplus, user):
        before = tables.fact_set(year=YEAR, scope=Scope())
        close_months(user)
        services.year_end_close(year=YEAR, user=user)
        after = tables.fact_set(year=YEAR, scope=Scope())
        for measure in ("revenue", "expenditure", "fin_revenue", "fin_expense"):
            assert after.figure(measure).fen == before.figure(measure).fen != 0

    def test_unspent_indicators_are_carried_or_taken_back_by_fund_source(self, city, user):
        close_months(user)
        services.year_end_close(year=YEAR, user=user)
        assert fin.balance(account="9101", year=YEAR) == D("0.00")
        # fund 2 (government fund) carries forward by default; fund 1 is taken back
        assert fin.balance(account="9101", year=YEAR + 1, fund_source="2") == D("300000.00")
        assert fin.balance(account="9101", year=YEAR + 1, fund_source="1") == D("0.00")
        assert fin.balance(account="9001", year=YEAR + 1) == D("300000.00")
        carry = Entry.objects.get(fiscal_year=YEAR + 1, kind="carry_forward")
        assert carry.date == dt.date(YEAR + 1, 1, 1)
        # the carried tuple is in the new year's indicator register: units can file on it
        from budgets.models import Indicator

        carried = Indicator.objects.filter(year=YEAR + 1)
        assert [(i.unit.code, i.economic_code, i.fund_source_code, i.project_code, i.entry)
                for i in carried] == [("440300101", "31005", "2", "P2026-002", carry)]

    def test_the_policy_table_decides_carry_forward(self, city, user):
        services.fund_source_policy_set(fund_source="1", action="carry_forward", user=user,
                                        reason="2026 budget rules")
        assert FundSourcePolicy.objects.get().history.first().history_change_reason == (
            "2026 budget rules")
        close_months(user)
        services.year_end_close(year=YEAR, user=user)
        # fund 1 available: approved + adjusted - committed - paid, per line:
        # 55000 + 275000 + 17960 + 46667 + 50000 + 0 + 45000
        assert fin.balance(account="9101", year=YEAR + 1, fund_source="1") == D("489627.00")

    def test_next_year_opens_with_the_closing_balances(self, with_surplus, user):
        close_months(user)
        services.year_end_close(year=YEAR, user=user)
        assert fin.balance(account="1002", year=YEAR + 1) == D("8000.00")
        assert fin.balance(account="3001", year=YEAR + 1) == D("8000.00")
        assert fin.balance(account="8201", year=YEAR + 1) == D("8000.00")
        assert fin.balance(account="8001", year=YEAR + 1) == D("8000.00")
        opening = tables.fact_set(year=YEAR + 1, scope=Scope())
        assert opening.figure("opening").fen == 800000

    def test_a_closed_year_cannot_be_closed_again(self, city, user):
        close_months(user)
        services.year_end_close(year=YEAR, user=user)
        with pytest.raises(errors.YearAlreadyClosed):
            services.year_end_close(year=YEAR, user=user)


class TestYearEndReopen:
    def test_only_an_authorised_role_reopens(self, city, user):
        close_months(user)
        services.year_end_close(year=YEAR, user=user)
        with pytest.raises(errors.NotAuthorised):
            services.year_end_reopen(year=YEAR, user=user, reason="audit adjustment")
        assert YearEndClose.objects.get(year=YEAR).status == "closed"

    def test_reopening_reverses_every_closing_entry_and_is_recorded(self, with_surplus, user,
                                                                     manager):
        before = {a: fin.balance(account=a, year=YEAR) for a in ("6001", "7101", "4101", "9101")}
        close_months(user)
        close = services.year_end_close(year=YEAR, user=user)
        services.year_end_reopen(year=YEAR, user=manager, reason="审计调整 audit adjustment")
        after = {a: fin.balance(account=a, year=YEAR) for a in before}
        assert after == before
        assert fin.balance(account="9101", year=YEAR + 1) == D("0.00")
        reversed_ids = set(Entry.objects.filter(reverses_id__in=close.entry_ids)
                           .values_list("reverses_id", flat=True))
        assert reversed_ids == set(close.entry_ids)
        close.refresh_from_db()
        assert close.status == "reopened" and not FiscalYear.objects.get(year=YEAR).is_closed
        step = WorkflowStep.objects.get(action="reopen")
        assert (step.actor, step.comment) == (manager, "审计调整 audit adjustment")
        assert fin.ledger_verify().ok
        # and it can be closed again
        services.year_end_close(year=YEAR, user=user)


class TestMessages:
    def test_clerk_sees_chinese_with_the_figures(self, city, user):
        from django.utils import translation

        with pytest.raises(errors.MonthsStillOpen) as exc:
            services.year_end_close(year=YEAR, user=user)
        with translation.override("zh-hans"):
            text = str(exc.value)
        assert text == "年终结账前请先结 2026 年第 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 月。"


class TestClosingAtScale:
    def test_entries_are_chunked_and_cross_tuple_balances_still_open(self, with_surplus, user,
                                                                       monkeypatch):
        a = Dims(region="440300", unit="440300101", fund_source="5")
        b = Dims(region="440300", unit="440300102", fund_source="5")
        # money received by one unit's tuple, recorded as revenue of another's
        entry_post(lines=[dr("financial", "1002", D("300.00"), a),
                          cr("financial", "4609", D("300.00"), b)],
                   description="其他收入", user=user, on=dt.date(YEAR, 6, 1), kind="receipt")
        monkeypatch.setattr(services, "MAX_LINES", 4)
        close_months(user)
        close = services.year_end_close(year=YEAR, user=user)
        closing = Entry.objects.filter(pk__in=close.entry_ids, kind="closing")
        assert closing.count() > 10 and all(e.lines.count() <= 4 for e in closing)
        assert fin.balance(account="1002", year=YEAR + 1, unit="440300101") == D("8300.00")
        assert fin.balance(account="3001", year=YEAR + 1, unit="440300102") == D("300.00")
        for book in ("budget", "financial"):
            assert fin.trial_balance(book=book, year=YEAR + 1).balanced
        assert fin.ledger_verify().ok


class TestFinancialStatements:
    def _statements(self):
        fs = tables.fact_set(year=YEAR, scope=Scope.parse("region:440300"))
        by = {t.code: t for t in tables.statement_tables(fs)}
        return by

    def test_balance_sheet_balances_before_and_after_the_close(self, with_surplus, user):
        from finance.selectors import figure_of
        from reports.checks import tables_check

        for phase in ("before", "after"):
            if phase == "after":
                close_months(user)
                services.year_end_close(year=YEAR, user=user)
            by = self._statements()
            s2, s3 = by["S2"], by["S3"]
            assert s2.value("assets_total") == 800000 == int(fin.balance(account="1002", year=YEAR) * 100)
            expected_unclosed = 800000 if phase == "before" else 0
            assert (s2.value("unclosed"), s2.value("net_total")) == (
                expected_unclosed, 800000 - expected_unclosed), phase
            assert s3.value("surplus") == 800000  # the year's 本期盈余, closed or not
            assert tables_check(list(by.values())) == [], phase
            for t in (s2, s3):
                for _r, _c, f in t.figures():
                    assert figure_of(f.trace) == f.fen, (phase, f.trace)
