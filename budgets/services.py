"""Writes of the budgets app: the project library workflow and feed, the 二上二下
compilation of budget plans, approval into the control book, adjustments and
virements. Every transition is recorded with finance.services.workflow_record; every
ledger movement goes through finance.ledger.entry_post. Who may act is asked of
finance.roles in every write a person performs (the unit's filer files, its department or
the budget office reviews, the budget office sets control numbers, approves and decides
adjustments); the investment-project feed is the commission's data and checks no actor."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import pgettext_lazy

from budgets import errors
from budgets.importers.projects import ProjectIssue, ProjectRecord
from budgets.models import (
    Adjustment,
    BudgetPlan,
    ControlNumber,
    Indicator,
    PerformanceTarget,
    PlanLine,
    Project,
    ProjectAnnualPlan,
)
from budgets.validation import (
    FIELD_LABEL,
    PlanLineInput,
    code_problem,
    code_table,
    line_where,
    parse_amount,
    plan_line_rows,
)
from finance import chart, jobs, roles
from finance import errors as finance_errors
from finance.chart import EntryKind
from finance.ledger import Dims, EntryInput, cr, dr, entries_post, entry_post
from finance.models import Entry, FundSource, Job, Line, Organization
from finance.selectors import balance
from finance.services import (
    bulk_save_with_history,
    remember_stored,
    save_with_history,
    workflow_record,
    workflow_record_many,
)

Status = BudgetPlan.Status
ZERO = Decimal("0.00")


# --------------------------------------------------------------------- helpers
def _now(as_of: dt.datetime | None) -> dt.datetime:
    return as_of or timezone.now()


def _name(user: Any) -> str:
    return roles.user_name(user)


def _require_filer(user: Any, unit: Organization) -> None:
    """Only the unit's own filer (经办人) files and submits its projects and plans."""
    roles.require(roles.may_file(user, unit.code), user=user, role=roles.UNIT_FILER,
                  unit=unit.code)


REVIEWERS = (roles.DEPARTMENT_REVIEWER, roles.BUDGET_OFFICE)


def _require_reviewer(user: Any, unit: Organization) -> None:
    """A unit's projects and plans are reviewed (accepted, returned) by its supervising
    department or by the budget office."""
    roles.require(roles.may_review_for_unit(user, unit), user=user, role=REVIEWERS,
                  unit=unit.code)


def _require_office(user: Any) -> None:
    """Control numbers, approval and adjustments are the budget office's (预算处)."""
    roles.require(roles.may_act_as_budget_office(user), user=user, role=roles.BUDGET_OFFICE)


def _require_state(doc: Model, allowed: Iterable[str], action: str) -> None:
    status = doc.status  # type: ignore[attr-defined]
    if status not in set(allowed):
        raise errors.WrongState(document=str(doc._meta.verbose_name), status=status, action=action)


def _require_not_filer(doc: Model, user: Any, action: str) -> None:
    """Segregation of duties: whoever filed a document never approves it."""
    filer = getattr(doc, "filed_by_id", None)
    if filer is not None and filer == getattr(user, "pk", None):
        raise errors.SegregationOfDuties(user=_name(user), document=str(doc._meta.verbose_name),
                                         action=action)


def _move(doc: Model, *, to: str, action: str, user: Any, as_of: dt.datetime | None,
          comment: str = "", **fields: Any) -> None:
    """Change a document's status (history row with the action as reason) and record the
    step in the shared workflow log."""
    before = doc.status  # type: ignore[attr-defined]
    doc.status = to  # type: ignore[attr-defined]
    for name, value in fields.items():
        setattr(doc, name, value)
    save_with_history(doc, user=user, reason=f"{action}: {comment}" if comment else action)
    workflow_record(document=doc, from_state=before, to_state=to, action=action, user=user,
                    comment=comment, as_of=_now(as_of))


def _move_many(docs: list[Any], *, to: str, action: str, user: Any,
               as_of: dt.datetime | None, comment: str = "", fields: Iterable[str] = (),
               **values: Any) -> None:
    """_move for many documents of one model: one UPDATE of the status (and `fields`,
    set by the caller per document, and `values`, the same for all), one INSERT of their
    history rows and one of their workflow steps."""
    if not docs:
        return
    steps = []
    for doc in docs:
        steps.append((doc, doc.status, to))
        doc.status = to
        for name, value in values.items():
            setattr(doc, name, value)
    bulk_save_with_history(docs, user=user, fields=["status", *fields, *values],
                           reason=f"{action}: {comment}" if comment else action)
    workflow_record_many(steps, action=action, user=user, comment=comment, as_of=_now(as_of))


def _unit(code: str) -> Organization:
    unit = Organization.objects.select_related("region").filter(code=code).first()
    if unit is None:
        raise errors.UnknownUnit(code=code)
    if unit.kind != Organization.Kind.BUDGET_UNIT:
        raise errors.NotBudgetUnit(code=code)
    return unit


# ------------------------------------------------------------- project library
@dataclass(frozen=True)
class TargetInput:
    """绩效目标 as entered: the value as written ("≥95", "不超过30天" or a number; its
    comparison and number are read from it by budgets.performance.target_parse, unless
    `comparison` is given); the class guessed from the name unless given; without a
    weight on any target, the 90 points are split evenly (budgets.performance)."""

    name: str
    target_value: str
    measure_unit: str = ""
    indicator_class: str = ""
    comparison: str = ""
    weight: Decimal | None = None


@transaction.atomic
def project_create(*, unit_code: str, code: str, name: str, category: str, industry: str = "",
                   start_date: dt.date | None = None, end_date: dt.date | None = None,
                   total_amount: Any, annual_plans: Iterable[tuple[int, str, Any]] = (),
                   targets: Iterable[TargetInput] = (), user: Any,
                   as_of: dt.datetime | None = None, submit: bool = False) -> Project:
    """A unit files a project (draft) of a category (人员类/运转类/特定目标类,
    finance.dimensions.ProjectCategory); annual plans are (year, fund source, amount).
    `submit`: save and submit (保存并送审) in the same transaction, as `project_submit`
    does it, without reading back and locking the row just written."""
    unit = _unit(unit_code)
    _require_filer(user, unit)
    if Project.objects.filter(code=code).exists():
        raise errors.ProjectExists(code=code)
    total, problem = parse_amount(total_amount, pgettext_lazy("amount field", "total amount"), positive=False)
    if category not in Project.Category.values:
        problem = problem or f"category {category!r} is not one of {', '.join(Project.Category.values)}"
    if problem:
        raise errors.ProjectInvalid(code=code, problems=problem)
    annual_plans = list(annual_plans)
    funds = code_table("fund_source", (fund for _, fund, _ in annual_plans))
    project = Project(code=code, name=name, unit=unit, category=category, industry=industry,
                      start_date=start_date, end_date=end_date, total_amount=total,
                      filed_by=user if getattr(user, "pk", None) else None)
    save_with_history(project, user=user, reason="project filed")
    for year, fund, amount in annual_plans:
        value, problem = parse_amount(amount, pgettext_lazy("amount field", "annual plan amount"), positive=False)
        problem = problem or code_problem("fund_source", fund, funds)
        if problem:
            raise errors.ProjectInvalid(code=code, problems=problem)
        save_with_history(ProjectAnnualPlan(project=project, year=year, amount=value,
                                            fund_source=funds[fund].row),
                          user=user, reason="project filed")
    for row in _target_rows(project, list(targets)):
        save_with_history(row, user=user, reason="project filed")
    workflow_record(document=project, from_state="", to_state=project.status, action="file",
                    user=user, as_of=_now(as_of))
    if submit:
        remember_stored(project)  # its code was looked up above: no second look-up
        _move(project, to=Project.Status.SUBMITTED, action="submit", user=user, as_of=as_of)
    return project


def _target_rows(project: Project, targets: list[TargetInput]) -> list[PerformanceTarget]:
    from budgets import performance

    given = [t.weight for t in targets if t.weight is not None]
    if given and len(given) != len(targets):
        raise errors.ProjectInvalid(code=project.code, problems="give every target a weight or none")
    weights = given or performance.weights_split(len(targets))
    if targets and sum(weights, Decimal(0)) != performance.TARGET_POINTS:
        raise errors.ProjectInvalid(code=project.code, problems=str(errors.MSG_WEIGHTS % {
            "code": project.code, "total": sum(weights, Decimal(0))}))
    rows = []
    for t, weight in zip(targets, weights, strict=True):
        comparison, value, unit = performance.target_parse(str(t.target_value))
        rows.append(PerformanceTarget(
            project=project, name=t.name, target_text=str(t.target_value)[:60],
            target_value=value, comparison=t.comparison or comparison,
            measure_unit=t.measure_unit or unit,
            indicator_class=t.indicator_class or performance.class_guess(t.name), weight=weight))
    return rows


def _locked_project(project: Project) -> Project:
    # the unit and filer come with the row (full_clean then sends no existence query for
    # them); only the project's row is locked
    return (Project.objects.select_for_update(of=("self",)).select_related("unit", "filed_by")
            .get(pk=project.pk))


@transaction.atomic
def project_submit(*, project: Project, user: Any, as_of: dt.datetime | None = None,
                   comment: str = "") -> Project:
    project = _locked_project(project)
    _require_filer(user, project.unit)
    _require_state(project, [Project.Status.DRAFT, Project.Status.RETURNED], "submit")
    _move(project, to=Project.Status.SUBMITTED, action="submit", user=user, as_of=as_of,
          comment=comment)
    return project


@transaction.atomic
def project_review(*, project: Project, user: Any, as_of: dt.datetime | None = None,
                   comment: str = "") -> Project:
    project = _locked_project(project)
    _require_reviewer(user, project.unit)
    _require_state(project, [Project.Status.SUBMITTED], "review")
    _require_not_filer(project, user, "review")
    _move(project, to=Project.Status.REVIEWED, action="review", user=user, as_of=as_of,
          comment=comment)
    return project


@transaction.atomic
def project_accept(*, project: Project, user: Any, as_of: dt.datetime | None = None,
                   comment: str = "") -> Project:
    """入库: a reviewed project enters the library and can be budgeted."""
    project = _locked_project(project)
    _require_reviewer(user, project.unit)
    _require_state(project, [Project.Status.REVIEWED], "accept into the library")
    _require_not_filer(project, user, "accept")
    _move(project, to=Project.Status.IN_LIBRARY, action="accept", user=user, as_of=as_of,
          comment=comment, return_reason="")
    return project


@dataclass
class ProjectsDecided:
    """The outcome of a reviewer's batch action on many projects: the projects done, and
    those refused with the error the one-by-one service would have raised."""

    done: list[Project] = field(default_factory=list)
    refused: list[tuple[Project, finance_errors.LedgerError]] = field(default_factory=list)


def _projects_many(projects: list[Project], *, user: Any, frm: list[str], to: str,
                   action: str, label: str, as_of: dt.datetime | None, comment: str,
                   **values: Any) -> ProjectsDecided:
    """One locked pass for project_review / project_accept on many projects: locked in
    one statement in id order (two batches never deadlock), each checked as the single
    service checks it (a refused one is reported, nothing of it written, the others go
    on), the moves, history rows and workflow steps written in one statement each."""
    ids = [p.pk for p in projects]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{action}: a project appears twice in the batch")
    out = ProjectsDecided()
    if not ids:
        return out
    with transaction.atomic():
        locked = list(Project.objects.select_for_update(of=("self",))
                      .select_related("unit", "filed_by").filter(pk__in=ids).order_by("id"))
        for project in locked:
            try:
                _require_reviewer(user, project.unit)
                _require_state(project, frm, label)
                _require_not_filer(project, user, action)
            except (errors.BudgetError, finance_errors.NotPermitted) as exc:
                out.refused.append((project, exc))
            else:
                out.done.append(project)
        _move_many(out.done, to=to, action=action, user=user, as_of=as_of, comment=comment,
                   **values)
    return out


def projects_review(*, projects: list[Project], user: Any, as_of: dt.datetime | None = None,
                    comment: str = "") -> ProjectsDecided:
    """`project_review` for many projects in one locked pass (a department's queue)."""
    return _projects_many(projects, user=user, frm=[Project.Status.SUBMITTED],
                          to=Project.Status.REVIEWED, action="review", label="review",
                          as_of=as_of, comment=comment)


def projects_accept(*, projects: list[Project], user: Any, as_of: dt.datetime | None = None,
                    comment: str = "") -> ProjectsDecided:
    """`project_accept` (入库) for many projects in one locked pass."""
    return _projects_many(projects, user=user, frm=[Project.Status.REVIEWED],
                          to=Project.Status.IN_LIBRARY, action="accept",
                          label="accept into the library", as_of=as_of, comment=comment,
                          return_reason="")


@transaction.atomic
def project_return(*, project: Project, user: Any, reason: str,
                   as_of: dt.datetime | None = None) -> Project:
    if not reason.strip():
        raise errors.ReasonRequired()
    project = _locked_project(project)
    _require_reviewer(user, project.unit)
    _require_state(project, [Project.Status.SUBMITTED, Project.Status.REVIEWED], "return")
    _require_not_filer(project, user, "return")
    _move(project, to=Project.Status.RETURNED, action="return", user=user, as_of=as_of,
          comment=reason, return_reason=reason)
    return project


# ------------------------------------------------- investment-project feed (发改委)
@dataclass
class ProjectsImportReport:
    records: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    issues: list[ProjectIssue] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"records": self.records, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "bad": len({(i.record, i.code) for i in self.issues})}


def projects_import(*, records: list[ProjectRecord], issues: Iterable[ProjectIssue] = (),
                    filename: str = "", user: Any, reason: str = "investment-project feed",
                    as_of: dt.datetime | None = None,
                    progress: Callable[[int], None] | None = None) -> ProjectsImportReport:
    """Upsert parsed feed records by project code, each in its own transaction (a bad
    record never stops or half-saves the others). Unchanged records write nothing."""
    report = ProjectsImportReport(records=len(records), issues=list(issues))
    funds_by_name = {f.name: f for f in FundSource.objects.filter(active=True)}
    for n, rec in enumerate(records, start=1):
        def bad(fld: str, why: str, rec: ProjectRecord = rec) -> None:
            report.issues.append(ProjectIssue(filename, rec.record, rec.code, fld, why))

        unit = Organization.objects.filter(code=rec.owner_unit_code, active=True).first()
        missing = [p.fund_source for p in rec.annual_plans if p.fund_source not in funds_by_name]
        if unit is None:
            bad("owner_unit_code", f"owner unit {rec.owner_unit_code} does not exist")
        elif missing:
            bad("annual_plan", f"fund source {missing[0]} does not exist")
        else:
            outcome = _project_upsert(rec, unit, funds_by_name, user, reason)
            setattr(report, outcome, getattr(report, outcome) + 1)
        if progress:
            progress(n)
    return report


@transaction.atomic
def _project_upsert(rec: ProjectRecord, unit: Organization, funds: dict[str, FundSource],
                    user: Any, reason: str) -> str:
    project = Project.objects.select_for_update().filter(code=rec.code).first()
    created = project is None
    project = project or Project(code=rec.code, status=Project.Status.IN_LIBRARY,
                                 source=Project.Source.NDRC,
                                 category=Project.Category.SPECIFIC)
    values = {"name": rec.name, "unit_id": unit.pk, "industry": rec.industry,
              "start_date": rec.start_date, "end_date": rec.end_date,
              "total_amount": rec.total_investment, "approval_no": rec.approval_no,
              "stage": rec.stage, "external_status": rec.status, "change_note": rec.change_note}
    changed = created or any(getattr(project, k) != v for k, v in values.items())
    if changed:
        for k, v in values.items():
            setattr(project, k, v)
        save_with_history(project, user=user, reason=reason)
    current = {(p.year, p.fund_source_id): p for p in project.annual_plans.all()}
    wanted = {(p.year, funds[p.fund_source].pk): p.amount for p in rec.annual_plans}
    for key, amount in wanted.items():
        row = current.get(key)
        if row is None:
            row = ProjectAnnualPlan(project=project, year=key[0], fund_source_id=key[1])
        elif row.amount == amount:
            continue
        row.amount = amount
        save_with_history(row, user=user, reason=reason)
        changed = True
    for key, row in current.items():
        if key not in wanted:
            row._history_user = user  # type: ignore[attr-defined]
            row._change_reason = reason  # type: ignore[attr-defined]
            row.delete()
            changed = True
    return "created" if created else "updated" if changed else "unchanged"


def project_import_enqueue(*, filename: str, content: bytes, user: Any,
                           as_of: dt.datetime | None = None) -> Job:
    """Store an uploaded feed file as a job and run the import as a Celery task after
    commit; progress is visible at /jobs/<id>/."""
    from budgets import tasks  # tasks call back into this module

    job = jobs.job_create(kind="import_projects", user=user, filename=filename, content=content,
                          as_of=as_of)
    transaction.on_commit(lambda: tasks.project_import_run.delay(job_id=job.pk))
    return job


# ------------------------------------------------------------ budget plans (二上二下)
def _plans_locked() -> Any:
    # the unit (with its region) and filer come with the row (full_clean then sends no
    # existence query for them); only the plan's row is locked
    return (BudgetPlan.objects.select_for_update(of=("self",))
            .select_related("unit__region", "filed_by"))


def _locked_plan(plan: BudgetPlan) -> BudgetPlan:
    return _plans_locked().get(pk=plan.pk)


@dataclass
class PlansDecided:
    """The outcome of a batch action of the bureau on many plans: the plans done, and
    those refused with the error the one-by-one service would have raised."""

    done: list[BudgetPlan] = field(default_factory=list)
    refused: list[tuple[BudgetPlan, finance_errors.LedgerError]] = field(default_factory=list)


@transaction.atomic
def plan_create(*, unit_code: str, year: int, user: Any, as_of: dt.datetime | None = None,
                lines: list[PlanLineInput] | None = None, submit: bool = False) -> BudgetPlan:
    """A unit's plan for the year (draft). With `lines`: filled at once, exactly as
    `plan_lines_save` fills it (all valid or nothing saved); with `submit` as well:
    submitted (一上) in the same transaction, as `plan_submit` does it — without reading
    back and locking the row just written."""
    unit = _unit(unit_code)
    _require_filer(user, unit)
    if BudgetPlan.objects.filter(unit=unit, year=year).exists():
        raise errors.PlanExists(unit=unit_code, year=year)
    plan = BudgetPlan(unit=unit, year=year, filed_by=user if getattr(user, "pk", None) else None)
    # the (unit, year) clash was just looked up: no second look-up by full_clean
    bulk_save_with_history([plan], user=user, reason="plan created", unique_checked=True)
    remember_stored(plan)
    workflow_record(document=plan, from_state="", to_state=plan.status, action="create",
                    user=user, as_of=_now(as_of))
    if lines is not None:
        _lines_write(plan, lines, user, current={})
    if submit:
        _submit(plan, user, as_of, "", has_lines=lambda: bool(lines))
    return plan


@dataclass
class LinesSaveResult:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


@transaction.atomic
def plan_lines_save(*, plan: BudgetPlan, lines: list[PlanLineInput], user: Any,
                    as_of: dt.datetime | None = None,
                    where: Callable[[int], str] | None = None,
                    problems_as: Callable[[list], Exception] | None = None,
                    submit: bool = False, comment: str = "") -> LinesSaveResult:
    """Replace the plan's lines with `lines`: all valid or nothing saved. Lines that did
    not change are left alone (no history row), so saving the same lines is a no-op.
    `submit`: save and submit (保存并送审): the plan is then submitted in the same
    transaction exactly as `plan_submit` does it, without reading back and locking the
    row again; a refused submission (control numbers exceeded, no line) saves nothing."""
    plan = _locked_plan(plan)
    _require_filer(user, plan.unit)
    if not plan.editable:
        raise errors.PlanReadOnly(unit=plan.unit.code, year=plan.year, status=plan.status)
    current = {(x.project_id, x.function_id, x.economic_id, x.fund_source_id): x
               for x in plan.lines.all()}
    result = _lines_write(plan, lines, user, current, where=where, problems_as=problems_as)
    if submit:
        _submit(plan, user, as_of, comment, has_lines=lambda: bool(lines))
    return result


def _lines_write(plan: BudgetPlan, lines: list[PlanLineInput], user: Any,
                 current: dict[tuple, PlanLine], *, where: Callable[[int], str] | None = None,
                 problems_as: Callable[[list], Exception] | None = None) -> LinesSaveResult:
    """plan_lines_save of a locked (or just created) plan whose lines, as stored, are
    `current`."""
    kwargs = {"where": where} if where else {}
    problems, clean = plan_line_rows(unit=plan.unit, lines=lines, **kwargs)
    if problems:
        if problems_as:
            raise problems_as(problems)
        raise errors.PlanLinesInvalid([f"{line_where(p.index)}: {FIELD_LABEL.get(p.field, p.field)}: {p.reason}"
                                       for p in problems])
    result = LinesSaveResult()
    wanted = set()
    added, changed = [], []
    for row in clean:
        key = (row["project"].pk, row["function"].pk, row["economic"].pk, row["fund_source"].pk)
        wanted.add(key)
        line = current.get(key)
        if line is None:
            added.append(PlanLine(plan=plan, **row))
        elif (line.amount, line.last_year_amount) != (row["amount"], row["last_year_amount"]):
            line.amount, line.last_year_amount = row["amount"], row["last_year_amount"]
            changed.append(line)
        else:
            result.unchanged += 1
    # one INSERT for the new lines, one UPDATE for the changed ones, history rows with
    # each; the plan is locked and its lines were read (`current`), and the input has no
    # tuple twice (plan_line_rows), so a new line's tuple clashes with nothing: no
    # unique look-up per line
    bulk_save_with_history(added, user=user, reason="plan line added", unique_checked=True)
    bulk_save_with_history(changed, user=user, reason="plan line changed",
                           fields=["amount", "last_year_amount"])
    result.created, result.updated = len(added), len(changed)
    for key, line in current.items():
        if key not in wanted:
            line._history_user = user  # type: ignore[attr-defined]
            line._change_reason = "plan line removed"  # type: ignore[attr-defined]
            line.delete()
            result.deleted += 1
    return result


def _violations(plan: BudgetPlan) -> list[str]:
    return _violations_many([plan])[plan.pk]


def _violations_many(plans: list[BudgetPlan]) -> dict[int, list[str]]:
    """The control numbers each plan's lines exceed, as messages, by plan id."""
    from budgets.selectors import plan_control_checks  # selectors are reads; no import cycle

    checks = plan_control_checks(plan_ids=[p.pk for p in plans])
    return {pid: [str(errors.MSG_CONTROL_VIOLATION % {"fund": r.fund_source, "total": r.total,
                                                      "control": r.control})
                  for r in rows if r.exceeded]
            for pid, rows in checks.items()}


def _submit(plan: BudgetPlan, user: Any, as_of: dt.datetime | None, comment: str,
            has_lines: Callable[[], bool]) -> None:
    """plan_submit's checks and move on a locked (or just written) plan."""
    _require_state(plan, [Status.DRAFT, Status.CONTROLLED], "submit")
    if not has_lines():
        raise errors.PlanEmpty(unit=plan.unit.code, year=plan.year)
    if plan.status == Status.DRAFT:
        _move(plan, to=Status.FIRST_SUBMITTED, action="submit 一上", user=user, as_of=as_of,
              comment=comment)
    else:
        violations = _violations(plan)
        if violations:
            raise errors.ControlNumbersExceeded(violations)
        _move(plan, to=Status.SECOND_SUBMITTED, action="submit 二上", user=user, as_of=as_of,
              comment=comment)


@transaction.atomic
def plan_submit(*, plan: BudgetPlan, user: Any, as_of: dt.datetime | None = None,
                comment: str = "") -> BudgetPlan:
    """一上 (from draft) or 二上 (from controlled; must fit every control number)."""
    plan = _locked_plan(plan)
    _require_filer(user, plan.unit)
    _submit(plan, user, as_of, comment, has_lines=plan.lines.exists)
    return plan


@transaction.atomic
def plan_review(*, plan: BudgetPlan, user: Any, as_of: dt.datetime | None = None,
                comment: str = "") -> BudgetPlan:
    """The supervising department (主管部门) reviews and forwards to the bureau."""
    plan = _locked_plan(plan)
    _require_reviewer(user, plan.unit)
    _require_state(plan, [Status.FIRST_SUBMITTED, Status.SECOND_SUBMITTED], "review")
    _require_not_filer(plan, user, "review")
    to = Status.FIRST_REVIEWED if plan.status == Status.FIRST_SUBMITTED else Status.SECOND_REVIEWED
    _move(plan, to=to, action="department review", user=user, as_of=as_of, comment=comment)
    return plan


def department_plans_review(*, department_code: str, year: int, user: Any,
                            as_of: dt.datetime | None = None, comment: str = "") -> list[BudgetPlan]:
    """汇总: the department forwards every submitted plan of its units in one step (its
    reviewer, or the budget office; one check for the batch)."""
    roles.require(roles.may_review_department(user, department_code)
                  or roles.may_act_as_budget_office(user), user=user, role=REVIEWERS,
                  unit=department_code)
    with transaction.atomic():
        plans = list(BudgetPlan.objects.select_for_update().filter(
            unit__parent__code=department_code, year=year,
            status__in=[Status.FIRST_SUBMITTED, Status.SECOND_SUBMITTED]).order_by("unit__code"))
        # every plan gets plan_review's checks; the moves are written in one UPDATE, their
        # history rows and workflow steps in one INSERT each
        for p in plans:
            _require_not_filer(p, user, "review")
        for before, to in ((Status.FIRST_SUBMITTED, Status.FIRST_REVIEWED),
                           (Status.SECOND_SUBMITTED, Status.SECOND_REVIEWED)):
            group = [p for p in plans if p.status == before]
            for p in group:
                p.status = to
            action = "department review"
            bulk_save_with_history(group, user=user, fields=["status"],
                                   reason=f"{action}: {comment}" if comment else action)
            workflow_record_many([(p, before, to) for p in group], action=action, user=user,
                                 comment=comment, as_of=_now(as_of))
        return plans


@transaction.atomic
def plan_return(*, plan: BudgetPlan, user: Any, reason: str,
                as_of: dt.datetime | None = None) -> BudgetPlan:
    """退回: back to the unit for revision (draft in round one, controlled in round two)."""
    if not reason.strip():
        raise errors.ReasonRequired()
    plan = _locked_plan(plan)
    _require_reviewer(user, plan.unit)
    _require_state(plan, [Status.FIRST_SUBMITTED, Status.FIRST_REVIEWED, Status.SECOND_SUBMITTED,
                          Status.SECOND_REVIEWED], "return")
    _require_not_filer(plan, user, "return")
    first_round = plan.status in (Status.FIRST_SUBMITTED, Status.FIRST_REVIEWED)
    _move(plan, to=Status.DRAFT if first_round else Status.CONTROLLED, action="return",
          user=user, as_of=as_of, comment=reason, return_reason=reason)
    return plan


def _control_amounts(plan: BudgetPlan, amounts: dict[str, Any], user: Any,
                     funds: dict[str, Any]) -> dict[int, tuple[Any, Decimal]]:
    """plan_control_set's checks of one locked plan: its state, who sets the numbers, and
    every amount (fund source id: (row, amount) when all are good)."""
    _require_state(plan, [Status.FIRST_REVIEWED], "set control numbers")
    _require_not_filer(plan, user, "set control numbers for")
    problems, clean = [], {}
    for fund, raw in sorted(amounts.items()):
        amount, problem = parse_amount(raw, pgettext_lazy("amount field", "control number"), positive=False)
        problem = code_problem("fund_source", fund, funds) or problem
        if problem:
            problems.append(f"{fund}: {problem}")
        else:
            clean[funds[fund].id] = (funds[fund].row, amount)
    if problems:
        raise errors.PlanLinesInvalid(problems)
    return clean


@transaction.atomic
def plan_control_set(*, plan: BudgetPlan, amounts: dict[str, Any], user: Any,
                     as_of: dt.datetime | None = None, comment: str = "") -> BudgetPlan:
    """一下: the bureau sets the unit's control numbers per fund source."""
    _require_office(user)
    plan = _locked_plan(plan)
    clean = _control_amounts(plan, amounts, user, code_table("fund_source", amounts))
    current = {c.fund_source_id: c for c in ControlNumber.objects.filter(
        plan=plan, fund_source_id__in=clean).select_related("fund_source")}
    for fund_id, (fund_row, amount) in clean.items():
        row = current.get(fund_id) or ControlNumber(plan=plan, fund_source=fund_row)
        row.amount = amount
        save_with_history(row, user=user, reason="一下 control number")
    _move(plan, to=Status.CONTROLLED, action="issue control numbers 一下", user=user, as_of=as_of,
          comment=comment, return_reason="")
    return plan


def plans_control_set(*, items: Iterable[tuple[BudgetPlan, dict[str, Any]]], user: Any,
                      as_of: dt.datetime | None = None, comment: str = "") -> PlansDecided:
    """一下 for many plans in one locked pass: (plan, amounts per fund source) each. The
    plans are locked in one statement in id order (two batches never deadlock), every
    plan gets exactly the checks of `plan_control_set` (a refused one is reported with
    that error and nothing of it is written; the others go on), and the control numbers,
    the plans' moves, their history rows and workflow steps are written in one statement
    each. A plan that no longer exists is left out. Only the budget office sets control
    numbers (one check for the batch: a refusal refuses it all)."""
    _require_office(user)
    items = list(items)
    wanted = {plan.pk: amounts for plan, amounts in items}
    if len(wanted) != len(items):
        raise ValueError("plans_control_set: a plan appears twice in the batch")
    out = PlansDecided()
    if not items:
        return out
    with transaction.atomic():
        locked = list(_plans_locked().filter(pk__in=list(wanted)).order_by("id"))
        funds = code_table("fund_source", {f for a in wanted.values() for f in a})
        ok: list[tuple[BudgetPlan, dict[int, tuple[Any, Decimal]]]] = []
        for plan in locked:
            try:
                ok.append((plan, _control_amounts(plan, wanted[plan.pk], user, funds)))
            except errors.BudgetError as exc:
                out.refused.append((plan, exc))
        # every control number of the locked plans is read, so a new one clashes with
        # nothing (no unique look-up per row)
        current = {(c.plan_id, c.fund_source_id): c for c in ControlNumber.objects.filter(
            plan_id__in=[p.pk for p, _ in ok]).select_related("fund_source")}
        new, changed = [], []
        for plan, clean in ok:
            for fund_id, (fund_row, amount) in clean.items():
                row = current.get((plan.pk, fund_id))
                if row is None:
                    new.append(ControlNumber(plan=plan, fund_source=fund_row, amount=amount))
                else:
                    row.amount = amount
                    changed.append(row)
        bulk_save_with_history(new, user=user, reason="一下 control number", unique_checked=True)
        bulk_save_with_history(changed, user=user, reason="一下 control number",
                               fields=["amount"])
        out.done = [p for p, _ in ok]
        _move_many(out.done, to=Status.CONTROLLED, action="issue control numbers 一下",
                   user=user, as_of=as_of, comment=comment, return_reason="")
    return out


def plan_line_dims(line: PlanLine, unit: Organization) -> Dims:
    return Dims(region=unit.region.code, unit=unit.code, function=line.function.code,
                economic=line.economic.code, fund_source=line.fund_source.code,
                project=line.project.code)


_LINE_RELATED = ("project", "function", "economic", "fund_source")


def _approve_check(plan: BudgetPlan, user: Any, violations: Callable[[], list[str]],
                   lines: Callable[[], list[PlanLine]]) -> list[PlanLine]:
    """plan_approve's checks of one locked plan, in its order; returns its lines."""
    _require_state(plan, [Status.SECOND_REVIEWED], "approve")
    _require_not_filer(plan, user, "approve")
    found = violations()  # control numbers may not change after 二上, but be sure
    if found:
        raise errors.ControlNumbersExceeded(found)
    rows = lines()
    if not rows:
        raise errors.PlanEmpty(unit=plan.unit.code, year=plan.year)
    return rows


def _approval(plan: BudgetPlan, lines: list[PlanLine], as_of: dt.datetime,
              on: dt.date | None) -> tuple[EntryInput, list[tuple[PlanLine, Dims]]]:
    """The approval entry of a plan (Dr 9101 / Cr 9001 per line) and its lines' tuples."""
    unit = plan.unit
    specs, tuples = [], []
    for line in lines:
        d = plan_line_dims(line, unit)
        tuples.append((line, d))
        specs += [dr("indicator", chart.AVAILABLE, line.amount, d), cr("indicator", chart.AUTHORITY, line.amount, d)]
    return EntryInput(lines=specs, description=f"批复 {unit.code} {unit.name} {plan.year}",
                      on=on or timezone.localdate(as_of), source=plan, kind=EntryKind.APPROVAL,
                      idempotency_key=f"budgets:plan:{plan.pk}:approve"), tuples


def _indicators_register(done: list[tuple[BudgetPlan, Any, list[tuple[PlanLine, Dims]]]]) -> None:
    """The indicator register rows of approved plans: (plan, entry, tuples) each; a tuple
    registered before (or earlier in the batch) keeps its first row."""
    if not done:
        return
    year = done[0][1].fiscal_year
    keys = [d.key(year) for _, _, tuples in done for _, d in tuples]
    known: set[str] = set()
    for i in range(0, len(keys), 500):
        known |= set(Indicator.objects.filter(year=year, dim_key__in=keys[i:i + 500])
                     .values_list("dim_key", flat=True))
    rows = []
    for plan, entry, tuples in done:
        for line, d in tuples:
            key = d.key(entry.fiscal_year)
            if key in known:
                continue
            known.add(key)
            rows.append(Indicator(year=entry.fiscal_year, dim_key=key, region_code=d.region,
                                  unit=plan.unit, function_code=d.function,
                                  economic_code=d.economic, fund_source_code=d.fund_source,
                                  project_code=d.project, plan_line=line, entry=entry))
    Indicator.objects.bulk_create(rows)


def indicators_carry_register(*, entries: list[Entry]) -> int:
    """Register the tuples that carry-forward entries (上年指标结转, posted by the year-end
    close) make available in the new year, so units can file requests against them; a
    tuple registered before keeps its row. Returns how many rows were added. A system
    step of the close: it checks no actor (the close checks its own)."""
    rows: list[Indicator] = []
    seen: set[tuple[int, str]] = set()
    lines = (Line.objects.filter(entry__in=entries, account__code=chart.AVAILABLE,
                                 debit_fen__gt=0)
             .select_related("entry", "region", "unit", "function", "economic", "fund_source")
             .order_by("entry_id", "seq"))
    for line in lines:
        d = Dims(region=line.region.code, unit=line.unit.code, function=line.function.code,
                 economic=line.economic.code, fund_source=line.fund_source.code,
                 project=line.project_code)
        year = line.entry.fiscal_year
        seen.add((year, d.key(year)))
        rows.append(Indicator(year=year, dim_key=d.key(year), region_code=d.region,
                              unit=line.unit, function_code=d.function,
                              economic_code=d.economic, fund_source_code=d.fund_source,
                              project_code=d.project, entry=line.entry))
    known = {(y, k) for y, k in Indicator.objects.filter(
        dim_key__in=[k for _y, k in seen]).values_list("year", "dim_key")}
    new, added = [], set()
    for r in rows:
        if (r.year, r.dim_key) not in known and (r.year, r.dim_key) not in added:
            added.add((r.year, r.dim_key))
            new.append(r)
    Indicator.objects.bulk_create(new)
    return len(new)


@transaction.atomic
def plan_approve(*, plan: BudgetPlan, user: Any, as_of: dt.datetime | None = None,
                 on: dt.date | None = None, comment: str = "") -> BudgetPlan:
    """批复: post the plan into the control book — one entry, Dr 9101 / Cr 9001 per line —
    register the indicators, and make the plan read-only."""
    as_of = _now(as_of)
    _require_office(user)
    plan = _locked_plan(plan)
    lines = _approve_check(plan, user, lambda: _violations(plan),
                           lambda: list(plan.lines.select_related(*_LINE_RELATED)))
    item, tuples = _approval(plan, lines, as_of, on)
    entry = entry_post(lines=item.lines, description=item.description, user=user, on=item.on,
                       as_of=as_of, source=plan, kind=item.kind,
                       idempotency_key=item.idempotency_key)
    _indicators_register([(plan, entry, tuples)])
    _move(plan, to=Status.APPROVED, action="approve 批复", user=user, as_of=as_of,
          comment=comment, approval_entry=entry)
    return plan


def plans_approve(*, plans: list[BudgetPlan], user: Any, as_of: dt.datetime | None = None,
                  on: dt.date | None = None, comment: str = "") -> PlansDecided:
    """批复 for many plans in one locked pass: the plans are locked in one statement in id
    order, every plan gets exactly the checks of `plan_approve` (a refused one is
    reported with that error and nothing of it is written; the others go on), their
    approval entries — the same entries, one per plan — are posted by one
    `finance.ledger.entries_post` call (a ledger refusal, e.g. a closed period, refuses
    the whole batch), the indicators registered in one INSERT, and the moves, history
    rows and workflow steps written in one statement each. A plan that no longer exists
    is left out. Only the budget office approves (one check for the batch)."""
    as_of = _now(as_of)
    _require_office(user)
    out = PlansDecided()
    if not plans:
        return out
    with transaction.atomic():
        locked = list(_plans_locked().filter(pk__in=[p.pk for p in plans]).order_by("id"))
        violations = _violations_many(locked)
        lines: dict[int, list[PlanLine]] = defaultdict(list)
        for line in (PlanLine.objects.filter(plan_id__in=[p.pk for p in locked])
                     .select_related(*_LINE_RELATED).order_by("plan_id", "id")):
            lines[line.plan_id].append(line)
        ok = []
        for plan in locked:
            try:
                rows = _approve_check(plan, user, lambda p=plan: violations[p.pk],
                                      lambda p=plan: lines[p.pk])
            except errors.BudgetError as exc:
                out.refused.append((plan, exc))
                continue
            ok.append((plan, *_approval(plan, rows, as_of, on)))
        entries = entries_post(entries=[item for _, item, _ in ok], user=user, as_of=as_of)
        _indicators_register([(plan, entry, tuples)
                              for (plan, _, tuples), entry in zip(ok, entries, strict=True)])
        for (plan, _, _), entry in zip(ok, entries, strict=True):
            plan.approval_entry = entry
        out.done = [plan for plan, _, _ in ok]
        _move_many(out.done, to=Status.APPROVED, action="approve 批复", user=user, as_of=as_of,
                   comment=comment, fields=["approval_entry"])
    return out


# ------------------------------------------------- adjustments (调整) and virements (调剂)
def _indicator(year: int, d: Dims) -> Indicator:
    found = Indicator.objects.filter(year=year, dim_key=d.key(year)).first()
    if found is None:
        raise errors.NoIndicator(dims=d.key(year))
    return found


def _check_new_tuple(year: int, d: Dims) -> Organization:
    """A target tuple that may not exist yet: unit, region and codes must be valid."""
    unit = _unit(d.unit)
    if d.region != unit.region.code:
        raise errors.AdjustmentInvalid(problem=f"region {d.region} is not the region of unit "
                                               f"{unit.code} ({unit.region.code})")
    for kind in ("function", "economic", "fund_source"):
        problem = code_problem(kind, getattr(d, kind), code_table(kind))
        if problem:
            raise errors.AdjustmentInvalid(problem=problem)
    if d.project:
        project = Project.objects.filter(code=d.project).first()
        if project is None or project.unit_id != unit.pk or project.status != Project.Status.IN_LIBRARY:
            raise errors.AdjustmentInvalid(problem=str(errors.MSG_PROJECT_UNKNOWN % {"code": d.project})
                                           if project is None else
                                           f"project {d.project} is not in the library of unit {unit.code}")
    return unit


@transaction.atomic
def adjustment_file(*, kind: str, year: int, amount: Any, batch_no: str, doc_no: str,
                    date: dt.date, reason: str, source: Dims | None = None,
                    target: Dims | None = None, user: Any,
                    as_of: dt.datetime | None = None) -> Adjustment:
    """File an adjustment (increase: target; decrease: source) or a virement (source →
    target). A source must be an existing indicator with enough available now; the
    ledger re-checks at approval, under concurrency."""
    value, problem = parse_amount(amount, pgettext_lazy("amount field", "amount"), positive=True)
    if problem:
        raise errors.AdjustmentInvalid(problem=problem)
    if not reason.strip():
        raise errors.ReasonRequired()
    if not (batch_no.strip() and doc_no.strip()):
        raise errors.AdjustmentInvalid(problem="batch number and document number (文号) are required")
    need_source = kind in (Adjustment.Kind.DECREASE, Adjustment.Kind.VIREMENT)
    need_target = kind in (Adjustment.Kind.INCREASE, Adjustment.Kind.VIREMENT)
    if kind not in Adjustment.Kind.values or need_source != bool(source) or need_target != bool(target):
        raise errors.AdjustmentInvalid(problem=f"a {kind} needs "
                                               + {"increase": "a target only",
                                                  "decrease": "a source only",
                                                  "virement": "a source and a target"}.get(kind, "?"))
    if source and target and source == target:
        raise errors.AdjustmentInvalid(problem="source and target are the same indicator")
    unit = None
    if source:
        unit = _indicator(year, source).unit
        _require_adjustment_filer(user, unit)
        available = balance(account=chart.AVAILABLE, year=year, **_dim_kwargs(source))
        if available < value:  # type: ignore[operator]
            raise finance_errors.IndicatorInsufficient(account=chart.AVAILABLE, dims=source.key(year),
                                                       available=available, requested=value)
    if target:
        target_unit = _check_new_tuple(year, target)
        if target_unit != unit:
            _require_adjustment_filer(user, target_unit)
        unit = unit or target_unit
    adjustment = Adjustment(kind=kind, year=year, batch_no=batch_no, doc_no=doc_no, date=date,
                            reason=reason, unit=unit, amount=value,
                            source_key=source.key(year) if source else "",
                            target_key=target.key(year) if target else "",
                            filed_by=user if getattr(user, "pk", None) else None)
    save_with_history(adjustment, user=user, reason=reason)
    workflow_record(document=adjustment, from_state="", to_state=adjustment.status, action="file",
                    user=user, comment=reason, as_of=_now(as_of))
    return adjustment


def _require_adjustment_filer(user: Any, unit: Organization) -> None:
    """An adjustment is filed by the unit's filer, its department or the budget office
    (for each unit it moves money of)."""
    roles.require(roles.may_file(user, unit.code) or roles.may_review_for_unit(user, unit),
                  user=user, role=(roles.UNIT_FILER, *REVIEWERS), unit=unit.code)


def _dim_kwargs(d: Dims) -> dict[str, str]:
    return {"region": d.region, "unit": d.unit, "function": d.function, "economic": d.economic,
            "fund_source": d.fund_source, "project": d.project}


@transaction.atomic
def adjustment_approve(*, adjustment: Adjustment, user: Any, as_of: dt.datetime | None = None,
                       on: dt.date | None = None, comment: str = "") -> Adjustment:
    """Post the approved movement: increase Dr 9101 / Cr 9001; decrease Dr 9001 / Cr 9101;
    virement Dr 9101 target / Cr 9101 source. A short source is refused by the ledger
    (IndicatorInsufficient) and nothing is saved."""
    as_of = _now(as_of)
    _require_office(user)
    adjustment = Adjustment.objects.select_for_update().get(pk=adjustment.pk)
    _require_state(adjustment, [Adjustment.Status.SUBMITTED], "approve")
    _require_not_filer(adjustment, user, "approve")
    amount, kind = adjustment.amount, adjustment.kind
    source = Dims.from_key(adjustment.source_key)[1] if adjustment.source_key else None
    target = Dims.from_key(adjustment.target_key)[1] if adjustment.target_key else None
    if kind == Adjustment.Kind.INCREASE:
        specs = [dr("indicator", chart.AVAILABLE, amount, target), cr("indicator", chart.AUTHORITY, amount, target)]
    elif kind == Adjustment.Kind.DECREASE:
        specs = [dr("indicator", chart.AUTHORITY, amount, source), cr("indicator", chart.AVAILABLE, amount, source)]
    else:
        specs = [dr("indicator", chart.AVAILABLE, amount, target), cr("indicator", chart.AVAILABLE, amount, source)]
    label = "调剂" if kind == Adjustment.Kind.VIREMENT else "调整"
    entry = entry_post(lines=specs, description=f"{label} {adjustment.doc_no} 批次 {adjustment.batch_no}",
                       user=user, on=on or adjustment.date, as_of=as_of, source=adjustment,
                       kind=(EntryKind.VIREMENT if kind == Adjustment.Kind.VIREMENT
                             else EntryKind.ADJUSTMENT),
                       idempotency_key=f"budgets:adjustment:{adjustment.pk}:approve")
    if target is not None:
        year = entry.fiscal_year
        if not Indicator.objects.filter(year=year, dim_key=target.key(year)).exists():
            Indicator.objects.create(
                year=year, dim_key=target.key(year), region_code=target.region,
                unit=Organization.objects.get(code=target.unit), function_code=target.function,
                economic_code=target.economic, fund_source_code=target.fund_source,
                project_code=target.project, entry=entry)
    _move(adjustment, to=Adjustment.Status.APPROVED, action="approve", user=user, as_of=as_of,
          comment=comment, decided_by=user if getattr(user, "pk", None) else None, entry=entry)
    return adjustment


@transaction.atomic
def adjustment_reject(*, adjustment: Adjustment, user: Any, reason: str,
                      as_of: dt.datetime | None = None) -> Adjustment:
    if not reason.strip():
        raise errors.ReasonRequired()
    _require_office(user)
    adjustment = Adjustment.objects.select_for_update().get(pk=adjustment.pk)
    _require_state(adjustment, [Adjustment.Status.SUBMITTED], "reject")
    _require_not_filer(adjustment, user, "reject")
    _move(adjustment, to=Adjustment.Status.REJECTED, action="reject", user=user, as_of=as_of,
          comment=reason, decided_by=user if getattr(user, "pk", None) else None)
    return adjustment


def plan_template_import(*, plan: BudgetPlan, content: bytes, user: Any,
                         as_of: dt.datetime | None = None) -> LinesSaveResult:
    """Read a filled filing template back into the plan: every error is reported by
    cell (`Plan!C12: …`) and nothing is saved if there is one."""
    from budgets import spreadsheets

    _require_filer(user, plan.unit)  # before the file is read (plan_lines_save checks again)
    read = spreadsheets.plan_template_read(plan=plan, content=content)
    return plan_lines_save(plan=plan, lines=read.lines, user=user, as_of=as_of, where=read.where,
                           problems_as=read.problems_error)
