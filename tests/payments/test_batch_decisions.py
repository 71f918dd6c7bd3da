"""Batch services: approving many requests in one locked pass (each decided on its own,
exactly the checks of a single approval) and the validated bulk writes behind them."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from finance import roles
from finance.models import Entry, WorkflowStep
from finance.services import bulk_save_with_history
from payments import errors, services
from payments.models import Bank, PaymentRequest
from tests.payments.conftest import AS_OF, file_request
from tests.payments.test_requests import bal


def _at_treasury(ready, amounts: list[str]) -> list[PaymentRequest]:
    reqs = []
    for a in amounts:
        req = file_request(ready.people, ready.payee, a)
        reqs.append(services.payment_request_approve(request=req, user=ready.people.head,
                                                     comment="ok", as_of=AS_OF))
    return reqs


class TestApproveMany:
    def test_every_request_moves_one_level_with_history_and_a_workflow_step(self, ready):
        reqs = _at_treasury(ready, ["100.00", "120.00", "130.00"])
        out = services.payment_requests_approve(requests=reqs, user=ready.people.reviewer,
                                                comment="同意", as_of=AS_OF)
        assert out.refused == []
        assert sorted(r.pk for r in out.approved) == sorted(r.pk for r in reqs)
        for r in reqs:
            r.refresh_from_db()
            assert r.status == "approved"
            last = PaymentRequest.history.filter(id=r.pk).order_by("-history_id").first()
            assert (last.status, last.history_change_reason) == ("approved", "approved by treasury reviewer")
            assert last.history_user == ready.people.reviewer
            step = WorkflowStep.objects.filter(doc_id=str(r.pk), action="approve",
                                               actor=ready.people.reviewer).get()
            assert (step.from_state, step.to_state, step.comment) == (
                "treasury_review", "approved", "同意")

    def test_above_the_threshold_goes_to_the_director_who_approves_in_a_batch(self, ready,
                                                                           settings):
        settings.PAYMENTS_DIRECTOR_THRESHOLD = "150.00"
        reqs = _at_treasury(ready, ["100.00", "200.00"])
        out = services.payment_requests_approve(requests=reqs, user=ready.people.reviewer)
        assert {r.amount: r.status for r in out.approved} == {
            Decimal("100.00"): "approved", Decimal("200.00"): "director_review"}
        above = [r for r in out.approved if r.status == "director_review"]
        out = services.payment_requests_approve(requests=above, user=ready.people.director)
        assert [r.status for r in out.approved] == ["approved"]
        assert PaymentRequest.objects.get(pk=above[0].pk).status == "approved"

    def test_a_refused_request_is_reported_and_the_others_are_approved(self, ready):
        reqs = _at_treasury(ready, ["100.00", "110.00"])
        draft = file_request(ready.people, ready.payee, "50.00", submit=False)
        out = services.payment_requests_approve(requests=[*reqs, draft],
                                                user=ready.people.reviewer)
        assert sorted(r.pk for r in out.approved) == sorted(r.pk for r in reqs)
        assert len(out.refused) == 1
        refused, exc = out.refused[0]
        assert refused.pk == draft.pk and isinstance(exc, errors.WrongState)
        assert PaymentRequest.objects.get(pk=draft.pk).status == "draft"

    def test_the_same_checks_as_one_approval_segregation_of_duties(self, ready):
        ready.people.head.groups.add(*ready.people.reviewer.groups.all())
        roles.forget(ready.people.head)  # roles changed: re-read
        reqs = _at_treasury(ready, ["100.00"])
        out = services.payment_requests_approve(requests=reqs, user=ready.people.head)
        assert out.approved == []
        assert "one person approves at most one level" in str(out.refused[0][1])
        out = services.payment_requests_approve(requests=reqs, user=ready.people.filer)
        assert "the filer of a request can never approve it" in str(out.refused[0][1])
        assert PaymentRequest.objects.get(pk=reqs[0].pk).status == "treasury_review"

    def test_a_unit_head_of_another_unit_is_refused_in_a_batch(self, ready):
        req = file_request(ready.people, ready.payee, "100.00")
        out = services.payment_requests_approve(requests=[req], user=ready.people.other_head)
        assert out.approved == [] and "another unit" in str(out.refused[0][1])


class _Undo(Exception):  # noqa: N818
    pass


def _reject_trail(reqs: list[PaymentRequest]) -> dict:
    """What rejecting left, per request (by amount): its row, history, workflow steps and
    the reversal of its commitment; and the balances."""
    out: dict = {}
    for r in reqs:
        r = PaymentRequest.objects.get(pk=r.pk)
        rev = Entry.objects.filter(reverses_id=r.commit_entry_id).first()
        out[r.amount] = {
            "status": r.status,
            "history": [(h.status, h.history_change_reason, h.history_user_id, h.history_type)
                        for h in PaymentRequest.history.filter(id=r.pk).order_by("history_id")],
            "steps": [(st.action, st.from_state, st.to_state, st.comment, st.at, st.actor_id)
                      for st in WorkflowStep.objects.filter(doc_type__model="paymentrequest",
                                                            doc_id=str(r.pk)).order_by("id")],
            "reversal": None if rev is None else (
                rev.number, rev.description, rev.date, rev.posted_at, rev.kind,
                rev.idempotency_key, rev.tracking_id, rev.source_type_id, rev.source_id,
                sorted((ln.book, ln.account.code, ln.debit_fen, ln.credit_fen)
                       for ln in rev.lines.select_related("account"))),
        }
    out["balances"] = (bal("9101"), bal("9201"))
    return out


class TestRejectMany:
    """批量退回: the treasury rejects the selected requests in one pass, each with the
    checks of one rejection, every commitment released by one batch posting."""

    def test_the_batch_leaves_what_one_by_one_leaves(self, ready):
        reqs = _at_treasury(ready, ["100.00", "120.00", "130.00"])
        try:
            with transaction.atomic():
                for r in reqs:
                    services.payment_request_reject(request=r, user=ready.people.reviewer,
                                                    comment="附件不全", as_of=AS_OF)
                by_hand = _reject_trail(reqs)
                raise _Undo
        except _Undo:
            pass
        assert PaymentRequest.objects.filter(status="rejected").count() == 0
        out = services.payment_requests_reject(requests=reqs, user=ready.people.reviewer,
                                               comment="附件不全", as_of=AS_OF)
        assert out.refused == [] and sorted(r.pk for r in out.rejected) == sorted(
            r.pk for r in reqs)
        batch = _reject_trail(reqs)
        assert batch == by_hand
        # by hand: 100 + 120 + 130 = 350.00 committed of the 1,000.00 indicator, all released
        assert batch["balances"] == (Decimal("1000.00"), Decimal("0.00"))
        assert [batch[Decimal(a)]["status"] for a in ("100.00", "120.00", "130.00")] == [
            "rejected"] * 3
        first = batch[Decimal("100.00")]
        assert first["history"][-1][:2] == ("rejected", "附件不全")
        assert first["steps"][-1][:4] == ("reject", "treasury_review", "rejected", "附件不全")
        number, description, *_rest = first["reversal"]
        assert description.startswith("冲销 reversal of 2026-") and "rejected: 附件不全" in description
        # the three reversals numbered one after another, in the requests' order
        numbers = [batch[Decimal(a)]["reversal"][0] for a in ("100.00", "120.00", "130.00")]
        assert numbers == [number, number + 1, number + 2]

    def test_a_refused_request_is_reported_and_the_others_are_rejected(self, ready):
        reqs = _at_treasury(ready, ["100.00", "110.00"])
        draft = file_request(ready.people, ready.payee, "50.00", submit=False)
        out = services.payment_requests_reject(requests=[*reqs, draft],
                                               user=ready.people.reviewer, comment="退回")
        assert sorted(r.pk for r in out.rejected) == sorted(r.pk for r in reqs)
        (refused, exc), = out.refused
        assert refused.pk == draft.pk and isinstance(exc, errors.WrongState)
        assert PaymentRequest.objects.get(pk=draft.pk).status == "draft"
        assert bal("9201") == Decimal("0.00") and bal("9101") == Decimal("1000.00")

    def test_the_filer_may_not_and_a_reason_is_needed(self, ready):
        reqs = _at_treasury(ready, ["100.00"])
        out = services.payment_requests_reject(requests=reqs, user=ready.people.filer,
                                               comment="x")
        assert out.rejected == [] and "the filer" in str(out.refused[0][1])
        with pytest.raises(errors.ReasonRequired):
            services.payment_requests_reject(requests=reqs, user=ready.people.reviewer,
                                             comment=" ")
        assert PaymentRequest.objects.get(pk=reqs[0].pk).status == "treasury_review"
        assert bal("9201") == Decimal("100.00")


class TestBulkSaveWithHistory:
    def test_new_rows_are_validated_and_written_with_their_history(self, user):
        banks = [Bank(cnaps=f"10258400{i:04d}", name=f"银行{i}") for i in range(3)]
        bulk_save_with_history(banks, user=user, reason="bank list")
        assert Bank.objects.filter(cnaps__startswith="10258400").count() == 3
        h = Bank.history.filter(cnaps="102584000001").get()
        assert (h.history_type, h.history_change_reason, h.history_user) == ("+", "bank list",
                                                                             user)

    def test_a_value_taken_by_another_row_or_twice_in_the_batch_writes_nothing(self, user):
        services.bank_upsert(cnaps="102584009999", name="已有", user=user)
        clash = [Bank(cnaps="102584009999", name="新"), Bank(cnaps="102584008888", name="x")]
        with pytest.raises(ValidationError) as exc:
            bulk_save_with_history(clash, user=user, reason="r")
        assert set(exc.value.message_dict) == {"0.cnaps"}
        twice = [Bank(cnaps="102584007777", name="a"), Bank(cnaps="102584007777", name="b")]
        with pytest.raises(ValidationError) as exc:
            bulk_save_with_history(twice, user=user, reason="r")
        assert set(exc.value.message_dict) == {"1.cnaps"}
        assert not Bank.objects.filter(cnaps__in=["102584008888", "102584007777"]).exists()

    def test_a_field_error_is_reported_as_save_with_history_reports_it(self, user):
        with pytest.raises(ValidationError) as exc:
            bulk_save_with_history([Bank(cnaps="1" * 13, name="太长")], user=user, reason="r")
        assert "cnaps" in exc.value.message_dict

    def test_an_update_writes_only_the_named_fields(self, user):
        bank = services.bank_upsert(cnaps="102584006666", name="旧名", user=user)
        bank.name, bank.cnaps = "新名", "not written"
        bulk_save_with_history([bank], user=user, reason="renamed", fields=["name"])
        row = Bank.objects.get(pk=bank.pk)
        assert (row.name, row.cnaps) == ("新名", "102584006666")
        last = Bank.history.filter(id=bank.pk).order_by("-history_id").first()
        # the history row is the row as stored: the unwritten field keeps its stored value
        assert (last.history_change_reason, last.name, last.cnaps) == (
            "renamed", "新名", "102584006666")


class TestUniqueChecksOfLoadedRows:
    """full_clean skips a unique check whose fields still hold the values read from the
    database (LoadedValues), and still makes it for a changed value."""

    def test_an_unchanged_unique_field_is_not_queried(self, ready, user):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from finance.services import save_with_history

        req = PaymentRequest.objects.get(pk=file_request(ready.people, ready.payee, "10.00").pk)
        req.purpose = "改"
        with CaptureQueriesContext(connection) as q:
            save_with_history(req, user=user, reason="edit")
        assert not [x for x in q.captured_queries if "tracking_id" in x["sql"]
                    and x["sql"].lstrip().upper().startswith("SELECT")]

    def test_a_changed_unique_field_is_still_checked(self, ready, user):
        from finance.services import save_with_history

        a = file_request(ready.people, ready.payee, "10.00")
        b = PaymentRequest.objects.get(pk=file_request(ready.people, ready.payee, "11.00").pk)
        b.tracking_id = a.tracking_id
        with pytest.raises(ValidationError) as exc:
            save_with_history(b, user=user, reason="edit")
        assert "tracking_id" in exc.value.message_dict

    def test_a_unique_constraint_over_changed_fields_is_still_checked(self, ready, user):
        from finance.services import save_with_history
        from payments.models import PaymentPlan

        plan = PaymentPlan.objects.get(pk=ready.plan.pk)
        other = PaymentPlan.objects.get(pk=services.plan_apply(
            dims=plan.dims, year=plan.year, month=plan.month % 12 + 1, amount=Decimal("5.00"),
            user=ready.people.filer).pk)
        other.month = plan.month
        with pytest.raises(ValidationError):
            save_with_history(other, user=user, reason="move")


class TestPlansInBatches:
    """用款计划 按季分月: a quarter's lines applied in one call, approved in one pass."""

    def _trail(self, plan: object) -> tuple[list, list]:
        from payments.models import PaymentPlan
        hist = [(h.status, h.applied, h.approved, h.history_change_reason)
                for h in PaymentPlan.history.filter(id=plan.pk).order_by("history_id")]
        steps = list(WorkflowStep.objects.filter(doc_type__model="paymentplan",
                                                 doc_id=str(plan.pk)).order_by("id")
                     .values_list("from_state", "to_state", "action"))
        return hist, steps

    def test_a_quarter_is_applied_and_approved_as_one_by_one_would(self, ledger, people, user):
        from payments.models import PaymentPlan
        from tests.helpers import YEAR, dims

        one = services.plan_approve(plan=services.plan_apply(
            dims=dims(), year=YEAR, month=1, amount=Decimal("100.00"), user=people.filer,
            as_of=AS_OF), user=user, as_of=AS_OF)
        lines = [services.PlanApplyLine(dims=dims(), month=m, amount=Decimal(a))
                 for m, a in ((2, "200.00"), (3, "300.00"), (4, "400.00"))]
        applied = services.plans_apply(lines=lines, year=YEAR, user=people.filer, as_of=AS_OF)
        assert [(p.month, p.applied, p.status) for p in applied] == [
            (2, Decimal("200.00"), "applied"), (3, Decimal("300.00"), "applied"),
            (4, Decimal("400.00"), "applied")]
        approved = services.plans_approve(plans=applied, user=user, as_of=AS_OF)
        stored = {p.month: p for p in PaymentPlan.objects.filter(month__in=[2, 3, 4])}
        assert {m: (p.approved, p.status) for m, p in stored.items()} == {
            2: (Decimal("200.00"), "approved"), 3: (Decimal("300.00"), "approved"),
            4: (Decimal("400.00"), "approved")}
        assert [p.pk for p in approved] == sorted(p.pk for p in stored.values())
        hist, steps = self._trail(one)
        assert [h[0] for h in hist] == ["applied", "approved"]
        for p in stored.values():  # the same trail as the one-by-one plan of January
            h, st = self._trail(p)
            assert [(x[0], x[3]) for x in h] == [(x[0], x[3]) for x in hist]
            assert st == steps

    def test_a_line_applied_again_is_reapplied_and_a_line_twice_is_refused(self, ledger,
                                                                          people, user):
        from tests.helpers import YEAR, dims

        first = services.plans_apply(lines=[services.PlanApplyLine(dims(), 5, Decimal("50.00"))],
                                     year=YEAR, user=people.filer, as_of=AS_OF)
        services.plans_approve(plans=first, user=user, as_of=AS_OF)
        again = services.plans_apply(lines=[services.PlanApplyLine(dims(), 5, Decimal("70.00")),
                                            services.PlanApplyLine(dims(), 6, Decimal("60.00"))],
                                     year=YEAR, user=people.filer, as_of=AS_OF)
        assert again[0].pk == first[0].pk
        assert (again[0].applied, again[0].status) == (Decimal("70.00"), "applied")
        assert self._trail(again[0])[1] == [("", "applied", "apply"),
                                            ("applied", "approved", "approve"),
                                            ("approved", "applied", "apply")]
        with pytest.raises(ValueError, match="twice"):
            services.plans_apply(lines=[services.PlanApplyLine(dims(), 7, Decimal("1.00")),
                                        services.PlanApplyLine(dims(), 7, Decimal("2.00"))],
                                 year=YEAR, user=people.filer)

    def test_a_bad_amount_writes_nothing(self, ledger, people):
        from payments.models import PaymentPlan
        from tests.helpers import YEAR, dims

        with pytest.raises(ValidationError):
            services.plans_apply(lines=[services.PlanApplyLine(dims(), 8, Decimal("10.00")),
                                        services.PlanApplyLine(dims(), 9, Decimal("-1.00"))],
                                 year=YEAR, user=people.filer)
        assert not PaymentPlan.objects.filter(month__in=[8, 9]).exists()

    def test_a_request_is_filed_against_a_plan_approved_in_a_batch(self, ledger, people,
                                                                   acme, user):
        from tests.helpers import YEAR, dims

        plans = services.plans_apply(lines=[services.PlanApplyLine(dims(), 3, Decimal("500.00"))],
                                     year=YEAR, user=people.filer, as_of=AS_OF)
        services.plans_approve(plans=plans, user=user, as_of=AS_OF)
        req = file_request(people, acme, "400.00")
        assert req.status == "unit_review" and req.plan_id == plans[0].pk
        with pytest.raises(errors.PlanExceeded):
            file_request(people, acme, "200.00")
