"""The read-replica router: report and public-portal reads go to 'replica' only when one
is configured and only inside a replica context; writes always go to 'default'."""
from __future__ import annotations

import pytest
from django.test import RequestFactory

from config.routers import ReplicaReadsMiddleware, ReplicaRouter, replica_reads, wants_replica
from finance.models import Line


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
class TestReplicaRouter:
    def test_reads_go_to_the_replica_inside_a_replica_context(self, settings):  # noqa: ANN001
        settings.DATABASES = {**settings.DATABASES, "replica": settings.DATABASES["default"]}
        router = ReplicaRouter()
        assert router.db_for_read(Line) == "default"
        with replica_reads():
            assert router.db_for_read(Line) == "replica"
            assert router.db_for_write(Line) == "default"
        assert router.db_for_read(Line) == "default"

    def test_without_a_replica_everything_reads_from_default(self):
        with replica_reads():
            assert ReplicaRouter().db_for_read(Line) == "default"

    def test_migrations_run_on_default_only(self):
        assert ReplicaRouter().allow_migrate("default", "finance")
        assert not ReplicaRouter().allow_migrate("replica", "finance")

    def test_report_and_public_pages_use_the_replica_but_their_forms_do_not(self):
        assert wants_replica("GET", "/reports/execution/")
        assert wants_replica("GET", "/reports/public/3/")
        assert wants_replica("GET", "/api/reports/execution/")
        assert not wants_replica("POST", "/reports/disclosure/")
        assert not wants_replica("GET", "/payments/exceptions/")
        assert not wants_replica("GET", "/api/reports/disclosure-sets/")

    def test_the_middleware_sets_the_context_for_the_request_only(self, settings):  # noqa: ANN001
        settings.DATABASES = {**settings.DATABASES, "replica": settings.DATABASES["default"]}
        seen = []
        mw = ReplicaReadsMiddleware(lambda request: seen.append(ReplicaRouter().db_for_read(Line)))
        mw(RequestFactory().get("/reports/public/"))
        mw(RequestFactory().post("/reports/public/"))
        assert seen == ["replica", "default"]
        assert ReplicaRouter().db_for_read(Line) == "default"
