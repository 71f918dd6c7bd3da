"""绩效 screens (issue 22): a project's targets (set with the project), the unit's
mid-year monitoring form, its year-end self-evaluation form, and the bureau's list and
review of self-evaluations. Reads are scoped like the other budget screens
(web.budget_access: another unit's project is a 404); every write is one call to
budgets.performance, whose domain errors are shown on the page. The texts are in the
budgets catalogue (templates budgets/performance_*.html, messages in budgets.performance)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from budgets import performance
from budgets import selectors as budget_selectors
from budgets.models import PerformanceTarget, Project, SelfEvaluation
from finance import roles
from finance.errors import LedgerError
from web import budget_access as access
from web import scoping

TARGET_ROWS = 8  # blank rows offered on the targets form


def _own_filer(user: Any, project: Project) -> bool:
    org = scoping.organization_of(user)
    return access.is_unit_filer(user) and org is not None and org.pk == project.unit_id


def _filer_project(request: HttpRequest, pk: int) -> Project:
    project = get_object_or_404(access.visible_projects(request.user), pk=pk)
    if not _own_filer(request.user, project):
        raise PermissionDenied(performance.MSG_ONLY_FILER)
    return project


def _year(request: HttpRequest, default: int) -> int:
    y = (request.POST.get("year") or request.GET.get("year") or "").strip()
    return int(y) if y.isdigit() and 2000 <= int(y) <= 2100 else default


def _values(request: HttpRequest, targets: list[PerformanceTarget]) -> dict[int, tuple[str, str]]:
    return {t.pk: (request.POST.get(f"value_{t.pk}", "").strip(),
                   request.POST.get(f"note_{t.pk}", "").strip()) for t in targets}


# ------------------------------------------------------------------ targets
@login_required
def targets(request: HttpRequest, pk: int) -> HttpResponse:
    """The unit sets its project's targets (draft or returned project)."""
    project = _filer_project(request, pk)
    editable = project.status in (Project.Status.DRAFT, Project.Status.RETURNED)
    rows = [{"name": t.name, "indicator_class": t.indicator_class, "comparison": t.comparison,
             "target_value": "" if t.target_value is None else f"{t.target_value.normalize():f}",
             "measure_unit": t.measure_unit, "weight": f"{t.weight.normalize():f}"}
            for t in project.targets.all()]
    error = ""
    if request.method == "POST" and editable:
        rows, specs, error = _target_specs(request)
        if not error:
            try:
                performance.targets_save(project=project, targets=specs, user=request.user)
            except LedgerError as exc:
                error = str(exc)
            else:
                messages.success(request, performance.MSG_TARGETS_SAVED)
                return redirect("web:budget_project", pk=project.pk)
    rows += [{}] * max(0, TARGET_ROWS - len(rows))
    return render(request, "budgets/performance_targets.html", {
        "project": project, "rows": rows, "editable": editable, "error": error,
        "classes": PerformanceTarget.IndicatorClass.choices,
        "comparisons": PerformanceTarget.Comparison.choices})


def _target_specs(request: HttpRequest) -> tuple[list[dict], list[performance.TargetSpec], str]:
    p = request.POST
    rows, specs, error = [], [], ""
    for i in range(int(p.get("rows", TARGET_ROWS) or TARGET_ROWS)):
        row = {k: p.get(f"{k}_{i}", "").strip() for k in (
            "name", "indicator_class", "comparison", "target_value", "measure_unit", "weight")}
        if not row["name"]:
            continue
        rows.append(row)
        try:
            value, weight = Decimal(row["target_value"]), Decimal(row["weight"] or "0")
        except InvalidOperation:
            error = error or str(performance.MSG_TARGET_NUMBERS % {"name": row["name"]})
            continue
        if (row["indicator_class"] not in PerformanceTarget.IndicatorClass.values
                or row["comparison"] not in PerformanceTarget.Comparison.values or value < 0):
            error = error or str(performance.MSG_TARGET_NUMBERS % {"name": row["name"]})
            continue
        specs.append(performance.TargetSpec(
            name=row["name"][:200], indicator_class=row["indicator_class"],
            comparison=row["comparison"], target_value=value,
            measure_unit=row["measure_unit"][:30], weight=weight))
    return rows, specs, error


# --------------------------------------------------------------- monitoring
@login_required
def monitoring(request: HttpRequest, pk: int) -> HttpResponse:
    """运行监控: the unit reports each target's progress as of a date."""
    project = _filer_project(request, pk)
    today = timezone.localdate()
    year = _year(request, today.year)
    target_list = list(project.targets.all())
    error = ""
    if request.method == "POST":
        try:
            on = dt.date.fromisoformat(request.POST.get("on", ""))
        except ValueError:
            error = str(performance.MSG_DATE)
        else:
            try:
                performance.progress_report(project=project, year=year, on=on,
                                            achieved=_values(request, target_list),
                                            note=request.POST.get("note", "").strip(),
                                            user=request.user)
            except LedgerError as exc:
                error = str(exc)
            else:
                messages.success(request, performance.MSG_PROGRESS_SAVED)
                return redirect("web:budget_project", pk=project.pk)
    return render(request, "budgets/performance_monitoring.html", {
        "project": project, "targets": target_list, "year": year, "error": error,
        "on": request.POST.get("on") or min(today, dt.date(year, 12, 31)).isoformat(),
        "values": request.POST, "latest": performance.latest_monitoring(project=project, year=year)})


# ----------------------------------------------------------- self-evaluation
@login_required
def evaluate(request: HttpRequest, pk: int) -> HttpResponse:
    """项目支出绩效自评: the unit enters the actual value of every target."""
    project = _filer_project(request, pk)
    year = _year(request, timezone.localdate().year - 1 if timezone.localdate().month < 7
                 else timezone.localdate().year)
    target_list = list(project.targets.all())
    existing = performance.evaluation_of(project=project, year=year)
    error = ""
    if request.method == "POST":
        try:
            e = performance.self_evaluation_submit(
                project=project, year=year, actuals=_values(request, target_list),
                summary=request.POST.get("summary", "").strip(), user=request.user)
        except LedgerError as exc:
            error = str(exc)
        else:
            messages.success(request, performance.MSG_EVALUATION_SUBMITTED % {
                "score": e.total_score, "grade": e.get_grade_display()})
            return redirect("web:performance_evaluation", pk=e.pk)
    budget, spent = performance.project_spending(project=project, year=year)
    return render(request, "budgets/performance_evaluate.html", {
        "project": project, "targets": target_list, "year": year, "error": error,
        "existing": existing, "values": request.POST, "budget": budget, "spent": spent})


# ------------------------------------------------------- the bureau's review
def _visible_evaluations(user: Any) -> Any:
    qs = SelfEvaluation.objects.select_related("project__unit", "filed_by", "decided_by")
    return qs if scoping.is_city_level(user) else qs.filter(
        project__unit__in=scoping.visible_organizations(user))


@login_required
def evaluations(request: HttpRequest) -> HttpResponse:
    qs = _visible_evaluations(request.user).order_by("-year", "status", "project__code")
    status = request.GET.get("status", "")
    if status in SelfEvaluation.Status.values:
        qs = qs.filter(status=status)
    return render(request, "budgets/performance_evaluations.html", {
        "evaluations": qs[:500], "status": status, "statuses": SelfEvaluation.Status.choices})


@login_required
def evaluation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    e = get_object_or_404(_visible_evaluations(request.user), pk=pk)
    may_decide = (roles.may_review_performance(request.user) and e.filed_by_id != request.user.pk
                  and e.status == SelfEvaluation.Status.SUBMITTED)
    return render(request, "budgets/performance_evaluation.html", {
        "e": e, "lines": e.lines.select_related("target").order_by("target_id"),
        "steps": list(budget_selectors.plan_steps(document=e).order_by("at", "id")),
        "may_decide": may_decide})


@login_required
@require_POST
def evaluation_act(request: HttpRequest, pk: int) -> HttpResponse:
    """approve / return (with a reason): the bureau (finance.roles.may_review_performance)."""
    e = get_object_or_404(_visible_evaluations(request.user), pk=pk)
    action = request.POST.get("action", "")
    if action not in ("approve", "return"):
        raise PermissionDenied(performance.MSG_ONLY_BUREAU)
    try:
        if action == "approve":
            performance.self_evaluation_approve(evaluation=e, user=request.user,
                                                comment=request.POST.get("comment", ""))
        else:
            performance.self_evaluation_return(evaluation=e, user=request.user,
                                               reason=request.POST.get("reason", ""))
    except LedgerError as exc:
        messages.error(request, str(exc))
    else:
        e.refresh_from_db()
        messages.success(request, performance.MSG_EVALUATION_DECIDED % {
            "code": e.project.code, "status": e.get_status_display()})
    return redirect("web:performance_evaluation", pk=e.pk)


# ------------------------------------------- panels of the project and plan pages
def project_panel(project: Project) -> dict[str, Any]:
    """What the project page shows of 绩效: targets, the latest monitoring with its
    deviations, the self-evaluations."""
    return {"targets": list(project.targets.all()),
            "monitoring": performance.latest_monitoring(project=project),
            "evaluations": list(project.self_evaluations.order_by("-year"))}


def plan_panel(plan: Any, lines: list[Any]) -> dict[str, Any]:
    """Last year's approved self-evaluations of the plan's projects (评价结果应用)."""
    ids = {x.project_id for x in lines}
    results = performance.last_year_results(project_ids=ids, year=plan.year)
    return {"last_year": plan.year - 1,
            "results": [results[i] for i in sorted(results, key=lambda i: results[i].project.code)]}
