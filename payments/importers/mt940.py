"""SWIFT MT940 statements and MT942 interim transaction reports via the mt-940 library
(which reads MT942's :34F: floor limit and :13D: date-time itself): each :61: line becomes
a StatementRow; the customer reference (or /EREF/ in :86:) carries the voucher number.
The currency is the opening balance's (:60F:/:60M:) in an MT940, the floor limit's
(:34F:) in an MT942."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import mt940 as mt940_lib

from payments.importers.common import BankRows, ImportIssue, StatementRow, decode

EREF = re.compile(r"/EREF/([^/]+)")
MT940, MT942 = "mt940", "mt942"
# an MT942 has a floor limit and a date-time and no opening balance; or says so in its
# SWIFT envelope ({2:O942…} / {2:I942…})
MT942_TAG = re.compile(r"^:(?:34F|13D):|\{2:[IO]942", re.MULTILINE)
DEFAULT_CURRENCY = "CNY"
CURRENCY = re.compile(r"[A-Z]{3}")


def parse_mt940(content: bytes, filename: str) -> BankRows:
    rows = BankRows(filename=filename, format=MT940)
    try:
        text = decode(content).replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        rows.fatal = True
        rows.issues.append(ImportIssue(filename, 0, "encoding", str(exc)))
        return rows
    if MT942_TAG.search(text):
        rows.format = MT942
    # line numbers of the :61: fields, in order, so issues can point at the file line
    tx_lines = [n for n, ln in enumerate(text.split("\n"), start=1) if ln.startswith(":61:")]
    statements = mt940_lib.models.Transactions()
    try:
        statements.parse(text)
    except Exception as exc:  # the library raises bare exceptions for malformed fields
        rows.fatal = True
        rows.issues.append(ImportIssue(filename, 0, "mt940", f"{type(exc).__name__}: {exc}"))
        return rows
    account = str(statements.data.get("account_identification") or "").strip()
    if not account:
        rows.fatal = True
        rows.issues.append(ImportIssue(filename, 0, ":25:", "no account identification"))
        return rows
    if len(statements.transactions) != len(tx_lines):
        rows.fatal = True
        rows.issues.append(ImportIssue(filename, 0, ":61:", (
            f"{len(tx_lines)} :61: lines but {len(statements.transactions)} transactions read")))
        return rows
    for line, tx in zip(tx_lines, statements.transactions, strict=True):
        data = tx.data
        amount: Decimal = data["amount"].amount
        ref = (data.get("bank_reference") or "").strip()
        details = (data.get("transaction_details") or "").replace("\n", "")
        if not ref:
            rows.issues.append(ImportIssue(filename, line, "bank_reference", "required (//REF)"))
            continue
        if amount == 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
            rows.issues.append(ImportIssue(filename, line, "amount", f"not allowed: {amount}"))
            continue
        eref = EREF.search(details)
        customer = (data.get("customer_reference") or "").strip()
        e2e = eref.group(1) if eref else ("" if customer in ("", "NONREF") else customer)
        day = data.get("entry_date") or data["date"]
        currency = str(data.get("currency") or statements.currency or DEFAULT_CURRENCY)
        currency = currency.strip().upper()
        if not CURRENCY.fullmatch(currency):
            rows.issues.append(ImportIssue(filename, line, "currency",
                                           f"not a currency code: {currency!r}"))
            continue
        rows.statement.append(StatementRow(
            line=line, account=account, bank_ref=ref,
            booking_date=dt.date(day.year, day.month, day.day),
            amount=abs(amount).quantize(Decimal("0.01")), credit=amount > 0,
            end_to_end_id=e2e, info=details[:300], currency=currency,
        ))
    return rows
