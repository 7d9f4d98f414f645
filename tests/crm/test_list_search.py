"""The lists' ``?search=`` and the admin's search box read the search documents
(``search_text``) and find exactly the records their fields' own tests found:
a term in one of the searched fields, in any case, taken literally.

Each expected set is also checked against that test written out field by
field (Django's ``icontains``, as DRF and the admin built it), so a case the
document would get wrong (a phrase spanning two fields, a company's domain
for a deal's company name) shows here.
"""

from functools import reduce
from operator import and_, or_

import pytest
from django.db import connection
from django.db.models import Q
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.filters import search_smart_split

from crm.models import Company, Contact
from crm.views import CompanyViewSet, ContactViewSet
from leads.models import Lead
from leads.views import LeadViewSet
from pipeline.api_views import DealViewSet
from pipeline.models import Deal
from tests.factories import CompanyFactory, ContactFactory, DealFactory, LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(rep):
    engines = CompanyFactory(
        owner=rep, name="Analytical Engines", domain="babbage.example"
    )
    navy = CompanyFactory(owner=rep, name="Navy Labs", domain="navy.example")
    CompanyFactory(owner=rep, name="100% Pure_Data", domain="pure.example")
    CompanyFactory(owner=rep, name="1000 PureXData", domain="widgets.example")
    for first, last, email, company in [
        ("Ada", "Lovelace", "ada@babbage.example", engines),
        ("Grace", "Hopper", "grace@navy.example", navy),
        ("Charles", "Babbage", "charles@engines.example", engines),
    ]:
        ContactFactory(
            owner=rep, first_name=first, last_name=last, email=email, company=company
        )
    for first, last, email, company in [
        ("Ada", "Lovelace", "ada@analytical.example", "Analytical Engines"),
        ("Grace", "Hopper", "grace@navy.example", "Navy Labs"),
        ("Alan", "Turing", "", "Bletchley"),
        ("Edgar", "Codd", "ted@ibm.example", "100% Pure_Data"),
        ("Jim", "Gray", "jim@tandem.example", "1000 PureXData"),
    ]:
        LeadFactory(
            owner=rep,
            first_name=first,
            last_name=last,
            email=email,
            company_name=company,
        )
    DealFactory(owner=rep, title="Renewal", company=engines)
    DealFactory(owner=rep, title="Babbage upgrade", company=None)
    DealFactory(owner=rep, title="Fleet rollout", company=navy)


# list: (model, API list, admin changelist, the API's search fields, a
# record's label)
LISTS = {
    "leads": (
        Lead,
        "/api/v1/leads/",
        "/admin/leads/lead/",
        LeadViewSet.search_fields,
        "last_name",
    ),
    "contacts": (
        Contact,
        "/api/v1/contacts/",
        "/admin/crm/contact/",
        ContactViewSet.search_fields,
        "last_name",
    ),
    "companies": (
        Company,
        "/api/v1/companies/",
        "/admin/crm/company/",
        CompanyViewSet.search_fields,
        "name",
    ),
    "deals": (
        Deal,
        "/api/v1/deals/",
        "/admin/pipeline/deal/",
        DealViewSet.search_fields,
        "title",
    ),
}

CASES = [
    ("leads", "lovelace", {"Lovelace"}),
    ("leads", "LOVELACE", {"Lovelace"}),
    ("leads", "ada analytical", {"Lovelace"}),  # words in two fields
    ("leads", '"Ada Lovelace"', set()),  # no one field holds the phrase
    ("leads", '"Navy Labs"', {"Hopper"}),
    ("leads", "navy.example", {"Hopper"}),
    ("leads", "bletchley turing", {"Turing"}),  # a lead without e-mail
    ("leads", "pure_data", {"Codd"}),  # "_" is no wildcard
    ("leads", "100%", {"Codd"}),  # nor "%"
    ("leads", "nobody", set()),
    ("contacts", "babbage", {"Babbage", "Lovelace"}),  # a name, an e-mail
    ("contacts", "analytical", set()),  # the company is not searched
    ("contacts", '"Grace Hopper"', set()),
    ("contacts", "grace navy", {"Hopper"}),
    ("companies", "babbage", {"Analytical Engines"}),  # the domain
    ("companies", '"Analytical Engines"', {"Analytical Engines"}),
    ("companies", '"engines babbage"', set()),  # name and domain
    ("companies", "navy labs", {"Navy Labs"}),
    ("companies", "pure_data", {"100% Pure_Data"}),
    ("deals", "analytical", {"Renewal"}),  # the company's name
    ("deals", "babbage", {"Babbage upgrade"}),  # not the company's domain
    ("deals", "navy fleet", {"Fleet rollout"}),  # company and title
    ("deals", "renewal navy", set()),
    ("deals", '"Navy Labs"', {"Fleet rollout"}),
    ("deals", "UPGRADE", {"Babbage upgrade"}),
]


def field_by_field(model, search_fields, query: str) -> Q:
    """Return the search as DRF and the admin built it, one test per field."""
    return reduce(
        and_,
        (
            reduce(or_, (Q(**{f"{field}__icontains": term}) for field in search_fields))
            for term in search_smart_split(query)
        ),
    )


def labels(model, label: str, pks) -> set[str]:
    return set(model.objects.filter(pk__in=pks).values_list(label, flat=True))


@pytest.mark.usefixtures("records")
@pytest.mark.parametrize(("kind", "query", "expected"), CASES)
def test_a_lists_search_finds_what_its_fields_hold(
    api_as, integration, kind, query, expected
):
    model, url, _admin_url, search_fields, label = LISTS[kind]

    response = api_as(integration).get(url, {"search": query})

    assert response.status_code == 200
    found = labels(model, label, [row["id"] for row in response.json()["results"]])
    assert found == expected
    before = model.objects.filter(field_by_field(model, search_fields, query))
    assert labels(model, label, before.values("pk")) == expected


@pytest.mark.usefixtures("records")
@pytest.mark.parametrize(("kind", "query", "expected"), CASES)
def test_the_admins_search_finds_what_its_fields_hold(
    admin_user, kind, query, expected
):
    model, _url, admin_url, _search_fields, label = LISTS[kind]
    client = Client()
    client.force_login(admin_user)

    response = client.get(admin_url, {"q": query})

    assert response.status_code == 200
    changelist = response.context["cl"]
    found = labels(model, label, [record.pk for record in changelist.result_list])
    assert found == expected
    before = model.objects.filter(
        field_by_field(model, changelist.search_fields, query)
    )
    assert labels(model, label, before.values("pk")) == expected


@pytest.mark.usefixtures("records")
def test_a_search_adds_no_query_to_the_deals_list(
    api_as, integration, django_assert_num_queries
):
    client = api_as(integration)
    with CaptureQueriesContext(connection) as unsearched:
        client.get("/api/v1/deals/")
    # The companies matching a term are a subquery of the deals' query.
    with django_assert_num_queries(len(unsearched.captured_queries)):
        response = client.get("/api/v1/deals/", {"search": "navy fleet"})

    assert response.json()["count"] == 1
