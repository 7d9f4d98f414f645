from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = "Metrics"

    def ready(self) -> None:
        # Cache keys, not domain rules: the dashboard's data version must see
        # in-place edits made by any app's services (metrics.data_version).
        from metrics import data_version

        data_version.connect()
