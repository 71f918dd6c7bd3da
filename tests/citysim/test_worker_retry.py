"""citysim's worker processes run each batch in one transaction; two workers' batches that
post several entries each may deadlock, and PostgreSQL then rolls one back whole. The
worker runs such a batch again (as any client of the server would), at most three times;
any other error, or a non-transactional step, is reported at once."""
from __future__ import annotations

import psycopg
import pytest
from django.db import OperationalError

from citysim import simulate
from finance.models import Region


def deadlock() -> OperationalError:
    exc = OperationalError("deadlock detected")
    exc.__cause__ = psycopg.errors.DeadlockDetected("deadlock detected")
    return exc


class Batch:
    def __init__(self, fail: int, error=deadlock) -> None:  # noqa: ANN001
        self.fail, self.error, self.calls = fail, error, 0

    def write(self, code: str) -> None:
        self.calls += 1
        Region.objects.create(code=code, name=f"试{self.calls}", level="district")
        if self.calls <= self.fail:
            raise self.error()


@pytest.fixture
def sim(monkeypatch):  # noqa: ANN001
    monkeypatch.setattr(simulate.time, "sleep", lambda s: None)

    def use(batch: Batch) -> Batch:
        monkeypatch.setattr(simulate, "_SIM", batch)
        return batch
    return use


@pytest.mark.django_db(transaction=True)
def test_a_deadlocked_batch_is_run_again_and_its_first_try_left_nothing(sim):  # noqa: ANN001
    batch = sim(Batch(fail=2))
    assert simulate._worker_chunk(("write", (), ["449901"], True))[0] == 1
    assert batch.calls == 3
    # the two rolled-back tries wrote nothing; the third one's row is there
    assert list(Region.objects.filter(code="449901").values_list("name", flat=True)) == ["试3"]


@pytest.mark.django_db(transaction=True)
def test_three_deadlocks_and_other_errors_are_reported(sim):  # noqa: ANN001
    sim(Batch(fail=3))
    with pytest.raises(RuntimeError, match="write failed in worker .*deadlock"):
        simulate._worker_chunk(("write", (), ["449902"], True))
    batch = sim(Batch(fail=1, error=lambda: OperationalError("disk full")))
    with pytest.raises(RuntimeError, match="disk full"):
        simulate._worker_chunk(("write", (), ["449903"], True))
    assert batch.calls == 1
    assert not Region.objects.filter(code__in=["449902", "449903"]).exists()
