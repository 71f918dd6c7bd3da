"""Checks of plan-line input shared by the API, the services and the Excel read-back:
each problem is (row index, field, reason) so callers can say `Sheet!C12: …`."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Exists, Model, OuterRef
from django.utils.translation import gettext, pgettext_lazy

from budgets import errors
from budgets.models import Project
from finance.models import EconomicCode, FunctionCode, FundSource, Organization

CODE_KINDS = {"function": FunctionCode, "economic": EconomicCode, "fund_source": FundSource}
KIND_LABEL = {"function": pgettext_lazy("code kind", "function"),
              "economic": pgettext_lazy("code kind", "economic"),
              "fund_source": pgettext_lazy("code kind", "fund source")}
# a plan line's fields as problems name them ("line 2: amount: …")
FIELD_LABEL = {"project": pgettext_lazy("plan field", "project"),
               "function": pgettext_lazy("plan field", "function"),
               "economic": pgettext_lazy("plan field", "economic"),
               "fund_source": pgettext_lazy("plan field", "fund_source"),
               "amount": pgettext_lazy("plan field", "amount"),
               "last_year_amount": pgettext_lazy("plan field", "last_year_amount")}


def line_where(i: int) -> str:
    """The default name of line i (0-based) in problems: "line 3"."""
    return gettext("line %(number)s") % {"number": i + 1}


@dataclass(frozen=True)
class PlanLineInput:
    """One plan line as entered (codes are strings; amounts Decimal or text)."""

    project: str
    function: str
    economic: str
    fund_source: str
    amount: Any
    last_year_amount: Any = Decimal("0.00")

    def key(self) -> tuple[str, str, str, str]:
        return (self.project, self.function, self.economic, self.fund_source)


@dataclass(frozen=True)
class Problem:
    index: int  # position in the input (0-based)
    field: str  # project / function / economic / fund_source / amount / last_year_amount
    reason: str


@dataclass(frozen=True)
class CodeInfo:
    id: int
    code: str
    active: bool
    leaf: bool
    # the code's row as read (only with `codes`): a foreign key set to it skips
    # full_clean's existence query for a row just read (finance.services.full_clean)
    row: Model | None = field(default=None, compare=False, repr=False)


def code_table(kind: str, codes: Iterable[str] | None = None) -> dict[str, CodeInfo]:
    """Every code of one classification with its active and leaf flags (small tables);
    with `codes`, just those codes (what a check of them looks up), each with its row."""
    model = CODE_KINDS[kind]
    children = model.objects.filter(parent=OuterRef("pk"), active=True)
    found = model.objects.annotate(has_child=Exists(children))
    if codes is not None:
        return {
            row.code: CodeInfo(row.id, row.code, row.active, not row.has_child, row)
            for row in found.filter(code__in={c for c in codes if c})
        }
    return {
        row["code"]: CodeInfo(row["id"], row["code"], row["active"], not row["has_child"])
        for row in found.values("id", "code", "active", "has_child")
    }


def leaf_codes(kind: str) -> list[str]:
    return sorted(c.code for c in code_table(kind).values() if c.active and c.leaf)


def parse_amount(value: Any, field: Any, *, positive: bool) -> tuple[Decimal | None, str | None]:
    """Decimal with at most 2 places; floats from spreadsheets go through their shortest
    text form (repr) so 1234.56 stays 1234.56. Returns (amount, None) or (None, reason)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, str(errors.MSG_AMOUNT_MISSING % {"field": field})
    if isinstance(value, bool):
        return None, str(errors.MSG_AMOUNT_NOT_NUMBER % {"field": field, "value": value})
    text = repr(value) if isinstance(value, float) else str(value).strip().replace(",", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None, str(errors.MSG_AMOUNT_NOT_NUMBER % {"field": field, "value": text})
    if not amount.is_finite():
        return None, str(errors.MSG_AMOUNT_NOT_NUMBER % {"field": field, "value": text})
    if amount.as_tuple().exponent < -2 and amount != amount.quantize(Decimal("0.01")):  # type: ignore[operator]
        return None, str(errors.MSG_AMOUNT_PLACES % {"field": field, "value": text})
    if amount < 0:
        return None, str(errors.MSG_AMOUNT_NEGATIVE % {"field": field, "value": text})
    if positive and amount == 0:
        return None, str(errors.MSG_AMOUNT_NOT_POSITIVE % {"field": field, "value": text})
    return amount.quantize(Decimal("0.01")), None


def code_problem(kind: str, code: str, table: dict[str, CodeInfo]) -> str | None:
    label = KIND_LABEL[kind]
    if not code:
        return str(errors.MSG_CODE_MISSING % {"kind": label})
    info = table.get(code)
    if info is None:
        return str(errors.MSG_CODE_UNKNOWN % {"kind": label, "code": code})
    if not info.active:
        return str(errors.MSG_CODE_RETIRED % {"kind": label, "code": code})
    if not info.leaf:
        return str(errors.MSG_CODE_NOT_LEAF % {"kind": label, "code": code})
    return None


def plan_line_problems(*, unit: Organization, lines: list[PlanLineInput],
                       where: Callable[[int], str] = line_where,
                       ) -> tuple[list[Problem], list[dict[str, Any]]]:
    """Validate every line; returns the problems and, when there are none, the lines as
    dicts of ids and Decimals ready to store."""
    problems, rows = plan_line_rows(unit=unit, lines=lines, where=where)
    return problems, [{"project_id": r["project"].pk, "function_id": r["function"].pk,
                       "economic_id": r["economic"].pk, "fund_source_id": r["fund_source"].pk,
                       "amount": r["amount"], "last_year_amount": r["last_year_amount"]}
                      for r in rows]


def plan_line_rows(*, unit: Organization, lines: list[PlanLineInput],
                   where: Callable[[int], str] = line_where,
                   ) -> tuple[list[Problem], list[dict[str, Any]]]:
    """plan_line_problems with the clean lines as dicts of the rows read (project,
    function, economic, fund_source) and Decimals, ready to be PlanLine's arguments."""
    tables = {kind: code_table(kind, {getattr(x, kind) for x in lines}) for kind in CODE_KINDS}
    projects = {p.code: p for p in Project.objects.filter(code__in={x.project for x in lines})}
    problems: list[Problem] = []
    clean: list[dict[str, Any]] = []
    seen: dict[tuple, int] = {}
    for i, line in enumerate(lines):
        row_problems: list[Problem] = []
        project = projects.get(line.project)
        if not line.project:
            row_problems.append(Problem(i, "project", str(errors.MSG_CODE_MISSING % {"kind": pgettext_lazy("code kind", "project")})))
        elif project is None:
            row_problems.append(Problem(i, "project", str(errors.MSG_PROJECT_UNKNOWN % {"code": line.project})))
        elif project.unit_id != unit.pk:
            row_problems.append(Problem(i, "project", str(errors.MSG_PROJECT_OTHER_UNIT % {
                "code": line.project, "owner": project.unit.code})))
        elif project.status != Project.Status.IN_LIBRARY:
            row_problems.append(Problem(i, "project", str(errors.MSG_PROJECT_NOT_IN_LIBRARY % {
                "code": line.project, "status": project.get_status_display()})))
        for kind in CODE_KINDS:
            reason = code_problem(kind, getattr(line, kind), tables[kind])
            if reason:
                row_problems.append(Problem(i, kind, reason))
        amount, reason = parse_amount(line.amount, pgettext_lazy("amount field", "amount"), positive=True)
        if reason:
            row_problems.append(Problem(i, "amount", reason))
        last, reason = parse_amount(line.last_year_amount if line.last_year_amount not in (None, "")
                                    else "0", pgettext_lazy("amount field", "last year's amount"),
                                    positive=False)
        if reason:
            row_problems.append(Problem(i, "last_year_amount", reason))
        if not row_problems and line.key() in seen:
            row_problems.append(Problem(i, "project", str(errors.MSG_DUPLICATE_LINE % {
                "first": where(seen[line.key()])})))
        seen.setdefault(line.key(), i)
        problems += row_problems
        if not row_problems:
            clean.append({
                "project": project,
                "function": tables["function"][line.function].row,
                "economic": tables["economic"][line.economic].row,
                "fund_source": tables["fund_source"][line.fund_source].row,
                "amount": amount, "last_year_amount": last,
            })
    return problems, clean
