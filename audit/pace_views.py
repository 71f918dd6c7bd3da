"""Pages of the execution pace (序时进度): the alerts list with grade filter, an alert with
its loop (the unit's explanation, the bureau's confirmation or closing), and the pace
panel of the home page (a chart for the bureau, what waits for a unit or department).
Seen by the people of an organization (their own alerts: web.scoping) and the city
level (web.policy); each write is one audit.services call."""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from audit import pace, services
from audit.errors import AuditError
from audit.models import PaceAlert
from finance import roles
from finance.errors import LedgerError
from finance.models import WorkflowStep
from web import scoping
from web.charts import PERCENT, Chart, Series

GRADE_NAMES = {"yellow": gettext_lazy("yellow alert"), "red": gettext_lazy("red alert")}
ACTIONS = {"explain": services.pace_alert_explain, "rectify": services.pace_alert_rectify,
           "close": services.pace_alert_close}


def _visible(user: Any):  # noqa: ANN202
    qs = PaceAlert.objects.select_related("organization")
    if scoping.is_city_level(user):
        return qs
    return qs.filter(organization__in=scoping.visible_organizations(user))


def measured_day(year: int, today: dt.date | None = None) -> dt.date | None:
    """The day the home chart measures: today in the current year, 31 December of a past
    year, none for a year not begun."""
    today = today or timezone.localdate()
    if year > today.year:
        return None
    return today if year == today.year else dt.date(year, 12, 31)


def pace_chart(year: int, *, top: int = 10, today: dt.date | None = None) -> Chart | None:
    """序时进度 per department: the execution share of the `top` largest indicators and 其他,
    the time elapsed as a line, yellow and red marked (as the rule grades them)."""
    on = measured_day(year, today)
    if on is None:
        return None
    rows = pace.chart_rows(pace.pace_rows(on=on), top=top)
    if not rows:
        return None
    return Chart(chart_id="chart-pace", kind=PERCENT, top=0,
                 title=_("Execution pace by department, %(day)s") % {"day": on.isoformat()},
                 labels=[r[0] for r in rows],
                 series=[Series(_("spent (paid / indicator)"), [r[1] for r in rows])],
                 marker=pace.time_share(on), marker_label=_("time elapsed"),
                 marks=[r[2] for r in rows],
                 mark_names={k: str(v) for k, v in GRADE_NAMES.items()})


def pace_panel(user: Any, year: int) -> dict[str, Any] | None:
    """What the home page shows of the pace: the chart and the alert counts for the
    bureau; for a unit or department, its alerts waiting for an explanation."""
    if scoping.is_city_level(user):
        counts = {(g, s): 0 for g in GRADE_NAMES for s in ("open", "explained")}
        for a in PaceAlert.objects.filter(year=year).exclude(
                status__in=[PaceAlert.Status.RECTIFIED, PaceAlert.Status.CLOSED]):
            counts[(a.grade, "open" if a.status == PaceAlert.Status.NOTIFIED else "explained")] += 1
        return {"chart": pace_chart(year), "counts": counts, "city": True, "year": year}
    if scoping.organization_of(user) is None:
        return None
    waiting = _visible(user).filter(year=year, status=PaceAlert.Status.NOTIFIED).count()
    return {"waiting": waiting, "city": False, "year": year} if waiting else None


@login_required
def pace_alerts(request: HttpRequest) -> HttpResponse:
    q = request.GET
    qs = _visible(request.user)
    if q.get("grade") in GRADE_NAMES:
        qs = qs.filter(grade=q["grade"])
    if q.get("status") in PaceAlert.Status.values:
        qs = qs.filter(status=q["status"])
    if q.get("scope") in PaceAlert.Scope.values:
        qs = qs.filter(scope=q["scope"])
    if q.get("year", "").isdigit():
        qs = qs.filter(year=int(q["year"]))
    return render(request, "audit/pace_alerts.html", {
        "alerts": list(qs[:500]), "q": q, "grades": list(GRADE_NAMES.items()),
        "statuses": PaceAlert.Status.choices, "scopes": PaceAlert.Scope.choices})


@login_required
def pace_alert(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _visible(request.user).filter(pk=pk).first()
    if alert is None:
        raise Http404("pace alert")
    user = request.user
    steps = WorkflowStep.objects.filter(doc_type=ContentType.objects.get_for_model(PaceAlert),
                                        doc_id=str(alert.pk)).select_related("actor").order_by("at", "id")
    S = PaceAlert.Status  # noqa: N806
    may_explain = (alert.status == S.NOTIFIED and not roles.is_auditor(user)
                   and roles.may_explain_pace(user, alert.organization))
    bureau = roles.may_supervise_pace(user) and not roles.is_auditor(user)
    return render(request, "audit/pace_alert.html", {
        "a": alert, "steps": steps, "grade_name": GRADE_NAMES[alert.grade],
        "may_explain": may_explain,
        "may_rectify": bureau and alert.status == S.EXPLAINED,
        "may_close": bureau and alert.status in (S.NOTIFIED, S.EXPLAINED)})


@login_required
@require_POST
def pace_alert_act(request: HttpRequest, pk: int) -> HttpResponse:
    if not _visible(request.user).filter(pk=pk).exists():
        raise Http404("pace alert")
    action = ACTIONS.get(request.POST.get("action", ""))
    if action is None:
        raise Http404("action")
    try:
        action(alert_id=pk, user=request.user, text=request.POST.get("text", ""))
    except (AuditError, LedgerError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Recorded."))
    return redirect("audit:pace_alert", pk=pk)
