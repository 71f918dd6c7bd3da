"""Role, organization, scope and token look-ups are read once per request
(finance.request_cache) and never carried to the next request."""
from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from finance import request_cache, roles
from payments import services as pay
from tests.web.conftest import U1, U2
from web import scoping


def body(world) -> dict:  # noqa: ANN001
    return {"year": 2026, "region": "440300", "unit": U1, "function": "2050203",
            "economic": "30201", "fund_source": "1", "amount": "10.00",
            "payee": world.payee.pk, "purpose": "缓存测试"}


def post(client, token: str, data: dict, key: str):  # noqa: ANN001, ANN201
    return client.post("/api/payments/requests/", data=json.dumps(data),
                       content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}",
                       HTTP_IDEMPOTENCY_KEY=key)


def reads(ctx: CaptureQueriesContext, table: str) -> int:
    return sum(f'FROM "{table}"' in q["sql"] for q in ctx.captured_queries)


@pytest.mark.django_db
def test_an_api_call_reads_the_token_and_the_roles_once(client, world):  # noqa: ANN001
    """The idempotency middleware, DRF's authentication and its permissions all ask who
    the caller is and what roles they hold: one read each."""
    token = Token.objects.create(user=world.people.filer).key
    with CaptureQueriesContext(connection) as ctx:
        assert post(client, token, body(world), "k1").status_code == 201
    assert reads(ctx, "authtoken_token") == 1
    assert reads(ctx, "auth_group") == 1
    assert reads(ctx, "payments_membership") == 1


@pytest.mark.django_db
def test_roles_and_scope_taken_away_show_with_the_next_request(client, world):  # noqa: ANN001
    filer = world.people.filer
    token = Token.objects.create(user=filer).key
    assert post(client, token, body(world), "k1").status_code == 201
    client.force_login(filer)
    assert client.get("/web/payees/new/").status_code == 200
    assert client.get(f"/budgets/units/{U1}/indicators/").status_code == 200
    assert client.get(f"/budgets/units/{U2}/indicators/").status_code == 403

    filer.groups.remove(Group.objects.get(name=roles.UNIT_FILER))
    assert post(client, token, body(world), "k2").status_code == 403
    assert client.get("/web/payees/new/").status_code == 403

    filer.groups.add(Group.objects.get(name=roles.UNIT_FILER))
    pay.membership_set(member=filer, organization=world.orgs["u2"], user=world.people.reviewer)
    assert client.get(f"/budgets/units/{U1}/indicators/").status_code == 403
    assert client.get(f"/budgets/units/{U2}/indicators/").status_code == 200
    assert post(client, token, body(world) | {"unit": U2}, "k3").status_code == 201


@pytest.mark.django_db
def test_outside_a_request_nothing_is_kept(world):  # noqa: ANN001
    """Services, tasks and commands run without a request cache: each object asks anew."""
    assert not request_cache.active()
    with CaptureQueriesContext(connection) as ctx:
        assert scoping.can_see_unit(world.people.filer, U1)
        assert scoping.can_see_unit(world.people.filer, U1)
    assert len(ctx.captured_queries) == 2  # the scope twice (roles, organization: on the user)


@pytest.mark.django_db
def test_forget_drops_the_request_answers_of_that_user(world):  # noqa: ANN001
    """A service that changes roles inside a request (forget) sees the change at once."""
    users = type(world.people.filer).objects
    pk = world.people.filer.pk
    token = request_cache._CACHE.set({})  # as RequestCacheMiddleware opens it
    try:
        filer = users.get(pk=pk)
        assert roles.has_role(filer, roles.UNIT_FILER) and scoping.can_see_unit(filer, U1)
        filer.groups.remove(Group.objects.get(name=roles.UNIT_FILER))
        other = users.get(pk=pk)  # another object of the same user: the request's answer
        assert roles.has_role(other, roles.UNIT_FILER)
        roles.forget(other)
        assert not roles.has_role(other, roles.UNIT_FILER)
        assert not roles.has_role(users.get(pk=pk), roles.UNIT_FILER)
        pay.membership_set(member=other, organization=world.orgs["u2"], user=world.people.reviewer)
        assert not scoping.can_see_unit(other, U1) and scoping.can_see_unit(other, U2)
    finally:
        request_cache._CACHE.reset(token)
