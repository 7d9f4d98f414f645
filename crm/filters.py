import datetime

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeRangeField
from django_filters.rest_framework import DjangoFilterBackend

from crm.limits import validate_day
from crm.models import Company, Contact, Subscription


class ListFilterBackend(DjangoFilterBackend):
    """django-filter's backend, applied to lists only.

    DRF filters the queryset of a single record too (``get_object``, and a
    stage move's locked row): django-filter then builds a form of every filter
    for nothing, about a millisecond and a half of a write. A record is
    addressed by its id; its scope comes from ``get_queryset``, never from a
    filter, so a list's query string has no say in it.
    """

    def filter_queryset(self, request, queryset, view):
        if getattr(view, "detail", False):
            return queryset
        return super().filter_queryset(request, queryset, view)


def in_scope(queryset_for):
    """Return a filter's ``queryset`` callable: ``queryset_for(user)`` per request.

    An id outside the caller's scope is then refused with the same 400 and
    message as an id that does not exist.
    """

    def queryset(request):
        return queryset_for(getattr(request, "user", None))

    return queryset


class _BoundedIsoDateTimeRangeField(IsoDateTimeRangeField):
    """An ISO 8601 range whose bounds are days the CRM accepts, in UTC.

    Python accepts any UTC offset below a day and years 1 to 9999; PostgreSQL
    refuses offsets beyond 15:59 and the CRM's days end at ``crm.limits``: a
    bound outside them is a 400 ("invalid", the code the schema lists), never
    a query the database rejects.
    """

    def compress(self, data_list):
        bounds = super().compress(data_list)
        if bounds is None:
            return None
        return slice(*(self._bounded(value) for value in (bounds.start, bounds.stop)))

    @staticmethod
    def _bounded(value):
        if value is None:
            return None
        try:
            validate_day(value)
        except ValidationError as exc:
            raise ValidationError(exc.messages[0], code="invalid") from exc
        return value.astimezone(datetime.UTC)


class BoundedIsoDateTimeFromToRangeFilter(django_filters.IsoDateTimeFromToRangeFilter):
    """``<name>_after`` / ``<name>_before`` in ISO 8601, within the CRM's days."""

    field_class = _BoundedIsoDateTimeRangeField


class CompanyFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    domain = django_filters.CharFilter(lookup_expr="iexact")
    is_customer = django_filters.BooleanFilter(method="filter_is_customer")

    class Meta:
        model = Company
        fields = ["name", "domain", "industry", "country", "owner"]

    def filter_is_customer(self, queryset, name, value):
        # Only the subscriptions the caller sees: whether a company of another
        # team is a customer is not theirs to know.
        running = (
            Subscription.objects.visible_to(self.request.user)
            .filter(ended_on__isnull=True)
            .values("company_id")
        )
        return (
            queryset.filter(pk__in=running)
            if value
            else queryset.exclude(pk__in=running)
        )


class ContactFilter(django_filters.FilterSet):
    email = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Contact
        fields = ["email", "company", "owner"]


class SubscriptionFilter(django_filters.FilterSet):
    active = django_filters.BooleanFilter(field_name="ended_on", lookup_expr="isnull")
    started_on = django_filters.DateFromToRangeFilter()
    ended_on = django_filters.DateFromToRangeFilter()

    class Meta:
        model = Subscription
        fields = ["company", "currency", "active", "started_on", "ended_on"]
