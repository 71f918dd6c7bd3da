"""The agent bank's payment-result file (GBK CSV): one line per voucher, 成功 or 失败
with the bank's reason (退票)."""
from __future__ import annotations

import csv
import datetime as dt
import io

from django.utils import timezone

from payments.importers.common import BankRows, ImportIssue, ResultRow, decode, money

COLUMNS = {
    "voucher_number": "支付凭证号", "payer_account": "付款账号", "payee_account": "收款账号",
    "payee_name": "收款户名", "amount": "金额", "status": "交易状态", "bank_ref": "银行流水号",
    "traded_at": "交易时间", "reason": "失败原因",
}
SUCCESS, FAILURE = "成功", "失败"


def parse_results_csv(content: bytes, filename: str) -> BankRows:
    rows = BankRows(filename=filename, format="results_csv")
    try:
        text = decode(content)
    except UnicodeDecodeError as exc:
        rows.fatal = True
        rows.issues.append(ImportIssue(filename, 0, "encoding", str(exc)))
        return rows
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in COLUMNS.values() if c not in (reader.fieldnames or [])]
    if missing:
        rows.fatal = True
        rows.issues.append(ImportIssue(filename, 1, "header", f"missing columns: {missing}"))
        return rows
    for raw in reader:
        line = reader.line_num
        get = {k: (raw.get(col) or "").strip() for k, col in COLUMNS.items()}
        try:
            row = _row(line, get)
        except ValueError as exc:
            field, _, reason = str(exc).partition(": ")
            rows.issues.append(ImportIssue(filename, line, field, reason))
            continue
        rows.results.append(row)
    return rows


def _row(line: int, get: dict[str, str]) -> ResultRow:
    for key in ("voucher_number", "bank_ref", "amount", "status", "traded_at"):
        if not get[key]:
            raise ValueError(f"{key}: required")
    try:
        amount = money(get["amount"])
    except ValueError as exc:
        raise ValueError(f"amount: {exc}") from None
    if get["status"] not in (SUCCESS, FAILURE):
        raise ValueError(f"status: unknown status {get['status']!r} (expected 成功 or 失败)")
    try:
        naive = dt.datetime.strptime(get["traded_at"], "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007 - bank local time, made aware below
    except ValueError:
        raise ValueError(f"traded_at: not a time YYYY-MM-DD HH:MM:SS: {get['traded_at']!r}") from None
    success = get["status"] == SUCCESS
    if not success and not get["reason"]:
        raise ValueError("reason: a failed payment needs the bank's reason")
    return ResultRow(
        line=line, voucher_number=get["voucher_number"], payer_account=get["payer_account"],
        payee_account=get["payee_account"], payee_name=get["payee_name"], amount=amount,
        success=success, bank_ref=get["bank_ref"],
        traded_at=timezone.make_aware(naive), reason=get["reason"],
    )
