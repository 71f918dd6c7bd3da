"""调整 and 调剂: approved changes post to the control book; history reads back in one call."""
from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection

from budgets import errors, selectors, services
from budgets.models import Adjustment, Indicator
from finance import errors as finance_errors
from finance import roles
from finance import selectors as ledger
from finance.ledger import Dims, entry_post
from finance.models import Entry
from tests.budgets.conftest import AS_OF
from tests.helpers import commit_lines, grant

DAY = dt.date(2026, 5, 8)


def tup(economic: str, fund: str = "1", project: str = "440300101-JB01") -> Dims:
    return Dims(region="440300", unit="440300101", function="2050203", economic=economic,
                fund_source=fund, project=project)


OFFICE, SALARY, TRAVEL = tup("30201"), tup("30101"), tup("30211")


def file(kind: str, amount: str, user, source=None, target=None, batch="2026-TZ-001"):  # noqa: ANN001
    return services.adjustment_file(kind=kind, year=2026, amount=amount, batch_no=batch,
                                    doc_no="深财预〔2026〕12号", date=DAY, reason="年中调整",
                                    source=source, target=target, user=user, as_of=AS_OF)


def available(d: Dims) -> Decimal:
    return selectors.indicator_available(dims=d, year=2026)


class TestAdjustments:
    def test_an_approved_increase_adds_exactly_its_amount(self, approved_plan, user, approver):
        adj = file("increase", "1000.01", user, target=OFFICE)
        assert available(OFFICE) == Decimal("8000.25")  # filing alone moves nothing
        services.adjustment_approve(adjustment=adj, user=approver, as_of=AS_OF)
        assert available(OFFICE) == Decimal("9000.26")
        assert ledger.balance(account="9001", year=2026, **OFFICE.__dict__) == Decimal("9000.26")
        row = next(r for r in selectors.unit_indicators(unit_code="440300101", year=2026)
                   if r.dims == OFFICE)
        assert (row.approved, row.adjusted, row.available) == (
            Decimal("8000.25"), Decimal("1000.01"), Decimal("9000.26"))

    def test_a_decrease_beyond_the_available_amount_is_refused(self, approved_plan, user):
        with pytest.raises(finance_errors.IndicatorInsufficient) as exc:
            file("decrease", "8000.26", user, source=OFFICE)
        assert exc.value.available == Decimal("8000.25")
        assert not Adjustment.objects.exists()

    def test_an_increase_may_open_a_new_indicator_tuple(self, approved_plan, user, approver):
        adj = file("increase", "500.00", user, target=TRAVEL)
        services.adjustment_approve(adjustment=adj, user=approver, as_of=AS_OF)
        assert available(TRAVEL) == Decimal("500.00")
        assert Indicator.objects.filter(dim_key=TRAVEL.key(2026), plan_line=None).exists()

    def test_the_filer_cannot_approve_and_a_rejection_needs_a_reason(self, approved_plan, user,
                                                                    approver):
        adj = file("increase", "1.00", user, target=OFFICE)
        with pytest.raises(finance_errors.NotPermitted):  # the unit's filer is not the office
            services.adjustment_approve(adjustment=adj, user=user)
        grant(user, roles.BUDGET_OFFICE)  # nor when they also work in the budget office
        with pytest.raises(errors.SegregationOfDuties):
            services.adjustment_approve(adjustment=adj, user=user)
        with pytest.raises(errors.ReasonRequired):
            services.adjustment_reject(adjustment=adj, user=approver, reason="")
        adj = services.adjustment_reject(adjustment=adj, user=approver, reason="依据不足")
        assert (adj.status, adj.decided_by) == ("rejected", approver)
        assert available(OFFICE) == Decimal("8000.25")

    @pytest.mark.parametrize(("amount", "message"), [
        ("10.001", "Adjustment refused: amount 10.001 has more than 2 decimal places"),
        ("-5.00", "Adjustment refused: amount -5.00 must not be negative"),
        ("0", "Adjustment refused: amount 0 must be greater than zero"),
    ])
    def test_bad_amounts_are_refused(self, approved_plan, user, amount, message):
        with pytest.raises(errors.AdjustmentInvalid) as exc:
            file("increase", amount, user, target=OFFICE)
        assert str(exc.value) == message

    def test_a_target_with_a_retired_or_unknown_code_or_unit_is_refused(self, approved_plan, user):
        with pytest.raises(errors.AdjustmentInvalid, match="economic code 30299x does not exist"):
            file("increase", "1.00", user, target=tup("30299x"))
        with pytest.raises(errors.UnknownUnit, match="Unknown unit 440399999"):
            file("increase", "1.00", user, target=Dims("440300", "440399999", "2050203", "30201",
                                                       "1", ""))
        with pytest.raises(errors.NoIndicator):
            file("decrease", "1.00", user, source=TRAVEL)


class TestVirements:
    def test_a_virement_moves_exactly_its_amount_between_lines(self, approved_plan, user,
                                                               approver):
        adj = file("virement", "3000.25", user, source=SALARY, target=OFFICE)
        services.adjustment_approve(adjustment=adj, user=approver, as_of=AS_OF)
        assert available(SALARY) == Decimal("116999.85")
        assert available(OFFICE) == Decimal("11000.50")
        assert ledger.balance(account="9101", year=2026) == Decimal("173000.68")  # unchanged total
        entry = Entry.objects.get(kind="virement")
        assert [(ln.account.code, ln.debit, ln.credit) for ln in entry.lines.all()] == [
            ("9101", Decimal("3000.25"), Decimal("0.00")), ("9101", Decimal("0.00"), Decimal("3000.25"))]

    def test_a_virement_from_a_short_line_is_refused_at_approval_and_nothing_is_saved(
            self, approved_plan, user, approver):
        adj = file("virement", "8000.00", user, source=OFFICE, target=SALARY)
        entry_post(lines=commit_lines(Decimal("100.00"), OFFICE), description="用款申请",
                   user=user, on=DAY)  # a payment commitment made meanwhile
        with pytest.raises(finance_errors.IndicatorInsufficient) as exc:
            services.adjustment_approve(adjustment=adj, user=approver)
        assert exc.value.available == Decimal("7900.25")
        assert Adjustment.objects.get(pk=adj.pk).status == "submitted"
        assert available(OFFICE) == Decimal("7900.25")


class TestIndicatorHistory:
    def test_the_history_of_a_line_lists_original_adjustments_and_virements_with_approvers(
            self, approved_plan, user, approver):
        services.adjustment_approve(adjustment=file("increase", "1000.00", user, target=OFFICE,
                                                    batch="B1"), user=approver)
        services.adjustment_approve(adjustment=file("virement", "200.00", user, source=OFFICE,
                                                    target=SALARY, batch="B2"), user=approver)
        events = selectors.indicator_history(dims=OFFICE, year=2026)
        assert [(e.kind, e.amount, e.document, e.approved_by) for e in events] == [
            ("approval", Decimal("8000.25"), f"plan {approved_plan.pk}", "bureau-approver"),
            ("adjustment", Decimal("1000.00"), "B1 深财预〔2026〕12号", "bureau-approver"),
            ("virement", Decimal("-200.00"), "B2 深财预〔2026〕12号", "bureau-approver"),
        ]
        assert sum(e.amount for e in events) == available(OFFICE) == Decimal("8800.25")

    def test_the_history_is_one_api_call(self, approved_plan, user, approver, client):
        services.adjustment_approve(adjustment=file("increase", "1.50", user, target=OFFICE),
                                    user=approver)
        client.force_login(user)
        body = client.get("/api/budgets/indicators/history/", {"year": 2026, **OFFICE.__dict__}).json()
        assert body["available"] == "8001.75"
        assert [(e["kind"], e["amount"]) for e in body["events"]] == [
            ("approval", "8000.25"), ("adjustment", "1.50")]
        rows = client.get("/api/budgets/units/440300101/indicators/", {"year": 2026}).json()
        assert {r["economic"]: r["available"] for r in rows} == {
            "30101": "120000.10", "30201": "8001.75", "31002": "45000.33"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestConcurrentVirements:
    def test_concurrent_virements_never_overdraw_the_source(self, approved_plan, user, approver):
        # 8000.25 on the office line; 20 virements of 500.00 each race for it.
        adjustments = [file("virement", "500.00", user, source=OFFICE, target=SALARY,
                            batch=f"C{i}") for i in range(20)]

        def approve(adj):  # noqa: ANN001, ANN202
            try:
                services.adjustment_approve(adjustment=adj, user=approver)
                return "ok"
            except finance_errors.IndicatorInsufficient:
                return "refused"
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(pool.map(approve, adjustments))
        assert outcomes.count("ok") == 16 and outcomes.count("refused") == 4
        assert available(OFFICE) == Decimal("0.25")
        assert available(SALARY) == Decimal("128000.10")
        assert Adjustment.objects.filter(status="approved").count() == 16
        assert ledger.ledger_verify().ok


class TestIndicatorPage:
    def test_the_unit_page_shows_approved_adjusted_and_available(self, approved_plan, user,
                                                                 approver, client):
        services.adjustment_approve(adjustment=file("increase", "1000.00", user, target=OFFICE),
                                    user=approver)
        client.force_login(user)
        html = client.get("/budgets/units/440300101/indicators/?year=2026").content.decode()
        # approved, carried in from last year (年初结转: none), adjusted, used, available
        assert ('<td>30201</td><td>1</td><td>440300101-JB01</td><td class="num">8000.25</td>'
                '<td class="num">0.00</td><td class="num">1000.00</td><td class="num">0.00</td><td class="num">9000.25</td>'
                in html.replace(",", ""))
