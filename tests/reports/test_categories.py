"""基本支出 / 项目支出, 人员经费 / 公用经费 and "三公" of a small department, with the
expected figures worked out by hand from the 一体化 rules and the disclosure tables'
definitions (not by the reports code). The department (深圳市教育局, tests/reports/
conftest.py) has, in yuan:

  unit  project          category   fund econ   approved  adjusted  paid
  101   440300101-GY01   运转类      1   30201    100,000        0   40,000 (+5,000 committed)
  101   440300101-RY01   人员类      1   30101    500,000   25,000  250,000
  102   440300102-GY01   运转类      1   30217     30,000        0   12,040
  102   440300102-GY01   运转类      1   30231     80,000        0   33,333
  102   P2026-001        特定目标类  1   31002    200,000        0  150,000
  101   P2026-002        特定目标类  2   31005    400,000        0  100,000

Budget tables (approved + adjusted):
  基本支出 = 人员类 + 运转类 = 100,000 + 525,000 + 30,000 + 80,000 = 735,000
  项目支出 (fund 1) = 200,000; all funds = 200,000 + 400,000 = 600,000
  人员经费 (301, 303 of basic) = 525,000; 公用经费 = 100,000 + 30,000 + 80,000 = 210,000
  三公 = 30217 30,000 + 30231 80,000 = 110,000
Final-account tables (budget expenditure, i.e. what was paid):
  基本支出 = 40,000 + 250,000 + 12,040 + 33,333 = 335,373; 项目支出 fund 1 = 150,000,
  all funds 250,000; 人员经费 250,000; 公用经费 85,373; 三公 12,040 + 33,333 = 45,373
"""
from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from reports import render, tables

YEAR = 2026
EDU = "440300100"
FEN = 100  # the tables hold integer fen


@pytest.fixture
def edu(city):  # noqa: ANN001, ARG001
    fs = tables.department_fact_sets(year=YEAR, departments=[EDU])[EDU]
    return {t.code: t for t in tables.budget_tables(fs) + tables.final_tables(fs)}


class TestBudgetTablesSplitByProjectCategory:
    def test_b3_basic_is_personnel_plus_running_projects_and_project_is_specific(self, edu):
        b3 = edu["B3"]
        assert b3.fen("total", "basic") == 735_000 * FEN
        assert b3.fen("total", "project") == 600_000 * FEN
        assert b3.fen("total", "total") == 1_335_000 * FEN
        assert b3.fen("function:2050203", "basic") == 625_000 * FEN  # unit 101, function 2050203
        assert b3.fen("function:2050204", "project") == 200_000 * FEN

    def test_b5_splits_basic_into_personnel_and_public_funding(self, edu):
        b5 = edu["B5"]
        assert (b5.fen("total", "basic"), b5.fen("total", "personnel"),
                b5.fen("total", "public"), b5.fen("total", "project")) == (
            735_000 * FEN, 525_000 * FEN, 210_000 * FEN, 200_000 * FEN)

    def test_b7_sangong_are_the_four_codes_of_basic_spending(self, edu):
        b7 = edu["B7"]
        assert b7.fen("total", "total") == 110_000 * FEN
        assert b7.fen("total", "hosting") == 30_000 * FEN
        assert b7.fen("total", "car_run") == b7.fen("total", "car") == 80_000 * FEN
        assert b7.fen("total", "abroad") == b7.fen("total", "car_buy") == 0


class TestFinalTablesSplitByProjectCategory:
    def test_f3_and_f5_basic_and_project_of_what_was_paid(self, edu):
        assert edu["F3"].fen("total", "basic") == 335_373 * FEN
        assert edu["F3"].fen("total", "project") == 250_000 * FEN
        assert edu["F5"].fen("total", "basic") == 335_373 * FEN
        assert edu["F5"].fen("total", "project") == 150_000 * FEN

    def test_f6_personnel_and_public_funding(self, edu):
        assert edu["F6"].fen("total", "personnel") == 250_000 * FEN
        assert edu["F6"].fen("total", "public") == 85_373 * FEN

    def test_f7_sangong(self, edu):
        assert edu["F7"].fen("total", "total") == 45_373 * FEN
        assert edu["F7"].fen("total", "hosting") == 12_040 * FEN

    def test_the_published_csv_says_the_same_in_wan(self, edu):
        text = render.tables_csv(edu["B5"]).decode("utf-8-sig")
        total = {r["column"]: r for r in csv.DictReader(io.StringIO(text)) if r["row"] == "total"}
        assert (total["basic"]["amount_wan"], total["personnel"]["amount_wan"],
                total["public"]["amount_wan"], total["project"]["amount_wan"]) == (
            "73.50", "52.50", "21.00", "20.00")
        assert Decimal(total["basic"]["amount_yuan"]) == Decimal("735000.00")
        assert "basic=1" in total["basic"]["trace"]


class TestCategoryIsMasterData:
    def test_recategorising_a_project_moves_its_spending_between_basic_and_project(
            self, city, user):  # noqa: ANN001, ARG002
        from budgets.models import Project
        from finance.services import save_with_history

        p = Project.objects.get(code="440300102-GY01")
        p.category = Project.Category.SPECIFIC
        save_with_history(p, user=user, reason="reclassified by the budget office")
        fs = tables.department_fact_sets(year=YEAR, departments=[EDU])[EDU]
        b3 = {t.code: t for t in tables.budget_tables(fs)}["B3"]
        assert b3.fen("total", "basic") == (735_000 - 110_000) * FEN
        assert b3.fen("total", "project") == (600_000 + 110_000) * FEN
        assert p.history.first().category == "specific"
