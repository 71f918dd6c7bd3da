"""A real Celery worker (Redis broker, the test database) SIGKILLed half-way through a
bank-statement import and through a disclosure export; a new worker gets the message
again (acks_late: the killed worker never acknowledged it; Redis gives it back after the
visibility timeout) and finishes the job: each statement line once, none missing, the
report whole, the ledger verified; the disclosure zip complete or absent, published once."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import random
import zipfile
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from finance import jobs
from finance.ids import make_uscc
from finance.ledger import entry_post
from finance.models import Job
from payments.models import BankFile, ReconException, StatementLine
from tests.helpers import approve_lines
from tests.payments.statement_files import Booked, camt053
from tests.reliability.workers import Workers, ensure_redis, wait_for
from tests.reports.conftest import city, dims  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ACCOUNT = "44030100040012345"
LINES = 20_000


@pytest.fixture
def workers(transactional_db, media_root, tmp_path):  # noqa: ANN001, ARG001
    ensure_redis()
    w = Workers(media_root=media_root, log_dir=tmp_path, queues="imports,reports")
    yield w
    w.stop_all()


def job_now(pk: int) -> Job:
    return Job.objects.get(pk=pk)


def verify_ledger_ok() -> str:
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    return out.getvalue()


def statement(n: int) -> bytes:
    rng = random.Random(9)
    rows = [Booked(bank_ref=f"R9{i:010d}", amount=Decimal(rng.randint(1, 10**8)) / 100,
                   credit=False, end_to_end_id=f"ZX{i:010d}", payee_name=f"收款人{i % 97}",
                   payee_account=f"6222{rng.randint(10**14, 10**15 - 1)}", info="办公费")
            for i in range(n)]
    return camt053(ACCOUNT, dt.date(2026, 10, 15), rows, newline="\n")


class TestBankImportKilled:
    def test_a_worker_killed_half_way_through_a_statement_is_finished_by_the_next(
            self, workers):
        content = statement(LINES)
        job = jobs.job_create(kind="bank_import", user=None, filename="big.xml", content=content)
        first = workers.start()
        workers.send("payments.tasks.bank_file_import_task", "imports", job_id=job.pk)
        wait_for(lambda: job_now(job.pk).done >= LINES // 2, 120, "the import to be half done")
        workers.kill(first)

        killed = job_now(job.pk)
        stored_before = StatementLine.objects.filter(account=ACCOUNT).count()
        assert killed.status == Job.Status.RUNNING
        assert 0 < stored_before < LINES, "the kill must land in the middle of the import"
        file_id = killed.result["bank_file_id"]

        workers.start()  # the message comes back to it: no one re-enqueues by hand
        done = wait_for(lambda: (j := job_now(job.pk)).status in (Job.Status.DONE,
                                                                  Job.Status.FAILED) and j,
                        180, "the redelivered import to finish", every=0.2)
        assert done.status == Job.Status.DONE, done.message
        refs = list(StatementLine.objects.filter(account=ACCOUNT)
                    .values_list("bank_ref", flat=True))
        assert len(refs) == LINES  # none twice
        assert set(refs) == {f"R9{i:010d}" for i in range(LINES)}  # none missing
        assert set(StatementLine.objects.values_list("file_id", flat=True)) == {file_id}
        assert BankFile.objects.count() == 1
        # the report covers the whole file, not only the second attempt's part
        assert (done.result["stored"], done.result["skipped"]) == (LINES, 0)
        assert done.result["exceptions"] == LINES == ReconException.objects.count()
        assert done.done == LINES
        bank_file = BankFile.objects.get()
        assert (bank_file.stored, bank_file.skipped) == (LINES, 0)
        assert "ledger OK" in verify_ledger_ok()

        # delivered once more (a duplicate message): nothing changes
        workers.send("payments.tasks.bank_file_import_task", "imports", job_id=job.pk)
        workers.send("payments.tasks.bank_file_import_task", "imports", job_id=10**9)
        log = workers.log_dir / "worker2.log"
        wait_for(lambda: log.read_text().count("succeeded") + log.read_text().count(
            "DoesNotExist") >= 3, 60, "the duplicate to be handled", every=0.2)
        assert StatementLine.objects.count() == LINES
        assert job_now(job.pk).result == done.result


@pytest.fixture
def big_city(city, user):  # noqa: ANN001, F811
    """The reports test city plus 14 more departments, each with a unit and an approval,
    so the export runs long enough to be killed in the middle."""
    from finance import services

    for k in range(14):
        dept, unit = f"4403005{k:02d}", f"4403006{k:02d}"
        services.organization_upsert(code=dept, name=f"深圳市第{k + 1}局", kind="department",
                                     region_code="440300", uscc=make_uscc("440300", 500 + k),
                                     parent_code="440300001", user=user, reason="set-up")
        services.organization_upsert(code=unit, name=f"深圳市第{k + 1}中心",
                                     kind="budget_unit", region_code="440300",
                                     uscc=make_uscc("440300", 600 + k), parent_code=dept,
                                     user=user, reason="set-up")
        entry_post(lines=approve_lines(Decimal(10000 + k), dims(unit, "2050203", "30201")),
                   description=f"批复 {unit}", user=user, on=dt.date(2026, 1, 20),
                   kind="approval")
    return user


def published(media_root) -> list:  # noqa: ANN001
    return sorted(p for p in (media_root / "jobs" / "disclosure").rglob("*") if p.is_file()) \
        if (media_root / "jobs" / "disclosure").exists() else []


class TestDisclosureExportKilled:
    def test_a_worker_killed_mid_export_publishes_nothing_then_the_whole_set_once(
            self, workers, big_city, media_root):
        job = jobs.job_create(kind="disclosure_export", user=big_city)
        first = workers.start()
        workers.send("reports.tasks.disclosure_export_task", "reports", job_id=job.pk,
                     year=2026)
        wait_for(lambda: (j := job_now(job.pk)).total and 2 <= j.done < j.total, 180,
                 "the export to be part done")
        workers.kill(first)
        killed = job_now(job.pk)
        assert killed.status == Job.Status.RUNNING and 0 < killed.done < killed.total
        assert published(media_root) == []  # nothing half-published
        assert (media_root / "jobs" / "work" / str(job.pk)).exists()  # it was mid-way

        workers.start()
        done = wait_for(lambda: (j := job_now(job.pk)).status in (Job.Status.DONE,
                                                                  Job.Status.FAILED) and j,
                        240, "the redelivered export to finish", every=0.2)
        assert done.status == Job.Status.DONE, (done.message, done.issues)
        files = published(media_root)
        assert [p.relative_to(media_root).as_posix() for p in files] == [done.file.name]
        assert not (media_root / "jobs" / "work" / str(job.pk)).exists()
        with zipfile.ZipFile(io.BytesIO(files[0].read_bytes())) as zf:
            names = set(zf.namelist())
            manifests = sorted(n for n in names if n.endswith("manifest.json"))
            depts = {n.split("/")[0] for n in manifests}
            assert len(depts) == done.result["departments"] == 17
            assert len(manifests) == 2 * len(depts)  # budget and final of each
            listed = {n for n in manifests}
            for m in manifests:
                folder = m.rsplit("/", 1)[0]
                for entry in json.loads(zf.read(m))["files"]:
                    body = zf.read(f"{folder}/{entry['name']}")
                    assert hashlib.sha256(body).hexdigest() == entry["sha256"]
                    listed.add(f"{folder}/{entry['name']}")
            assert listed == names  # complete: every file listed, nothing extra
            assert len(names) == done.result["files"]
        stamp = files[0].stat().st_mtime_ns

        # the same message again: published once, the zip untouched
        workers.send("reports.tasks.disclosure_export_task", "reports", job_id=job.pk,
                     year=2026)
        log = workers.log_dir / "worker2.log"
        wait_for(lambda: log.read_text().count("succeeded") >= 2, 60,
                 "the duplicate to be handled", every=0.2)
        assert published(media_root) == files and files[0].stat().st_mtime_ns == stamp
