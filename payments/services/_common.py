"""What the payments services share: the role names and the user's roles and unit (from
finance.roles, the one place that decides who may act), the request states, the amount
in capitals and a tuple's query arguments."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import cn2an
from django.conf import settings
from django.db.models import Lookup
from django.db.models.lookups import In

from finance import roles
from finance.ledger import (
    Dims,
)
from payments.models import (
    PaymentRequest,
)

# The role names are finance's (finance.roles); payments' callers keep these names.
FILER, UNIT_HEAD = roles.UNIT_FILER, roles.UNIT_HEAD
REVIEWER, DIRECTOR = roles.TREASURY_REVIEWER, roles.TREASURY_DIRECTOR
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
    """Whether the user holds the role (finance.roles; cached on the user object)."""
    return roles.has_role(user, role)


def _unit_of(user: Any) -> str:
    """The code of the user's organization, "" without a membership (finance.roles)."""
    return roles.unit_of(user)


# Fills the caches of `_in_group` and `_unit_of` (finance.roles') for many users.
users_prefetch = roles.users_prefetch


def _dim_kwargs(d: Dims) -> dict[str, str]:
    return {"region": d.region, "unit": d.unit, "function": d.function, "economic": d.economic,
            "fund_source": d.fund_source, "project": d.project}


class AnyOf(Lookup):
    """`filter(AnyOf(F("field"), values))`: `field IN (…)`, sent on PostgreSQL as
    `field = ANY(%s)` with the values as one array parameter — a 5,000-value IN list
    costs the client more to build, bind and send than the database to answer (the
    statement import asks for 20,000 bank references or exception keys at a time)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        if connection.vendor != "postgresql":
            return In(self.lhs, list(self.rhs)).as_sql(compiler, connection)
        lhs, params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [field.get_db_prep_value(v, connection, prepared=False) for v in self.rhs]
        return f"{lhs} = ANY(%s)", [*params, values]
