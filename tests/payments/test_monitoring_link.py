"""Audit's monitoring knows who a payment paid: the payee of the voucher behind the
payment entry (registered by audit from its AppConfig)."""
from __future__ import annotations

import pytest

from audit.models import Alert
from finance.models import Entry
from payments import services
from payments.models import Payee
from tests.conftest import SAMPLES
from tests.payments.sample_day import build

RESULTS = SAMPLES / "bank" / "payment_results_20261015_gbk.csv"


@pytest.fixture
def day(ledger, people, agent, user):  # noqa: ANN001
    return build(people, agent, user)


class TestPaymentsPayeeInMonitoring:
    def test_a_large_payment_to_an_individual_raises_an_alert_naming_the_entry(
            self, day, user, django_capture_on_commit_callbacks):
        builder = Payee.objects.get(name="深圳市某建设工程有限公司")
        services.payee_save(payee=builder, name=builder.name,
                            account_number=builder.account_number, bank_name=builder.bank_name,
                            branch_name=builder.branch_name, cnaps=builder.cnaps,
                            is_individual=True, user=user, reason="个人 individual")
        with django_capture_on_commit_callbacks(execute=True):
            services.bank_file_import(content=RESULTS.read_bytes(), filename=RESULTS.name,
                                      user=user)
        alerts = Alert.objects.filter(rule__code="individual_payee")
        assert alerts.count() == 1
        alert = alerts.get()
        paid = Entry.objects.get(pk=alert.entry_id)
        assert paid.kind == "payment" and paid.source.request.payee == builder
        assert alert.amount_fen == 125_000_000

    def test_payments_to_organizations_raise_no_individual_alert(
            self, day, user, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            services.bank_file_import(content=RESULTS.read_bytes(), filename=RESULTS.name,
                                      user=user)
        assert not Alert.objects.filter(rule__code="individual_payee").exists()
        assert Entry.objects.filter(kind="payment").count() == 3
