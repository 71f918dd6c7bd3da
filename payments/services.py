"""Every write of the payments app: one function per use case, keyword-only, under
transaction.atomic, taking the acting user and the time; ledger postings go through
finance.ledger (entry_post / entry_reverse) only."""
from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import cn2an
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from finance import errors as ledger_errors
from finance.ledger import (
    Dims,
    EntryInput,
    cr,
    dr,
    entries_post,
    entry_post,
    entry_reverse,
    reversal_inputs,
)
from finance.models import Organization, WorkflowStep
from finance.services import (
    bulk_save_with_history,
    remember_stored,
    save_with_history,
    workflow_record,
    workflow_record_many,
)
from payments import errors
from payments.importers import detect, parse
from payments.importers.common import ImportIssue, ResultRow, StatementRow
from payments.models import (
    AgentAccount,
    Attachment,
    Bank,
    BankFile,
    BankResult,
    ClearingNotice,
    FundSourceSetting,
    Membership,
    Payee,
    PaymentPlan,
    PaymentRequest,
    ReconException,
    Rule,
    RuleHit,
    StatementLine,
    Voucher,
    VoucherBatch,
    VoucherSeq,
)
from payments.rules import RULES, fmt, plan_used, rules_run

# Roles are Django groups.
FILER, UNIT_HEAD, REVIEWER, DIRECTOR = ("unit_filer", "unit_head", "treasury_reviewer",
                                        "treasury_director")
S = PaymentRequest.Status
LEVELS = {  # status → (role, next status, level name)
    S.UNIT_REVIEW: (UNIT_HEAD, S.TREASURY_REVIEW, "unit head"),
    S.TREASURY_REVIEW: (REVIEWER, S.APPROVED, "treasury reviewer"),
    S.DIRECTOR_REVIEW: (DIRECTOR, S.APPROVED, "treasury director"),
}
CENT = Decimal("0.01")


def director_threshold() -> Decimal:
    """Above this amount the treasury director approves as a third level."""
    return Decimal(str(getattr(settings, "PAYMENTS_DIRECTOR_THRESHOLD", "100000.00")))


def amount_in_capitals(amount: Decimal) -> str:
    """人民币大写, e.g. 壹佰贰拾陆万伍仟柒佰捌拾元伍角; whole amounts end in 整."""
    text = cn2an.an2cn(f"{amount:.2f}", "rmb")
    return text if text.endswith(("整", "角", "分")) else text + "整"


def _in_group(user: Any, role: str) -> bool:
    """Whether the user holds the role. The user's group names are read once and cached
    on the user object (as Django's ModelBackend caches permissions): a web request loads
    its user afresh, so a role change takes effect with the next request."""
    if not user:
        return False
    names = getattr(user, "_payments_groups", None)
    if names is None:
        names = frozenset(user.groups.values_list("name", flat=True))
        user._payments_groups = names
    return role in names


def _unit_of(user: Any) -> str:
    """The code of the user's organization ("" without a membership), cached on the user
    object like `_in_group`; `membership_set` refreshes it for the member it changes."""
    code = getattr(user, "_payments_unit", None)
    if code is None:
        m = Membership.objects.filter(user=user).select_related("organization").first()
        code = m.organization.code if m else ""
        user._payments_unit = code
    return code


def users_prefetch(users: list[Any]) -> None:
    """Fill the role and unit caches of `_in_group` and `_unit_of` for many users in two
    queries (a batch job that acts for thousands of users, e.g. citysim)."""
    users = [u for u in users if u and u.pk is not None]
    if not users:
        return
    ids = [u.pk for u in users]
    groups: dict[int, set[str]] = defaultdict(set)
    for uid, name in get_user_model().groups.through.objects.filter(
            user_id__in=ids).values_list("user_id", "group__name"):
        groups[uid].add(name)
    units = dict(Membership.objects.filter(user_id__in=ids)
                 .values_list("user_id", "organization__code"))
    for u in users:
        u._payments_groups = frozenset(groups.get(u.pk, ()))
        u._payments_unit = units.get(u.pk, "")


# ------------------------------------------------------------------ master data
def bank_upsert(*, cnaps: str, name: str, user: Any, reason: str = "bank list",
                as_of: dt.datetime | None = None) -> Bank:
    bank = Bank.objects.filter(cnaps=cnaps).first() or Bank(cnaps=cnaps)
    if bank.pk and bank.name == name and bank.active:
        return bank
    bank.name, bank.active = name, True
    save_with_history(bank, user=user, reason=reason)
    return bank


def payee_save(*, payee: Payee | None = None, name: str, account_number: str, bank_name: str,
               branch_name: str = "", cnaps: str = "", is_individual: bool = False,
               user: Any, reason: str, as_of: dt.datetime | None = None) -> Payee:
    """Create a payee or change its bank account; every change is kept in history."""
    with transaction.atomic():
        if payee is not None:
            payee = Payee.objects.select_for_update().get(pk=payee.pk)
        payee = payee or Payee()
        new = {"name": name, "account_number": account_number, "bank_name": bank_name,
               "branch_name": branch_name, "cnaps": cnaps, "is_individual": is_individual}
        if payee.pk and all(getattr(payee, k) == v for k, v in new.items()):
            return payee
        for k, v in new.items():
            setattr(payee, k, v)
        save_with_history(payee, user=user, reason=reason)
        return payee


def payee_block(*, payee: Payee, blocked: bool, reason: str, user: Any,
                as_of: dt.datetime | None = None) -> Payee:
    if not reason:
        raise errors.ReasonRequired()
    with transaction.atomic():
        payee = Payee.objects.select_for_update().get(pk=payee.pk)
        payee.blocked, payee.blocked_reason = blocked, reason if blocked else ""
        save_with_history(payee, user=user, reason=reason)
        return payee


def membership_set(*, member: Any, organization: Organization, user: Any,
                   reason: str = "membership") -> Membership:
    m = Membership.objects.filter(user=member).first() or Membership(user=member)
    m.organization = organization
    save_with_history(m, user=user, reason=reason)
    member._payments_unit = organization.code
    return m


def agent_account_upsert(*, number: str, name: str, bank: Bank, user: Any,
                         reason: str = "agent account") -> AgentAccount:
    acct = AgentAccount.objects.filter(number=number).first() or AgentAccount(number=number)
    if acct.pk and acct.name == name and acct.bank_id == bank.pk:
        return acct
    acct.name, acct.bank = name, bank
    save_with_history(acct, user=user, reason=reason)
    return acct


def fund_source_plan_control_set(*, fund_source: str, enabled: bool, user: Any,
                                 reason: str) -> FundSourceSetting:
    s = (FundSourceSetting.objects.filter(fund_source=fund_source).first()
         or FundSourceSetting(fund_source=fund_source))
    s.plan_control = enabled
    save_with_history(s, user=user, reason=reason)
    return s


def rule_update(*, code: str, user: Any, reason: str, enabled: bool | None = None,
                action: str | None = None, params: dict[str, Any] | None = None) -> Rule:
    """Switch a rule or change its thresholds (Decimals as strings); kept in history."""
    if not reason:
        raise errors.ReasonRequired()
    default = RULES[code]
    with transaction.atomic():
        rule = (Rule.objects.select_for_update().filter(code=code).first()
                or Rule(code=code, name=default.name, action=default.action,
                        params=dict(default.params)))
        if enabled is not None:
            rule.enabled = enabled
        if action is not None:
            rule.action = action
        if params is not None:
            rule.params = {**rule.params, **params}
        save_with_history(rule, user=user, reason=reason)
        return rule


# ------------------------------------------------------------------ plans
def plan_apply(*, dims: Dims, year: int, month: int, amount: Decimal, user: Any,
               as_of: dt.datetime | None = None) -> PaymentPlan:
    """用款计划 申请: a unit applies for a month's amount on one indicator."""
    return plans_apply(lines=[PlanApplyLine(dims=dims, month=month, amount=amount)], year=year,
                       user=user, as_of=as_of)[0]


def plan_approve(*, plan: PaymentPlan, amount: Decimal | None = None, user: Any,
                 comment: str = "", as_of: dt.datetime | None = None) -> PaymentPlan:
    with transaction.atomic():
        plan = PaymentPlan.objects.select_for_update().get(pk=plan.pk)
        old = plan.status
        plan.approved = plan.applied if amount is None else amount
        plan.status = PaymentPlan.Status.APPROVED
        save_with_history(plan, user=user, reason=comment or "plan approved")
        workflow_record(document=plan, from_state=old, to_state=plan.status, action="approve",
                        user=user, comment=comment, as_of=as_of)
        return plan


@dataclass(frozen=True)
class PlanApplyLine:
    """One line of a payment-plan application (用款计划): a month's amount on one
    indicator (not a budget plan's line, budgets.models.PlanLine)."""

    dims: Dims
    month: int
    amount: Decimal


def _plan_key(year: int, month: int, d: Dims) -> tuple:
    return (year, month, d.region, d.unit, d.function, d.economic, d.fund_source, d.project)


def plans_apply(*, lines: list[PlanApplyLine], year: int, user: Any,
                as_of: dt.datetime | None = None) -> list[PaymentPlan]:
    """用款计划 按季分月: a unit applies for several months and indicators in one call
    (e.g. a quarter, month by month). Each line is applied exactly as `plan_apply` applies
    it (a line applied before is applied again, back to `applied`); the plans are read and
    locked in one statement, the new ones written with their history in one INSERT each,
    the workflow steps in one. A month and indicator twice in one call is refused."""
    if len({_plan_key(year, ln.month, ln.dims) for ln in lines}) != len(lines):
        raise ValueError("plans_apply: a month and indicator appears twice")
    if not lines:
        return []
    with transaction.atomic():
        match = Q()
        for ln in lines:
            match |= Q(month=ln.month, **_dim_kwargs(ln.dims))
        found = {_plan_key(p.year, p.month, p.dims): p
                 for p in PaymentPlan.objects.select_for_update().filter(match, year=year)}
        plans, steps, new, again = [], [], [], []
        for ln in lines:
            plan = found.get(_plan_key(year, ln.month, ln.dims))
            if plan is None:
                plan = PaymentPlan(year=year, month=ln.month, **_dim_kwargs(ln.dims))
                new.append(plan)
            else:
                again.append(plan)
            steps.append((plan, plan.status if plan.pk else ""))
            plan.applied = ln.amount
            plan.status = PaymentPlan.Status.APPLIED
            plans.append(plan)
        # every row the new plans could clash with was read (and locked) above
        bulk_save_with_history(new, user=user, reason="plan applied", unique_checked=True)
        bulk_save_with_history(again, user=user, reason="plan applied",
                               fields=["applied", "status"])
        workflow_record_many([(p, old, p.status) for p, old in steps], action="apply",
                             user=user, as_of=as_of)
        return plans


def plans_approve(*, plans: list[PaymentPlan], user: Any, comment: str = "",
                  as_of: dt.datetime | None = None) -> list[PaymentPlan]:
    """The treasury approves many plans at their applied amounts in one locked pass
    (`plan_approve` without an amount, for each): the rows are locked in one statement in
    id order, written with their history and workflow steps in one statement each."""
    if not plans:
        return []
    with transaction.atomic():
        locked = list(PaymentPlan.objects.select_for_update()
                      .filter(pk__in=[p.pk for p in plans]).order_by("id"))
        steps = []
        for plan in locked:
            steps.append((plan, plan.status))
            plan.approved = plan.applied
            plan.status = PaymentPlan.Status.APPROVED
        bulk_save_with_history(locked, user=user, reason=comment or "plan approved",
                               fields=["approved", "status"])
        workflow_record_many([(p, old, p.status) for p, old in steps], action="approve",
                             user=user, comment=comment, as_of=as_of)
        return locked


def _dim_kwargs(d: Dims) -> dict[str, str]:
    return {"region": d.region, "unit": d.unit, "function": d.function, "economic": d.economic,
            "fund_source": d.fund_source, "project": d.project}


# ------------------------------------------------------------------ requests
def payment_request_create(*, dims: Dims, year: int, amount: Decimal, payee: Payee,
                           purpose: str, user: Any, contract_ref: str = "",
                           procurement_ref: str = "",
                           attachments: list[tuple[str, bytes]] | None = None,
                           as_of: dt.datetime | None = None,
                           submit: bool = False) -> PaymentRequest:
    """A budget unit's filer drafts a request against an indicator (its dimension tuple).
    `submit`: save and submit at once (保存并送审): the draft is submitted in the same
    transaction exactly as `payment_request_submit` does it, without reading back and
    locking the row just written; a short indicator or plan raises and nothing is saved."""
    as_of = as_of or timezone.now()
    if not _in_group(user, FILER):
        raise errors.NotAllowed(user=user, action="file", why=errors.MSG_MISSING_ROLE % {
            "role": FILER})
    if _unit_of(user) != dims.unit:
        raise errors.NotAllowed(user=user, action="file", why=errors.MSG_OTHER_UNIT)
    with transaction.atomic():
        req = PaymentRequest(
            tracking_id=f"TR{year}{uuid.uuid4().hex[:16].upper()}", year=year,
            amount=Decimal(amount).quantize(CENT), payee=payee, purpose=purpose,
            contract_ref=contract_ref, procurement_ref=procurement_ref, filed_by=user,
            filed_at=as_of, **_dim_kwargs(dims))
        save_with_history(req, user=user, reason="filed")
        for name, content in attachments or []:
            att = Attachment(request=req, name=name)
            att.file.save(name, ContentFile(content), save=True)
        workflow_record(document=req, from_state="", to_state=req.status, action="file",
                        user=user, as_of=as_of)
        if submit:
            remember_stored(req)
            req.payee = Payee.objects.get(pk=req.payee_id)  # the rules read it as stored now
            return _submit(req, user, as_of, fresh=True)
        return req


# A request's foreign keys, read with it so that full_clean finds them loaded and skips
# one existence query each (finance.services._loaded_relations); only the request row is
# locked.
_REQUEST_RELATED = ("payee", "plan", "filed_by", "commit_entry", "pay_entry")


def _requests_locked() -> Any:
    return PaymentRequest.objects.select_for_update(of=("self",)).select_related(*_REQUEST_RELATED)


def _lock(req: PaymentRequest) -> PaymentRequest:
    return _requests_locked().get(pk=req.pk)


def payment_request_submit(*, request: PaymentRequest, user: Any,
                           as_of: dt.datetime | None = None) -> PaymentRequest:
    """Check the month's plan, run the rule library, then commit the amount in the
    control book at once (Dr 9201 / Cr 9101). A refusing rule hit leaves the request
    `refused` with its reasons and nothing committed; a short indicator or plan raises."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        req = _lock(request)
        if req.status not in (S.DRAFT, S.REFUSED):
            raise errors.WrongState(tracking_id=req.tracking_id, status=req.status,
                                    action="submitted")
        if user.pk != req.filed_by_id:
            raise errors.NotAllowed(user=user, action="submit", why=errors.MSG_NOT_FILER)
        return _submit(req, user, as_of)


def _submit(req: PaymentRequest, user: Any, as_of: dt.datetime, *,
            fresh: bool = False) -> PaymentRequest:
    """The submission proper, inside the caller's transaction, on a request the caller
    has locked (or, `fresh`, has just written: it has no rule hits to clear yet): plan
    check, rules, commitment, state."""
    on = timezone.localdate(as_of)
    plan = _plan_check(req, on)
    if not fresh:
        RuleHit.objects.filter(request=req).delete()
    hits = rules_run(req)
    RuleHit.objects.bulk_create([RuleHit(request=req, rule_code=h.rule_code, action=h.action,
                                         reason=h.reason, created_at=as_of) for h in hits])
    old = req.status
    req.plan = plan
    req.submitted_at = as_of
    if any(h.action == Rule.Action.REFUSE for h in hits):
        req.status = S.REFUSED
        save_with_history(req, user=user, reason="refused by rules")
        workflow_record(document=req, from_state=old, to_state=req.status, action="submit",
                        user=user, as_of=as_of,
                        comment="; ".join(h.reason for h in hits if h.action == "refuse"))
        return req
    try:
        req.commit_entry = entry_post(
            lines=[dr("indicator", "9201", req.amount, req.dims),
                   cr("indicator", "9101", req.amount, req.dims)],
            description=f"支付申请 commit {req.tracking_id}", user=user, on=on, as_of=as_of,
            source=req, kind="commit", tracking_id=req.tracking_id,
            idempotency_key=f"{req.tracking_id}:commit")
    except ledger_errors.IndicatorInsufficient as exc:
        raise errors.IndicatorShort(available=fmt(exc.available),
                                    requested=fmt(req.amount)) from None
    req.status = S.UNIT_REVIEW
    save_with_history(req, user=user, reason="submitted")
    workflow_record(document=req, from_state=old, to_state=req.status, action="submit",
                    user=user, as_of=as_of,
                    comment="; ".join(h.reason for h in hits))
    return req


def _plan_check(req: PaymentRequest, on: dt.date) -> PaymentPlan | None:
    setting = FundSourceSetting.objects.filter(fund_source=req.fund_source).first()
    if setting is not None and not setting.plan_control:
        return None
    plan = PaymentPlan.objects.select_for_update().filter(
        year=req.year, month=on.month, status=PaymentPlan.Status.APPROVED,
        **_dim_kwargs(req.dims)).first()
    approved = plan.approved if plan else Decimal("0.00")
    used = plan_used(plan.pk) if plan else Decimal("0.00")
    if used + req.amount > approved:
        raise errors.PlanExceeded(year=req.year, month=on.month, approved=fmt(approved),
                                  remaining=fmt(max(approved - used, Decimal("0.00"))),
                                  requested=fmt(req.amount))
    return plan


def _acted_on(user: Any, reqs: list[PaymentRequest]) -> set[str]:
    """The ids (as workflow doc ids) of those requests the user has approved at a level."""
    return set(WorkflowStep.objects.filter(
        doc_type=ContentType.objects.get_for_model(PaymentRequest),
        doc_id__in=[str(r.pk) for r in reqs], action="approve", actor=user,
    ).values_list("doc_id", flat=True))


def _check_approver(req: PaymentRequest, user: Any, action: str,
                    acted: bool | None = None) -> tuple[str, str, str]:
    """Raise unless `user` may decide `req` at its current level; `acted` (whether the
    user already approved a level of it) is looked up unless the caller passes it."""
    if req.status not in LEVELS:
        raise errors.WrongState(tracking_id=req.tracking_id, status=req.status, action=action)
    role, nxt, level = LEVELS[req.status]
    if user.pk == req.filed_by_id:
        raise errors.NotAllowed(user=user, action=action, why=errors.MSG_FILER_CANNOT_APPROVE)
    if not _in_group(user, role):
        raise errors.NotAllowed(user=user, action=action,
                                why=errors.MSG_MISSING_ROLE % {"role": role})
    if role == UNIT_HEAD and _unit_of(user) != req.unit:
        raise errors.NotAllowed(user=user, action=action, why=errors.MSG_OTHER_UNIT)
    if acted is None:
        acted = bool(_acted_on(user, [req]))
    if acted:
        raise errors.NotAllowed(user=user, action=action, why=errors.MSG_ONE_LEVEL_ONLY)
    return role, nxt, level


def payment_request_approve(*, request: PaymentRequest, user: Any, comment: str = "",
                            as_of: dt.datetime | None = None) -> PaymentRequest:
    """One level of the chain: unit head → treasury reviewer → director above the
    threshold. The filer never approves; one person approves at most one level."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        req = _lock(request)
        _role, nxt, level = _check_approver(req, user, "approve")
        if req.status == S.TREASURY_REVIEW and req.amount > director_threshold():
            nxt = S.DIRECTOR_REVIEW
        old, req.status = req.status, nxt
        save_with_history(req, user=user, reason=f"approved by {level}")
        workflow_record(document=req, from_state=old, to_state=nxt, action="approve", user=user,
                        comment=comment, as_of=as_of)
        return req


@dataclass
class Decided:
    """The outcome of a batch decision: the requests approved, and those refused with
    the reason (wrong state, not the user's role or unit, a level already approved)."""
    approved: list[PaymentRequest] = field(default_factory=list)
    refused: list[tuple[PaymentRequest, errors.PaymentError]] = field(default_factory=list)


def payment_requests_approve(*, requests: list[PaymentRequest], user: Any, comment: str = "",
                             as_of: dt.datetime | None = None) -> Decided:
    """Approve many requests, each at its current level, in one locked pass: the rows are
    locked in one statement (in id order, so two batches never deadlock), every request
    gets exactly the checks of `payment_request_approve` (a refused one is reported and
    the others go on), and the approved ones are written with their history and workflow
    steps in one statement each. The treasury's "approve selected" uses it."""
    as_of = as_of or timezone.now()
    out = Decided()
    with transaction.atomic():
        locked = list(_requests_locked().filter(pk__in=[r.pk for r in requests]).order_by("id"))
        acted = _acted_on(user, locked)
        by_level: dict[str, list[tuple[PaymentRequest, str]]] = defaultdict(list)
        threshold = director_threshold()
        for req in locked:
            try:
                _role, nxt, level = _check_approver(req, user, "approve",
                                                    acted=str(req.pk) in acted)
            except errors.PaymentError as exc:
                out.refused.append((req, exc))
                continue
            if req.status == S.TREASURY_REVIEW and req.amount > threshold:
                nxt = S.DIRECTOR_REVIEW
            old, req.status = req.status, nxt
            by_level[level].append((req, old))
        for level, pairs in by_level.items():
            reqs = [r for r, _old in pairs]
            bulk_save_with_history(reqs, user=user, reason=f"approved by {level}",
                                   fields=["status"])
            workflow_record_many([(r, old, r.status) for r, old in pairs], action="approve",
                                 user=user, comment=comment, as_of=as_of)
            out.approved += reqs
    return out


def payment_request_reject(*, request: PaymentRequest, user: Any, comment: str,
                           as_of: dt.datetime | None = None) -> PaymentRequest:
    """Rejection at any level releases the commitment (reversal of the commit entry)."""
    as_of = as_of or timezone.now()
    if not comment.strip():
        raise errors.ReasonRequired()
    with transaction.atomic():
        req = _lock(request)
        _check_approver(req, user, "reject")
        _release(req, user, as_of, f"rejected: {comment}")
        old, req.status = req.status, S.REJECTED
        save_with_history(req, user=user, reason=comment)
        workflow_record(document=req, from_state=old, to_state=req.status, action="reject",
                        user=user, comment=comment, as_of=as_of)
        return req


def _release(req: PaymentRequest, user: Any, as_of: dt.datetime, reason: str) -> None:
    assert req.commit_entry is not None  # noqa: S101 - every reviewed request is committed
    entry_reverse(entry=req.commit_entry, user=user, reason=reason, as_of=as_of,
                  on=timezone.localdate(as_of), idempotency_key=f"{req.tracking_id}:release")


# ------------------------------------------------------------------ vouchers
def voucher_batch_create(*, agent_account: AgentAccount, user: Any,
                         requests: list[PaymentRequest] | None = None,
                         as_of: dt.datetime | None = None) -> VoucherBatch:
    """Put approved requests on payment vouchers (支付凭证) for one agent bank, numbered
    ZF + YYYYMM + 4 digits, then refresh the day's clearing-limit notice."""
    as_of = as_of or timezone.now()
    on = timezone.localdate(as_of)
    with transaction.atomic():
        qs = _requests_locked().filter(status=S.APPROVED).order_by("id")
        if requests is not None:
            qs = qs.filter(pk__in=[r.pk for r in requests])
        todo = list(qs)
        if not todo:
            raise errors.NothingToVoucher()
        seq, _ = VoucherSeq.objects.get_or_create(year=on.year, month=on.month)
        seq = VoucherSeq.objects.select_for_update().get(pk=seq.pk)
        batch = VoucherBatch.objects.create(agent_account=agent_account, date=on,
                                            created_by=user, created_at=as_of)
        vouchers = []
        for req in todo:
            seq.last += 1
            vouchers.append(Voucher(number=f"ZF{on.year}{on.month:02d}{seq.last:04d}",
                                    batch=batch, request=req, amount=req.amount,
                                    amount_capital=amount_in_capitals(req.amount), date=on))
            req.status = S.VOUCHERED
        # one INSERT for the vouchers, one UPDATE for the requests, their history rows and
        # workflow steps in one INSERT each (every row validated first)
        bulk_save_with_history(vouchers, user=user, reason="voucher issued")
        bulk_save_with_history(todo, user=user, reason="vouchered", fields=["status"])
        workflow_record_many([(v.request, S.APPROVED, S.VOUCHERED, v.number) for v in vouchers],
                             action="voucher", user=user, as_of=as_of)
        seq.save(update_fields=["last"])
        _notice_refresh(agent_account, on, user)
        return batch


def _notice_refresh(agent_account: AgentAccount, on: dt.date, user: Any) -> ClearingNotice:
    """清算额度通知单: the day's total of vouchers for the agent bank."""
    agg = Voucher.objects.filter(batch__agent_account=agent_account, date=on).aggregate(
        s=Sum("amount"))
    total = Decimal(agg["s"] or 0).quantize(CENT)  # SQLite sums decimals in floating point
    count = Voucher.objects.filter(batch__agent_account=agent_account, date=on).count()
    notice = (ClearingNotice.objects.select_for_update()
              .filter(agent_account=agent_account, date=on).first()
              or ClearingNotice(agent_account=agent_account, date=on))
    notice.total, notice.count = total, count
    notice.amount_capital = amount_in_capitals(total)
    save_with_history(notice, user=user, reason="vouchers issued")
    return notice


# ------------------------------------------------------------------ bank files
@dataclass
class ImportReport:
    filename: str
    format: str = ""
    stored: int = 0
    skipped: int = 0
    issues: list[ImportIssue] = field(default_factory=list)
    matched: int = 0
    exceptions: int = 0
    file_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"filename": self.filename, "format": self.format, "stored": self.stored,
                "skipped": self.skipped, "matched": self.matched,
                "exceptions": self.exceptions, "file_id": self.file_id,
                "issues": [i.as_dict() for i in self.issues]}


def bank_file_import(*, content: bytes, filename: str, user: Any,
                     as_of: dt.datetime | None = None,
                     progress: Any = None, resume_file_id: int | None = None,
                     on_file: Any = None) -> ImportReport:
    """Detect the format, parse every line, then store: results post payments or
    release commitments (each line on its own, all or nothing); statement lines are
    stored once per (account, bank reference), committed in chunks, and reconciled. A bad
    line is reported with file, line and reason; an unreadable file leaves nothing behind.

    Resumable (issue 9): `on_file(pk)` is called, inside the transaction of the first
    stored line, with the id of the BankFile row; an attempt killed half-way is finished
    by calling again with `resume_file_id=pk` — lines the earlier attempt committed count
    as stored by this file (not skipped), the rest are stored, and the report covers the
    whole file."""
    as_of = as_of or timezone.now()
    report = ImportReport(filename=filename)
    fmt_ = detect(content)
    if fmt_ is None:
        report.issues.append(ImportIssue(filename, 0, "format", str(errors.MSG_UNKNOWN_FORMAT % {
            "file": filename})))
        return report
    report.format = fmt_
    rows = parse(content, filename, fmt_)
    report.issues += rows.issues
    if rows.fatal:
        return report
    digest = hashlib.sha256(content).hexdigest()
    bank_file = (BankFile.objects.filter(pk=resume_file_id, sha256=digest).first()
                 if resume_file_id else None)
    if bank_file is None:
        bank_file = BankFile(filename=filename, sha256=digest, format=fmt_, imported_at=as_of,
                             imported_by=user if getattr(user, "pk", None) else None)
    bank_file.on_file = on_file  # type: ignore[attr-defined]
    if rows.results:
        _store_results(rows.results, bank_file, report, user, as_of, progress)
    if rows.statement:
        _store_statement(rows.statement, bank_file, report, user, as_of, progress)
    if bank_file.pk:
        BankFile.objects.filter(pk=bank_file.pk).update(
            stored=report.stored, skipped=report.skipped,
            issues=[i.as_dict() for i in report.issues])
        report.file_id = bank_file.pk
    return report


def _ensure_saved(bank_file: BankFile) -> None:
    if bank_file.pk is None:
        bank_file.save()
        if getattr(bank_file, "on_file", None):
            bank_file.on_file(bank_file.pk)


def _store_results(results: list[ResultRow], bank_file: BankFile, report: ImportReport,
                   user: Any, as_of: dt.datetime, progress: Any) -> None:
    """Result lines in chunks (settings.PAYMENTS_RESULT_CHUNK), each chunk applied by
    `bank_results_apply` in one transaction; a chunk the batch cannot take (a voucher
    twice, a posting refused) is applied line by line, each line on its own, so a bad
    line is reported and the others are stored either way."""
    seen = dict(BankResult.objects.filter(bank_ref__in=[r.bank_ref for r in results])
                .values_list("bank_ref", "file_id"))
    todo: list[ResultRow] = []
    in_file: set[str] = set()
    for row in results:
        if row.bank_ref in in_file:  # the bank's reference names one result only
            report.issues.append(ImportIssue(bank_file.filename, row.line, "bank_ref",
                                             f"{row.bank_ref} appears twice in the file"))
            continue
        in_file.add(row.bank_ref)
        if row.bank_ref in seen:
            if bank_file.pk and seen[row.bank_ref] == bank_file.pk:
                report.stored += 1  # stored by an earlier attempt of this import
            else:
                report.skipped += 1
        else:
            todo.append(row)
    done = len(results) - len(todo)  # progress counts skipped and repeated lines too
    chunk = settings.PAYMENTS_RESULT_CHUNK
    for i in range(0, len(todo), chunk):
        part = todo[i:i + chunk]
        try:
            with transaction.atomic():
                refused = bank_results_apply(rows=part, bank_file=bank_file, user=user,
                                             as_of=as_of)
        except (errors.PaymentError, ledger_errors.LedgerError, IntegrityError, NotBatchable):
            _forget_if_rolled_back(bank_file)
            for row in part:
                _store_result(row, bank_file, report, user, as_of)
        else:
            report.stored += len(part) - len(refused)
            report.issues += [ImportIssue(bank_file.filename, row.line, "voucher_number",
                                          str(exc)) for row, exc in refused]
        done += len(part)
        if progress:
            progress(done)


def _forget_if_rolled_back(bank_file: BankFile) -> None:
    if bank_file.pk and not BankFile.objects.filter(pk=bank_file.pk).exists():
        bank_file.pk = None  # its row was rolled back with the failed line or chunk


def _store_result(row: ResultRow, bank_file: BankFile, report: ImportReport, user: Any,
                  as_of: dt.datetime) -> None:
    try:
        with transaction.atomic():
            _ensure_saved(bank_file)
            bank_result_apply(row=row, bank_file=bank_file, user=user, as_of=as_of)
        report.stored += 1
    except (errors.PaymentError, ledger_errors.LedgerError) as exc:
        _forget_if_rolled_back(bank_file)
        report.issues.append(ImportIssue(bank_file.filename, row.line, "voucher_number",
                                         str(exc)))


class NotBatchable(Exception):  # noqa: N818 - control flow: apply the lines one by one
    """A chunk of result lines that `bank_results_apply` does not take as one batch."""


def bank_results_apply(*, rows: list[ResultRow], bank_file: BankFile, user: Any,
                       as_of: dt.datetime) -> list[tuple[ResultRow, errors.PaymentError]]:
    """`bank_result_apply` for many lines of one file in one transaction, with the same
    checks and the same rows written: the vouchers and then their requests are locked
    in one statement each (id order); a line naming an unknown voucher, another amount
    or a voucher in the wrong state is refused (returned with its error, nothing of it
    written); the payments and releases (退票) of the other lines are posted together by
    `finance.ledger.entries_post` in line order; vouchers, requests, their history,
    workflow steps and the result rows are written in one statement each. Raises
    NotBatchable when a voucher appears twice (its second line depends on the first's
    posting); a refused posting raises the ledger's error and nothing is written."""
    numbers = [r.voucher_number for r in rows]
    if len(set(numbers)) != len(numbers):
        raise NotBatchable()
    with transaction.atomic():
        vouchers = {v.number: v for v in Voucher.objects.select_for_update(of=("self",))
                    .select_related("batch").filter(number__in=numbers).order_by("id")}
        reqs = {r.pk: r for r in _requests_locked().filter(
            pk__in=[v.request_id for v in vouchers.values()]).order_by("id")}
        refused: list[tuple[ResultRow, errors.PaymentError]] = []
        applied: list[tuple[ResultRow, Voucher, PaymentRequest, str, int]] = []
        postings: list[EntryInput | tuple] = []  # a payment, or a reversal to build
        for row in rows:
            voucher = vouchers.get(row.voucher_number)
            if voucher is None:
                refused.append((row, errors.UnknownVoucher(number=row.voucher_number)))
                continue
            if voucher.amount != row.amount:
                refused.append((row, errors.ResultAmountDiffers(
                    amount=fmt(row.amount), number=voucher.number, expected=fmt(voucher.amount))))
                continue
            req = reqs[voucher.request_id]
            on = timezone.localdate(row.traded_at)
            if row.success and voucher.status == Voucher.Status.ISSUED:
                d, a = req.dims, req.amount
                postings.append(EntryInput(
                    lines=[dr("indicator", "9301", a, d), cr("indicator", "9201", a, d),
                           dr("budget", "7101", a, d), cr("budget", "6001", a, d),
                           dr("financial", "5001", a, d), cr("financial", "4001", a, d)],
                    description=f"国库集中支付 {voucher.number}", on=on, source=voucher,
                    kind="payment", tracking_id=req.tracking_id,
                    idempotency_key=f"{req.tracking_id}:pay"))
                voucher.status, voucher.paid_on = Voucher.Status.PAID, on
                voucher.bank_ref = row.bank_ref
                applied.append((row, voucher, req, S.PAID, 1))
            elif not row.success and voucher.status in (Voucher.Status.ISSUED,
                                                        Voucher.Status.PAID):
                unpay = voucher.status == Voucher.Status.PAID and req.pay_entry is not None
                if unpay:
                    postings.append((req.pay_entry, f"退票 {row.reason}",
                                     f"{req.tracking_id}:unpay", on))
                assert req.commit_entry is not None  # noqa: S101 - every vouchered request is committed
                postings.append((req.commit_entry, f"退票 {row.reason}",
                                 f"{req.tracking_id}:release", on))
                voucher.status, voucher.failure_reason = Voucher.Status.RETURNED, row.reason
                voucher.bank_ref = row.bank_ref
                req.return_reason = row.reason
                applied.append((row, voucher, req, S.RETURNED, 1 + unpay))
            else:
                refused.append((row, errors.WrongState(
                    tracking_id=req.tracking_id, status=voucher.status,
                    action="paid" if row.success else "returned")))
        if not applied:
            return refused
        _ensure_saved(bank_file)
        reversals = iter(reversal_inputs([p for p in postings if isinstance(p, tuple)]))
        inputs = [p if isinstance(p, EntryInput) else next(reversals) for p in postings]
        bulk_save_with_history([v for _r, v, *_x in applied], user=user,
                               reason="bank result",
                               reasons=[f"bank result {r.bank_ref}" for r, *_x in applied],
                               fields=["status", "paid_on", "bank_ref", "failure_reason"])
        workflow_record_many([(q, q.status, new, r.bank_ref if new == S.PAID else r.reason)
                              for r, _v, q, new, _n in applied],
                             action="bank_result", user=user, as_of=as_of)
        BankResult.objects.bulk_create([
            BankResult(bank_ref=r.bank_ref, voucher=v, success=r.success, amount=r.amount,
                       traded_at=r.traded_at, reason=r.reason, file=bank_file)
            for r, v, *_x in applied])
        # last: the postings hold the year's numbering row until the commit
        posted = entries_post(entries=inputs, user=user, as_of=as_of)
        at = 0
        for _r, _v, q, new, n in applied:
            if new == S.PAID:
                q.pay_entry = posted[at]
            at += n  # a 退票 posts the release, after the payment's reversal if it was paid
            q.status = new
        bulk_save_with_history([q for _r, _v, q, *_x in applied], user=user,
                               reason="bank result",
                               reasons=[f"bank result {r.bank_ref}" for r, *_x in applied],
                               fields=["status", "pay_entry", "return_reason"])
        return refused


def bank_result_apply(*, row: ResultRow, bank_file: BankFile, user: Any,
                      as_of: dt.datetime) -> BankResult:
    """回单: success posts the payment (control, budget and financial books); failure
    (退票) releases the commitment — or, after a success, reverses payment and commitment —
    and returns the request to its filer with the bank's reason. One line: the batch of
    one (`bank_results_apply`), whose refusal is raised."""
    refused = bank_results_apply(rows=[row], bank_file=bank_file, user=user, as_of=as_of)
    if refused:
        raise refused[0][1]
    return BankResult.objects.get(bank_ref=row.bank_ref)


def _store_statement(rows: list[StatementRow], bank_file: BankFile, report: ImportReport,
                     user: Any, as_of: dt.datetime, progress: Any) -> None:
    """Lines are stored once: (account, bank_ref) already present is skipped, the same
    reference twice in one file is an issue. Then the touched days are reconciled."""
    by_key: dict[tuple[str, str], StatementRow] = {}
    for row in rows:
        key = (row.account, row.bank_ref)
        if key in by_key:
            report.issues.append(ImportIssue(bank_file.filename, row.line, "bank_ref",
                                             f"{row.bank_ref} appears twice in the file"))
            continue
        by_key[key] = row
    existing: dict[tuple[str, str], int] = {}
    for account in {k[0] for k in by_key}:
        refs = [k[1] for k in by_key if k[0] == account]
        for i in range(0, len(refs), 5000):
            existing.update({(account, r): f for r, f in StatementLine.objects.filter(
                account=account, bank_ref__in=refs[i:i + 5000]).values_list("bank_ref",
                                                                             "file_id")})
    new = [r for k, r in by_key.items() if k not in existing]
    # lines an earlier, killed attempt of this same import committed: stored, not skipped
    resumed = [r for k, r in by_key.items()
               if bank_file.pk and existing.get(k) == bank_file.pk]
    report.skipped += len(by_key) - len(new) - len(resumed)
    report.stored += len(resumed)
    if not new and not resumed:
        return
    # each chunk is committed on its own, so a killed worker loses at most one chunk and
    # progress is visible while the import runs; the rerun stores only what is missing
    chunk = settings.PAYMENTS_STATEMENT_CHUNK
    for i in range(0, len(new), chunk):
        with transaction.atomic():
            _ensure_saved(bank_file)
            _insert_lines(new[i:i + chunk], bank_file, None)
        report.stored += len(new[i:i + chunk])
        if progress:
            progress(len(resumed) + min(i + chunk, len(new)))
    with transaction.atomic():
        days: dict[str, set[dt.date]] = defaultdict(set)
        for r in [*resumed, *new]:
            days[r.account].add(r.booking_date)
        for account, dates in days.items():
            m, e = statement_reconcile(account=account, dates=sorted(dates), user=user,
                                       as_of=as_of)
            report.matched += m
            report.exceptions += e



_LINE_COLUMNS = ("account", "bank_ref", "booking_date", "amount", "credit", "end_to_end_id",
                 "payee_account", "payee_name", "info", "file_id", "line_no", "matched_by",
                 "tracking_id")


def _insert_lines(rows: list[StatementRow], bank_file: BankFile, progress: Any) -> None:
    """Store new statement lines: COPY on PostgreSQL (a 100,000-line statement is one
    stream), bulk_create elsewhere. The unique (account, bank_ref) constraint still
    guards against a concurrent import of the same lines."""
    values = [(r.account, r.bank_ref, r.booking_date, r.amount, r.credit, r.end_to_end_id,
               r.payee_account, r.payee_name[:200], r.info, bank_file.pk, r.line, "", "")
              for r in rows]
    step = 5000
    if connection.vendor == "postgresql":
        table = StatementLine._meta.db_table
        sql = f"COPY {table} ({', '.join(_LINE_COLUMNS)}) FROM STDIN"
        with connection.cursor() as cur, cur.cursor.copy(sql) as cp:
            for n, row in enumerate(values, start=1):
                cp.write_row(row)
                if progress and n % step == 0:
                    progress(n)
        if progress:
            progress(len(values))
        return
    for i in range(0, len(values), step):
        StatementLine.objects.bulk_create(
            [StatementLine(**dict(zip(_LINE_COLUMNS, v, strict=True))) for v in values[i:i + step]])
        if progress:
            progress(min(i + step, len(values)))


# ------------------------------------------------------------------ reconciliation
def statement_reconcile(*, account: str, dates: list[dt.date], user: Any,
                        as_of: dt.datetime | None = None) -> tuple[int, int]:
    """对账 for an account's days: debit lines to paid vouchers by EndToEndId (= voucher
    number), then by amount + date + payee account; the clearing credit against the
    day's paid vouchers and the clearing-limit notice; the rest becomes exceptions.
    Returns (lines matched, exceptions opened). Safe to run again."""
    as_of = as_of or timezone.now()
    matched = 0
    new_exc: list[ReconException] = []
    with transaction.atomic():
        lines = list(StatementLine.objects.select_for_update()
                     .filter(account=account, booking_date__in=dates, matched_by=""))
        vouchers = {v.number: v for v in Voucher.objects.filter(
            batch__agent_account__number=account, paid_on__in=dates,
            status=Voucher.Status.PAID).select_related("request__payee")}
        taken = set(StatementLine.objects.filter(voucher__number__in=list(vouchers))
                    .values_list("voucher__number", flat=True))
        free = {n: v for n, v in vouchers.items() if n not in taken}
        updates: list[StatementLine] = []
        debits = [ln for ln in lines if not ln.credit]
        # vouchers paid on another day than booked, still without a line
        other_days = sorted({ln.end_to_end_id for ln in debits if ln.end_to_end_id} - set(free))
        for i in range(0, len(other_days), 5000):
            free.update({v.number: v for v in Voucher.objects.filter(
                number__in=other_days[i:i + 5000], status=Voucher.Status.PAID,
                batch__agent_account__number=account, statement_lines__isnull=True,
            ).select_related("request__payee")})
        # 1) by voucher number
        for ln in debits:
            v = free.get(ln.end_to_end_id) if ln.end_to_end_id else None
            if v is None:
                continue
            free.pop(v.number, None)
            ln.voucher, ln.tracking_id, ln.matched_by = v, v.request.tracking_id, "voucher"
            if v.amount != ln.amount:
                new_exc.append(_exc("amount_difference", f"amount:{ln.pk}", account,
                                    ln.booking_date, as_of, line=ln, voucher=v,
                                    expected=v.amount, actual=ln.amount))
            updates.append(ln)
        # 2) by amount + date + payee account
        index: dict[tuple, list[Voucher]] = defaultdict(list)
        for v in free.values():
            index[(v.amount, v.paid_on, v.request.payee.account_number)].append(v)
        for ln in debits:
            if ln.matched_by:
                continue
            cands = index.get((ln.amount, ln.booking_date, ln.payee_account))
            if cands:
                v = cands.pop(0)
                free.pop(v.number, None)
                ln.voucher, ln.tracking_id, ln.matched_by = v, v.request.tracking_id, "amount"
                updates.append(ln)
        # 3) the clearing credit: the day's paid vouchers and the notice (three-way)
        for ln in (x for x in lines if x.credit):
            paid = Voucher.objects.filter(batch__agent_account__number=account,
                                          paid_on=ln.booking_date,
                                          status=Voucher.Status.PAID).aggregate(s=Sum("amount"))
            paid_total = Decimal(paid["s"] or 0).quantize(CENT)
            notice = ClearingNotice.objects.filter(agent_account__number=account,
                                                   date=ln.booking_date).first()
            if notice is None:
                continue  # not a clearing credit: falls through to exceptions below
            ln.notice, ln.matched_by = notice, "clearing"
            updates.append(ln)
            if paid_total != ln.amount or ln.amount > notice.total:
                new_exc.append(_exc("clearing_difference", f"clearing:{ln.pk}", account,
                                    ln.booking_date, as_of, line=ln, expected=paid_total,
                                    actual=ln.amount))
        StatementLine.objects.bulk_update(updates, ["voucher", "tracking_id", "matched_by",
                                                    "notice"], batch_size=2000)
        matched = len(updates)
        for ln in lines:
            if not ln.matched_by:
                new_exc.append(_exc("line_without_voucher", f"line:{ln.pk}", account,
                                    ln.booking_date, as_of, line=ln, actual=ln.amount))
        for v in free.values():
            new_exc.append(_exc("voucher_without_line", f"voucher:{v.pk}", account, v.paid_on,
                                as_of, voucher=v, expected=v.amount))
        keys = {e.key for e in new_exc}
        known = set()
        key_list = list(keys)
        for i in range(0, len(key_list), 5000):
            known |= set(ReconException.objects.filter(key__in=key_list[i:i + 5000])
                         .values_list("key", flat=True))
        # a voucher found later resolves its own "without line" exception by matching
        fresh = [e for e in new_exc if e.key not in known]
        _insert_exceptions(fresh, user, as_of)
        _close_found(updates, user, as_of)
    return matched, len(fresh)


def _insert_exceptions(rows: list[ReconException], user: Any, as_of: dt.datetime) -> None:
    """New exceptions and their history rows ("+", reason "reconciliation"). On
    PostgreSQL ids are reserved from the sequence and both tables are COPYed."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        bulk_create_with_history(rows, ReconException, batch_size=2000, default_user=user,
                                 default_change_reason="reconciliation")
        return
    fields = [f for f in ReconException._meta.concrete_fields]
    hist = ReconException.history.model
    user_id = getattr(user, "pk", None)
    table, htable = ReconException._meta.db_table, hist._meta.db_table
    with connection.cursor() as cur:
        cur.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [table, len(rows)])
        for row, (pk,) in zip(rows, cur.fetchall(), strict=True):
            row.pk = pk
        cols = ", ".join(f.column for f in fields)
        with cur.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row([getattr(row, f.attname) for f in fields])
        hcols = cols + ", history_date, history_change_reason, history_type, history_user_id"
        with cur.cursor.copy(f"COPY {htable} ({hcols}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row([getattr(row, f.attname) for f in fields]
                             + [as_of, "reconciliation", "+", user_id])
    for row in rows:
        row._state.adding = False


def _close_found(lines: list[StatementLine], user: Any, as_of: dt.datetime) -> None:
    keys = [f"voucher:{ln.voucher_id}" for ln in lines if ln.voucher_id]
    for exc in ReconException.objects.filter(key__in=keys, status=ReconException.Status.OPEN):
        exc.status, exc.resolution = ReconException.Status.RESOLVED, "statement line arrived"
        exc.resolved_at = as_of
        save_with_history(exc, user=user, reason="matched automatically")


def _exc(kind: str, key: str, account: str, day: dt.date, as_of: dt.datetime, *,
         line: StatementLine | None = None, voucher: Voucher | None = None,
         expected: Decimal | None = None, actual: Decimal | None = None) -> ReconException:
    return ReconException(kind=kind, key=key, account=account, date=day, statement_line=line,
                          voucher=voucher, expected=expected, actual=actual, created_at=as_of)


def recon_exception_resolve(*, exception: ReconException, reason: str, user: Any,
                            as_of: dt.datetime | None = None) -> ReconException:
    """Treasury resolves an exception by hand; the reason is kept in history."""
    if not reason.strip():
        raise errors.ReasonRequired()
    with transaction.atomic():
        exc = ReconException.objects.select_for_update().get(pk=exception.pk)
        if exc.status == ReconException.Status.RESOLVED:
            raise errors.AlreadyResolved(pk=exc.pk)
        exc.status, exc.resolution = ReconException.Status.RESOLVED, reason
        exc.resolved_by, exc.resolved_at = user, as_of or timezone.now()
        save_with_history(exc, user=user, reason=reason)
        return exc

