"""Reads of the budgets app. Indicator amounts always come from the ledger (the control
book: 9101 available, 9001 authority); other apps (payments) use these with Dims."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet, Sum

from budgets.models import Adjustment, BudgetPlan, ControlNumber, Indicator, PlanLine, Project
from finance import chart
from finance import selectors as ledger
from finance.ledger import Dims
from finance.models import Line, WorkflowStep, fen_to_decimal

ZERO = Decimal("0.00")
# the entry kinds that set an indicator (the rest — commitments, payments, releases — use it);
# carry_forward: last year's money carried in on Jan 1 by the year-end close (年初结转)
BUDGET_KINDS = {"approval": "approved", "adjustment": "adjusted", "virement": "adjusted",
                "carry_forward": "carried"}


def _cents(value: Decimal | None) -> Decimal:
    """SQL sums of decimals come back with extra places on SQLite."""
    return (value or ZERO).quantize(Decimal("0.01"))


def _dim_kwargs(dims: Dims) -> dict[str, str]:
    return {"region": dims.region, "unit": dims.unit, "function": dims.function,
            "economic": dims.economic, "fund_source": dims.fund_source, "project": dims.project}


def indicator_available(*, dims: Dims, year: int, as_of: dt.date | None = None) -> Decimal:
    """可用指标: the 9101 balance of exactly this tuple (blank dimensions are blank)."""
    return ledger.balance(account=chart.AVAILABLE, year=year, as_of=as_of, **_dim_kwargs(dims))


def indicator_exists(*, dims: Dims, year: int) -> bool:
    return Indicator.objects.filter(year=year, dim_key=dims.key(year)).exists()


def indicator_for(*, dims: Dims, year: int) -> Indicator | None:
    """The register's indicator of exactly this tuple in `year`, with its unit, or None.
    The register holds approved indicators only: a row is written with the posting of a
    plan's approval (批复) or of an approved increase or virement, never before."""
    return (Indicator.objects.select_related("unit")
            .filter(year=year, dim_key=dims.key(year)).first())


@dataclass(frozen=True)
class IndicatorRow:
    """One indicator of a unit: approved (批复), adjusted (调整/调剂, signed), used (moved
    by other documents, e.g. payment commitments), available, and carried in from last
    year by the year-end close (年初结转), all from the ledger:
    available = approved + carried + adjusted − used."""

    dims: Dims
    approved: Decimal
    adjusted: Decimal
    used: Decimal
    available: Decimal
    carried: Decimal = Decimal("0.00")

    @property
    def current(self) -> Decimal:
        return self.approved + self.carried + self.adjusted


_LINE_DIMS = ("region__code", "unit__code", "function__code", "economic__code",
              "fund_source__code", "project_code")


def _dims_of(row: dict) -> Dims:
    return Dims(*(row[k] or "" for k in _LINE_DIMS))


def unit_indicators(*, unit_code: str, year: int) -> list[IndicatorRow]:
    """Every indicator tuple of a unit with approved / adjusted / used / available."""
    return units_indicators(unit_codes=[unit_code], year=year).get(unit_code, [])


def units_indicators(*, unit_codes: Iterable[str], year: int) -> dict[str, list[IndicatorRow]]:
    """`unit_indicators` of many units in one query (a department's home): unit code →
    its rows; a unit without indicators is left out."""
    rows = (Line.objects.filter(year=year, unit__code__in=list(unit_codes),
                                account__code=chart.AVAILABLE)
            .values(*_LINE_DIMS, "entry__kind")
            .annotate(d=Sum("debit_fen"), c=Sum("credit_fen")).order_by())
    totals: dict[Dims, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        bucket = BUDGET_KINDS.get(r["entry__kind"], "used")
        totals[_dims_of(r)][bucket] += r["d"] - r["c"]
    result: dict[str, list[IndicatorRow]] = defaultdict(list)
    for d in sorted(totals, key=lambda x: x.key(year)):
        t = totals[d]
        result[d.unit].append(IndicatorRow(
            dims=d, approved=fen_to_decimal(t["approved"]), adjusted=fen_to_decimal(t["adjusted"]),
            used=fen_to_decimal(-t["used"]), carried=fen_to_decimal(t["carried"]),
            available=fen_to_decimal(t["approved"] + t["carried"] + t["adjusted"] + t["used"])))
    return dict(result)


@dataclass(frozen=True)
class HistoryEvent:
    """One movement of an indicator's available amount by a budget document."""

    date: dt.date
    entry: str  # YEAR-NUMBER
    kind: str  # approval / adjustment / virement / reversal
    amount: Decimal  # signed: + adds to available, - takes from it
    document: str  # plan or batch/文号
    reason: str
    approved_by: str
    approved_at: dt.datetime


def indicator_history(*, dims: Dims, year: int) -> list[HistoryEvent]:
    """原始批复, every adjustment and virement, who approved each — in ledger order."""
    q = Line.objects.filter(year=year, account__code=chart.AVAILABLE, entry__kind__in=[*BUDGET_KINDS, "reversal"])
    for name, value in _dim_kwargs(dims).items():
        if name == "project":
            q = q.filter(project_code=value)
        elif value:
            q = q.filter(**{f"{name}__code": value})
        else:  # a blank dimension is part of the tuple, not a wildcard
            q = q.filter(**{f"{name}__isnull": True})
    lines = (q.select_related("entry__posted_by", "entry__source_type")
             .order_by("entry__number", "seq"))
    adjustments = {str(a.pk): a for a in Adjustment.objects.filter(
        entry_id__in={ln.entry_id for ln in lines})}
    events: list[HistoryEvent] = []
    for ln in lines:
        e = ln.entry
        model = e.source_type.model if e.source_type_id else ""
        adj = adjustments.get(e.source_id) if model == "adjustment" else None
        document = (f"{adj.batch_no} {adj.doc_no}" if adj else
                    f"plan {e.source_id}" if model == "budgetplan" else e.description)
        events.append(HistoryEvent(
            date=e.date, entry=f"{e.fiscal_year}-{e.number}", kind=e.kind,
            amount=ln.debit - ln.credit, document=document, reason=adj.reason if adj else "",
            approved_by=e.posted_by.username if e.posted_by_id else "", approved_at=e.posted_at))
    return events


# ---------------------------------------------------------------- compilation
@dataclass(frozen=True)
class ControlCheck:
    fund_source: str
    total: Decimal
    control: Decimal

    @property
    def exceeded(self) -> bool:
        return self.total > self.control


def plan_control_check(*, plan: BudgetPlan) -> list[ControlCheck]:
    """Lines total per fund source beside the control number (no number means zero)."""
    return plan_control_checks(plan_ids=[plan.pk])[plan.pk]


def plan_control_checks(*, plan_ids: list[int]) -> dict[int, list[ControlCheck]]:
    """plan_control_check of many plans in two queries, by plan id."""
    totals: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for pid, fund, total in (PlanLine.objects.filter(plan_id__in=plan_ids)
                             .values_list("plan_id", "fund_source__code")
                             .annotate(t=Sum("amount")).order_by()):
        totals[pid][fund] = total
    controls: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for pid, fund, amount in (ControlNumber.objects.filter(plan_id__in=plan_ids)
                              .values_list("plan_id", "fund_source__code", "amount")):
        controls[pid][fund] = amount
    return {pid: [ControlCheck(fund, _cents(totals[pid].get(fund)),
                               _cents(controls[pid].get(fund)))
                  for fund in sorted(set(totals[pid]) | set(controls[pid]))]
            for pid in plan_ids}


def plans(*, year: int | None = None, unit_code: str | None = None,
          department_code: str | None = None) -> QuerySet[BudgetPlan]:
    qs = BudgetPlan.objects.select_related("unit")
    if year is not None:
        qs = qs.filter(year=year)
    if unit_code:
        qs = qs.filter(unit__code=unit_code)
    if department_code:
        qs = qs.filter(unit__parent__code=department_code)
    return qs


@dataclass(frozen=True)
class ConsolidationRow:
    unit: str
    fund_source: str
    status: str
    total: Decimal
    last_year: Decimal
    control: Decimal | None


def department_consolidation(*, department_code: str, year: int) -> list[ConsolidationRow]:
    """汇总: a department's units, per fund source: plan total, last year, control number."""
    rows = (PlanLine.objects.filter(plan__year=year, plan__unit__parent__code=department_code)
            .values("plan_id", "plan__unit__code", "plan__status", "fund_source__code")
            .annotate(t=Sum("amount"), ly=Sum("last_year_amount"))
            .order_by("plan__unit__code", "fund_source__code"))
    controls = {(c.plan_id, c.fund_source.code): c.amount for c in ControlNumber.objects.filter(
        plan__year=year, plan__unit__parent__code=department_code).select_related("fund_source")}
    return [ConsolidationRow(r["plan__unit__code"], r["fund_source__code"], r["plan__status"],
                             _cents(r["t"]), _cents(r["ly"]), controls.get((r["plan_id"], r["fund_source__code"])))
            for r in rows]


def plan_steps(*, document: BudgetPlan | Project | Adjustment) -> QuerySet[WorkflowStep]:
    """The document's workflow trail (who, when, from, to, comment)."""
    from django.contrib.contenttypes.models import ContentType

    return WorkflowStep.objects.filter(doc_type=ContentType.objects.get_for_model(document),
                                       doc_id=str(document.pk)).select_related("actor")


def library_projects(*, unit_code: str) -> QuerySet[Project]:
    """Projects of a unit that can be budgeted (in the library)."""
    return Project.objects.filter(unit__code=unit_code, status=Project.Status.IN_LIBRARY)
