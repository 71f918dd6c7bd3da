"""Trace (追溯): any figure — a measure (finance.measures) over a partial dimension tuple,
a year, a month or a range of months, a book — back to the ledger lines that sum to it,
their entries, the source documents, every workflow step of those documents, and their
references. The reference format is finance.measures': the one the reports print."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType

from audit.errors import BadTraceRef, UnknownDimension, UnknownMeasure
from finance import measures as vocabulary
from finance import selectors as finance_selectors
from finance.measures import TraceRef
from finance.models import Entry, WorkflowStep, fen_to_decimal

# Measures, the reference format and which lines make a figure are finance's
# (finance.measures, finance.selectors): the reports stamp references with the same table.
MEASURES = vocabulary.MEASURES
# what the trace page and API filter by (each in the reference syntax: a code, `205*`, a
# comma list, `-`; basic 1/0)
DIMENSIONS = ("region", "department", "unit", "function", "economic", "fund_source",
              "project", "basic", "account")
# attributes of a source document shown as references when present (bank refs etc.)
REFERENCE_ATTRS = ("tracking_id", "bank_reference", "bank_ref", "voucher_number",
                   "document_number", "batch_number")
TraceQuery = TraceRef


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
        return str(self.query)

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
                book: str = "", **dims: str | None) -> TraceRef:
    """Validate the arguments of a trace (the page's and the API's form). `period`: a
    month (3), a range ("1-3" or (1, 3), cumulative figures), or None for the year."""
    if measure not in MEASURES:
        raise UnknownMeasure(measure=measure, choices=", ".join(MEASURES))
    for name in dims:
        if name not in DIMENSIONS:
            raise UnknownDimension(name=name)
    try:
        return vocabulary.trace_query(measure=measure, year=int(year), period=period,
                                      book=book or None, **dims)
    except vocabulary.BadTraceRef as exc:
        raise BadTraceRef(**exc.params) from None


def trace_ref(query: TraceRef) -> str:
    """The reference a report cell carries for the same figure."""
    return str(query)


def trace_ref_parse(ref: str) -> TraceRef:
    """Read a reference as the reports print it (or an older TR1 reference)."""
    try:
        return vocabulary.trace_parse(ref)
    except vocabulary.BadTraceRef as exc:
        raise BadTraceRef(**exc.params) from None


def figure_fen(query: TraceRef) -> tuple[int, int]:
    """(figure in fen, number of lines) without listing the lines."""
    return finance_selectors.figure_fen(query)


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


def trace_run(query: TraceRef, *, limit: int | None = 500, offset: int = 0) -> TraceResult:
    lines_qs = finance_selectors.figure_lines(query)
    total, count = figure_fen(query)
    page = lines_qs.order_by("entry_id", "seq").values_list(
        "id", "entry_id", "seq", "book", "account__code", "account__normal_side",
        "entry__kind", "entry__reverses__kind", "region__code", "unit__code",
        "function__code", "economic__code", "fund_source__code", "project_code",
        "debit_fen", "credit_fen")
    page = page[offset:offset + limit] if limit is not None else page[offset:]
    lines = []
    for (pk, entry_id, seq, book, account, side, kind, reversed_kind, region, unit, function,
         economic, fund, project, d, c) in page:
        normal = d - c if side == "debit" else c - d
        base = vocabulary.classify(book, account, finance_selectors.line_kind(kind, reversed_kind))
        lines.append(TraceLine(
            id=pk, entry_id=entry_id, seq=seq, book=book, account=account,
            dims={"region": region or "", "unit": unit or "", "function": function or "",
                  "economic": economic or "", "fund_source": fund or "", "project": project},
            debit=fen_to_decimal(d), credit=fen_to_decimal(c),
            amount=fen_to_decimal(vocabulary.contribution(query.measure, base, normal))))
    entries = entries_of(sorted({x.entry_id for x in lines}))
    return TraceResult(query=query, label=vocabulary.label(query.measure),
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
