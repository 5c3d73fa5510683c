from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ClinicConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "clinic"
    verbose_name = "Clinic"

    def ready(self) -> None:
        from clinic.roles import sync_role_groups

        # Registered for this app only: by the time it fires every clinic permission exists.
        post_migrate.connect(sync_role_groups, sender=self, dispatch_uid="clinic.sync_role_groups")
