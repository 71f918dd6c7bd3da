"""Trace references of report figures, and their resolver.

A reference is a string that encodes the query producing a figure:

    tr:v1:measure=paid;year=2026;unit=440300101;function=2050203

Keys (any order when parsing; written in the order below):
    measure   approved | adjusted | closed | budget | available | committed | paid |
              revenue | expenditure | opening | carryover | funds | fin_revenue |
              fin_expense | surplus | fin_revenue_closed | fin_expense_closed |
              unclosed_surplus | balance (financial accounts, each on its normal side;
              with `account`, e.g. `1*` for assets)
    year      fiscal year (required)        as_of    YYYY-MM-DD (entries dated up to it)
    month     1..12 (entries of that month) account  an account code
    region    a region and its districts     department / unit   organization codes
    function, economic, fund_source  a code, `205*` (a code prefix: 类/款 with their
              children) or a comma list of these (`301*,303*`)
    basic     1 基本支出 (no project) | 0 项目支出
A value `-` means "lines without this dimension"; `~` means "no code at all" (the figure
is zero by construction, e.g. the 人员经费 column of a 302 row). A reversal counts with the kind of the
entry it reverses (Coalesce(reversed entry's kind, kind)).

`trace_resolve` re-runs the query on ledger lines with the ORM (independently of the
pandas pipeline that built the report), so a test — or the audit app — can check that a
published figure is what the ledger says. Measures are defined in docs/apps/reports.md.
"""
from __future__ import annotations

from datetime import date

from django.db.models import Case, F, Q, Sum, When
from django.db.models.functions import Coalesce

from finance.models import Line, Organization, Region
from reports import errors

PREFIX = "tr:v1:"
KEYS = ("measure", "year", "as_of", "month", "account", "region", "department", "unit",
        "function", "economic", "fund_source", "basic")

# measure -> (accounts Q, kinds Q, sign: +1 debit-normal / -1 credit-normal)
_MEASURES: dict[str, tuple[Q, Q, int]] = {
    "approved": (Q(account__code="9001"), Q(k="approval"), -1),
    "adjusted": (Q(account__code="9001"), ~Q(k__in=["approval", "closing"]), -1),
    "closed": (Q(account__code="9001"), Q(k="closing"), -1),
    "available": (Q(account__code="9101"), Q(), 1),
    "committed": (Q(account__code="9201"), Q(), 1),
    "paid": (Q(account__code="9301"), Q(), 1),
    "revenue": (Q(book="budget", account__code__startswith="6"), ~Q(k="closing"), -1),
    "expenditure": (Q(book="budget", account__code__startswith="7"), ~Q(k="closing"), 1),
    "opening": (Q(book="budget", account__code__startswith="8") & ~Q(account__code="8001"),
                Q(k="opening"), -1),
    "fin_revenue": (Q(book="financial", account__code__startswith="4"),
                    ~Q(k="closing"), -1),
    "fin_expense": (Q(book="financial", account__code__startswith="5"),
                    ~Q(k="closing"), 1),
    # closing movements, on the accounts' normal side (negative: they empty the accounts)
    "fin_revenue_closed": (Q(book="financial", account__code__startswith="4"),
                           Q(k="closing"), -1),
    "fin_expense_closed": (Q(book="financial", account__code__startswith="5"),
                           Q(k="closing"), 1),
}
_COMBINED = {"budget": (("approved", 1), ("adjusted", 1)),
             "funds": (("opening", 1), ("revenue", 1)),
             "surplus": (("fin_revenue", 1), ("fin_expense", -1)),
             # 本期盈余 not yet closed into net assets (zero after the year-end close)
             "unclosed_surplus": (("fin_revenue", 1), ("fin_expense", -1),
                                  ("fin_revenue_closed", 1), ("fin_expense_closed", -1)),
             "carryover": (("opening", 1), ("revenue", 1), ("expenditure", -1))}
MEASURES = (*_MEASURES, *_COMBINED, "balance")


def trace_ref(**parts: str) -> str:
    """Build a reference; empty values are left out."""
    unknown = set(parts) - set(KEYS)
    if unknown:
        raise ValueError(f"unknown trace keys {sorted(unknown)}")
    return PREFIX + ";".join(f"{k}={parts[k]}" for k in KEYS if parts.get(k))


def trace_parse(ref: str) -> dict[str, str]:
    if not ref.startswith(PREFIX):
        raise errors.BadTraceRef(ref=ref, reason="it does not start with " + PREFIX)
    parts: dict[str, str] = {}
    for item in ref[len(PREFIX):].split(";"):
        key, sep, value = item.partition("=")
        if not sep or key not in KEYS or not value:
            raise errors.BadTraceRef(ref=ref, reason=f"bad part {item!r}")
        parts[key] = value
    if parts.get("measure") not in MEASURES or not parts.get("year", "").isdigit():
        raise errors.BadTraceRef(ref=ref, reason="measure and year are required")
    if parts["measure"] == "balance" and "account" not in parts:
        raise errors.BadTraceRef(ref=ref, reason="measure balance needs an account")
    return parts


def trace_resolve(ref: str) -> int:
    """The figure (integer fen) that the reference's query gives on the ledger now."""
    parts = trace_parse(ref)
    measure = parts["measure"]
    if measure in _COMBINED:
        return sum(sign * _resolve({**parts, "measure": m}) for m, sign in _COMBINED[measure])
    return _resolve(parts)


def _resolve(parts: dict[str, str]) -> int:
    measure = parts["measure"]
    if measure == "balance":  # every line of the account(s), each on its normal side
        accounts_q, kinds_q, sign = Q(book="financial"), Q(), 0
    else:
        accounts_q, kinds_q, sign = _MEASURES[measure]
    q = accounts_q & kinds_q & Q(year=int(parts["year"]))
    if "account" in parts:
        q &= _code_q("account__code", parts["account"])
    if "as_of" in parts:
        q &= Q(entry__date__lte=date.fromisoformat(parts["as_of"]))
    if "month" in parts:
        q &= Q(entry__month=int(parts["month"]))
    if "region" in parts:
        q &= Q(region__code__in=_region_codes(parts["region"]))
    if "department" in parts:
        q &= Q(unit__code__in=_department_units(parts["department"]))
    for key, field in (("unit", "unit__code"), ("function", "function__code"),
                       ("economic", "economic__code"), ("fund_source", "fund_source__code")):
        if key in parts:
            q &= _code_q(field, parts[key])
    if "basic" in parts:
        q &= Q(project_code="") if parts["basic"] == "1" else ~Q(project_code="")
    lines = Line.objects.annotate(k=Coalesce("entry__reverses__kind", "entry__kind")).filter(q)
    if sign == 0:
        signed = Case(When(account__normal_side="debit", then=F("debit_fen") - F("credit_fen")),
                      default=F("credit_fen") - F("debit_fen"))
        return lines.aggregate(v=Sum(signed))["v"] or 0
    agg = lines.aggregate(d=Sum("debit_fen"), c=Sum("credit_fen"))
    return sign * ((agg["d"] or 0) - (agg["c"] or 0))


def _code_q(field: str, value: str) -> Q:
    if value == "-":
        return Q(**{f"{field.split('__')[0]}__isnull": True})
    if value == "~":
        return Q(pk__in=[])
    q = Q()
    for item in value.split(","):
        q |= (Q(**{f"{field}__startswith": item[:-1]}) if item.endswith("*")
              else Q(**{field: item}))
    return q


def _region_codes(code: str) -> set[str]:
    out = {code}
    while True:
        more = set(Region.objects.filter(parent__code__in=out).values_list("code", flat=True))
        if more <= out:
            return out
        out |= more


def _department_units(code: str) -> set[str]:
    """The department and every organization below it that is not itself a department."""
    out = {code}
    frontier = {code}
    while frontier:
        children = set(Organization.objects.filter(parent__code__in=frontier)
                       .exclude(kind=Organization.Kind.DEPARTMENT)
                       .values_list("code", flat=True)) - out
        out |= children
        frontier = children
    return out
