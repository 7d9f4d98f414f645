"""Currencies and countries are real ISO codes, and values are normalised in the
domain, so the admin, the API and the services store the same thing."""

import datetime

import pytest
import time_machine

from crm.models import Company, Contact, Subscription
from metrics.models import KpiTarget
from pipeline import services as pipeline_services
from tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def company(rep):
    return CompanyFactory(owner=rep)


def _subscription(client, company, currency):
    return client.post(
        "/api/v1/subscriptions/",
        {
            "company": company.pk,
            "plan": "Pro",
            "mrr": "100.00",
            "currency": currency,
            "started_on": "2026-01-01",
        },
    )


@pytest.mark.parametrize("currency", ["XYZ", "ÄÖÜ", "XTS", "EU"])
def test_a_made_up_currency_is_refused_on_a_subscription(
    api_as, rep, company, currency
):
    response = _subscription(api_as(rep), company, currency)

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "currency"
    assert not Subscription.objects.exists()


def test_a_currency_is_stored_in_upper_case(api_as, rep, company):
    response = _subscription(api_as(rep), company, "usd")

    assert response.status_code == 201
    assert response.json()["currency"] == "USD"


@pytest.mark.parametrize("currency", ["XYZ", "ÄÖÜ"])
def test_a_made_up_currency_is_refused_on_a_deal(api_as, rep, currency):
    response = api_as(rep).post(
        "/api/v1/deals/",
        {"title": "Big", "channel": "outbound", "amount": "10", "currency": currency},
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "currency"


def test_a_deal_currency_is_normalised_by_the_service(rep):
    deal = pipeline_services.deal_create(
        by=rep, title="Big", channel="outbound", amount=10, currency="gbp"
    )

    assert deal.currency == "GBP"


def test_a_made_up_currency_is_refused_on_a_kpi_target(api_as, manager, team):
    response = api_as(manager).post(
        "/api/v1/metrics/targets/",
        {
            "kpi": "revenue_won",
            "period_kind": "quarter",
            "period_start": "2026-01-01",
            "team": team.pk,
            "value": "1000",
            "currency": "XYZ",
        },
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "currency"
    assert not KpiTarget.objects.exists()


@pytest.mark.parametrize("country", ["äö", "XX", "1A"])
def test_a_made_up_country_is_refused(api_as, rep, country):
    response = api_as(rep).post(
        "/api/v1/companies/", {"name": "Acme", "country": country}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "country"


def test_a_country_is_stored_in_upper_case(api_as, rep):
    response = api_as(rep).post("/api/v1/companies/", {"name": "Acme", "country": "fr"})

    assert response.json()["country"] == "FR"


def _admin_add_company(client, owner, domain, country=""):
    return client.post(
        "/admin/crm/company/add/",
        {
            "name": "Acme",
            "domain": domain,
            "industry": "",
            "employees": "",
            "country": country,
            "owner": owner.pk,
        },
    )


def test_a_company_saved_in_the_admin_is_normalised_as_in_the_api(client, api_as, rep):
    client.force_login(rep)

    admin_response = _admin_add_company(client, rep, " https://www.Acme.com/ ", "de")
    api_response = api_as(rep).post(
        "/api/v1/companies/", {"name": "Acme 2", "domain": "www.ACME.com"}
    )

    assert admin_response.status_code == 302
    assert Company.objects.get().domain == "acme.com"
    assert Company.objects.get().country == "DE"
    # One company: the API sees the admin's as the same domain.
    assert api_response.status_code == 400
    assert api_response.json()["errors"][0]["attr"] == "domain"


def test_the_admin_refuses_a_domain_the_api_already_has(client, api_as, rep):
    api_as(rep).post("/api/v1/companies/", {"name": "Acme", "domain": "acme.com"})
    client.force_login(rep)

    response = _admin_add_company(client, rep, "www.ACME.com")

    assert response.status_code == 200
    assert b"A company with this domain already exists." in response.content
    assert Company.objects.count() == 1


def test_the_admin_refuses_a_made_up_country(client, rep):
    client.force_login(rep)

    response = _admin_add_company(client, rep, "", "äö")

    assert response.status_code == 200
    assert b"is not an ISO 3166 country code" in response.content
    assert not Company.objects.exists()


def _admin_add_subscription(client, company, **overrides):
    return client.post(
        "/admin/crm/subscription/add/",
        {
            "company": company.pk,
            "plan": "Pro",
            "mrr": "100.00",
            "currency": "EUR",
            "started_on": "2026-01-01",
            "ended_on": "",
            "churn_reason": "",
            **overrides,
        },
    )


@pytest.mark.parametrize("currency", ["XYZ", "ÄÖÜ"])
def test_the_admin_enforces_the_subscription_currency(
    client, admin_user, company, currency
):
    client.force_login(admin_user)

    response = _admin_add_subscription(client, company, currency=currency)

    assert response.status_code == 200
    assert b"is not an ISO 4217 currency code" in response.content
    assert not Subscription.objects.exists()


def test_the_admin_stores_the_subscription_currency_in_upper_case(
    client, admin_user, company
):
    client.force_login(admin_user)

    with time_machine.travel(NOON, tick=False):
        response = _admin_add_subscription(client, company, currency="usd")

    assert response.status_code == 302
    assert Subscription.objects.get().currency == "USD"


def test_a_contact_email_domain_is_lower_case_in_the_admin_and_the_api(
    client, api_as, rep
):
    api_as(rep).post(
        "/api/v1/contacts/",
        {"first_name": "Ana", "last_name": "Lima", "email": " Ana@Corp.EXAMPLE "},
    )
    client.force_login(rep)
    client.post(
        "/admin/crm/contact/add/",
        {
            "first_name": "Bo",
            "last_name": "Berg",
            "email": "Bo@Corp.EXAMPLE",
            "phone": "",
            "job_title": "",
            "company": "",
            "owner": rep.pk,
        },
    )

    assert sorted(Contact.objects.values_list("email", flat=True)) == [
        "Ana@corp.example",
        "Bo@corp.example",
    ]


def test_a_lead_email_domain_is_lower_case_whichever_way_it_arrives(api_as, rep):
    response = api_as(rep).post(
        "/api/v1/leads/",
        {
            "first_name": "Ana",
            "email": "Ana@Corp.EXAMPLE",
            "channel": "outbound",
            "source": "cold_email",
        },
    )

    assert response.status_code == 201, response.content
    assert response.json()["email"] == "Ana@corp.example"
