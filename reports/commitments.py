"""Open commitments at year end (年末未支付承诺): what the year-end close does with the
commitments (9201) of payment requests and contracts still unpaid on Dec 31, per the
fund source's year-end policy (reports.models.FundSourcePolicy, the same one as for
unspent indicators), and how a reopening undoes it.

- carried (结转), per request or contract on its dimension tuple:
  Dec 31 (old year), kind `closing`: Dr 9101 / Cr 9201 (released) and Dr 9001 / Cr 9101
  (closed) — the commitment leaves the old year's control book;
  Dec 31, kind `carry_forward`: budget Dr 8001 资金结存 / Cr 6001 财政拨款预算收入, financial
  Dr 1201 财政应返还额度 / Cr 4001 财政拨款收入 — the appropriation carried (so it is part
  of the old year's 年末结转和结余 and, opened by the close, of the new year's 年初结转);
  Jan 1 (new year), kind `carry_forward`: Dr 9101 / Cr 9001 — the new year's indicator of
  the same tuple gets the amount (registered in budgets' indicator register);
  Jan 1, kind `commit`: Dr 9201 / Cr 9101 (payments' `commitment_post`) — the request's
  (or contract's) commitment in the new year; the request stays payable and its payment
  spends the carried funds (payments.services.requests.payment_lines).
  Each entry's source is the request or contract (the auditor's trace goes from the new
  year's figure to the old year's document); the document's year becomes the new year
  and a request's `commit_entry` the new commitment.
- released (收回): Dec 31, kind `commit`: Dr 9101 / Cr 9201 (a release counts as a
  commitment, as a contract's early close); the normal close then takes the amount
  back with the unspent indicators. The request is withdrawn (作废) with the reason in
  Chinese and its history kept; a contract is closed with the reason (its requests still
  in payment are withdrawn): paying it needs a new request in the new year.

What each document was before is stored in the close's summary (`commitments`), so
`year_end_reopen` can put it back after reversing the entries."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Sum

from finance import chart
from finance.chart import EntryKind
from finance.ledger import Dims, cr, dr, entry_post
from finance.models import Entry, Line, fen_to_decimal
from finance.services import save_with_history, workflow_record
from payments.models import Contract, PaymentRequest
from payments.services.contracts import IN_PAYMENT, contract_entries, contract_tracking_id
from payments.services.requests import commitment_post

S = PaymentRequest.Status
# the reason a released request or contract carries (workflow step, history)
RELEASE_REASON = ("%(year)s年终结账：资金性质 %(fund)s 的未支付承诺按年终政策收回，已释放 "
                  "%(amount)s 元；本%(what)s不能再支付，如仍需支付，请在 %(next)s 年度重新填报。")
CARRY_REASON = "%(year)s年终结账：未支付承诺 %(amount)s 元结转至 %(next)s 年度，在新年度指标上支付。"


@dataclass
class Commitments:
    """What the close did with open commitments: entries of the old year (posted before
    the closing entries), of the new year, and the documents with their former state."""

    old_entries: list[Entry] = field(default_factory=list)
    new_entries: list[Entry] = field(default_factory=list)
    carry_entries: list[Entry] = field(default_factory=list)  # for the indicator register
    documents: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for action in ("carried", "released"):
            docs = [d for d in self.documents if d["action"] == action]
            total = sum((Decimal(d["amount"]) for d in docs), Decimal("0.00"))
            out[action] = {"count": len(docs), "total": f"{total:.2f}"}
        out["documents"] = self.documents
        return out


def _open_requests(year: int) -> list[PaymentRequest]:
    """Requests in payment whose own commitment was posted in `year` and is not reversed."""
    return list(PaymentRequest.objects.select_for_update(of=("self",))
                .filter(status__in=IN_PAYMENT, contract__isnull=True,
                        commit_entry__fiscal_year=year,
                        commit_entry__reversed_by__isnull=True)
                .select_related("commit_entry").order_by("id"))


def _open_contracts(year: int) -> list[tuple[Contract, Decimal]]:
    """Signed contracts with a commitment left in `year` (9201 of their entries)."""
    out = []
    for c in (Contract.objects.select_for_update(of=("self",))
              .filter(status=Contract.Status.SIGNED, sign_entry__isnull=False).order_by("id")):
        # the contract's entries read first, their lines by entry id (a subquery lets the
        # planner scan every 9201 line of the year, as payments.contract_figures found)
        ids = list(contract_entries(c).values_list("id", flat=True))
        got = (Line.objects.filter(entry_id__in=ids, entry__fiscal_year=year,
                                   book=chart.INDICATOR_BOOK, account__code=chart.COMMITTED)
               .aggregate(d=Sum("debit_fen"), c=Sum("credit_fen")))
        fen = (got["d"] or 0) - (got["c"] or 0)
        if fen > 0:
            out.append((c, fen_to_decimal(fen)))
    return out


def commitments_close(*, year: int, policy: dict[str, str], user: Any, as_of: datetime,
                      ) -> Commitments:
    """The old year's part, before the closing entries are computed: release every open
    commitment of `year`; for a carried one, close it against the authority and carry its
    appropriation (8001/6001, 1201/4001); for a released one, mark the document."""
    on = dt.date(year, 12, 31)
    done = Commitments()
    todo: list[tuple[Any, Decimal, str]] = [(r, r.amount, r.tracking_id)
                                           for r in _open_requests(year)]
    todo += [(c, left, contract_tracking_id(c)) for c, left in _open_contracts(year)]
    for doc, amount, tid in todo:
        d: Dims = doc.dims
        carry = policy.get(d.fund_source, "take_back") == "carry_forward"
        is_request = isinstance(doc, PaymentRequest)
        name = f"支付申请 {tid}" if is_request else f"合同 {doc.number}"
        record = {"model": "request" if is_request else "contract", "id": doc.pk,
                  "action": "carried" if carry else "released", "amount": f"{amount:.2f}",
                  "status": doc.status, "year": doc.year}
        if carry:
            done.old_entries.append(entry_post(
                lines=[dr("indicator", chart.AVAILABLE, amount, d),
                       cr("indicator", chart.COMMITTED, amount, d),
                       dr("indicator", chart.AUTHORITY, amount, d),
                       cr("indicator", chart.AVAILABLE, amount, d)],
                description=f"年终结账 未支付承诺结转 {name} 上年释放", user=user, on=on,
                as_of=as_of, source=doc, kind=EntryKind.CLOSING, tracking_id=tid))
            done.old_entries.append(entry_post(
                lines=[dr("budget", chart.FUNDS_BALANCE, amount, d),
                       cr("budget", chart.FISCAL_APPROPRIATION_REVENUE, amount, d),
                       dr("financial", chart.FISCAL_RECEIVABLE, amount, d),
                       cr("financial", chart.FISCAL_APPROPRIATION_INCOME, amount, d)],
                description=f"年终结账 未支付承诺结转 {name} 财政应返还额度", user=user, on=on,
                as_of=as_of, source=doc, kind=EntryKind.CARRY_FORWARD, tracking_id=tid))
        else:
            entry = entry_post(
                lines=[dr("indicator", chart.AVAILABLE, amount, d),
                       cr("indicator", chart.COMMITTED, amount, d)],
                description=f"年终结账 未支付承诺收回 {name} 释放", user=user, on=on,
                as_of=as_of, source=doc, kind=EntryKind.COMMIT, tracking_id=tid)
            done.old_entries.append(entry)
            _mark_released(doc, entry, amount, year, user, as_of, record)
        done.documents.append(record)
    return done


def _mark_released(doc: Any, entry: Entry, amount: Decimal, year: int, user: Any,
                   as_of: datetime, record: dict[str, Any]) -> None:
    what = "申请" if isinstance(doc, PaymentRequest) else "合同"
    reason = RELEASE_REASON % {"year": year, "fund": doc.fund_source, "amount": f"{amount:.2f}",
                               "what": what, "next": year + 1}
    if isinstance(doc, PaymentRequest):
        _withdraw(doc, reason, user, as_of)
        return
    record["release_entry"] = doc.release_entry_id
    old, doc.status = doc.status, Contract.Status.CLOSED
    doc.release_entry, doc.closed_at, doc.close_reason = entry, as_of, reason[:300]
    doc.closed_by = user if getattr(user, "pk", None) else None
    save_with_history(doc, user=user, reason=reason)
    workflow_record(document=doc, from_state=old, to_state=doc.status, action="year_end_release",
                    user=user, comment=reason, as_of=as_of)
    under = list(doc.requests.select_for_update().filter(status__in=IN_PAYMENT).order_by("id"))
    record["requests"] = [[r.pk, r.status] for r in under]
    for r in under:
        _withdraw(r, reason, user, as_of)


def _withdraw(req: PaymentRequest, reason: str, user: Any, as_of: datetime) -> None:
    old, req.status = req.status, S.WITHDRAWN
    save_with_history(req, user=user, reason=reason)
    workflow_record(document=req, from_state=old, to_state=req.status,
                    action="year_end_release", user=user, comment=reason, as_of=as_of)


def commitments_open(*, done: Commitments, year: int, user: Any, as_of: datetime) -> None:
    """The new year's part, after it is opened: for each carried commitment, the carry of
    its amount into the new year's indicator (Dr 9101 / Cr 9001) and its commitment there
    (payments' `commitment_post`), both with the document as source."""
    on = dt.date(year + 1, 1, 1)
    carried = [d for d in done.documents if d["action"] == "carried"]
    requests = PaymentRequest.objects.in_bulk([d["id"] for d in carried if d["model"] == "request"])
    contracts = Contract.objects.in_bulk([d["id"] for d in carried if d["model"] == "contract"])
    for record in carried:
        is_request = record["model"] == "request"
        doc = requests[record["id"]] if is_request else contracts[record["id"]]
        amount = Decimal(record["amount"])
        tid = doc.tracking_id if is_request else contract_tracking_id(doc)
        name = f"支付申请 {tid}" if is_request else f"合同 {doc.number}"
        d = doc.dims
        carry = entry_post(
            lines=[dr("indicator", chart.AVAILABLE, amount, d),
                   cr("indicator", chart.AUTHORITY, amount, d)],
            description=f"上年未支付承诺结转 {name}（{year}年）", user=user, on=on, as_of=as_of,
            source=doc, kind=EntryKind.CARRY_FORWARD, tracking_id=tid)
        commit = commitment_post(
            dims=d, amount=amount, document=doc, tracking_id=tid,
            description=f"上年未支付承诺 重新占用 {name}", user=user, on=on, as_of=as_of,
            short=lambda exc: exc, once=False)
        done.carry_entries.append(carry)
        done.new_entries += [carry, commit]
        record["commit_entry"] = doc.commit_entry_id if is_request else None
        reason = CARRY_REASON % {"year": year, "amount": f"{amount:.2f}", "next": year + 1}
        doc.year = year + 1
        if is_request:
            doc.commit_entry = commit
        save_with_history(doc, user=user, reason=reason)
        workflow_record(document=doc, from_state=doc.status, to_state=doc.status,
                        action="year_end_carry", user=user, comment=reason, as_of=as_of)
        if not is_request:
            under = list(doc.requests.select_for_update().filter(status__in=IN_PAYMENT))
            for r in under:
                r.year = year + 1
                save_with_history(r, user=user, reason=reason)
            record["requests"] = [r.pk for r in under]


def commitments_reopen(*, summary: dict[str, Any], year: int, user: Any, reason: str,
                       as_of: datetime) -> None:
    """After a reopening reversed the close's entries: every document back as it was
    before the close (year, state, commitment entry), with history and a workflow step."""
    for record in (summary.get("commitments") or {}).get("documents", []):
        model = PaymentRequest if record["model"] == "request" else Contract
        doc = model.objects.select_for_update(of=("self",)).get(pk=record["id"])
        old = doc.status
        doc.year, doc.status = record["year"], record["status"]
        if record["model"] == "request" and record.get("commit_entry"):
            doc.commit_entry_id = record["commit_entry"]
        if record["model"] == "contract" and record["action"] == "released":
            doc.release_entry_id = record.get("release_entry")
            doc.closed_by, doc.closed_at, doc.close_reason = None, None, ""
        save_with_history(doc, user=user, reason=reason)
        workflow_record(document=doc, from_state=old, to_state=doc.status,
                        action="year_end_reopen", user=user, comment=reason, as_of=as_of)
        if record["model"] == "contract":
            for item in record.get("requests", []):
                pk, status = (item, None) if isinstance(item, int) else item
                r = PaymentRequest.objects.select_for_update(of=("self",)).get(pk=pk)
                was = r.status
                r.year = record["year"]
                if status is not None:
                    r.status = status
                save_with_history(r, user=user, reason=reason)
                if status is not None:
                    workflow_record(document=r, from_state=was, to_state=r.status,
                                    action="year_end_reopen", user=user, comment=reason,
                                    as_of=as_of)

