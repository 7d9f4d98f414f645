import django_filters

from crm.models import Company, Contact, Subscription


def in_scope(queryset_for):
    """Return a filter's ``queryset`` callable: ``queryset_for(user)`` per request.

    An id outside the caller's scope is then refused with the same 400 and
    message as an id that does not exist.
    """

    def queryset(request):
        return queryset_for(getattr(request, "user", None))

    return queryset


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
