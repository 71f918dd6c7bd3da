"""How the shared logs are read by people: the one place that names a workflow action
(the codes `finance.services.workflow_record` keeps, e.g. "approve", "submit 一上"), a
document's state (by its own model's choices) and a history row's reason (the short
texts the services write, e.g. "filed", "approved by unit head", "withdrawn: 重复申请").

The logs keep the codes and texts as written (they are evidence and never change);
every page that shows them (the request page, the budget pages' 流程记录, the auditor's
trace and history pages) asks here, in the reader's language."""
from __future__ import annotations

import re

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model
from django.utils.translation import gettext, pgettext_lazy

ACTIONS = {
    "create": pgettext_lazy("workflow action", "create"),
    "file": pgettext_lazy("workflow action", "file"),
    "refile": pgettext_lazy("workflow action", "file again"),
    "submit": pgettext_lazy("workflow action", "submit"),
    "submit 一上": pgettext_lazy("workflow action", "submit (first round, 一上)"),
    "submit 二上": pgettext_lazy("workflow action", "submit (second round, 二上)"),
    "withdraw": pgettext_lazy("workflow action", "withdraw"),
    "review": pgettext_lazy("workflow action", "review"),
    "department review": pgettext_lazy("workflow action", "department review"),
    "issue control numbers 一下": pgettext_lazy("workflow action",
                                              "issue control numbers (一下)"),
    "approve": pgettext_lazy("workflow action", "approve"),
    "approve 批复": pgettext_lazy("workflow action", "approve the budget (批复)"),
    "reject": pgettext_lazy("workflow action", "refuse"),
    "return": pgettext_lazy("workflow action", "return"),
    "accept": pgettext_lazy("workflow action", "accept"),
    "apply": pgettext_lazy("workflow action", "apply"),
    "voucher": pgettext_lazy("workflow action", "issue voucher"),
    "bank_result": pgettext_lazy("workflow action", "bank result"),
    "paid": pgettext_lazy("workflow action", "paid"),
    "publish": pgettext_lazy("workflow action", "publish"),
    "close": pgettext_lazy("workflow action", "close"),
    "reopen": pgettext_lazy("workflow action", "reopen"),
    # open commitments at year end (reports.commitments)
    "year_end_carry": pgettext_lazy("workflow action", "carried into next year (年终结转)"),
    "year_end_release": pgettext_lazy("workflow action", "released at year end (年终收回)"),
    "year_end_reopen": pgettext_lazy("workflow action", "restored: year-end close reopened"),
    "month_close": pgettext_lazy("workflow action", "close the month"),
    "month_reopen": pgettext_lazy("workflow action", "reopen the month"),
    "raise": pgettext_lazy("workflow action", "raise"),
    "assign": pgettext_lazy("workflow action", "assign"),
    "explain": pgettext_lazy("workflow action", "explain"),
    "comment": pgettext_lazy("workflow action", "comment"),
    # 执行进度预警 (audit.pace): raised as notified, upgraded yellow → red, rectified
    "notify": pgettext_lazy("workflow action", "notify (下发预警)"),
    "upgrade": pgettext_lazy("workflow action", "upgrade the alert"),
    "rectify": pgettext_lazy("workflow action", "confirm rectification (确认整改)"),
    # 控制方式 (finance.control): a blocking control rule overridden, with the reason
    "control_override": pgettext_lazy("workflow action", "override the control rule"),
    # 合同 (payments.services.contracts)
    "sign": pgettext_lazy("workflow action", "sign"),
    "complete": pgettext_lazy("workflow action", "complete"),
    # 预决算公开 sign-offs (reports.services)
    "confidentiality review": pgettext_lazy("workflow action",
                                            "confidentiality review (保密审查)"),
    "head sign-off": pgettext_lazy("workflow action", "head's sign-off (主要负责人审签)"),
    # 绩效 (budgets.performance)
    "set targets": pgettext_lazy("workflow action", "set performance targets"),
    "report progress": pgettext_lazy("workflow action", "report performance progress (运行监控)"),
    "submit self-evaluation": pgettext_lazy("workflow action",
                                            "submit the self-evaluation (绩效自评)"),
    "approve self-evaluation": pgettext_lazy("workflow action", "approve the self-evaluation"),
    "return self-evaluation": pgettext_lazy("workflow action", "return the self-evaluation"),
    # 工资统发 (payments.services.payroll): the bank's file imported, a returned salary paid again
    "import": pgettext_lazy("workflow action", "import the file"),
    "repay": pgettext_lazy("workflow action", "pay again after a return (退票重付)"),
    # 公务卡 (payments.services.cards): card transactions matched to their repayment request
    "card_match": pgettext_lazy("workflow action", "match card transactions (公务卡报销)"),
}

# the reasons the services write on history rows, whole or before ": <the person's words>"
REASONS = {
    "filed": pgettext_lazy("history reason", "filed"),
    "submitted": pgettext_lazy("history reason", "submitted"),
    "refused by rules": pgettext_lazy("history reason", "refused by rules"),
    "approved by unit head": pgettext_lazy("history reason", "approved by the unit head"),
    "approved by treasury reviewer": pgettext_lazy("history reason",
                                                   "approved by the treasury reviewer"),
    "approved by treasury director": pgettext_lazy("history reason",
                                                   "approved by the treasury director"),
    "withdrawn": pgettext_lazy("history reason", "withdrawn"),
    "vouchered": pgettext_lazy("history reason", "voucher issued"),
    "voucher issued": pgettext_lazy("history reason", "voucher issued"),
    "vouchers issued": pgettext_lazy("history reason", "vouchers issued"),
    "bank result": pgettext_lazy("history reason", "bank result"),
    "reconciliation": pgettext_lazy("history reason", "reconciliation"),
    "reconciled automatically": pgettext_lazy("history reason", "reconciled automatically"),
    "opened again by reconciliation": pgettext_lazy("history reason",
                                                    "opened again by reconciliation"),
    "amounts updated by reconciliation": pgettext_lazy("history reason",
                                                       "amounts updated by reconciliation"),
    "plan applied": pgettext_lazy("history reason", "plan applied"),
    "plan approved": pgettext_lazy("history reason", "plan approved"),
    "plan created": pgettext_lazy("history reason", "budget plan created"),
    "plan line added": pgettext_lazy("history reason", "budget line added"),
    "plan line changed": pgettext_lazy("history reason", "budget line changed"),
    "project filed": pgettext_lazy("history reason", "project filed"),
    "一下 control number": pgettext_lazy("history reason", "control number (一下)"),
    "year-end close": pgettext_lazy("history reason", "year-end close"),
    "month close": pgettext_lazy("history reason", "month close"),
    "draft": pgettext_lazy("history reason", "draft"),
    "approve": pgettext_lazy("history reason", "approved"),
    "publish": pgettext_lazy("history reason", "published"),
    "comment": pgettext_lazy("history reason", "comment"),
    "default rule installed": pgettext_lazy("history reason", "default rule installed"),
    "set-up": pgettext_lazy("history reason", "set-up"),
    "shipped profile": pgettext_lazy("history reason", "bank profile as shipped"),
    # 合同 (payments.services.contracts)
    "contract registered": pgettext_lazy("history reason", "contract registered"),
    "contract signed": pgettext_lazy("history reason", "contract signed"),
    "contract completed": pgettext_lazy("history reason", "contract completed"),
    "contract closed": pgettext_lazy("history reason", "contract closed early"),
    # 绩效 (budgets.performance)
    "targets set": pgettext_lazy("history reason", "performance targets set"),
    # 公务卡 (payments.services.cards): transactions matched to / settled by a repayment
    "repayment": pgettext_lazy("history reason", "official card repayment"),
}
_PREFIXES = sorted({*REASONS, *ACTIONS}, key=len, reverse=True)
_OPENED_BY_CLOSE = re.compile(r"^opened by year-end close (\d{4})$")
_RAISED_BY_RULE = re.compile(r"^raised by rule (\S+)$")


def action_label(code: str) -> str:
    """A workflow action in the reader's language (the code itself when unknown)."""
    label = ACTIONS.get(code)
    return str(label) if label is not None else code


def state_label(model: type[Model] | None, value: str, field: str = "status") -> str:
    """A document's state by its own model's choices (待单位审核, not unit_review)."""
    if not value or model is None:
        return value or ""
    try:
        choices = dict(model._meta.get_field(field).flatchoices)
    except FieldDoesNotExist:
        return value
    return str(choices.get(value, value))


def reason_label(text: str | None) -> str:
    """A history row's reason in the reader's language: a known reason whole, or a known
    reason or action before ": " or " " with the rest kept as written (批复意见, a
    withdrawal's reason, a bank reference). Anything else is shown as written."""
    if not text:
        return ""
    known = REASONS.get(text) or ACTIONS.get(text)
    if known is not None:
        return str(known)
    for key in _PREFIXES:  # the longest known reason or action first
        for sep, shown in ((": ", "："), (" ", " ")):
            if text.startswith(key + sep):
                known = REASONS.get(key) or ACTIONS[key]
                return f"{known}{shown}{text[len(key) + len(sep):]}"
    m = _OPENED_BY_CLOSE.match(text)
    if m:
        return gettext("opened by the year-end close of %(year)s") % {"year": m.group(1)}
    m = _RAISED_BY_RULE.match(text)
    if m:
        return gettext("raised by rule %(rule)s") % {"rule": m.group(1)}
    return text
