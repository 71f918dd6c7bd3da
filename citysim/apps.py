from django.apps import AppConfig


class CitysimConfig(AppConfig):
    """The whole city-year run (`manage.py city_year`); sits above every app, like config."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "citysim"
    verbose_name = "City simulation"
