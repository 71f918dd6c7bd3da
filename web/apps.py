from django.apps import AppConfig


class WebConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "web"
    verbose_name = "Web screens"

    def ready(self) -> None:
        # The API's rules table (django-rules) and the unit scope its querysets use.
        from web import permissions

        permissions.register()
