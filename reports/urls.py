"""Pages of the reports app (mounted under /reports/)."""
from django.urls import path

from reports import views, views_open

app_name = "reports"
urlpatterns = [
    path("execution/", views.execution_view, name="execution"),
    path("final-accounts/", views.final_accounts_view, name="final_accounts"),
    path("disclosure/", views.disclosure_list_view, name="disclosure"),
    path("disclosure/export/", views.disclosure_export_view, name="disclosure_export"),
    path("disclosure/<str:action>/", views.disclosure_action_view, name="disclosure_action"),
    path("public/", views.public_list_view, name="public"),
    path("figure/", views.figure_view, name="figure"),
    path("public/<int:pk>/", views.public_set_view, name="public_set"),
    path("public/<int:pk>/figure/", views.public_figure_view, name="public_figure"),
    path("public/<int:pk>/citizens/", views_open.citizens_view, name="public_citizens"),
    path("public/open-data/<int:year>.zip", views_open.bulk_view, name="public_bulk"),
    path("public/<int:pk>/<str:name>", views.public_file_view, name="public_file"),
]
