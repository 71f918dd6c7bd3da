"""Budget screens (issue 7): a unit's projects and budget plans (二上二下, filed online or
by the Excel template), the department's and budget office's review queue with the
consolidation, control numbers (一下), approval (批复) and adjustments.

Every read goes through a scoped queryset (web.budget_access over web.scoping: a unit
sees itself, a department its units, the city everything), so another unit's plan id is
a 404; every write is one call to budgets.services, whose domain errors are shown on the
page."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Count, OuterRef, Subquery, Sum
from django.db.models.functions import Substr
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from budgets import errors as budget_errors
from budgets import selectors
from budgets import services as budgets
from budgets.models import Adjustment, BudgetPlan, ControlNumber, Indicator, PlanLine, Project
from budgets.spreadsheets import COLUMNS, plan_template_build
from budgets.validation import leaf_codes
from finance.errors import LedgerError
from finance.ledger import Dims
from finance.models import FunctionCode, Organization
from web import budget_access as access
from web import scoping, views_performance
from web.forms_budget import (
    AdjustmentForm,
    ControlForm,
    PlanCreateForm,
    PlanLineFormSet,
    ProjectForm,
    ReasonForm,
    TemplateUploadForm,
)

PS = BudgetPlan.Status
ZERO = Decimal("0.00")
MAX_UPLOAD = 5 * 1024 * 1024
PER_PAGE = 100
FIELD_OF_COLUMN = {col: name for name, col in COLUMNS.items()}
_CELL = re.compile(r"^(?P<sheet>[^!]+)!(?P<col>[A-Z]+)(?P<row>\d+): (?P<reason>.*)$", re.S)
_LINE = re.compile(r"^line (?P<row>\d+): (?P<field>[a-z_ ']+): (?P<reason>.*)$", re.S)


def _year(request: HttpRequest) -> int | None:
    y = request.GET.get("year", "")
    return int(y) if y.isdigit() and 2000 <= int(y) <= 2100 else None


def _unit_of(user: Any) -> Organization | None:
    org = scoping.organization_of(user)
    return org if org is not None and org.kind == Organization.Kind.BUDGET_UNIT else None


def _own_unit(user: Any, unit: Organization) -> bool:
    own = _unit_of(user)
    return own is not None and own.pk == unit.pk


def _problems(exc: LedgerError) -> list[dict[str, str]]:
    """A service's list of problems as rows of row / field / reason."""
    rows = []
    for text in getattr(exc, "problems", None) or getattr(exc, "violations", None) or [str(exc)]:
        m = _CELL.match(text)
        if m:
            rows.append({"row": m["row"], "cell": f"{m['sheet']}!{m['col']}{m['row']}",
                         "field": FIELD_OF_COLUMN.get(m["col"], m["col"]), "reason": m["reason"]})
            continue
        m = _LINE.match(text)
        if m:
            rows.append({"row": m["row"], "cell": "", "field": m["field"], "reason": m["reason"]})
        else:
            rows.append({"row": "", "cell": "", "field": "", "reason": text})
    return rows


def _page(request: HttpRequest, qs: Any, per: int = PER_PAGE) -> Page:
    """One page of a long list (`?page=`); the template shows the pager."""
    return Paginator(qs, per).get_page(request.GET.get("page"))


def _steps(document: Any) -> list[Any]:
    return list(selectors.plan_steps(document=document).order_by("at", "id"))


# ----------------------------------------------------------------- projects
@login_required
def projects(request: HttpRequest) -> HttpResponse:
    qs = access.visible_projects(request.user).order_by("unit__code", "code")
    status = request.GET.get("status", "")
    if status in Project.Status.values:
        qs = qs.filter(status=status)
    return render(request, "web/budget/projects.html", {
        "projects": _page(request, qs), "statuses": Project.Status.choices, "status": status,
        "can_file": access.is_unit_filer(request.user)})


@login_required
def project_new(request: HttpRequest) -> HttpResponse:
    unit = _unit_of(request.user)
    if unit is None or not access.is_unit_filer(request.user):
        raise PermissionDenied(_("Only a budget unit's filer files projects."))
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        targets = ([budgets.TargetInput(name=d["target_name"], target_value=d["target_value"],
                                        measure_unit=d["target_unit"])]
                   if d["target_name"] and d["target_value"] else [])
        try:
            project = budgets.project_create(
                unit_code=unit.code, code=d["code"].strip(), name=d["name"].strip(),
                category=d["category"], industry=d["industry"], start_date=d["start_date"],
                end_date=d["end_date"], total_amount=d["total_amount"],
                annual_plans=form.annual_plans(), targets=targets, user=request.user)
        except LedgerError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Project %(code)s saved as a draft; submit it for "
                                        "review.") % {"code": project.code})
            return redirect("web:budget_project", pk=project.pk)
    return render(request, "web/budget/project_new.html", {"form": form, "unit": unit})


@login_required
def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_or_404(access.visible_projects(request.user), pk=pk)
    user, st = request.user, Project.Status
    reviewer = access.can_review(user) and project.filed_by_id != user.pk
    return render(request, "web/budget/project_detail.html", {
        "project": project, "steps": _steps(project),
        "annual_plans": project.annual_plans.select_related("fund_source"),
        "perf": views_performance.project_panel(project),
        "can_perf_targets": _own_unit(user, project.unit) and access.is_unit_filer(user)
        and project.status in (st.DRAFT, st.RETURNED),
        "can_perf_report": _own_unit(user, project.unit) and access.is_unit_filer(user)
        and project.status == st.IN_LIBRARY,
        "can_submit": _own_unit(user, project.unit) and access.is_unit_filer(user)
        and project.status in (st.DRAFT, st.RETURNED),
        "can_review": reviewer and project.status == st.SUBMITTED,
        "can_accept": reviewer and project.status == st.REVIEWED,
        "can_return": reviewer and project.status in (st.SUBMITTED, st.REVIEWED),
        "reason_form": ReasonForm()})


@login_required
@require_POST
def project_act(request: HttpRequest, pk: int) -> HttpResponse:
    """submit (the unit's filer) / review, accept, return (department or budget office)."""
    project = get_object_or_404(access.visible_projects(request.user), pk=pk)
    action, user = request.POST.get("action", ""), request.user
    allowed = (access.is_unit_filer(user) and _own_unit(user, project.unit) if action == "submit"
               else access.can_review(user) if action in ("review", "accept", "return") else False)
    if not allowed:
        raise PermissionDenied(_("Your role cannot do this to a project."))
    try:
        if action == "submit":
            budgets.project_submit(project=project, user=user)
        elif action == "review":
            budgets.project_review(project=project, user=user, comment=request.POST.get("comment", ""))
        elif action == "accept":
            budgets.project_accept(project=project, user=user, comment=request.POST.get("comment", ""))
        else:
            budgets.project_return(project=project, user=user, reason=request.POST.get("reason", ""))
    except LedgerError as exc:
        messages.error(request, str(exc))
    else:
        project.refresh_from_db()
        messages.success(request, _("Project %(code)s is now: %(status)s.") % {
            "code": project.code, "status": project.get_status_display()})
    return redirect("web:budget_project", pk=project.pk)


# -------------------------------------------------------------------- plans
@login_required
def plans(request: HttpRequest) -> HttpResponse:
    year = _year(request)
    qs = access.visible_plans(request.user).annotate(
        total=Sum("lines__amount"), line_count=Count("lines")).order_by("-year", "unit__code")
    if year:
        qs = qs.filter(year=year)
    status = request.GET.get("status", "")
    if status in PS.values:
        qs = qs.filter(status=status)
    unit = _unit_of(request.user) if access.is_unit_filer(request.user) else None
    return render(request, "web/budget/plans.html", {
        "plans": _page(request, qs), "year": year, "unit": unit, "status": status,
        "statuses": PS.choices,
        "create_form": PlanCreateForm(initial={"year": year or timezone.localdate().year + 1})})


@login_required
@require_POST
def plan_new(request: HttpRequest) -> HttpResponse:
    unit = _unit_of(request.user)
    if unit is None or not access.is_unit_filer(request.user):
        raise PermissionDenied(_("Only a budget unit's filer creates its budget plan."))
    form = PlanCreateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the fiscal year of the plan."))
        return redirect("web:budget_plans")
    try:
        plan = budgets.plan_create(unit_code=unit.code, year=form.cleaned_data["year"],
                                   user=request.user)
    except LedgerError as exc:
        messages.error(request, str(exc))
        return redirect("web:budget_plans")
    messages.success(request, _("Budget plan %(year)s created; fill in its lines.")
                     % {"year": plan.year})
    return redirect("web:budget_plan", pk=plan.pk)


def _plan_context(request: HttpRequest, plan: BudgetPlan) -> dict[str, Any]:
    user = request.user
    filer = access.is_unit_filer(user) and _own_unit(user, plan.unit)
    not_filer = plan.filed_by_id != user.pk
    office = access.is_office(user) and not_filer
    lines = list(plan.lines.select_related("project", "function", "economic", "fund_source")
                 .order_by("fund_source__code", "project__code", "function__code",
                           "economic__code"))
    funds = sorted(set(leaf_codes("fund_source")))
    controls = {c.fund_source.code: c.amount for c in plan.control_numbers.select_related("fund_source")}
    checks = selectors.plan_control_check(plan=plan)
    return {
        "plan": plan, "lines": lines, "checks": checks, "steps": _steps(plan),
        "total": sum((x.amount for x in lines), ZERO),
        "last_total": sum((x.last_year_amount for x in lines), ZERO),
        "can_edit": filer and plan.editable,
        "can_submit": filer and plan.status in (PS.DRAFT, PS.CONTROLLED),
        "can_review": access.can_review(user) and not_filer
        and plan.status in (PS.FIRST_SUBMITTED, PS.SECOND_SUBMITTED),
        "can_return": access.can_review(user) and not_filer and plan.status in (
            PS.FIRST_SUBMITTED, PS.FIRST_REVIEWED, PS.SECOND_SUBMITTED, PS.SECOND_REVIEWED),
        "can_control": office and plan.status == PS.FIRST_REVIEWED,
        "can_approve": office and plan.status == PS.SECOND_REVIEWED,
        "control_form": ControlForm(funds=funds, initial={
            f"fund_{c.fund_source}": controls.get(c.fund_source, c.total) for c in checks}),
        "reason_form": ReasonForm(),
        "perf": views_performance.plan_panel(plan, lines),  # last year's 绩效自评 (issue 22)
    }


@login_required
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(access.visible_plans(request.user), pk=pk)
    return render(request, "web/budget/plan_detail.html", _plan_context(request, plan))


def _filer_plan(request: HttpRequest, pk: int) -> BudgetPlan:
    plan = get_object_or_404(access.visible_plans(request.user), pk=pk)
    if not (access.is_unit_filer(request.user) and _own_unit(request.user, plan.unit)):
        raise PermissionDenied(_("Only the unit's filer edits its budget plan."))
    return plan


@login_required
def plan_lines(request: HttpRequest, pk: int) -> HttpResponse:
    """Online filing: edit every line in one form; the service saves all or nothing."""
    plan = _filer_plan(request, pk)
    library = list(selectors.library_projects(unit_code=plan.unit.code)
                   .order_by("code").values_list("code", "name"))
    initial = [{"project": x.project.code, "function": x.function.code,
                "economic": x.economic.code, "fund_source": x.fund_source.code,
                "amount": f"{x.amount:.2f}", "last_year_amount": f"{x.last_year_amount:.2f}"}
               for x in plan.lines.select_related("project", "function", "economic",
                                                  "fund_source").order_by("id")]
    formset = PlanLineFormSet(request.POST or None, initial=initial,
                              form_kwargs={"projects": library})
    problems: list[dict[str, str]] = []
    if request.method == "POST" and formset.is_valid():
        lines = [line for f in formset.forms if (line := f.line()) is not None]
        try:
            result = budgets.plan_lines_save(plan=plan, lines=lines, user=request.user)
        except LedgerError as exc:
            messages.error(request, str(exc) if not getattr(exc, "problems", None) else
                           _("Nothing was saved; correct the lines below."))
            problems = _problems(exc)
        else:
            messages.success(request, _("Lines saved: %(created)s added, %(updated)s changed, "
                                        "%(deleted)s removed, %(unchanged)s unchanged.")
                             % vars(result))
            return redirect("web:budget_plan", pk=plan.pk)
    return render(request, "web/budget/plan_lines.html", {
        "plan": plan, "formset": formset, "problems": problems, "library": library,
        "functions": leaf_codes("function"), "economics": leaf_codes("economic"),
        "funds": leaf_codes("fund_source")})


@login_required
def plan_template(request: HttpRequest, pk: int) -> HttpResponse:
    """Download the plan's filing template (.xlsx) with its current lines."""
    plan = get_object_or_404(access.visible_plans(request.user), pk=pk)
    content = plan_template_build(plan=plan)
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument."
                                                  "spreadsheetml.sheet")
    response["Content-Disposition"] = (f'attachment; filename="plan-{plan.unit.code}-'
                                       f'{plan.year}.xlsx"')
    return response


@login_required
def plan_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """Filing by template: upload the filled .xlsx; every bad cell is listed with its row,
    field and reason, and nothing is saved if there is one."""
    plan = _filer_plan(request, pk)
    form = TemplateUploadForm(request.POST or None, request.FILES or None)
    problems: list[dict[str, str]] = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > MAX_UPLOAD:
            form.add_error("file", _("The file is larger than %(mb)s MB.") % {"mb": MAX_UPLOAD // 2**20})
        else:
            try:
                result = budgets.plan_template_import(plan=plan, content=upload.read(),
                                                      user=request.user)
            except budget_errors.TemplateInvalid as exc:
                problems = _problems(exc)
                form.add_error(None, _("The template has %(count)s error(s); nothing was saved.")
                               % {"count": len(problems)})
            except LedgerError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Template read: %(created)s lines added, %(updated)s "
                                            "changed, %(deleted)s removed, %(unchanged)s "
                                            "unchanged.") % vars(result))
                return redirect("web:budget_plan", pk=plan.pk)
    return render(request, "web/budget/plan_upload.html",
                  {"plan": plan, "form": form, "problems": problems})


@login_required
@require_POST
def plan_act(request: HttpRequest, pk: int) -> HttpResponse:
    """submit (unit filer) · review, return (department or budget office) · control
    numbers and approve (budget office). The service checks state and segregation."""
    plan = get_object_or_404(access.visible_plans(request.user), pk=pk)
    user, action = request.user, request.POST.get("action", "")
    allowed = {
        "submit": access.is_unit_filer(user) and _own_unit(user, plan.unit),
        "review": access.can_review(user), "return": access.can_review(user),
        "control": access.is_office(user), "approve": access.is_office(user),
    }.get(action, False)
    if not allowed:
        raise PermissionDenied(_("Your role cannot do this to a budget plan."))
    comment = request.POST.get("comment", "")
    try:
        if action == "submit":
            budgets.plan_submit(plan=plan, user=user, comment=comment)
        elif action == "review":
            budgets.plan_review(plan=plan, user=user, comment=comment)
        elif action == "return":
            budgets.plan_return(plan=plan, user=user, reason=request.POST.get("reason", ""))
        elif action == "control":
            form = ControlForm(request.POST, funds=leaf_codes("fund_source"))
            form.is_valid()
            budgets.plan_control_set(plan=plan, amounts=form.amounts(), user=user, comment=comment)
        else:
            budgets.plan_approve(plan=plan, user=user, comment=comment)
    except LedgerError as exc:
        messages.error(request, str(exc))
    else:
        plan.refresh_from_db()
        messages.success(request, _("Budget plan %(unit)s %(year)s is now: %(status)s.") % {
            "unit": plan.unit.code, "year": plan.year, "status": plan.get_status_display()})
    return redirect("web:budget_plan", pk=plan.pk)


# ----------------------------------------------------- review queue (汇总)
WAITING = {PS.FIRST_SUBMITTED, PS.SECOND_SUBMITTED, PS.FIRST_REVIEWED, PS.SECOND_REVIEWED}


@login_required
def review(request: HttpRequest) -> HttpResponse:
    """The review queue by department and year, with the consolidation: totals per
    department and per function class (类)."""
    if not access.can_review(request.user):
        raise PermissionDenied(_("Plan review is for departments and the budget office."))
    year = _year(request) or timezone.localdate().year + 1
    qs = access.visible_plans(request.user).filter(year=year)
    department = request.GET.get("department", "")
    if department:
        qs = qs.filter(unit__parent__code=department)
    control = (ControlNumber.objects.filter(plan=OuterRef("pk")).order_by()
               .values("plan").annotate(s=Sum("amount")).values("s"))
    queue = _page(request, qs.filter(status__in=WAITING).annotate(
        total=Sum("lines__amount"), control=Subquery(control))  # a subquery: no join fan-out
        .order_by("unit__parent__code", "unit__code"))
    labels = dict(PS.choices)
    by_status = [{"status": r["status"], "label": labels.get(r["status"], r["status"]), "n": r["n"]}
                 for r in qs.values("status").annotate(n=Count("id")).order_by("status")]
    lines = PlanLine.objects.filter(plan__in=qs)
    by_department = list(lines.values("plan__unit__parent__code", "plan__unit__parent__name")
                         .annotate(total=Sum("amount"), last=Sum("last_year_amount"),
                                   plans=Count("plan", distinct=True))
                         .order_by("plan__unit__parent__code"))
    by_class = list(lines.annotate(cls=Substr("function__code", 1, 3)).values("cls")
                    .annotate(total=Sum("amount"), last=Sum("last_year_amount")).order_by("cls"))
    names = dict(FunctionCode.objects.filter(code__in=[r["cls"] for r in by_class])
                 .values_list("code", "name"))
    for r in by_class:
        r["name"] = names.get(r["cls"], "")
    departments = scoping.visible_organizations(request.user).filter(
        kind=Organization.Kind.DEPARTMENT).order_by("code")
    return render(request, "web/budget/review.html", {
        "year": year, "department": department, "departments": departments,
        "by_status": by_status, "queue": queue, "by_department": by_department, "by_class": by_class,
        "grand_total": sum((r["total"] or ZERO for r in by_department), ZERO),
        "own_department": scoping.organization_of(request.user)
        if access.is_department(request.user) else None,
        "reason_form": ReasonForm()})


@login_required
@require_POST
def department_review(request: HttpRequest) -> HttpResponse:
    """A department forwards every submitted plan of its units in one step."""
    if not access.is_department(request.user):
        raise PermissionDenied(_("Only a department forwards its units' plans."))
    org = scoping.organization_of(request.user)
    year = request.POST.get("year", "")
    if not year.isdigit():
        messages.error(request, _("Give the fiscal year of the plan."))
        return redirect("web:budget_review")
    try:
        done = budgets.department_plans_review(department_code=org.code, year=int(year),
                                               user=request.user,
                                               comment=request.POST.get("comment", ""))
    except LedgerError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("%(count)s plan(s) forwarded to the finance bureau.")
                         % {"count": len(done)})
    return redirect(f"{reverse('web:budget_review')}?year={year}")


# -------------------------------------------------------------- adjustments
def _figures(adj: Adjustment) -> list[dict[str, Any]]:
    """Each tuple the adjustment moves: the available amount before and after (projected
    while submitted; for an approved one, now and what it was before the movement)."""
    rows = []
    for side, key, sign in (("source", adj.source_key, -1), ("target", adj.target_key, 1)):
        if not key:
            continue
        year, dims = Dims.from_key(key)
        now = selectors.indicator_available(dims=dims, year=year)
        move = adj.amount * sign
        if adj.status == Adjustment.Status.APPROVED:
            before, after = now - move, now
        elif adj.status == Adjustment.Status.SUBMITTED:
            before, after = now, now + move
        else:
            before, after = now, now
        rows.append({"side": side, "dims": dims, "before": before, "after": after, "move": move})
    return rows


@login_required
def adjustments(request: HttpRequest) -> HttpResponse:
    qs = access.visible_adjustments(request.user).order_by("-id")
    status = request.GET.get("status", "")
    if status in Adjustment.Status.values:
        qs = qs.filter(status=status)
    year = _year(request)
    if year:
        qs = qs.filter(year=year)
    return render(request, "web/budget/adjustments.html", {
        "adjustments": _page(request, qs), "status": status, "statuses": Adjustment.Status.choices,
        "waiting": access.visible_adjustments(request.user).filter(
            status=Adjustment.Status.SUBMITTED).count(),
        "can_file": access.can_file_adjustment(request.user)})


def _indicator_choices(user: Any, year: int) -> list[tuple[str, str]]:
    qs = Indicator.objects.filter(year=year).select_related("unit").order_by("dim_key")
    if not scoping.is_city_level(user):
        qs = qs.filter(unit__in=scoping.visible_organizations(user))
    choices = []
    for ind in qs[:300]:
        label = " / ".join(x for x in (ind.unit.code, ind.function_code, ind.economic_code,
                                       ind.fund_source_code, ind.project_code) if x)
        choices.append((ind.dim_key, label))
    return choices


@login_required
def adjustment_new(request: HttpRequest) -> HttpResponse:
    """File an increase, decrease or virement (调整 / 调剂) on indicators in scope."""
    if not access.can_file_adjustment(request.user):
        raise PermissionDenied(_("Your role cannot file adjustments."))
    posted = request.POST.get("year", "")
    year = _year(request) or (int(posted) if posted.isdigit() and 2000 <= int(posted) <= 2100
                              else timezone.localdate().year)
    choices = _indicator_choices(request.user, year)
    form = AdjustmentForm(request.POST or None, indicators=choices, initial={"year": year})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        source = Dims.from_key(d["source"])[1] if d["source"] else None
        target = Dims.from_key(d["target"])[1] if d["target"] else None
        if target is None and d["target_unit"]:
            unit = scoping.visible_organizations(request.user).filter(
                code=d["target_unit"].strip()).select_related("region").first()
            if unit is None:
                form.add_error("target_unit", _("Unknown unit, or not one you may see."))
            else:
                target = Dims(region=unit.region.code, unit=unit.code,
                              function=d["target_function"].strip(),
                              economic=d["target_economic"].strip(),
                              fund_source=d["target_fund"].strip(),
                              project=d["target_project"].strip())
        if not form.errors:
            try:
                adj = budgets.adjustment_file(
                    kind=d["kind"], year=d["year"], amount=d["amount"], batch_no=d["batch_no"],
                    doc_no=d["doc_no"], date=d["date"], reason=d["reason"], source=source,
                    target=target, user=request.user)
            except LedgerError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Adjustment %(batch)s filed; the budget office "
                                            "approves it.") % {"batch": adj.batch_no})
                return redirect("web:budget_adjustment", pk=adj.pk)
    return render(request, "web/budget/adjustment_new.html", {"form": form, "year": year})


@login_required
def adjustment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    adj = get_object_or_404(access.visible_adjustments(request.user), pk=pk)
    can_decide = (access.is_office(request.user) and adj.filed_by_id != request.user.pk
                  and adj.status == Adjustment.Status.SUBMITTED)
    return render(request, "web/budget/adjustment_detail.html", {
        "adj": adj, "figures": _figures(adj), "steps": _steps(adj), "can_decide": can_decide,
        "reason_form": ReasonForm()})


@login_required
@require_POST
def adjustment_act(request: HttpRequest, pk: int) -> HttpResponse:
    """The budget office approves (posts) or rejects (with a reason) an adjustment."""
    adj = get_object_or_404(access.visible_adjustments(request.user), pk=pk)
    if not access.is_office(request.user):
        raise PermissionDenied(_("Only the budget office decides adjustments."))
    action = request.POST.get("action", "")
    try:
        if action == "approve":
            adj = budgets.adjustment_approve(adjustment=adj, user=request.user,
                                             comment=request.POST.get("comment", ""))
        elif action == "reject":
            adj = budgets.adjustment_reject(adjustment=adj, user=request.user,
                                            reason=request.POST.get("reason", ""))
        else:
            raise PermissionDenied(_("Unknown action."))
    except LedgerError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Adjustment %(batch)s is now: %(status)s.") % {
            "batch": adj.batch_no, "status": adj.get_status_display()})
    return redirect("web:budget_adjustment", pk=pk)

