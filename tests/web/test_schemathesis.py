"""schemathesis against /api/schema/: requests generated from the OpenAPI schema for every
operation, sent through the real WSGI application (every middleware, real database) with
the tokens of a few roles and anonymously. No answer may be a 5xx.

The number of examples per operation and role is small (SCHEMATHESIS_EXAMPLES, default 6)
so the whole run stays under a minute on SQLite; raise it for a deeper run:
`SCHEMATHESIS_EXAMPLES=100 .venv/bin/pytest tests/web/test_schemathesis.py`."""
from __future__ import annotations

import contextlib
import os
import time

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from rest_framework.authtoken.models import Token

from payments import services as pay

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "6"))
ROLES = ["anonymous", "filer", "reviewer", "office", "auditor"]


@contextlib.contextmanager
def connections_kept_open():
    """Like Django's test client: the WSGI handler would close the test's connection (and
    its transaction) at the end of each request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _exc(response) -> str:  # noqa: ANN001
    """The exception's name from the 500 page's log-free body, else the start of it."""
    return response.text[:120].replace("\n", " ")


def _exercise(operation, role: str, headers: dict, failures: list[str]) -> int:  # noqa: ANN001
    """EXAMPLES generated requests of one operation as one role; 5xx answers collected."""
    sent = 0

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case) -> None:  # noqa: ANN001
        nonlocal sent
        sent += 1
        response = case.call(headers=headers)
        if response.status_code >= 500:
            failures.append(f"{role} {case.method} {case.formatted_path} query={case.query} "
                            f"body={case.body!r}: {response.status_code} {_exc(response)}")

    run()
    return sent


@pytest.mark.django_db
def test_no_generated_request_gets_a_server_error(world, user):  # noqa: ANN001
    pay.fund_source_plan_control_set(fund_source="1", enabled=False, user=user,
                                     reason="the API runs on today's date")
    tokens = {role: Token.objects.get_or_create(user=getattr(world.people, role))[0].key
              for role in ROLES if role != "anonymous"}
    app = get_wsgi_application()
    failures: list[str] = []
    calls = 0
    started = time.monotonic()
    with connections_kept_open():
        schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 30
        for operation in operations:
            for role in ROLES:
                headers = {"Authorization": f"Token {tokens[role]}"} if role in tokens else {}
                calls += _exercise(operation, role, headers, failures)
    elapsed = time.monotonic() - started
    print(f"schemathesis: {len(operations)} operations, {calls} requests in {elapsed:.1f} s")
    assert calls >= len(operations) * len(ROLES)
    assert failures == [], "\n".join(failures[:30])
