"""What every bank parser returns: rows as dataclasses plus (file, line, field, reason) issues."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation


@dataclass(frozen=True)
class ImportIssue:
    file: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.reason}"

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "field": self.field, "reason": self.reason}


# What a bank says became of a payment (a result file's status word, a pain.002 TxSts),
# whatever words it uses: the bank profile maps its words onto these four.
PAID, RETURNED, REJECTED, PENDING = "paid", "returned", "rejected", "pending"
OUTCOMES = (PAID, RETURNED, REJECTED, PENDING)


@dataclass(frozen=True)
class ResultRow:
    """One payment's result as the agent bank reports it (a result-file line, a pain.002
    transaction status). `outcome` is one of OUTCOMES; `amount` is None when the report
    does not repeat it (pain.002 may not); `status_word` is the bank's own word."""

    line: int
    voucher_number: str
    payer_account: str
    payee_account: str
    payee_name: str
    amount: Decimal | None
    outcome: str
    bank_ref: str
    traded_at: dt.datetime
    reason: str
    status_word: str = ""

    @property
    def success(self) -> bool:
        return self.outcome == PAID


@dataclass(frozen=True)
class StatementRow:
    """One booked entry of an account statement (camt.053 / MT940)."""

    line: int
    account: str
    bank_ref: str
    booking_date: dt.date
    amount: Decimal
    credit: bool
    end_to_end_id: str = ""
    payee_account: str = ""
    payee_name: str = ""
    info: str = ""
    currency: str = "CNY"
    batch_ref: str = ""  # the booked entry this line was split from (camt batch), if any


@dataclass
class BankRows:
    filename: str
    format: str
    results: list[ResultRow] = field(default_factory=list)
    statement: list[StatementRow] = field(default_factory=list)
    issues: list[ImportIssue] = field(default_factory=list)
    fatal: bool = False  # nothing could be read: store nothing
    profile: str = ""  # the bank profile (code) the file was read with, if any

    @property
    def total(self) -> int:
        return len(self.results) + len(self.statement)


def decode(content: bytes) -> str:
    """UTF-8 (with or without BOM) or GBK, as Chinese banks send it."""
    if content.startswith(b"\xef\xbb\xbf"):
        return content[3:].decode("utf-8")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("gb18030")


MAX_AMOUNT = Decimal("1e15")  # 1,000 trillion yuan; fen fit in a bigint


def money(text: str, *, decimal_comma: bool = False, decimal_mark: str = ".",
          thousands_sep: str = ",") -> Decimal:
    """An amount as a bank writes it → Decimal with 2 places; refuses 3 places, zero and
    below, and anything else. '1,250,000.00' by default; MT940's '1250000,00' with
    `decimal_comma`; any bank's style with its `decimal_mark` and `thousands_sep`
    ('1.250.000,00', '1 250 000,00', '1250000.00')."""
    if decimal_comma:
        decimal_mark, thousands_sep = ",", ""
    raw = text.strip().replace("\u00a0", " ")
    if thousands_sep:
        raw = raw.replace(thousands_sep, "")
    raw = raw.replace(" ", "")
    if decimal_mark == ",":
        raw = raw.replace(",", ".")
    elif "," in raw:
        raise ValueError(f"not an amount: {text!r}")
    if raw.endswith("."):
        raw += "00"
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r}") from None
    if not value.is_finite() or value <= 0 or value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError(f"not a positive amount with at most 2 places: {text!r}")
    if value >= MAX_AMOUNT:  # quantize would overflow the context's 28 digits
        raise ValueError(f"amount too large: {text!r}")
    return value.quantize(Decimal("0.01"))
