"""Domain errors of the audit app; each carries the figures that matter."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

MSG_AUDITOR_READ_ONLY = _("Auditors can read everything but change nothing (user %(user)s).")
MSG_UNKNOWN_MEASURE = _("Unknown measure %(measure)s; use one of: %(choices)s.")
MSG_BAD_TRACE_REF = _("Trace reference %(ref)s cannot be read: %(reason)s.")
MSG_UNKNOWN_DIMENSION = _("Unknown dimension %(name)s in a trace.")
MSG_UNKNOWN_HISTORY_MODEL = _("No history is kept for %(label)s.")
MSG_NO_RECORD_AS_OF = _("%(label)s #%(pk)s did not exist on %(when)s.")
MSG_ALERT_TRANSITION = _("Alert #%(alert)s is %(status)s; it cannot be %(action)s.")
MSG_COMMENT_REQUIRED = _("A comment is required to %(action)s an alert.")
MSG_UNKNOWN_RULE = _("Unknown monitoring rule %(code)s.")
MSG_BAD_RULE_PARAM = _("Rule %(code)s: parameter %(name)s=%(value)r is not valid.")


class AuditError(Exception):
    """Base of audit domain errors: `message` is translated, `params` holds the figures."""

    message = _("Audit error")
    code = "audit_error"

    def __init__(self, **params: object) -> None:
        self.params = params
        super().__init__(str(self))

    def __str__(self) -> str:
        return str(self.message) % self.params if self.params else str(self.message)


class AuditorReadOnly(AuditError):
    message = MSG_AUDITOR_READ_ONLY
    code = "auditor_read_only"


class UnknownMeasure(AuditError):
    message = MSG_UNKNOWN_MEASURE
    code = "unknown_measure"


class BadTraceRef(AuditError):
    message = MSG_BAD_TRACE_REF
    code = "bad_trace_ref"


class UnknownDimension(AuditError):
    message = MSG_UNKNOWN_DIMENSION
    code = "unknown_dimension"


class UnknownHistoryModel(AuditError):
    message = MSG_UNKNOWN_HISTORY_MODEL
    code = "unknown_history_model"


class NoRecordAsOf(AuditError):
    message = MSG_NO_RECORD_AS_OF
    code = "no_record_as_of"


class AlertTransitionRefused(AuditError):
    message = MSG_ALERT_TRANSITION
    code = "alert_transition"


class CommentRequired(AuditError):
    message = MSG_COMMENT_REQUIRED
    code = "comment_required"


class UnknownRule(AuditError):
    message = MSG_UNKNOWN_RULE
    code = "unknown_rule"


class BadRuleParam(AuditError):
    message = MSG_BAD_RULE_PARAM
    code = "bad_rule_param"
