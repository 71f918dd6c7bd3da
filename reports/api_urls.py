"""REST API of the reports app (mounted under /api/reports/)."""
urlpatterns: list = []
