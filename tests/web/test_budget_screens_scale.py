"""The review and plan list pages at city scale: 300 units × 30 plan lines (9,000 lines,
set up in bulk, not through the services). The pages run the same fixed number of
queries as with one plan and show the first page of 100 plans; the time is printed (run with -s) for
docs/PERFORMANCE.md, not asserted."""
from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from budgets.models import BudgetPlan, PlanLine, Project
from finance.ids import make_uscc
from finance.models import EconomicCode, FunctionCode, FundSource, Organization
from tests.helpers import YEAR

UNITS, FUNCTIONS, ECONOMICS = 300, 10, 3


@pytest.mark.postgres
@pytest.mark.django_db
def test_review_and_plan_list_at_300_units_run_a_fixed_number_of_queries(client, world):  # noqa: ANN001
    dept = world.orgs["dept"]
    units = Organization.objects.bulk_create([
        Organization(code=f"4403009{n:03d}", name=f"规模测试单位{n}", kind="budget_unit", parent=dept,
                     region=dept.region, uscc=make_uscc("440300", 2000 + n)) for n in range(UNITS)])
    functions = list(FunctionCode.objects.filter(code__regex=r"^\d{7}$").order_by("code")[:FUNCTIONS])
    economics = list(EconomicCode.objects.filter(code__regex=r"^\d{5}$").order_by("code")[:ECONOMICS])
    fund = FundSource.objects.get(code="1")
    projects = Project.objects.bulk_create([
        Project(code=f"P{u.code}", name="规模测试项目", unit=u, total_amount=Decimal("1.00"),
                status=Project.Status.IN_LIBRARY) for u in units])
    plans = BudgetPlan.objects.bulk_create([
        BudgetPlan(unit=u, year=YEAR, status=BudgetPlan.Status.SECOND_SUBMITTED) for u in units])
    PlanLine.objects.bulk_create([
        PlanLine(plan=plan, project=project, function=f, economic=e, fund_source=fund,
                 amount=Decimal("1234.56"))
        for plan, project in zip(plans, projects, strict=True) for f in functions for e in economics])
    assert PlanLine.objects.count() == UNITS * FUNCTIONS * ECONOMICS

    client.force_login(world.people.office)
    for url, most in ((f"/web/budget/review/?year={YEAR}", 16), ("/web/budget/plans/", 9)):
        client.get(url)
        best = float("inf")
        for _ in range(3):
            with CaptureQueriesContext(connection) as ctx:
                start = time.perf_counter()
                response = client.get(url)
                best = min(best, time.perf_counter() - start)
        body = response.content.decode()
        assert response.status_code == 200 and len(ctx.captured_queries) <= most
        assert body.count("规模测试单位") >= 100 and f"page 1 of 3 ({UNITS} rows)" in body
        print(f"{url}: {len(ctx.captured_queries)} queries, {best * 1000:.0f} ms, "
              f"{len(response.content):,} bytes")
    total = Decimal("1234.56") * UNITS * FUNCTIONS * ECONOMICS
    assert f"{total:,.2f}" in client.get(f"/web/budget/review/?year={YEAR}").content.decode()
