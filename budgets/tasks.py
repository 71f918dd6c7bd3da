"""Celery tasks of the budgets app: thin wrappers that load by id and call one service."""
from __future__ import annotations

from celery import shared_task

from budgets import services
from budgets.importers.projects import parse_projects
from finance import jobs
from finance.models import Job


@shared_task(name="budgets.project_import_run")
def project_import_run(*, job_id: int) -> dict:
    """Import an uploaded investment-project feed, reporting progress on the job.
    Safe to retry: the import is an idempotent upsert."""
    job = Job.objects.get(pk=job_id)
    with job.file.open("rb") as fh:
        content = fh.read()
    records, issues = parse_projects(content, job.filename)
    jobs.job_start(job_id=job_id, total=len(records))
    try:
        report = services.projects_import(
            records=records, issues=issues, filename=job.filename, user=job.created_by,
            reason=f"investment-project feed {job.filename} (job {job_id})",
            progress=lambda done: jobs.job_progress(job_id=job_id, done=done))
    except Exception as exc:
        jobs.job_finish(job_id=job_id, failed=True, message=f"{type(exc).__name__}: {exc}")
        raise
    jobs.job_finish(job_id=job_id, result=report.as_dict(),
                    issues=[i.as_dict() for i in report.issues])
    return report.as_dict()
