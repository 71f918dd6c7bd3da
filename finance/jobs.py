"""Progress of long-running jobs (Celery tasks) that any app runs: create, start,
advance, finish. Progress writes go straight to the database (outside the caller's
transaction when called outside one) so a page or API can show them while the job runs."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.files.base import ContentFile
from django.utils import timezone

from finance.models import Job


def job_create(*, kind: str, user: Any, filename: str = "", content: bytes | None = None,
               as_of: datetime | None = None) -> Job:
    job = Job(kind=kind, filename=filename, created_by=user if getattr(user, "pk", None) else None,
              created_at=as_of or timezone.now())
    if content is not None:
        job.file.save(filename or f"{kind}.bin", ContentFile(content), save=False)
    job.save()
    return job


def job_start(*, job_id: int, total: int = 0) -> None:
    Job.objects.filter(pk=job_id).update(status=Job.Status.RUNNING, started_at=timezone.now(),
                                         total=total, done=0)


def job_progress(*, job_id: int, done: int, total: int | None = None) -> None:
    fields: dict[str, Any] = {"done": done}
    if total is not None:
        fields["total"] = total
    Job.objects.filter(pk=job_id).update(**fields)


def job_finish(*, job_id: int, result: dict | None = None, issues: list | None = None,
               failed: bool = False, message: str = "") -> None:
    Job.objects.filter(pk=job_id).update(
        status=Job.Status.FAILED if failed else Job.Status.DONE, finished_at=timezone.now(),
        result=result or {}, issues=issues or [], message=message,
    )
