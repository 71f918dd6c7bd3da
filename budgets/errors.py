"""Domain errors of the budgets app; each carries the figures and codes a clerk needs."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from finance.errors import LedgerError

MSG_WRONG_STATE = _("%(document)s is %(status)s; “%(action)s” is not possible now.")
MSG_SEGREGATION = _("%(user)s filed %(document)s and cannot also %(action)s it.")
MSG_REASON_REQUIRED = _("A return or rejection needs a reason.")
MSG_UNKNOWN_UNIT = _("Unknown unit %(code)s.")
MSG_NOT_BUDGET_UNIT = _("%(code)s is not a budget unit.")
MSG_PLAN_EXISTS = _("Unit %(unit)s already has a budget plan for %(year)s.")
MSG_PLAN_EMPTY = _("The plan of unit %(unit)s for %(year)s has no lines.")
MSG_PLAN_READ_ONLY = _("The plan of unit %(unit)s for %(year)s is %(status)s and cannot be edited.")
MSG_LINES_INVALID = _("The plan lines have %(count)s error(s): %(problems)s")
MSG_CONTROL_EXCEEDED = _("二上 does not fit the control numbers: %(violations)s")
MSG_CONTROL_VIOLATION = _("fund source %(fund)s: lines total %(total)s, control number %(control)s")
MSG_TEMPLATE_INVALID = _("The template has %(count)s error(s): %(problems)s")
MSG_TEMPLATE_OTHER_PLAN = _(
    "This template is for unit %(template_unit)s, year %(template_year)s; "
    "it cannot be read into the plan of unit %(unit)s for %(year)s."
)
MSG_TEMPLATE_UNREADABLE = _("The file is not a filing template of this system: %(reason)s")
MSG_PROJECT_EXISTS = _("Project %(code)s already exists.")
MSG_PROJECT_INVALID = _("Project %(code)s: %(problems)s")
MSG_NO_INDICATOR = _("There is no indicator on %(dims)s.")
MSG_ADJUSTMENT_INVALID = _("Adjustment refused: %(problem)s")
# 绩效 (budgets.performance)
MSG_WEIGHTS = _("The weights of the targets of project %(code)s sum to %(total)s; they must "
                "sum to 90 (预算执行率 takes the other 10).")
MSG_TARGET_NO_VALUE = _("Target “%(name)s” has no numeric target value.")
MSG_TARGET_MISSING = _("No value given for target “%(name)s”.")
MSG_NOT_IN_LIBRARY = _("Project %(code)s is not in the project library.")
MSG_EVALUATION_EXISTS = _("Project %(code)s already has a self-evaluation for %(year)s (%(status)s).")
MSG_DEVIATION_LAG = _("“%(name)s”: %(progress)s%% done, %(time)s%% of the year gone")
MSG_DEVIATION_GAP = _("execution %(execution)s%% and output progress %(output)s%% are "
                      "%(gap)s points apart")

# Reasons used in line-by-line and cell-by-cell problems (after "Sheet!C12: ").
MSG_CODE_MISSING = _("%(kind)s code is missing")
MSG_CODE_UNKNOWN = _("%(kind)s code %(code)s does not exist")
MSG_CODE_RETIRED = _("%(kind)s code %(code)s is retired")
MSG_CODE_NOT_LEAF = _("%(kind)s code %(code)s is not a leaf code")
MSG_PROJECT_UNKNOWN = _("project %(code)s does not exist")
MSG_PROJECT_OTHER_UNIT = _("project %(code)s belongs to unit %(owner)s")
MSG_PROJECT_NOT_IN_LIBRARY = _("project %(code)s is not in the project library (%(status)s)")
MSG_AMOUNT_MISSING = _("%(field)s is missing")
MSG_AMOUNT_NOT_NUMBER = _("%(field)s %(value)s is not a number")
MSG_AMOUNT_PLACES = _("%(field)s %(value)s has more than 2 decimal places")
MSG_AMOUNT_NEGATIVE = _("%(field)s %(value)s must not be negative")
MSG_AMOUNT_NOT_POSITIVE = _("%(field)s %(value)s must be greater than zero")
MSG_DUPLICATE_LINE = _("the same project and codes appear again (first in %(first)s)")


class BudgetError(LedgerError):
    """Base of budgets' domain errors (message constant + figures in `params`)."""

    message = _("Budget error")
    code = "budget_error"


class WrongState(BudgetError):
    message = MSG_WRONG_STATE
    code = "wrong_state"


class SegregationOfDuties(BudgetError):
    message = MSG_SEGREGATION
    code = "segregation_of_duties"


class ReasonRequired(BudgetError):
    message = MSG_REASON_REQUIRED
    code = "reason_required"


class UnknownUnit(BudgetError):
    message = MSG_UNKNOWN_UNIT
    code = "unknown_unit"


class NotBudgetUnit(BudgetError):
    message = MSG_NOT_BUDGET_UNIT
    code = "not_budget_unit"


class PlanExists(BudgetError):
    message = MSG_PLAN_EXISTS
    code = "plan_exists"


class PlanEmpty(BudgetError):
    message = MSG_PLAN_EMPTY
    code = "plan_empty"


class PlanReadOnly(BudgetError):
    message = MSG_PLAN_READ_ONLY
    code = "plan_read_only"


class _ListError(BudgetError):
    """An error carrying a list of problems (every one is reported, not only the first)."""

    def __init__(self, problems: list[str], **params: object) -> None:
        self.problems = list(problems)
        super().__init__(count=len(self.problems), problems="; ".join(self.problems), **params)


class PlanLinesInvalid(_ListError):
    message = MSG_LINES_INVALID
    code = "plan_lines_invalid"


class TemplateInvalid(_ListError):
    message = MSG_TEMPLATE_INVALID
    code = "template_invalid"


class ControlNumbersExceeded(BudgetError):
    message = MSG_CONTROL_EXCEEDED
    code = "control_numbers_exceeded"

    def __init__(self, violations: list[str]) -> None:
        self.violations = list(violations)
        super().__init__(violations="; ".join(self.violations))


class TemplateOtherPlan(BudgetError):
    message = MSG_TEMPLATE_OTHER_PLAN
    code = "template_other_plan"


class TemplateUnreadable(BudgetError):
    message = MSG_TEMPLATE_UNREADABLE
    code = "template_unreadable"


class ProjectExists(BudgetError):
    message = MSG_PROJECT_EXISTS
    code = "project_exists"


class ProjectInvalid(BudgetError):
    message = MSG_PROJECT_INVALID
    code = "project_invalid"


class NoIndicator(BudgetError):
    message = MSG_NO_INDICATOR
    code = "no_indicator"


class AdjustmentInvalid(BudgetError):
    message = MSG_ADJUSTMENT_INVALID
    code = "adjustment_invalid"


class PerformanceInvalid(BudgetError):
    message = _("Performance: %(problem)s")
    code = "performance_invalid"
