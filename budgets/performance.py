"""The 绩效 lifecycle of a project (issue 22): its targets with class, comparison, value
and weight, the unit's mid-year monitoring (运行监控) beside the ledger's execution rate,
the year-end self-evaluation (项目支出绩效自评) scored by the national rule, and the
bureau's review of it.

Scoring (财政部《项目支出绩效评价管理办法》财预〔2020〕10号, 单位自评: 预算执行率 10 分,
the targets 90 分 — 产出 50, 效益 30, 满意度 10 as a rule):
- a ≥ target: weight × min(actual / target, 1) (a target of 0: full weight);
- a ≤ target: full weight if actual ≤ target, else weight × target / actual;
- an = target: full weight if actual = target, else weight × max(0, 1 − |actual − target| / target);
- 预算执行率: 10 × min(spent / budget, 1), spent = the indicator book's `paid`, budget =
  `budget` (approved + adjusted) of the project's lines in the year (finance.measures);
- each score is rounded to 2 places (ROUND_HALF_UP); total = targets + execution;
  grade 优 ≥ 90, 良 80–90, 中 60–80, 差 < 60.
Monitoring flags a ≥ target whose progress (achieved / target) lags the share of the
year gone by more than PROGRESS_LAG points, and a project whose execution rate and
output progress are more than SPEND_OUTPUT_GAP points apart."""
from __future__ import annotations

import calendar
import datetime as dt
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from budgets import errors
from budgets.models import (
    PerformanceProgress,
    PerformanceReport,
    PerformanceTarget,
    Project,
    SelfEvaluation,
    SelfEvaluationLine,
)
from finance import roles
from finance.measures import trace_query
from finance.models import fen_to_decimal
from finance.selectors import figure_of
from finance.services import save_with_history, workflow_record

TARGET_POINTS = Decimal(90)  # 其他绩效指标 90 分
EXECUTION_POINTS = Decimal(10)  # 预算执行率 10 分
PROGRESS_LAG = Decimal(20)  # points a target's progress may lag the time gone by
SPEND_OUTPUT_GAP = Decimal(20)  # points execution and output progress may be apart
CENT = Decimal("0.01")
# what the 绩效 pages (web/views_performance.py) tell people
MSG_ONLY_FILER = _("Only the unit's filer reports on its project's performance.")
MSG_ONLY_BUREAU = _("Only the finance bureau approves or returns a self-evaluation.")
MSG_TARGETS_SAVED = _("Performance targets saved.")
MSG_TARGET_NUMBERS = _("Target “%(name)s”: give a class, a comparison, a target value and a "
                       "weight as numbers.")
MSG_DATE = _("Give the date of the report (YYYY-MM-DD).")
MSG_PROGRESS_SAVED = _("Monitoring report saved.")
MSG_EVALUATION_SUBMITTED = _("Self-evaluation submitted: %(score)s points, %(grade)s.")
MSG_EVALUATION_DECIDED = _("Self-evaluation of %(code)s is now: %(status)s.")
HUNDRED = Decimal(100)
Cmp = PerformanceTarget.Comparison
Klass = PerformanceTarget.IndicatorClass
Grade = SelfEvaluation.Grade
ES = SelfEvaluation.Status

# ------------------------------------------------------------------ free text
_NUMBER = re.compile(r"(-?\d+(?:\.\d+)?)\s*(.*)$", re.S)
_LE = ("≤", "<=", "<", "不超过", "不高于", "不多于", "低于", "少于", "小于", "以内", "以下")
_GE = ("≥", ">=", ">", "不低于", "不少于", "大于", "高于", "超过", "以上", "达到")


def target_parse(text: str) -> tuple[str, Decimal | None, str]:
    """(comparison, value, unit of measure) read from a target written as free text:
    "≥95%" → (ge, 95, "%"), "不超过30天" → (le, 30, "天"), "=100%" → (eq, 100, "%"),
    "1200" → (ge, 1200, ""), "显著提升" → (ge, None, "")."""
    text = (text or "").strip().replace("，", "").replace(",", "")
    comparison = Cmp.GE
    if text.startswith(("=", "＝")):
        comparison = Cmp.EQ
    elif any(w in text for w in _LE):
        comparison = Cmp.LE
    m = re.search(r"\d", text)
    if m is None:
        return comparison, None, ""
    num = _NUMBER.match(text[m.start():])
    try:
        value = Decimal(num.group(1)) if num else None
    except InvalidOperation:
        value = None
    rest = num.group(2).strip() if num else ""
    for word in (*_LE, *_GE):
        rest = rest.replace(word, "")
    return comparison, value, rest.strip()[:30]


def class_guess(name: str) -> str:
    """A target's class guessed from its name (targets filed before classes existed)."""
    if "满意" in name:
        return Klass.SATISFACTION
    if "成本" in name or "费用" in name:
        return Klass.OUTPUT_COST
    if "及时" in name or "时效" in name or "完成时间" in name:
        return Klass.OUTPUT_TIMELINESS
    if any(w in name for w in ("合格", "达标", "完好", "质量")):
        return Klass.OUTPUT_QUALITY
    for words, klass in ((("可持续", "长效"), Klass.BENEFIT_SUSTAINABLE),
                         (("生态", "环境"), Klass.BENEFIT_ECOLOGICAL),
                         (("经济",), Klass.BENEFIT_ECONOMIC), (("社会",), Klass.BENEFIT_SOCIAL)):
        if any(w in name for w in words):
            return klass
    return Klass.OUTPUT_QUANTITY


def weights_split(n: int) -> list[Decimal]:
    """90 points split evenly over n targets (2 places; the last takes the remainder)."""
    if n <= 0:
        return []
    share = (TARGET_POINTS / n).quantize(CENT, rounding=ROUND_DOWN)
    return [share] * (n - 1) + [TARGET_POINTS - share * (n - 1)]


# -------------------------------------------------------------------- scoring
def _q(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def target_score(*, weight: Decimal, comparison: str, target: Decimal, actual: Decimal) -> Decimal:
    """One target's score by the rule in the module docstring."""
    if comparison == Cmp.LE:
        if actual <= target:
            return _q(weight)
        return _q(weight * target / actual)
    if comparison == Cmp.EQ:
        if actual == target:
            return _q(weight)
        if target == 0:
            return Decimal("0.00")
        return _q(weight * max(Decimal(0), 1 - abs(actual - target) / target))
    if target == 0:
        return _q(weight)
    return _q(weight * min(actual / target, Decimal(1)))


def execution_score(*, budget: Decimal, spent: Decimal) -> Decimal:
    """预算执行率 score: 10 × min(spent / budget, 1); no budget, no points."""
    if budget <= 0:
        return Decimal("0.00")
    return _q(EXECUTION_POINTS * min(spent / budget, Decimal(1)))


def grade_of(total: Decimal) -> str:
    """优 ≥ 90, 良 80–90, 中 60–80, 差 < 60."""
    if total >= 90:
        return Grade.EXCELLENT
    if total >= 80:
        return Grade.GOOD
    if total >= 60:
        return Grade.FAIR
    return Grade.POOR


# ---------------------------------------------------------- ledger spending
def project_spending(*, project: Project, year: int, as_of: dt.date | None = None,
                     ) -> tuple[Decimal, Decimal]:
    """(budget, spent) of a project's indicators in `year` up to `as_of`: the measures
    `budget` (approved + adjusted) and `paid` of finance.measures on the project code."""
    when = as_of.isoformat() if as_of else None
    budget = figure_of(trace_query(measure="budget", year=year, as_of=when, project=project.code))
    spent = figure_of(trace_query(measure="paid", year=year, as_of=when, project=project.code))
    return fen_to_decimal(budget), fen_to_decimal(spent)


def _rate(part: Decimal, whole: Decimal) -> Decimal | None:
    return _q(part / whole * HUNDRED) if whole > 0 else None


# -------------------------------------------------------------------- targets
@dataclass(frozen=True)
class TargetSpec:
    """A target as the unit sets it on the project page."""

    name: str
    indicator_class: str
    comparison: str
    target_value: Decimal
    measure_unit: str
    weight: Decimal


def _require_filer(user: Any, project: Project) -> None:
    roles.require(roles.may_file(user, project.unit.code), user=user, role=roles.UNIT_FILER,
                  unit=project.unit.code)


def _check_weights(project: Project, weights: Iterable[Decimal]) -> None:
    total = sum(weights, Decimal(0))
    if total != TARGET_POINTS:
        raise errors.PerformanceInvalid(problem=errors.MSG_WEIGHTS % {"code": project.code, "total": total})


@transaction.atomic
def targets_save(*, project: Project, targets: list[TargetSpec], user: Any,
                 as_of: dt.datetime | None = None) -> list[PerformanceTarget]:
    """The unit sets its project's targets while the project is a draft or returned
    (they are reviewed with it): all replaced at once, weights summing to 90."""
    project = (Project.objects.select_for_update(of=("self",)).select_related("unit")
               .get(pk=project.pk))
    _require_filer(user, project)
    if project.status not in (Project.Status.DRAFT, Project.Status.RETURNED):
        raise errors.WrongState(document=str(Project._meta.verbose_name),
                                status=project.get_status_display(), action="set targets")
    _check_weights(project, (t.weight for t in targets))
    project.targets.all().delete()
    out = []
    for t in targets:
        row = PerformanceTarget(project=project, name=t.name, indicator_class=t.indicator_class,
                                comparison=t.comparison, target_value=t.target_value,
                                measure_unit=t.measure_unit, weight=t.weight)
        save_with_history(row, user=user, reason="targets set")
        out.append(row)
    workflow_record(document=project, from_state=project.status, to_state=project.status,
                    action="set targets", user=user, as_of=as_of)
    return out


# ----------------------------------------------------------------- monitoring
@transaction.atomic
def progress_report(*, project: Project, year: int, on: dt.date,
                    achieved: dict[int, tuple[Any, str]], note: str = "", user: Any,
                    as_of: dt.datetime | None = None) -> PerformanceReport:
    """运行监控: the unit reports, as of `on`, the value achieved so far of every target of
    the project (`achieved`: target id → (value, note)). Spending is the ledger's."""
    project = Project.objects.select_related("unit").get(pk=project.pk)
    _require_filer(user, project)
    if project.status != Project.Status.IN_LIBRARY:
        raise errors.PerformanceInvalid(problem=errors.MSG_NOT_IN_LIBRARY % {"code": project.code})
    targets = list(project.targets.all())
    values = _values_for(targets, achieved)
    report, _created = PerformanceReport.objects.update_or_create(
        project=project, year=year, as_of=on,
        defaults={"note": note, "filed_by": user if getattr(user, "pk", None) else None,
                  "filed_at": as_of or timezone.now()})
    report.progress.all().delete()
    PerformanceProgress.objects.bulk_create([
        PerformanceProgress(report=report, target=t, achieved=v, note=n[:300])
        for t, (v, n) in zip(targets, values, strict=True)])
    workflow_record(document=report, from_state="", to_state="reported", action="report progress",
                    user=user, comment=note, as_of=as_of)
    return report


def _values_for(targets: list[PerformanceTarget],
                given: dict[int, tuple[Any, str]]) -> list[tuple[Decimal, str]]:
    out = []
    for t in targets:
        if t.pk not in given or given[t.pk][0] in (None, ""):
            raise errors.PerformanceInvalid(problem=errors.MSG_TARGET_MISSING % {"name": t.name})
        value, note = given[t.pk]
        try:
            value = Decimal(str(value))
        except InvalidOperation:
            raise errors.PerformanceInvalid(problem=errors.MSG_TARGET_MISSING % {"name": t.name}) from None
        if value < 0:
            raise errors.PerformanceInvalid(problem=errors.MSG_TARGET_MISSING % {"name": t.name})
        out.append((value, note or ""))
    return out


@dataclass
class ProgressRow:
    target: PerformanceTarget
    achieved: Decimal
    note: str
    share: Decimal | None  # achieved / target, in %, for ≥ targets with a value
    lagging: bool = False


@dataclass
class Monitoring:
    """A monitoring report read beside the ledger: the share of the year gone, the
    execution rate as of the report's date, each target's progress and the deviations."""

    report: PerformanceReport
    time_share: Decimal
    budget: Decimal
    spent: Decimal
    execution_rate: Decimal | None
    output_progress: Decimal | None
    rows: list[ProgressRow] = field(default_factory=list)
    deviations: list[str] = field(default_factory=list)


def time_share(on: dt.date) -> Decimal:
    """The share of the fiscal (calendar) year gone by at the end of `on`, in %."""
    days = 366 if calendar.isleap(on.year) else 365
    return _q(Decimal(on.timetuple().tm_yday) / days * HUNDRED)


def monitoring(*, report: PerformanceReport) -> Monitoring:
    project = report.project
    budget, spent = project_spending(project=project, year=report.year, as_of=report.as_of)
    ts = time_share(report.as_of)
    rows, weighted, weights = [], Decimal(0), Decimal(0)
    for p in report.progress.select_related("target").order_by("target_id"):
        t = p.target
        share = (_rate(p.achieved, t.target_value)
                 if t.comparison == Cmp.GE and t.target_value else None)
        row = ProgressRow(target=t, achieved=p.achieved, note=p.note, share=share)
        if share is not None:
            row.lagging = ts - share > PROGRESS_LAG
            if t.is_output:
                weighted += min(share, HUNDRED) * t.weight
                weights += t.weight
        rows.append(row)
    out = Monitoring(report=report, time_share=ts, budget=budget, spent=spent,
                     execution_rate=_rate(spent, budget),
                     output_progress=_q(weighted / weights) if weights else None, rows=rows)
    for row in rows:
        if row.lagging:
            out.deviations.append(str(errors.MSG_DEVIATION_LAG % {
                "name": row.target.name, "progress": row.share, "time": ts}))
    if out.execution_rate is not None and out.output_progress is not None:
        gap = abs(out.execution_rate - out.output_progress)
        if gap > SPEND_OUTPUT_GAP:
            out.deviations.append(str(errors.MSG_DEVIATION_GAP % {
                "execution": out.execution_rate, "output": out.output_progress, "gap": gap}))
    return out


def latest_monitoring(*, project: Project, year: int | None = None) -> Monitoring | None:
    qs = project.performance_reports.select_related("project")
    if year:
        qs = qs.filter(year=year)
    report = qs.order_by("-year", "-as_of").first()
    return monitoring(report=report) if report else None


# ------------------------------------------------------------ self-evaluation
@transaction.atomic
def self_evaluation_submit(*, project: Project, year: int, actuals: dict[int, tuple[Any, str]],
                           summary: str = "", user: Any,
                           as_of: dt.datetime | None = None) -> SelfEvaluation:
    """The unit's year-end self-evaluation: the actual value of every target; scored now
    (targets by their weights, 预算执行率 from the ledger for the whole year). A returned
    self-evaluation is submitted again the same way."""
    project = Project.objects.select_related("unit").get(pk=project.pk)
    _require_filer(user, project)
    if project.status != Project.Status.IN_LIBRARY:
        raise errors.PerformanceInvalid(problem=errors.MSG_NOT_IN_LIBRARY % {"code": project.code})
    targets = list(project.targets.all())
    _check_weights(project, (t.weight for t in targets))
    for t in targets:
        if t.target_value is None:
            raise errors.PerformanceInvalid(problem=errors.MSG_TARGET_NO_VALUE % {"name": t.name})
    values = _values_for(targets, actuals)
    evaluation = (SelfEvaluation.objects.select_for_update(of=("self",))
                  .filter(project=project, year=year).first())
    before = ""
    if evaluation is not None:
        if evaluation.status != ES.RETURNED:
            raise errors.PerformanceInvalid(problem=errors.MSG_EVALUATION_EXISTS % {
                "code": project.code, "year": year, "status": evaluation.get_status_display()})
        before = evaluation.status
        evaluation.lines.all().delete()
    else:
        evaluation = SelfEvaluation(project=project, year=year)
    budget, spent = project_spending(project=project, year=year)
    scores = [target_score(weight=t.weight, comparison=t.comparison, target=t.target_value,
                           actual=v) for t, (v, _n) in zip(targets, values, strict=True)]
    evaluation.budget, evaluation.spent = budget, spent
    evaluation.execution_score = execution_score(budget=budget, spent=spent)
    evaluation.total_score = sum(scores, evaluation.execution_score)
    evaluation.grade = grade_of(evaluation.total_score)
    evaluation.status, evaluation.summary, evaluation.return_reason = ES.SUBMITTED, summary, ""
    evaluation.filed_by = user if getattr(user, "pk", None) else None
    evaluation.decided_by = None
    save_with_history(evaluation, user=user, reason="submit self-evaluation")
    SelfEvaluationLine.objects.bulk_create([
        SelfEvaluationLine(evaluation=evaluation, target=t, actual=v, score=s, note=n[:300])
        for t, (v, n), s in zip(targets, values, scores, strict=True)])
    workflow_record(document=evaluation, from_state=before, to_state=ES.SUBMITTED,
                    action="submit self-evaluation", user=user, as_of=as_of)
    return evaluation


def _decide(evaluation: SelfEvaluation, *, user: Any, to: str, action: str, comment: str,
            as_of: dt.datetime | None, **fields: Any) -> SelfEvaluation:
    evaluation = (SelfEvaluation.objects.select_for_update(of=("self",))
                  .select_related("project__unit").get(pk=evaluation.pk))
    roles.require(roles.may_review_performance(user), user=user, role=roles.BUDGET_OFFICE)
    if evaluation.status != ES.SUBMITTED:
        raise errors.WrongState(document=str(SelfEvaluation._meta.verbose_name),
                                status=evaluation.get_status_display(), action=action)
    if evaluation.filed_by_id is not None and evaluation.filed_by_id == getattr(user, "pk", None):
        raise errors.SegregationOfDuties(user=roles.user_name(user), document=str(evaluation),
                                         action=action)
    before = evaluation.status
    evaluation.status = to
    evaluation.decided_by = user if getattr(user, "pk", None) else None
    for name, value in fields.items():
        setattr(evaluation, name, value)
    save_with_history(evaluation, user=user, reason=f"{action}: {comment}" if comment else action)
    workflow_record(document=evaluation, from_state=before, to_state=to, action=action,
                    user=user, comment=comment, as_of=as_of)
    return evaluation


@transaction.atomic
def self_evaluation_approve(*, evaluation: SelfEvaluation, user: Any, comment: str = "",
                            as_of: dt.datetime | None = None) -> SelfEvaluation:
    """The bureau (预算处 / 绩效管理) approves a submitted self-evaluation."""
    return _decide(evaluation, user=user, to=ES.APPROVED, action="approve self-evaluation",
                   comment=comment, as_of=as_of)


@transaction.atomic
def self_evaluation_return(*, evaluation: SelfEvaluation, user: Any, reason: str,
                           as_of: dt.datetime | None = None) -> SelfEvaluation:
    """The bureau returns a self-evaluation to the unit with its reason."""
    if not (reason or "").strip():
        raise errors.ReasonRequired()
    return _decide(evaluation, user=user, to=ES.RETURNED, action="return self-evaluation",
                   comment=reason.strip(), as_of=as_of, return_reason=reason.strip())


# ------------------------------------------------------------------- reads
def evaluation_of(*, project: Project, year: int, approved: bool = False) -> SelfEvaluation | None:
    qs = SelfEvaluation.objects.filter(project=project, year=year)
    if approved:
        qs = qs.filter(status=ES.APPROVED)
    return qs.first()


def last_year_results(*, project_ids: Iterable[int], year: int) -> dict[int, SelfEvaluation]:
    """The approved self-evaluations of `year − 1` of these projects, by project id: shown
    beside the filing of `year` (评价结果应用)."""
    return {e.project_id: e for e in SelfEvaluation.objects.filter(
        project_id__in=list(project_ids), year=year - 1, status=ES.APPROVED)
        .select_related("project")}


def approved_evaluations(*, department_code: str, year: int) -> QuerySet[SelfEvaluation]:
    """A department's approved self-evaluations of a year (the 项目支出绩效自评表 of its
    final-account disclosure), with their lines and targets."""
    return (SelfEvaluation.objects.filter(year=year, status=ES.APPROVED,
                                          project__unit__parent__code=department_code)
            .select_related("project__unit").prefetch_related("lines__target")
            .order_by("project__unit__code", "project__code"))


def pending_evaluations() -> QuerySet[SelfEvaluation]:
    return (SelfEvaluation.objects.filter(status=ES.SUBMITTED)
            .select_related("project__unit").order_by("year", "project__code"))


# ------------------------------------------------------------------ demo data
def performance_demo_fill(*, year: int, filers: dict[str, Any], reviewer: Any,
                          seed: int = 2026) -> dict[str, int]:
    """For a generated city (citysim): every 项目支出 (特定目标类) project in the library
    with targets and an indicator in `year` gets a monitoring report as of 30 June and a
    self-evaluation submitted on 15 January of the next year, approved by `reviewer` (the
    budget office); `filers`: unit code → its filer. Deterministic for a seed; projects
    already evaluated are left alone. Returns the counts."""
    from budgets.models import Indicator

    codes = set(Indicator.objects.filter(year=year).exclude(project_code="")
                .values_list("project_code", flat=True))
    projects = (Project.objects.filter(code__in=codes, status=Project.Status.IN_LIBRARY,
                                       category=Project.Category.SPECIFIC)
                .select_related("unit").prefetch_related("targets").order_by("code"))
    done = {"reports": 0, "evaluations": 0, "approved": 0}
    mid = dt.datetime(year, 7, 5, 10, tzinfo=timezone.get_current_timezone())
    end = dt.datetime(year + 1, 1, 15, 10, tzinfo=timezone.get_current_timezone())
    for p in projects:
        filer = filers.get(p.unit.code)
        targets = [t for t in p.targets.all() if t.target_value is not None]
        if filer is None or not targets or len(targets) != p.targets.count():
            continue
        rng = random.Random(f"{seed}:{p.code}")  # noqa: S311 - demo data, not secrets
        if not PerformanceReport.objects.filter(project=p, year=year).exists():
            progress_report(project=p, year=year, on=dt.date(year, 6, 30), user=filer, as_of=mid,
                            achieved={t.pk: (_demo_value(t, rng, Decimal("0.5")), "")
                                      for t in targets})
            done["reports"] += 1
        if SelfEvaluation.objects.filter(project=p, year=year).exists():
            continue
        try:
            e = self_evaluation_submit(project=p, year=year, user=filer, as_of=end,
                                       actuals={t.pk: (_demo_value(t, rng, Decimal(1)), "")
                                                for t in targets})
        except errors.PerformanceInvalid:
            continue
        done["evaluations"] += 1
        self_evaluation_approve(evaluation=e, user=reviewer, as_of=end)
        done["approved"] += 1
    return done


def _demo_value(t: PerformanceTarget, rng: random.Random, share: Decimal) -> Decimal:
    factor = Decimal(rng.randint(80, 105)) / 100 * share
    if t.comparison == Cmp.LE:
        factor = Decimal(rng.randint(90, 110)) / 100
    return (t.target_value * factor).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
