"""Fiscal years, periods, regions and organizations with validated USCC and history."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from finance import services
from finance.ids import make_uscc
from finance.models import FiscalYear, Organization, Period, VoucherSequence


class TestFiscalYearOpen:
    def test_creates_twelve_open_periods_and_a_sequence_once(self, codes, user):
        services.fiscal_year_open(year=2026, user=user)
        services.fiscal_year_open(year=2026, user=user)
        assert FiscalYear.objects.count() == 1
        assert list(Period.objects.values_list("month", "status")) == [
            (m, "open") for m in range(1, 13)]
        assert VoucherSequence.objects.get(fiscal_year=2026).last_number == 0

    def test_period_close_and_reopen_are_recorded_with_user_and_reason(self, fiscal_year, user):
        services.period_close(year=2026, month=1, user=user, reason="1月结账")
        services.period_reopen(year=2026, month=1, user=user, reason="补记 late voucher")
        period = Period.objects.get(fiscal_year__year=2026, month=1)
        hist = list(period.history.values_list("status", "history_change_reason", "history_user"))
        assert hist[:2] == [("open", "补记 late voucher", user.pk), ("closed", "1月结账", user.pk)]


class TestOrganizationUpsert:
    def test_valid_uscc_is_accepted_and_tree_kept(self, orgs):
        unit = orgs["u1"]
        assert unit.parent == orgs["dept"] and unit.parent.parent == orgs["bureau"]
        assert unit.region.code == "440300"

    def test_invalid_uscc_is_refused_with_message(self, codes, user):
        bad = make_uscc("440300", 5)[:-1] + ("0" if make_uscc("440300", 5)[-1] != "0" else "1")
        with pytest.raises(ValidationError) as exc:
            services.organization_upsert(code="440300555", name="坏单位", kind="budget_unit",
                                         region_code="440300", uscc=bad, user=user, reason="x")
        assert "Invalid unified social credit code" in str(exc.value)
        assert not Organization.objects.filter(code="440300555").exists()

    def test_change_keeps_history_with_user_and_reason_and_noop_adds_none(self, orgs, user):
        u1 = orgs["u1"]
        kwargs = {"code": u1.code, "kind": "budget_unit", "region_code": "440300",
                  "uscc": u1.uscc, "parent_code": "440300100", "user": user}
        services.organization_upsert(name=u1.name, reason="same", **kwargs)
        assert u1.history.count() == 1
        services.organization_upsert(name="深圳市第一高级中学", reason="更名 renamed", **kwargs)
        hist = u1.history.all()
        assert [h.name for h in hist] == ["深圳市第一高级中学", "深圳市第一中学"]
        assert hist[0].history_change_reason == "更名 renamed" and hist[0].history_user == user
