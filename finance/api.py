"""REST API of the core: job progress (every app's long-running work)."""
import rules
from django.http import Http404
from rest_framework import generics, serializers

from finance.models import Job


class JobSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = Job
        fields = ["id", "kind", "status", "filename", "total", "done", "percent", "result",
                  "issues", "message", "created_at", "started_at", "finished_at"]


class JobDetail(generics.RetrieveAPIView):
    """Progress and outcome of one job: its owner, staff, and the role that runs that kind
    of job (treasury: bank imports; budget office: project imports) — rule finance.view_job.
    Anyone else gets 404, as for a job that does not exist."""

    serializer_class = JobSerializer
    queryset = Job.objects.all()

    def get_object(self) -> Job:
        job = super().get_object()
        if not rules.has_perm("finance.view_job", self.request.user, job):
            raise Http404
        return job
