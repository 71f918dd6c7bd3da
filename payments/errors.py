"""Domain errors of payments; each message is a constant and carries its figures."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from finance.errors import LedgerError

MSG_INDICATOR_SHORT = _(
    "The indicator has %(available)s available; %(requested)s was requested. The request is "
    "refused."
)
MSG_PLAN_EXCEEDED = _(
    "The payment plan for %(year)s-%(month)02d allows %(remaining)s more (approved "
    "%(approved)s); %(requested)s was requested. The request is refused."
)
MSG_WRONG_STATE = _("Request %(tracking_id)s is %(status)s; it cannot be %(action)s.")
MSG_NOT_ALLOWED = _("%(user)s may not %(action)s this request: %(why)s.")
MSG_FILER_CANNOT_APPROVE = _("the filer of a request can never approve it")
MSG_ONE_LEVEL_ONLY = _("one person approves at most one level of the same request")
MSG_MISSING_ROLE = _("the role %(role)s is required")
MSG_OTHER_UNIT = _("the request belongs to another unit")
MSG_NOT_FILER = _("only the filer of a request submits it")
MSG_REASON_REQUIRED = _("A reason is required.")
MSG_NOTHING_TO_VOUCHER = _("There are no approved requests to put on a voucher.")
MSG_UNKNOWN_FORMAT = _("%(file)s: the format could not be recognised (expected the bank's "
                       "payment-result CSV, camt.053 or MT940).")
MSG_UNKNOWN_VOUCHER = _("Voucher %(number)s is unknown.")
MSG_UNKNOWN_PROFILE = _("There is no bank profile %(code)s.")
MSG_RESULT_KNOWN = _("Voucher %(number)s: this result is already known (%(status)s).")
MSG_RESULT_AMOUNT = _("Amount %(amount)s differs from voucher %(number)s (%(expected)s).")
MSG_ALREADY_RESOLVED = _("Exception %(pk)s is already resolved.")
MSG_ALREADY_REFILED = _("Request %(tracking_id)s was already filed again as %(new)s.")
# refusals of a draft (payment_request_create): checked before anything is written
MSG_NO_INDICATOR = _(
    "There is no approved indicator of %(year)s with unit %(unit)s, function %(function)s, "
    "economic %(economic)s, fund source %(fund_source)s, project %(project)s; a request is "
    "drafted only on an approved indicator. Nothing was saved."
)
MSG_INDICATOR_OTHER_UNIT = _(
    "The indicator with unit %(unit)s, function %(function)s, economic %(economic)s, fund "
    "source %(fund_source)s, project %(project)s belongs to another unit; requests of unit "
    "%(own)s are drafted only on its own indicators. Nothing was saved."
)
MSG_AMOUNT_PLACES = _(
    "Amount %(amount)s has more than 2 decimal places; amounts are in yuan to the fen and "
    "are never rounded. Nothing was saved."
)


class PaymentError(LedgerError):
    message = _("Payment error")
    code = "payment_error"


class IndicatorShort(PaymentError):
    message = MSG_INDICATOR_SHORT
    code = "indicator_short"


class PlanExceeded(PaymentError):
    message = MSG_PLAN_EXCEEDED
    code = "plan_exceeded"


class WrongState(PaymentError):
    message = MSG_WRONG_STATE
    code = "wrong_state"


class NotAllowed(PaymentError):
    message = MSG_NOT_ALLOWED
    code = "not_allowed"


class ReasonRequired(PaymentError):
    message = MSG_REASON_REQUIRED
    code = "reason_required"


class NothingToVoucher(PaymentError):
    message = MSG_NOTHING_TO_VOUCHER
    code = "nothing_to_voucher"


class UnknownFormat(PaymentError):
    message = MSG_UNKNOWN_FORMAT
    code = "unknown_format"


class AlreadyResolved(PaymentError):
    message = MSG_ALREADY_RESOLVED
    code = "already_resolved"


class UnknownVoucher(PaymentError):
    message = MSG_UNKNOWN_VOUCHER
    code = "unknown_voucher"


class UnknownProfile(PaymentError):
    message = MSG_UNKNOWN_PROFILE
    code = "unknown_profile"


class ResultKnown(PaymentError):
    """A result that says again what is already applied (a re-sent file, the same payment
    in a pain.002 and a result file, a 成功 reported after the 退票 that followed it):
    counted as already known, not an issue."""

    message = MSG_RESULT_KNOWN
    code = "result_known"


class ResultAmountDiffers(PaymentError):
    message = MSG_RESULT_AMOUNT
    code = "result_amount_differs"


class NoIndicator(PaymentError):
    """The dimension tuple of a draft is not an approved indicator in the register."""

    message = MSG_NO_INDICATOR
    code = "no_indicator"


class IndicatorOtherUnit(NotAllowed):
    """A draft on an indicator of another unit than the filer's (a 403 like NotAllowed)."""

    message = MSG_INDICATOR_OTHER_UNIT
    code = "indicator_other_unit"


class AmountPlaces(PaymentError):
    """An amount with more than 2 decimal places: refused, never rounded."""

    message = MSG_AMOUNT_PLACES
    code = "amount_places"


class AlreadyRefiled(WrongState):
    """A refused or returned request filed again once already (its new draft carries it on)."""

    message = MSG_ALREADY_REFILED
    code = "already_refiled"


# the unit's payee book (收款人) and a request's attachments
MSG_CNAPS_FORMAT = _("CNAPS code (联行号) %(cnaps)s must be exactly 12 digits.")
MSG_CNAPS_UNKNOWN = _(
    "CNAPS code (联行号) %(cnaps)s is not a known bank branch; check the code on the payee's "
    "account documents, or ask the treasury to add the branch.")
MSG_ACCOUNT_INVALID = _("Account number %(account)s is not valid: %(why)s.")
MSG_PAYEE_DUPLICATE = _("Account %(account)s is already in the unit's payee book as "
                        "%(payee)s.")
MSG_PAYEE_OTHER_UNIT = _(
    "Payee %(payee)s is not in the payee book of unit %(unit)s; a request pays the unit's "
    "own payees or shared ones. Nothing was saved.")
MSG_PAYEE_SHARED = _("Payee %(payee)s is shared by every unit; only the treasury changes it.")
MSG_ATTACHMENT_TOO_LARGE = _(
    "Attachment %(name)s is %(size)s; a file may be at most %(limit)s. Nothing was saved.")
MSG_ATTACHMENT_TYPE = _(
    "Attachment %(name)s is not an accepted file (PDF, OFD, JPEG, PNG, Word or Excel: "
    "%(why)s). Nothing was saved.")
MSG_ATTACHMENT_EMPTY = _("Attachment %(name)s is empty. Nothing was saved.")
MSG_ATTACHMENT_COUNT = _(
    "A request takes at most %(limit)s attachments; %(count)s were given. Nothing was saved.")
MSG_ATTACHMENT_EXTENSION = _("its name does not end in .pdf, .ofd, .jpg, .jpeg, .png, .docx "
                             "or .xlsx")
MSG_ATTACHMENT_CONTENT = _("its content is not what its name says")
ACTION_WITHDRAWN = pgettext_lazy("what cannot be done to a request", "withdrawn")


class CnapsFormat(PaymentError):
    message = MSG_CNAPS_FORMAT
    code = "cnaps_format"


class CnapsUnknown(PaymentError):
    message = MSG_CNAPS_UNKNOWN
    code = "cnaps_unknown"


class AccountInvalid(PaymentError):
    message = MSG_ACCOUNT_INVALID
    code = "account_invalid"


class PayeeDuplicate(PaymentError):
    message = MSG_PAYEE_DUPLICATE
    code = "payee_duplicate"


class PayeeOtherUnit(NotAllowed):
    """A payee of another unit's book (on a request, or edited by another unit)."""

    message = MSG_PAYEE_OTHER_UNIT
    code = "payee_other_unit"


class PayeeShared(NotAllowed):
    message = MSG_PAYEE_SHARED
    code = "payee_shared"


class AttachmentRefused(PaymentError):
    """An attachment too large, of a type not accepted, empty, or one too many."""

    message = MSG_ATTACHMENT_TYPE
    code = "attachment_refused"


class AttachmentTooLarge(AttachmentRefused):
    message = MSG_ATTACHMENT_TOO_LARGE
    code = "attachment_too_large"


class AttachmentEmpty(AttachmentRefused):
    message = MSG_ATTACHMENT_EMPTY
    code = "attachment_empty"


class AttachmentCount(AttachmentRefused):
    message = MSG_ATTACHMENT_COUNT
    code = "attachment_count"


# 合同: contracts paid in instalments (payments.services.contracts)
MSG_CONTRACT_SCHEDULE = _(
    "The payment schedule adds up to %(total)s; the contract amount is %(amount)s. Nothing "
    "was saved.")
MSG_CONTRACT_NUMBER_TAKEN = _("The unit already has a contract numbered %(number)s.")
MSG_CONTRACT_TERM = _("The contract's term ends (%(end)s) before it starts (%(start)s).")
MSG_CONTRACT_STATE = _("Contract %(number)s is %(status)s; it cannot be %(action)s.")
MSG_CONTRACT_SHORT = _(
    "The indicator has %(available)s available; contract %(number)s is for %(amount)s. It "
    "cannot be signed.")
MSG_CONTRACT_EXCEEDED = _(
    "Contract %(number)s has %(remaining)s left to pay (amount %(amount)s, paid %(paid)s, "
    "in payment %(pending)s); %(requested)s was requested. The request is refused.")
MSG_CONTRACT_MISMATCH = _(
    "Contract %(number)s is charged to another indicator or pays another payee "
    "(%(payee)s); a payment under it uses its indicator and its counterparty.")
MSG_CONTRACT_CONTROL = _(
    "Contract %(number)s cannot be signed: %(reason)s")
MSG_CONTRACT_OPEN_REQUESTS = _(
    "Contract %(number)s has %(count)s request(s) still in payment; decide them before "
    "closing it.")

ACTION_SIGNED = pgettext_lazy("contract action", "signed")
ACTION_CLOSED = pgettext_lazy("contract action", "closed")
ACTION_PAID_UNDER = pgettext_lazy("contract action", "paid against")
ACTION_OVERRIDDEN = pgettext_lazy("contract action", "overridden")


class ContractError(PaymentError):
    code = "contract_error"


class ContractSchedule(ContractError):
    message = MSG_CONTRACT_SCHEDULE
    code = "contract_schedule"


class ContractNumberTaken(ContractError):
    message = MSG_CONTRACT_NUMBER_TAKEN
    code = "contract_number_taken"


class ContractTerm(ContractError):
    message = MSG_CONTRACT_TERM
    code = "contract_term"


class ContractState(ContractError):
    message = MSG_CONTRACT_STATE
    code = "contract_state"


class ContractShort(ContractError):
    message = MSG_CONTRACT_SHORT
    code = "contract_indicator_short"


class ContractControlBlocked(ContractError):
    """A blocking control rule (控制方式) refused the signing; the check is kept."""
    message = MSG_CONTRACT_CONTROL
    code = "contract_control_blocked"


class ContractExceeded(ContractError):
    message = MSG_CONTRACT_EXCEEDED
    code = "contract_exceeded"


class ContractMismatch(ContractError):
    message = MSG_CONTRACT_MISMATCH
    code = "contract_mismatch"


class ContractOpenRequests(ContractError):
    message = MSG_CONTRACT_OPEN_REQUESTS
    code = "contract_open_requests"
