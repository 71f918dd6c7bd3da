"""The measures a figure can show and the one trace reference format.

A measure says which ledger lines make a figure (book, accounts, entry kinds); every
figure sums its lines on each account's normal side. The reports compute figures with
it (pandas, `classify_frame`), stamp each with a reference (`trace_ref`), and the audit
trace resolves a reference back to the lines (`trace_parse` → `lines_for`). A reference:

    tr:v1:measure=paid;year=2026;department=440300100;function=205*;fund_source=1;basic=1

Keys (any order when read; written in `KEYS` order):
    measure   a name of `MEASURES` (base or combined)      year   fiscal year (required)
    upto      entries numbered up to N in the year: the ledger as it stood when a set was
              published, so its figures resolve to the same amounts for good
    as_of     YYYY-MM-DD: entries dated up to it           month  3, or a range 1-3
    book      indicator | budget | financial               account  codes (see below)
    region    a region and its districts                   department  its units
    unit      one organization                             function, economic,
    fund_source, project   a code, `205*` (a prefix), a comma list of these, `-` (lines
              without the dimension) or `~` (nothing: the figure is zero by construction)
    basic     1 基本支出 (projects of category 人员类/运转类) | 0 项目支出 (特定目标类);
              see `basic_q` for lines without a library project
A reversal counts with the kind of the entry it reverses.

The older reference `TR1:measure:year:months:book:dims` of the audit pages is still read
(`trace_parse`), so a reference printed before this format was unified resolves."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from finance import chart
from finance.chart import EntryKind
from finance.dimensions import BASIC_CATEGORIES, project_codes_of

PREFIX = "tr:v1:"
LEGACY_PREFIX = "TR1:"
KEYS = ("measure", "year", "upto", "as_of", "month", "book", "account", "region", "department",
        "unit", "function", "economic", "fund_source", "project", "basic")
CODE_KEYS = ("account", "function", "economic", "fund_source", "project")
NONE, NOTHING = "-", "~"  # "lines without this dimension", "no code at all"

# ------------------------------------------------------------ disclosure definitions
# 人员经费: 工资福利支出 (301) + 对个人和家庭的补助 (303) of basic spending; 公用经费: the
# other classes of basic spending (302 商品和服务支出, 310 资本性支出 …).
PERSONNEL_ECONOMIC = "301*,303*"
# "三公" of general-public-budget basic spending
SANGONG = {"abroad": "30212", "hosting": "30217", "car_run": "30231", "car_buy": "31013"}


# ------------------------------------------------------------------------ measures
@dataclass(frozen=True)
class Measure:
    """Lines of `book` on `accounts` (exact codes) or accounts starting with one of
    `prefixes`, minus `exclude_accounts`; only entries of `kinds` / not of
    `exclude_kinds` (a reversal counts with the kind it reverses)."""

    name: str
    label: str
    book: str = ""
    accounts: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    exclude_accounts: tuple[str, ...] = ()
    kinds: frozenset[str] = frozenset()
    exclude_kinds: frozenset[str] = frozenset()

    def matches(self, book: str, account: str, kind: str) -> bool:
        if self.book and book != self.book:
            return False
        if self.accounts and account not in self.accounts:
            return False
        if self.prefixes and not account.startswith(self.prefixes):
            return False
        if account in self.exclude_accounts:
            return False
        if self.kinds and kind not in self.kinds:
            return False
        return kind not in self.exclude_kinds


_CLOSING = frozenset({EntryKind.CLOSING.value})
_APPROVAL = frozenset({EntryKind.APPROVAL.value})
_IND, _BUD, _FIN = chart.INDICATOR_BOOK, chart.BUDGET_BOOK, chart.FINANCIAL_BOOK

# Base measures: no line belongs to two of them (`classify` takes the first match).
BASE_MEASURES: dict[str, Measure] = {m.name: m for m in (
    Measure("approved", pgettext_lazy("measure", "approved"), _IND, (chart.AUTHORITY,), kinds=_APPROVAL),
    Measure("closed", pgettext_lazy("measure", "closed"), _IND, (chart.AUTHORITY,), kinds=_CLOSING),
    Measure("adjusted", pgettext_lazy("measure", "adjusted"), _IND, (chart.AUTHORITY,),
            exclude_kinds=_APPROVAL | _CLOSING),
    Measure("available", pgettext_lazy("measure", "available"), _IND, (chart.AVAILABLE,)),
    Measure("committed", pgettext_lazy("measure", "committed"), _IND, (chart.COMMITTED,)),
    Measure("paid", pgettext_lazy("measure", "paid"), _IND, (chart.EXPENDED,)),
    Measure("revenue", pgettext_lazy("measure", "revenue"), _BUD, prefixes=(chart.BUDGET_REVENUE,),
            exclude_kinds=_CLOSING),
    Measure("expenditure", pgettext_lazy("measure", "expenditure"), _BUD,
            prefixes=(chart.BUDGET_EXPENDITURE,), exclude_kinds=_CLOSING),
    Measure("opening", pgettext_lazy("measure", "opening"), _BUD,
            prefixes=(chart.BUDGET_BALANCE,), exclude_accounts=(chart.FUNDS_BALANCE,),
            kinds=frozenset({EntryKind.OPENING.value})),
    Measure("fin_revenue", pgettext_lazy("measure", "fin revenue"), _FIN, prefixes=(chart.REVENUE,),
            exclude_kinds=_CLOSING),
    Measure("fin_expense", pgettext_lazy("measure", "fin expense"), _FIN, prefixes=(chart.EXPENSE,),
            exclude_kinds=_CLOSING),
    Measure("fin_revenue_closed", pgettext_lazy("measure", "fin revenue closed"), _FIN, prefixes=(chart.REVENUE,),
            kinds=_CLOSING),
    Measure("fin_expense_closed", pgettext_lazy("measure", "fin expense closed"), _FIN, prefixes=(chart.EXPENSE,),
            kinds=_CLOSING),
    Measure("balance", pgettext_lazy("measure", "balance"), _FIN,
            prefixes=(chart.ASSETS, chart.LIABILITIES, chart.NET_ASSETS)),
)}

# Combined measures: signed sums of base measures.
COMBINED: dict[str, tuple[tuple[str, int], ...]] = {
    "budget": (("approved", 1), ("adjusted", 1)),
    "funds": (("opening", 1), ("revenue", 1)),
    "carryover": (("opening", 1), ("revenue", 1), ("expenditure", -1)),
    "surplus": (("fin_revenue", 1), ("fin_expense", -1)),
    # 本期盈余 not yet closed into net assets (zero after the year-end close)
    "unclosed_surplus": (("fin_revenue", 1), ("fin_expense", -1),
                         ("fin_revenue_closed", 1), ("fin_expense_closed", -1)),
}
COMBINED_LABELS = {"budget": pgettext_lazy("measure", "budget (approved + adjusted)"),
                   "funds": pgettext_lazy("measure", "funds (opening + revenue)"),
                   "carryover": pgettext_lazy("measure", "carry-over"),
                   "surplus": pgettext_lazy("measure", "surplus"),
                   "unclosed_surplus": pgettext_lazy("measure", "unclosed surplus")}
MEASURES: tuple[str, ...] = (*BASE_MEASURES, *COMBINED)
# the execution report's columns
EXECUTION_MEASURES = ("approved", "adjusted", "committed", "paid", "available")
# names the audit pages used before the format was unified (TR1 references)
_LEGACY_NAMES = {"authority": "budget", "budget_expenditure": "expenditure",
                 "budget_revenue": "revenue", "expense": "fin_expense", "revenue": "fin_revenue"}
_LEGACY_DIMS = {"r": "region", "u": "unit", "f": "function", "e": "economic",
                "s": "fund_source", "p": "project"}


def label(measure: str) -> str:
    if measure in BASE_MEASURES:
        return str(BASE_MEASURES[measure].label)
    return str(COMBINED_LABELS.get(measure, measure))


def parts_of(measure: str) -> tuple[tuple[str, int], ...]:
    """The base measures of `measure` with their signs."""
    return COMBINED.get(measure, ((measure, 1),))


def classify(book: str, account: str, kind: str) -> str:
    """The base measure a line contributes to ('' for none); `kind` is the entry's kind,
    or for a reversal the kind of the entry it reverses."""
    for m in BASE_MEASURES.values():
        if m.matches(book, account, kind):
            return m.name
    return ""


def contribution(measure: str, base: str, normal_fen: int) -> int:
    """What a line of base measure `base` adds to `measure` (normal-side fen)."""
    return sum(sign * normal_fen for name, sign in parts_of(measure) if name == base)


# ------------------------------------------------------------ value syntax of codes
def value_matcher(value: str) -> Callable[[str], bool]:
    """A predicate on a code ('' = no code) for a reference value: `code`, `prefix*`,
    comma lists of these, `-` (no code) or `~` (nothing)."""
    if value == NOTHING:
        return lambda v: False
    items = value.split(",")
    blank = NONE in items
    exact = {i for i in items if not i.endswith("*") and i != NONE}
    prefixes = tuple(i[:-1] for i in items if i.endswith("*"))
    return lambda v: (blank and v == "") or v in exact or (
        bool(prefixes) and bool(v) and v.startswith(prefixes))


def value_q(field: str, value: str, *, blank_is_null: bool = True) -> Q:
    """The same selection as `value_matcher` on `field` (a `…__code` path, or a plain
    text column when `blank_is_null` is False)."""
    if value == NOTHING:
        return Q(pk__in=[])
    q = Q()
    for item in value.split(","):
        if item == NONE:
            q |= (Q(**{f"{field.split('__')[0]}__isnull": True}) if blank_is_null
                  else Q(**{field: ""}))
        elif item.endswith("*"):
            q |= Q(**{f"{field}__startswith": item[:-1]}) & ~Q(**{field: ""})
        else:
            q |= Q(**{field: item})
    return q


# ---------------------------------------------------------------- the reference
@dataclass(frozen=True)
class TraceRef:
    """A parsed reference: the measure, the year and the filters, in `KEYS` order."""

    parts: tuple[tuple[str, str], ...]

    @property
    def measure(self) -> str:
        return self.get("measure")

    @property
    def year(self) -> int:
        return int(self.get("year"))

    def get(self, key: str, default: str = "") -> str:
        return dict(self.parts).get(key, default)

    def __str__(self) -> str:
        return PREFIX + ";".join(f"{k}={v}" for k, v in self.parts)


class BadTraceRef(ValueError):
    """A string that is not a trace reference; `reason` says why."""

    message = _("Trace reference %(ref)s cannot be read: %(reason)s.")

    def __init__(self, *, ref: str, reason: str) -> None:
        self.params = {"ref": ref, "reason": reason}
        super().__init__(str(self.message) % self.params)


def trace_ref(**parts: str | int | None) -> str:
    """The reference of a figure; empty values are left out."""
    unknown = set(parts) - set(KEYS)
    if unknown:
        raise ValueError(f"unknown trace keys {sorted(unknown)}")
    return PREFIX + ";".join(f"{k}={parts[k]}" for k in KEYS if parts.get(k) not in (None, ""))


def trace_parse(ref: str) -> TraceRef:
    """Read and check a reference (this format or the older `TR1:`)."""
    text = ref.strip()
    if text.startswith(LEGACY_PREFIX):
        return _legacy_parse(text)
    if not text.startswith(PREFIX):
        raise BadTraceRef(ref=ref, reason=f"it does not start with {PREFIX}")
    parts: dict[str, str] = {}
    for item in text[len(PREFIX):].split(";"):
        key, sep, value = item.partition("=")
        if not sep or key not in KEYS or not value:
            raise BadTraceRef(ref=ref, reason=f"bad part {item!r}")
        if key in parts:
            raise BadTraceRef(ref=ref, reason=f"{key} given twice")
        parts[key] = value
    return _checked(parts, ref)


def _checked(parts: dict[str, str], ref: str) -> TraceRef:
    if parts.get("measure") not in MEASURES:
        raise BadTraceRef(ref=ref, reason=f"measure must be one of {', '.join(MEASURES)}")
    if not parts.get("year", "").isdigit():
        raise BadTraceRef(ref=ref, reason="year is required")
    if "as_of" in parts:
        try:
            dt.date.fromisoformat(parts["as_of"])
        except ValueError:
            raise BadTraceRef(ref=ref, reason="as_of is not a date YYYY-MM-DD") from None
    if "month" in parts:
        parts["month"] = _month_text(parts["month"], ref)
    if not parts.get("upto", "0").isdigit():
        raise BadTraceRef(ref=ref, reason="upto is an entry number")
    if parts.get("basic", "1") not in ("0", "1"):
        raise BadTraceRef(ref=ref, reason="basic is 1 or 0")
    if parts.get("book", _IND) not in (_IND, _BUD, _FIN):
        raise BadTraceRef(ref=ref, reason="book is indicator, budget or financial")
    return TraceRef(tuple((k, parts[k]) for k in KEYS if k in parts))


def month_range(text: str) -> tuple[int, int]:
    lo, _sep, hi = text.partition("-")
    return int(lo), int(hi or lo)


def _month_text(text: str, ref: str) -> str:
    try:
        lo, hi = month_range(text)
    except ValueError:
        raise BadTraceRef(ref=ref, reason="month is a month 1..12 or a range 1-3") from None
    if not 1 <= lo <= hi <= 12:
        raise BadTraceRef(ref=ref, reason="months must be 1..12")
    return str(lo) if lo == hi else f"{lo}-{hi}"


def _legacy_parse(ref: str) -> TraceRef:
    parts = ref.split(":")
    if len(parts) != 6:
        raise BadTraceRef(ref=ref, reason="expected TR1:measure:year:months:book:dims")
    _, measure, year, months, book, dim_text = parts
    out = {"measure": _LEGACY_NAMES.get(measure, measure), "year": year}
    if months:
        out["month"] = months.lstrip("0").replace("-0", "-") or months
    if book:
        out["book"] = book
    for item in filter(None, dim_text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or key not in _LEGACY_DIMS:
            raise BadTraceRef(ref=ref, reason=f"unknown dimension {key}")
        name, value = _LEGACY_DIMS[key], unquote(value)
        # the audit pages matched function/economic codes with their sub-codes
        out[name] = value + "*" if name in ("function", "economic") else value
    return _checked(out, ref)


def trace_query(*, measure: str, year: int, period: int | str | tuple[int, int] | None = None,
                as_of: dt.date | str | None = None, **filters: str | None) -> TraceRef:
    """A reference from keyword arguments (the audit pages' form); `period`: a month,
    a range "1-3" or (1, 3), or None for the year."""
    if isinstance(period, tuple):
        period = f"{period[0]}-{period[1]}"
    for key, value in filters.items():
        if value and (";" in value or "=" in value):
            raise BadTraceRef(ref=f"{key}={value}", reason="a value may not contain ; or =")
    text = trace_ref(measure=measure, year=str(year),
                     month=None if period in (None, "", 0, "0") else str(period),
                     as_of=as_of.isoformat() if isinstance(as_of, dt.date) else as_of,
                     **{k: v for k, v in filters.items() if v})
    return trace_parse(text)


# -------------------------------------------------------------- lines of a reference
def lines_for(ref: TraceRef, lines: QuerySet, *, organizations: Any, regions: Any) -> QuerySet:
    """`lines` (finance Line queryset) kept to the reference's lines. `organizations` and
    `regions` are callables: department code → its unit codes, region code → it and its
    districts (finance.selectors reads them)."""
    q = Q(year=ref.year)
    bases = [m for m, _sign in parts_of(ref.measure)]
    q &= _any_measure_q(bases)
    if ref.get("book"):
        q &= Q(book=ref.get("book"))
    if ref.get("upto"):
        q &= Q(entry__number__lte=int(ref.get("upto")))
    if ref.get("as_of"):
        q &= Q(entry__date__lte=dt.date.fromisoformat(ref.get("as_of")))
    if ref.get("month"):
        lo, hi = month_range(ref.get("month"))
        q &= Q(entry__month=lo) if lo == hi else Q(entry__month__gte=lo, entry__month__lte=hi)
    if ref.get("region"):
        q &= Q(region__code__in=sorted(regions(ref.get("region"))))
    if ref.get("department"):
        q &= Q(unit__code__in=sorted(organizations(ref.get("department"))))
    if ref.get("unit"):
        q &= Q(unit__code=ref.get("unit"))
    for key, field in (("account", "account__code"), ("function", "function__code"),
                       ("economic", "economic__code"), ("fund_source", "fund_source__code")):
        if ref.get(key):
            q &= value_q(field, ref.get(key))
    if ref.get("project"):
        q &= value_q("project_code", ref.get("project"), blank_is_null=False)
    if ref.get("basic"):
        q &= basic_q(ref.get("basic") == "1")
    return lines.filter(q)


def basic_q(basic: bool) -> Q:
    """基本支出 (True) or 项目支出 (False), exhaustive and disjoint: a line of a library
    project counts by the project's category; a line without a project is basic (the
    convention before the 一体化 rules, when only project spending had projects); a line
    of a project code the library does not know is project spending."""
    basic_codes = project_codes_of(BASIC_CATEGORIES)
    if basic:
        return Q(project_code="") | Q(project_code__in=basic_codes)
    return ~Q(project_code="") & ~Q(project_code__in=basic_codes)


def is_basic_line(project_code: str, category: str | None) -> bool:
    """The same rule for one line: `category` is its project's, None when the library has
    no such project."""
    if not project_code:
        return True
    return category in BASIC_CATEGORIES


def _kind_q(kinds: Iterable[str]) -> Q:
    kinds = sorted(kinds)
    return (Q(entry__kind__in=kinds)
            | Q(entry__kind=EntryKind.REVERSAL, entry__reverses__kind__in=kinds))


def _measure_q(m: Measure) -> Q:
    q = Q(book=m.book) if m.book else Q()
    if m.accounts:
        q &= Q(account__code__in=list(m.accounts))
    if m.prefixes:
        pq = Q()
        for p in m.prefixes:
            pq |= Q(account__code__startswith=p)
        q &= pq
    if m.exclude_accounts:
        q &= ~Q(account__code__in=list(m.exclude_accounts))
    if m.kinds:
        q &= _kind_q(m.kinds)
    if m.exclude_kinds:
        q &= ~_kind_q(m.exclude_kinds)
    return q


def _any_measure_q(bases: list[str]) -> Q:
    q = Q(pk__in=[])
    for name in bases:
        q |= _measure_q(BASE_MEASURES[name])
    return q


# ------------------------------------------------------------------ in plain words
KEY_LABELS = {
    "measure": pgettext_lazy("trace key", "measure"),
    "year": pgettext_lazy("trace key", "year"),
    "upto": pgettext_lazy("trace key", "ledger up to entry"),
    "as_of": pgettext_lazy("trace key", "as of"),
    "month": pgettext_lazy("trace key", "month"),
    "book": pgettext_lazy("trace key", "book"),
    "account": pgettext_lazy("trace key", "account"),
    "region": pgettext_lazy("trace key", "region"),
    "department": pgettext_lazy("trace key", "department"),
    "unit": pgettext_lazy("trace key", "unit"),
    "function": pgettext_lazy("trace key", "function class"),
    "economic": pgettext_lazy("trace key", "economic class"),
    "fund_source": pgettext_lazy("trace key", "fund source"),
    "project": pgettext_lazy("trace key", "project"),
    "basic": pgettext_lazy("trace key", "spending type"),
}
BASIC_LABELS = {"1": _("basic spending (personnel and running-cost projects)"),
                "0": _("project spending (specific-purpose projects)")}


def describe(ref: TraceRef) -> list[tuple[str, str]]:
    """The reference's parts as (label, value) for a page: what the figure is."""
    out = []
    for key, value in ref.parts:
        if key == "measure":
            value = label(value)
        elif key == "basic":
            value = str(BASIC_LABELS[value])
        elif value == NONE:
            value = str(_("(none)"))
        elif value == NOTHING:
            value = str(_("(nothing: zero by definition)"))
        out.append((str(KEY_LABELS[key]), value))
    return out
