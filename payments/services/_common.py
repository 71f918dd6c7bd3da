"""What the payments services share: the role names (Django groups), the request states,
the role and unit caches on the user object, the amount in capitals and a tuple's
query arguments."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import cn2an
from django.conf import settings
from django.contrib.auth import get_user_model

from finance.ledger import (
    Dims,
)
from payments.models import (
    Membership,
    PaymentRequest,
)

# Roles are Django groups.
FILER, UNIT_HEAD, REVIEWER, DIRECTOR = ("unit_filer", "unit_head", "treasury_reviewer",
                                        "treasury_director")
S = PaymentRequest.Status

CENT = Decimal("0.01")


def director_threshold() -> Decimal:
    """Above this amount the treasury director approves as a third level."""
    return Decimal(str(getattr(settings, "PAYMENTS_DIRECTOR_THRESHOLD", "100000.00")))


def amount_in_capitals(amount: Decimal) -> str:
    """人民币大写, e.g. 壹佰贰拾陆万伍仟柒佰捌拾元伍角; whole amounts end in 整."""
    text = cn2an.an2cn(f"{amount:.2f}", "rmb")
    return text if text.endswith(("整", "角", "分")) else text + "整"


def _in_group(user: Any, role: str) -> bool:
    """Whether the user holds the role. The user's group names are read once and cached
    on the user object (as Django's ModelBackend caches permissions): a web request loads
    its user afresh, so a role change takes effect with the next request."""
    if not user:
        return False
    names = getattr(user, "_payments_groups", None)
    if names is None:
        names = frozenset(user.groups.values_list("name", flat=True))
        user._payments_groups = names
    return role in names


def _unit_of(user: Any) -> str:
    """The code of the user's organization ("" without a membership), cached on the user
    object like `_in_group`; `membership_set` refreshes it for the member it changes."""
    code = getattr(user, "_payments_unit", None)
    if code is None:
        m = Membership.objects.filter(user=user).select_related("organization").first()
        code = m.organization.code if m else ""
        user._payments_unit = code
    return code


def users_prefetch(users: list[Any]) -> None:
    """Fill the role and unit caches of `_in_group` and `_unit_of` for many users in two
    queries (a batch job that acts for thousands of users, e.g. citysim)."""
    users = [u for u in users if u and u.pk is not None]
    if not users:
        return
    ids = [u.pk for u in users]
    groups: dict[int, set[str]] = defaultdict(set)
    for uid, name in get_user_model().groups.through.objects.filter(
            user_id__in=ids).values_list("user_id", "group__name"):
        groups[uid].add(name)
    units = dict(Membership.objects.filter(user_id__in=ids)
                 .values_list("user_id", "organization__code"))
    for u in users:
        u._payments_groups = frozenset(groups.get(u.pk, ()))
        u._payments_unit = units.get(u.pk, "")



def _dim_kwargs(d: Dims) -> dict[str, str]:
    return {"region": d.region, "unit": d.unit, "function": d.function, "economic": d.economic,
            "fund_source": d.fund_source, "project": d.project}
