"""The generated city's budgets and monthly requests, without a database: the shape the
一体化 rules give a unit's spending (人员类 + 运转类 = basic spending, the larger part;
"三公" for some units under the payment rules' caps), and a year of requests that stays
inside every budget line."""
from __future__ import annotations

import csv
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from citysim.simulate import ROTA, CityYear, UnitSpec

CODES = Path(__file__).resolve().parents[2] / "finance" / "data" / "codes"
# 三公 codes and their annual caps per unit (payments.rules defaults), written out here
CAPS = {"30212": Decimal("200000.00"), "30217": Decimal("50000.00"),
        "30231": Decimal("100000.00"), "31013": Decimal("300000.00")}
UNITS = 120


def sim() -> CityYear:
    s = CityYear(units=UNITS, year=2026, out=Path("/nonexistent"), seed=2026)
    s.payees = ["payee"]  # type: ignore[list-item]
    return s


def units() -> list[UnitSpec]:
    return [UnitSpec(code=f"440300010{i:03d}", name=f"单位{i}", region="440300",
                     department="440300010", function="2010601", agent=0, rota=i % len(ROTA),
                     sangong=i % 3 == 0) for i in range(UNITS)]


def by_project(s: CityYear, u: UnitSpec) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for x in s.budget_lines(u):
        out[x.project] += x.amount
    return out


class TestBudgetLines:
    def test_every_economic_code_is_a_leaf_of_the_department_classification(self):
        with (CODES / "economic_codes_department.csv").open(encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        known = {r["code"] for r in rows}
        parents = {r["parent"] for r in rows}
        s = sim()
        used = {x.economic for u in units() for x in s.budget_lines(u)}
        assert used >= {"30101", "30102", "30108", "30302", "30201", "30211", "31002", "30227",
                        *CAPS}
        assert used <= known and not used & parents

    def test_amounts_are_in_fen(self):
        s = sim()
        amounts = [x.amount for u in units() for x in s.budget_lines(u)]
        amounts += [s.request_plan(u, m)[1] for u in units() for m in range(1, 13)]
        assert {a.as_tuple().exponent for a in amounts} == {-2}

    def test_personnel_takes_55_to_70_percent_and_basic_spending_is_the_larger_part(self):
        s = sim()
        for u in units():
            total = by_project(s, u)
            personnel, running, specific = total[u.personnel], total[u.running], total[u.specific]
            whole = personnel + running + specific
            cent = Decimal("0.01")  # the shares are rounded to the fen
            assert Decimal("0.55") * whole - cent <= personnel <= Decimal("0.70") * whole + cent
            assert running >= Decimal("0.10") * whole - cent, u.code
            assert specific > 0 and personnel + running > specific, u.code

    def test_each_project_carries_only_codes_of_its_category(self):
        s = sim()
        for u in units():
            for x in s.budget_lines(u):
                if x.project == u.personnel:
                    assert x.economic[:3] in ("301", "303")
                elif x.project == u.running:
                    assert x.economic[:3] == "302" or x.economic == "31013"
                else:
                    assert x.project == u.specific and x.economic in ("31002", "30227")

    def test_a_third_of_the_units_budget_sangong_under_the_caps(self):
        s = sim()
        with_sangong = set()
        for u in units():
            for x in s.budget_lines(u):
                if x.economic in CAPS:
                    with_sangong.add(u.code)
                    assert x.project == u.running and 0 < x.amount <= CAPS[x.economic]
        assert len(with_sangong) == UNITS // 3
        assert any(x.economic == "31013" for u in units() for x in s.budget_lines(u))


class TestRequests:
    def test_a_year_of_requests_stays_inside_every_line_and_every_cap(self):
        s = sim()
        for u in units():
            lines = {(x.project, x.economic): x.amount for x in s.budget_lines(u)}
            office = lines[(u.running, "30201")]
            lines[(u.running, "30201")] -= office * Decimal("0.10")  # June's virement at most
            spent: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
            for month in range(1, 13):
                d, amount, _payee, purpose = s.request_plan(u, month)
                assert amount > 0 and purpose.startswith(f"{month}月")
                spent[(d.project, d.economic)] += amount
            for key, amount in spent.items():
                assert amount <= lines[key], (u.code, key)
                if key[1] in CAPS:
                    assert amount <= CAPS[key[1]], (u.code, key)

    def test_a_year_of_requests_spends_more_on_basic_spending_than_on_projects(self):
        s = sim()
        for u in units():
            paid: dict[str, Decimal] = defaultdict(Decimal)
            for month in range(1, 13):
                d, amount, _payee, _purpose = s.request_plan(u, month)
                paid[d.project] += amount
            assert paid[u.personnel] > paid[u.specific] > 0, u.code
            assert paid[u.personnel] + paid[u.running] > paid[u.specific], u.code

    def test_salaries_are_paid_every_other_month_at_least_and_sangong_only_by_their_units(self):
        s = sim()
        for u in units():
            kinds = [s.request_plan(u, m)[0].project for m in range(1, 13)]
            assert kinds.count(u.personnel) == 6
            for a, b in zip(kinds, kinds[1:], strict=False):
                assert u.personnel in (a, b)  # never two months without pay
            assert kinds.count(u.specific) == 2
            sangong = [s.request_plan(u, m)[0].economic for m in range(1, 13)]
            paid = [c for c in sangong if c in CAPS]
            assert len(paid) == (2 if u.sangong else 0)
            assert len(set(paid)) == len(paid)  # never the same 三公 code twice
