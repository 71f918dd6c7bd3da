"""finance.processes: work split over forked processes, each on its own connection."""
from __future__ import annotations

import os

import pytest
from django.db import connection, transaction

from finance.models import Region
from finance.processes import forkable, in_processes


def _pid_and_regions(n: int) -> tuple[int, int, int]:
    """In a forked process: the task, the process, and a query on its own connection."""
    return n * n, os.getpid(), Region.objects.count()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestInProcesses:
    def test_results_in_the_tasks_order_from_other_processes(self):
        Region.objects.create(code="440399", name="测试区", level="district")
        found = list(in_processes(_pid_and_regions, [3, 1, 2, 5], 2))
        assert [f[0] for f in found] == [9, 1, 4, 25]
        pids = {f[1] for f in found}
        assert os.getpid() not in pids and 1 <= len(pids) <= 2
        # each process read the committed row on its own connection
        assert {f[2] for f in found} == {Region.objects.count()}
        # the parent reconnects after the fork
        assert Region.objects.filter(code="440399").exists()

    def test_unordered_gives_every_result_once(self):
        found = sorted(r[0] for r in in_processes(_pid_and_regions, range(7), 2, ordered=False))
        assert found == [0, 1, 4, 9, 16, 25, 36]

    def test_forkable_only_outside_a_transaction_with_work_to_share(self):
        assert forkable(2, 2)
        assert not forkable(1, 5) and not forkable(4, 1)
        with transaction.atomic():
            assert not forkable(2, 2)  # a forked process would not see this transaction's rows


@pytest.mark.django_db
def test_never_on_sqlite():
    if connection.vendor == "postgresql":
        pytest.skip("SQLite's rule")
    assert not forkable(8, 8)  # one writer: the work stays in this process
