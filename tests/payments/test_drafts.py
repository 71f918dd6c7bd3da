"""A draft is refused at once, before anything is written, when its dimension tuple is not
an approved indicator of the filer's unit in budgets' indicator register, or when its
amount has more than 2 decimal places (never rounded): through the service (also save and
submit) and through the API. The filer no longer learns at submission that "0.00 is
available"."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from budgets import services as budgets
from finance import selectors
from finance.models import WorkflowStep
from payments import errors, services
from payments.models import PaymentRequest
from tests.helpers import ON, YEAR, dims, indicator_approve
from tests.payments.conftest import AS_OF

U2 = "440300102"
# the messages a filer reads, written out by hand
NO_INDICATOR = (
    "There is no approved indicator of 2026 with unit 440300101, function 2050203, economic "
    "30205, fund source 1, project —; a request is drafted only on an approved indicator. "
    "Nothing was saved.")
OTHER_UNIT = (
    "The indicator with unit 440300102, function 2050203, economic 30201, fund source 1, "
    "project — belongs to another unit; requests of unit 440300101 are drafted only on its "
    "own indicators. Nothing was saved.")
THREE_PLACES = (
    "Amount 100.005 has more than 2 decimal places; amounts are in yuan to the fen and are "
    "never rounded. Nothing was saved.")
NO_INDICATOR_ZH = (
    "2026 年没有已批复的指标：单位 440300101，功能分类 2050203，经济分类 30205，资金性质 1，"
    "项目 —；支付申请只能在已批复的指标上填报。未保存。")
OTHER_UNIT_ZH = (
    "指标（单位 440300102，功能分类 2050203，经济分类 30201，资金性质 1，项目 —）属于其他单位；"
    "单位 440300101 的支付申请只能在本单位的指标上填报。未保存。")
THREE_PLACES_ZH = "金额 100.005 超过两位小数；金额以元为单位、精确到分，不做舍入。未保存。"

WATER = {"economic": "30205"}  # 水费: a tuple the unit has no indicator on


def draft(ready, amount: str = "100.00", *, submit: bool = False, **dim_kw: str):  # noqa: ANN001, ANN201
    return services.payment_request_create(
        dims=dims(**dim_kw), year=YEAR, amount=Decimal(amount), payee=ready.payee,
        purpose="办公费", user=ready.people.filer, as_of=AS_OF, submit=submit)


def nothing_written() -> bool:
    """No request, no history row of one, no workflow step of one, nothing committed."""
    return (not PaymentRequest.objects.exists()
            and not PaymentRequest.history.exists()
            and not WorkflowStep.objects.filter(doc_type__model="paymentrequest").exists()
            and selectors.balance(account="9201", year=YEAR) == Decimal("0.00"))


class TestPaymentRequestDraft:
    def test_refuses_a_tuple_with_no_indicator_naming_its_codes(self, ready):
        with pytest.raises(errors.NoIndicator) as exc:
            draft(ready, **WATER)
        assert str(exc.value) == NO_INDICATOR
        assert nothing_written()

    def test_refuses_an_indicator_of_another_unit_naming_it(self, ready):
        indicator_approve(Decimal("500.00"), dims(unit=U2))
        with pytest.raises(errors.IndicatorOtherUnit) as exc:
            draft(ready, unit=U2)
        assert str(exc.value) == OTHER_UNIT
        assert nothing_written()

    def test_refuses_an_indicator_whose_increase_is_filed_but_not_yet_approved(self, ready):
        # the register holds approved indicators only: a tuple waiting for its 调增 is
        # not one yet; once the budget office approves it, the draft goes through
        increase = indicator_approve(Decimal("300.00"), dims(**WATER), approved=False)
        with pytest.raises(errors.NoIndicator) as exc:
            draft(ready, **WATER)
        assert str(exc.value) == NO_INDICATOR
        assert nothing_written()
        budgets.adjustment_approve(
            adjustment=increase, user=get_user_model().objects.get(username="budget-office-2"),
            on=ON)
        assert draft(ready, **WATER).status == "draft"

    def test_refuses_an_amount_with_three_decimal_places_rather_than_rounding_it(self, ready):
        with pytest.raises(errors.AmountPlaces) as exc:
            draft(ready, "100.005")
        assert str(exc.value) == THREE_PLACES
        assert nothing_written()

    def test_takes_an_amount_with_fewer_places_as_it_is(self, ready):
        assert draft(ready, "100.5").amount == Decimal("100.50")
        assert draft(ready, "7").amount == Decimal("7.00")

    def test_save_and_submit_is_refused_the_same_way_before_anything_is_written(self, ready):
        with pytest.raises(errors.NoIndicator) as exc:
            draft(ready, submit=True, **WATER)
        assert str(exc.value) == NO_INDICATOR
        with pytest.raises(errors.AmountPlaces):
            draft(ready, "100.005", submit=True)
        assert nothing_written()

    def test_drafts_on_an_approved_indicator_of_the_unit(self, ready):
        req = draft(ready, "120.50")
        assert (req.status, req.amount, req.unit) == ("draft", Decimal("120.50"), "440300101")


class TestDraftThroughTheApi:
    URL = "/api/payments/requests/"

    @pytest.fixture(autouse=True)
    def english_client(self, client):  # noqa: ANN001
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"

    def post(self, client, ready, amount: str = "100.00", **kw):  # noqa: ANN001, ANN201
        submit = kw.pop("submit", False)
        d = dims(**kw)
        client.force_login(ready.people.filer)
        return client.post(self.URL, {
            "year": YEAR, "region": d.region, "unit": d.unit, "function": d.function,
            "economic": d.economic, "fund_source": d.fund_source, "project": d.project,
            "amount": amount, "payee": ready.payee.pk, "purpose": "办公费", "submit": submit},
            content_type="application/json")

    def test_a_tuple_with_no_indicator_is_a_400_naming_its_codes(self, ready, client):
        resp = self.post(client, ready, **WATER)
        assert (resp.status_code, resp.json()) == (
            400, {"code": "no_indicator", "detail": NO_INDICATOR})
        resp = self.post(client, ready, submit=True, **WATER)
        assert (resp.status_code, resp.json()["code"]) == (400, "no_indicator")
        assert nothing_written()

    def test_an_indicator_of_another_unit_is_a_403_naming_it(self, ready, client):
        indicator_approve(Decimal("500.00"), dims(unit=U2))
        resp = self.post(client, ready, unit=U2)
        assert (resp.status_code, resp.json()) == (
            403, {"code": "indicator_other_unit", "detail": OTHER_UNIT})
        assert nothing_written()

    def test_an_amount_with_three_decimal_places_is_a_400_naming_it(self, ready, client):
        resp = self.post(client, ready, "100.005")
        assert (resp.status_code, resp.json()) == (
            400, {"code": "amount_places", "detail": THREE_PLACES})
        assert nothing_written()

    def test_a_good_draft_is_filed_with_its_amount_as_written(self, ready, client):
        resp = self.post(client, ready, "120.50")
        assert resp.status_code == 201, resp.content
        assert resp.json()["amount"] == "120.50"
        assert PaymentRequest.objects.get().amount == Decimal("120.50")


class TestMessages:
    def test_filers_read_the_draft_refusals_in_chinese(self):
        from django.utils import translation

        codes = {"unit": "440300101", "function": "2050203", "economic": "30205",
                 "fund_source": "1", "project": "—"}
        with translation.override("zh-hans"):
            assert str(errors.NoIndicator(year=2026, **codes)) == NO_INDICATOR_ZH
            assert str(errors.IndicatorOtherUnit(
                own="440300101", **{**codes, "unit": U2, "economic": "30201"})) == OTHER_UNIT_ZH
            assert str(errors.AmountPlaces(amount=Decimal("100.005"))) == THREE_PLACES_ZH
