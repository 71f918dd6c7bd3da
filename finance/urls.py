"""Finance pages: the ledger overview (trial balance per book)."""
from django.urls import path

from finance import views

app_name = "finance"
urlpatterns = [
    path("", views.home, name="home"),
    path("ledger/trial-balance/", views.trial_balance_view, name="trial_balance"),
    path("jobs/<int:pk>/", views.job_view, name="job"),
]
