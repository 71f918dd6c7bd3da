"""Job progress: services, API and page."""
from __future__ import annotations

from finance import jobs
from finance.models import Job


class TestJobs:
    def test_lifecycle_is_visible_through_the_api(self, client, user):
        job = jobs.job_create(kind="import_projects", user=user, filename="p.json", content=b"{}")
        jobs.job_start(job_id=job.pk, total=4)
        jobs.job_progress(job_id=job.pk, done=1)
        client.force_login(user)
        body = client.get(f"/api/finance/jobs/{job.pk}/").json()
        assert (body["status"], body["done"], body["total"], body["percent"]) == ("running", 1, 4, 25)
        jobs.job_finish(job_id=job.pk, result={"created": 3}, issues=[{"line": 2, "reason": "bad"}])
        body = client.get(f"/api/finance/jobs/{job.pk}/").json()
        assert body["status"] == "done" and body["percent"] == 100
        assert body["result"] == {"created": 3} and body["issues"] == [{"line": 2, "reason": "bad"}]
        assert Job.objects.get(pk=job.pk).file.read() == b"{}"

    def test_other_users_cannot_see_a_job(self, client, user, django_user_model):
        job = jobs.job_create(kind="x", user=user)
        other = django_user_model.objects.create_user(username="other", password="pw-12345678")
        client.force_login(other)
        assert client.get(f"/api/finance/jobs/{job.pk}/").status_code == 404
        assert client.get(f"/jobs/{job.pk}/").status_code == 404

    def test_page_shows_a_progress_bar(self, client, user):
        job = jobs.job_create(kind="import_bank", user=user, filename="r.csv")
        client.force_login(user)
        html = client.get(f"/jobs/{job.pk}/").content.decode()
        assert '<progress id="bar" max="100" value="0"' in html and "r.csv" in html
