"""Bank feeds: format detection and one parser module per format (plain dataclasses).

Formats: the agent bank's result file and its own CSV statement (CSV or XLSX, read by
the bank's profile — `payments.importers.dialect`), ISO 20022 pain.002 (payment status
report), camt.053 (statement) and camt.054 (debit/credit notification), SWIFT MT940
(statement) and MT942 (interim report)."""
from __future__ import annotations

from collections.abc import Sequence

from django.utils.translation import gettext_lazy as _

from payments.importers.camt053 import parse_camt053
from payments.importers.common import BankRows, ImportIssue, decode
from payments.importers.dialect import STANDARD, Dialect
from payments.importers.mt940 import parse_mt940
from payments.importers.pain002 import parse_pain002
from payments.importers.tables import parse_table

__all__ = ["BankRows", "Dialect", "ImportIssue", "decode", "detect", "format_label", "parse"]

# what `detect` answers; a table (CSV, XLSX) is a result file or a CSV statement, which
# its header decides (the bank profile that reads it)
CSV, XLSX = "csv", "xlsx"
PAIN002, CAMT053, CAMT054, MT940, MT942 = "pain002", "camt053", "camt054", "mt940", "mt942"
# what a parsed file is (BankRows.format, BankFile.format)
RESULTS, RESULTS_XLSX, STATEMENT_CSV, STATEMENT_XLSX = (
    "results_csv", "results_xlsx", "statement_csv", "statement_xlsx")
STATEMENT_FORMATS = (CAMT053, CAMT054, MT940, MT942, STATEMENT_CSV)  # what a profile may list
# how people call each format (the import pages, the bank files list)
FORMAT_NAMES = {
    CSV: _("table (CSV)"), XLSX: _("workbook (XLSX)"),
    RESULTS: _("payment results (CSV)"), RESULTS_XLSX: _("payment results (XLSX)"),
    STATEMENT_CSV: _("bank statement (CSV)"), STATEMENT_XLSX: _("bank statement (XLSX)"),
    PAIN002: _("payment status report (ISO 20022 pain.002)"),
    CAMT053: _("account statement (ISO 20022 camt.053)"),
    CAMT054: _("debit/credit notification (ISO 20022 camt.054)"),
    MT940: _("account statement (SWIFT MT940)"), MT942: _("interim report (SWIFT MT942)"),
}


def format_label(code: str | None) -> str:
    """A file format in the reader's language (the code itself when unknown)."""
    return str(FORMAT_NAMES.get(code or "", code or ""))
TABLE_DELIMITERS = (",", "\t", "|", ";")


def detect(content: bytes) -> str | None:
    """Which format a file is in, from its content (not its name)."""
    if content.startswith(b"PK\x03\x04"):
        return XLSX
    head = content[:4096].lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<"):
        for marker, fmt in ((b"pain.002", PAIN002), (b"camt.054", CAMT054),
                            (b"camt.053", CAMT053)):
            if marker in head:
                return fmt
        return None
    if head.startswith(b":20:") or head.startswith(b"{1:") or b"\n:20:" in head[:200]:
        swift = content[:16384]
        return MT942 if (b":34F:" in swift or b":13D:" in swift) else MT940
    # the first lines only (a bank may print a title line above the header): the
    # 4,096-byte cut may split a GBK character further on
    lines = head.split(b"\n")
    if len(content) > 4096 and len(lines) > 1:
        lines = lines[:-1]  # cut at byte 4,096: the last line may end mid-character
    for raw in lines[:5]:
        try:
            line = decode(raw).rstrip("\r")
        except UnicodeDecodeError:
            return None
        if not line.replace("\t", " ").isprintable():
            return None
        if any(d in line for d in TABLE_DELIMITERS):
            return CSV
    return None


def parse(content: bytes, filename: str, fmt: str,
          dialects: Sequence[Dialect] | None = None) -> BankRows:
    """Rows and issues of a file in a detected format; tables are read by the first of
    `dialects` (bank profiles; default: the standard one) whose header names fit."""
    if fmt in (CSV, XLSX, RESULTS, RESULTS_XLSX, STATEMENT_CSV, STATEMENT_XLSX):
        return parse_table(content, filename, xlsx=fmt in (XLSX, RESULTS_XLSX, STATEMENT_XLSX),
                           dialects=list(dialects) if dialects else [STANDARD])
    parser = {PAIN002: parse_pain002, CAMT053: parse_camt053, CAMT054: parse_camt053,
              MT940: parse_mt940, MT942: parse_mt940}[fmt]
    return parser(content, filename)
