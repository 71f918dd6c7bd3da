"""Domain errors of the ledger core; each carries the figures a clerk needs."""
from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext_lazy as _

# User-facing messages are module constants so tests can assert them.
MSG_INDICATOR_INSUFFICIENT = _(
    "Indicator insufficient: account %(account)s on %(dims)s has %(available)s available, "
    "%(requested)s requested."
)
MSG_UNBALANCED = _("Entry does not balance in book %(book)s: debit %(debit)s, credit %(credit)s.")
MSG_PERIOD_CLOSED = _("Period %(year)s-%(month)02d is closed; post into an open period.")
MSG_PERIOD_MISSING = _("Period %(year)s-%(month)02d does not exist; open the fiscal year first.")
MSG_BAD_AMOUNT = _("Amount %(amount)r is not allowed: use a positive Decimal with at most 2 places.")
MSG_UNKNOWN_CODE = _("Unknown %(kind)s code %(code)s.")
MSG_RETIRED_CODE = _("%(kind)s code %(code)s is retired.")
MSG_NOT_LEAF = _("%(kind)s code %(code)s is not a leaf (post to one of its sub-codes).")
MSG_WRONG_BOOK = _("Account %(code)s belongs to book %(actual)s, not %(book)s.")
MSG_NO_LINES = _("An entry needs at least two lines.")
MSG_IDEMPOTENCY = _("Idempotency key %(key)s was already used for a different entry (#%(entry)s).")
MSG_ALREADY_REVERSED = _("Entry %(entry)s has already been reversed by entry %(by)s.")
MSG_IMMUTABLE = _("Posted ledger entries and lines cannot be changed or deleted; post a reversal.")
MSG_UNKNOWN_KIND = _("Entry kind %(kind)r is not one of the chart's kinds (%(kinds)s).")
MSG_LINE_SIDES = _("Line %(seq)s must have exactly one of debit or credit.")
MSG_NOT_PERMITTED_UNIT = _("%(user)s may not do this: it needs the role %(role)s for %(unit)s.")
MSG_NOT_PERMITTED = _("%(user)s may not do this: it needs the role %(role)s.")


class LedgerError(Exception):
    """Base of domain errors: `message` is translated, `params` holds the figures."""

    message = _("Ledger error")
    code = "ledger_error"

    def __init__(self, **params: object) -> None:
        self.params = params
        super().__init__(str(self))

    def __str__(self) -> str:
        return str(self.message) % self.params if self.params else str(self.message)


class IndicatorInsufficient(LedgerError):
    message = MSG_INDICATOR_INSUFFICIENT
    code = "indicator_insufficient"

    @property
    def available(self) -> Decimal:
        return self.params["available"]  # type: ignore[return-value]


class EntryUnbalanced(LedgerError):
    message = MSG_UNBALANCED
    code = "unbalanced"


class PeriodClosed(LedgerError):
    message = MSG_PERIOD_CLOSED
    code = "period_closed"


class PeriodMissing(LedgerError):
    message = MSG_PERIOD_MISSING
    code = "period_missing"


class InvalidAmount(LedgerError):
    message = MSG_BAD_AMOUNT
    code = "invalid_amount"


class UnknownCode(LedgerError):
    message = MSG_UNKNOWN_CODE
    code = "unknown_code"


class RetiredCode(LedgerError):
    message = MSG_RETIRED_CODE
    code = "retired_code"


class CodeNotLeaf(LedgerError):
    message = MSG_NOT_LEAF
    code = "not_leaf"


class WrongBook(LedgerError):
    message = MSG_WRONG_BOOK
    code = "wrong_book"


class TooFewLines(LedgerError):
    message = MSG_NO_LINES
    code = "too_few_lines"


class BadLine(LedgerError):
    message = MSG_LINE_SIDES
    code = "bad_line"


class IdempotencyConflict(LedgerError):
    message = MSG_IDEMPOTENCY
    code = "idempotency_conflict"


class AlreadyReversed(LedgerError):
    message = MSG_ALREADY_REVERSED
    code = "already_reversed"


class LedgerImmutable(LedgerError):
    message = MSG_IMMUTABLE
    code = "immutable"


class UnknownEntryKind(LedgerError):
    message = MSG_UNKNOWN_KIND
    code = "unknown_entry_kind"


class NotPermitted(LedgerError):
    """The acting user lacks the role (or holds it for another unit) that the action
    needs (finance.roles.require). `params`: user (name), role (the role name, or the
    list of names any of which would do), labels (their translated names), unit (the
    code of the unit or department it is needed for, "" when it is not tied to one)."""

    message = MSG_NOT_PERMITTED_UNIT
    code = "not_permitted"

    def __str__(self) -> str:
        p = self.params
        text = MSG_NOT_PERMITTED_UNIT if p.get("unit") else MSG_NOT_PERMITTED
        roles = " / ".join(f"“{label}”" for label in p.get("labels", ()))
        return str(text) % {"user": p.get("user", ""), "role": roles, "unit": p.get("unit", "")}
