"""Payees, monthly plans, submitting (commitment), the rule library and the approval
chain with segregation of duties."""
from __future__ import annotations

from decimal import Decimal

import pytest

from finance import selectors
from finance.models import Entry, WorkflowStep
from payments import errors, services
from payments.models import Payee, PaymentRequest
from tests.helpers import YEAR, dims, indicator_approve
from tests.payments.conftest import AS_OF, approve_all, file_request, payee


def bal(account: str, **kw: str) -> Decimal:
    d = dims(**kw)
    return selectors.balance(account=account, year=YEAR, region=d.region, unit=d.unit,
                             function=d.function, economic=d.economic,
                             fund_source=d.fund_source, project=d.project)


class TestPayee:
    def test_keeps_every_account_change_in_history(self, banks, user):
        p = payee(user)
        services.payee_save(payee=p, name=p.name, account_number="6222020200999999999",
                            bank_name=p.bank_name, branch_name=p.branch_name, cnaps=p.cnaps,
                            user=user, reason="account changed by letter 2026-17")
        accounts = [h.account_number for h in Payee.history.filter(id=p.pk).order_by("history_id")]
        assert accounts == ["6222020200112233445", "6222020200999999999"]
        assert Payee.history.filter(id=p.pk).first().history_change_reason == (
            "account changed by letter 2026-17")

    def test_an_unchanged_save_adds_no_history(self, banks, user):
        p = payee(user)
        services.payee_save(
            payee=p, name=p.name, account_number=p.account_number, bank_name=p.bank_name,
            branch_name=p.branch_name, cnaps=p.cnaps, user=user, reason="again")
        assert Payee.history.filter(id=p.pk).count() == 1


class TestPaymentRequestSubmit:
    def test_commits_the_amount_in_the_control_book_at_once(self, ready):
        req = file_request(ready.people, ready.payee, "300.00")
        assert req.status == "unit_review"
        assert bal("9201") == Decimal("300.00")
        assert bal("9101") == Decimal("700.00")
        entry = Entry.objects.get(pk=req.commit_entry_id)
        assert entry.tracking_id == req.tracking_id and entry.kind == "commit"

    def test_refuses_when_the_indicator_is_short_and_says_what_is_available(self, ready, user):
        services.plan_approve(plan=ready.plan, amount=Decimal("5000.00"), user=user)
        file_request(ready.people, ready.payee, "900.00")
        req = file_request(ready.people, ready.payee, "150.00", submit=False)
        with pytest.raises(errors.IndicatorShort) as exc:
            services.payment_request_submit(request=req, user=ready.people.filer, as_of=AS_OF)
        assert str(exc.value) == str(errors.MSG_INDICATOR_SHORT % {
            "available": "100.00", "requested": "150.00"})
        req.refresh_from_db()
        assert req.status == "draft" and bal("9101") == Decimal("100.00")

    def test_refuses_beyond_the_months_approved_plan(self, ready, user):
        services.plan_approve(plan=ready.plan, amount=Decimal("400.00"), user=user)
        file_request(ready.people, ready.payee, "300.00")
        req = file_request(ready.people, ready.payee, "150.00", submit=False)
        with pytest.raises(errors.PlanExceeded) as exc:
            services.payment_request_submit(request=req, user=ready.people.filer, as_of=AS_OF)
        assert "allows 100.00 more (approved 400.00); 150.00 was requested" in str(exc.value)
        assert bal("9201") == Decimal("300.00")

    def test_refuses_without_an_approved_plan_unless_the_fund_source_has_plan_control_off(
            self, ledger, people, acme, user):
        req = file_request(people, acme, "100.00", submit=False)
        with pytest.raises(errors.PlanExceeded):
            services.payment_request_submit(request=req, user=people.filer, as_of=AS_OF)
        services.fund_source_plan_control_set(fund_source="1", enabled=False, user=user,
                                              reason="pilot without plans")
        req = services.payment_request_submit(request=req, user=people.filer, as_of=AS_OF)
        assert req.status == "unit_review" and req.plan is None

    def test_save_and_submit_is_one_call_with_the_same_ledger_history_and_steps(self, ready):
        two = file_request(ready.people, ready.payee, "120.00")  # create, then submit
        one = services.payment_request_create(
            dims=dims(), year=YEAR, amount=Decimal("130.00"), payee=ready.payee,
            purpose="办公费", user=ready.people.filer, as_of=AS_OF, submit=True)
        assert one.status == two.status == "unit_review"
        assert one.plan_id == two.plan_id == ready.plan.pk
        assert bal("9201") == Decimal("250.00") and bal("9101") == Decimal("750.00")
        entry = Entry.objects.get(pk=one.commit_entry_id)
        assert (entry.kind, entry.tracking_id) == ("commit", one.tracking_id)

        def trail(req: object) -> tuple[list, list]:
            hist = [(h.status, h.history_change_reason, h.history_user_id)
                    for h in type(req).history.filter(id=req.pk).order_by("history_id")]
            steps = list(WorkflowStep.objects.filter(
                doc_id=str(req.pk), doc_type__model="paymentrequest").order_by("id")
                         .values_list("from_state", "to_state", "action"))
            return hist, steps
        assert trail(one) == trail(two) == (
            [("draft", "filed", ready.people.filer.pk),
             ("unit_review", "submitted", ready.people.filer.pk)],
            [("", "draft", "file"), ("draft", "unit_review", "submit")])

    def test_save_and_submit_refused_for_a_short_plan_saves_nothing(self, ready):
        before = PaymentRequest.objects.count()
        with pytest.raises(errors.PlanExceeded):
            services.payment_request_create(
                dims=dims(), year=YEAR, amount=Decimal("5000.00"), payee=ready.payee,
                purpose="超额", user=ready.people.filer, as_of=AS_OF, submit=True)
        assert PaymentRequest.objects.count() == before
        assert bal("9201") == Decimal("0.00")

    def test_save_and_submit_of_a_refused_payee_keeps_the_request_refused(self, ready, user):
        services.payee_block(payee=ready.payee, blocked=True, reason="法院冻结", user=user)
        req = services.payment_request_create(
            dims=dims(), year=YEAR, amount=Decimal("100.00"), payee=ready.payee,
            purpose="办公费", user=ready.people.filer, as_of=AS_OF, submit=True)
        req.refresh_from_db()
        assert req.status == "refused" and req.commit_entry_id is None
        assert [h.rule_code for h in req.hits.all()] == ["blocked_payee"]

    def test_only_a_filer_of_the_unit_can_file(self, ready):
        with pytest.raises(errors.NotAllowed) as exc:
            services.payment_request_create(dims=dims(), year=YEAR, amount=Decimal("1.00"),
                                            payee=ready.payee, purpose="x",
                                            user=ready.people.head)
        assert "the role unit_filer is required" in str(exc.value)
        with pytest.raises(errors.NotAllowed, match="another unit"):
            services.payment_request_create(dims=dims(unit="440300102"), year=YEAR,
                                            amount=Decimal("1.00"), payee=ready.payee,
                                            purpose="x", user=ready.people.filer)

    def test_only_the_filer_submits(self, ready):
        req = file_request(ready.people, ready.payee, "10.00", submit=False)
        with pytest.raises(errors.NotAllowed) as exc:
            services.payment_request_submit(request=req, user=ready.people.head)
        assert str(exc.value) == "head may not submit this request: only the filer of a " \
                                 "request submits it."

    def test_stores_attachments_and_references(self, ready):
        req = services.payment_request_create(
            dims=dims(), year=YEAR, amount=Decimal("10.00"), payee=ready.payee, purpose="印刷",
            contract_ref="HT-2026-001", procurement_ref="CG-2026-09",
            attachments=[("invoice.pdf", b"%PDF-1.4 test")], user=ready.people.filer)
        att = req.attachments.get()
        assert att.name == "invoice.pdf" and att.file.read() == b"%PDF-1.4 test"
        assert req.contract_ref == "HT-2026-001"


class TestRules:
    def hits(self, req: object) -> list[tuple[str, str]]:
        return [(h.rule_code, h.reason) for h in req.hits.all()]

    def test_a_blocked_payee_is_refused_with_the_reason_and_nothing_committed(self, ready, user):
        services.payee_block(payee=ready.payee, blocked=True, reason="法院冻结", user=user)
        req = file_request(ready.people, ready.payee, "100.00")
        assert req.status == "refused"
        assert self.hits(req) == [("blocked_payee",
                                   "Payee 深圳市南山某科技有限公司 is on the blocked list: 法院冻结.")]
        assert bal("9201") == Decimal("0.00")

    def test_a_malformed_account_number_is_refused(self, ready, user):
        bad = payee(user, name="坏账号", account="6222-0202")
        req = file_request(ready.people, bad, "100.00")
        assert req.status == "refused"
        assert self.hits(req) == [("account_format", "Account number 6222-0202 is malformed: "
                                   "only digits are allowed.")]

    def test_an_unknown_or_malformed_cnaps_code_is_refused(self, ready, user):
        unknown = payee(user, name="未知行", cnaps="999584000001")
        short = payee(user, name="短行号", cnaps="10258400")
        r1 = file_request(ready.people, unknown, "10.00")
        r2 = file_request(ready.people, short, "10.00")
        assert self.hits(r1) == [("cnaps", "CNAPS code 999584000001 of the payee's bank is unknown.")]
        assert self.hits(r2) == [("cnaps", "CNAPS code '10258400' of the payee's bank is "
                                           "malformed: it must be 12 digits.")]

    def test_the_same_payee_and_amount_within_the_window_is_flagged_as_a_duplicate(self, ready):
        first = file_request(ready.people, ready.payee, "120.00")
        second = file_request(ready.people, ready.payee, "120.00")
        assert second.status == "unit_review"  # flagged, sent to people
        assert self.hits(second) == [("duplicate", f"Possible duplicate of {first.tracking_id} "
                                      "filed 2026-03-10: the same payee and amount within 7 days.")]

    def test_rules_are_data_a_disabled_rule_does_not_run_and_the_change_is_in_history(
            self, ready, user):
        file_request(ready.people, ready.payee, "120.00")
        rule = services.rule_update(code="duplicate", enabled=False, user=user,
                                    reason="duplicates checked by the bank this month")
        second = file_request(ready.people, ready.payee, "120.00")
        assert self.hits(second) == []
        assert rule.history.first().history_change_reason == (
            "duplicates checked by the bank this month")

    def test_amount_above_the_single_payment_limit_is_flagged(self, ready, user):
        services.rule_update(code="single_limit", params={"limit": "500.00"}, user=user,
                             reason="pilot")
        req = file_request(ready.people, ready.payee, "600.00")
        assert self.hits(req) == [("single_limit", "Amount 600.00 is above the single-payment "
                                   "limit 500.00.")]

    def test_several_requests_just_under_the_threshold_are_flagged_as_splitting(self, ready,
                                                                                user):
        services.rule_update(code="splitting", params={"threshold": "300.00"}, user=user,
                             reason="pilot")
        other = payee(user, name="另一家", account="6217000010012345678", cnaps="105584000135")
        file_request(ready.people, ready.payee, "290.00")
        mid = file_request(ready.people, other, "295.00")
        assert self.hits(mid) == []
        last = file_request(ready.people, ready.payee, "280.00")
        assert self.hits(last) == [("splitting", "Possible split payment: 2 requests from this "
                                    "unit to 深圳市南山某科技有限公司 within 30 days, each just "
                                    "under the approval threshold 300.00.")]

    def test_a_sangong_code_over_its_annual_cap_is_refused(self, ledger, people, acme, user):
        indicator_approve(Decimal("900.00"), dims(economic="30217"), on=AS_OF.date())
        services.fund_source_plan_control_set(fund_source="1", enabled=False, user=user,
                                              reason="test")
        services.rule_update(code="sangong_cap", params={"caps": {"30217": "500.00"}},
                             user=user, reason="2026 cap")
        ok = file_request(people, acme, "400.00", economic="30217")
        assert ok.status == "unit_review"
        over = file_request(people, acme, "150.00", economic="30217")
        assert over.status == "refused"
        assert self.hits(over) == [("sangong_cap", "三公 code 30217: 400.00 used this year plus "
                                    "150.00 requested exceeds the annual cap 500.00.")]


class TestApprovalChain:
    def test_unit_head_then_treasury_reviewer_approve_and_every_step_is_recorded(self, ready):
        req = file_request(ready.people, ready.payee, "300.00")
        req = approve_all(ready.people, req)
        assert req.status == "approved"
        steps = WorkflowStep.objects.filter(doc_id=str(req.pk), doc_type__model="paymentrequest")
        assert [(s.action, s.to_state, s.actor.username, s.comment) for s in steps] == [
            ("file", "draft", "filer", ""), ("submit", "unit_review", "filer", ""),
            ("approve", "treasury_review", "head", "ok"), ("approve", "approved", "reviewer", "ok")]

    def test_the_director_approves_above_the_threshold(self, ready, settings):
        settings.PAYMENTS_DIRECTOR_THRESHOLD = "250.00"
        req = file_request(ready.people, ready.payee, "300.00")
        req = services.payment_request_approve(request=req, user=ready.people.head)
        req = services.payment_request_approve(request=req, user=ready.people.reviewer)
        assert req.status == "director_review"
        req = services.payment_request_approve(request=req, user=ready.people.director)
        assert req.status == "approved"

    def test_the_filer_can_never_approve(self, ready):
        ready.people.filer.groups.add(*ready.people.head.groups.all())
        req = file_request(ready.people, ready.payee, "300.00")
        with pytest.raises(errors.NotAllowed) as exc:
            services.payment_request_approve(request=req, user=ready.people.filer)
        assert "the filer of a request can never approve it" in str(exc.value)

    def test_one_person_approves_at_most_one_level(self, ready):
        ready.people.head.groups.add(*ready.people.reviewer.groups.all())
        req = file_request(ready.people, ready.payee, "300.00")
        req = services.payment_request_approve(request=req, user=ready.people.head)
        with pytest.raises(errors.NotAllowed) as exc:
            services.payment_request_approve(request=req, user=ready.people.head)
        assert "one person approves at most one level of the same request" in str(exc.value)

    def test_a_unit_head_of_another_unit_cannot_approve(self, ready):
        req = file_request(ready.people, ready.payee, "300.00")
        with pytest.raises(errors.NotAllowed, match="another unit"):
            services.payment_request_approve(request=req, user=ready.people.other_head)

    def test_rejection_at_any_level_releases_the_commitment(self, ready):
        req = file_request(ready.people, ready.payee, "300.00")
        req = services.payment_request_approve(request=req, user=ready.people.head)
        req = services.payment_request_reject(request=req, user=ready.people.reviewer,
                                              comment="合同未附")
        assert req.status == "rejected"
        assert bal("9201") == Decimal("0.00") and bal("9101") == Decimal("1000.00")
        step = WorkflowStep.objects.filter(doc_id=str(req.pk), action="reject").get()
        assert (step.actor.username, step.comment) == ("reviewer", "合同未附")
        assert Entry.objects.filter(tracking_id=req.tracking_id).count() == 2

    def test_rejection_needs_a_reason(self, ready):
        req = file_request(ready.people, ready.payee, "300.00")
        with pytest.raises(errors.ReasonRequired):
            services.payment_request_reject(request=req, user=ready.people.head, comment=" ")


class TestApi:
    @pytest.fixture(autouse=True)
    def english_client(self, client):  # noqa: ANN001
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"

    def test_a_request_is_filed_submitted_and_approved_through_the_api(self, ready, client,
                                                                         user):
        services.fund_source_plan_control_set(fund_source="1", enabled=False, user=user,
                                              reason="the API runs on today's date")
        client.force_login(ready.people.filer)
        d = dims()
        resp = client.post("/api/payments/requests/", {
            "year": YEAR, "region": d.region, "unit": d.unit, "function": d.function,
            "economic": d.economic, "fund_source": d.fund_source, "amount": "250.00",
            "payee": ready.payee.pk, "purpose": "办公费"}, content_type="application/json")
        assert resp.status_code == 201, resp.content
        pk = resp.json()["id"]
        resp = client.post(f"/api/payments/requests/{pk}/submit/")
        assert (resp.status_code, resp.json()["status"]) == (200, "unit_review")
        resp = client.post(f"/api/payments/requests/{pk}/approve/", {"comment": "ok"},
                           content_type="application/json")
        assert resp.status_code == 403
        assert resp.json()["detail"] == ("filer may not approve this request: the filer of a "
                                         "request can never approve it.")
        client.force_login(ready.people.head)
        resp = client.post(f"/api/payments/requests/{pk}/approve/", {"comment": "ok"},
                           content_type="application/json")
        assert resp.json()["status"] == "treasury_review"

    def test_a_request_is_saved_and_submitted_in_one_post(self, ready, client, user):
        services.fund_source_plan_control_set(fund_source="1", enabled=False, user=user,
                                              reason="the API runs on today's date")
        client.force_login(ready.people.filer)
        d = dims()
        body = {"year": YEAR, "region": d.region, "unit": d.unit, "function": d.function,
                "economic": d.economic, "fund_source": d.fund_source, "payee": ready.payee.pk,
                "purpose": "办公费", "submit": True}
        resp = client.post("/api/payments/requests/", {**body, "amount": "250.00"},
                           content_type="application/json")
        assert resp.status_code == 201, resp.content
        assert resp.json()["status"] == "unit_review" and "submit" not in resp.json()
        assert bal("9201") == Decimal("250.00")
        resp = client.post("/api/payments/requests/", {**body, "amount": "900.00"},
                           content_type="application/json")
        assert resp.status_code == 400
        assert resp.json()["code"] == "indicator_short"
        assert PaymentRequest.objects.filter(amount=Decimal("900.00")).count() == 0

    def test_a_unit_sees_only_its_own_requests_and_treasury_sees_all(self, ready, client):
        mine = file_request(ready.people, ready.payee, "10.00", submit=False)
        client.force_login(ready.people.other_head)
        assert client.get("/api/payments/requests/").json()["results"] == []
        client.force_login(ready.people.reviewer)
        got = client.get("/api/payments/requests/").json()["results"]
        assert [r["tracking_id"] for r in got] == [mine.tracking_id]

    def test_a_short_indicator_is_a_400_with_the_available_amount(self, ready, client, user):
        services.fund_source_plan_control_set(fund_source="1", enabled=False, user=user,
                                              reason="test")
        req = file_request(ready.people, ready.payee, "1200.00", submit=False)
        client.force_login(ready.people.filer)
        resp = client.post(f"/api/payments/requests/{req.pk}/submit/")
        assert resp.status_code == 400
        assert resp.json() == {"code": "indicator_short", "detail": (
            "The indicator has 1,000.00 available; 1,200.00 was requested. The request is "
            "refused.")}


class TestMessages:
    def test_clerks_read_the_refusal_in_chinese(self):
        from django.utils import translation

        with translation.override("zh-hans"):
            assert str(errors.IndicatorShort(available="100.00", requested="150.00")) == (
                "指标可用余额 100.00，申请金额 150.00，申请被拒绝。")
            assert str(errors.MSG_FILER_CANNOT_APPROVE) == "经办人不得审批本人提交的申请"
