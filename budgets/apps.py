"""App config."""
from django.apps import AppConfig


class BudgetsConfig(AppConfig):
    name = "budgets"

    def ready(self) -> None:
        from finance.dimensions import register_project_categories

        register_project_categories(_project_categories)


def _project_categories(categories):  # noqa: ANN001, ANN202 - see register_project_categories
    from budgets.models import Project

    if categories is None:
        return Project.objects.values_list("code", "category")
    return Project.objects.filter(category__in=list(categories)).values("code")
