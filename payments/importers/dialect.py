"""A bank's dialect: how one agent bank writes its result file and its CSV statement —
encoding, delimiter, header names (with aliases), time and date formats, decimal and
thousands style, its status words mapped onto the four outcomes, and which statement
formats it sends. Plain data: the treasury keeps one per bank as a
`payments.models.BankProfile` (editable, with history); the parsers only see this."""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from decimal import Decimal

from payments.importers.common import OUTCOMES, money

ENCODINGS = ("auto", "utf-8", "gb18030")
RESULT_FIELDS = ("voucher_number", "payer_account", "payee_account", "payee_name", "amount",
                 "status", "bank_ref", "traded_at", "reason")
RESULT_REQUIRED = ("voucher_number", "amount", "status", "bank_ref", "traded_at")
STATEMENT_FIELDS = ("account", "booking_date", "direction", "amount", "debit_amount",
                    "credit_amount", "bank_ref", "end_to_end_id", "payee_account",
                    "payee_name", "info", "currency")
STATEMENT_REQUIRED = ("account", "booking_date", "bank_ref")
DIRECTIONS = ("debit", "credit")


@dataclass(frozen=True)
class Dialect:
    code: str
    name: str = ""
    encoding: str = "auto"
    delimiter: str = ","
    result_columns: dict[str, list[str]] = field(default_factory=dict)
    statement_columns: dict[str, list[str]] = field(default_factory=dict)
    time_formats: list[str] = field(default_factory=lambda: ["%Y-%m-%d %H:%M:%S"])
    date_formats: list[str] = field(default_factory=lambda: ["%Y-%m-%d"])
    decimal_mark: str = "."
    thousands_sep: str = ","
    statuses: dict[str, str] = field(default_factory=dict)
    direction_words: dict[str, str] = field(default_factory=dict)
    statement_formats: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """What makes this dialect unusable (shown on the profile form)."""
        out = []
        if self.encoding not in ENCODINGS:
            out.append(f"encoding {self.encoding!r} is not one of {ENCODINGS}")
        if len(self.delimiter) != 1:
            out.append("the delimiter is one character")
        if self.decimal_mark not in (".", ","):
            out.append("the decimal mark is . or ,")
        if self.thousands_sep == self.decimal_mark:
            out.append("the thousands separator differs from the decimal mark")
        for word, outcome in self.statuses.items():
            if outcome not in OUTCOMES:
                out.append(f"status {word!r}: {outcome!r} is not one of {OUTCOMES}")
        for word, side in self.direction_words.items():
            if side not in DIRECTIONS:
                out.append(f"direction {word!r}: {side!r} is not one of {DIRECTIONS}")
        if self.result_columns:
            out += [f"result column {f!r} is not named" for f in RESULT_REQUIRED
                    if not self.result_columns.get(f)]
            out += [f"unknown result field {f!r}" for f in self.result_columns
                    if f not in RESULT_FIELDS]
        if self.statement_columns:
            out += [f"statement column {f!r} is not named" for f in STATEMENT_REQUIRED
                    if not self.statement_columns.get(f)]
            out += [f"unknown statement field {f!r}" for f in self.statement_columns
                    if f not in STATEMENT_FIELDS]
        sample = dt.datetime(2026, 11, 23, 14, 5, 6)  # noqa: DTZ001 - a bank's local time
        for fmt in self.time_formats + self.date_formats:
            # a format reads back what it writes, with the day in it (strftime alone
            # passes unknown codes through on Linux: '%Q', 'yyyy-mm-dd' would "work")
            try:
                back = dt.datetime.strptime(sample.strftime(fmt), fmt)  # noqa: DTZ007
            except ValueError:
                back = None
            if back is None or back.date() != sample.date():
                out.append(f"not a time format (it must read back the date it writes): {fmt!r}")
        return out

    def money(self, text: str) -> Decimal:
        """An amount in this bank's decimal and thousands style (`common.money`)."""
        return money(text, decimal_mark=self.decimal_mark, thousands_sep=self.thousands_sep)

    def signed(self, text: str) -> tuple[Decimal, bool]:
        """A signed amount ('-1,200.00' is a debit) → (amount, credit)."""
        raw = text.strip()
        negative = raw.startswith("-") or (raw.startswith("(") and raw.endswith(")"))
        raw = raw.lstrip("+-").strip("()")
        return self.money(raw), not negative

    def time(self, text: str) -> dt.datetime:
        for fmt in self.time_formats:
            try:
                return dt.datetime.strptime(text.strip(), fmt)  # noqa: DTZ007 - bank local time
            except ValueError:
                continue
        raise ValueError(f"not a time in {' or '.join(self.time_formats)}: {text!r}")

    def date(self, text: str) -> dt.date:
        return _date((*self.date_formats, *self.time_formats), text, tuple(self.date_formats))

    def outcome(self, word: str) -> str:
        try:
            return self.statuses[word.strip()]
        except KeyError:
            raise ValueError(
                f"unknown status {word!r}: not in bank profile {self.code!r} "
                f"(add the word to that profile's status words)") from None


@functools.lru_cache(maxsize=4096)
def _date(formats: tuple[str, ...], text: str, named: tuple[str, ...]) -> dt.date:
    """A date read with the first format that fits (cached: a statement's lines share a
    few booking dates; a refusal is raised each time, not cached)."""
    for fmt in formats:
        try:
            return dt.datetime.strptime(text.strip(), fmt).date()  # noqa: DTZ007 - a date
        except ValueError:
            continue
    raise ValueError(f"not a date in {' or '.join(named)}: {text!r}")


# The format of the first sample (../shared/samples/bank): the profile of a bank that
# has none of its own, and what the parsers use when given no profile.
STANDARD = Dialect(
    code="standard", name="标准格式 (支付凭证号…失败原因)",
    result_columns={
        "voucher_number": ["支付凭证号"], "payer_account": ["付款账号"],
        "payee_account": ["收款账号"], "payee_name": ["收款户名"], "amount": ["金额"],
        "status": ["交易状态"], "bank_ref": ["银行流水号"], "traded_at": ["交易时间"],
        "reason": ["失败原因"]},
    statuses={"成功": "paid", "失败": "rejected"},
    statement_formats=["camt053", "mt940"],
)
