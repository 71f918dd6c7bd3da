"""控制方式 (control strength) as rule data: which rule applies to an indicator, the usage
a document would bring it to, the decision (within, warn, block), and the records of
checks and overrides. Defined once here; payments asks it when a request is submitted.

A rule's scope is a fund source, an economic-class prefix ('302', '30201') and a unit,
blank meaning any. The most specific matching rule wins: a rule naming the unit before
one that does not, then the longer economic prefix, then one naming the fund source; of
rules with the same scope the one in effect latest (effective_from ≤ the day). Nothing
matching: the default, block at 100 % — exactly the ledger's own floor.

usage = (paid + committed + this amount) / the indicator's amount, the measures
`paid`, `committed` and `available` of finance.measures read on the tuple's balances
(the indicator's amount = available + committed + paid = approved + adjusted while the
year is open). Modes:
- block (刚性控制): usage above the threshold is refused unless an authorised approver
  (roles.may_override_control) overrides it for that document and amount, with a reason;
- warn (预警控制): allowed; from the threshold on (usage ≥ threshold) it carries a warning;
- record (仅记录): allowed, the usage is only recorded.
Above 100 % nothing helps: the ledger's guarded update refuses the commitment in every
mode, override or not (an indicator is never overspent), and no override is granted."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from finance import measures, roles
from finance.dimensions import Dims
from finance.errors import LedgerError
from finance.models import (
    Balance,
    ControlCheck,
    ControlOverride,
    ControlRule,
    EconomicCode,
    FundSource,
    Organization,
    fen_to_decimal,
)
from finance.services import save_with_history

Mode = ControlRule.Mode
Outcome = ControlCheck.Outcome
DEFAULT_MODE = Mode.BLOCK
DEFAULT_THRESHOLD = Decimal("100.00")
PCT = Decimal("0.01")

MSG_BLOCKED = _("Control rule %(rule)s (block at %(threshold)s%%): with %(amount)s the "
                "indicator's usage would be %(usage)s%% (%(used)s of %(total)s already "
                "paid or committed). An authorised approver may override it with a reason.")
MSG_WARNED = _("Control rule %(rule)s (warn from %(threshold)s%%): with %(amount)s the "
               "indicator's usage is %(usage)s%% (%(used)s of %(total)s already paid or "
               "committed).")
MSG_OVERRIDDEN = _("Control rule %(rule)s (block at %(threshold)s%%) overridden by %(user)s "
                   "at usage %(usage)s%%: %(reason)s")
MSG_OVER_LIMIT = _("No override above 100%%: with %(amount)s the indicator's usage would be "
                   "%(usage)s%% (%(total)s approved, %(used)s already paid or committed). "
                   "The ledger never lets an indicator be overspent.")
MSG_NOT_BLOCKED = _("Nothing to override: control rule %(rule)s does not block %(amount)s "
                    "(usage %(usage)s%%).")
MSG_RULE_INVALID = _("Control rule not saved: %(why)s.")
MSG_REASON = _("A reason is required.")
DEFAULT_RULE_NAME = _("default (block at 100%)")


class ControlError(LedgerError):
    message = _("Control error")
    code = "control_error"


class OverrideAboveLimit(ControlError):
    message = MSG_OVER_LIMIT
    code = "control_over_limit"


class NothingToOverride(ControlError):
    message = MSG_NOT_BLOCKED
    code = "control_not_blocked"


class RuleInvalid(ControlError):
    message = MSG_RULE_INVALID
    code = "control_rule_invalid"


class ReasonRequired(ControlError):
    message = MSG_REASON
    code = "control_reason_required"


# ------------------------------------------------------------------- which rule
def specificity(rule: ControlRule) -> tuple[bool, int, bool, dt.date, int]:
    """unit > economic prefix length > fund source; then the latest in effect."""
    return (bool(rule.unit), len(rule.economic_prefix), bool(rule.fund_source),
            rule.effective_from, rule.pk or 0)


def matches(rule: ControlRule, dims: Dims) -> bool:
    return ((not rule.fund_source or rule.fund_source == dims.fund_source)
            and (not rule.unit or rule.unit == dims.unit)
            and dims.economic.startswith(rule.economic_prefix))


def pick_rule(rules: Iterable[ControlRule], dims: Dims, on: dt.date) -> ControlRule | None:
    """The rule of `rules` that applies to `dims` on day `on` (None: the default)."""
    found = [r for r in rules if r.active and r.effective_from <= on and matches(r, dims)]
    return max(found, key=specificity) if found else None


def rule_for(*, dims: Dims, on: dt.date) -> ControlRule | None:
    """The rule in force for the tuple on `on` (one query); None means the default."""
    rows = ControlRule.objects.filter(
        Q(fund_source="") | Q(fund_source=dims.fund_source),
        Q(unit="") | Q(unit=dims.unit), active=True, effective_from__lte=on)
    return pick_rule(rows, dims, on)


def rule_name(rule: ControlRule | None) -> str:
    """How a clerk reads a rule: #id fund source / economic prefix / unit ('*' = any)."""
    if rule is None:
        return str(DEFAULT_RULE_NAME)
    scope = " / ".join(v or "*" for v in (rule.fund_source, rule.economic_prefix, rule.unit))
    return f"#{rule.pk} {scope}"


# ------------------------------------------------------------------- the usage
_ACCOUNTS = {name: measures.BASE_MEASURES[name].accounts
             for name in ("available", "committed", "paid")}


def usage_fen(*, dims: Dims, year: int) -> tuple[int, int]:
    """(the indicator's amount, paid + committed) in fen, from the tuple's balances on the
    accounts of the measures available, committed and paid (one query)."""
    return usage_fen_many([dims.key(year)])[dims.key(year)]


def usage_fen_many(keys: list[str], *, lock: bool = False) -> dict[str, tuple[int, int]]:
    """`usage_fen` of many tuples (by dimension key) in one query. `lock`: the balance rows
    read are locked (FOR UPDATE, in account and key order) until the transaction ends, so
    a batch that commits on these tuples decides on figures nobody else moves meanwhile."""
    by_measure = {code: name for name, codes in _ACCOUNTS.items() for code in codes}
    qs = Balance.objects.filter(dim_key__in=keys, account__code__in=list(by_measure))
    if lock:
        qs = qs.select_for_update(of=("self",)).order_by("account_id", "dim_key")
    figures = {key: dict.fromkeys(_ACCOUNTS, 0) for key in keys}
    for key, code, side, d, c in qs.values_list("dim_key", "account__code",
                                                "account__normal_side", "debit_fen",
                                                "credit_fen"):
        figures[key][by_measure[code]] += d - c if side == "debit" else c - d
    out = {}
    for key, f in figures.items():
        used = f["committed"] + f["paid"]
        out[key] = (f["available"] + used, used)
    return out


@dataclass(frozen=True)
class Decision:
    """What the rule says about `amount_fen` more on the tuple."""

    rule: ControlRule | None
    mode: str
    threshold: Decimal
    total_fen: int  # the indicator's amount
    used_fen: int  # paid + committed, without this amount
    amount_fen: int

    @property
    def after_fen(self) -> int:
        return self.used_fen + self.amount_fen

    @property
    def usage(self) -> Decimal | None:
        """Usage in percent with this amount, 2 places (None for an indicator of zero)."""
        if self.total_fen <= 0:
            return None
        return (Decimal(self.after_fen * 100) / Decimal(self.total_fen)).quantize(
            PCT, rounding=ROUND_HALF_UP)

    def _cmp(self) -> int:
        """-1/0/1: usage below/at/above the threshold, exactly (integers, no rounding)."""
        left = self.after_fen * 10000
        right = int(self.threshold * 100) * self.total_fen
        return (left > right) - (left < right)

    @property
    def over_limit(self) -> bool:
        """Above 100 %: more than the indicator has left (the ledger refuses it)."""
        return self.after_fen > self.total_fen

    @property
    def blocked(self) -> bool:
        return self.mode == Mode.BLOCK and self._cmp() > 0

    @property
    def warned(self) -> bool:
        return self.mode == Mode.WARN and self._cmp() >= 0

    def params(self) -> dict[str, str]:
        usage = self.usage
        return {"rule": rule_name(self.rule), "threshold": f"{self.threshold:.2f}",
                "usage": "—" if usage is None else f"{usage:.2f}",
                "amount": f"{fen_to_decimal(self.amount_fen):,.2f}",
                "used": f"{fen_to_decimal(self.used_fen):,.2f}",
                "total": f"{fen_to_decimal(self.total_fen):,.2f}"}

    def message(self) -> str:
        """The warning or refusal a clerk reads ('' when there is none)."""
        if self.blocked:
            return str(MSG_BLOCKED % self.params())
        if self.warned:
            return str(MSG_WARNED % self.params())
        return ""


def _fen(amount: Decimal) -> int:
    return int((Decimal(amount) * 100).to_integral_value())


def decide(*, dims: Dims, year: int, amount: Decimal, on: dt.date) -> Decision:
    """The rule for the tuple on `on` and what it says about `amount` more."""
    total, used = usage_fen(dims=dims, year=year)
    return decision(rule_for(dims=dims, on=on), total_fen=total, used_fen=used, amount=amount)


def decision(rule: ControlRule | None, *, total_fen: int, used_fen: int,
             amount: Decimal) -> Decision:
    """What `rule` (None: the default) says about `amount` more on a tuple of this
    indicator amount and usage (`decide` reads them; a batch keeps its own)."""
    return Decision(rule=rule, mode=rule.mode if rule else DEFAULT_MODE,
                    threshold=rule.threshold_percent if rule else DEFAULT_THRESHOLD,
                    total_fen=total_fen, used_fen=used_fen, amount_fen=_fen(amount))


# ----------------------------------------------------------------- the records
def _doc(document: Any) -> dict[str, Any]:
    return {"doc_type": ContentType.objects.get_for_model(type(document)),
            "doc_id": str(document.pk)}


def override_for(document: Any, amount: Decimal) -> ControlOverride | None:
    """The latest override granted for the document at (at least) this amount."""
    return (ControlOverride.objects.filter(**_doc(document), amount__gte=amount)
            .order_by("-granted_at", "-id").first())


def overrides_of(document: Any) -> list[ControlOverride]:
    return list(ControlOverride.objects.filter(**_doc(document)).select_related("granted_by"))


def checks_of(document: Any) -> list[ControlCheck]:
    return list(ControlCheck.objects.filter(**_doc(document)).select_related("rule", "override"))


def check_record(*, document: Any, decision: Decision, as_of: dt.datetime,
                 override: ControlOverride | None = None) -> ControlCheck:
    """Record a check of `document` (in the caller's transaction) with its outcome."""
    check = check_row(document=document, decision=decision, as_of=as_of, override=override)
    check.save()
    return check


def check_row(*, document: Any, decision: Decision, as_of: dt.datetime,
              override: ControlOverride | None = None) -> ControlCheck:
    """The check `check_record` writes, not saved (a batch writes its checks at once once
    its documents have ids: set `doc_id` then)."""
    if decision.blocked:
        outcome = Outcome.OVERRIDDEN if override is not None else Outcome.BLOCKED
    elif decision.warned:
        outcome = Outcome.WARNED
    elif decision.mode == Mode.RECORD:
        outcome = Outcome.RECORDED
    else:
        outcome = Outcome.WITHIN
    return ControlCheck(
        doc_type=ContentType.objects.get_for_model(type(document)), doc_id=str(document.pk),
        rule=decision.rule, mode=decision.mode,
        threshold_percent=decision.threshold,
        indicator_amount=fen_to_decimal(decision.total_fen),
        used_amount=fen_to_decimal(decision.used_fen),
        amount=fen_to_decimal(decision.amount_fen), usage_percent=decision.usage,
        outcome=outcome, override=override if decision.blocked else None, at=as_of)


def override_grant(*, document: Any, decision: Decision, user: Any, reason: str,
                   as_of: dt.datetime | None = None) -> ControlOverride:
    """An authorised approver (roles.may_override_control) lets `document` pass a blocking
    rule at the decision's amount, with a reason; refused above 100 % and when the rule
    does not block. The caller checks who filed the document (never the same person)."""
    as_of = as_of or timezone.now()
    reason = (reason or "").strip()
    roles.require(roles.may_override_control(user), user=user, role=roles.TREASURY_DIRECTOR)
    if not reason:
        raise ReasonRequired()
    if decision.over_limit:
        raise OverrideAboveLimit(**decision.params())
    if not decision.blocked:
        raise NothingToOverride(**decision.params())
    return ControlOverride.objects.create(
        **_doc(document), rule=decision.rule, mode=decision.mode,
        threshold_percent=decision.threshold, amount=fen_to_decimal(decision.amount_fen),
        usage_percent=decision.usage, reason=reason, granted_by=user, granted_at=as_of)


# --------------------------------------------------------------- changing rules
def _rule_problem(rule: ControlRule) -> str:
    if rule.mode not in Mode.values:
        return f"mode {rule.mode!r}"
    t = Decimal(rule.threshold_percent)
    if not Decimal("0") < t <= Decimal("100") or t.as_tuple().exponent < -2:  # type: ignore[operator]
        return f"threshold {t} must be above 0 and at most 100, with 2 places"
    if rule.fund_source and not FundSource.objects.filter(code=rule.fund_source).exists():
        return f"unknown fund source {rule.fund_source}"
    if rule.economic_prefix and not EconomicCode.objects.filter(
            code__startswith=rule.economic_prefix).exists():
        return f"no economic code starts with {rule.economic_prefix}"
    if rule.unit and not Organization.objects.filter(code=rule.unit).exists():
        return f"unknown unit {rule.unit}"
    return ""


def control_rule_save(*, user: Any, reason: str, rule: ControlRule | None = None,
                      fund_source: str = "", economic_prefix: str = "", unit: str = "",
                      mode: str = Mode.BLOCK, threshold_percent: Decimal = DEFAULT_THRESHOLD,
                      effective_from: dt.date, active: bool = True) -> ControlRule:
    """Create a rule, or change `rule`, with history (user and reason). The budget office
    (预算处) sets control strength. A change applies to checks made after it; the checks
    and overrides already recorded keep the mode and threshold they were made with."""
    roles.require(roles.may_act_as_budget_office(user), user=user, role=roles.BUDGET_OFFICE)
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    with transaction.atomic():
        row = (ControlRule.objects.select_for_update().get(pk=rule.pk) if rule is not None
               else ControlRule())
        row.fund_source, row.economic_prefix, row.unit = (
            fund_source.strip(), economic_prefix.strip(), unit.strip())
        row.mode, row.threshold_percent = mode, Decimal(threshold_percent)
        row.effective_from, row.active = effective_from, active
        if why := _rule_problem(row):
            raise RuleInvalid(why=why)
        dup = ControlRule.objects.filter(
            fund_source=row.fund_source, economic_prefix=row.economic_prefix, unit=row.unit,
            effective_from=row.effective_from).exclude(pk=row.pk).first()
        if dup is not None:
            raise RuleInvalid(why=f"rule #{dup.pk} has the same scope and date")
        save_with_history(row, user=user, reason=reason)
        return row


def rules_load(rows: Iterable[dict[str, Any]], *, user: Any, reason: str) -> list[ControlRule]:
    """Load rules (fund_source, economic_prefix, unit, mode, threshold_percent as a string,
    effective_from as YYYY-MM-DD) through `control_rule_save`; a row whose scope and date
    exist already is left alone. finance/data/control_rules.json holds a city's set."""
    out = []
    for r in rows:
        key = {"fund_source": r.get("fund_source", ""),
               "economic_prefix": r.get("economic_prefix", ""), "unit": r.get("unit", ""),
               "effective_from": dt.date.fromisoformat(r["effective_from"])}
        existing = ControlRule.objects.filter(**key).first()
        if existing is not None:
            out.append(existing)
            continue
        out.append(control_rule_save(user=user, reason=reason, mode=r.get("mode", Mode.BLOCK),
                                     threshold_percent=Decimal(str(r.get("threshold_percent",
                                                                         "100.00"))),
                                     **key))
    return out
