"""Execution pace (序时进度) of departments and projects: the figures, their grades and the
graded alerts the sweep raises (rule `execution_pace`).

The pace, once:
- time elapsed share = days elapsed / days in the year, counting the day measured
  (`on`, inclusive; the nightly sweep measures the day it is given, as `execution_lag`):
  30 June 2026 is day 181 of 365 → 181 / 365 = 49.59 %;
- execution share = paid (measure `paid`: 9301 of the control book) / the year's
  indicator amount (measure `budget`: approved + adjusted, 9001), both as the ledger
  stood at the end of `on` (`finance.measures` / `finance.selectors.figure_breakdown`);
- lag = time share − execution share, in percentage points; the rule's params grade it:
  yellow from `yellow_points` (10), red from `red_points` (20); subjects with an
  indicator below `min_budget` (10,000.00 元) are left out.
A department's figures are its units' (the nearest department above each unit); a
project's are the lines carrying its code (`project_code` = budgets.Project.code)."""
from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import MonitoringRule, PaceAlert
from audit.services import monitoring_rule_get
from finance.measures import trace_ref
from finance.models import Organization
from finance.selectors import figure_breakdown
from finance.services import save_with_history, workflow_record

RULE = "execution_pace"
CENT = Decimal("0.01")
HUNDRED = Decimal("100")
YELLOW, RED = PaceAlert.Grade.YELLOW.value, PaceAlert.Grade.RED.value


def time_share(on: dt.date) -> Decimal:
    """Share of the year elapsed at the end of `on` (the day counts)."""
    days = 366 if calendar.isleap(on.year) else 365
    return Decimal(on.timetuple().tm_yday) / days


def pct(share: Decimal) -> Decimal:
    """A share as a percentage with 2 places (display and storage only)."""
    return (share * HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PaceRow:
    scope: str  # PaceAlert.Scope
    code: str
    name: str
    organization_id: int | None
    budget_fen: int
    paid_fen: int
    time_share: Decimal
    grade: str = ""  # "", yellow, red

    @property
    def execution_share(self) -> Decimal:
        return Decimal(self.paid_fen) / self.budget_fen if self.budget_fen > 0 else Decimal(0)

    @property
    def lag_points(self) -> Decimal:
        """Unrounded: the grade is decided on this, pages show it with 2 places."""
        return (self.time_share - self.execution_share) * HUNDRED


def grade_of(lag_points: Decimal, params: dict[str, Any]) -> str:
    if lag_points >= Decimal(params.get("red_points", "20")):
        return RED
    if lag_points >= Decimal(params.get("yellow_points", "10")):
        return YELLOW
    return ""


def _by(measure: str, year: int, on: dt.date, dim: str) -> dict[str, int]:
    rows = figure_breakdown(trace_ref(measure=measure, year=year, as_of=on.isoformat()),
                            by=(dim,))
    return {keys[0]: fen for keys, fen, _n in rows}


def _department_of() -> dict[str, Organization]:
    """unit code → its nearest department above it (a department → itself)."""
    orgs = {o.pk: o for o in Organization.objects.all()}
    out: dict[str, Organization] = {}
    for o in orgs.values():
        node, seen = o, 0
        while node is not None and node.kind != Organization.Kind.DEPARTMENT and seen < 20:
            node, seen = orgs.get(node.parent_id), seen + 1  # type: ignore[arg-type]
        if node is not None and node.kind == Organization.Kind.DEPARTMENT:
            out[o.code] = node
    return out


def pace_rows(*, on: dt.date, scope: str = PaceAlert.Scope.DEPARTMENT,
              rule: MonitoringRule | None = None) -> list[PaceRow]:
    """Every department (or library project) with its indicator and paid at the end of
    `on`, graded by the rule; largest indicator first. Subjects below `min_budget` are
    left out."""
    rule = rule or monitoring_rule_get(code=RULE)
    minimum = int(Decimal(rule.params.get("min_budget", "10000.00")) * 100)
    share = time_share(on)
    budget: dict[str, int] = defaultdict(int)
    paid: dict[str, int] = defaultdict(int)
    names: dict[str, tuple[str, int | None]] = {}
    if scope == PaceAlert.Scope.DEPARTMENT:
        dept = _department_of()
        for target, fens in ((budget, _by("budget", on.year, on, "unit")),
                             (paid, _by("paid", on.year, on, "unit"))):
            for unit, fen in fens.items():
                if unit in dept:
                    target[dept[unit].code] += fen
                    names[dept[unit].code] = (dept[unit].name, dept[unit].pk)
    else:
        from budgets.models import Project

        for target, fens in ((budget, _by("budget", on.year, on, "project")),
                             (paid, _by("paid", on.year, on, "project"))):
            for code, fen in fens.items():
                if code:
                    target[code] += fen
        names = {p.code: (p.name, p.unit_id) for p in
                 Project.objects.filter(code__in=list(budget)).only("code", "name", "unit_id")}
    rows = []
    for code, fen in budget.items():
        if fen < minimum or code not in names or fen <= 0:
            continue
        row = PaceRow(scope=scope, code=code, name=names[code][0],
                      organization_id=names[code][1], budget_fen=fen, paid_fen=paid.get(code, 0),
                      time_share=share)
        rows.append(replace(row, grade=grade_of(row.lag_points, rule.params)))
    return sorted(rows, key=lambda r: (-r.budget_fen, r.code))


def chart_rows(rows: list[PaceRow], *, top: int = 10) -> list[tuple[str, Decimal, str]]:
    """(label, execution share, grade) for a chart: the `top` largest indicators and one
    其他 row (paid / indicator of the rest together, not graded) when more are left."""
    from django.utils.translation import ngettext

    if len(rows) <= top + 1:
        return [(f"{r.code} {r.name}", r.execution_share, r.grade) for r in rows]
    kept, rest = rows[:top], rows[top:]
    budget, paid = sum(r.budget_fen for r in rest), sum(r.paid_fen for r in rest)
    other = ngettext("Other (%(n)d item)", "Other (%(n)d items)", len(rest)) % {"n": len(rest)}
    return ([(f"{r.code} {r.name}", r.execution_share, r.grade) for r in kept]
            + [(other, Decimal(paid) / budget if budget else Decimal(0), "")])


# ------------------------------------------------------------------ the sweep
def _comment(row: PaceRow) -> str:
    grade = "红色预警 red" if row.grade == RED else "黄色预警 yellow"
    return (f"{grade}: 序时进度 time {pct(row.time_share)}% − 执行进度 spent "
            f"{pct(row.execution_share)}% = {row.lag_points.quantize(CENT, ROUND_HALF_UP)} "
            f"个百分点 points")


def _figures(row: PaceRow, on: dt.date) -> dict[str, Any]:
    return {"measured_on": on, "time_pct": pct(row.time_share),
            "execution_pct": pct(row.execution_share),
            "lag_points": row.lag_points.quantize(CENT, rounding=ROUND_HALF_UP),
            "budget_fen": row.budget_fen, "paid_fen": row.paid_fen}


def _raise_one(row: PaceRow, *, rule: MonitoringRule, on: dt.date,
               as_of: dt.datetime) -> PaceAlert | None:
    """Raise the row's alert for the month of `on`, or upgrade it yellow → red; nothing
    when it is already there at this grade or worse (idempotent per month)."""
    key = {"scope": row.scope, "subject_code": row.code, "year": on.year, "month": on.month}
    with transaction.atomic():
        alert = PaceAlert.objects.select_for_update().filter(**key).first()
        if alert is None:
            alert = PaceAlert(rule=rule, subject_name=row.name[:200],
                              organization_id=row.organization_id, grade=row.grade,
                              raised_at=as_of, **key, **_figures(row, on))
            try:
                with transaction.atomic():
                    save_with_history(alert, user=None, reason=f"raised by rule {rule.code}")
            except IntegrityError:  # raised at the same moment by another sweep
                return None
            workflow_record(document=alert, from_state="", to_state=alert.status,
                            action="notify", user=None, comment=_comment(row), as_of=as_of)
            return alert
        if not (alert.grade == YELLOW and row.grade == RED):
            return None
        if alert.status == PaceAlert.Status.CLOSED:
            return None
        previous = alert.status
        if alert.status in (PaceAlert.Status.EXPLAINED, PaceAlert.Status.RECTIFIED):
            alert.status = PaceAlert.Status.NOTIFIED  # the explanation was for yellow
        alert.grade = RED
        for name, value in _figures(row, on).items():
            setattr(alert, name, value)
        save_with_history(alert, user=None, reason="upgrade")
        workflow_record(document=alert, from_state=previous, to_state=alert.status,
                        action="upgrade", user=None, comment=_comment(row), as_of=as_of)
        return alert


def execution_pace_sweep(*, on: dt.date, as_of: dt.datetime | None = None,
                         rule: MonitoringRule | None = None) -> list[PaceAlert]:
    """Grade every department and library project at the end of `on`; raise the alerts of
    the month (notified), upgrade yellow ones that turned red. Safe to run again."""
    as_of = as_of or timezone.now()
    rule = rule or monitoring_rule_get(code=RULE)
    if not rule.enabled:
        return []
    raised = []
    for scope in (PaceAlert.Scope.DEPARTMENT, PaceAlert.Scope.PROJECT):
        for row in pace_rows(on=on, scope=scope, rule=rule):
            if row.grade and row.organization_id is not None:
                alert = _raise_one(row, rule=rule, on=on, as_of=as_of)
                if alert is not None:
                    raised.append(alert)
    return raised


def execution_pace_demo(*, on: dt.date, as_of: dt.datetime | None = None,
                        explain: int = 3) -> list[PaceAlert]:
    """For the demo (citysim): run the sweep at `on`, then have the first `explain`
    notified alerts explained by a person of their organization (a unit's filer or head,
    a department's member), so the bureau finds explanations waiting for confirmation.
    Returns the alerts explained."""
    from audit import services
    from finance import roles
    from finance.models import Membership

    as_of = as_of or timezone.now()
    execution_pace_sweep(on=on, as_of=as_of)
    done = []
    for alert in PaceAlert.objects.filter(status=PaceAlert.Status.NOTIFIED, year=on.year,
                                          month=on.month).select_related("organization")[:50]:
        if len(done) >= explain:
            break
        people = [m.user for m in Membership.objects.filter(
            organization=alert.organization).select_related("user")]
        person = next((u for u in people if roles.may_explain_pace(u, alert.organization)), None)
        if person is None:
            continue
        done.append(services.pace_alert_explain(
            alert_id=alert.pk, user=person, as_of=as_of,
            text="上半年项目招标未完成，合同已签订，预计下月集中支付。"
                 "Tenders closed late; contracts signed, payments due next month."))
    return done
