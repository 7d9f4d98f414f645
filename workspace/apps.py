from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    """The rep's pages: Today, record pages, search; on top of every other app."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "workspace"
