"""Master-data writes of payments: banks, payees (and blocking), agent accounts, the plan
control per fund source and the rule library's settings; `membership_set` is finance's
(re-exported: memberships live in finance with the roles)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from finance.services import membership_set as membership_set  # memberships are finance's
from finance.services import (
    save_with_history,
)
from payments import errors
from payments.models import (
    AgentAccount,
    Bank,
    FundSourceSetting,
    Payee,
    Rule,
)
from payments.rules import RULES


def bank_upsert(*, cnaps: str, name: str, user: Any, reason: str = "bank list",
                as_of: dt.datetime | None = None) -> Bank:
    bank = Bank.objects.filter(cnaps=cnaps).first() or Bank(cnaps=cnaps)
    if bank.pk and bank.name == name and bank.active:
        return bank
    bank.name, bank.active = name, True
    save_with_history(bank, user=user, reason=reason)
    return bank


def payee_save(*, payee: Payee | None = None, name: str, account_number: str, bank_name: str,
               branch_name: str = "", cnaps: str = "", is_individual: bool = False,
               user: Any, reason: str, as_of: dt.datetime | None = None) -> Payee:
    """Create a payee or change its bank account; every change is kept in history."""
    with transaction.atomic():
        if payee is not None:
            payee = Payee.objects.select_for_update().get(pk=payee.pk)
        payee = payee or Payee()
        new = {"name": name, "account_number": account_number, "bank_name": bank_name,
               "branch_name": branch_name, "cnaps": cnaps, "is_individual": is_individual}
        if payee.pk and all(getattr(payee, k) == v for k, v in new.items()):
            return payee
        for k, v in new.items():
            setattr(payee, k, v)
        save_with_history(payee, user=user, reason=reason)
        return payee


def payee_block(*, payee: Payee, blocked: bool, reason: str, user: Any,
                as_of: dt.datetime | None = None) -> Payee:
    if not reason:
        raise errors.ReasonRequired()
    with transaction.atomic():
        payee = Payee.objects.select_for_update().get(pk=payee.pk)
        payee.blocked, payee.blocked_reason = blocked, reason if blocked else ""
        save_with_history(payee, user=user, reason=reason)
        return payee


def agent_account_upsert(*, number: str, name: str, bank: Bank, user: Any,
                         reason: str = "agent account") -> AgentAccount:
    acct = AgentAccount.objects.filter(number=number).first() or AgentAccount(number=number)
    if acct.pk and acct.name == name and acct.bank_id == bank.pk:
        return acct
    acct.name, acct.bank = name, bank
    save_with_history(acct, user=user, reason=reason)
    return acct


def fund_source_plan_control_set(*, fund_source: str, enabled: bool, user: Any,
                                 reason: str) -> FundSourceSetting:
    s = (FundSourceSetting.objects.filter(fund_source=fund_source).first()
         or FundSourceSetting(fund_source=fund_source))
    s.plan_control = enabled
    save_with_history(s, user=user, reason=reason)
    return s


def rule_update(*, code: str, user: Any, reason: str, enabled: bool | None = None,
                action: str | None = None, params: dict[str, Any] | None = None) -> Rule:
    """Switch a rule or change its thresholds (Decimals as strings); kept in history."""
    if not reason:
        raise errors.ReasonRequired()
    default = RULES[code]
    with transaction.atomic():
        rule = (Rule.objects.select_for_update().filter(code=code).first()
                or Rule(code=code, name=default.name, action=default.action,
                        params=dict(default.params)))
        if enabled is not None:
            rule.enabled = enabled
        if action is not None:
            rule.action = action
        if params is not None:
            rule.params = {**rule.params, **params}
        save_with_history(rule, user=user, reason=reason)
        return rule
