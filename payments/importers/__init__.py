"""Bank feeds: format detection and one parser module per format (plain dataclasses)."""
from __future__ import annotations

from payments.importers.camt053 import parse_camt053
from payments.importers.common import BankRows, ImportIssue, decode
from payments.importers.mt940 import parse_mt940
from payments.importers.results_csv import parse_results_csv

__all__ = ["BankRows", "ImportIssue", "decode", "detect", "parse"]

RESULTS, CAMT053, MT940 = "results_csv", "camt053", "mt940"


def detect(content: bytes) -> str | None:
    """Which format a file is in, from its content (not its name)."""
    head = content[:4096].lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<") and b"camt.053" in head:
        return CAMT053
    if head.startswith(b":20:") or head.startswith(b"{1:") or b"\n:20:" in head[:200]:
        return MT940
    try:
        # the first line only: the 4,096-byte cut may split a GBK character further on
        first = decode(head.split(b"\n", 1)[0]).rstrip("\r") if head else ""
    except UnicodeDecodeError:
        return None
    if first.startswith("支付凭证号"):
        return RESULTS
    return None


def parse(content: bytes, filename: str, fmt: str) -> BankRows:
    parser = {RESULTS: parse_results_csv, CAMT053: parse_camt053, MT940: parse_mt940}[fmt]
    return parser(content, filename)
