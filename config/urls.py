"""URL map: each app mounts its pages under /<app>/ and its API under /api/<app>/."""
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # the split view serves its initialiser as a script file: no inline script under the CSP
    path("api/docs/", SpectacularSwaggerSplitView.as_view(
        url_name="api-schema", template_name="web/swagger_ui.html"), name="api-docs"),
    path("api/finance/", include("finance.api_urls")),
    path("api/budgets/", include("budgets.api_urls")),
    path("api/payments/", include("payments.api_urls")),
    path("api/audit/", include("audit.api_urls")),
    path("api/reports/", include("reports.api_urls")),
    path("budgets/", include("budgets.urls")),
    path("payments/", include("payments.urls")),
    path("audit/", include("audit.urls")),
    path("reports/", include("reports.urls")),
    path("", include("web.urls")),
    path("", include("finance.urls")),
]

# Users never see Django's debug pages: the site's own (web/templates/403.html, 404.html,
# 500.html). Under DEBUG=1 Django still shows its technical 404 and 500 pages; `make demo`
# runs with DEBUG=0.
handler403 = "web.views_errors.forbidden"
handler404 = "web.views_errors.not_found"
handler500 = "web.views_errors.server_error"
