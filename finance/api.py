"""REST API of the core: job progress (every app's long-running work)."""
from rest_framework import generics, serializers

from finance.models import Job


class JobSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = Job
        fields = ["id", "kind", "status", "filename", "total", "done", "percent", "result",
                  "issues", "message", "created_at", "started_at", "finished_at"]


class JobDetail(generics.RetrieveAPIView):
    """Progress and outcome of one job; users see their own jobs, staff see all."""

    serializer_class = JobSerializer

    def get_queryset(self):  # noqa: ANN201
        qs = Job.objects.all()
        user = self.request.user
        return qs if user.is_staff else qs.filter(created_by=user)
