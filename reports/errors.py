"""Domain errors of the reports app; each carries the figures that matter."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

MSG_YEAR_ALREADY_CLOSED = _("Fiscal year %(year)s is already closed.")
MSG_YEAR_NOT_CLOSED = _("Fiscal year %(year)s is not closed; there is nothing to reopen.")
MSG_MONTHS_OPEN = _("Close months %(months)s of %(year)s before the year-end close.")
MSG_NOT_AUTHORISED = _("%(user)s may not %(action)s: the role %(permission)s is required.")
MSG_REASON_REQUIRED = _("A reason is required to %(action)s.")
MSG_CHECKS_FAILED = _("Publishing blocked: %(count)s cross-table check(s) failed, first: %(first)s")
MSG_BAD_STATE = _("Disclosure set %(id)s is %(state)s; it must be %(expected)s to %(action)s.")
MSG_PUBLISHED_IMMUTABLE = _("Disclosure set %(id)s is published and cannot be changed.")
MSG_SAME_PERSON = _("The person who created disclosure set %(id)s cannot also approve it.")
MSG_FIGURES_CHANGED = _("The ledger changed figures of disclosure set %(id)s since it was "
                        "approved; approve it again.")
MSG_NOT_DEPARTMENT = _("%(code)s is not a department.")
MSG_CONFIDENTIALITY_MISSING = _("Disclosure set %(id)s cannot be published before its "
                                "confidentiality review (保密审查) is recorded.")
MSG_CONFIDENTIALITY_WITHHELD = _("Disclosure set %(id)s cannot be published: its confidentiality "
                                 "review found state secrets (%(note)s).")
MSG_HEAD_SIGN_OFF_MISSING = _("Disclosure set %(id)s cannot be published before the head of "
                              "%(department)s signs it (主要负责人审签).")
MSG_APPROVAL_DATE_MISSING = _("No date of 批复 for the %(kind)s of %(department)s %(year)s in "
                              "the ledger; enter it.")
MSG_CONCLUSION_UNKNOWN = _("Unknown confidentiality conclusion %(conclusion)s.")
MSG_BAD_SCOPE = _("Unknown report scope %(scope)s.")


class ReportError(Exception):
    """Base of report errors: `message` is translated, `params` holds the figures."""

    message = _("Report error")
    code = "report_error"

    def __init__(self, **params: object) -> None:
        self.params = params
        super().__init__(str(self))

    def __str__(self) -> str:
        return str(self.message) % self.params if self.params else str(self.message)


class YearAlreadyClosed(ReportError):
    message = MSG_YEAR_ALREADY_CLOSED
    code = "year_closed"


class YearNotClosed(ReportError):
    message = MSG_YEAR_NOT_CLOSED
    code = "year_not_closed"


class MonthsStillOpen(ReportError):
    message = MSG_MONTHS_OPEN
    code = "months_open"


class NotAuthorised(ReportError):
    message = MSG_NOT_AUTHORISED
    code = "not_authorised"


class ReasonRequired(ReportError):
    message = MSG_REASON_REQUIRED
    code = "reason_required"


class ChecksFailed(ReportError):
    message = MSG_CHECKS_FAILED
    code = "checks_failed"

    @property
    def failures(self) -> list:
        return self.params.get("failures", [])  # type: ignore[return-value]

    def __str__(self) -> str:
        return str(self.message) % {k: v for k, v in self.params.items() if k != "failures"}


class BadState(ReportError):
    message = MSG_BAD_STATE
    code = "bad_state"


class PublishedImmutable(ReportError):
    message = MSG_PUBLISHED_IMMUTABLE
    code = "published_immutable"


class SamePerson(ReportError):
    message = MSG_SAME_PERSON
    code = "same_person"


class NotDepartment(ReportError):
    message = MSG_NOT_DEPARTMENT
    code = "not_department"


class BadScope(ReportError):
    message = MSG_BAD_SCOPE
    code = "bad_scope"


class FiguresChanged(ReportError):
    message = MSG_FIGURES_CHANGED
    code = "figures_changed"


class SignOffMissing(ReportError):
    """Publishing refused: a sign-off required before publication is missing or negative."""

    code = "sign_off_missing"


class ConfidentialityReviewMissing(SignOffMissing):
    message = MSG_CONFIDENTIALITY_MISSING
    code = "confidentiality_review_missing"


class ConfidentialityWithheld(SignOffMissing):
    message = MSG_CONFIDENTIALITY_WITHHELD
    code = "confidentiality_withheld"


class HeadSignOffMissing(SignOffMissing):
    message = MSG_HEAD_SIGN_OFF_MISSING
    code = "head_sign_off_missing"


class ApprovalDateMissing(ReportError):
    message = MSG_APPROVAL_DATE_MISSING
    code = "approval_date_missing"


class ConclusionUnknown(ReportError):
    message = MSG_CONCLUSION_UNKNOWN
    code = "conclusion_unknown"
