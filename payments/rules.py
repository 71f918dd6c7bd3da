"""The pre-review rule library (like 一窗通's automatic checks): one function per rule
code, each returning the reasons it found. Which rules run, their action and thresholds
are data (`Rule` rows with history); a code without a row runs with its defaults."""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from finance import chart
from finance import selectors as ledger
from payments.models import Bank, PaymentRequest, Rule

SANGONG = ("30212", "30217", "30231", "31013")  # 三公: 因公出国、公务接待、公车运行、公车购置

MSG_BLOCKED = _("Payee %(payee)s is on the blocked list: %(why)s.")
MSG_ACCOUNT = _("Account number %(account)s is malformed: %(why)s.")
MSG_DUPLICATE = _("Possible duplicate of %(other)s filed %(day)s: the same payee and amount "
                  "within %(days)s days.")
MSG_LIMIT = _("Amount %(amount)s is above the single-payment limit %(limit)s.")
MSG_CNAPS_FORMAT = _("CNAPS code %(cnaps)r of the payee's bank is malformed: it must be 12 digits.")
MSG_CNAPS_UNKNOWN = _("CNAPS code %(cnaps)s of the payee's bank is unknown.")
MSG_SPLIT = _("Possible split payment: %(count)s requests from this unit to %(payee)s within "
              "%(days)s days, each just under the approval threshold %(threshold)s.")
MSG_SANGONG = _("三公 code %(code)s: %(used)s used this year plus %(amount)s requested exceeds the "
                "annual cap %(cap)s.")


def fmt(amount: Decimal) -> str:
    return f"{amount:,.2f}"


@dataclass(frozen=True)
class RuleDef:
    name: str
    action: str
    params: dict[str, Any]
    check: Callable[[PaymentRequest, dict[str, Any], RuleData], list[str]]


# a request in these states holds its amount (plan used, duplicates, splits)
OPEN = (PaymentRequest.Status.UNIT_REVIEW, PaymentRequest.Status.TREASURY_REVIEW,
        PaymentRequest.Status.DIRECTOR_REVIEW, PaymentRequest.Status.APPROVED,
        PaymentRequest.Status.VOUCHERED, PaymentRequest.Status.PAID)


class RuleData:
    """What the rules read besides the request itself: open requests filed in a window,
    the bank register, the 三公 figures of the ledger, the rule rows. This one reads the
    database as it is; a batch filing (payments.services.filing) reads through one that
    also sees the batch's earlier requests and commitments, so every request of a batch
    is checked as if filed alone, one after the other."""

    def rows(self) -> dict[str, Rule]:
        return {r.code: r for r in Rule.objects.all()}

    def latest_duplicate(self, req: PaymentRequest, days: int) -> PaymentRequest | None:
        """The latest open request (by filing time, then id) to the same payee for the
        same amount filed at most `days` before this one (its tracking id and filing time
        are what the rule reads)."""
        return _window(req, days).filter(payee_id=req.payee_id, amount=req.amount).first()

    def split_count(self, req: PaymentRequest, days: int, low: Decimal, high: Decimal) -> int:
        """Open requests of the unit to the same payee with `low` <= amount < `high` filed
        at most `days` before this one."""
        return _window(req, days).filter(unit=req.unit, payee_id=req.payee_id,
                                         amount__gte=low, amount__lt=high).count()

    def bank_known(self, cnaps: str) -> bool:
        return Bank.objects.filter(cnaps=cnaps, active=True).exists()

    def sangong_used(self, *, year: int, unit: str, economic: str) -> Decimal:
        """Committed + expended on the 三公 code in the unit's year."""
        return sum((ledger.balance(account=acc, year=year, unit=unit, economic=economic)
                    for acc in (chart.COMMITTED, chart.EXPENDED)), Decimal("0.00"))


STORED = RuleData()


def _blocked(req: PaymentRequest, p: dict[str, Any], data: RuleData) -> list[str]:
    payee = req.payee
    if payee.blocked:
        return [str(MSG_BLOCKED % {"payee": payee.name, "why": payee.blocked_reason or "-"})]
    return []


def account_problem(acct: str, p: dict[str, Any] | None = None) -> str:
    """What is wrong with an account number ("" if nothing): digits only, `min_length` to
    `max_length` (8–32 unless the account_format rule's params say otherwise)."""
    if p is None:
        row = Rule.objects.filter(code="account_format").first()
        p = {**RULES["account_format"].params, **(row.params if row else {})}
    lo, hi = int(p.get("min_length", 8)), int(p.get("max_length", 32))
    if not re.fullmatch(r"\d+", acct):
        return str(_("only digits are allowed"))
    if not lo <= len(acct) <= hi:
        return str(_("%(count)s digits, expected %(low)s to %(high)s")
                   % {"count": len(acct), "low": lo, "high": hi})
    return ""


def _account(req: PaymentRequest, p: dict[str, Any], data: RuleData) -> list[str]:
    acct = req.payee.account_number
    why = account_problem(acct, p)
    return [str(MSG_ACCOUNT % {"account": acct, "why": why})] if why else []


def _window(req: PaymentRequest, days: int) -> Any:
    since = req.filed_at - dt.timedelta(days=days)
    return (PaymentRequest.objects.filter(status__in=OPEN, filed_at__gte=since)
            .exclude(pk=req.pk))


def _duplicate(req: PaymentRequest, p: dict[str, Any], data: RuleData) -> list[str]:
    days = int(p.get("days", 7))
    other = data.latest_duplicate(req, days)
    if other is None:
        return []
    return [str(MSG_DUPLICATE % {"other": other.tracking_id, "days": days,
                                 "day": other.filed_at.date().isoformat()})]


def _limit(req: PaymentRequest, p: dict[str, Any], data: RuleData) -> list[str]:
    limit = Decimal(p.get("limit", "1000000.00"))
    if req.amount > limit:
        return [str(MSG_LIMIT % {"amount": fmt(req.amount), "limit": fmt(limit)})]
    return []


def cnaps_valid_format(code: str) -> bool:
    """12 digits: 3 bank + 4 location + 4 branch + 1 check digit. The check digit's
    algorithm is not public; membership in the Bank table decides whether it is known."""
    return bool(re.fullmatch(r"\d{12}", code))


def _cnaps(req: PaymentRequest, p: dict[str, Any], data: RuleData) -> list[str]:
    code = req.payee.cnaps
    if not cnaps_valid_format(code):
        return [str(MSG_CNAPS_FORMAT % {"cnaps": code})]
    if not data.bank_known(code):
        return [str(MSG_CNAPS_UNKNOWN % {"cnaps": code})]
    return []


def _split(req: PaymentRequest, p: dict[str, Any], data: RuleData) -> list[str]:
    threshold = Decimal(p.get("threshold", "100000.00"))
    band = Decimal(p.get("band", "0.10"))
    days, min_count = int(p.get("days", 30)), int(p.get("min_count", 2))
    low = threshold * (1 - band)
    if not low <= req.amount < threshold:
        return []
    others = data.split_count(req, days, low, threshold)
    if others + 1 < min_count:
        return []
    return [str(MSG_SPLIT % {"count": others + 1, "payee": req.payee.name, "days": days,
                             "threshold": fmt(threshold)})]


def _sangong(req: PaymentRequest, p: dict[str, Any], data: RuleData) -> list[str]:
    caps: dict[str, str] = p.get("caps", {})
    if req.economic not in caps:
        return []
    cap = Decimal(caps[req.economic])
    used = data.sangong_used(year=req.year, unit=req.unit, economic=req.economic)
    if used + req.amount > cap:
        return [str(MSG_SANGONG % {"code": req.economic, "used": fmt(used),
                                   "amount": fmt(req.amount), "cap": fmt(cap)})]
    return []


RULES: dict[str, RuleDef] = {
    "blocked_payee": RuleDef("payee on the blocked list", "refuse", {}, _blocked),
    "account_format": RuleDef("account number malformed", "refuse",
                              {"min_length": 8, "max_length": 32}, _account),
    "duplicate": RuleDef("same payee and amount within days", "flag", {"days": 7}, _duplicate),
    "single_limit": RuleDef("above the single-payment limit", "flag",
                            {"limit": "1000000.00"}, _limit),
    "cnaps": RuleDef("payee bank CNAPS code unknown or malformed", "refuse", {}, _cnaps),
    "splitting": RuleDef("split just under the approval threshold", "flag",
                         {"threshold": "100000.00", "band": "0.10", "days": 30, "min_count": 2},
                         _split),
    "sangong_cap": RuleDef("三公 economic codes over their annual cap", "refuse",
                           {"caps": {"30212": "200000.00", "30217": "50000.00",
                                     "30231": "100000.00", "31013": "300000.00"}}, _sangong),
}


@dataclass(frozen=True)
class Hit:
    rule_code: str
    action: str
    reason: str


def rules_run(req: PaymentRequest, data: RuleData = STORED) -> list[Hit]:
    """Every enabled rule against one request; rows override the defaults. `data`: what
    the rules read (the database as it is, or a batch's view of it)."""
    rows = data.rows()
    hits: list[Hit] = []
    for code, rule in RULES.items():
        row = rows.get(code)
        if row is not None and not row.enabled:
            continue
        params = {**rule.params, **(row.params if row else {})}
        action = row.action if row else rule.action
        hits += [Hit(code, action, reason) for reason in rule.check(req, params, data)]
    return hits


def sangong_used(*, year: int, unit: str) -> dict[str, Decimal]:
    """Committed + expended per 三公 code for a unit (for pages)."""
    return {code: STORED.sangong_used(year=year, unit=unit, economic=code) for code in SANGONG}


def plans_used(plan_ids: list[int]) -> dict[int, Decimal]:
    """`plan_used` of many plans in one query (plans without an open request are left out)."""
    rows = (PaymentRequest.objects.filter(plan_id__in=plan_ids, status__in=OPEN)
            .values("plan_id").annotate(s=Sum("amount")).order_by())
    return {r["plan_id"]: Decimal(r["s"] or 0).quantize(Decimal("0.01")) for r in rows}


def plan_used(plan_id: int) -> Decimal:
    agg = PaymentRequest.objects.filter(plan_id=plan_id, status__in=OPEN).aggregate(s=Sum("amount"))
    return Decimal(agg["s"] or 0).quantize(Decimal("0.01"))  # SQLite sums in floating point
