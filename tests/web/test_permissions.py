"""The permission matrix: every screen and main API endpoint × every role, with the
expected answer, and no response of one unit carrying another unit's data."""
from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

ROLES = ["anonymous", "filer", "head", "other_filer", "dept", "reviewer", "office", "auditor"]
LOGIN = 302  # anonymous page visits are sent to the sign-in page
A, D, N = 200, 403, 404

# url template → expected status per role (same order as ROLES)
PAGES = {
    "/web/":                                   [LOGIN, A, A, A, A, A, A, A],
    "/web/requests/new/":                      [LOGIN, A, D, A, D, D, D, D],
    "/web/requests/{r1}/":                     [LOGIN, A, A, N, A, A, A, A],
    "/web/requests/{r2}/":                     [LOGIN, N, N, A, A, A, A, A],
    "/budgets/units/440300101/indicators/":    [LOGIN, A, A, D, A, A, A, A],
    "/budgets/units/440300102/indicators/":    [LOGIN, D, D, A, A, A, A, A],
    "/payments/trace/{r1}/":                   [LOGIN, A, A, D, A, A, A, A],
    "/payments/exceptions/":                   [LOGIN, D, D, D, D, A, D, A],
    "/audit/":                                 [LOGIN, D, D, D, D, D, D, A],
    "/audit/alerts/":                          [LOGIN, D, D, D, D, D, D, A],
    "/ledger/trial-balance/":                  [LOGIN, D, D, D, D, A, A, A],
    "/reports/execution/?year=2026":           [LOGIN, D, D, D, D, A, A, A],
    "/reports/disclosure/":                    [LOGIN, D, D, D, D, A, A, A],
    "/reports/public/":                        [A, A, A, A, A, A, A, A],
    "/accounts/login/":                        [A, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN],
}
API = {
    "/api/payments/requests/":                              [401, A, A, A, A, A, A, A],
    "/api/budgets/units/440300101/indicators/?year=2026":  [401, A, A, D, A, A, A, A],
    "/api/payments/exceptions/":                            [401, None, None, None, None, A, None, None],
}
UNIT_ROLES = {"filer": "u1", "head": "u1", "other_filer": "u2"}


def _foreign(world, role: str) -> list[str]:  # noqa: ANN001
    """Texts of the other unit that a unit role must never receive."""
    if role not in UNIT_ROLES:
        return []
    other = world.orgs["u2" if UNIT_ROLES[role] == "u1" else "u1"]
    req = world.r2 if UNIT_ROLES[role] == "u1" else world.r1
    return [other.code, other.name, req.tracking_id, req.purpose]


def _check(world, role: str, table: dict, get) -> list[str]:  # noqa: ANN001
    """Every URL of the table for one role: the mismatches, as readable lines."""
    wrong = []
    for template, answers in table.items():
        expected = answers[ROLES.index(role)]
        if expected is None:
            continue
        url = template.format(r1=world.r1.tracking_id, r2=world.r2.tracking_id)
        response = get(url)
        if response.status_code != expected:
            wrong.append(f"{role} {url}: {response.status_code}, expected {expected}")
        if expected == LOGIN and role == "anonymous" and not response[
                "Location"].startswith("/accounts/login/"):
            wrong.append(f"{role} {url}: redirected to {response['Location']}")
        body = response.content.decode()
        for text in _foreign(world, role):
            if text not in url and text in body:  # an address typed is echoed, not data
                wrong.append(f"{role} {url}: shows {text!r} of another unit")
    return wrong


@pytest.mark.django_db
class TestPermissionMatrix:
    @pytest.mark.parametrize("role", ROLES)
    def test_every_page_answers_each_role_as_expected_with_nothing_of_another_unit(
            self, client, world, role):  # noqa: ANN001
        if role != "anonymous":
            client.force_login(getattr(world.people, role))
        assert _check(world, role, PAGES, client.get) == []

    @pytest.mark.parametrize("role", ROLES)
    def test_every_api_endpoint_answers_each_token_as_expected_within_its_scope(
            self, world, role):  # noqa: ANN001
        client = APIClient()
        if role != "anonymous":
            token, _ = Token.objects.get_or_create(user=getattr(world.people, role))
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        assert _check(world, role, API, client.get) == []


@pytest.mark.django_db
class TestUnassignedAccounts:
    def test_an_account_without_role_or_unit_is_refused_when_pages_are_strict(
            self, client, world, settings, django_user_model):  # noqa: ANN001
        nobody = django_user_model.objects.create_user(username="nobody", password="x")
        client.force_login(nobody)
        assert client.get("/audit/").status_code == 200  # the apps' earlier behaviour
        settings.WEB_STRICT_PAGES = True
        assert client.get("/audit/").status_code == 403
        assert client.get("/web/requests/new/").status_code == 403
        assert client.get(f"/web/requests/{world.r1.tracking_id}/").status_code == 404
