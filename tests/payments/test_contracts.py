"""Contracts (合同) paid in instalments, with the figures worked by hand: an indicator of
1,000.00, a contract of 600.00 (two instalments, 250.00 and 350.00)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from finance import chart, control, roles, selectors
from finance.errors import NotPermitted
from finance.models import Entry, WorkflowStep
from payments import errors, services
from payments.importers.common import ResultRow
from payments.models import BankFile, Contract
from payments.services import control as contract_control
from payments.services.contracts import contract_entries
from tests.helpers import YEAR, dims, grant
from tests.payments.conftest import AS_OF, approve_all

D = Decimal
pytestmark = pytest.mark.django_db


def bal(account: str) -> Decimal:
    d = dims()
    return selectors.balance(account=account, year=YEAR, region=d.region, unit=d.unit,
                             function=d.function, economic=d.economic,
                             fund_source=d.fund_source, project=d.project)


def figures() -> tuple[Decimal, Decimal, Decimal]:
    return bal(chart.AVAILABLE), bal(chart.COMMITTED), bal(chart.EXPENDED)


def new_contract(ready, number: str = "HT-2026-001", amount: str = "600.00",  # noqa: ANN001
                 schedule: tuple = (("250.00", 4), ("350.00", 9))) -> Contract:
    return services.contract_create(
        dims=dims(), year=YEAR, number=number, counterparty=ready.payee, title="办公楼维修",
        amount=D(amount), start=dt.date(YEAR, 3, 1), end=dt.date(YEAR, 12, 31),
        schedule=[(dt.date(YEAR, m, 15), D(a)) for a, m in schedule],
        user=ready.people.filer, as_of=AS_OF)


@pytest.fixture
def signed(ready):  # noqa: ANN001
    c = new_contract(ready)
    return services.contract_sign(contract=c, user=ready.people.head, as_of=AS_OF)


def pay_under(ready, contract: Contract, amount: str) -> object:  # noqa: ANN001
    req = services.payment_request_create(
        dims=dims(), year=YEAR, amount=D(amount), payee=ready.payee, purpose="合同付款",
        user=ready.people.filer, as_of=AS_OF, contract=contract, submit=True)
    return approve_all(ready.people, req)


def bank(ready, req, *, ok: bool = True, ref: str = "B1") -> object:  # noqa: ANN001
    batch = services.voucher_batch_create(agent_account=ready.agent, user=ready.people.reviewer,
                                          requests=[req], as_of=AS_OF)
    v = batch.vouchers.get()
    return result(ready, v, ok=ok, ref=ref)


def result(ready, v, *, ok: bool, ref: str) -> object:  # noqa: ANN001
    f = BankFile.objects.create(filename=ref, sha256="-", format="results_csv", imported_at=AS_OF)
    services.bank_result_apply(row=ResultRow(
        line=1, voucher_number=v.number, payer_account=ready.agent.number,
        payee_account=ready.payee.account_number, payee_name="", amount=v.amount,
        outcome="paid" if ok else "returned", bank_ref=ref, traded_at=AS_OF,
        reason="" if ok else "户名不符"), bank_file=f, user=ready.people.reviewer, as_of=AS_OF)
    return v


class TestRegister:
    def test_the_schedule_must_add_up_to_the_amount(self, ready):  # noqa: ANN001
        with pytest.raises(errors.ContractSchedule) as exc:
            new_contract(ready, schedule=(("250.00", 4), ("300.00", 9)))
        assert "550.00" in str(exc.value) and "600.00" in str(exc.value)
        assert not Contract.objects.exists()

    def test_the_number_is_unique_in_the_unit(self, ready):  # noqa: ANN001
        new_contract(ready)
        with pytest.raises(errors.ContractNumberTaken):
            new_contract(ready)

    def test_a_draft_commits_nothing_and_keeps_history(self, ready):  # noqa: ANN001
        c = new_contract(ready)
        assert c.status == "draft" and figures() == (D("1000.00"), 0, 0)
        assert [i.amount for i in c.instalments.all()] == [D("250.00"), D("350.00")]
        assert c.history.count() == 1

    def test_only_the_unit_head_signs(self, ready):  # noqa: ANN001
        c = new_contract(ready)
        for who in (ready.people.filer, ready.people.other_head):
            with pytest.raises(NotPermitted):
                services.contract_sign(contract=c, user=who, as_of=AS_OF)


class TestSigning:
    def test_signing_commits_the_amount_through_the_posting_service(self, signed):  # noqa: ANN001
        assert signed.status == "signed"
        assert figures() == (D("400.00"), D("600.00"), 0)
        entry = signed.sign_entry
        assert entry.kind == "commit" and entry.source_id == str(signed.pk)
        assert list(contract_entries(signed)) == [entry]
        assert services.contract_figures(signed).remaining == D("600.00")

    def test_signing_is_refused_when_the_indicator_is_short(self, ready):  # noqa: ANN001
        c = new_contract(ready, amount="1200.00", schedule=(("600.00", 4), ("600.00", 9)))
        with pytest.raises(errors.ContractShort) as exc:
            services.contract_sign(contract=c, user=ready.people.head, as_of=AS_OF)
        assert "1,000.00" in str(exc.value) or "1000.00" in str(exc.value)
        c.refresh_from_db()
        assert c.status == "draft" and figures() == (D("1000.00"), 0, 0)


class TestPayingInInstalments:
    def test_a_request_draws_on_the_contract_without_committing_again(
            self, ready, signed):  # noqa: ANN001
        req = pay_under(ready, signed, "250.00")
        assert req.commit_entry is None and req.contract_ref == "HT-2026-001"
        assert figures() == (D("400.00"), D("600.00"), 0)
        f = services.contract_figures(signed)
        assert (f.pending, f.remaining) == (D("250.00"), D("350.00"))

    def test_paid_instalments_reduce_the_commitment_and_the_last_completes_it(
            self, ready, signed):  # noqa: ANN001
        first = pay_under(ready, signed, "250.00")
        bank(ready, first, ref="B1")
        assert figures() == (D("400.00"), D("350.00"), D("250.00"))
        with pytest.raises(errors.ContractExceeded) as exc:
            pay_under(ready, signed, "400.00")
        assert "350.00" in str(exc.value)
        last = pay_under(ready, signed, "350.00")
        bank(ready, last, ref="B2")
        assert figures() == (D("400.00"), D("0.00"), D("600.00"))
        signed.refresh_from_db()
        assert signed.status == "completed"
        f = services.contract_figures(signed)
        assert (f.committed, f.paid, f.remaining) == (0, D("600.00"), 0)
        assert Entry.objects.filter(kind="payment", tracking_id__in=[
            first.tracking_id, last.tracking_id]).count() == 2

    def test_the_figures_read_the_ledger_lines_by_entry_id_not_by_account(
            self, ready, signed):  # noqa: ANN001
        """Each contract's figures read only its own entries' lines: the line query names
        the entry ids, so the planner cannot scan every 9201 line of the year (236 ms per
        contract in a 3,000-unit city when it took a subquery)."""
        from django.db import connection  # noqa: PLC0415
        from django.test.utils import CaptureQueriesContext  # noqa: PLC0415

        bank(ready, pay_under(ready, signed, "250.00"), ref="B1")
        with CaptureQueriesContext(connection) as seen:
            f = services.contract_figures(signed)
        assert (f.committed, f.paid, f.remaining) == (D("350.00"), D("250.00"), D("350.00"))
        on_lines = [q["sql"] for q in seen.captured_queries if 'FROM "finance_line"' in q["sql"]]
        assert len(on_lines) == 1 and "SELECT" not in on_lines[0].split(" IN (", 1)[1]

    def test_two_requests_together_cannot_exceed_the_contract(self, ready, signed):  # noqa: ANN001
        pay_under(ready, signed, "500.00")
        with pytest.raises(errors.ContractExceeded):
            pay_under(ready, signed, "150.00")

    def test_a_request_under_a_contract_uses_its_counterparty(self, ready, signed, user):  # noqa: ANN001
        from tests.payments.conftest import payee
        other = payee(user, name="另一家公司", account="6222020200199998888")
        with pytest.raises(errors.ContractMismatch):
            services.payment_request_create(
                dims=dims(), year=YEAR, amount=D("10.00"), payee=other, purpose="x",
                user=ready.people.filer, as_of=AS_OF, contract=signed)

    def test_a_draft_contract_is_not_paid_against(self, ready):  # noqa: ANN001
        c = new_contract(ready)
        with pytest.raises(errors.ContractState):
            pay_under(ready, c, "10.00")

    def test_a_rejected_request_gives_nothing_to_the_indicator(self, ready, signed):  # noqa: ANN001
        req = services.payment_request_create(
            dims=dims(), year=YEAR, amount=D("250.00"), payee=ready.payee, purpose="合同付款",
            user=ready.people.filer, as_of=AS_OF, contract=signed, submit=True)
        services.payment_request_reject(request=req, user=ready.people.head, comment="不符",
                                        as_of=AS_OF)
        assert figures() == (D("400.00"), D("600.00"), 0)
        assert services.contract_figures(signed).remaining == D("600.00")


class TestReturnedInstalment:
    def test_a_returned_paid_instalment_goes_back_to_the_contract(self, ready, signed):  # noqa: ANN001
        req = pay_under(ready, signed, "250.00")
        v = bank(ready, req, ref="B1")
        assert figures() == (D("400.00"), D("350.00"), D("250.00"))
        result(ready, v, ok=False, ref="R1")
        assert figures() == (D("400.00"), D("600.00"), D("0.00"))
        f = services.contract_figures(signed)
        assert (f.committed, f.paid, f.pending, f.remaining) == (D("600.00"), 0, 0, D("600.00"))

    def test_a_return_before_payment_posts_nothing(self, ready, signed):  # noqa: ANN001
        req = pay_under(ready, signed, "250.00")
        before = Entry.objects.count()
        bank(ready, req, ok=False, ref="R1")
        assert Entry.objects.count() == before
        assert figures() == (D("400.00"), D("600.00"), 0)
        assert services.contract_figures(signed).remaining == D("600.00")

    def test_a_return_after_completion_signs_the_contract_again(self, ready, signed):  # noqa: ANN001
        bank(ready, pay_under(ready, signed, "250.00"), ref="B1")
        v = bank(ready, pay_under(ready, signed, "350.00"), ref="B2")
        signed.refresh_from_db()
        assert signed.status == "completed"
        result(ready, v, ok=False, ref="R2")
        signed.refresh_from_db()
        assert signed.status == "signed"
        assert figures() == (D("400.00"), D("350.00"), D("250.00"))


class TestClosing:
    def test_closing_early_releases_the_remainder(self, ready, signed):  # noqa: ANN001
        bank(ready, pay_under(ready, signed, "250.00"), ref="B1")
        c = services.contract_close(contract=signed, user=ready.people.head, reason="提前验收",
                                    as_of=AS_OF)
        assert c.status == "closed"
        assert figures() == (D("750.00"), D("0.00"), D("250.00"))
        f = services.contract_figures(c)
        assert (f.committed, f.paid, f.released) == (0, D("250.00"), D("350.00"))
        assert c.release_entry.source_id == str(c.pk)
        assert c.history.first().history_change_reason == "contract closed: 提前验收"
        with pytest.raises(errors.ContractState):
            pay_under(ready, c, "10.00")

    def test_closing_needs_a_reason_the_head_and_no_request_in_payment(
            self, ready, signed):  # noqa: ANN001
        with pytest.raises(errors.ReasonRequired):
            services.contract_close(contract=signed, user=ready.people.head, reason=" ")
        with pytest.raises(NotPermitted):
            services.contract_close(contract=signed, user=ready.people.filer, reason="x")
        pay_under(ready, signed, "100.00")
        with pytest.raises(errors.ContractOpenRequests):
            services.contract_close(contract=signed, user=ready.people.head, reason="x")

    def test_the_ledger_still_verifies(self, ready, signed):  # noqa: ANN001
        bank(ready, pay_under(ready, signed, "250.00"), ref="B1")
        services.contract_close(contract=signed, user=ready.people.head, reason="结束",
                                as_of=AS_OF)
        assert selectors.ledger_verify().ok


class TestTrail:
    def test_the_audit_trace_leads_from_a_payment_to_the_contract(self, ready, signed):  # noqa: ANN001
        from audit.trace import documents

        req = pay_under(ready, signed, "250.00")
        v = bank(ready, req, ref="B1")
        payment = Entry.objects.get(kind="payment", tracking_id=req.tracking_id)
        assert payment.source_id == str(v.pk)
        [voucher] = documents([f"payments.voucher:{v.pk}"])
        [request] = voucher.related
        assert request.pk == str(req.pk)
        [contract] = request.related
        assert (contract.label, contract.pk) == ("payments.contract", str(signed.pk))
        assert [s.action for s in contract.steps] == ["create", "sign"]


class TestControlOnSigning:
    """控制方式 at signing: the 1,000.00 indicator (economic 302, fund source 1) and a
    contract of 600.00 — signing takes the usage to 600 / 1,000 = 60 %."""

    @pytest.fixture
    def rule(self, ready, django_user_model):  # noqa: ANN001
        office = grant(django_user_model.objects.create_user(username="yusuanchu"),
                       roles.BUDGET_OFFICE)

        def set_rule(mode: str, threshold: str) -> None:
            control.control_rule_save(
                user=office, reason=f"{mode} {threshold}", fund_source="1",
                economic_prefix="302", mode=mode, threshold_percent=D(threshold),
                effective_from=dt.date(YEAR, 1, 1))
        return set_rule

    @staticmethod
    def outcomes(c: Contract) -> list[tuple[str, str]]:
        return [(k.outcome, f"{k.usage_percent}") for k in control.checks_of(c)]

    def test_a_block_at_50_refuses_the_signing_until_the_director_overrides_it(
            self, ready, rule):  # noqa: ANN001
        rule("block", "50.00")
        c = new_contract(ready)
        with pytest.raises(errors.ContractControlBlocked) as exc:
            services.contract_sign(contract=c, user=ready.people.head, as_of=AS_OF)
        assert "HT-2026-001" in str(exc.value) and "usage would be 60.00%" in str(exc.value)
        c.refresh_from_db()
        # nothing committed, the refusing check kept
        assert c.status == "draft" and figures() == (D("1000.00"), 0, 0)
        assert self.outcomes(c) == [("blocked", "60.00")]
        # neither the person who registered it nor the unit head may override
        for who, error in ((ready.people.filer, errors.NotAllowed),
                           (ready.people.head, NotPermitted)):
            with pytest.raises(error):
                contract_control.contract_control_override(
                    contract=c, user=who, reason="x", as_of=AS_OF)
        ov = contract_control.contract_control_override(
            contract=c, user=ready.people.director, reason="区政府常务会议纪要〔2026〕3号",
            as_of=AS_OF)
        assert (ov.amount, ov.usage_percent, ov.threshold_percent, ov.mode) == (
            D("600.00"), D("60.00"), D("50.00"), "block")
        c = services.contract_sign(contract=c, user=ready.people.head, as_of=AS_OF)
        # 1,000 − 600 = 400.00 available, 600.00 committed
        assert c.status == "signed" and figures() == (D("400.00"), D("600.00"), 0)
        assert self.outcomes(c) == [("blocked", "60.00"), ("overridden", "60.00")]
        assert [s.action for s in WorkflowStep.objects.filter(
            doc_id=str(c.pk), doc_type__model="contract").order_by("at", "id")] == [
            "create", "control_override", "sign"]
        # a signed contract has nothing to override
        with pytest.raises(errors.ContractState):
            contract_control.contract_control_override(
                contract=c, user=ready.people.director, reason="again", as_of=AS_OF)

    def test_a_warning_at_50_signs_and_records_it_the_instalments_are_not_checked_again(
            self, ready, rule):  # noqa: ANN001
        rule("warn", "50.00")
        c = services.contract_sign(contract=new_contract(ready), user=ready.people.head,
                                   as_of=AS_OF)
        assert c.status == "signed" and figures() == (D("400.00"), D("600.00"), 0)
        assert self.outcomes(c) == [("warned", "60.00")]
        req = pay_under(ready, c, "250.00")
        assert req.status == "approved" and not control.checks_of(req)

    def test_without_a_rule_the_default_blocks_at_100_and_60_is_within(self, ready):  # noqa: ANN001
        c = services.contract_sign(contract=new_contract(ready), user=ready.people.head,
                                   as_of=AS_OF)
        [check] = control.checks_of(c)
        assert (check.outcome, check.mode, check.threshold_percent, check.usage_percent,
                check.indicator_amount, check.used_amount) == (
            "within", "block", D("100.00"), D("60.00"), D("1000.00"), D("0.00"))
