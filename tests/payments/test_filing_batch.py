"""Filing many requests at once (payments.services.payment_requests_file): every request
gets the checks of 保存并送审 one by one and sees the batch's earlier requests.

The batch, worked out by hand. Tuple A (economic 30201): indicator 1,000.00, March plan
5,000.00 (the plan does not limit), control rule "warn at 50 %" on economic 302…. Tuple B
(economic 30217, a 三公 code): indicator 900.00, March plan 420.00, 三公 cap 400.00.
Splitting threshold 300.00 (band 10 %: 270.00–299.99 counts). Filed in this order:

 #  tuple payee    amount  outcome                                          A used  B used
 0  A     acme     120.00  submitted, usage 12 %                            120
 1  A     acme     120.00  submitted, flagged duplicate of #0               240
 2  A     acme     290.00  submitted, 53 % ≥ 50 %: warned                   530
 3  A     acme     280.00  submitted, split (#2 and #3), warned 81 %        810
 4  A     blocked  100.00  refused by the blocked payee rule, warned 91 %   810
 5  A     acme     250.00  error: indicator short, 190.00 left              810
 6  A     acme     190.00  submitted, warned 100 %                          1,000
 7  30299 acme      50.00  error: no such indicator                         1,000
 8  B     acme     300.00  submitted, 33.33 %                                       300
 9  B     acme     150.00  error: plan 420.00, 120.00 left                          300
10  B     acme     110.00  refused: 三公 300 + 110 > 400 (usage 45.56 %)            300
11  B     acme     100.00  submitted, 三公 400 ≤ 400, 44.44 %                       400
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import transaction

from finance import control, roles
from finance.models import ControlCheck, Entry, WorkflowStep
from payments import errors, services
from payments.models import PaymentRequest
from tests.helpers import YEAR, dims, grant, indicator_approve
from tests.payments.conftest import AS_OF, payee
from tests.payments.test_requests import bal

D0 = dt.date(2026, 1, 1)
PLAN = [("30201", "acme", "120.00"), ("30201", "acme", "120.00"), ("30201", "acme", "290.00"),
        ("30201", "acme", "280.00"), ("30201", "blocked", "100.00"),
        ("30201", "acme", "250.00"), ("30201", "acme", "190.00"), ("30299", "acme", "50.00"),
        ("30217", "acme", "300.00"), ("30217", "acme", "150.00"), ("30217", "acme", "110.00"),
        ("30217", "acme", "100.00")]


@pytest.fixture
def city(ready, user, django_user_model):  # noqa: ANN001
    services.plan_approve(plan=ready.plan, amount=Decimal("5000.00"), user=user)
    indicator_approve(Decimal("900.00"), dims(economic="30217"), on=AS_OF.date())
    p = services.plan_apply(dims=dims(economic="30217"), year=YEAR, month=3,
                            amount=Decimal("420.00"), user=user, as_of=AS_OF)
    services.plan_approve(plan=p, user=user, as_of=AS_OF)
    services.rule_update(code="sangong_cap", params={"caps": {"30217": "400.00"}}, user=user,
                         reason="2026 cap")
    services.rule_update(code="splitting", params={"threshold": "300.00"}, user=user,
                         reason="pilot")
    office = grant(django_user_model.objects.create_user(username="yusuanchu"),
                   roles.BUDGET_OFFICE)
    control.control_rule_save(user=office, reason="warn at 50", rule=None, fund_source="1",
                              economic_prefix="302", mode="warn",
                              threshold_percent=Decimal("50.00"), effective_from=D0)
    blocked = payee(user, name="黑名单公司", account="6217000010012345678", cnaps="105584000135")
    services.payee_block(payee=blocked, blocked=True, reason="法院冻结", user=user)
    payees = {"acme": ready.payee, "blocked": blocked}
    items = [services.RequestInput(dims=dims(economic=econ), amount=Decimal(amount),
                                   payee=payees[who], purpose=f"办公费 {n}",
                                   filed_at=AS_OF + dt.timedelta(minutes=n))
             for n, (econ, who, amount) in enumerate(PLAN)]
    return SimpleNamespace(items=items, filer=ready.people.filer)


def one_by_one(items: list, filer: object) -> tuple[list, list]:
    """The same requests filed and submitted by hand, one 保存并送审 each."""
    done, failed = [], []
    for n, x in enumerate(items):
        try:
            done.append(services.payment_request_create(
                dims=x.dims, year=YEAR, amount=x.amount, payee=x.payee, purpose=x.purpose,
                user=filer, as_of=x.filed_at, submit=True))
        except errors.PaymentError as exc:
            failed.append((n, exc))
    return done, failed


def trail(done: list, failed: list) -> dict:
    """Everything the requests left, tracking ids replaced by the request's position."""
    pos = {r.tracking_id: f"#{int(r.purpose.split()[-1])}" for r in done}

    def plain(text: str) -> str:
        return re.sub(r"TR\d{4}[0-9A-F]{16}", lambda m: pos.get(m.group(0), "?"), str(text))

    out: dict = {"failed": [(n, type(e).__name__, str(e)) for n, e in failed]}
    first = Entry.objects.order_by("number").filter(kind="commit").values_list(
        "number", flat=True)
    base = min(first) if first else 0
    for r in sorted(done, key=lambda r: r.pk):
        r = PaymentRequest.objects.get(pk=r.pk)
        me = pos[r.tracking_id]
        steps = WorkflowStep.objects.filter(doc_type__model="paymentrequest", doc_id=str(r.pk))
        entry = Entry.objects.filter(pk=r.commit_entry_id).first()
        out[me] = {
            "status": r.status, "plan": r.plan_id, "submitted_at": r.submitted_at,
            "hits": [(h.rule_code, h.action, plain(h.reason), h.created_at)
                     for h in r.hits.order_by("id")],
            "steps": [(s.action, s.from_state, s.to_state, plain(s.comment), s.at, s.actor_id)
                      for s in steps.order_by("id")],
            "history": [(h.status, h.history_change_reason, h.plan_id, bool(h.commit_entry_id),
                         h.history_user_id, h.history_type)
                        for h in PaymentRequest.history.filter(id=r.pk).order_by("history_id")],
            "checks": [(c.outcome, c.mode, c.used_amount, c.amount, c.usage_percent, c.at)
                       for c in ControlCheck.objects.filter(doc_type__model="paymentrequest",
                                                            doc_id=str(r.pk))],
            "entry": None if entry is None else (
                entry.number - base, plain(entry.description), entry.date, entry.posted_at,
                entry.kind, plain(entry.idempotency_key),
                sorted((ln.book, ln.account.code, ln.debit_fen, ln.credit_fen)
                       for ln in entry.lines.select_related("account"))),
        }
    out["balances"] = {(acc, econ): bal(acc, economic=econ)
                       for acc in ("9101", "9201") for econ in ("30201", "30217")}
    return out


class _Undo(Exception):  # noqa: N818
    pass


def _stored(city: SimpleNamespace, unit: str, amount: str) -> PaymentRequest:
    """An open request to acme filed the day before the batch, as another filing left it."""
    acme = city.items[0].payee
    return PaymentRequest.objects.create(
        **{k: getattr(dims(unit=unit), k) for k in ("region", "unit", "function", "economic",
                                                    "fund_source", "project")},
        year=YEAR, tracking_id=f"TR2026{unit[-4:]}{amount.replace('.', ''):0>12}",
        amount=Decimal(amount), payee=acme, purpose="办公费", filed_by=city.filer,
        status=PaymentRequest.Status.UNIT_REVIEW, filed_at=AS_OF - dt.timedelta(days=1))


def _hits(done: list) -> dict[int, list[tuple[str, str, str]]]:
    """Each filed request's rule hits, by its position in the batch (a request of the
    batch named in a reason by its position too)."""
    pos = {r.tracking_id: f"#{int(r.purpose.split()[-1])}" for r in done}
    return {int(r.purpose.split()[-1]): [
        (h.rule_code, h.action, re.sub(r"TR\w+", lambda m: pos.get(m.group(0), m.group(0)),
                                       h.reason))
        for h in r.hits.order_by("id")] for r in done}


class TestFiledAsOneByOne:
    def test_the_batch_leaves_what_one_by_one_leaves(self, city):
        try:
            with transaction.atomic():
                by_hand = trail(*one_by_one(city.items, city.filer))
                raise _Undo
        except _Undo:
            pass
        assert PaymentRequest.objects.count() == 0  # undone: both start from the same state
        out = services.payment_requests_file(items=city.items, year=YEAR, user=city.filer,
                                             as_of=AS_OF)
        batch = trail(out.filed, out.refused)
        assert batch["failed"] == by_hand["failed"]
        assert batch == by_hand

    def test_the_outcome_worked_out_by_hand(self, city):
        out = services.payment_requests_file(items=city.items, year=YEAR, user=city.filer,
                                             as_of=AS_OF)
        status = {int(r.purpose.split()[-1]): r.status for r in out.filed}
        assert status == {0: "unit_review", 1: "unit_review", 2: "unit_review",
                          3: "unit_review", 4: "refused", 6: "unit_review",
                          8: "unit_review", 10: "refused", 11: "unit_review"}
        assert [(n, type(e)) for n, e in out.refused] == [
            (5, errors.IndicatorShort), (7, errors.NoIndicator), (9, errors.PlanExceeded)]
        assert str(out.refused[0][1]) == str(errors.MSG_INDICATOR_SHORT % {
            "available": "190.00", "requested": "250.00"})
        assert "420.00" in str(out.refused[2][1]) and "120.00" in str(out.refused[2][1])
        by = {int(r.purpose.split()[-1]): r for r in out.filed}
        hits = {n: [(h.rule_code, h.action) for h in r.hits.all()] for n, r in by.items()}
        assert hits == {0: [], 1: [("duplicate", "flag")], 2: [("control", "flag")],
                        3: [("splitting", "flag"), ("control", "flag")],
                        4: [("blocked_payee", "refuse"), ("control", "flag")],
                        6: [("control", "flag")], 8: [], 10: [("sangong_cap", "refuse")],
                        11: []}
        assert by[0].tracking_id in by[1].hits.get().reason
        usage = {n: [(c.outcome, f"{c.usage_percent}") for c in control.checks_of(r)]
                 for n, r in by.items()}
        assert usage == {0: [("within", "12.00")], 1: [("within", "24.00")],
                         2: [("warned", "53.00")], 3: [("warned", "81.00")],
                         4: [("warned", "91.00")], 6: [("warned", "100.00")],
                         8: [("within", "33.33")], 10: [("within", "45.56")],
                         11: [("within", "44.44")]}
        # A: 120 + 120 + 290 + 280 + 190 committed, nothing left; B: 300 + 100 of 900
        assert bal("9201") == Decimal("1000.00") and bal("9101") == Decimal("0.00")
        assert bal("9201", economic="30217") == Decimal("400.00")
        assert bal("9101", economic="30217") == Decimal("500.00")
        numbers = sorted(Entry.objects.filter(kind="commit").values_list("number", flat=True))
        assert len(numbers) == 7 and numbers == list(range(numbers[0], numbers[0] + 7))

    def test_stored_requests_are_seen_as_one_by_one_sees_them(self, city):
        """The batch reads stored open requests only for its own amounts and units (a
        payee many units pay has hundreds in a week): the requests the rules count are
        still all found. Stored the day before (by hand): another unit's 120.00 to acme,
        a duplicate of #0 (any unit, same payee and amount); another unit's 777.00 to acme,
        which no rule counts; this unit's 285.00 to acme, in the splitting band (270.00–
        299.99), so #2 (290.00) is the band's second request: split, as #3 already was."""
        other = _stored(city, "440300102", "120.00")
        _stored(city, "440300102", "777.00")
        _stored(city, "440300101", "285.00")
        try:
            with transaction.atomic():
                done, _failed = one_by_one(city.items, city.filer)
                by_hand = _hits(done)
                raise _Undo
        except _Undo:
            pass
        out = services.payment_requests_file(items=city.items, year=YEAR, user=city.filer,
                                             as_of=AS_OF)
        hits = _hits(out.filed)
        assert hits == by_hand
        assert {n: [(code, action) for code, action, _why in h] for n, h in hits.items()} == {
            0: [("duplicate", "flag")], 1: [("duplicate", "flag")],
            2: [("splitting", "flag"), ("control", "flag")],
            3: [("splitting", "flag"), ("control", "flag")],
            4: [("blocked_payee", "refuse"), ("control", "flag")],
            6: [("control", "flag")], 8: [], 10: [("sangong_cap", "refuse")], 11: []}
        assert other.tracking_id in hits[0][0][2] and "#0" in hits[1][0][2]

    @pytest.mark.postgres
    def test_the_window_of_stored_requests_is_read_by_payee_and_filing_time(self, city):
        """The rules' read of stored open requests is bounded by the window in the index
        (payee, filed_at), not by every request of the year to the payee: the plan
        PostgreSQL makes for the statement the batch sends names the index with both."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        _stored(city, "440300102", "120.00")
        with CaptureQueriesContext(connection) as q:
            services.payment_requests_file(items=city.items, year=YEAR, user=city.filer,
                                           as_of=AS_OF)
        sql = next(x["sql"] for x in q.captured_queries
                   if x["sql"].startswith("SELECT") and '"filed_at" >=' in x["sql"]
                   and '"payee_id"' in x["sql"] and "payments_paymentrequest" in x["sql"])
        with connection.cursor() as cur:
            cur.execute("SET LOCAL enable_seqscan = off")  # the test's tables are tiny
            cur.execute("EXPLAIN " + sql)
            plan = "\n".join(row[0] for row in cur.fetchall())
        scan = next(line for line in plan.splitlines() if "payreq_payee_filed_idx" in line)
        cond = plan.split(scan, 1)[1].splitlines()[1]
        assert "Index Cond" in cond and "payee_id" in cond and "filed_at >=" in cond, plan

    def test_the_filer_is_checked_for_the_whole_batch(self, city, ready):
        with pytest.raises(errors.NotAllowed):
            services.payment_requests_file(items=city.items, year=YEAR,
                                           user=ready.people.head, as_of=AS_OF)
        assert PaymentRequest.objects.count() == 0

    def test_another_units_tuple_refuses_that_request_only(self, city):
        other = services.RequestInput(dims=dims(unit="440300102"), amount=Decimal("10.00"),
                                      payee=city.items[0].payee, purpose="办公费 99",
                                      filed_at=AS_OF)
        out = services.payment_requests_file(items=[other, city.items[0]], year=YEAR,
                                             user=city.filer, as_of=AS_OF)
        assert [(n, type(e)) for n, e in out.refused] == [(0, errors.IndicatorOtherUnit)]
        assert [r.purpose for r in out.filed] == ["办公费 0"]

    def test_a_batch_above_the_limit_is_refused_before_anything_is_read(self, city):
        with pytest.raises(ValueError, match="at most"):
            services.payment_requests_file(items=city.items * 50, year=YEAR,
                                           user=city.filer, as_of=AS_OF)


class TestThroughTheApi:
    URL = "/api/payments/requests/file-many/"

    def test_a_list_is_filed_and_a_refusal_is_reported_by_its_position(self, city, client,
                                                                         user):
        # filed now (the API takes no filing time), not in March: no monthly plan control,
        # which did not limit tuple A above either
        services.fund_source_plan_control_set(fund_source="1", enabled=False, user=user,
                                              reason="test: filed today")
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        client.force_login(city.filer)
        rows = [{"region": x.dims.region, "unit": x.dims.unit, "function": x.dims.function,
                 "economic": x.dims.economic, "fund_source": x.dims.fund_source,
                 "project": x.dims.project, "amount": str(x.amount), "payee": x.payee.pk,
                 "purpose": x.purpose} for x in city.items[:8]]
        r = client.post(self.URL, {"year": YEAR, "requests": rows},
                        content_type="application/json")
        assert r.status_code == 200, r.content
        body = r.json()
        # items 0–7 of the table above: 5 and 7 refused, 4 refused by the blocked-payee rule
        assert [(f["purpose"], f["status"]) for f in body["filed"]] == [
            ("办公费 0", "unit_review"), ("办公费 1", "unit_review"), ("办公费 2", "unit_review"),
            ("办公费 3", "unit_review"), ("办公费 4", "refused"), ("办公费 6", "unit_review")]
        assert [(e["index"], e["code"]) for e in body["refused"]] == [
            (5, "indicator_short"), (7, "no_indicator")]
        assert body["refused"][0]["detail"] == str(errors.MSG_INDICATOR_SHORT % {
            "available": "190.00", "requested": "250.00"})
        assert PaymentRequest.objects.count() == 6

    def test_an_approver_may_not_file(self, city, ready, client):
        client.force_login(ready.people.reviewer)
        r = client.post(self.URL, {"year": YEAR, "requests": [{
            "region": "440300", "unit": "440300101", "function": "2050203",
            "economic": "30201", "fund_source": "1", "amount": "1.00",
            "payee": ready.payee.pk, "purpose": "x"}]}, content_type="application/json")
        assert r.status_code == 403
        assert PaymentRequest.objects.count() == 0
