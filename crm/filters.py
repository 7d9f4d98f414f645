import django_filters
from rest_framework import exceptions, filters

from crm.models import Company, Contact, Subscription


class CompanyFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    domain = django_filters.CharFilter(lookup_expr="iexact")
    is_customer = django_filters.BooleanFilter(method="filter_is_customer")

    class Meta:
        model = Company
        fields = ["name", "domain", "industry", "country", "owner"]

    def filter_is_customer(self, queryset, name, value):
        running = Subscription.objects.filter(ended_on__isnull=True).values(
            "company_id"
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


class SearchFilter(filters.SearchFilter):
    """DRF's ``?search=``, whose refusals (a NUL character) name the parameter."""

    def get_search_terms(self, request):
        try:
            return super().get_search_terms(request)
        except exceptions.ValidationError as exc:
            raise exceptions.ValidationError({self.search_param: exc.detail}) from exc
