import django_filters

from crm import policy
from crm.filters import in_scope
from crm.models import Team
from leads.models import Channel, ContentOffer, Lead, LeadStatus, Source


class LeadFilter(django_filters.FilterSet):
    """Filters of ``leads/``; an unknown value is a 400 naming the parameter."""

    status = django_filters.ChoiceFilter(choices=LeadStatus.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    source = django_filters.ChoiceFilter(choices=Source.choices)
    owner = django_filters.ModelChoiceFilter(queryset=in_scope(policy.visible_owners))
    team = django_filters.ModelChoiceFilter(
        field_name="owner__team", queryset=Team.objects.all()
    )
    offer = django_filters.ModelChoiceFilter(queryset=ContentOffer.objects.all())
    score_min = django_filters.NumberFilter(field_name="score", lookup_expr="gte")
    score_max = django_filters.NumberFilter(field_name="score", lookup_expr="lte")
    # ?created_after=2026-01-01&created_before=2026-01-31 (inclusive days)
    created = django_filters.DateFromToRangeFilter(field_name="created_at")

    class Meta:
        model = Lead
        fields = ["status", "channel", "source", "owner", "team", "offer"]


class ContentOfferFilter(django_filters.FilterSet):
    class Meta:
        model = ContentOffer
        fields = ["kind", "active"]
