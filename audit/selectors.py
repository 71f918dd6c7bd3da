"""Reads of the audit app: history as of a moment and between two, traces of figures,
alerts, and the access log."""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from django.db.models import QuerySet
from openpyxl import Workbook

from audit.history import model_title, record_as_of, record_changes
from audit.models import Alert
from audit.seals import history_models
from audit.trace import (
    MEASURES,
    TraceEntry,
    TraceLine,
    TraceSource,
    documents,
    entries_of,
    trace,
    trace_query,
    trace_ref,
    trace_ref_parse,
    trace_resolve,
    trace_run,
)
from finance.models import Entry, Line, fen_to_decimal

__all__ = [
    "MEASURES", "model_title", "alert_list", "alerts_export", "entry_detail", "history_models", "record_as_of",
    "record_changes", "trace", "trace_query", "trace_ref", "trace_ref_parse", "trace_resolve",
    "trace_run",
]


# ------------------------------------------------------------------------ alerts
def alert_list(*, status: str = "", rule: str = "", unit: str = "", owner: str = "",
               raised_from: dt.date | None = None, raised_to: dt.date | None = None,
               year: int | None = None) -> QuerySet[Alert]:
    """Alerts, newest first, filtered by any of status, rule code, unit code, owner
    username, year and the day raised (inclusive)."""
    qs = Alert.objects.select_related("rule", "owner", "entry")
    if status:
        qs = qs.filter(status=status)
    if rule:
        qs = qs.filter(rule__code=rule)
    if unit:
        qs = qs.filter(unit_code=unit)
    if owner:
        qs = qs.filter(owner__username=owner)
    if year:
        qs = qs.filter(year=year)
    if raised_from:
        qs = qs.filter(raised_at__date__gte=raised_from)
    if raised_to:
        qs = qs.filter(raised_at__date__lte=raised_to)
    return qs.order_by("-raised_at", "-id")


EXPORT_COLUMNS = ("id", "rule", "severity", "status", "owner", "unit", "year", "amount",
                  "entry", "raised_at", "message")


def _export_rows(alerts: QuerySet[Alert]) -> list[list[str]]:
    return [[str(a.pk), a.rule.code, a.rule.severity, a.status,
             a.owner.get_username() if a.owner else "", a.unit_code, str(a.year or ""),
             str(fen_to_decimal(a.amount_fen)),
             f"{a.entry.fiscal_year}-{a.entry.number}" if a.entry else "",
             a.raised_at.isoformat(), a.message] for a in alerts]


def alerts_export(*, alerts: QuerySet[Alert], fmt: str) -> tuple[bytes, str, str]:
    """(content, content type, file name) of the alerts as CSV (UTF-8 with BOM, for
    Excel) or XLSX; amounts are text with two decimals, never floats."""
    rows = _export_rows(alerts)
    if fmt == "xlsx":
        wb = Workbook()
        ws = wb.active
        ws.title = "alerts"
        ws.append(list(EXPORT_COLUMNS))
        for row in rows:
            ws.append(row)
        buf = io.BytesIO()
        wb.save(buf)
        return (buf.getvalue(),
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "alerts.xlsx")
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(EXPORT_COLUMNS)
    writer.writerows(rows)
    return ("\ufeff" + text.getvalue()).encode("utf-8"), "text/csv; charset=utf-8", "alerts.csv"


# ------------------------------------------------------------------------ entries
@dataclass
class EntryDetail:
    entry: TraceEntry
    lines: list[TraceLine]
    sources: list[TraceSource]
    reversed_by: str


def entry_detail(*, entry_id: int) -> EntryDetail:
    """One entry with all its lines, its source document and that document's steps."""
    entry = entries_of([entry_id])
    if not entry:
        raise Line.DoesNotExist(f"entry {entry_id}")
    lines = []
    for ln in (Line.objects.filter(entry_id=entry_id).select_related(
            "account", "region", "unit", "function", "economic", "fund_source").order_by("seq")):
        lines.append(TraceLine(
            id=ln.pk, entry_id=entry_id, seq=ln.seq, book=ln.book, account=ln.account.code,
            dims={"region": ln.region.code if ln.region else "",
                  "unit": ln.unit.code if ln.unit else "",
                  "function": ln.function.code if ln.function else "",
                  "economic": ln.economic.code if ln.economic else "",
                  "fund_source": ln.fund_source.code if ln.fund_source else "",
                  "project": ln.project_code},
            debit=ln.debit, credit=ln.credit, amount=ln.debit - ln.credit))
    by = Entry.objects.filter(reverses_id=entry_id).values_list("fiscal_year", "number").first()
    return EntryDetail(entry=entry[0], lines=lines,
                       sources=documents([entry[0].source]) if entry[0].source else [],
                       reversed_by=f"{by[0]}-{by[1]}" if by else "")
