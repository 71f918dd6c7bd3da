"""Tables an agent bank sends: its payment-result file and its own CSV statement, as CSV
or XLSX, each read by the bank's dialect (`payments.importers.dialect`). Which file it is,
and whose dialect reads it, is decided by the header: the dialect whose column names (or
aliases) all appear; several fitting dialects → the one that reads the file with the
fewest issues. Title lines above the header (banks print "交易结果明细" and a date) are
skipped."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence

from django.utils import timezone

from payments.importers.common import (
    PAID,
    BankRows,
    ImportIssue,
    ResultRow,
    StatementRow,
    decode,
)
from payments.importers.dialect import RESULT_REQUIRED, STATEMENT_REQUIRED, Dialect

HEADER_SEARCH = 10  # rows looked at for the header


def _text(content: bytes, encoding: str) -> str:
    if encoding == "auto":
        return decode(content)
    return content.decode(encoding).lstrip("\ufeff")


def _rows_csv(content: bytes, dialect: Dialect) -> list[tuple[int, list[str]]]:
    text = _text(content, dialect.encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=dialect.delimiter)
    out = []
    for raw in reader:
        out.append((reader.line_num, [c.strip() for c in raw]))
    return out


def _rows_xlsx(content: bytes) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook  # noqa: PLC0415 - only for XLSX files

    wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        out = []
        for n, values in enumerate(ws.iter_rows(values_only=True), start=1):
            out.append((n, [_cell(v) for v in values]))
        return out
    finally:
        wb.close()


def _cell(value: object) -> str:
    """A cell as the bank meant it: text as is, a number with its two places (a cell
    of 12500 is 12500.00, 3280.5 is 3280.50 — a float cell never had more), a date or
    time in ISO form (the dialect's formats include ISO for XLSX)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value - round(value, 2)) < 1e-9 else repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    return str(value).strip()


def _columns(header: list[str], names: dict[str, list[str]],
             required: Sequence[str]) -> dict[str, int] | None:
    at = {h: i for i, h in enumerate(header) if h}
    cols: dict[str, int] = {}
    for field, aliases in names.items():
        for alias in aliases:
            if alias in at:
                cols[field] = at[alias]
                break
    if all(f in cols for f in required):
        return cols
    return None


def _fit(rows: list[tuple[int, list[str]]], dialect: Dialect
         ) -> tuple[str, int, dict[str, int]] | None:
    """(kind, index of the header row, field → column) if this dialect reads the table."""
    for i, (_n, cells) in enumerate(rows[:HEADER_SEARCH]):
        if dialect.result_columns:
            cols = _columns(cells, dialect.result_columns, RESULT_REQUIRED)
            if cols is not None:
                return "results", i, cols
        if dialect.statement_columns:
            cols = _columns(cells, dialect.statement_columns, STATEMENT_REQUIRED)
            has_amount = cols is not None and (
                "amount" in cols or ("debit_amount" in cols and "credit_amount" in cols))
            if cols is not None and has_amount:
                return "statement", i, cols
    return None


def _head_fits(content: bytes, dialect: Dialect) -> bool:
    """Whether the dialect's header names appear in the first lines (read cheaply, so a
    long file is decoded in full only by the dialects whose header fits)."""
    head = content[:16384]
    if len(content) > len(head):
        head = head[:head.rfind(b"\n") + 1] or head
    try:
        text = (_text(head, dialect.encoding) if dialect.encoding != "auto"
                else decode(head))
    except UnicodeDecodeError:
        return True  # let the full read report it
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=dialect.delimiter)
    try:
        rows = [(reader.line_num, [c.strip() for c in raw])
                for raw, _n in zip(reader, range(HEADER_SEARCH), strict=False)]
    except csv.Error:
        return True
    return _fit(rows, dialect) is not None


def parse_table(content: bytes, filename: str, *, xlsx: bool,
                dialects: Sequence[Dialect]) -> BankRows:
    tries: list[BankRows] = []
    failures: list[str] = []
    sheet: list[tuple[int, list[str]]] | None = None  # an XLSX is read once
    for dialect in dialects:
        if not xlsx and not _head_fits(content, dialect):
            continue
        try:
            if xlsx:
                sheet = sheet if sheet is not None else _rows_xlsx(content)
                rows = sheet
            else:
                rows = _rows_csv(content, dialect)
        except (UnicodeDecodeError, csv.Error, ValueError, KeyError, OSError) as exc:
            failures.append(f"{dialect.code}: {type(exc).__name__}: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on a broken file
            failures.append(f"{dialect.code}: {type(exc).__name__}: {exc}")
            continue
        fit = _fit(rows, dialect)
        if fit is None:
            continue
        kind, at, cols = fit
        read = (_results if kind == "results" else _statement)(rows[at + 1:], cols, dialect,
                                                             filename)
        read.format = f"{kind if kind == 'statement' else 'results'}_{'xlsx' if xlsx else 'csv'}"
        read.profile = dialect.code
        tries.append(read)
        if not read.issues:
            break
    if tries:
        return min(tries, key=lambda r: (len(r.issues), -r.total))
    out = BankRows(filename=filename, format="xlsx" if xlsx else "csv", fatal=True)
    reason = ("no bank profile's column names fit the header"
              f" (profiles tried: {', '.join(d.code for d in dialects)})")
    if failures:
        reason += "; " + "; ".join(failures[:3])
    out.issues.append(ImportIssue(filename, 1, "header", reason))
    return out


def _body(rows: list[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    for n, cells in rows:
        if any(cells):
            yield n, cells


def _results(rows: list[tuple[int, list[str]]], cols: dict[str, int], dialect: Dialect,
             filename: str) -> BankRows:
    out = BankRows(filename=filename, format="results")
    for n, cells in _body(rows):
        get = {f: (cells[i] if i < len(cells) else "") for f, i in cols.items()}
        try:
            out.results.append(_result(n, get, dialect))
        except ValueError as exc:
            field, _, reason = str(exc).partition(": ")
            out.issues.append(ImportIssue(filename, n, field, reason))
    return out


def _result(line: int, get: dict[str, str], dialect: Dialect) -> ResultRow:
    for key in RESULT_REQUIRED:
        if not get.get(key):
            raise ValueError(f"{key}: required")
    try:
        amount = dialect.money(get["amount"])
    except ValueError as exc:
        raise ValueError(f"amount: {exc}") from None
    try:
        outcome = dialect.outcome(get["status"])
    except ValueError as exc:
        raise ValueError(f"status: {exc}") from None
    try:
        naive = dialect.time(get["traded_at"])
    except ValueError as exc:
        raise ValueError(f"traded_at: {exc}") from None
    reason = get.get("reason", "")
    if outcome not in (PAID, "pending") and not reason:
        reason = get["status"]  # the bank's word is the reason it gives
    return ResultRow(
        line=line, voucher_number=get["voucher_number"],
        payer_account=get.get("payer_account", ""), payee_account=get.get("payee_account", ""),
        payee_name=get.get("payee_name", ""), amount=amount, outcome=outcome,
        bank_ref=get["bank_ref"], traded_at=timezone.make_aware(naive), reason=reason,
        status_word=get["status"])


def _nonzero(text: str) -> str:
    """'' for an empty side of a two-column statement ('', '-', '0.00', '0,00')."""
    t = text.strip()
    return "" if set(t) <= set("-0., ") else t


def _statement(rows: list[tuple[int, list[str]]], cols: dict[str, int], dialect: Dialect,
               filename: str) -> BankRows:
    out = BankRows(filename=filename, format="statement")
    for n, cells in _body(rows):
        get = {f: (cells[i] if i < len(cells) else "") for f, i in cols.items()}
        try:
            out.statement.append(_statement_row(n, get, dialect))
        except ValueError as exc:
            field, _, reason = str(exc).partition(": ")
            out.issues.append(ImportIssue(filename, n, field, reason))
    return out


def _statement_row(line: int, get: dict[str, str], dialect: Dialect) -> StatementRow:
    for key in STATEMENT_REQUIRED:
        if not get.get(key):
            raise ValueError(f"{key}: required")
    try:
        day = dialect.date(get["booking_date"])
    except ValueError as exc:
        raise ValueError(f"booking_date: {exc}") from None
    debit, credit = _nonzero(get.get("debit_amount", "")), _nonzero(get.get("credit_amount", ""))
    try:
        if "debit_amount" in get and "credit_amount" in get:
            if debit and credit:
                raise ValueError(f"both a debit {debit!r} and a credit {credit!r}")
            if not (debit or credit):
                raise ValueError("neither a debit nor a credit amount")
            amount, is_credit = dialect.money(credit or debit), bool(credit)
        elif "direction" in get and get["direction"]:
            side = dialect.direction_words.get(get["direction"])
            if side is None:
                raise ValueError(f"direction: unknown debit/credit word {get['direction']!r}: "
                                 f"not in bank profile {dialect.code!r}")
            amount, is_credit = dialect.money(get["amount"]), side == "credit"
        else:
            amount, is_credit = dialect.signed(get.get("amount", ""))
    except ValueError as exc:
        text = str(exc)
        raise ValueError(text if text.startswith("direction: ") else f"amount: {text}") from None
    return StatementRow(
        line=line, account=get["account"], bank_ref=get["bank_ref"], booking_date=day,
        amount=amount, credit=is_credit, end_to_end_id=get.get("end_to_end_id", ""),
        payee_account=get.get("payee_account", ""), payee_name=get.get("payee_name", ""),
        info=get.get("info", "")[:300], currency=(get.get("currency") or "CNY").upper()
        .replace("人民币", "CNY").replace("RMB", "CNY"))
