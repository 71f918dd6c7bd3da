"""Celery tasks of payments: thin wrappers that load by id and call one service."""
from __future__ import annotations

from celery import shared_task
from django.contrib.auth import get_user_model

from finance.jobs import job_finish, job_progress, job_start
from finance.models import Job
from payments import services


@shared_task
def bank_file_import_task(*, job_id: int, user_id: int | None = None,
                          profile: str | None = None) -> dict:
    """Import the bank file stored on the job; progress and issues go to the job. A table
    is read by the bank profile `profile` (its code) when given, else by every active one.

    Idempotent and resumable: delivered again after success it does nothing; delivered
    again after a worker died mid-import (acks_late) it resumes into the same BankFile —
    whose id the first attempt noted on the job with its first committed line — so each
    line is stored once and the report counts the whole file."""
    job = Job.objects.get(pk=job_id)
    if job.status == Job.Status.DONE:  # retried after success: nothing to do
        return job.result
    resume = (job.result or {}).get("bank_file_id") if job.status == Job.Status.RUNNING else None
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    job.file.open("rb")
    try:
        content = job.file.read()
    finally:
        job.file.close()
    job_start(job_id=job_id, total=0)
    try:
        report = services.bank_file_import(
            content=content, filename=job.filename, user=user,
            progress=lambda n: job_progress(job_id=job_id, done=n),
            resume_file_id=resume, profile=profile or None,
            on_file=lambda pk: Job.objects.filter(pk=job_id).update(
                result={"bank_file_id": pk}))
    except Exception as exc:
        job_finish(job_id=job_id, failed=True, message=f"{type(exc).__name__}: {exc}")
        raise
    result = report.as_dict()
    issues = result.pop("issues")
    job_finish(job_id=job_id, result=result, issues=issues,
               failed=not report.format or (report.stored == 0 and report.skipped == 0
                                            and bool(issues)))
    return result
