"""Public portal (no login): the published disclosure sets (预决算公开) by year and
department, with server-rendered SVG charts of their figures and the files to download.

The figures come from each published set's manifest (the figures exactly as published,
frozen with the set), never from the live ledger; drafts and approved-but-unpublished
sets are never read."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from finance.models import FunctionCode
from reports.models import DisclosureSet
from web.charts import Chart, Series

# the 部门支出总表 of each kind: rows are 类/款/项 function codes, column `total`
EXPENDITURE_TABLE = {DisclosureSet.Kind.BUDGET: "B3", DisclosureSet.Kind.FINAL: "F3"}


def published_sets() -> Any:
    """The only sets the public may see."""
    return (DisclosureSet.objects.filter(status=DisclosureSet.Status.PUBLISHED)
            .select_related("department").prefetch_related("files"))


def expenditure_by_class(ds: DisclosureSet) -> dict[str, Decimal]:
    """Function class (类, 3 digits) → total expenditure in yuan, from the manifest."""
    table = EXPENDITURE_TABLE.get(ds.kind)
    out: dict[str, Decimal] = {}
    for f in (ds.manifest or {}).get("figures", []):
        row = str(f.get("row", ""))
        if (f.get("table") == table and f.get("column") == "total"
                and row.startswith("function:") and len(row) == len("function:") + 3):
            out[row.split(":", 1)[1]] = Decimal(str(f["amount_yuan"]))
    return out


def expenditure_total(ds: DisclosureSet) -> Decimal | None:
    table = EXPENDITURE_TABLE.get(ds.kind)
    for f in (ds.manifest or {}).get("figures", []):
        if f.get("table") == table and f.get("row") == "total" and f.get("column") == "total":
            return Decimal(str(f["amount_yuan"]))
    return None


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() and 2000 <= int(value) <= 2100 else None


def public_home(request: HttpRequest) -> HttpResponse:
    """Year and department selectors; for the year, budget vs final totals per
    department; for a department, its sets with expenditure by function class, budget
    vs final by class when both are published, and the files."""
    every = list(published_sets())
    years = sorted({ds.year for ds in every}, reverse=True)
    year = _int(request.GET.get("year", "")) or (years[0] if years else None)
    in_year = [ds for ds in every if ds.year == year]
    departments = sorted({(ds.department.code, ds.department.name) for ds in in_year})
    dept = request.GET.get("department", "")
    if dept not in {c for c, _n in departments}:
        dept = ""
    ctx: dict[str, Any] = {"years": years, "year": year, "departments": departments,
                           "department": dept, "charts": [], "sets": []}
    if not in_year:
        return render(request, "web/public/home.html", ctx)
    kinds = (DisclosureSet.Kind.BUDGET, DisclosureSet.Kind.FINAL)
    names = {DisclosureSet.Kind.BUDGET: _("Budget"), DisclosureSet.Kind.FINAL: _("Final accounts")}
    if not dept:
        by_dept: dict[str, dict[str, Decimal]] = defaultdict(dict)
        for ds in in_year:
            total = expenditure_total(ds)
            if total is not None:
                by_dept[ds.department.code][ds.kind] = total
        codes = [c for c, _n in departments if c in by_dept]
        label = dict(departments)
        ctx["charts"].append(Chart(
            chart_id="chart-departments",
            title=_("%(year)s expenditure by department: budget and final accounts") % {
                "year": year},
            labels=[f"{c} {label[c]}" for c in codes],
            series=[Series(names[k], [by_dept[c].get(k, Decimal("0.00")) for c in codes])
                    for k in kinds]))
        ctx["sets"] = in_year
        return render(request, "web/public/home.html", ctx)
    mine = {ds.kind: ds for ds in in_year if ds.department.code == dept}
    per_kind = {k: expenditure_by_class(ds) for k, ds in mine.items()}
    classes = sorted({c for v in per_kind.values() for c in v})
    fnames = dict(FunctionCode.objects.filter(code__in=classes).values_list("code", "name"))
    labels = [f"{c} {fnames.get(c, '')}".strip() for c in classes]
    dname = dict(departments)[dept]
    for k in kinds:
        if k in per_kind:
            ctx["charts"].append(Chart(
                chart_id=f"chart-{k}",
                title=_("%(year)s %(department)s %(kind)s: expenditure by function class") % {
                    "year": year, "department": dname, "kind": names[k]},
                labels=labels, series=[Series(names[k], [per_kind[k].get(c, Decimal("0.00"))
                                                         for c in classes])]))
    if len(per_kind) == len(kinds):
        ctx["charts"].append(Chart(
            chart_id="chart-budget-final",
            title=_("%(year)s %(department)s: budget vs final accounts by function class") % {
                "year": year, "department": dname},
            labels=labels, series=[Series(names[k], [per_kind[k].get(c, Decimal("0.00"))
                                                     for c in classes]) for k in kinds]))
    ctx["sets"] = list(mine.values())
    return render(request, "web/public/home.html", ctx)
