"""Trace (追溯): any figure — a measure over a partial dimension tuple, a year, a month or
a range of months, a book — back to the ledger lines that sum to it, their entries, the
source documents, every workflow step of those documents, and their references. Also
the compact trace reference that report cells carry, and its resolver."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Q, QuerySet, Sum

from audit.errors import BadTraceRef, UnknownDimension, UnknownMeasure
from finance.models import (
    Account,
    EconomicCode,
    Entry,
    FunctionCode,
    FundSource,
    Line,
    Organization,
    Region,
    WorkflowStep,
    fen_to_decimal,
)


@dataclass(frozen=True)
class Measure:
    """Which lines make a figure: accounts (exact codes or a leading digit), optionally
    only entries of some kinds (their reversals included)."""

    name: str
    label: str
    accounts: tuple[str, ...] = ()
    prefix: str = ""
    kinds: frozenset[str] = frozenset()
    exclude_kinds: frozenset[str] = frozenset()


_CLOSING = frozenset({"closing"})


MEASURES: dict[str, Measure] = {m.name: m for m in (
    Measure("authority", "指标总额 budget authority (approved + adjusted)", accounts=("9001",),
            exclude_kinds=_CLOSING),
    Measure("approved", "批复 approved", accounts=("9001",), kinds=frozenset({"approval"})),
    Measure("adjusted", "调整调剂 adjusted", accounts=("9001",),
            exclude_kinds=frozenset({"approval", "closing"})),
    Measure("available", "可用指标 available", accounts=("9101",)),
    Measure("committed", "已占用 committed", accounts=("9201",)),
    Measure("paid", "已支付 paid", accounts=("9301",)),
    Measure("budget_expenditure", "预算支出 budget expenditure (7xxx)", prefix="7",
            exclude_kinds=_CLOSING),
    Measure("budget_revenue", "预算收入 budget revenue (6xxx)", prefix="6", exclude_kinds=_CLOSING),
    Measure("expense", "费用 expense (5xxx)", prefix="5", exclude_kinds=_CLOSING),
    Measure("revenue", "收入 revenue (4xxx)", prefix="4", exclude_kinds=_CLOSING),
)}
# the reports app's reference format (tr:v1:key=value;…) names some measures differently
REPORTS_PREFIX = "tr:v1:"
_REPORTS_MEASURES = {"approved": "approved", "adjusted": "adjusted", "budget": "authority",
                     "available": "available", "committed": "committed", "paid": "paid",
                     "expenditure": "budget_expenditure", "revenue": "budget_revenue",
                     "fin_expense": "expense", "fin_revenue": "revenue"}
_REPORTS_DIMS = {"region": "region", "department": "unit", "unit": "unit",
                 "function": "function", "economic": "economic", "fund_source": "fund_source"}

DIMENSIONS = ("region", "unit", "function", "economic", "fund_source", "project")
_REF_KEYS = {"region": "r", "unit": "u", "function": "f", "economic": "e", "fund_source": "s",
             "project": "p"}
_REF_DIMS = {v: k for k, v in _REF_KEYS.items()}
REF_PREFIX = "TR1"
# attributes of a source document shown as references when present (bank refs etc.)
REFERENCE_ATTRS = ("tracking_id", "bank_reference", "bank_ref", "voucher_number",
                   "document_number", "batch_number")


@dataclass(frozen=True)
class TraceQuery:
    measure: str
    year: int
    months: tuple[int, int] | None = None  # inclusive month range; None = whole year
    book: str = ""
    dims: tuple[tuple[str, str], ...] = ()

    @property
    def ref(self) -> str:
        return trace_ref(self)

    def dim(self, name: str) -> str:
        return dict(self.dims).get(name, "")


@dataclass(frozen=True)
class TraceLine:
    id: int
    entry_id: int
    seq: int
    book: str
    account: str
    dims: dict[str, str]
    debit: Decimal
    credit: Decimal
    amount: Decimal  # contribution to the figure (normal side positive)


@dataclass(frozen=True)
class TraceStep:
    from_state: str
    to_state: str
    action: str
    actor: str
    at: dt.datetime
    comment: str


@dataclass
class TraceSource:
    label: str  # app.model
    pk: str
    text: str
    references: dict[str, str] = field(default_factory=dict)
    steps: list[TraceStep] = field(default_factory=list)
    related: list[TraceSource] = field(default_factory=list)


@dataclass(frozen=True)
class TraceEntry:
    id: int
    ref: str  # YEAR-NUMBER
    date: dt.date
    description: str
    kind: str
    tracking_id: str
    posted_by: str
    posted_at: dt.datetime
    source: str  # "app.model:pk" or ""
    reverses: str


@dataclass
class TraceResult:
    query: TraceQuery
    label: str
    total: Decimal
    line_count: int
    lines: list[TraceLine]
    entries: list[TraceEntry]
    sources: list[TraceSource]
    offset: int = 0

    @property
    def ref(self) -> str:
        return self.query.ref

    @property
    def truncated(self) -> bool:
        return self.offset + len(self.lines) < self.line_count

    @property
    def lines_sum(self) -> Decimal:
        return sum((x.amount for x in self.lines), Decimal("0.00"))

    @property
    def tracking_ids(self) -> list[str]:
        return sorted({e.tracking_id for e in self.entries if e.tracking_id})

    @property
    def approvers(self) -> list[str]:
        """Everyone who acted on a source document (or one it relates to)."""
        found: set[str] = set()

        def walk(src: TraceSource) -> None:
            found.update(s.actor for s in src.steps if s.actor)
            for rel in src.related:
                walk(rel)

        for src in self.sources:
            walk(src)
        return sorted(found)


# --------------------------------------------------------------- reference strings
def trace_query(*, measure: str, year: int, period: int | str | tuple[int, int] | None = None,
                book: str = "", **dims: str | None) -> TraceQuery:
    """Validate and normalise the arguments of a trace. `period`: a month (3), a
    range ("1-3" or (1, 3), cumulative figures), or None for the whole year."""
    if measure not in MEASURES:
        raise UnknownMeasure(measure=measure, choices=", ".join(MEASURES))
    for name in dims:
        if name not in DIMENSIONS:
            raise UnknownDimension(name=name)
    return TraceQuery(measure=measure, year=int(year), months=_months(period), book=book or "",
                      dims=tuple((k, str(dims[k])) for k in DIMENSIONS if dims.get(k)))


def _months(period: Any) -> tuple[int, int] | None:
    if period in (None, "", 0, "0"):
        return None
    if isinstance(period, tuple):
        a, b = period
    elif isinstance(period, str) and "-" in period:
        a, b = period.split("-", 1)
    else:
        a = b = period
    try:
        lo, hi = int(a), int(b)
    except (TypeError, ValueError):
        raise BadTraceRef(ref=str(period), reason="period is not a month or range") from None
    if not 1 <= lo <= hi <= 12:
        raise BadTraceRef(ref=str(period), reason="months must be 1..12")
    return lo, hi


def trace_ref(query: TraceQuery) -> str:
    """Compact reference a report cell carries: TR1:measure:year:months:book:dims,
    e.g. ``TR1:paid:2026:01-03::u=440300101,f=2050203``."""
    months = "" if query.months is None else (
        f"{query.months[0]:02d}" if query.months[0] == query.months[1]
        else f"{query.months[0]:02d}-{query.months[1]:02d}")
    dims = ",".join(f"{_REF_KEYS[k]}={quote(v, safe='')}" for k, v in query.dims)
    return f"{REF_PREFIX}:{query.measure}:{query.year}:{months}:{query.book}:{dims}"


def trace_ref_parse(ref: str) -> TraceQuery:
    """Read a reference: this app's ``TR1:…`` or the reports app's ``tr:v1:…`` (the
    subset that names one measure, a year, a month and dimension codes or prefixes)."""
    if ref.strip().startswith(REPORTS_PREFIX):
        return _reports_ref_parse(ref.strip())
    parts = ref.strip().split(":")
    if len(parts) != 6 or parts[0] != REF_PREFIX:
        raise BadTraceRef(ref=ref, reason=f"expected {REF_PREFIX}:measure:year:months:book:dims")
    _, measure, year, months, book, dim_text = parts
    if not year.isdigit():
        raise BadTraceRef(ref=ref, reason="year is not a number")
    dims: dict[str, str] = {}
    for item in filter(None, dim_text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or key not in _REF_DIMS:
            raise BadTraceRef(ref=ref, reason=f"unknown dimension {key}")
        dims[_REF_DIMS[key]] = unquote(value)
    return trace_query(measure=measure, year=int(year), period=months or None, book=book, **dims)


def _reports_ref_parse(ref: str) -> TraceQuery:
    items: dict[str, str] = {}
    for item in filter(None, ref[len(REPORTS_PREFIX):].split(";")):
        key, sep, value = item.partition("=")
        if not sep:
            raise BadTraceRef(ref=ref, reason=f"{item} is not key=value")
        items[key] = value
    measure = _REPORTS_MEASURES.get(items.pop("measure", ""))
    year = items.pop("year", "")
    if measure is None:
        raise BadTraceRef(ref=ref, reason="measure not traceable here")
    if not year.isdigit():
        raise BadTraceRef(ref=ref, reason="year is not a number")
    month = items.pop("month", None)
    if "department" in items and "unit" in items:
        items.pop("department")  # the unit is the narrower of the two
    dims: dict[str, str] = {}
    for key, value in items.items():
        if key not in _REPORTS_DIMS or value == "-" or "," in value:
            raise BadTraceRef(ref=ref, reason=f"{key}={value} not traceable here")
        dims[_REPORTS_DIMS[key]] = value.rstrip("*")
    return trace_query(measure=measure, year=int(year), period=month, **dims)


# ------------------------------------------------------------------------ the trace
def _descendants(model: type, roots: list[int]) -> list[int]:
    ids, frontier = list(roots), list(roots)
    while frontier:
        frontier = list(model.objects.filter(parent_id__in=frontier).values_list("id", flat=True))
        ids += frontier
    return ids


def _dim_q(query: TraceQuery) -> Q:
    """Resolve codes to ids first (small tables) so the line query needs no joins:
    a unit or region covers its subtree; a function/economic code its sub-codes."""
    q = Q()
    for name, value in query.dims:
        if name == "unit":
            roots = list(Organization.objects.filter(code=value).values_list("id", flat=True))
            q &= Q(unit_id__in=_descendants(Organization, roots))
        elif name == "region":
            roots = list(Region.objects.filter(code=value).values_list("id", flat=True))
            q &= Q(region_id__in=_descendants(Region, roots))
        elif name in ("function", "economic"):
            model = FunctionCode if name == "function" else EconomicCode
            ids = list(model.objects.filter(code__startswith=value).values_list("id", flat=True))
            q &= Q(**{f"{name}_id__in": ids})
        elif name == "fund_source":
            q &= Q(fund_source_id__in=list(
                FundSource.objects.filter(code=value).values_list("id", flat=True)))
        else:
            q &= Q(project_code=value)
    return q


def trace_lines(query: TraceQuery) -> tuple[QuerySet[Line], dict[int, Account]]:
    """The lines that make the figure, and their accounts by id."""
    measure = MEASURES[query.measure]
    accounts = Account.objects.all()
    accounts = (accounts.filter(code__in=measure.accounts) if measure.accounts
                else accounts.filter(code__startswith=measure.prefix))
    if query.book:
        accounts = accounts.filter(book=query.book)
    by_id = {a.id: a for a in accounts}
    lines = Line.objects.filter(_dim_q(query), account_id__in=list(by_id), year=query.year)
    if query.months is not None:
        lo, hi = query.months
        lines = (lines.filter(entry__month=lo) if lo == hi
                 else lines.filter(entry__month__gte=lo, entry__month__lte=hi))
    # a reversal counts with the kind of the entry it reverses
    if measure.kinds:
        kinds = sorted(measure.kinds)
        lines = lines.filter(Q(entry__kind__in=kinds)
                             | Q(entry__kind="reversal", entry__reverses__kind__in=kinds))
    if measure.exclude_kinds:
        kinds = sorted(measure.exclude_kinds)
        lines = lines.exclude(entry__kind__in=kinds).exclude(
            entry__kind="reversal", entry__reverses__kind__in=kinds)
    return lines, by_id


def _signed(acc: Account, debit: int, credit: int) -> int:
    return debit - credit if acc.normal_side == "debit" else credit - debit


def figure_fen(query: TraceQuery) -> tuple[int, int]:
    """(figure in fen, number of lines) without listing the lines."""
    lines, accounts = trace_lines(query)
    total = count = 0
    for row in (lines.order_by().values("account_id")
                .annotate(d=Sum("debit_fen"), c=Sum("credit_fen"), n=Count("id"))):
        total += _signed(accounts[row["account_id"]], row["d"] or 0, row["c"] or 0)
        count += row["n"]
    return total, count


def trace(*, measure: str, year: int, period: int | str | tuple[int, int] | None = None,
          book: str = "", limit: int | None = 500, offset: int = 0,
          **dims: str | None) -> TraceResult:
    """Trace one figure. Lines are listed in posting order, `limit` at a time from
    `offset` (None: all); the total and the count always cover every line."""
    return trace_run(trace_query(measure=measure, year=year, period=period, book=book, **dims),
                     limit=limit, offset=offset)


def trace_resolve(ref: str, *, limit: int | None = 500, offset: int = 0) -> TraceResult:
    """Resolve a trace reference carried by an exported report figure."""
    return trace_run(trace_ref_parse(ref), limit=limit, offset=offset)


def trace_run(query: TraceQuery, *, limit: int | None = 500, offset: int = 0) -> TraceResult:
    lines_qs, accounts = trace_lines(query)
    total, count = figure_fen(query)
    page = lines_qs.order_by("entry_id", "seq").values_list(
        "id", "entry_id", "seq", "book", "account_id", "region__code", "unit__code",
        "function__code", "economic__code", "fund_source__code", "project_code",
        "debit_fen", "credit_fen")
    page = page[offset:offset + limit] if limit is not None else page[offset:]
    lines = []
    for (pk, entry_id, seq, book, acc_id, region, unit, function, economic, fund, project,
         d, c) in page:
        acc = accounts[acc_id]
        lines.append(TraceLine(
            id=pk, entry_id=entry_id, seq=seq, book=book, account=acc.code,
            dims={"region": region or "", "unit": unit or "", "function": function or "",
                  "economic": economic or "", "fund_source": fund or "", "project": project},
            debit=fen_to_decimal(d), credit=fen_to_decimal(c),
            amount=fen_to_decimal(_signed(acc, d, c))))
    entries = entries_of(sorted({x.entry_id for x in lines}))
    return TraceResult(query=query, label=MEASURES[query.measure].label,
                       total=fen_to_decimal(total), line_count=count, lines=lines,
                       entries=entries, sources=sources_of(entries), offset=offset)


def entries_of(ids: list[int]) -> list[TraceEntry]:
    rows = (Entry.objects.filter(id__in=ids).select_related("posted_by", "source_type", "reverses")
            .order_by("fiscal_year", "number"))
    return [TraceEntry(
        id=e.pk, ref=f"{e.fiscal_year}-{e.number}", date=e.date, description=e.description,
        kind=e.kind, tracking_id=e.tracking_id,
        posted_by=e.posted_by.get_username() if e.posted_by else "", posted_at=e.posted_at,
        source=f"{e.source_type.app_label}.{e.source_type.model}:{e.source_id}"
        if e.source_type_id else "",
        reverses=f"{e.reverses.fiscal_year}-{e.reverses.number}" if e.reverses_id else "",
    ) for e in rows]


def sources_of(entries: list[TraceEntry]) -> list[TraceSource]:
    """The distinct source documents of the entries, each with its workflow steps and
    references; documents may name related documents (an indicator behind a payment
    request) through an optional ``audit_related_documents()`` method."""
    refs = sorted({e.source for e in entries if e.source})
    return documents(refs, depth=2)


def documents(refs: list[str], depth: int = 2) -> list[TraceSource]:
    by_type: dict[str, list[str]] = defaultdict(list)
    for ref in refs:
        label, _, pk = ref.partition(":")
        by_type[label].append(pk)
    found: list[TraceSource] = []
    for label, pks in sorted(by_type.items()):
        app_label, model = label.split(".", 1)
        ct = ContentType.objects.get_by_natural_key(app_label, model)
        model_class = ct.model_class()
        objects = model_class._default_manager.in_bulk(pks) if model_class else {}
        steps: dict[str, list[TraceStep]] = defaultdict(list)
        for s in (WorkflowStep.objects.filter(doc_type=ct, doc_id__in=pks)
                  .select_related("actor").order_by("at", "id")):
            steps[s.doc_id].append(TraceStep(s.from_state, s.to_state, s.action,
                                             s.actor.get_username() if s.actor else "", s.at,
                                             s.comment))
        for pk in pks:
            obj = objects.get(_pk_value(model_class, pk)) if model_class else None
            src = TraceSource(label=label, pk=pk, text=f"{obj}" if obj is not None else
                              f"{label}:{pk} (missing)", steps=steps.get(pk, []))
            if obj is not None:
                src.references = {a: f"{getattr(obj, a)}" for a in REFERENCE_ATTRS
                                  if getattr(obj, a, None) not in (None, "")}
                related = getattr(obj, "audit_related_documents", None)
                if depth > 0 and callable(related):
                    src.related = documents(
                        [f"{r._meta.label_lower}:{r.pk}" for r in related()], depth - 1)
            found.append(src)
    return found


def _pk_value(model_class: type, pk: str) -> Any:
    try:
        return model_class._meta.pk.to_python(pk)
    except Exception:  # noqa: BLE001 - a malformed stored id reads as "missing"
        return pk
