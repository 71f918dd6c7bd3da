"""REST API of the core (mounted under /api/finance/)."""
from django.urls import path

from finance import api

urlpatterns = [
    path("jobs/<int:pk>/", api.JobDetail.as_view(), name="api-job"),
]
