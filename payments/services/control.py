"""控制方式 on payment requests: the control check a submission runs (finance.control's
rule and usage, recorded as a check and shown as a rule hit) and the override of a
blocking rule by an authorised approver."""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from finance import control
from finance.models import ControlCheck, ControlOverride
from finance.services import workflow_record
from payments import errors
from payments.models import Contract, PaymentRequest, Rule
from payments.rules import Hit
from payments.services._common import S

RULE_CODE = "control"  # the code of the hits a control check adds to a request
OVERRIDE_ACTION = "control_override"  # the workflow step of an override
OVERRIDABLE = (S.DRAFT, S.REFUSED)
CONTRACT_OVERRIDABLE = (Contract.Status.DRAFT,)


def control_hits(req: PaymentRequest, on: dt.date, as_of: dt.datetime, *,
                 decision: control.Decision | None = None,
                 checks: list[ControlCheck] | None = None) -> list[Hit]:
    """The control check of a submission (in the caller's transaction): records it
    (finance ControlCheck) and returns what the request carries — a refusal (block, no
    override), a warning (warn from the threshold), the override that let it pass — or
    nothing. Above 100 % it adds nothing: the ledger refuses the commitment in every mode.
    A payment under a contract draws on the contract's commitment (usage unchanged) and
    is not checked again. A batch filing passes the `decision` (from its view of the
    usage) and `checks`, a list to which the check is added unsaved (written with the
    batch's requests); otherwise the rule and usage are read and the check is saved."""
    if req.contract_id is not None:
        return []
    if decision is None:
        decision = control.decide(dims=req.dims, year=req.year, amount=req.amount, on=on)
    if decision.over_limit:
        return []
    # a request not yet written has no override (an override names a stored document)
    override = (control.override_for(req, req.amount)
                if decision.blocked and req.pk is not None else None)
    if checks is None:
        control.check_record(document=req, decision=decision, as_of=as_of, override=override)
    else:
        checks.append(control.check_row(document=req, decision=decision, as_of=as_of,
                                        override=override))
    if decision.blocked and override is None:
        return [Hit(RULE_CODE, Rule.Action.REFUSE, decision.message()[:500])]
    if override is not None:
        text = control.MSG_OVERRIDDEN % {**decision.params(), "user": override.granted_by.username,
                                         "usage": f"{override.usage_percent:.2f}",
                                         "reason": override.reason}
        return [Hit(RULE_CODE, Rule.Action.FLAG, str(text)[:500])]
    if decision.warned:
        return [Hit(RULE_CODE, Rule.Action.FLAG, decision.message()[:500])]
    return []


def contract_control_check(contract: Contract, on: dt.date,
                           as_of: dt.datetime) -> control.Decision | None:
    """The control check of a contract's signing (in the caller's transaction): signing
    commits the whole contract amount, so the rule is asked as for a request of that
    amount, and the check is recorded against the contract. Returns the decision when it
    blocks without an override covering the amount (the caller refuses the signing), else
    None. Above 100 % nothing is recorded: the ledger refuses the commitment."""
    decision = control.decide(dims=contract.dims, year=contract.year, amount=contract.amount,
                              on=on)
    if decision.over_limit:
        return None
    override = control.override_for(contract, contract.amount) if decision.blocked else None
    control.check_record(document=contract, decision=decision, as_of=as_of, override=override)
    return decision if decision.blocked and override is None else None


def _override(*, document: Any, filer_id: int | None, user: Any, reason: str,
              as_of: dt.datetime) -> ControlOverride:
    """An authorised approver's override of a blocking rule for a locked draft document
    (a request or a contract), at its amount, with a reason and a workflow step. Never by
    the document's own filer; never above 100 % (finance.control refuses it)."""
    if user.pk == filer_id:
        raise errors.NotAllowed(user=user, action="override", why=errors.MSG_FILER_CANNOT_APPROVE)
    decision = control.decide(dims=document.dims, year=document.year, amount=document.amount,
                              on=timezone.localdate(as_of))
    override = control.override_grant(document=document, decision=decision, user=user,
                                      reason=reason, as_of=as_of)
    workflow_record(document=document, from_state=document.status, to_state=document.status,
                    action=OVERRIDE_ACTION, user=user, as_of=as_of,
                    comment=f"{control.rule_name(decision.rule)} "
                            f"{decision.threshold:.2f}% → {override.usage_percent:.2f}%: "
                            f"{override.reason}")
    return override


def payment_request_control_override(*, request: PaymentRequest, user: Any, reason: str,
                                     as_of: dt.datetime | None = None) -> ControlOverride:
    """The treasury director (finance.roles.may_override_control) lets a draft or a request
    refused by a blocking control rule pass it at its amount, with a reason; the filer then
    submits it again. Never the filer; never above 100 % (finance.control refuses it, and
    the ledger would). The override is kept (who, when, reason, rule, usage) and the
    request gets a workflow step naming it."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        req = PaymentRequest.objects.select_for_update(of=("self",)).get(pk=request.pk)
        if req.status not in OVERRIDABLE:
            raise errors.WrongState(tracking_id=req.tracking_id,
                                    status=req.get_status_display(), action="overridden")
        return _override(document=req, filer_id=req.filed_by_id, user=user, reason=reason,
                         as_of=as_of)


def contract_control_override(*, contract: Contract, user: Any, reason: str,
                              as_of: dt.datetime | None = None) -> ControlOverride:
    """The same override for a draft contract whose signing a blocking rule refused: the
    treasury director lets it pass at the contract amount with a reason (never the person
    who registered it); the unit head then signs it again."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        c = Contract.objects.select_for_update(of=("self",)).get(pk=contract.pk)
        if c.status not in CONTRACT_OVERRIDABLE:
            raise errors.ContractState(number=c.number, status=c.get_status_display(),
                                       action=errors.ACTION_OVERRIDDEN)
        return _override(document=c, filer_id=c.created_by_id, user=user, reason=reason,
                         as_of=as_of)
