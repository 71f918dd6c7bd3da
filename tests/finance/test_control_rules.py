"""控制方式 as rule data (finance.control): which rule applies, the usage and what each
mode says, and a rule's history. Figures are worked by hand in the comments."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from finance import control, roles, services
from finance.errors import NotPermitted
from finance.models import ControlRule
from tests.helpers import ON, YEAR, approve_lines, commit_lines, dims, grant

D0 = dt.date(2026, 1, 1)


def rule(pk: int, *, fund: str = "", econ: str = "", unit: str = "", mode: str = "block",
         since: dt.date = D0) -> ControlRule:
    return ControlRule(pk=pk, fund_source=fund, economic_prefix=econ, unit=unit, mode=mode,
                       threshold_percent=Decimal("90.00"), effective_from=since)


class TestPickRule:
    RULES = [rule(1, fund="1"),                        # fund source only
             rule(2, econ="302"),                      # economic class 302
             rule(3, econ="30201"),                    # economic 30201, any fund source
             rule(4, fund="1", econ="30201"),          # economic 30201 and fund source 1
             rule(5, unit="440300101"),                # the unit, any class
             rule(6, econ="302", since=dt.date(2026, 4, 1))]  # 302 again, from April

    def pick(self, on: dt.date = ON, **kw: str) -> int | None:
        found = control.pick_rule(self.RULES, dims(**kw), on)
        return found.pk if found else None

    def test_the_unit_wins_over_any_class_or_fund_source(self):
        # unit 440300101 / 30201 / fund 1: rules 1, 2, 3, 4, 5 match; 5 names the unit
        assert self.pick() == 5

    def test_then_the_longer_economic_prefix_then_the_fund_source(self):
        # unit 440300102 / 30201 / fund 1: 1, 2, 3, 4 match; 3 and 4 have the 5-digit
        # prefix, 4 also names the fund source
        assert self.pick(unit="440300102") == 4
        # … fund 2: 2 and 3 match; 3's prefix is longer
        assert self.pick(unit="440300102", fund="2") == 3
        # 30202 / fund 1: 1 and 2 match; a 3-digit prefix beats none
        assert self.pick(unit="440300102", economic="30202") == 2

    def test_of_one_scope_the_latest_in_effect_applies_and_nothing_is_the_default(self):
        # 30202 / fund 2 in March: only 2 (6 starts in April); in April 6 replaces it
        assert self.pick(unit="440300102", economic="30202", fund="2") == 2
        assert self.pick(dt.date(2026, 4, 1), unit="440300102", economic="30202", fund="2") == 6
        # 30101 / fund 2 of unit 440300102: nothing matches → the default, block at 100 %
        assert self.pick(unit="440300102", economic="30101", fund="2") is None


@pytest.fixture
def office(codes, orgs, django_user_model):  # noqa: ANN001, ARG001
    return grant(django_user_model.objects.create_user(username="yusuanchu"),
                 roles.BUDGET_OFFICE)


@pytest.fixture
def used_8500(fiscal_year, orgs, user):  # noqa: ANN001, ARG001
    """Indicator 10,000.00 on the default tuple, 8,500.00 of it committed."""
    services.entry_post(lines=approve_lines(Decimal("10000.00")), description="批复",
                        user=user, on=ON, kind="approval")
    services.entry_post(lines=commit_lines(Decimal("8500.00")), description="占用",
                        user=user, on=ON, kind="commit")


class TestDecide:
    def test_block_at_90_refuses_600_at_91_percent_and_the_default_allows_it(
            self, used_8500, office):
        # no rule: the default, block at 100 %: (8,500 + 600) / 10,000 = 91 % ≤ 100 %
        d = control.decide(dims=dims(), year=YEAR, amount=Decimal("600.00"), on=ON)
        assert (d.rule, d.mode, d.threshold) == (None, "block", Decimal("100.00"))
        assert d.usage == Decimal("91.00") and not d.blocked and not d.over_limit
        r = control.control_rule_save(user=office, reason="深财预〔2026〕9号", fund_source="1",
                                      economic_prefix="302", threshold_percent=Decimal("90.00"),
                                      effective_from=D0)
        d = control.decide(dims=dims(), year=YEAR, amount=Decimal("600.00"), on=ON)
        assert d.rule == r and d.blocked  # 91 % > 90 %
        assert d.message() == str(control.MSG_BLOCKED % {
            "rule": f"#{r.pk} 1 / 302 / *", "threshold": "90.00", "usage": "91.00",
            "amount": "600.00", "used": "8,500.00", "total": "10,000.00"})
        # 500.00: (8,500 + 500) / 10,000 = 90 %, at the threshold, not above it
        assert not control.decide(dims=dims(), year=YEAR, amount=Decimal("500.00"),
                                  on=ON).blocked

    def test_warn_from_the_threshold_on_record_never_and_over_100_in_every_mode(
            self, used_8500, office):
        r = control.control_rule_save(user=office, reason="试行预警", economic_prefix="30201",
                                      mode="warn", threshold_percent=Decimal("91.00"),
                                      effective_from=D0)
        # (8,500 + 600) / 10,000 = 91 %: from 91 % on it warns
        assert control.decide(dims=dims(), year=YEAR, amount=Decimal("600.00"), on=ON).warned
        # (8,500 + 599.99) / 10,000 = 90.9999 % → shown 91.00, but below 91: no warning
        d = control.decide(dims=dims(), year=YEAR, amount=Decimal("599.99"), on=ON)
        assert d.usage == Decimal("91.00") and not d.warned
        control.control_rule_save(user=office, reason="仅记录", rule=r, economic_prefix="30201",
                                  mode="record", threshold_percent=Decimal("91.00"),
                                  effective_from=D0)
        d = control.decide(dims=dims(), year=YEAR, amount=Decimal("600.00"), on=ON)
        assert not d.warned and not d.blocked and d.message() == ""
        # 1,600.00: (8,500 + 1,600) / 10,000 = 101 % — above 100 % whatever the mode
        assert control.decide(dims=dims(), year=YEAR, amount=Decimal("1600.00"),
                              on=ON).over_limit


class TestRuleChanges:
    def test_each_change_is_kept_with_who_and_why(self, office):
        r = control.control_rule_save(user=office, reason="深财预〔2026〕9号", fund_source="1",
                                      economic_prefix="302", threshold_percent=Decimal("90.00"),
                                      effective_from=D0)
        control.control_rule_save(user=office, reason="改为预警 深财预〔2026〕12号", rule=r,
                                  fund_source="1", economic_prefix="302", mode="warn",
                                  threshold_percent=Decimal("85.00"), effective_from=D0)
        rows = list(ControlRule.history.filter(id=r.pk).order_by("history_id"))
        assert [(h.mode, h.threshold_percent) for h in rows] == [
            ("block", Decimal("90.00")), ("warn", Decimal("85.00"))]
        assert [h.history_change_reason for h in rows] == ["深财预〔2026〕9号",
                                                           "改为预警 深财预〔2026〕12号"]
        assert {h.history_user_id for h in rows} == {office.pk}

    def test_only_the_budget_office_with_a_reason_and_a_threshold_up_to_100(
            self, office, user):
        kw = {"fund_source": "1", "effective_from": D0}
        with pytest.raises(NotPermitted):
            control.control_rule_save(user=user, reason="x", **kw)
        with pytest.raises(control.ReasonRequired):
            control.control_rule_save(user=office, reason=" ", **kw)
        with pytest.raises(control.RuleInvalid):
            control.control_rule_save(user=office, reason="x", threshold_percent=Decimal("120"),
                                      **kw)
        assert not ControlRule.objects.exists()

    def test_the_city_set_loads_once(self, office):
        import json
        from pathlib import Path

        path = Path(control.__file__).parent / "data" / "control_rules.json"
        rows = json.loads(path.read_text(encoding="utf-8"))
        control.rules_load(rows, user=office, reason="city set-up")
        control.rules_load(rows, user=office, reason="city set-up")
        assert ControlRule.objects.count() == len(rows)
