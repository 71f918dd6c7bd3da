"""Celery tasks of the reports app (thin wrappers with job progress)."""
from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

from celery import shared_task
from django.conf import settings

from finance import jobs
from finance.models import Job


def disclosure_zip_name(*, job_id: int, year: int) -> str:
    """Where a job's disclosure zip is published (a storage name, one per job)."""
    return f"jobs/disclosure/{job_id}/disclosure_{year}.zip"


@shared_task
def disclosure_export_task(*, job_id: int, year: int) -> None:
    """Export every department's disclosure files into a zip attached to the job.

    Killed at any point and delivered again (acks_late), it leaves no half-published set:
    the work folder of an earlier attempt is cleared, the zip is written beside its final
    name and renamed into place in one step (complete or absent), and a job already done
    is not exported again (published once)."""
    from reports import services

    job = Job.objects.get(pk=job_id)
    if job.status == Job.Status.DONE:  # delivered again after success: nothing to do
        return
    name = disclosure_zip_name(job_id=job_id, year=year)
    final = Path(settings.MEDIA_ROOT) / name
    work = Path(settings.MEDIA_ROOT) / "jobs" / "work" / str(job_id)
    shutil.rmtree(work, ignore_errors=True)  # what a killed attempt left
    work.mkdir(parents=True)
    jobs.job_start(job_id=job_id)
    try:
        result = services.disclosure_export(
            year=year, out=work / "files", user=job.created_by,
            progress=lambda i, n: jobs.job_progress(job_id=job_id, done=i, total=n))
        partial = work / "disclosure.zip.part"
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted((work / "files").rglob("*")):
                if path.is_file():
                    zf.write(path, path.relative_to(work / "files").as_posix())
        with open(partial, "rb") as fh:
            os.fsync(fh.fileno())
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(partial, final)  # atomic on one file system: the set appears whole
        Job.objects.filter(pk=job_id).update(file=name)  # keep progress fields
        shutil.rmtree(work, ignore_errors=True)  # gone before the job shows done
        jobs.job_finish(job_id=job_id, result={"departments": result["departments"],
                                               "files": result["files"]},
                        issues=result["failures"], failed=bool(result["failures"]))
    except Exception as exc:
        jobs.job_finish(job_id=job_id, failed=True, message=str(exc))
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
