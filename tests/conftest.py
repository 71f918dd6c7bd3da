"""Shared fixtures: master data loaded through the real importer, a fiscal year opened
through the real service, organizations created through the real service."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from finance import services
from finance.ids import make_uscc
from finance.importers.codes import codes_import
from tests.helpers import ON, YEAR, approve_lines

CODES_DIR = Path(__file__).resolve().parent.parent / "finance" / "data" / "codes"
SAMPLES = Path(__file__).resolve().parent / "samples"  # copies of shared/samples


def pytest_collection_modifyitems(config, items):  # noqa: ANN001, ARG001
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (DATABASE_URL=postgres://…); CI runs it")
    for item in items:
        if "postgres" in item.keywords and connection.vendor != "postgresql":
            item.add_marker(skip_pg)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):  # noqa: ANN001, ANN201
    """The test database as migrations leave it, with the history rows they wrote (the
    shipped bank profiles, payments migration 0006) sealed, as the periodic seal does in
    production within a minute. Left unsealed, verification reports them once they are
    ten minutes old: a whole-ledger check late in a slow run failed on them."""
    from audit import seals

    with django_db_blocker.unblock():
        seals.history_seal(grace=dt.timedelta(0))
    return django_db_setup


@pytest.fixture(autouse=True)
def english():
    """Tests assert the English texts; TestMessages checks the Chinese ones."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Argon2 is the production hasher; tests create many users, so hash cheaply."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def celery_join_allowed():
    """Eager Celery marks "inside a task" in one process-wide flag that each call saves
    and restores; threads of the concurrency tests posting at once can leave it set,
    and a later test's `.delay().get()` would then refuse. Each test starts clear."""
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploaded and generated files go to a per-test folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def user(django_user_model):  # noqa: ANN001
    return django_user_model.objects.create_user(username="clerk", password="x-Secret-123")


@pytest.fixture
def codes(db):  # noqa: ANN001, ARG001
    report = codes_import(directory=CODES_DIR, reason="test set-up")
    assert report.issues == []
    return report


@pytest.fixture
def fiscal_year(codes, user):  # noqa: ANN001, ARG001
    return services.fiscal_year_open(year=YEAR, user=user)


@pytest.fixture
def orgs(codes, user):  # noqa: ANN001, ARG001
    """A bureau, one department and two budget units in the city."""
    mk = services.organization_upsert
    bureau = mk(code="440300001", name="深圳市财政局", kind="bureau", region_code="440300",
                uscc=make_uscc("440300", 1), user=user, reason="set-up")
    dept = mk(code="440300100", name="深圳市教育局", kind="department", region_code="440300",
              uscc=make_uscc("440300", 100), parent_code=bureau.code, user=user, reason="set-up")
    u1 = mk(code="440300101", name="深圳市第一中学", kind="budget_unit", region_code="440300",
            uscc=make_uscc("440300", 101), parent_code=dept.code, user=user, reason="set-up")
    u2 = mk(code="440300102", name="深圳市第二中学", kind="budget_unit", region_code="440300",
            uscc=make_uscc("440300", 102), parent_code=dept.code, user=user, reason="set-up")
    return {"bureau": bureau, "dept": dept, "u1": u1, "u2": u2}


@pytest.fixture
def ledger(fiscal_year, orgs, user):  # noqa: ANN001, ARG001
    """An approved indicator of 1,000.00 on the default tuple."""
    services.entry_post(lines=approve_lines(Decimal("1000.00")), description="批复", user=user,
                        on=ON, kind="approval")
    return user
