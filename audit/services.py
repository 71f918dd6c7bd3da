"""Writes of the audit app: monitoring rules, alerts and their workflow, history
sealing and the scheduled verification. Every write refuses auditors."""
from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit import seals
from audit.access import ensure_not_auditor
from audit.errors import AlertTransitionRefused, BadRuleParam, CommentRequired, UnknownRule
from audit.models import Alert, AlertComment, MonitoringRule, PaceAlert
from finance import labels, roles
from finance.models import Entry
from finance.selectors import VerifyResult, ledger_verify
from finance.services import save_with_history, workflow_record

log = logging.getLogger(__name__)

# code → (name, severity, default params). Amounts are strings of yuan; shares and
# tolerances are strings of decimal fractions.
DEFAULT_RULES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "duplicate_payment": ("疑似重复支付 possible duplicate payment", "high",
                          {"window_days": 7}),
    "split_payment": ("拆分支付规避审批 splitting below an approval threshold", "high",
                      {"threshold": "100000.00", "window_days": 7, "min_count": 2}),
    "individual_payee": ("向个人大额支付 payment to an individual above a threshold", "warning",
                         {"threshold": "50000.00"}),
    "execution_lag": ("预算执行进度滞后 execution rate lagging the calendar", "warning",
                      {"tolerance": "0.15", "min_authority": "10000.00"}),
    # graded 序时进度 of departments and projects (audit.pace): lag in percentage points
    "execution_pace": ("序时进度预警 execution pace behind time elapsed", "warning",
                       {"yellow_points": "10", "red_points": "20", "min_budget": "10000.00"}),
    "december_spike": ("年底突击花钱 December spending spike", "warning", {"share": "0.30"}),
    "outside_hours": ("非工作时间记账 posting outside working hours", "info",
                      {"start": "08:00", "end": "20:00", "weekends": True}),
    "ledger_verify": ("账簿校验失败 ledger verification failed", "high", {}),
    # 公务卡 charges still open more than `days` after posting (audit.cards, nightly)
    "card_overdue": ("公务卡逾期未还款 official card transactions overdue", "warning",
                     {"days": 30}),
}
_DECIMAL_PARAMS = {"threshold", "tolerance", "min_authority", "share", "yellow_points",
                   "red_points", "min_budget"}
_INT_PARAMS = {"window_days", "min_count", "days"}
_TIME_PARAMS = {"start", "end"}


# ------------------------------------------------------------------------ rules
def _check_params(code: str, params: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for name, value in params.items():
        try:
            if name in _DECIMAL_PARAMS:
                number = Decimal(str(value))
                if isinstance(value, float) or not number.is_finite() or number < 0:
                    raise ValueError
                clean[name] = str(number)
            elif name in _INT_PARAMS:
                if isinstance(value, bool) or int(value) < 0:
                    raise ValueError
                clean[name] = int(value)
            elif name in _TIME_PARAMS:
                clean[name] = dt.time.fromisoformat(str(value)).strftime("%H:%M")
            elif name == "weekends":
                if not isinstance(value, bool):
                    raise ValueError
                clean[name] = value
            else:
                raise ValueError
        except (ValueError, TypeError, InvalidOperation):
            raise BadRuleParam(code=code, name=name, value=value) from None
    return clean


def monitoring_rule_get(*, code: str) -> MonitoringRule:
    """The rule `code`, installed with its default thresholds on first use."""
    rule = MonitoringRule.objects.filter(code=code).first()
    if rule is not None:
        return rule
    if code not in DEFAULT_RULES:
        raise UnknownRule(code=code)
    return _default_install(code)


def _default_install(code: str) -> MonitoringRule:
    """Install a default rule; when another process installed it since our look-up (its
    row is then seen by the unique check, or its insert makes ours fail), use that one."""
    name, severity, params = DEFAULT_RULES[code]
    try:
        with transaction.atomic():
            rule = MonitoringRule(code=code, name=name, severity=severity, params=dict(params))
            save_with_history(rule, user=None, reason="default rule installed")
    except (IntegrityError, ValidationError):
        rule = MonitoringRule.objects.filter(code=code).first()
        if rule is None:
            raise
    return rule


def monitoring_rules_install(*, user: Any) -> list[MonitoringRule]:
    ensure_not_auditor(user)
    return [monitoring_rule_get(code=code) for code in DEFAULT_RULES]


@transaction.atomic
def monitoring_rule_update(*, code: str, user: Any, reason: str, enabled: bool | None = None,
                           params: dict[str, Any] | None = None,
                           severity: str | None = None) -> MonitoringRule:
    """Change a rule's switch, thresholds or severity; history keeps who and why."""
    ensure_not_auditor(user)
    monitoring_rule_get(code=code)
    rule = MonitoringRule.objects.select_for_update().get(code=code)
    if enabled is not None:
        rule.enabled = enabled
    if params is not None:
        rule.params = {**rule.params, **_check_params(code, params)}
    if severity is not None:
        rule.severity = severity
    save_with_history(rule, user=user, reason=reason)
    return rule


# ----------------------------------------------------------------------- alerts
def alert_raise(*, rule: MonitoringRule, fingerprint: str, message: str, as_of: dt.datetime,
                amount_fen: int = 0, year: int | None = None, unit_code: str = "",
                entry: Entry | None = None, details: dict | None = None) -> Alert | None:
    """Raise one finding of an enabled rule; a finding already raised (same
    fingerprint) is not raised again. Returns the new alert or None."""
    if not rule.enabled:
        return None
    fingerprint = f"{rule.code}:{fingerprint}"[:200]
    if Alert.objects.filter(fingerprint=fingerprint).exists():
        return None
    alert = Alert(rule=rule, fingerprint=fingerprint, message=message, amount_fen=amount_fen,
                  year=year, unit_code=unit_code or "", entry=entry, details=details or {},
                  raised_at=as_of)
    try:
        with transaction.atomic():
            save_with_history(alert, user=None, reason=f"raised by rule {rule.code}")
            workflow_record(document=alert, from_state="", to_state=Alert.Status.OPEN,
                            action="raise", user=None, comment=message, as_of=as_of)
    except (IntegrityError, ValidationError):
        # raised concurrently by another posting or the sweep (the unique fingerprint
        # is caught by full_clean or by the database, whichever sees it first)
        if Alert.objects.filter(fingerprint=fingerprint).exists():
            return None
        raise
    return alert


def _transition(alert_id: int, *, user: Any, action: str, allowed: set[str], to_state: str,
                comment: str, as_of: dt.datetime | None) -> Alert:
    ensure_not_auditor(user)
    as_of = as_of or timezone.now()
    if not comment.strip():
        raise CommentRequired(action=action)
    alert = Alert.objects.select_for_update().get(pk=alert_id)
    if alert.status not in allowed:
        raise AlertTransitionRefused(alert=alert.pk, status=alert.status, action=action)
    previous = alert.status
    alert.status = to_state
    save_with_history(alert, user=user, reason=f"{action}: {comment}"[:100])
    AlertComment.objects.create(alert=alert, author=user, text=comment, at=as_of)
    workflow_record(document=alert, from_state=previous, to_state=to_state, action=action,
                    user=user, comment=comment, as_of=as_of)
    return alert


@transaction.atomic
def alert_explain(*, alert_id: int, user: Any, comment: str,
                  as_of: dt.datetime | None = None) -> Alert:
    """The owner explains a finding: open → explained."""
    return _transition(alert_id, user=user, action="explain", allowed={Alert.Status.OPEN},
                       to_state=Alert.Status.EXPLAINED, comment=comment, as_of=as_of)


@transaction.atomic
def alert_close(*, alert_id: int, user: Any, comment: str,
                as_of: dt.datetime | None = None) -> Alert:
    """Accept the explanation: explained → closed."""
    return _transition(alert_id, user=user, action="close", allowed={Alert.Status.EXPLAINED},
                       to_state=Alert.Status.CLOSED, comment=comment, as_of=as_of)


@transaction.atomic
def alert_reopen(*, alert_id: int, user: Any, comment: str,
                 as_of: dt.datetime | None = None) -> Alert:
    """The explanation does not hold: explained → open."""
    return _transition(alert_id, user=user, action="reopen", allowed={Alert.Status.EXPLAINED},
                       to_state=Alert.Status.OPEN, comment=comment, as_of=as_of)


@transaction.atomic
def alert_assign(*, alert_id: int, owner: Any, user: Any, as_of: dt.datetime | None = None) -> Alert:
    ensure_not_auditor(user)
    alert = Alert.objects.select_for_update().get(pk=alert_id)
    if alert.status == Alert.Status.CLOSED:
        raise AlertTransitionRefused(alert=alert.pk, status=alert.status, action="assign")
    alert.owner = owner
    save_with_history(alert, user=user, reason=f"assigned to {owner.get_username()}")
    workflow_record(document=alert, from_state=alert.status, to_state=alert.status,
                    action="assign", user=user, comment=owner.get_username(), as_of=as_of)
    return alert


@transaction.atomic
def alert_comment_add(*, alert_id: int, user: Any, text: str,
                      as_of: dt.datetime | None = None) -> AlertComment:
    ensure_not_auditor(user)
    if not text.strip():
        raise CommentRequired(action="comment on")
    alert = Alert.objects.select_for_update().get(pk=alert_id)
    comment = AlertComment(alert=alert, author=user, text=text, at=as_of or timezone.now())
    save_with_history(comment, user=user, reason="comment")
    return comment


# ------------------------------------------------- execution pace (序时进度) loop
def _pace_step(alert_id: int, *, user: Any, action: str, allowed: set[str], to_state: str,
               text: str, as_of: dt.datetime | None, bureau: bool) -> PaceAlert:
    """One step of the loop notified → explained → rectified (or closed): who may take it
    (finance.roles), in which state, with the person's words, kept in history and in the
    workflow log (who, when, text)."""
    ensure_not_auditor(user)
    if not text.strip():
        raise CommentRequired(action=action)
    alert = PaceAlert.objects.select_for_update().select_related("organization").get(pk=alert_id)
    if bureau:
        roles.require(roles.may_supervise_pace(user), user=user,
                      role=[roles.BUDGET_OFFICE, *roles.TREASURY_ROLES])
    else:
        roles.require(roles.may_explain_pace(user, alert.organization), user=user,
                      role=[*roles.UNIT_ROLES, roles.DEPARTMENT_REVIEWER],
                      unit=alert.organization)
    if alert.status not in allowed:
        raise AlertTransitionRefused(alert=alert.pk, status=alert.get_status_display(),
                                     action=labels.action_label(action))
    previous = alert.status
    alert.status = to_state
    save_with_history(alert, user=user, reason=f"{action}: {text}"[:100])
    workflow_record(document=alert, from_state=previous, to_state=to_state, action=action,
                    user=user, comment=text, as_of=as_of or timezone.now())
    return alert


@transaction.atomic
def pace_alert_explain(*, alert_id: int, user: Any, text: str,
                       as_of: dt.datetime | None = None) -> PaceAlert:
    """The department or unit explains the lag (情况说明): notified → explained."""
    S = PaceAlert.Status  # noqa: N806
    return _pace_step(alert_id, user=user, action="explain", allowed={S.NOTIFIED},
                      to_state=S.EXPLAINED, text=text, as_of=as_of, bureau=False)


@transaction.atomic
def pace_alert_rectify(*, alert_id: int, user: Any, text: str,
                       as_of: dt.datetime | None = None) -> PaceAlert:
    """The bureau confirms the rectification (确认整改): explained → rectified."""
    S = PaceAlert.Status  # noqa: N806
    return _pace_step(alert_id, user=user, action="rectify", allowed={S.EXPLAINED},
                      to_state=S.RECTIFIED, text=text, as_of=as_of, bureau=True)


@transaction.atomic
def pace_alert_close(*, alert_id: int, user: Any, text: str,
                     as_of: dt.datetime | None = None) -> PaceAlert:
    """The bureau closes an alert without rectification (e.g. the explanation is
    accepted as it is): notified or explained → closed."""
    S = PaceAlert.Status  # noqa: N806
    return _pace_step(alert_id, user=user, action="close", allowed={S.NOTIFIED, S.EXPLAINED},
                      to_state=S.CLOSED, text=text, as_of=as_of, bureau=True)


# ----------------------------------------------------------- seal and verify
def history_seal(*, as_of: dt.datetime | None = None,
                 grace: dt.timedelta = seals.SEAL_GRACE, workers: int = 1) -> dict[str, int]:
    """Seal history rows written since the last run (see audit.seals; `workers`: tables
    at once in that many processes)."""
    return seals.history_seal(as_of=as_of, grace=grace, workers=workers)


def ledger_verification_run(*, as_of: dt.datetime | None = None) -> VerifyResult:
    """The daily check: seal new history rows, verify the ledger and every seal, and
    raise a `ledger_verify` alert naming the first broken item when it fails."""
    as_of = as_of or timezone.now()
    history_seal(as_of=as_of)
    result = ledger_verify()
    if not result.ok:
        first = result.first_broken
        log.error("ledger verification failed: %s (%d problems)", first, len(result.problems))
        alert_raise(rule=monitoring_rule_get(code="ledger_verify"),
                    fingerprint=f"{timezone.localdate(as_of).isoformat()}",
                    message=f"FIRST BROKEN: {first}", as_of=as_of,
                    details={"problems": [str(p) for p in result.problems[:50]]})
    return result
