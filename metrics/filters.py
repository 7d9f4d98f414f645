import django_filters

from crm import policy
from crm.filters import in_scope
from metrics.models import KpiTarget


class KpiTargetFilter(django_filters.FilterSet):
    # A person out of the caller's scope is refused like one that does not exist.
    owner = django_filters.ModelChoiceFilter(queryset=in_scope(policy.visible_owners))

    class Meta:
        model = KpiTarget
        fields = ["kpi", "period_kind", "period_start", "team", "owner"]
