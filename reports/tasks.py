"""Celery tasks of the reports app (thin wrappers with job progress)."""
from __future__ import annotations

import io
import shutil
import tempfile
import zipfile
from pathlib import Path

from celery import shared_task
from django.core.files.base import ContentFile

from finance import jobs
from finance.models import Job


@shared_task
def disclosure_export_task(*, job_id: int, year: int) -> None:
    """Export every department's disclosure files into a zip attached to the job."""
    from reports import services

    job = Job.objects.get(pk=job_id)
    jobs.job_start(job_id=job_id)
    tmp = Path(tempfile.mkdtemp(prefix="disclosure-"))
    try:
        result = services.disclosure_export(
            year=year, out=tmp, user=job.created_by,
            progress=lambda i, n: jobs.job_progress(job_id=job_id, done=i, total=n))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(tmp.rglob("*")):
                if path.is_file():
                    zf.write(path, path.relative_to(tmp).as_posix())
        job.file.save(f"disclosure_{year}.zip", ContentFile(buf.getvalue()), save=False)
        Job.objects.filter(pk=job_id).update(file=job.file.name)  # keep progress fields
        jobs.job_finish(job_id=job_id, result={"departments": result["departments"],
                                               "files": result["files"]},
                        issues=result["failures"], failed=bool(result["failures"]))
    except Exception as exc:
        jobs.job_finish(job_id=job_id, failed=True, message=str(exc))
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
