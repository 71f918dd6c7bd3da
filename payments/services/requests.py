"""Payment requests (支付申请): filing, submission (plan check, rules, commitment), the
approval chain one by one or in a batch, rejection and the release of a commitment."""
from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from budgets import selectors as budget_selectors
from finance import chart, roles
from finance import errors as ledger_errors
from finance.chart import EntryKind
from finance.ledger import Dims, cr, dr, entries_post, entry_post, entry_reverse, reversal_inputs
from finance.models import Entry, Organization, WorkflowStep
from finance.services import (
    bulk_save_with_history,
    remember_stored,
    save_with_history,
    workflow_record,
    workflow_record_many,
)
from payments import errors
from payments.models import (
    Attachment,
    Contract,
    FundSourceSetting,
    Payee,
    PaymentPlan,
    PaymentRequest,
    Rule,
    RuleHit,
)
from payments.rules import fmt, plan_used, rules_run
from payments.services._common import (
    CENT,
    DIRECTOR,
    FILER,
    REVIEWER,
    UNIT_HEAD,
    S,
    _dim_kwargs,
    _in_group,
    _unit_of,
    director_threshold,
)
from payments.services.control import control_hits

LEVELS = {  # status → (role, next status, level name)
    S.UNIT_REVIEW: (UNIT_HEAD, S.TREASURY_REVIEW, "unit head"),
    S.TREASURY_REVIEW: (REVIEWER, S.APPROVED, "treasury reviewer"),
    S.DIRECTOR_REVIEW: (DIRECTOR, S.APPROVED, "treasury director"),
}


def payment_request_create(*, dims: Dims, year: int, amount: Decimal, payee: Payee,
                           purpose: str, user: Any, contract_ref: str = "",
                           procurement_ref: str = "",
                           attachments: list[tuple[str, bytes]] | None = None,
                           as_of: dt.datetime | None = None,
                           submit: bool = False, contract: Any = None) -> PaymentRequest:
    """A budget unit's filer drafts a request against an indicator (its dimension tuple).
    The draft is refused at once, before anything is written, unless the tuple is an
    approved indicator of the filer's unit in budgets' register and the amount has at most
    2 decimal places (`_draft_check`).
    `submit`: save and submit at once (保存并送审): the draft is submitted in the same
    transaction exactly as `payment_request_submit` does it, without reading back and
    locking the row just written; a short indicator or plan raises and nothing is saved.
    `contract`: a payment under one of the unit's signed contracts (its indicator, its
    counterparty, at most what is left of it); `contract_ref` becomes its number."""
    as_of = as_of or timezone.now()
    value = _draft_check(dims=dims, year=year, amount=amount, user=user)
    _payee_check(payee, dims.unit)
    if contract is not None:
        from payments.services.contracts import contract_request_check  # noqa: PLC0415

        contract_request_check(contract, dims=dims, year=year, payee=payee, amount=value)
        contract_ref = contract.number
    files = attachments_check(attachments or [])
    with transaction.atomic():
        req = PaymentRequest(
            tracking_id=f"TR{year}{uuid.uuid4().hex[:16].upper()}", year=year,
            amount=value, payee=payee, purpose=purpose,
            contract_ref=contract_ref, procurement_ref=procurement_ref, filed_by=user,
            filed_at=as_of, contract=contract, **_dim_kwargs(dims))
        # the tracking id is new and random: its unique index guards the INSERT, and
        # full_clean does not first ask whether another request has it
        save_with_history(req, user=user, reason="filed", skip_unique=frozenset({"tracking_id"}))
        for name, content, content_type in files:
            att = Attachment(request=req, name=name, size=len(content),
                             content_type=content_type)
            att.file.save(name, ContentFile(content), save=True)
        workflow_record(document=req, from_state="", to_state=req.status, action="file",
                        user=user, as_of=as_of)
        if submit:
            remember_stored(req)
            req.payee = Payee.objects.get(pk=req.payee_id)  # the rules read it as stored now
            return _submit(req, user, as_of, fresh=True)
        _hits_known(req, [])  # a draft has no rule hits yet
        return req


def _hits_known(req: PaymentRequest, hits: list[RuleHit]) -> None:
    """Set `req.hits.all()` to the hits just written for it in this transaction (all it
    has, in id order), as prefetch_related would, so showing the request does not read
    them back."""
    qs = RuleHit.objects.filter(request=req)
    qs._result_cache = hits  # noqa: SLF001 - what prefetch_related_objects stores
    qs._prefetch_done = True  # noqa: SLF001
    req.__dict__.setdefault("_prefetched_objects_cache", {})["hits"] = qs


REFILABLE = (S.REFUSED, S.RETURNED)
REFILE_FROM = "重新提交自 %s"  # the new draft's workflow step: where it comes from
REFILE_TO = "重新提交为 %s"  # the old request's step: the draft that carries it on


def _refile_steps(req: PaymentRequest) -> Any:
    return WorkflowStep.objects.filter(doc_type=ContentType.objects.get_for_model(PaymentRequest),
                                       doc_id=str(req.pk), action="refile")


def refiled_as(req: PaymentRequest) -> str:
    """The tracking id of the draft a refused or returned request was filed again as ("")."""
    step = _refile_steps(req).filter(comment__startswith=REFILE_TO % "").first()
    return step.comment.removeprefix(REFILE_TO % "") if step else ""


def refiled_from(req: PaymentRequest) -> str:
    """The tracking id of the request a draft was filed again from ("" for a new one)."""
    step = _refile_steps(req).filter(comment__startswith=REFILE_FROM % "").first()
    return step.comment.removeprefix(REFILE_FROM % "") if step else ""


def payment_request_refile(*, request: PaymentRequest, user: Any, amount: Decimal | None = None,
                           payee: Payee | None = None, purpose: str | None = None,
                           as_of: dt.datetime | None = None) -> PaymentRequest:
    """A refused (rules) or returned (退票) request corrected and filed again: a NEW draft
    on the same indicator with its references and attachments, the amount, payee and
    purpose as given (else the old ones), checked as every draft is
    (`payment_request_create`). The old request keeps its state and history; each gets a
    workflow step naming the other (重新提交自 / 重新提交为), and the old one can be filed
    again, or submitted again, no more."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        old = _lock(request)
        if old.status not in REFILABLE:
            raise errors.WrongState(tracking_id=old.tracking_id, status=old.status,
                                    action="filed again")
        if again := refiled_as(old):
            raise errors.AlreadyRefiled(tracking_id=old.tracking_id, new=again)
        files = [(a.name, a.file.read()) for a in old.attachments.all()]
        new = payment_request_create(
            dims=old.dims, year=old.year, amount=old.amount if amount is None else amount,
            payee=payee or old.payee, purpose=purpose or old.purpose, user=user,
            contract_ref=old.contract_ref, procurement_ref=old.procurement_ref,
            attachments=files, as_of=as_of, contract=old.contract)
        workflow_record_many([(new, new.status, new.status, REFILE_FROM % old.tracking_id),
                              (old, old.status, old.status, REFILE_TO % new.tracking_id)],
                             action="refile", user=user, as_of=as_of)
        return new


WITHDRAWABLE = (S.DRAFT, S.REFUSED, S.RETURNED)


def payment_request_withdraw(*, request: PaymentRequest, user: Any, reason: str,
                             as_of: dt.datetime | None = None) -> PaymentRequest:
    """撤回 / 作废: a draft, or a refused (rules) or returned (退票) request the unit will not
    file again, is withdrawn by a filer of its unit with a reason. Whatever the request
    still holds in the control book is released through the ledger (its commitment — and
    a payment — reversed, never edited; a refused request never committed and a returned
    one was released by the 退票, so usually nothing is posted); it no longer counts
    against its month's plan (only open requests do). It keeps its history, rule hits,
    attachments and workflow steps (the withdrawal with its reason is one), and can be
    neither submitted nor filed again. A request already filed again (重新提交为) is
    carried on by its new draft and is not withdrawn."""
    as_of = as_of or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise errors.ReasonRequired()
    with transaction.atomic():
        req = _lock(request)
        if req.status not in WITHDRAWABLE:
            raise errors.WrongState(tracking_id=req.tracking_id,
                                    status=req.get_status_display(),
                                    action=errors.ACTION_WITHDRAWN)
        roles.require(roles.may_file(user, req.unit), user=user, role=FILER, unit=req.unit)
        if again := refiled_as(req):
            raise errors.AlreadyRefiled(tracking_id=req.tracking_id, new=again)
        _release_held(req, user, as_of, f"withdrawn: {reason}")
        old, req.status = req.status, S.WITHDRAWN
        save_with_history(req, user=user, reason=f"withdrawn: {reason}")
        _cards_follow([req.pk], user)
        workflow_record(document=req, from_state=old, to_state=req.status, action="withdraw",
                        user=user, comment=reason, as_of=as_of)
        return req


def _release_held(req: PaymentRequest, user: Any, as_of: dt.datetime, reason: str) -> None:
    """Reverse what of the request's postings is not reversed yet: the payment, then the
    commitment (the keys are those of a 退票, so a release is never posted twice)."""
    held = [(e, key) for e, key in ((req.pay_entry, "unpay"), (req.commit_entry, "release"))
            if e is not None]
    reversed_ids = set(Entry.objects.filter(reverses__in=[e.pk for e, _k in held])
                       .values_list("reverses_id", flat=True)) if held else set()
    for entry, key in held:
        if entry.pk not in reversed_ids:
            entry_reverse(entry=entry, user=user, reason=reason, as_of=as_of,
                          on=timezone.localdate(as_of),
                          idempotency_key=f"{req.tracking_id}:{key}")


# What a request's attachment may be: its name's ending, the content type stored, and how
# the content starts (a renamed file is refused: docx, xlsx and OFD are zip containers).
ATTACHMENT_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".pdf": ("application/pdf", (b"%PDF-",)),
    ".ofd": ("application/ofd", (b"PK\x03\x04",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
              (b"PK\x03\x04",)),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
              (b"PK\x03\x04",)),
}


def attachment_limits() -> tuple[int, int]:
    """(bytes per file, files per request): PAYMENTS_ATTACHMENT_MAX_MB (5) and
    PAYMENTS_ATTACHMENT_MAX_COUNT (10)."""
    mb = int(getattr(settings, "PAYMENTS_ATTACHMENT_MAX_MB", 5))
    return mb * 1024 * 1024, int(getattr(settings, "PAYMENTS_ATTACHMENT_MAX_COUNT", 10))


def attachments_check(files: list[tuple[str, bytes]]) -> list[tuple[str, bytes, str]]:
    """Each file as (name, content, content type), or the first refusal: too many files,
    an empty one, one above the size limit, a name or content not of an accepted type."""
    max_bytes, max_count = attachment_limits()
    if len(files) > max_count:
        raise errors.AttachmentCount(limit=max_count, count=len(files))
    out = []
    for raw_name, content in files:
        name = Path(str(raw_name).replace("\\", "/")).name[-200:] or "attachment"
        if not content:
            raise errors.AttachmentEmpty(name=name)
        if len(content) > max_bytes:
            raise errors.AttachmentTooLarge(name=name, size=filesizeformat(len(content)),
                                            limit=filesizeformat(max_bytes))
        kind = ATTACHMENT_TYPES.get(Path(name).suffix.lower())
        if kind is None:
            raise errors.AttachmentRefused(name=name, why=errors.MSG_ATTACHMENT_EXTENSION)
        if not content.startswith(kind[1]):
            raise errors.AttachmentRefused(name=name, why=errors.MSG_ATTACHMENT_CONTENT)
        out.append((name, content, kind[0]))
    return out


def _payee_check(payee: Payee, unit: str) -> None:
    """A request pays a payee of its unit's book or a shared one (no unit)."""
    if payee.unit_id is None:
        return
    if not Organization.objects.filter(pk=payee.unit_id, code=unit).exists():
        raise errors.PayeeOtherUnit(payee=payee.name, unit=unit)


def _codes(dims: Dims) -> dict[str, str]:
    """The codes a clerk reads in a refusal naming an indicator ("—" for no project)."""
    return {"unit": dims.unit, "function": dims.function, "economic": dims.economic,
            "fund_source": dims.fund_source, "project": dims.project or "—"}


_LOOK_UP = object()  # _draft_check: read the indicator (a batch passes what it read)


def _draft_check(*, dims: Dims, year: int, amount: Any, user: Any,
                 indicator: Any = _LOOK_UP) -> Decimal:
    """What a draft must be before it is written; returns its amount. The filer's role,
    then the unit (a tuple of another unit is refused naming that indicator, without
    saying whether the other unit has it), the amount (more than 2 decimal places is
    refused, as the ledger refuses it, never rounded), then budgets' indicator register:
    the tuple must be an approved indicator (the register holds approved ones only) of
    the filer's unit."""
    if not _in_group(user, FILER):
        raise errors.NotAllowed(user=user, action="file", why=errors.MSG_MISSING_ROLE % {
            "role": FILER})
    own = _unit_of(user)
    if not own:
        raise errors.NotAllowed(user=user, action="file", why=errors.MSG_OTHER_UNIT)
    if dims.unit != own:
        raise errors.IndicatorOtherUnit(own=own, **_codes(dims))
    value = Decimal(amount)
    if value.is_finite() and value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise errors.AmountPlaces(amount=amount)
    if indicator is _LOOK_UP:
        indicator = budget_selectors.indicator_for(dims=dims, year=year)
    if indicator is None:
        raise errors.NoIndicator(year=year, **_codes(dims))
    if indicator.unit.code != own:  # the register's own unit, should it ever differ
        raise errors.IndicatorOtherUnit(own=own, **_codes(dims))
    return value.quantize(CENT)  # exact: at most 2 places


# A request's foreign keys, read with it so that full_clean finds them loaded and skips
# one existence query each (finance.services._loaded_relations); only the request row is
# locked.
_REQUEST_RELATED = ("payee", "plan", "filed_by", "commit_entry", "pay_entry", "contract")


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
        if req.status == S.REFUSED and (again := refiled_as(req)):
            raise errors.AlreadyRefiled(tracking_id=req.tracking_id, new=again)
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
    hits = rules_run(req) + control_hits(req, on, as_of)  # 控制方式 (finance.control)
    _hits_known(req, RuleHit.objects.bulk_create([
        RuleHit(request=req, rule_code=h.rule_code, action=h.action, reason=h.reason,
                created_at=as_of) for h in hits]))
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
    if req.contract_id is not None:
        # a payment under a signed contract draws on the contract's commitment: nothing is
        # committed again (payments.services.contracts)
        from payments.services.contracts import contract_draw  # noqa: PLC0415 - cycle

        contract_draw(req)
    else:
        req.commit_entry = commitment_post(
            dims=req.dims, amount=req.amount, document=req, tracking_id=req.tracking_id,
            description=request_commitment_text(req.tracking_id)[0], user=user, on=on,
            as_of=as_of,
            short=lambda exc: errors.IndicatorShort(available=fmt(exc.available),
                                                    requested=fmt(req.amount)))
    req.status = S.UNIT_REVIEW
    save_with_history(req, user=user, reason="submitted")
    workflow_record(document=req, from_state=old, to_state=req.status, action="submit",
                    user=user, as_of=as_of,
                    comment="; ".join(h.reason for h in hits))
    return req


def commitment_lines(amount: Decimal, dims: Dims) -> list[Any]:
    """A commitment in the control book: Dr 9201 committed / Cr 9101 available."""
    return [dr("indicator", chart.COMMITTED, amount, dims),
            cr("indicator", chart.AVAILABLE, amount, dims)]


def request_commitment_text(tracking_id: str) -> tuple[str, str]:
    """(description, idempotency key) of a request's commitment entry."""
    return f"支付申请 指标占用 {tracking_id}", f"{tracking_id}:commit"


def plan_room_check(*, year: int, month: int, plan: PaymentPlan | None, used: Decimal,
                    amount: Decimal) -> None:
    """`amount` more on a month's plan of which `used` is taken: PlanExceeded above it."""
    approved = plan.approved if plan else Decimal("0.00")
    if used + amount > approved:
        raise errors.PlanExceeded(year=year, month=month, approved=fmt(approved),
                                  remaining=fmt(max(approved - used, Decimal("0.00"))),
                                  requested=fmt(amount))


def commitment_post(*, dims: Dims, amount: Decimal, document: Any, tracking_id: str,
                    description: str, user: Any, on: dt.date, as_of: dt.datetime,
                    short: Any, once: bool = True) -> Entry:
    """The one commitment posting of payments (Dr 9201 / Cr 9101 on the tuple, `document`
    its source): a request's on submission, a contract's on signing, and the re-commitment
    of either in the next year by the year-end close (`once=False`: no idempotency key, as
    a close reversed by a reopening may post it again). The ledger's guarded update
    refuses a short indicator; `short(exc)` makes the caller's error of it."""
    try:
        return entry_post(
            lines=commitment_lines(amount, dims),
            description=description, user=user, on=on, as_of=as_of, source=document,
            kind=EntryKind.COMMIT, tracking_id=tracking_id,
            idempotency_key=request_commitment_text(tracking_id)[1] if once else None)
    except ledger_errors.IndicatorInsufficient as exc:
        raise short(exc) from None


def carried_years(reqs: list[PaymentRequest]) -> dict[int, set[int]]:
    """Request id → the fiscal years into which the year-end close carried its commitment
    (its own, or its contract's): years of a carry-forward entry of that document that
    carries indicator authority (9001) and is not reversed. A payment dated in such a year
    spends the appropriation carried at year end (budget Cr 8001 资金结存, financial
    Cr 1201 财政应返还额度), not new revenue (reports.commitments)."""
    if not reqs:
        return {}
    req_ct = ContentType.objects.get_for_model(PaymentRequest)
    contract_ct = ContentType.objects.get_for_model(Contract)
    rows = (Entry.objects.filter(
        Q(source_type=req_ct, source_id__in=[str(r.pk) for r in reqs])
        | Q(source_type=contract_ct,
            source_id__in=[str(r.contract_id) for r in reqs if r.contract_id]),
        kind=EntryKind.CARRY_FORWARD, reversed_by__isnull=True,
        lines__account__code=chart.AUTHORITY)
        .values_list("source_type_id", "source_id", "fiscal_year").distinct())
    years: dict[tuple[int, str], set[int]] = defaultdict(set)
    for ct, pk, year in rows:
        years[(ct, pk)].add(year)
    return {r.pk: years[(req_ct.pk, str(r.pk))]
            | (years[(contract_ct.pk, str(r.contract_id))] if r.contract_id else set())
            for r in reqs}


def payment_lines(amount: Decimal, dims: Dims, *, carried: bool) -> list[Any]:
    """A treasury payment in the three books: the control book consumes the commitment,
    budget accounting records the expenditure against new appropriation revenue — or,
    for a commitment carried from last year, against the funds carried (资金结存) — and
    financial accounting the expense against revenue or the carried receivable."""
    a, d = amount, dims
    return [dr("indicator", chart.EXPENDED, a, d), cr("indicator", chart.COMMITTED, a, d),
            dr("budget", chart.ADMINISTRATIVE_EXPENDITURE, a, d),
            cr("budget", chart.FUNDS_BALANCE if carried else chart.FISCAL_APPROPRIATION_REVENUE,
               a, d),
            dr("financial", chart.OPERATING_EXPENSE, a, d),
            cr("financial", chart.FISCAL_RECEIVABLE if carried
               else chart.FISCAL_APPROPRIATION_INCOME, a, d)]


def _plan_check(req: PaymentRequest, on: dt.date) -> PaymentPlan | None:
    setting = FundSourceSetting.objects.filter(fund_source=req.fund_source).first()
    if setting is not None and not setting.plan_control:
        return None
    plan = PaymentPlan.objects.select_for_update().filter(
        year=req.year, month=on.month, status=PaymentPlan.Status.APPROVED,
        **_dim_kwargs(req.dims)).first()
    plan_room_check(year=req.year, month=on.month, plan=plan, amount=req.amount,
                    used=plan_used(plan.pk) if plan else Decimal("0.00"))
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
    """The outcome of a batch decision: the requests approved (or rejected), and those
    refused with the reason (wrong state, not the user's role or unit, a level already
    approved)."""
    approved: list[PaymentRequest] = field(default_factory=list)
    refused: list[tuple[PaymentRequest, errors.PaymentError]] = field(default_factory=list)
    rejected: list[PaymentRequest] = field(default_factory=list)


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
        _cards_follow([req.pk], user)
        workflow_record(document=req, from_state=old, to_state=req.status, action="reject",
                        user=user, comment=comment, as_of=as_of)
        return req


def payment_requests_reject(*, requests: list[PaymentRequest], user: Any, comment: str,
                            as_of: dt.datetime | None = None) -> Decided:
    """Reject many requests, each at its current level, in one locked pass (批量退回): the
    rows locked in one statement in id order, every request given exactly the checks of
    `payment_request_reject` (a refused one is reported and the others go on); the
    commitments released by one batch posting of their reversals (`entries_post`, in id
    order, as one by one in that order would number them), the requests written with
    their history, their 公务卡 transactions opened again and their workflow steps in one
    statement each. The treasury's "reject selected" uses it."""
    as_of = as_of or timezone.now()
    if not comment.strip():
        raise errors.ReasonRequired()
    out = Decided()
    with transaction.atomic():
        locked = list(_requests_locked().filter(pk__in=[r.pk for r in requests]).order_by("id"))
        acted = _acted_on(user, locked)
        done: list[tuple[PaymentRequest, str]] = []
        for req in locked:
            try:
                _check_approver(req, user, "reject", acted=str(req.pk) in acted)
            except errors.PaymentError as exc:
                out.refused.append((req, exc))
                continue
            done.append((req, req.status))
        if not done:
            return out
        on = timezone.localdate(as_of)
        for req, _old in done:  # a payment under a contract: its commitment stays there
            assert req.commit_entry is not None or req.contract_id is not None  # noqa: S101
        entries_post(entries=reversal_inputs([
            (req.commit_entry, f"rejected: {comment}", f"{req.tracking_id}:release", on)
            for req, _old in done if req.commit_entry is not None]), user=user, as_of=as_of)
        for req, _old in done:
            req.status = S.REJECTED
        reqs = [req for req, _old in done]
        bulk_save_with_history(reqs, user=user, reason=comment, fields=["status"])
        _cards_follow([req.pk for req in reqs], user)
        workflow_record_many([(req, old, req.status) for req, old in done], action="reject",
                             user=user, comment=comment, as_of=as_of)
        out.rejected = reqs
    return out


def _cards_follow(ids: list[int], user: Any) -> None:
    """公务卡: rejected or withdrawn repayments' card transactions are open again."""
    from payments.services.cards import card_transactions_settle  # noqa: PLC0415 - cycle

    card_transactions_settle(ids, user=user)


def _release(req: PaymentRequest, user: Any, as_of: dt.datetime, reason: str) -> None:
    if req.commit_entry is None:  # a payment under a contract: its commitment stays there
        assert req.contract_id is not None  # noqa: S101 - every other reviewed one is committed
        return
    entry_reverse(entry=req.commit_entry, user=user, reason=reason, as_of=as_of,
                  on=timezone.localdate(as_of), idempotency_key=f"{req.tracking_id}:release")
