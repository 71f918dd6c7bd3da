"""Posting shapes used across tests (the entries of DOMAIN.md's control book)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from finance.ledger import Dims, cr, dr

YEAR = 2026
ON = dt.date(2026, 3, 10)


def dims(unit: str = "440300101", function: str = "2050203", economic: str = "30201",
         fund: str = "1", project: str = "") -> Dims:
    return Dims(region="440300", unit=unit, function=function, economic=economic,
                fund_source=fund, project=project)


def approve_lines(amount: Decimal, d: Dims | None = None) -> list:
    """批复 in the control book: Dr available / Cr authority."""
    d = d or dims()
    return [dr("indicator", "9101", amount, d), cr("indicator", "9001", amount, d)]


def indicator_approve(amount: Decimal, d: Dims | None = None, *, on: dt.date = ON,  # noqa: ANN201
                      approved: bool = True):
    """An approved indicator of `amount` on `d`, made as the budget office makes one for a
    tuple without a plan line: an increase (调增) filed by one officer (user
    budget-office-1) and approved by another (budget-office-2) through budgets' services.
    The control book gets Dr 9101 / Cr 9001 (as `approve_lines`) and budgets' indicator
    register its row, so payment requests can be drafted on it. Returns the adjustment
    (`approved=False`: only filed, nothing posted or registered yet)."""
    from django.contrib.auth import get_user_model

    from budgets import services as budgets
    from finance import roles

    d = d or dims()
    filer, approver = (grant(get_user_model().objects.get_or_create(username=name)[0],
                             roles.BUDGET_OFFICE)
                       for name in ("budget-office-1", "budget-office-2"))
    adjustment = budgets.adjustment_file(
        kind="increase", year=on.year, amount=amount, batch_no=f"{on.year}-T",
        doc_no=f"深财预〔{on.year}〕1号", date=on, reason="批复 (test set-up)", target=d,
        user=filer)
    if not approved:
        return adjustment
    return budgets.adjustment_approve(adjustment=adjustment, user=approver, on=on)


def commit_lines(amount: Decimal, d: Dims | None = None) -> list:
    """A payment request commits: Dr committed / Cr available."""
    d = d or dims()
    return [dr("indicator", "9201", amount, d), cr("indicator", "9101", amount, d)]


def pay_lines(amount: Decimal, d: Dims | None = None) -> list:
    """A treasury payment: control book, budget accounting (cash) and financial (accrual)."""
    d = d or dims()
    return [
        dr("indicator", "9301", amount, d), cr("indicator", "9201", amount, d),
        dr("budget", "7101", amount, d), cr("budget", "6001", amount, d),
        dr("financial", "5001", amount, d), cr("financial", "4001", amount, d),
    ]



def grant(user, *roles: str, organization=None, by=None):  # noqa: ANN001, ANN201
    """Give `user` the `roles` (finance.roles names) and, with `organization`, a
    membership, through finance's services as an administrator would (`by`: who records
    the membership). Returns the user."""
    from finance import services

    for role in roles:
        services.role_grant(member=user, role=role)
    if organization is not None:
        services.membership_set(member=user, organization=organization, user=by)
    return user


def person(username: str, *roles: str, organization=None, by=None):  # noqa: ANN001, ANN201
    """A new user with `roles` working for `organization` (see `grant`)."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username=username, password="x-Secret-123")
    return grant(user, *roles, organization=organization, by=by)


def sealed_under_the_key_now_set() -> None:
    """For a test whose installation has always had the ledger key it sets: the seals the
    test database's set-up made with the development key (tests/conftest.py
    django_db_setup) are made again with the key now configured."""
    from audit import seals
    from audit.models import HistorySeal

    HistorySeal.objects.all().delete()
    seals.history_seal(grace=dt.timedelta(0))
