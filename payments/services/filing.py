"""Filing many payment requests at once (批量录入并送审): a unit's filer files and submits
a list of requests in one call and one transaction, as a clerk would by entering them
one after the other and pressing 保存并送审 on each — every request gets exactly the
checks of `payment_request_create(submit=True)` (its indicator and payee, the month's
plan, the rule library, 控制方式, the indicator's balance), and sees the requests filed
before it in the list: its duplicate and split rules count them, its plan, 三公 figure,
control usage and indicator balance include their commitments. A request refused with
an error writes nothing and is reported with its position; the others go on.

What differs is the work: the rules, plans, control rules, payees, banks and indicator
balances are read once for the batch (plans and the indicator balances locked, in a
fixed order), and the requests, their history, rule hits, control checks, workflow
steps and commitment postings are written a few statements for the whole batch (the
commitments by one `entries_post`, so the year's numbering row is held only for the
end of the transaction)."""
from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from budgets.models import Indicator
from finance import control
from finance.chart import EntryKind
from finance.ledger import Dims, EntryInput, entries_post, to_fen
from finance.models import ControlCheck, ControlRule, Organization, fen_to_decimal
from finance.services import bulk_insert, bulk_save_with_history, full_clean, workflow_record_many
from payments import errors
from payments.models import (
    Bank,
    FundSourceSetting,
    Payee,
    PaymentPlan,
    PaymentRequest,
    Rule,
    RuleHit,
)
from payments.rules import OPEN, RuleData, fmt, plans_used, rules_run
from payments.services._common import AnyOf, S, _dim_kwargs
from payments.services.control import control_hits
from payments.services.requests import (
    _draft_check,
    _hits_known,
    commitment_lines,
    plan_room_check,
    request_commitment_text,
)

BATCH_LIMIT = 500  # requests per call: one transaction holds their plans and indicators


@dataclass(frozen=True)
class RequestInput:
    """One request of a batch: what a clerk enters on the filing form. `filed_at`: when it
    was entered, if not the batch's time (a simulation, an import of the day's list)."""
    dims: Dims
    amount: Decimal
    payee: Payee
    purpose: str
    contract_ref: str = ""
    procurement_ref: str = ""
    filed_at: dt.datetime | None = None


@dataclass
class Filed:
    """The outcome: the requests written, in input order (submitted, or refused by a rule
    with their reasons), and those refused with an error (position in the input, error),
    for which nothing was written."""
    filed: list[PaymentRequest] = field(default_factory=list)
    refused: list[tuple[int, Exception]] = field(default_factory=list)


class _BatchData(RuleData):
    """What the rules read, for a batch: the database as it was when the batch began
    (read once) plus the batch's requests submitted so far."""

    def __init__(self, items: list[PaymentRequest]) -> None:
        self.items = items
        self._seen = 0  # requests of the batch submitted so far (open)
        # those requests per payee, each with its position among them (the rules below
        # only look at requests to the request's own payee)
        self._seen_by_payee: dict[int, list[tuple[int, PaymentRequest]]] = defaultdict(list)
        self._rows: dict[str, Rule] | None = None
        # days → payee → open requests to that payee (of the batch's payees)
        self._stored: dict[int, dict[int, list[Any]]] = {}
        self._sangong_seen: dict[tuple[int, str, str], Decimal] = defaultdict(Decimal)
        self._banks: dict[str, bool] = {}
        self._sangong: dict[tuple[int, str, str], Decimal] = {}

    def rows(self) -> dict[str, Rule]:
        if self._rows is None:
            self._rows = super().rows()
        return self._rows

    def seen_add(self, req: PaymentRequest) -> None:
        """`req` is submitted (open): the batch's later requests see it."""
        self._seen_by_payee[req.payee_id].append((self._seen, req))
        self._seen += 1
        self._sangong_seen[(req.year, req.unit, req.economic)] += req.amount

    def _open(self, days: int, payee_id: int) -> list[Any]:
        """Stored open requests to `payee_id` (one of the batch's payees) filed at most
        `days` before the batch's first (each request then keeps to its own window) that
        a rule here could count: for the amount of one of the batch's requests (a
        duplicate) or from one of the batch's units (a split). A payee many units pay (the
        power company) has hundreds of open requests in a week; the others are not read."""
        if days not in self._stored:
            since = min(r.filed_at for r in self.items) - dt.timedelta(days=days)
            by_payee: dict[int, list[Any]] = defaultdict(list)
            for o in (PaymentRequest.objects.filter(
                    AnyOf(F("amount"), sorted({r.amount for r in self.items}))
                    | AnyOf(F("unit"), sorted({r.unit for r in self.items})),
                    status__in=OPEN, filed_at__gte=since,
                    payee_id__in={r.payee_id for r in self.items})
                    .values_list("id", "tracking_id", "filed_at", "unit", "payee_id", "amount",
                                 named=True)):
                by_payee[o.payee_id].append(o)
            self._stored[days] = by_payee
        return self._stored[days].get(payee_id, [])

    def _candidates(self, req: PaymentRequest, days: int) -> list[tuple[tuple, Any]]:
        """(order key, request) of the stored and earlier batch requests to the request's
        payee in the window, the order being the requests' own (latest filed first, then
        the highest id: a request of the batch is written after every stored one)."""
        since = req.filed_at - dt.timedelta(days=days)
        found = [((o.filed_at, 0, o.id), o) for o in self._open(days, req.payee_id)
                 if o.filed_at >= since]
        found += [((o.filed_at, 1, n), o) for n, o in self._seen_by_payee.get(req.payee_id, ())
                  if o.filed_at >= since]
        return found

    def latest_duplicate(self, req: PaymentRequest, days: int) -> Any:
        same = [(k, o) for k, o in self._candidates(req, days)
                if o.payee_id == req.payee_id and o.amount == req.amount]
        return max(same, key=lambda ko: ko[0])[1] if same else None

    def split_count(self, req: PaymentRequest, days: int, low: Decimal, high: Decimal) -> int:
        return sum(1 for _k, o in self._candidates(req, days)
                   if o.unit == req.unit and o.payee_id == req.payee_id and low <= o.amount < high)

    def bank_known(self, cnaps: str) -> bool:
        """The batch's payees' banks looked up in the register at once, on the first ask."""
        if cnaps not in self._banks:
            codes = {r.payee.cnaps for r in self.items} | {cnaps}
            known = set(Bank.objects.filter(cnaps__in=codes, active=True)
                        .values_list("cnaps", flat=True))
            self._banks.update({code: code in known for code in codes})
        return self._banks[cnaps]

    def sangong_used(self, *, year: int, unit: str, economic: str) -> Decimal:
        key = (year, unit, economic)
        if key not in self._sangong:
            self._sangong[key] = super().sangong_used(year=year, unit=unit, economic=economic)
        return self._sangong[key] + self._sangong_seen.get(key, Decimal("0.00"))


class _Figures:
    """The indicator figures the batch moves, per tuple (dimension key): the balance
    available and the control usage (indicator amount, paid + committed), read once with
    the balance rows locked (finance.control.usage_fen_many) and kept as the batch
    commits."""

    def __init__(self, keys: list[str]) -> None:
        usage = control.usage_fen_many(keys, lock=True)
        self.total = {k: total for k, (total, _used) in usage.items()}
        self.used = {k: used for k, (_total, used) in usage.items()}

    def available(self, key: str) -> int:
        return self.total[key] - self.used[key]

    def decision(self, rules: list[ControlRule], dims: Dims, year: int, amount: Decimal,
                 on: dt.date) -> control.Decision:
        """`control.decide` on the batch's figures (the rules read once)."""
        key = dims.key(year)
        return control.decision(control.pick_rule(rules, dims, on), total_fen=self.total[key],
                                used_fen=self.used[key], amount=amount)

    def commit(self, key: str, fen: int) -> None:
        self.used[key] += fen


def _plans(reqs: list[PaymentRequest]) -> dict[tuple, PaymentPlan]:
    """The approved plans of the requests' (month, tuple), locked in id order."""
    wanted = {(timezone.localdate(r.filed_at).month, r.dims) for r in reqs}
    q = Q(pk__in=[])
    for month, d in wanted:
        q |= Q(month=month, **_dim_kwargs(d))
    year = reqs[0].year
    plans = (PaymentPlan.objects.select_for_update()
             .filter(q, year=year, status=PaymentPlan.Status.APPROVED).order_by("id"))
    return {(p.month, p.dims): p for p in plans}


def payment_requests_file(*, items: list[RequestInput], year: int, user: Any,
                          as_of: dt.datetime | None = None) -> Filed:
    """File and submit `items` (at most BATCH_LIMIT) for the filer `user`, in order, each
    exactly as `payment_request_create(..., submit=True)` would (see the module). The
    filer's role and unit are checked first (refused for the whole batch). Plain requests
    only: no attachments and no contract payments (those are filed one by one). Every
    item must be filed in the same fiscal year (`year`'s ledger months)."""
    as_of = as_of or timezone.now()
    if len(items) > BATCH_LIMIT:
        raise ValueError(f"payment_requests_file: at most {BATCH_LIMIT} requests per batch")
    out = Filed()
    if not items:
        return out
    whens = [x.filed_at or as_of for x in items]
    if len({timezone.localdate(w).year for w in whens}) != 1:
        raise ValueError("payment_requests_file: every request of a batch is filed in one year")
    # 1. what a draft must be: the filer once, then each item's amount and indicator
    indicators = {i.dim_key: i for i in Indicator.objects.select_related("unit").filter(
        year=year, dim_key__in={x.dims.key(year) for x in items})}
    payees = {p.pk: p for p in Payee.objects.filter(pk__in={x.payee.pk for x in items})}
    payee_units = dict(Organization.objects.filter(
        pk__in={p.unit_id for p in payees.values() if p.unit_id}).values_list("pk", "code"))
    drafts: list[tuple[int, PaymentRequest]] = []
    for n, (x, when) in enumerate(zip(items, whens, strict=True)):
        try:
            value = _draft_check(dims=x.dims, year=year, amount=x.amount, user=user,
                                 indicator=indicators.get(x.dims.key(year)))
            payee = payees[x.payee.pk]
            if payee.unit_id is not None and payee_units.get(payee.unit_id) != x.dims.unit:
                raise errors.PayeeOtherUnit(payee=payee.name, unit=x.dims.unit)
            req = PaymentRequest(
                tracking_id=f"TR{year}{uuid.uuid4().hex[:16].upper()}", year=year,
                amount=value, payee=payee, purpose=x.purpose, contract_ref=x.contract_ref,
                procurement_ref=x.procurement_ref, filed_by=user, filed_at=when,
                **_dim_kwargs(x.dims))
            full_clean(req, skip_unique=frozenset({"tracking_id"}))
        except errors.IndicatorOtherUnit as exc:  # this item's tuple: this item
            out.refused.append((n, exc))
            continue
        except errors.NotAllowed:
            raise  # the filer's own role or unit: the whole batch
        except (errors.PaymentError, ValidationError) as exc:
            out.refused.append((n, exc))
            continue
        drafts.append((n, req))
    if not drafts:
        return out
    with transaction.atomic():
        kept = _submit_many(drafts, year, user, out)
        _write(kept, user, as_of)
    out.filed = [k.req for k in kept]
    out.refused.sort(key=lambda nr: nr[0])
    return out


@dataclass
class _Kept:
    req: PaymentRequest
    hits: list[Any]
    checks: list[ControlCheck]


def _submit_many(drafts: list[tuple[int, PaymentRequest]], year: int, user: Any,
                 out: Filed) -> list[_Kept]:
    """The submission of each draft in order, on the batch's figures: plan, rules, control,
    indicator balance. Returns those to write; the refused are added to `out`."""
    reqs = [r for _n, r in drafts]
    settings_ = {s.fund_source: s for s in FundSourceSetting.objects.filter(
        fund_source__in={r.fund_source for r in reqs})}
    plans = _plans(reqs)
    used = plans_used([p.pk for p in plans.values()])
    figures = _Figures(sorted({r.dims.key(year) for r in reqs}))
    rules = list(ControlRule.objects.filter(active=True))
    data = _BatchData(reqs)
    kept: list[_Kept] = []
    for n, req in drafts:
        on = timezone.localdate(req.filed_at)
        key = req.dims.key(year)
        try:
            setting = settings_.get(req.fund_source)
            plan = None
            if setting is None or setting.plan_control:
                plan = plans.get((on.month, req.dims))
                plan_room_check(year=year, month=on.month, plan=plan, amount=req.amount,
                                used=used.get(plan.pk, Decimal("0.00")) if plan
                                else Decimal("0.00"))
            checks: list[ControlCheck] = []
            hits = rules_run(req, data) + control_hits(
                req, on, req.filed_at, checks=checks,
                decision=figures.decision(rules, req.dims, year, req.amount, on))
            req.plan = plan
            req.submitted_at = req.filed_at
            if any(h.action == Rule.Action.REFUSE for h in hits):
                req.status = S.REFUSED
            else:
                fen = to_fen(req.amount)
                if fen > figures.available(key):  # the ledger's guarded update would refuse
                    raise errors.IndicatorShort(available=fmt(fen_to_decimal(
                        figures.available(key))), requested=fmt(req.amount))
                req.status = S.UNIT_REVIEW
                figures.commit(key, fen)
                if plan is not None:
                    used[plan.pk] = used.get(plan.pk, Decimal("0.00")) + req.amount
                data.seen_add(req)
        except errors.PaymentError as exc:
            out.refused.append((n, exc))
            continue
        kept.append(_Kept(req, hits, checks))
    return kept


def _write(kept: list[_Kept], user: Any, as_of: dt.datetime) -> None:
    """The rows of the kept requests, as one by one writes them: the draft ("filed") and
    its 'file' step, the rule hits and control checks, the commitments, the submitted
    state ("submitted" / "refused by rules") and its 'submit' step."""
    if not kept:
        return
    reqs = [k.req for k in kept]
    final = [(r.status, r.plan, r.submitted_at) for r in reqs]
    for r in reqs:  # first as the draft the form saves
        r.status, r.plan, r.submitted_at = S.DRAFT, None, None
    # validated as drafts in payment_requests_file (full_clean), unchanged since
    bulk_save_with_history(reqs, user=user, reason="filed", unique_checked=True, validated=True)
    _steps([(r, "", S.DRAFT, "") for r in reqs], "file", user)
    hits = RuleHit.objects.bulk_create([
        RuleHit(request=k.req, rule_code=h.rule_code, action=h.action, reason=h.reason,
                created_at=k.req.filed_at) for k in kept for h in k.hits])
    checks = [c for k in kept for c in k.checks]
    for k in kept:
        for c in k.checks:
            c.doc_id = str(k.req.pk)
    bulk_insert(checks)
    for r, (status, plan, submitted_at) in zip(reqs, final, strict=True):
        r.status, r.plan, r.submitted_at = status, plan, submitted_at
    committing = [r for r in reqs if r.status == S.UNIT_REVIEW]
    entries = entries_post(entries=[EntryInput(
        lines=commitment_lines(r.amount, r.dims),
        description=request_commitment_text(r.tracking_id)[0],
        idempotency_key=request_commitment_text(r.tracking_id)[1],
        on=timezone.localdate(r.filed_at), source=r, kind=EntryKind.COMMIT,
        tracking_id=r.tracking_id, posted_at=r.filed_at) for r in committing],
        user=user, as_of=as_of)
    for r, entry in zip(committing, entries, strict=True):
        r.commit_entry = entry
    bulk_save_with_history(reqs, user=user, fields=["status", "plan", "submitted_at",
                                                    "commit_entry"],
                           reason="submitted",
                           reasons=["refused by rules" if r.status == S.REFUSED else "submitted"
                                    for r in reqs])
    _steps([(k.req, S.DRAFT, k.req.status, "; ".join(
        h.reason for h in k.hits if k.req.status != S.REFUSED or h.action == Rule.Action.REFUSE))
        for k in kept], "submit", user)
    by_request: dict[int, list[RuleHit]] = defaultdict(list)
    for h in hits:
        by_request[h.request_id].append(h)
    for r in reqs:
        _hits_known(r, by_request[r.pk])


def _steps(steps: list[tuple[PaymentRequest, str, str, str]], action: str, user: Any) -> None:
    """Workflow steps, each at its request's own filing time, in one INSERT."""
    workflow_record_many([(*step, step[0].filed_at) for step in steps], action=action,
                         user=user)


__all__ = ["BATCH_LIMIT", "Filed", "RequestInput", "payment_requests_file"]
