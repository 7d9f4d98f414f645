from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = _("Leads")

    def ready(self) -> None:
        from crm import rollups
        from leads.rollups import (
            LEAD_DURATION_MONTHS,
            LEAD_DURATIONS,
            LEAD_STATUS,
            NEW_LEADS,
            NEW_PROSPECTS,
        )

        rollups.register("lead_status", LEAD_STATUS)
        rollups.register("new_leads", NEW_LEADS)
        rollups.register("new_prospects", NEW_PROSPECTS)
        rollups.register("lead_durations", LEAD_DURATIONS)
        rollups.register("lead_duration_months", LEAD_DURATION_MONTHS)
