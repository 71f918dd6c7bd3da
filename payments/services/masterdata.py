"""Master-data writes of payments: banks, payees (and blocking), agent accounts, the plan
control per fund source and the rule library's settings; `membership_set` is finance's
(re-exported: memberships live in finance with the roles)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from finance import roles
from finance.models import Organization
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
from payments.rules import RULES, account_problem, cnaps_valid_format


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
               user: Any, reason: str, as_of: dt.datetime | None = None,
               unit: Organization | None = None) -> Payee:
    """Create a payee or change its bank account; every change is kept in history. `unit`:
    the unit whose payee book a new payee goes into (none: shared); a payee stays in the
    book it was created in. A unit's clerk goes through `payee_unit_save`, which checks."""
    with transaction.atomic():
        if payee is not None:
            payee = Payee.objects.select_for_update().get(pk=payee.pk)
        payee = payee or Payee(unit=unit)
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


@dataclass(frozen=True)
class PayeeBank:
    """The bank branch of a CNAPS code as a payee's fields take it."""

    cnaps: str
    bank_name: str  # the bank: 中国工商银行
    branch_name: str  # the branch: 深圳南山支行 ("" when the name has no branch part)


def payee_bank(cnaps: str) -> PayeeBank:
    """The branch of a 12-digit CNAPS code (联行号) from the bank list (`Bank`, active
    ones): its name split after the bank's name (…银行) into bank and branch. Raises
    `CnapsFormat` (not 12 digits) or `CnapsUnknown` (not in the list)."""
    code = (cnaps or "").strip()
    if not cnaps_valid_format(code):
        raise errors.CnapsFormat(cnaps=code or "—")
    bank = Bank.objects.filter(cnaps=code, active=True).first()
    if bank is None:
        raise errors.CnapsUnknown(cnaps=code)
    head, sep, branch = bank.name.partition("银行")
    if not sep or not branch:
        return PayeeBank(code, bank.name, "")
    return PayeeBank(code, head + sep, branch)


def payee_unit_save(*, unit: Organization, payee: Payee | None = None, name: str,
                    account_number: str, cnaps: str, is_individual: bool = False, user: Any,
                    reason: str, as_of: dt.datetime | None = None) -> Payee:
    """A unit's filer adds a payee to the unit's book (收款人) or changes one of its own,
    with a reason (kept in the payee's history). The bank and branch names come from the
    CNAPS code (`payee_bank`); the account number must be digits of the length the
    account_format rule allows; an account is in a unit's book once. Shared payees and
    other units' payees are not changed here."""
    roles.require(roles.may_file(user, unit.code), user=user, role=roles.UNIT_FILER, unit=unit)
    if payee is not None:
        _own_payee(payee, unit)
    if not (reason or "").strip():
        raise errors.ReasonRequired()
    account = "".join((account_number or "").split())  # 6222 0202 … as printed on a card
    if why := account_problem(account):
        raise errors.AccountInvalid(account=account or "—", why=why)
    bank = payee_bank(cnaps)
    with transaction.atomic():
        clash = (Payee.objects.filter(unit=unit, account_number=account)
                 .exclude(pk=payee.pk if payee else None).first())
        if clash is not None:
            raise errors.PayeeDuplicate(account=account, payee=clash.name)
        return payee_save(payee=payee, name=name.strip(), account_number=account,
                          bank_name=bank.bank_name, branch_name=bank.branch_name,
                          cnaps=bank.cnaps, is_individual=is_individual, user=user,
                          reason=reason.strip(), as_of=as_of, unit=unit)


def _own_payee(payee: Payee, unit: Organization) -> None:
    if payee.unit_id is None:
        raise errors.PayeeShared(payee=payee.name)
    if payee.unit_id != unit.pk:
        raise errors.PayeeOtherUnit(payee=payee.name, unit=unit.code)


def payee_unit_block(*, payee: Payee, blocked: bool, reason: str, user: Any,
                     as_of: dt.datetime | None = None) -> Payee:
    """Block (停用) or unblock a payee, with a reason: a unit's filer for the payees of the
    unit's book, the treasury for any payee (shared ones only the treasury). A request to
    a blocked payee is refused at submission (rule blocked_payee); blocked payees are not
    offered on the filing form."""
    treasury = roles.has_role(user, *roles.TREASURY_ROLES)
    if not treasury:
        unit = payee.unit
        if unit is None:
            raise errors.PayeeShared(payee=payee.name)
        roles.require(roles.may_file(user, unit.code), user=user,
                      role=[roles.UNIT_FILER, *roles.TREASURY_ROLES], unit=unit)
    return payee_block(payee=payee, blocked=blocked, reason=(reason or "").strip(), user=user,
                       as_of=as_of)


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
