"""控制方式 on payment requests (payments.services.control, finance.control): an indicator
of 10,000.00 with 8,500.00 already committed; a 600.00 request takes it to
(8,500 + 600) / 10,000 = 91 %."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from audit import trace as audit_trace
from finance import control, roles
from finance.errors import NotPermitted
from finance.models import ControlCheck, ControlOverride, WorkflowStep
from payments import errors, services
from payments.services import control as request_control
from tests.helpers import dims, grant, indicator_approve
from tests.payments.conftest import AS_OF, file_request
from tests.payments.test_requests import bal

D0 = dt.date(2026, 1, 1)


@pytest.fixture
def spent(fiscal_year, orgs, people, acme, agent, user, django_user_model):  # noqa: ANN001, ARG001
    """Indicator 10,000.00 (fund source 1 without plan control: only the indicator
    limits), a request of 8,500.00 submitted."""
    indicator_approve(Decimal("10000.00"))
    services.fund_source_plan_control_set(fund_source="1", enabled=False, user=user,
                                          reason="test: no plan control")
    file_request(people, acme, "8500.00")
    office = grant(django_user_model.objects.create_user(username="yusuanchu"),
                   roles.BUDGET_OFFICE)

    def set_rule(mode: str, threshold: str) -> None:
        found = control.rule_for(dims=dims(), on=D0)
        control.control_rule_save(user=office, reason=f"{mode} {threshold}", rule=found,
                                  fund_source="1", economic_prefix="302", mode=mode,
                                  threshold_percent=Decimal(threshold), effective_from=D0)
    return set_rule


def outcomes(req: object) -> list[tuple[str, str]]:
    return [(c.outcome, f"{c.usage_percent}") for c in control.checks_of(req)]


class TestControlOnSubmission:
    def test_block_at_90_refuses_600_until_the_director_overrides_it_with_a_reason(
            self, spent, people, acme):
        spent("block", "90.00")
        req = file_request(people, acme, "600.00")
        # 91 % > 90 %: refused by the control rule, nothing committed (1,500.00 left)
        assert req.status == "refused"
        assert [(h.rule_code, h.action) for h in req.hits.all()] == [("control", "refuse")]
        assert "usage would be 91.00%" in req.hits.get().reason
        assert bal("9101") == Decimal("1500.00")  # 10,000 − 8,500
        for who, error in ((people.filer, errors.NotAllowed), (people.reviewer, NotPermitted)):
            with pytest.raises(error):
                request_control.payment_request_control_override(
                    request=req, user=who, reason="x", as_of=AS_OF)
        with pytest.raises(control.ReasonRequired):
            request_control.payment_request_control_override(
                request=req, user=people.director, reason=" ", as_of=AS_OF)
        ov = request_control.payment_request_control_override(
            request=req, user=people.director, reason="市政府专题会议纪要〔2026〕5号", as_of=AS_OF)
        assert (ov.granted_by, ov.usage_percent, ov.amount, ov.threshold_percent, ov.mode) == (
            people.director, Decimal("91.00"), Decimal("600.00"), Decimal("90.00"), "block")
        step = WorkflowStep.objects.get(doc_id=str(req.pk), action="control_override")
        assert step.actor == people.director and step.comment.endswith(
            "90.00% → 91.00%: 市政府专题会议纪要〔2026〕5号")
        req = services.payment_request_submit(request=req, user=people.filer, as_of=AS_OF)
        # now committed: 8,500 + 600 = 9,100.00; 900.00 left
        assert req.status == "unit_review"
        assert (bal("9201"), bal("9101")) == (Decimal("9100.00"), Decimal("900.00"))
        assert "overridden by director at usage 91.00%" in req.hits.get().reason
        assert outcomes(req) == [("blocked", "91.00"), ("overridden", "91.00")]
        assert control.checks_of(req)[-1].override == ov
        # the auditor's trace of the committed figure reaches the request and its override
        traced = audit_trace.trace(measure="committed", year=2026, unit="440300101")
        src = next(s for s in traced.sources if s.pk == str(req.pk))
        assert [(s.action, s.actor) for s in src.steps if s.action == "control_override"] == [
            ("control_override", "director")]

    def test_warn_at_80_allows_600_with_a_warning_and_record_without(self, spent, people, acme):
        spent("warn", "80.00")
        req = file_request(people, acme, "600.00")
        # 91 % ≥ 80 %: committed, with the warning as a flag the approvers see
        assert req.status == "unit_review" and bal("9201") == Decimal("9100.00")
        assert [(h.rule_code, h.action) for h in req.hits.all()] == [("control", "flag")]
        assert "warn from 80.00%" in req.hits.get().reason
        spent("record", "80.00")
        req2 = file_request(people, acme, "300.00")
        # (9,100 + 300) / 10,000 = 94 %: committed, nothing shown, only recorded
        assert req2.status == "unit_review" and not req2.hits.exists()
        assert outcomes(req) == [("warned", "91.00")]
        assert outcomes(req2) == [("recorded", "94.00")]

    @pytest.mark.parametrize("mode", ["block", "warn", "record"])
    def test_over_100_is_refused_in_every_mode_even_with_an_override(
            self, spent, people, acme, mode):
        spent(mode, "90.00")
        req = file_request(people, acme, "1600.00", submit=False)
        # (8,500 + 1,600) / 10,000 = 101 %: the ledger has 1,500.00, no override helps
        with pytest.raises(control.OverrideAboveLimit):
            request_control.payment_request_control_override(
                request=req, user=people.director, reason="紧急", as_of=AS_OF)
        with pytest.raises(errors.IndicatorShort):
            services.payment_request_submit(request=req, user=people.filer, as_of=AS_OF)
        assert not ControlOverride.objects.exists() and not ControlCheck.objects.filter(
            doc_id=str(req.pk)).exists()
        assert bal("9101") == Decimal("1500.00")
