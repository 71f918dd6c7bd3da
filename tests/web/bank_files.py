"""The agent bank's side, for the treasury screen tests: read the voucher CSV the
treasury sends (GBK, the export of web/treasury or the API) and answer with the bank's
payment-result CSV in the real format (GBK, thousands separators, 成功/失败 + reason),
as the sample tests/samples/bank/payment_results_20261015_gbk.csv."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

RESULT_HEADER = ["支付凭证号", "付款账号", "付款户名", "收款账号", "收款户名", "收款行", "金额",
                 "交易状态", "银行流水号", "交易时间", "失败原因"]


def vouchers_of(voucher_csv: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(voucher_csv.decode("gb18030"), newline="")))


def result_csv(voucher_csv: bytes, *, traded_at: str, ref_prefix: str = "BK",
               failures: dict[str, str] | None = None,
               amounts: dict[str, Decimal] | None = None) -> bytes:
    """One result line per voucher of the treasury's file: 成功, or 失败 with the reason
    given for its number; `amounts` overrides an amount (a bank error)."""
    failures, amounts = failures or {}, amounts or {}
    out = io.StringIO(newline="")
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(RESULT_HEADER)
    for n, v in enumerate(vouchers_of(voucher_csv), start=1):
        number = v["支付凭证号"]
        amount = amounts.get(number, Decimal(v["金额"]))
        failed = number in failures
        w.writerow([number, v["付款账号"], v["付款户名"], v["收款账号"], v["收款户名"], v["收款行"],
                    f"{amount:,.2f}", "失败" if failed else "成功", f"{ref_prefix}{n:010d}",
                    traded_at, failures.get(number, "")])
    return out.getvalue().encode("gbk")
