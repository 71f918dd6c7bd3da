"""Contracts (合同): a unit's contract is a commitment against one indicator paid in
instalments.

How the ledger carries it (every figure a sum of its lines):
- signing posts the contract amount as a commitment (Dr 9201 / Cr 9101, the contract its
  source) through `requests.commitment_post`, the same posting a request's submission
  makes; a short indicator is refused by the ledger's guarded update (ContractShort);
- a request filed against the contract commits nothing of its own (no `commit_entry`):
  on submission it *draws* on the contract — refused beyond what is left
  (ContractExceeded), the contract row locked so two submissions never both take the
  last of it; its payment (Dr 9301 / Cr 9201) consumes the contract's commitment;
- a 退票 of a paid instalment reverses the payment only (Dr 9201 / Cr 9301): the amount is
  back in the contract's commitment, not in the indicator; a rejection, withdrawal or a
  退票 before payment posts nothing (the request never took anything from the ledger);
- the payment that brings the paid total to the contract amount completes the contract
  (nothing is left committed); a signed contract closed early by its unit head with a
  reason releases what is left (Dr 9101 / Cr 9201, source the contract, kind commit: a
  release of a commitment counts as one).

`contract_figures` reads the contract's figures from those lines."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from finance import chart, roles
from finance.chart import EntryKind
from finance.ledger import Dims, cr, dr, entry_post
from finance.models import Entry, Line, fen_to_decimal
from finance.services import save_with_history, workflow_record
from payments import errors
from payments.models import Contract, ContractInstalment, Payee, PaymentRequest
from payments.rules import fmt
from payments.services._common import CENT, UNIT_HEAD, S, _dim_kwargs
from payments.services.control import contract_control_check
from payments.services.requests import _draft_check, _payee_check, commitment_post

C = Contract.Status
# requests under a contract that hold part of it but are not paid yet
IN_PAYMENT = (S.UNIT_REVIEW, S.TREASURY_REVIEW, S.DIRECTOR_REVIEW, S.APPROVED, S.VOUCHERED)
ZERO = Decimal("0.00")


def contract_tracking_id(contract: Contract) -> str:
    """The tracking id of a contract's own entries (signing, release): HT + year + id."""
    return f"HT{contract.year}{contract.pk:08d}"


def contract_create(*, dims: Dims, year: int, number: str, counterparty: Payee, title: str,
                    amount: Any, start: dt.date, end: dt.date,
                    schedule: Sequence[tuple[dt.date, Any]], user: Any,
                    as_of: dt.datetime | None = None) -> Contract:
    """A unit's filer registers a contract (draft) on one of the unit's approved indicators
    (checked as a request's draft is), with a payee of the unit's book or a shared one, and
    its payment schedule, which must add up to the amount."""
    as_of = as_of or timezone.now()
    value = _draft_check(dims=dims, year=year, amount=amount, user=user)
    _payee_check(counterparty, dims.unit)
    number = (number or "").strip()
    if end < start:
        raise errors.ContractTerm(start=start, end=end)
    parts = [(due, _amount(a)) for due, a in schedule]
    total = sum((a for _d, a in parts), ZERO)
    if not parts or total != value or any(a <= 0 for _d, a in parts):
        raise errors.ContractSchedule(total=fmt(total), amount=fmt(value))
    with transaction.atomic():
        if Contract.objects.filter(unit=dims.unit, number=number).exists():
            raise errors.ContractNumberTaken(number=number)
        contract = Contract(year=year, number=number, counterparty=counterparty, title=title,
                            amount=value, start=start, end=end, created_by=user,
                            created_at=as_of, **_dim_kwargs(dims))
        save_with_history(contract, user=user, reason="contract registered")
        for seq, (due, a) in enumerate(sorted(parts, key=lambda p: p[0]), start=1):
            save_with_history(ContractInstalment(contract=contract, seq=seq, due=due,
                                                 amount=a.quantize(CENT)),
                              user=user, reason="contract registered")
        workflow_record(document=contract, from_state="", to_state=contract.status,
                        action="create", user=user, as_of=as_of)
        return contract


def _amount(value: Any) -> Decimal:
    """An instalment's amount: at most 2 decimal places (never rounded)."""
    d = Decimal(value)
    if d.is_finite() and d.as_tuple().exponent < -2:  # type: ignore[operator]
        raise errors.AmountPlaces(amount=value)
    return d.quantize(CENT)


def _lock(contract: Contract | int) -> Contract:
    pk = contract if isinstance(contract, int) else contract.pk
    return Contract.objects.select_for_update(of=("self",)).select_related(
        "counterparty", "created_by").get(pk=pk)


def contract_sign(*, contract: Contract, user: Any,
                  as_of: dt.datetime | None = None) -> Contract:
    """The unit head signs a draft contract: its amount is committed against the indicator
    (the request's commitment posting); refused when the indicator has less available.
    Signing is where the contract takes the indicator, so the control rule (控制方式,
    payments.services.control) is checked here, at the contract amount, and recorded
    against the contract: a blocking rule refuses it (ContractControlBlocked) unless the
    treasury director overrode it for the contract; a warning is recorded and shown. The
    requests paid under the contract draw on this commitment and are not checked again."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        c = _lock(contract)
        roles.require(roles.may_sign_contract(user, c.unit), user=user, role=UNIT_HEAD,
                      unit=c.unit)
        if c.status != C.DRAFT:
            raise errors.ContractState(number=c.number, status=c.get_status_display(),
                                       action=errors.ACTION_SIGNED)
        blocked = contract_control_check(c, timezone.localdate(as_of), as_of)
        if blocked is None:
            _sign(c, user=user, as_of=as_of)
    if blocked is not None:  # raised after the commit: the check that refused it is kept
        raise errors.ContractControlBlocked(number=c.number, reason=blocked.message())
    return c


def _sign(c: Contract, *, user: Any, as_of: dt.datetime) -> None:
    c.sign_entry = commitment_post(
        dims=c.dims, amount=c.amount, document=c, tracking_id=contract_tracking_id(c),
        description=f"合同 指标占用 {c.number}", user=user,
        on=timezone.localdate(as_of), as_of=as_of,
        short=lambda exc: errors.ContractShort(available=fmt(exc.available),
                                               number=c.number, amount=fmt(c.amount)))
    old, c.status, c.signed_by, c.signed_at = c.status, C.SIGNED, user, as_of
    save_with_history(c, user=user, reason="contract signed")
    workflow_record(document=c, from_state=old, to_state=c.status, action="sign",
                    user=user, as_of=as_of)


def contract_close(*, contract: Contract, user: Any, reason: str,
                   as_of: dt.datetime | None = None) -> Contract:
    """The unit head closes a signed contract early with a reason: what is left of its
    commitment goes back to the indicator (Dr 9101 / Cr 9201). Refused while a request
    under it is still in payment."""
    as_of = as_of or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise errors.ReasonRequired()
    with transaction.atomic():
        c = _lock(contract)
        roles.require(roles.may_sign_contract(user, c.unit), user=user, role=UNIT_HEAD,
                      unit=c.unit)
        if c.status != C.SIGNED:
            raise errors.ContractState(number=c.number, status=c.get_status_display(),
                                       action=errors.ACTION_CLOSED)
        if n := c.requests.filter(status__in=IN_PAYMENT).count():
            raise errors.ContractOpenRequests(number=c.number, count=n)
        left = contract_figures(c).committed
        if left > 0:
            c.release_entry = entry_post(
                lines=[dr("indicator", chart.AVAILABLE, left, c.dims),
                       cr("indicator", chart.COMMITTED, left, c.dims)],
                description=f"合同 提前结束 释放 {c.number}", user=user,
                on=timezone.localdate(as_of), as_of=as_of, source=c, kind=EntryKind.COMMIT,
                tracking_id=contract_tracking_id(c),
                idempotency_key=f"{contract_tracking_id(c)}:release")
        old, c.status = c.status, C.CLOSED
        c.closed_by, c.closed_at, c.close_reason = user, as_of, reason[:300]
        save_with_history(c, user=user, reason=f"contract closed: {reason}")
        workflow_record(document=c, from_state=old, to_state=c.status, action="close",
                        user=user, comment=reason, as_of=as_of)
        return c


@dataclass(frozen=True)
class ContractFigures:
    """A contract's figures: `committed` and `paid` are sums of ledger lines (9201 and
    9301 of the contract's own entries and its requests' payments), `released` those of
    its release; `pending` the requests still in payment; `remaining` what a new request
    may still take (committed − pending)."""

    amount: Decimal
    committed: Decimal
    paid: Decimal
    released: Decimal
    pending: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.committed - self.pending


def contract_entries(contract: Contract) -> Any:
    """The entries of a contract: its own (signing, release) and those of its requests
    (payments, 退票 reversals), in number order."""
    ct = ContentType.objects.get_for_model(Contract)
    ids = list(contract.requests.values_list("tracking_id", flat=True))
    return Entry.objects.filter(Q(source_type=ct, source_id=str(contract.pk))
                                | Q(tracking_id__in=ids)).order_by("fiscal_year", "number")


def contract_figures(contract: Contract) -> ContractFigures:
    """The contract's figures from the indicator-book lines of its entries (debit − credit
    on 9201 committed and 9301 paid; released: the release entry's credit to 9201) and its
    requests in payment. The entries are read first and their lines by entry id, so the
    cost follows the contract's own entries, not the size of the ledger (a join that
    leaves the planner free to scan every 9201 line of the year took 0.3 s per request
    in a 3,000-unit city)."""
    ids = list(contract_entries(contract).values_list("id", flat=True))
    fen = {chart.COMMITTED: 0, chart.EXPENDED: 0}
    released_fen = 0
    for entry_id, code, d, c in Line.objects.filter(
            book="indicator", entry_id__in=ids, account__code__in=list(fen)).values_list(
            "entry_id", "account__code", "debit_fen", "credit_fen"):
        fen[code] += d - c
        if code == chart.COMMITTED and entry_id == contract.release_entry_id:
            released_fen -= d - c
    pending = contract.requests.filter(status__in=IN_PAYMENT).aggregate(s=Sum("amount"))["s"]
    return ContractFigures(amount=contract.amount,
                           committed=fen_to_decimal(fen[chart.COMMITTED]),
                           paid=fen_to_decimal(fen[chart.EXPENDED]),
                           released=fen_to_decimal(released_fen),
                           pending=(pending or ZERO).quantize(CENT))


def contract_request_check(contract: Contract, *, dims: Dims, year: int, payee: Payee,
                           amount: Decimal) -> None:
    """A request under a contract: the contract signed, its indicator and counterparty,
    not more than is left of it (checked again, under lock, on submission)."""
    if contract.status != C.SIGNED:
        raise errors.ContractState(number=contract.number,
                                   status=contract.get_status_display(),
                                   action=errors.ACTION_PAID_UNDER)
    if contract.dims != dims or contract.year != year or contract.counterparty_id != payee.pk:
        raise errors.ContractMismatch(number=contract.number, payee=contract.counterparty.name)
    _within(contract, amount)


def _within(contract: Contract, amount: Decimal) -> None:
    f = contract_figures(contract)
    if amount > f.remaining:
        raise errors.ContractExceeded(
            number=contract.number, remaining=fmt(max(f.remaining, ZERO)),
            amount=fmt(f.amount), paid=fmt(f.paid), pending=fmt(f.pending),
            requested=fmt(amount))


def contract_draw(req: PaymentRequest) -> None:
    """A request's submission under a contract (inside its transaction): the contract row
    locked, still signed, and the amount within what is left; nothing is posted."""
    c = _lock(req.contract_id)
    if c.status != C.SIGNED:
        raise errors.ContractState(number=c.number, status=c.get_status_display(),
                                   action=errors.ACTION_PAID_UNDER)
    _within(c, req.amount)


def contracts_settle(ids: Iterable[int], *, user: Any, as_of: dt.datetime) -> None:
    """After bank results: a signed contract whose payments have used its whole
    commitment (nothing committed, nothing in payment) is completed; a completed one that
    a 退票 gave an amount back to is signed again."""
    for pk in sorted(set(ids)):
        c = _lock(pk)
        f = contract_figures(c)
        done = f.committed == 0 and f.pending == 0
        new = (C.COMPLETED if c.status == C.SIGNED and done
               else C.SIGNED if c.status == C.COMPLETED and not done else c.status)
        if new != c.status:
            old, c.status = c.status, new
            save_with_history(c, user=user, reason=f"contract {new}")
            workflow_record(document=c, from_state=old, to_state=new,
                            action="complete" if new == C.COMPLETED else "reopen",
                            user=user, as_of=as_of)


def contracts_for_unit(unit: str) -> Any:
    """The unit's contracts, newest first (with counterparty)."""
    return Contract.objects.filter(unit=unit).select_related("counterparty")


__all__ = ["IN_PAYMENT", "ContractFigures", "contract_close", "contract_create",
           "contract_draw", "contract_entries", "contract_figures", "contract_request_check",
           "contract_sign", "contract_tracking_id", "contracts_for_unit", "contracts_settle"]
