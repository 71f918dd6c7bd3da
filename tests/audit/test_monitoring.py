"""Monitoring (预警): rules run as postings happen (the ledger's after-posting hook) and in
the nightly sweep; alerts go open → explained → closed with comments and history."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from audit import monitoring, services
from audit.errors import (
    MSG_ALERT_TRANSITION,
    MSG_AUDITOR_READ_ONLY,
    MSG_BAD_RULE_PARAM,
    MSG_COMMENT_REQUIRED,
    AlertTransitionRefused,
    AuditorReadOnly,
    BadRuleParam,
    CommentRequired,
)
from audit.models import Alert, MonitoringRule
from finance.models import Entry, WorkflowStep
from tests.audit.conftest import at, request_and_pay

D = Decimal


@pytest.fixture
def hooked(budget, django_capture_on_commit_callbacks):
    """Postings run their after-posting hooks (as they do outside a test transaction)."""
    def post(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return request_and_pay(budget, *args, **kwargs)
    return post


def codes() -> list[str]:
    return sorted(Alert.objects.values_list("rule__code", flat=True))


class TestRulesOnPosting:
    def test_a_repeated_payment_is_flagged_as_a_possible_duplicate(self, hooked):
        hooked(D("120.50"))
        assert codes() == []
        hooked(D("120.50"), day=dt.date(2026, 3, 12))
        alert = Alert.objects.get(rule__code="duplicate_payment")
        first, second = Entry.objects.filter(kind="payment").order_by("number")
        assert alert.message == (f"Payment 2026-{second.number} of 120.50 by unit 440300101 "
                                 f"repeats 2026-{first.number} within 7 days.")
        assert alert.amount_fen == 12050 and alert.unit_code == "440300101"

    def test_a_different_amount_or_a_reversed_payment_is_not_a_duplicate(self, hooked):
        hooked(D("120.50"))
        hooked(D("120.51"))
        assert "duplicate_payment" not in codes()

    def test_payments_split_below_the_approval_threshold_are_flagged(self, hooked, people):
        services.monitoring_rule_update(code="split_payment", params={"threshold": "500.00"},
                                        user=people["head"], reason="城市标准 city threshold")
        hooked(D("300.00"))
        assert "split_payment" not in codes()
        hooked(D("250.00"), day=dt.date(2026, 3, 11))
        alert = Alert.objects.get(rule__code="split_payment")
        assert alert.message == ("2 payments by unit 440300101 on economic code 30201, each "
                                 "below 500.00, total 550.00 within 7 days.")

    def test_a_large_payment_to_an_individual_is_flagged(self, hooked):
        def resolver(entry):
            if entry.source_type_id and entry.source.filename.startswith("request"):
                return monitoring.Payee(key="person:1", name="张三", is_individual=True)
            return None

        monitoring.register_payee_resolver(resolver)
        try:
            hooked(D("4000.00"))  # below the 50,000.00 default
            assert "individual_payee" not in codes()
            services.monitoring_rule_update(code="individual_payee", user=None, reason="test",
                                            params={"threshold": "1000.00"})
            hooked(D("1200.00"))
        finally:
            monitoring.unregister_payee_resolver(resolver)
        assert Alert.objects.get(rule__code="individual_payee").message.endswith(
            "of 1,200.00 to an individual (张三) is above 1,000.00.")

    def test_a_posting_at_night_is_flagged_and_a_disabled_rule_is_silent(self, hooked, people):
        hooked(D("10.00"), hour=23)
        assert codes() == ["outside_hours", "outside_hours"]  # commit and payment entries
        assert Alert.objects.order_by("id").first().message == (
            "Entry 2026-5 was posted at 2026-03-10 23:00 (outside 08:00–20:00).")
        services.monitoring_rule_update(code="outside_hours", enabled=False, user=people["head"],
                                        reason="batch window")
        hooked(D("11.00"), hour=23)
        assert len(codes()) == 2

    def test_the_time_rule_of_a_non_payment_entry_reads_the_entry_only_to_raise(
            self, budget):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from audit import tasks

        monitoring.rules_all()  # installs the default rules (first use)
        for hour, raised in ((10, 0), (23, 1)):
            request_and_pay(budget, D("10.00") + hour, hour=hour)  # hooks do not run here
            commit = Entry.objects.filter(kind="commit").order_by("-id").first()
            with CaptureQueriesContext(connection) as ctx:
                n = tasks.entry_evaluate_task(entry_id=commit.pk, payment=False,
                                              posted_at=commit.posted_at.isoformat())
            assert n == raised
            read = any('"finance_entry"' in q["sql"] and "SELECT" in q["sql"]
                       for q in ctx.captured_queries)
            assert read == bool(raised) and (len(ctx.captured_queries) == 1) == (not raised)
        assert codes() == ["outside_hours"]

    def test_december_spending_above_a_share_of_the_indicator_is_flagged(self, hooked):
        hooked(D("700.00"), unit="440300102", day=dt.date(2026, 12, 20))
        alert = Alert.objects.get(rule__code="december_spike")
        assert alert.message == ("Unit 440300102 paid 700.00 in December 2026, 35.0% of its "
                                 "annual indicator 2,000.00 (limit 30.0%).")


class TestOneWindowQueryForTwoRules:
    """The duplicate and split rules share one read of the unit's payments on the economic
    code in the wider window; each narrows it to its own window (and the duplicate rule to
    the function)."""

    def test_the_same_amount_on_another_function_is_not_a_duplicate(self, hooked):
        hooked(D("120.50"))
        hooked(D("120.50"), function="2010101", day=dt.date(2026, 3, 11))
        assert "duplicate_payment" not in codes()

    def test_the_split_rule_keeps_to_its_own_narrower_window(self, hooked, people):
        services.monitoring_rule_update(code="split_payment", user=people["head"], reason="t",
                                        params={"threshold": "500.00", "window_days": "1"})
        hooked(D("300.00"))
        hooked(D("250.00"), day=dt.date(2026, 3, 12))  # 2 days later: outside 1 day
        assert "split_payment" not in codes()
        hooked(D("260.00"), day=dt.date(2026, 3, 13))  # 1 day after the 250.00
        assert Alert.objects.get(rule__code="split_payment").amount_fen == 51000

    def test_the_ledger_tells_the_hook_which_accounts_an_entry_debits(self, budget):
        from finance.ledger import entry_post
        from tests.helpers import ON, commit_lines, dims, pay_lines

        d = dims()
        commit = entry_post(lines=commit_lines(D("5.00"), d), description="c", on=ON,
                            user=budget["filer"])
        pay = entry_post(lines=pay_lines(D("5.00"), d), description="p", on=ON,
                         user=budget["filer"])
        assert monitoring.PAID not in commit.debited_accounts
        assert monitoring.PAID in pay.debited_accounts


class TestNightlySweep:
    def test_units_lagging_the_calendar_are_flagged_once_a_month(self, hooked, people):
        services.monitoring_rule_update(code="execution_lag", user=people["head"], reason="t",
                                        params={"min_authority": "1000.00"})
        hooked(D("1000.00"), unit="440300102")  # unit 2: 50% paid
        raised = monitoring.monitoring_sweep(on=dt.date(2026, 6, 30), as_of=at(dt.date(2026, 7, 1), 1))
        assert [a.unit_code for a in raised if a.rule.code == "execution_lag"] == ["440300101"]
        assert raised[0].message == ("Unit 440300101 has paid 0.0% of its indicator 9,000.00 by "
                                     "2026-06-30, 49.6% of the year has elapsed (tolerance 15.0%).")
        again = monitoring.monitoring_sweep(on=dt.date(2026, 6, 30), as_of=at(dt.date(2026, 7, 1), 2))
        assert again == []

    def test_the_sweep_runs_as_a_celery_task(self, budget):
        from audit.tasks import monitoring_sweep_task

        assert monitoring_sweep_task.delay().get() >= 0
        assert MonitoringRule.objects.count() == len(services.DEFAULT_RULES)


class TestAlertWorkflow:
    @pytest.fixture
    def alert(self, hooked):
        hooked(D("10.00"), hour=22)
        return Alert.objects.order_by("id").first()

    def test_open_explained_closed_with_comments_history_and_steps(self, alert, people):
        services.alert_assign(alert_id=alert.pk, owner=people["head"], user=people["treasury"])
        services.alert_explain(alert_id=alert.pk, user=people["head"], comment="年末加班 overtime")
        services.alert_close(alert_id=alert.pk, user=people["treasury"], comment="accepted")
        alert.refresh_from_db()
        assert (alert.status, alert.owner) == ("closed", people["head"])
        assert [c.text for c in alert.comments.all()] == ["年末加班 overtime", "accepted"]
        assert [h.status for h in alert.history.order_by("history_id")] == [
            "open", "open", "explained", "closed"]
        steps = WorkflowStep.objects.filter(doc_id=str(alert.pk), doc_type__model="alert")
        assert [(s.action, s.to_state, s.actor.username if s.actor else "") for s in steps] == [
            ("raise", "open", ""), ("assign", "open", "treasury"),
            ("explain", "explained", "head"), ("close", "closed", "treasury")]

    def test_an_open_alert_cannot_be_closed_without_an_explanation(self, alert, people):
        with pytest.raises(AlertTransitionRefused) as err:
            services.alert_close(alert_id=alert.pk, user=people["head"], comment="done")
        assert str(err.value) == str(MSG_ALERT_TRANSITION) % {
            "alert": alert.pk, "status": "open", "action": "close"}

    def test_an_explanation_needs_a_comment(self, alert, people):
        with pytest.raises(CommentRequired) as err:
            services.alert_explain(alert_id=alert.pk, user=people["head"], comment="  ")
        assert str(err.value) == str(MSG_COMMENT_REQUIRED) % {"action": "explain"}

    def test_an_auditor_cannot_change_alerts_or_rules(self, alert, auditor):
        with pytest.raises(AuditorReadOnly) as err:
            services.alert_explain(alert_id=alert.pk, user=auditor, comment="x")
        assert str(err.value) == str(MSG_AUDITOR_READ_ONLY) % {"user": "auditor"}
        with pytest.raises(AuditorReadOnly):
            services.monitoring_rule_update(code="split_payment", enabled=False, user=auditor,
                                            reason="x")
        assert Alert.objects.get(pk=alert.pk).status == "open"


class TestRuleParams:
    def test_a_default_rule_installed_by_another_process_meanwhile_is_used(self, db):
        # the race of two workers seeding a rule: the row appears between our look-up
        # and our insert (full_clean's unique check then sees it)
        first = services.monitoring_rule_get(code="outside_hours")
        again = services._default_install("outside_hours")
        assert again.pk == first.pk
        assert MonitoringRule.objects.filter(code="outside_hours").count() == 1

    def test_thresholds_are_kept_as_decimal_strings_with_history(self, db, people):
        rule = services.monitoring_rule_update(code="split_payment", params={"threshold": "200000.00"},
                                               user=people["head"], reason="new limit")
        assert rule.params == {"threshold": "200000.00", "window_days": 7, "min_count": 2}
        assert rule.history.first().history_change_reason == "new limit"

    def test_a_float_threshold_is_refused(self, db, people):
        with pytest.raises(BadRuleParam) as err:
            services.monitoring_rule_update(code="split_payment", params={"threshold": 0.1},
                                            user=people["head"], reason="x")
        assert str(err.value) == str(MSG_BAD_RULE_PARAM) % {
            "code": "split_payment", "name": "threshold", "value": 0.1}
