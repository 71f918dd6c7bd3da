"""Reads for reports: the ledger facts of a year (one SQL GROUP BY over ledger lines,
then pandas on integer fen — never float), report scopes, the budget execution report
and its monthly trend. Every figure carries a trace reference (reports.trace)."""
from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
from django.db import connections, router
from django.db.models import QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from finance import measures as vocabulary
from finance.dimensions import project_categories
from finance.measures import EXECUTION_MEASURES, trace_ref
from finance.models import (
    Account,
    EconomicCode,
    FunctionCode,
    FundSource,
    Line,
    Organization,
    Region,
    fen_to_decimal,
)
from reports import errors

DIMENSIONS = ("region", "department", "unit", "function", "economic", "fund_source")
FACT_COLUMNS = ["account", "book", "kind", "measure", "region", "department", "unit",
                "function", "economic", "fund_source", "basic", "month", "amount"]


# ------------------------------------------------------------------------- scope
@dataclass(frozen=True)
class Scope:
    """What a report covers: `all`, `region:<code>` (a region with its districts, so the
    city consolidates its districts), `department:<code>` or `unit:<code>`."""

    kind: str = "all"
    code: str = ""

    @classmethod
    def parse(cls, text: str | None) -> Scope:
        if not text or text == "all":
            return cls()
        kind, _, code = text.partition(":")
        if kind not in {"region", "department", "unit"} or not code:
            raise errors.BadScope(scope=text)
        return cls(kind, code)

    def __str__(self) -> str:
        return self.kind if self.kind == "all" else f"{self.kind}:{self.code}"

    def trace_dims(self) -> dict[str, str]:
        return {} if self.kind == "all" else {self.kind: self.code}


@dataclass
class MasterData:
    """Code lookups read once per report (a few thousand rows at most)."""

    accounts: dict[int, tuple[str, str, str]]  # id -> (code, book, normal side)
    functions: dict[int, str]
    economics: dict[int, str]
    funds: dict[int, str]
    regions: dict[int, str]
    region_parent: dict[str, str]
    org_code: dict[int, str]
    org_department: dict[int, str]  # org id -> department code ('' when none)
    names: dict[str, dict[str, str]] = field(default_factory=dict)
    # project code -> "1" 基本支出 / "0" 项目支出 (finance.measures.is_basic_line)
    project_basic: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls) -> MasterData:
        accounts = {pk: (code, book, side) for pk, code, book, side in
                    Account.objects.values_list("id", "code", "book", "normal_side")}
        regions = dict(Region.objects.values_list("id", "code"))
        region_parent = {code: (regions.get(parent) or "") for code, parent in
                         Region.objects.values_list("code", "parent_id")}
        orgs = {pk: (code, kind, parent) for pk, code, kind, parent in
                Organization.objects.values_list("id", "code", "kind", "parent_id")}
        dept: dict[int, str] = {}
        for pk in orgs:
            node, seen = pk, 0
            dept[pk] = ""
            while node is not None and seen < 20:
                code, kind, parent = orgs[node]
                if kind == Organization.Kind.DEPARTMENT:
                    dept[pk] = code
                    break
                node, seen = parent, seen + 1
        names = {
            "function": dict(FunctionCode.objects.values_list("code", "name")),
            "economic": dict(EconomicCode.objects.values_list("code", "name")),
            "fund_source": dict(FundSource.objects.values_list("code", "name")),
            "account": dict(Account.objects.values_list("code", "name")),
            "org": dict(Organization.objects.values_list("code", "name")),
            "region": dict(Region.objects.values_list("code", "name")),
        }
        return cls(accounts, dict(FunctionCode.objects.values_list("id", "code")),
                   dict(EconomicCode.objects.values_list("id", "code")),
                   dict(FundSource.objects.values_list("id", "code")), regions, region_parent,
                   {pk: v[0] for pk, v in orgs.items()}, dept, names,
                   {code: "1" if vocabulary.is_basic_line(code, cat) else "0"
                    for code, cat in project_categories().items()})

    def region_with_descendants(self, code: str) -> set[str]:
        out = {code}
        changed = True
        while changed:
            extra = {c for c, p in self.region_parent.items() if p in out} - out
            changed = bool(extra)
            out |= extra
        return out


# ------------------------------------------------------------------------- facts
def ledger_facts(*, year: int, as_of: date | None = None, by_month: bool = False,
                 master: MasterData | None = None,
                 units: Collection[int] | None = None, upto: int | None = None) -> pd.DataFrame:
    """Every ledger line of `year` summed per account, entry kind and dimension tuple
    (one GROUP BY in SQL), labelled with its measure. `amount` is integer fen on the
    account's normal side (int64: exact; no float anywhere). `units` (organization ids)
    keeps only those units' lines: a department's set reads its own lines, not the
    city's (`scope_units`)."""
    master = master or MasterData.load()
    if units is not None and not units:
        return _label(pd.DataFrame(), master, by_month)
    # a line's year is its entry's fiscal year (finance.ledger writes both from one
    # value): saying so lets the database read only the year's entries for the join
    # instead of every year's (bench/province.py, docs/PERFORMANCE.md)
    lines = Line.objects.filter(year=year, entry__fiscal_year=year)
    if units is not None:
        lines = lines.filter(unit_id__in=sorted(units))
    if as_of is not None:
        lines = lines.filter(entry__date__lte=as_of)
    if upto is not None:  # the ledger as it stood after entry `upto` of the year
        lines = lines.filter(entry__number__lte=upto)
    keys = ["account_id", "kind", "region_id", "unit_id", "function_id", "economic_id",
            "fund_source_id", "project_code"]
    if by_month:
        keys.append("entry__month")
    # a reversal counts with the kind of the entry it reverses (a reversed approval
    # nets out of "approved", a reversed close out of "closed")
    rows = (lines.annotate(kind=Coalesce("entry__reverses__kind", "entry__kind"))
            .values(*keys).annotate(d=Sum("debit_fen"), c=Sum("credit_fen")).order_by()
            .values_list(*keys, "d", "c"))
    # The ORM writes the query; the rows are read with a plain cursor, because building
    # model-less tuples through Django's converters costs a third of the query time on
    # a million lines (bench/reports_disclosure.py). Values are ids, ints and codes.
    sql, params = rows.query.sql_with_params()
    # the router's choice, as the ORM would make it (a report inside replica_reads() reads
    # the replica; found by bench/replica_reads.py against a real standby)
    with connections[router.db_for_read(Line)].cursor() as cur:
        cur.execute(sql, params)
        raw = pd.DataFrame.from_records(cur.fetchall(), columns=[*keys, "d", "c"])
    return _label(raw, master, by_month)


# Above this many ids a scope is read whole and filtered in pandas (an IN list of a few
# thousand parameters gains nothing over reading every line, and SQLite caps parameters).
MAX_SCOPE_UNITS = 1000


def scope_units(master: MasterData, kind: str, codes: Collection[str]) -> list[int] | None:
    """Organization ids whose lines make up `department`/`unit` scopes `codes` (as
    `_label` assigns them), for `ledger_facts(units=...)`; None: read every line."""
    wanted = set(codes)
    if kind == "department":
        ids = [pk for pk, dept in master.org_department.items() if dept in wanted]
    elif kind == "unit":
        ids = [pk for pk, code in master.org_code.items() if code in wanted]
    else:
        return None
    return ids if len(ids) <= MAX_SCOPE_UNITS else None


def _label(raw: pd.DataFrame, master: MasterData, by_month: bool) -> pd.DataFrame:
    if raw.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("amount", "month") else object)
                             for c in FACT_COLUMNS})
    ids = raw["account_id"]
    out = pd.DataFrame({
        "account": ids.map({k: v[0] for k, v in master.accounts.items()}),
        "book": ids.map({k: v[1] for k, v in master.accounts.items()}),
        "kind": raw["kind"].fillna(""),
        "region": raw["region_id"].map(master.regions).fillna(""),
        "department": raw["unit_id"].map(master.org_department).fillna(""),
        "unit": raw["unit_id"].map(master.org_code).fillna(""),
        "function": raw["function_id"].map(master.functions).fillna(""),
        "economic": raw["economic_id"].map(master.economics).fillna(""),
        "fund_source": raw["fund_source_id"].map(master.funds).fillna(""),
        # 基本支出 or 项目支出 by the project's category (finance.measures.basic_q: no
        # project is basic, a code the library does not know is project spending)
        "basic": raw["project_code"].map(master.project_basic).astype(object)
        .where(raw["project_code"] != "", "1").fillna("0"),
        "month": raw["entry__month"].astype("int64") if by_month else 0,
    })
    d = raw["d"].astype("int64")
    c = raw["c"].astype("int64")
    debit_normal = ids.map({k: v[2] == "debit" for k, v in master.accounts.items()})
    out["amount"] = np.where(debit_normal.to_numpy(dtype=bool), d - c, c - d).astype("int64")
    out["measure"] = _measures(out)
    return out[FACT_COLUMNS]


def _measures(f: pd.DataFrame) -> np.ndarray:
    """The base measure each line group contributes to (finance.measures: the first
    measure of the table whose book, accounts and entry kinds match; 'other' for none)."""
    a, k, book = f["account"], f["kind"], f["book"]
    conditions, choices = [], []
    for m in vocabulary.BASE_MEASURES.values():
        mask = np.ones(len(f), dtype=bool)
        if m.book:
            mask &= (book == m.book).to_numpy()
        if m.accounts:
            mask &= a.isin(m.accounts).to_numpy()
        if m.prefixes:
            mask &= a.str.startswith(m.prefixes).to_numpy()
        if m.exclude_accounts:
            mask &= ~a.isin(m.exclude_accounts).to_numpy()
        if m.kinds:
            mask &= k.isin(m.kinds).to_numpy()
        if m.exclude_kinds:
            mask &= ~k.isin(m.exclude_kinds).to_numpy()
        conditions.append(mask)
        choices.append(m.name)
    return np.select(conditions, choices, default="other")


def scope_filter(facts: pd.DataFrame, scope: Scope, master: MasterData) -> pd.DataFrame:
    if scope.kind == "all":
        return facts
    if scope.kind == "region":
        return facts[facts["region"].isin(master.region_with_descendants(scope.code))]
    return facts[facts[scope.kind] == scope.code]


def fen_sum(frame: pd.DataFrame, measure: str | Iterable[str], **filters: object) -> int:
    """Sum of `amount` (fen) of the facts with the given measure(s) and filters; a
    filter value ending in '*' matches a code prefix (类/款 contain their children)."""
    measures = [measure] if isinstance(measure, str) else list(measure)
    mask = frame["measure"].isin(measures)
    for name, value in filters.items():
        if isinstance(value, str) and value.endswith("*"):
            mask &= frame[name].str.startswith(value[:-1])
        elif isinstance(value, list | tuple | set):
            mask &= frame[name].isin(list(value))
        else:
            mask &= frame[name] == value
    return int(frame.loc[mask, "amount"].sum())


# ------------------------------------------------------------------- execution
@dataclass(frozen=True)
class Figure:
    """One reported amount: exact fen, and the reference of the query that produces it."""

    fen: int
    trace: str

    @property
    def yuan(self) -> Decimal:
        return fen_to_decimal(self.fen)


@dataclass
class ExecutionRow:
    keys: dict[str, str]
    labels: dict[str, str]
    figures: dict[str, Figure]

    @property
    def budget_fen(self) -> int:
        return self.figures["approved"].fen + self.figures["adjusted"].fen

    @property
    def rate(self) -> Decimal | None:
        """执行率 = paid / (approved + adjusted), 4 places (a fraction), None if no budget."""
        if not self.budget_fen:
            return None
        return (Decimal(self.figures["paid"].fen) / Decimal(self.budget_fen)).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP)


@dataclass
class ExecutionReport:
    year: int
    as_of: date | None
    scope: Scope
    group_by: tuple[str, ...]
    rows: list[ExecutionRow]
    total: ExecutionRow
    monthly_paid: list[Figure]  # 12 months of payments (9301 debits net), the trend


def execution_report(*, year: int, group_by: Sequence[str] = ("department",),
                     scope: Scope | None = None, as_of: date | None = None) -> ExecutionReport:
    """预算执行情况表: approved, adjusted, committed, paid, available and execution rate by
    any of region / department / unit / function / economic / fund source."""
    scope = scope or Scope()
    group = tuple(group_by)
    for name in group:
        if name not in DIMENSIONS:
            raise errors.BadScope(scope=name)
    master = MasterData.load()
    facts = ledger_facts(year=year, as_of=as_of, by_month=True, master=master)
    facts = scope_filter(facts, scope, master)
    facts = facts[facts["measure"].isin(EXECUTION_MEASURES)]
    base = {"year": str(year), **scope.trace_dims()}
    if as_of is not None:
        base["as_of"] = as_of.isoformat()
    rows: list[ExecutionRow] = []
    if group and not facts.empty:
        pivot = facts.pivot_table(index=list(group), columns="measure", values="amount",
                                  aggfunc="sum", fill_value=0)
        for key, values in pivot.iterrows():
            key_t = key if isinstance(key, tuple) else (key,)
            keys = dict(zip(group, (str(k) for k in key_t), strict=True))
            rows.append(_execution_row(keys, values, base, master))
    totals = facts.groupby("measure")["amount"].sum() if not facts.empty else pd.Series(dtype="int64")
    total = _execution_row({}, totals, base, master)
    monthly = facts[facts["measure"] == "paid"].groupby("month")["amount"].sum()
    monthly_paid = [Figure(int(monthly.get(m, 0)),
                           trace_ref(measure="paid", month=str(m), **base)) for m in range(1, 13)]
    return ExecutionReport(year, as_of, scope, group, rows, total, monthly_paid)


_NAME_KIND = {"department": "org", "unit": "org"}


def _execution_row(keys: dict[str, str], values: pd.Series, base: dict[str, str],
                   master: MasterData) -> ExecutionRow:
    dims = {**base, **{k: v for k, v in keys.items() if v}}
    # an empty key means "lines without this dimension": trace it explicitly as blank
    dims.update({k: "-" for k, v in keys.items() if not v})
    figures = {m: Figure(int(values.get(m, 0)), trace_ref(measure=m, **dims))
               for m in EXECUTION_MEASURES}
    labels = {k: master.names.get(_NAME_KIND.get(k, k), {}).get(v, "") for k, v in keys.items()}
    return ExecutionRow(keys, labels, figures)


# ------------------------------------------------------------ disclosure deadline
DISCLOSURE_DAYS = 20  # 预算法: public within 20 days of 批复
ALERT_DAYS = 5


@dataclass(frozen=True)
class Deadline:
    disclosure: object
    due: date
    days_left: int
    state: str  # published | published_late | due_soon | overdue | open


def disclosure_due(approved_on: date) -> date:
    """The legal deadline of a set: 20 days after the 批复 (2027-03-10 → 2027-03-30)."""
    from datetime import timedelta

    return approved_on + timedelta(days=DISCLOSURE_DAYS)


def deadline_state(ds: object, today: date) -> str:
    """`published` (on or before the deadline), `published_late` (after it), else
    `overdue` (unpublished past it), `due_soon` (within 5 days) or `open`."""
    from reports.models import DisclosureSet

    due = disclosure_due(ds.approved_on)  # type: ignore[attr-defined]
    if ds.status == DisclosureSet.Status.PUBLISHED:  # type: ignore[attr-defined]
        published = timezone.localdate(ds.published_at)  # type: ignore[attr-defined]
        return "published" if published <= due else "published_late"
    if today > due:
        return "overdue"
    if (due - today).days <= ALERT_DAYS:
        return "due_soon"
    return "open"


def disclosure_deadlines(*, today: date) -> list[Deadline]:
    """Every disclosure set with its legal deadline (批复 + 20 days) and an alert state:
    `due_soon` within 5 days, `overdue` after it, unless published (then `published` or
    `published_late`)."""
    from reports.models import DisclosureSet

    out = []
    for ds in DisclosureSet.objects.select_related(
            "department", "confidentiality_by", "head_signed_by").order_by("approved_on", "id"):
        due = disclosure_due(ds.approved_on)
        out.append(Deadline(ds, due, (due - today).days, deadline_state(ds, today)))
    return out


def published_sets(*, year: str = "", department: str = "") -> QuerySet:
    """Published disclosure sets only (the public's view), newest year first."""
    from reports.models import DisclosureSet

    qs = (DisclosureSet.objects.filter(status=DisclosureSet.Status.PUBLISHED)
          .select_related("department").order_by("-year", "department__code", "kind", "id"))
    if year.isdigit() and len(year) <= 4:
        qs = qs.filter(year=int(year))
    if department:
        qs = qs.filter(department__code=department)
    return qs
