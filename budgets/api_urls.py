"""REST API of the budgets app (mounted under /api/budgets/)."""
urlpatterns: list = []
