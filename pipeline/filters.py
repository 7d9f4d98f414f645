import django_filters

from crm import policy
from crm.filters import BoundedIsoDateTimeFromToRangeFilter, in_scope
from leads.models import Lead
from pipeline.models import Activity, Deal


def _visible(model):
    return in_scope(lambda user: model.objects.visible_to(user))


class DealFilter(django_filters.FilterSet):
    # Ids out of the caller's scope are refused like ids that do not exist.
    owner = django_filters.ModelChoiceFilter(queryset=in_scope(policy.visible_owners))
    team = django_filters.NumberFilter(field_name="owner__team")
    amount_min = django_filters.NumberFilter(field_name="amount", lookup_expr="gte")
    amount_max = django_filters.NumberFilter(field_name="amount", lookup_expr="lte")
    # ``expected_close_after`` / ``expected_close_before``
    expected_close = django_filters.DateFromToRangeFilter(
        field_name="expected_close_on"
    )
    # Filters the ``is_stale`` annotation of ``DealQuerySet.with_staleness``.
    stale = django_filters.BooleanFilter(field_name="is_stale")

    class Meta:
        model = Deal
        fields = ["stage", "status", "owner", "team", "channel", "company", "currency"]


class ActivityFilter(django_filters.FilterSet):
    # Ids out of the caller's scope are refused like ids that do not exist.
    owner = django_filters.ModelChoiceFilter(queryset=in_scope(policy.visible_owners))
    lead = django_filters.ModelChoiceFilter(queryset=_visible(Lead))
    deal = django_filters.ModelChoiceFilter(queryset=_visible(Deal))
    # ``occurred_after`` / ``occurred_before``
    occurred = BoundedIsoDateTimeFromToRangeFilter(field_name="occurred_at")
    # ``due_after`` / ``due_before``: planned activities by due time
    due = BoundedIsoDateTimeFromToRangeFilter(field_name="due_at")

    class Meta:
        model = Activity
        fields = [
            "kind",
            "direction",
            "outcome",
            "is_cold_call",
            "done",
            "owner",
            "lead",
            "contact",
            "deal",
        ]
