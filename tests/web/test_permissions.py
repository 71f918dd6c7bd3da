"""The permission matrix: every URL pattern of the project × every role, with the expected
answer, and no response of one unit carrying another unit's data.

How the matrix is kept complete (the registry): `TestEveryUrlHasARow` walks every URL
pattern of the project (django.urls.get_resolver, recursively; admin, i18n and static
excluded) and fails for a pattern that no matrix row reaches. A matrix module is any
tests/web/test_*.py that defines ROLES; each of its module-level dicts whose keys are URL
templates ("/web/x/{id}/", placeholders filled with 1 for resolving) or (url, data) tuples
is a table of rows, and a module may add `MATRIX = {url_name: "why it is covered"}` for a
pattern tested otherwise. So a helper adding pages adds rows to its own matrix module (as
test_budget_screens_matrix.py and test_treasury_screens.py do) and nothing here.

Here: the core pages and every API endpoint. POST-only endpoints are asked with GET: DRF
checks permissions before the method, so a permitted role gets 405 and a refused one 403
(401 anonymous) without anything being changed."""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

ROLES = ["anonymous", "filer", "head", "other_filer", "dept", "reviewer", "office", "auditor"]
LOGIN = 302  # anonymous page visits are sent to the sign-in page
A, D, N, M, BAD = 200, 403, 404, 405, 400  # M: permitted, but the endpoint takes POST only
ANY = [A] * len(ROLES)
CITY = [LOGIN, D, D, D, D, A, A, A]
AUDITOR = [LOGIN, D, D, D, D, D, D, A]

# url template → expected status per role (same order as ROLES)
PAGES = {
    "/":                                       ANY,
    "/web/":                                   [LOGIN, A, A, A, A, A, A, A],
    "/web/requests/new/":                      [LOGIN, A, D, A, D, D, D, D],
    "/web/requests/{r1}/":                     [LOGIN, A, A, N, A, A, A, A],
    "/web/requests/{r2}/":                     [LOGIN, N, N, A, A, A, A, A],
    "/web/requests/{r1}/submit/":              [LOGIN, M, M, M, M, M, M, M],
    "/web/requests/decide/":                   [LOGIN, M, M, M, M, M, M, M],
    "/budgets/units/440300101/indicators/":    [LOGIN, A, A, D, A, A, A, A],
    "/budgets/units/440300102/indicators/":    [LOGIN, D, D, A, A, A, A, A],
    "/payments/trace/{r1}/":                   [LOGIN, A, A, D, A, A, A, A],
    "/payments/exceptions/":                   [LOGIN, D, D, D, D, A, D, A],
    "/audit/":                                 AUDITOR,
    "/audit/trace/?measure=paid&year=2026":    AUDITOR,
    "/audit/entries/{entry}/":                 AUDITOR,
    "/audit/history/finance.organization/{org_u1}/": AUDITOR,
    "/audit/alerts/":                          AUDITOR,
    "/ledger/trial-balance/":                  CITY,
    "/jobs/{job}/":                            [LOGIN, A, N, N, N, A, N, A],
    "/reports/execution/?year=2026":           CITY,
    "/reports/final-accounts/?year=2026":      CITY,
    "/reports/disclosure/":                    CITY,
    "/reports/disclosure/export/":             [LOGIN, D, D, D, D, M, M, M],
    "/reports/disclosure/approve/":            [LOGIN, D, D, D, D, M, M, M],
    "/reports/public/":                        ANY,
    "/reports/public/999999/":                 [N] * 8,
    "/reports/public/999999/manifest.json":    [N] * 8,
    "/reports/figure/?ref=tr:v1:measure=paid;year=2026": CITY,
    "/reports/public/999999/figure/?ref=tr:v1:measure=paid;year=2026": [N] * 8,
    "/accounts/login/":                        [A, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN],
    "/accounts/logout/":                       [M] * 8,
}
U = 401  # the API answers anonymous callers 401 (token authentication)
API_CITY = [U, D, D, D, D, A, A, A]
API_AUDITOR = [U, D, D, D, D, D, D, A]
API_TREASURY_POST = [U, D, D, D, D, M, D, D]
API_CITY_POST = [U, D, D, D, D, M, M, M]
API_ANY_POST = [U, M, M, M, M, M, M, M]
API = {
    "/api/schema/":                                         ANY,
    "/api/docs/":                                           ANY,
    "/api/finance/jobs/{job}/":                             [U, A, N, N, N, A, N, A],
    "/api/budgets/project-imports/":                        [U, D, D, D, D, D, M, D],
    "/api/budgets/plans/{plan1}/transitions/":              [U, M, M, D, M, M, M, M],
    "/api/budgets/plans/{plan2}/transitions/":              [U, D, D, M, M, M, M, M],
    "/api/budgets/plans/{plan1}/template/":                 [U, A, A, D, A, A, A, A],
    "/api/budgets/units/440300101/indicators/?year=2026":  [U, A, A, D, A, A, A, A],
    "/api/budgets/units/440300102/indicators/?year=2026":  [U, D, D, A, A, A, A, A],
    "/api/budgets/indicators/history/?year=2026&region=440300&unit=440300101&function=2050203"
    "&economic=30201&fund_source=1":                       [U, A, A, D, A, A, A, A],
    "/api/payments/requests/":                              [U, A, A, A, A, A, A, A],
    "/api/payments/requests/?unit=440300102":               [U, A, A, A, A, A, A, A],
    "/api/payments/requests/file-many/":                    [U, M, D, M, D, D, D, D],
    "/api/payments/requests/{r1_pk}/submit/":               API_ANY_POST,
    "/api/payments/requests/{r1_pk}/approve/":              API_ANY_POST,
    "/api/payments/requests/{r1_pk}/reject/":               API_ANY_POST,
    "/api/payments/batches/":                               API_TREASURY_POST,
    "/api/payments/batches/999999/csv/":                    [U, D, D, D, D, N, D, N],
    "/api/payments/batches/999999/pain001/":                [U, D, D, D, D, N, D, N],
    "/api/payments/bank-files/":                            API_TREASURY_POST,
    "/api/payments/exceptions/":                            [U, D, D, D, D, A, D, A],
    "/api/payments/exceptions/999999/resolve/":             API_TREASURY_POST,
    "/api/audit/trace/?measure=paid&year=2026&unit=440300101": API_AUDITOR,
    "/api/audit/entries/{entry}/":                          API_AUDITOR,
    "/api/audit/history/finance.organization/{org_u1}/":    API_AUDITOR,
    "/api/audit/history/finance.organization/{org_u1}/changes/": API_AUDITOR,
    "/api/audit/alerts/":                                   API_AUDITOR,
    "/api/audit/alerts/export/":                            API_AUDITOR,
    "/api/audit/alerts/999999/explain/":                    API_ANY_POST,
    "/api/reports/execution/?year=2026":                    API_CITY,
    "/api/reports/trace/?ref=nonsense":                     [U, D, D, D, D, BAD, BAD, BAD],
    "/api/reports/close/month/":                            API_CITY_POST,
    "/api/reports/close/year/":                             API_CITY_POST,
    "/api/reports/close/year/reopen/":                      API_CITY_POST,
    "/api/reports/disclosure-sets/":                        API_CITY,
    "/api/reports/disclosure-sets/999999/approve/":         API_CITY_POST,
    "/api/reports/disclosure-sets/999999/publish/":         API_CITY_POST,
    "/api/reports/disclosure-sets/999999/confidentiality/": API_CITY_POST,
    "/api/reports/disclosure-sets/999999/sign/":            API_CITY_POST,
    "/api/reports/public-sets/":                            [A] * 8,
}
UNIT_ROLES = {"filer": "u1", "head": "u1", "other_filer": "u2"}


def _foreign(world, role: str) -> list[str]:  # noqa: ANN001
    """Texts of the other unit that a unit role must never receive."""
    if role not in UNIT_ROLES:
        return []
    other = world.orgs["u2" if UNIT_ROLES[role] == "u1" else "u1"]
    req = world.r2 if UNIT_ROLES[role] == "u1" else world.r1
    return [other.code, other.name, req.tracking_id, req.purpose]


@pytest.fixture
def matrix_world(world):  # noqa: ANN001
    """The web world plus the objects the URLs name: the filer's bank-import job, a budget
    plan of each unit, a ledger entry; every id is a placeholder of the URL templates."""
    from budgets import services as budget_services
    from finance.jobs import job_create
    from finance.models import Entry

    job = job_create(kind="payments.import_bank", user=world.people.filer, filename="b.csv",
                     content=b"x")
    plan1 = budget_services.plan_create(unit_code="440300101", year=2027,
                                        user=world.people.filer)
    plan2 = budget_services.plan_create(unit_code="440300102", year=2027,
                                        user=world.people.other_filer)
    world.ids = {"r1": world.r1.tracking_id, "r2": world.r2.tracking_id, "r1_pk": world.r1.pk,
                 "job": job.pk, "plan1": plan1.pk, "plan2": plan2.pk,
                 "entry": Entry.objects.order_by("id").first().pk,
                 "org_u1": world.orgs["u1"].pk}
    return world


def _text(response) -> str:  # noqa: ANN001
    """The body as text: UTF-8, or GB18030 for the banks' CSV files."""
    try:
        return response.content.decode()
    except UnicodeDecodeError:
        return response.content.decode("gb18030", errors="replace")


def _check(world, role: str, table: dict, get) -> list[str]:  # noqa: ANN001
    """Every URL of the table for one role: the mismatches, as readable lines."""
    wrong = []
    for template, answers in table.items():
        expected = answers[ROLES.index(role)]
        if expected is None:
            continue
        url = template.format(**world.ids)
        response = get(url)
        if response.status_code != expected:
            wrong.append(f"{role} {url}: {response.status_code}, expected {expected}")
        if expected == LOGIN and role == "anonymous" and not response[
                "Location"].startswith("/accounts/login/"):
            wrong.append(f"{role} {url}: redirected to {response['Location']}")
        body = _text(response)
        for text in _foreign(world, role):
            if text not in url and text in body:  # an address typed is echoed, not data
                wrong.append(f"{role} {url}: shows {text!r} of another unit")
    return wrong


@pytest.mark.django_db
class TestPermissionMatrix:
    @pytest.mark.parametrize("role", ROLES)
    def test_every_page_answers_each_role_as_expected_with_nothing_of_another_unit(
            self, client, matrix_world, role):  # noqa: ANN001
        world = matrix_world
        if role != "anonymous":
            client.force_login(getattr(world.people, role))
        assert _check(world, role, PAGES, client.get) == []

    @pytest.mark.parametrize("role", ROLES)
    def test_every_api_endpoint_answers_each_token_as_expected_within_its_scope(
            self, matrix_world, role):  # noqa: ANN001
        world = matrix_world
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


# ------------------------------------------------------------ the matrix cannot go stale
EXCLUDED = ("admin/", "i18n/", "static/", "media/", "__debug__/")


def url_patterns(resolver=None, prefix: str = "", namespace: str = ""):  # noqa: ANN001, ANN201
    """(route, url_name) of every pattern, walking included URLconfs recursively."""
    for p in (resolver or get_resolver()).url_patterns:
        if isinstance(p, URLResolver):
            ns = ":".join(x for x in (namespace, p.namespace or "") if x)
            yield from url_patterns(p, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            name = ":".join(x for x in (namespace, p.name or "") if x) if p.name else ""
            yield prefix + str(p.pattern), name or prefix + str(p.pattern)


def matrix_modules() -> list:
    """The registry: tests/web/test_*.py modules that define ROLES (see the docstring)."""
    found = []
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        if "ROLES" not in path.read_text(encoding="utf-8"):
            continue
        module = importlib.import_module(f"tests.web.{path.stem}")
        if hasattr(module, "ROLES"):
            found.append(module)
    return found


def covered_names(module) -> set[str]:  # noqa: ANN001
    """URL names reached by the rows of one matrix module."""
    names = set(getattr(module, "MATRIX", {}))
    for value in vars(module).values():
        if not isinstance(value, dict):
            continue
        for key in value:
            url = key[0] if isinstance(key, tuple) and key else key
            if not (isinstance(url, str) and url.startswith("/")):
                continue
            path = re.sub(r"\{[^}]*\}", "1", url).split("?")[0]
            try:
                match = resolve(path)
            except Resolver404:
                continue
            names.add(match.view_name)
    return names


def missing_rows() -> list[str]:
    covered = set().union(*(covered_names(m) for m in matrix_modules()))
    return sorted(f"{name}  ({route})" for route, name in url_patterns()
                  if not route.startswith(EXCLUDED) and name not in covered)


class TestEveryUrlHasARow:
    def test_every_url_pattern_of_the_project_has_an_expected_answer_in_a_matrix(self):
        missing = missing_rows()
        assert missing == [], ("URL patterns without a row in any permission matrix "
                               "(tests/web/test_permissions.py explains where to add one):\n"
                               + "\n".join(missing))

    def test_the_walk_finds_pages_and_api_endpoints_of_every_app(self):
        names = {name for _, name in url_patterns()}
        assert {"api-payment-requests", "api-audit-alerts", "api-job", "reports:public",
                "web:home", "finance:job", "budgets-plan-transition"} <= names
        assert len(names) >= 60

    def test_a_new_pattern_without_a_row_is_reported(self, settings):  # noqa: ANN001
        import sys
        import types

        from django.http import HttpResponse
        from django.urls import include, path

        urls = types.ModuleType("tests.web._unlisted_urls")
        urls.urlpatterns = [path("web/unlisted/", lambda request: HttpResponse("x"),
                                 name="unlisted"), path("", include("config.urls"))]
        sys.modules[urls.__name__] = urls
        try:
            settings.ROOT_URLCONF = urls.__name__
            assert missing_rows() == ["unlisted  (web/unlisted/)"]
        finally:
            del sys.modules[urls.__name__]


@pytest.mark.django_db
class TestApiScopes:
    @staticmethod
    def _tracking_ids(world, role: str) -> set[str]:  # noqa: ANN001
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=getattr(world.people, role))
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return {r["tracking_id"] for r in client.get("/api/payments/requests/").json()["results"]}

    def test_requests_are_listed_for_the_unit_the_department_and_the_city(self, world):  # noqa: ANN001
        r1, r2 = world.r1.tracking_id, world.r2.tracking_id
        assert self._tracking_ids(world, "filer") == {r1}
        assert self._tracking_ids(world, "other_filer") == {r2}
        assert self._tracking_ids(world, "dept") == {r1, r2}  # its two units
        assert self._tracking_ids(world, "reviewer") == {r1, r2}
        assert self._tracking_ids(world, "auditor") == {r1, r2}

    def test_a_district_bureau_sees_the_requests_of_its_region_only(
            self, world, user, django_user_model):  # noqa: ANN001
        from finance import services as fin
        from finance.ids import make_uscc
        from finance.models import Region
        from payments import services as pay

        Region.objects.get_or_create(code="440305", defaults={
            "name": "南山区", "level": "district", "parent": Region.objects.get(code="440300")})
        district = fin.organization_upsert(code="440305001", name="南山区财政局", kind="bureau",
                                           region_code="440305", uscc=make_uscc("440305", 1),
                                           user=user, reason="set-up")
        clerk = django_user_model.objects.create_user(username="district", password="x")
        pay.membership_set(member=clerk, organization=district, user=user)
        fin.organization_upsert(code="440305101", name="南山区某小学", kind="budget_unit",
                                region_code="440305", uscc=make_uscc("440305", 101),
                                parent_code=district.code, user=user, reason="set-up")
        world.people.district = clerk
        assert self._tracking_ids(world, "district") == set()  # both units are city units
        client = APIClient()
        client.force_login(clerk)
        url = "/api/budgets/units/{}/indicators/?year=2026"
        assert client.get(url.format("440305101")).status_code == 200
        assert client.get(url.format("440300101")).status_code == 403

    def test_the_public_sets_api_lists_published_sets_only(self, client, world, user):  # noqa: ANN001
        import datetime as dt

        from django.utils import timezone

        from reports.models import DisclosureSet

        for kind, status in (("budget", "published"), ("final", "draft")):
            now = timezone.now()
            done = {"approved_by": user, "approved_at": now, "published_by": user,
                    "published_at": now, "manifest_sha256": "0" * 64} if status == "published" else {}
            DisclosureSet.objects.create(department=world.orgs["dept"], year=2026, kind=kind,
                                         approved_on=dt.date(2026, 3, 1), status=status,
                                         created_by=user, created_at=now, **done)
        body = APIClient().get("/api/reports/public-sets/?year=2026").json()
        assert [(s["kind"], s["status"]) for s in body] == [("budget", "published")]
        assert APIClient().get("/api/reports/public-sets/?year=2025").json() == []
