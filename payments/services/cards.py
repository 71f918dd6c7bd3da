"""公务卡 (official cards): the issuing bank's transaction file imported as the bank writes
it, a unit's repayment (报销还款) of chosen transactions by an ordinary payment request
against one of its indicators, the transactions' state following that request, and the
overdue transactions the nightly sweep raises alerts for (audit.cards).

Design (docs/apps/payments.md, "公务卡"):
- The file (CSV, UTF-8 with or without BOM, or GBK; Chinese headers) is parsed to plain
  rows first; a bad line is an `ImportIssue` (file, line, field, reason) and is not
  stored, the good lines are. A transaction is known by its bank reference per issuing
  bank (the card's CNAPS code): the same file again, or a later file repeating a line,
  stores nothing twice.
- The repayment is paid to the card's account: the cardholder's card as an individual
  payee of the unit's book. Its amount is the sum of the chosen transactions, refunds
  (退货, negative) netted. It commits on the indicator as every request does.
- open → matched (request filed) → repaid (request paid, `card_transactions_settle`
  called where bank results are applied); a 退票, rejection or withdrawal of the request
  puts its transactions back to open.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from finance import roles
from finance.ledger import Dims
from finance.models import Organization
from finance.services import bulk_save_with_history, save_with_history, workflow_record
from payments import errors
from payments.importers.common import ImportIssue
from payments.models import CardTransaction, OfficialCard, Payee, PaymentRequest
from payments.rules import fmt
from payments.services._common import CENT, S
from payments.services.masterdata import payee_bank, payee_save
from payments.services.requests import payment_request_create

T = CardTransaction.Status

# the columns as issuing banks head them (the first name is the one `card_file_text` writes)
COLUMNS: dict[str, tuple[str, ...]] = {
    "card": ("卡号", "公务卡号"),
    "holder": ("持卡人", "持卡人姓名"),
    "traded_on": ("交易日期",),
    "posted_on": ("记账日期", "入账日期"),
    "reference": ("交易流水号", "交易参考号", "流水号"),
    "merchant": ("商户名称",),
    "mcc": ("商户类别码", "MCC"),
    "amount": ("交易金额",),
    "currency": ("币种",),
}
CNY = ("CNY", "人民币", "156", "RMB")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d")
# 公务卡 repayment is due within this many days of the posting date (the monitoring rule
# card_overdue's default `days`, audit.services.DEFAULT_RULES)
OVERDUE_DAYS = 30

MSG_HEADER = _("the header lacks the column(s) %(columns)s")
MSG_ENCODING = _("the file is neither UTF-8 nor GBK text")
MSG_EMPTY = _("the file has no card transactions")
MSG_COLUMNS = _("the line has %(count)s fields, the header %(header)s")
MSG_MISSING = _("%(column)s is empty")
MSG_CARD_UNKNOWN = _("card %(card)s is not a registered official card")
MSG_HOLDER = _("card %(card)s belongs to %(holder)s, the file names %(name)s")
MSG_DATE = _("%(column)s %(value)r is not a date")
MSG_CARD_AMOUNT = _("交易金额 %(value)r is not an amount of yuan with at most 2 decimal places "
                    "other than 0")
MSG_CURRENCY = _("currency %(value)s: only transactions in CNY (人民币) are repaid from an "
                 "indicator")
MSG_REF_TWICE = _("交易流水号 %(value)s appears again (first on line %(first)s)")

MSG_CARD_NUMBER = _("Card number %(number)s is not 16 to 19 digits.")
MSG_CARD_EXISTS = _("Card %(number)s is registered already (unit %(unit)s).")
MSG_CARD_SELECTION = _("Choose open transactions of one card: %(why)s")
MSG_CARD_NOTHING = _("The chosen transactions net to %(amount)s; there is nothing to repay.")
MSG_CARD_REFUSED = _("The pre-review refused the repayment of card %(card)s: %(why)s. Nothing "
                     "was filed.")


class CardError(errors.PaymentError):
    message = _("Official card error")
    code = "card_error"


class CardNumberInvalid(CardError):
    message = MSG_CARD_NUMBER
    code = "card_number_invalid"


class CardExists(CardError):
    message = MSG_CARD_EXISTS
    code = "card_exists"


class CardSelection(CardError):
    message = MSG_CARD_SELECTION
    code = "card_selection"


class CardNothingToRepay(CardError):
    message = MSG_CARD_NOTHING
    code = "card_nothing_to_repay"


class CardRepaymentRefused(CardError):
    message = MSG_CARD_REFUSED
    code = "card_repayment_refused"


def card_mask(number: str) -> str:
    """6222 **** **** 1234: the first and last four digits."""
    number = "".join((number or "").split())
    if len(number) <= 8:
        return "*" * len(number)
    return f"{number[:4]} **** **** {number[-4:]}"


# ------------------------------------------------------------------ cards
def official_card_save(*, unit: Organization, holder: str, number: str, cnaps: str,
                       user: Any, reason: str, active: bool = True,
                       card: OfficialCard | None = None) -> OfficialCard:
    """Register a unit's card (or change its holder, bank or active flag): the treasury or
    the unit's filer (`roles.may_manage_cards`). The number is 16–19 digits (spaces
    removed), once in the register; the issuing bank must be in the bank list."""
    roles.require(roles.may_manage_cards(user, unit.code), user=user,
                  role=[roles.UNIT_FILER, *roles.TREASURY_ROLES], unit=unit)
    if not (reason or "").strip():
        raise errors.ReasonRequired()
    number = "".join((number or "").split())
    if not (number.isdigit() and 16 <= len(number) <= 19):
        raise CardNumberInvalid(number=card_mask(number) or "—")
    payee_bank(cnaps)  # 12 digits and in the bank list, else CnapsFormat / CnapsUnknown
    with transaction.atomic():
        other = OfficialCard.objects.filter(number=number).exclude(
            pk=card.pk if card else None).select_related("organization").first()
        if other is not None:
            raise CardExists(number=card_mask(number), unit=other.organization.code)
        card = card or OfficialCard(organization=unit)
        card.holder, card.number, card.number_masked = holder.strip(), number, card_mask(number)
        card.bank_cnaps, card.active = cnaps.strip(), active
        save_with_history(card, user=user, reason=reason)
        return card


# ------------------------------------------------------------------ the file
@dataclass(frozen=True)
class CardRow:
    line: int
    card: str
    holder: str
    traded_on: dt.date
    posted_on: dt.date
    reference: str
    merchant: str
    mcc: str
    amount: Decimal


@dataclass
class CardParse:
    rows: list[CardRow] = field(default_factory=list)
    issues: list[ImportIssue] = field(default_factory=list)
    fatal: bool = False


def _decode(content: bytes) -> str | None:
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    for enc in ("utf-8", "gb18030"):
        try:
            return content.decode(enc)
        except UnicodeDecodeError:
            continue
    return None


def _amount(text: str) -> Decimal | None:
    text = text.strip().replace(",", "").replace("，", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite() or value.as_tuple().exponent < -2 or value == 0:  # type: ignore[operator]
        return None
    return value.quantize(CENT)


def _date(text: str) -> dt.date | None:
    for f in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), f).date()  # noqa: DTZ007 - a date
        except ValueError:
            continue
    return None


def card_file_parse(content: bytes, filename: str) -> CardParse:
    """Every line of an issuing bank's card file as a `CardRow`, or an issue naming file,
    line (the header is line 1), column and reason; a line with an issue is not a row."""
    out = CardParse()
    text = _decode(content)
    if text is None:
        out.issues.append(ImportIssue(filename, 0, "encoding", str(MSG_ENCODING)))
        out.fatal = True
        return out
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    names = [h.strip() for h in header or []]
    index: dict[str, int] = {}
    for key, heads in COLUMNS.items():
        for h in heads:
            if h in names:
                index[key] = names.index(h)
                break
    if missing := [COLUMNS[k][0] for k in COLUMNS if k not in index]:
        out.issues.append(ImportIssue(filename, 1, "header", str(
            MSG_HEADER % {"columns": "、".join(missing)} if names else MSG_EMPTY)))
        out.fatal = True
        return out
    first: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        row, problems = _row(cells, line, index, len(names))
        for col, why in problems:
            out.issues.append(ImportIssue(filename, line, col, why))
        if row is None:
            continue
        if row.reference in first:
            out.issues.append(ImportIssue(filename, line, "reference", str(MSG_REF_TWICE % {
                "value": row.reference, "first": first[row.reference]})))
            continue
        first[row.reference] = line
        out.rows.append(row)
    if not out.rows and not out.issues:
        out.issues.append(ImportIssue(filename, 1, "header", str(MSG_EMPTY)))
        out.fatal = True
    return out


def _row(cells: list[str], line: int, index: dict[str, int],
         width: int) -> tuple[CardRow | None, list[tuple[str, str]]]:
    if len(cells) < width:
        return None, [("line", str(MSG_COLUMNS % {"count": len(cells), "header": width}))]
    v = {k: cells[i].strip() for k, i in index.items()}
    v["card"] = "".join(v["card"].split())
    problems: list[tuple[str, str]] = []
    for k in ("card", "holder", "traded_on", "posted_on", "reference", "merchant", "amount"):
        if not v[k]:
            problems.append((k, str(MSG_MISSING % {"column": COLUMNS[k][0]})))
    dates = {}
    for k in ("traded_on", "posted_on"):
        if v[k]:
            if (d := _date(v[k])) is None:
                problems.append((k, str(MSG_DATE % {"column": COLUMNS[k][0], "value": v[k]})))
            dates[k] = d
    amount = _amount(v["amount"]) if v["amount"] else None
    if v["amount"] and amount is None:
        problems.append(("amount", str(MSG_CARD_AMOUNT % {"value": v["amount"]})))
    if (v["currency"] or "CNY").upper() not in CNY:
        problems.append(("currency", str(MSG_CURRENCY % {"value": v["currency"]})))
    if problems:
        return None, problems
    return CardRow(line=line, card=v["card"], holder=v["holder"], traded_on=dates["traded_on"],
                   posted_on=dates["posted_on"], reference=v["reference"][:60],
                   merchant=v["merchant"][:200], mcc=v["mcc"][:4], amount=amount), []  # type: ignore[arg-type]


@dataclass
class CardImportReport:
    filename: str
    stored: int = 0
    skipped: int = 0  # known already (same bank reference of the same issuing bank)
    issues: list[ImportIssue] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"filename": self.filename, "stored": self.stored, "skipped": self.skipped,
                "issues": [i.as_dict() for i in self.issues]}


def card_file_import(content: bytes, filename: str, user: Any,
                     as_of: dt.datetime | None = None) -> CardImportReport:
    """The treasury imports an issuing bank's card file (`roles.may_manage_cards`). Good
    lines are stored as open transactions of their cards, bad ones reported with file,
    line, column and reason (an unknown card number, a holder other than the card's, a
    currency other than CNY, …); a transaction stored before (its bank reference for the
    card's issuing bank) is counted as skipped and not touched: the same file again
    changes nothing."""
    as_of = as_of or timezone.now()
    roles.require(roles.may_manage_cards(user), user=user, role=list(roles.TREASURY_ROLES))
    report = CardImportReport(filename=filename)
    parsed = card_file_parse(content, filename)
    report.issues += parsed.issues
    if parsed.fatal:
        return report
    digest = hashlib.sha256(content).hexdigest()
    cards = {c.number: c for c in OfficialCard.objects.filter(
        number__in={r.card for r in parsed.rows})}
    todo: list[CardTransaction] = []
    for r in parsed.rows:
        card = cards.get(r.card)
        if card is None:
            report.issues.append(ImportIssue(filename, r.line, "card", str(
                MSG_CARD_UNKNOWN % {"card": card_mask(r.card)})))
            continue
        if r.holder != card.holder:
            report.issues.append(ImportIssue(filename, r.line, "holder", str(MSG_HOLDER % {
                "card": card.number_masked, "holder": card.holder, "name": r.holder})))
            continue
        todo.append(CardTransaction(
            card=card, bank_cnaps=card.bank_cnaps, reference=r.reference, traded_on=r.traded_on,
            posted_on=r.posted_on, merchant=r.merchant, mcc=r.mcc, amount=r.amount,
            filename=filename[:255], sha256=digest, line_no=r.line, imported_at=as_of))
    with transaction.atomic():
        known = set(CardTransaction.objects.filter(reference__in=[t.reference for t in todo])
                    .values_list("bank_cnaps", "reference"))
        new = [t for t in todo if (t.bank_cnaps, t.reference) not in known]
        report.skipped = len(todo) - len(new)
        bulk_save_with_history(new, user=user, reason=f"card file {filename}"[:100],
                               unique_checked=True)
        report.stored = len(new)
    return report


def card_file_text(*, cards: list[OfficialCard] | list[dict[str, Any]],
                   transactions: list[dict[str, Any]], encoding: str = "gb18030") -> bytes:
    """An issuing bank's card file as the bank writes it: CSV with the Chinese header
    (卡号,持卡人,交易日期,记账日期,交易流水号,商户名称,商户类别码,交易金额,币种), CRLF line
    ends, amounts with thousands separators and 2 places (a refund negative), currency
    CNY; encoded GBK (gb18030) by default, or "utf-8-sig". `cards`: the unit's cards (or
    dicts with number and holder); each transaction: card (the number), traded_on,
    posted_on (dates), reference, merchant, mcc, amount. citysim calls this for a unit's
    month of card spending and imports the bytes with `card_file_import`."""
    holders = {}
    for c in cards:
        number, holder = ((c.number, c.holder) if isinstance(c, OfficialCard)
                          else (str(c["number"]), str(c["holder"])))
        holders[number] = holder
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([COLUMNS[k][0] for k in COLUMNS])
    for t in transactions:
        amount = Decimal(str(t["amount"])).quantize(CENT)
        w.writerow([t["card"], holders[t["card"]], t["traded_on"].isoformat(),
                    t["posted_on"].isoformat(), t["reference"], t["merchant"], t.get("mcc", ""),
                    f"{amount:,.2f}", "CNY"])
    return buf.getvalue().encode(encoding)


# ------------------------------------------------------------------ repayment
def _card_payee(card: OfficialCard, *, user: Any, as_of: dt.datetime) -> Payee:
    """The card's account as an individual payee of the unit's book (found by number)."""
    found = Payee.objects.filter(unit=card.organization, account_number=card.number).first()
    bank = payee_bank(card.bank_cnaps)
    return payee_save(payee=found, name=card.holder, account_number=card.number,
                      bank_name=bank.bank_name, branch_name=bank.branch_name,
                      cnaps=card.bank_cnaps, is_individual=True, user=user,
                      unit=card.organization, reason="公务卡还款", as_of=as_of)


# the purpose a repayment request starts with (how the treasury's lists find them)
REPAYMENT_PURPOSE = "公务卡还款"


def card_repayment_file(*, transactions: list[CardTransaction], dims: Dims, year: int,
                        user: Any, purpose: str = "",
                        as_of: dt.datetime | None = None) -> PaymentRequest:
    """报销还款: the unit's filer repays open transactions of one of its cards from one of
    its indicators: a payment request (`payment_request_create`, filed and submitted:
    committed on the indicator) of their sum — refunds netted — to the card's account;
    the transactions become matched and name the request. Refused with nothing written
    when a transaction is not open or of another card, when they net to nothing, or when
    the pre-review refuses the request."""
    as_of = as_of or timezone.now()
    ids = sorted({t.pk for t in transactions})
    with transaction.atomic():
        rows = list(CardTransaction.objects.select_for_update().filter(pk__in=ids).order_by("id"))
        cards = {t.card_id for t in rows}
        if not rows or len(rows) != len(ids) or len(cards) != 1:
            raise CardSelection(why=_("one card, at least one transaction"))
        card = OfficialCard.objects.select_related("organization").get(pk=cards.pop())
        roles.require(roles.may_file(user, card.organization.code), user=user,
                      role=roles.UNIT_FILER, unit=card.organization)
        if not_open := [t.reference for t in rows if t.status != T.OPEN]:
            raise CardSelection(why=", ".join(not_open))
        total = sum((t.amount for t in rows), Decimal("0.00"))
        if total <= 0:
            raise CardNothingToRepay(amount=fmt(total))
        payee = _card_payee(card, user=user, as_of=as_of)
        req = payment_request_create(
            dims=dims, year=year, amount=total, payee=payee, user=user, as_of=as_of,
            purpose=(purpose or f"{REPAYMENT_PURPOSE} {card.number_masked} {card.holder} "
                              f"{len(rows)}笔")[:300],
            submit=True)
        if req.status == S.REFUSED:
            why = "; ".join(req.hits.filter(action="refuse").values_list("reason", flat=True))
            raise CardRepaymentRefused(card=card.number_masked, why=why)
        for t in rows:
            t.status, t.request = T.MATCHED, req
        bulk_save_with_history(rows, user=user, reason=f"repayment {req.tracking_id}",
                               fields=["status", "request"])
        workflow_record(document=req, from_state=req.status, to_state=req.status,
                        action="card_match", user=user, as_of=as_of,
                        comment=f"{card.number_masked}: " + ", ".join(t.reference for t in rows))
        return req


# the request states that leave its transactions unrepaid for good: back to open
_RELEASING = (S.RETURNED, S.REJECTED, S.WITHDRAWN)


def card_transactions_settle(request_ids: list[int], *, user: Any = None,
                             reason: str = "") -> int:
    """The transactions of these requests follow them: a paid request's are repaid; a
    returned (退票), rejected or withdrawn request's are open again (no request). Called
    where requests are paid or returned (bank results), rejected and withdrawn; safe to
    call again. Returns the number of transactions changed."""
    if not request_ids:
        return 0
    rows = list(CardTransaction.objects.select_for_update(of=("self",))
                .filter(request_id__in=request_ids).exclude(status=T.OPEN)
                .select_related("request").order_by("id"))
    changed: list[CardTransaction] = []
    reasons: list[str] = []
    for t in rows:
        req = t.request
        assert req is not None  # noqa: S101 - matched and repaid ones name their request
        if req.status == S.PAID and t.status != T.REPAID:
            t.status = T.REPAID
        elif req.status in _RELEASING:
            t.status, t.request = T.OPEN, None
        else:
            continue
        changed.append(t)
        reasons.append((reason or f"request {req.tracking_id} {req.status}")[:100])
    bulk_save_with_history(changed, user=user, reason="repayment", reasons=reasons,
                           fields=["status", "request"])
    return len(changed)


# ------------------------------------------------------------------ reading
@dataclass(frozen=True)
class CardOverdue:
    """A card's open transactions posted more than `days` days before the sweep date."""

    card: OfficialCard
    count: int
    amount: Decimal
    oldest: CardTransaction


def card_overdue_cutoff(on: dt.date, days: int = OVERDUE_DAYS) -> dt.date:
    """Transactions posted before this date are overdue on `on`: on day `days` + 1 after
    the posting date, not on day `days` (posted 1 March, 30 days: overdue on 1 April, not
    on 31 March)."""
    return on - dt.timedelta(days=days)


def cards_overdue(*, on: dt.date, days: int = OVERDUE_DAYS,
                  unit_code: str | None = None) -> list[CardOverdue]:
    """Per card: its open charges (amount > 0; a refund owes nothing) posted before
    `card_overdue_cutoff(on, days)`."""
    qs = (CardTransaction.objects.filter(status=T.OPEN, amount__gt=0,
                                         posted_on__lt=card_overdue_cutoff(on, days))
          .select_related("card__organization").order_by("card_id", "posted_on", "id"))
    if unit_code is not None:
        qs = qs.filter(card__organization__code=unit_code)
    by_card: dict[int, list[CardTransaction]] = defaultdict(list)
    for t in qs:
        by_card[t.card_id].append(t)
    return [CardOverdue(card=ts[0].card, count=len(ts),
                        amount=sum((t.amount for t in ts), Decimal("0.00")), oldest=ts[0])
            for ts in by_card.values()]
