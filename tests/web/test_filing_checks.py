"""The filing page refuses a bad draft at once, with the filer's message, and saves
nothing: a tuple the indicator register does not hold, another unit's indicator, an amount
with more than 2 decimal places."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from finance import services as fin
from payments.models import PaymentRequest
from tests.helpers import YEAR, approve_lines, dims
from tests.web.conftest import U1, U2

pytestmark = pytest.mark.django_db

PAGE = f"/web/requests/new/?year={YEAR}"
# the messages a filer reads, written out by hand
NO_INDICATOR = (
    "There is no approved indicator of 2026 with unit 440300101, function 2050203, economic "
    "30205, fund source 1, project —; a request is drafted only on an approved indicator. "
    "Nothing was saved.")
THREE_PLACES = (
    "Amount 100.005 has more than 2 decimal places; amounts are in yuan to the fen and are "
    "never rounded. Nothing was saved.")
NOT_OFFERED = "is not one of the available choices."


def choice(d) -> str:  # noqa: ANN001
    """The form's value of a tuple: its key (finance.dimensions)."""
    return d.key(2026)


class TestFilingPageRefusesABadDraft:
    def test_a_ledger_balance_the_register_does_not_hold_is_refused_naming_its_codes(
            self, client, world, user):  # noqa: ANN001
        # an amount posted to the control book without budgets (as a year-end carry-forward
        # posts one today): the page lists the tuple, the draft on it is refused
        water = dims(unit=U1, economic="30205")
        fin.entry_post(lines=approve_lines(Decimal("300.00"), water), description="结转",
                       user=user, on=dt.date(YEAR, 3, 10), kind="approval")
        client.force_login(world.people.filer)
        offered = client.get(PAGE).context["form"].fields["indicator"].choices
        assert choice(water) in [value for value, _label in offered]
        before = PaymentRequest.objects.count()
        response = client.post(PAGE, {"indicator": choice(water), "payee": world.payee.pk,
                                      "amount": "100.00", "purpose": "水费"})
        assert response.status_code == 200
        assert NO_INDICATOR in response.content.decode()
        assert PaymentRequest.objects.count() == before

    def test_another_units_indicator_is_not_offered_and_a_forged_one_is_refused(
            self, client, world):  # noqa: ANN001
        client.force_login(world.people.filer)
        other = dims(unit=U2)  # U2's approved indicator of 500.00 (tests/web/conftest.py)
        offered = client.get(PAGE).context["form"].fields["indicator"].choices
        assert choice(other) not in [value for value, _label in offered]
        before = PaymentRequest.objects.count()
        response = client.post(PAGE, {"indicator": choice(other), "payee": world.payee.pk,
                                      "amount": "100.00", "purpose": "他单位"})
        assert response.status_code == 200
        assert NOT_OFFERED in response.content.decode()
        assert PaymentRequest.objects.count() == before

    @pytest.mark.parametrize("and_submit", [False, True], ids=["save", "save and submit"])
    def test_an_amount_with_three_decimal_places_is_refused_and_the_form_keeps_it(
            self, client, world, and_submit):  # noqa: ANN001
        client.force_login(world.people.filer)
        before = PaymentRequest.objects.count()
        data = {"indicator": choice(dims(unit=U1)), "payee": world.payee.pk,
                "amount": "100.005", "purpose": "三位小数"}
        if and_submit:
            data["and_submit"] = "1"
        response = client.post(PAGE, data)
        body = response.content.decode()
        assert response.status_code == 200
        assert THREE_PLACES in body
        assert 'value="100.005"' in body
        assert PaymentRequest.objects.count() == before
