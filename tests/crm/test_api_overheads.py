"""What a write costs besides its rows: serializers built from a per-class
template, and django-filter applied to lists only (issue 18's writes near the
floor; measured in docs/benchmarks.md)."""

import pytest

from crm.serializers import CompanySerializer, SubscriptionSerializer
from leads.serializers import LeadSerializer
from tests.factories import CompanyFactory, LeadFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


def test_each_serializer_gets_its_own_copy_of_the_fields():
    first, second = LeadSerializer(), LeadSerializer()
    limit = second.fields["first_name"].max_length

    first.fields["email"].required = not first.fields["email"].required
    first.fields["first_name"].max_length = limit + 1

    for untouched in (second, LeadSerializer()):
        assert untouched.fields["email"].required != first.fields["email"].required
        assert untouched.fields["first_name"].max_length == limit
    assert first.fields["email"] is not second.fields["email"]


def test_fields_shaped_per_record_stay_per_record(rep):
    lead = LeadFactory(owner=rep)
    subscription = SubscriptionFactory(company=CompanyFactory(owner=rep))

    # An existing lead's status and consent change only through actions; a
    # subscription keeps its company and currency. A new one sets them.
    assert LeadSerializer(lead).fields["status"].read_only is True
    assert LeadSerializer().fields["status"].read_only is False
    assert SubscriptionSerializer(subscription).fields["currency"].read_only is True
    assert SubscriptionSerializer().fields["currency"].read_only is False
    # A subclass builds its own fields, not its parent's.
    assert "domain" in CompanySerializer().fields
    assert "domain" not in LeadSerializer().fields


def test_a_record_is_found_by_its_id_whatever_the_list_filters_say(api_as, rep):
    lead = LeadFactory(owner=rep, status="lead")
    api = api_as(rep)

    assert api.get("/api/v1/leads/", {"status": "qualified"}).json()["count"] == 0
    response = api.get(f"/api/v1/leads/{lead.pk}/", {"status": "qualified"})
    assert response.status_code == 200
    assert response.json()["id"] == lead.pk


def test_a_bad_list_filter_is_still_a_400_on_the_list(api_as, rep):
    response = api_as(rep).get("/api/v1/leads/", {"created_after": "not a day"})

    assert response.status_code == 400
